#!/usr/bin/perl
# check-links.pl DIR: every link and image in DIR/*.html must lead
# somewhere: a page of the book that exists, an identifier that page
# has, an image file that is there and not empty. Links that leave the
# book (https:, mailto:) are not followed. Exit 1 with one line per
# problem, 0 with a count when all is well.
use strict;
use warnings;

my $dir = shift or die "usage: $0 DIR\n";
opendir(my $dh, $dir) or die "$0: cannot read $dir: $!\n";
my @pages = sort grep { /\.html$/ } readdir($dh);
closedir($dh);
die "$0: no HTML pages in $dir\n" unless @pages;

my (%ids, %text);
for my $page (@pages) {
    open(my $fh, '<:encoding(UTF-8)', "$dir/$page") or die "$0: $dir/$page: $!\n";
    local $/;
    $text{$page} = <$fh>;
    close($fh);
    $ids{$page}{$1} = 1 while $text{$page} =~ /\sid="([^"]*)"/g;
}

my ($links, @problems) = (0);
for my $page (@pages) {
    while ($text{$page} =~ /<(a|img|link)\b[^>]*?\s(href|src)="([^"]*)"/g) {
        my ($tag, $attr, $url) = ($1, $2, $3);
        $links++;
        next if $url =~ /^[a-z][a-z0-9+.-]*:/i;
        $url =~ s/&amp;/&/g;
        my ($file, $frag) = $url =~ /^([^#]*)(?:#(.*))?$/;
        $file = $page if $file eq '';
        if (!-f "$dir/$file" || !-s _) {
            push @problems, "$page: $tag $attr=\"$url\": no such file in $dir (or empty)";
            next;
        }
        if (defined $frag && $frag ne '' && $file =~ /\.html$/ && !$ids{$file}{$frag}) {
            push @problems, "$page: $tag $attr=\"$url\": $file has no id \"$frag\"";
        }
    }
}
if (@problems) {
    print STDERR "check-links: $_\n" for @problems;
    exit 1;
}
printf "  links and images: %d checked in %d pages, all resolve\n", $links, scalar @pages;
exit 0;
