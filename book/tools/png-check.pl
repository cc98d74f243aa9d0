#!/usr/bin/perl
# png-check.pl FILE.png: is this screenshot a page someone can read?
# Decodes the PNG (8-bit RGB/RGBA, as Chromium writes them; Perl's core
# zlib does the inflating) and counts the pixels that differ from the
# most common colour, the page's background. A blank or nearly blank
# page (under 1% of pixels) exits 1. Prints one line of figures.
use strict;
use warnings;
use Compress::Zlib;

my $file = shift or die "usage: $0 FILE.png\n";
open(my $fh, '<:raw', $file) or die "$0: $file: $!\n";
local $/;
my $png = <$fh>;
close($fh);

substr($png, 0, 8) eq "\x89PNG\r\n\x1a\n" or die "$0: $file is not a PNG\n";
my ($pos, $idat, $w, $h, $depth, $ctype, $interlace) = (8, '');
while ($pos < length $png) {
    my ($len, $type) = unpack('N A4', substr($png, $pos, 8));
    my $data = substr($png, $pos + 8, $len);
    if ($type eq 'IHDR') {
        ($w, $h, $depth, $ctype, undef, undef, $interlace) = unpack('N N C C C C C', $data);
    } elsif ($type eq 'IDAT') {
        $idat .= $data;
    }
    $pos += 12 + $len;
}
die "$0: $file: unsupported PNG (depth $depth, colour type $ctype, interlace $interlace)\n"
    unless $depth == 8 && ($ctype == 2 || $ctype == 6) && !$interlace;
my $bpp = $ctype == 6 ? 4 : 3;
my $raw = uncompress($idat) // die "$0: $file: bad image data\n";
my $stride = $w * $bpp;

# Undo the PNG row filters, counting colours as we go.
my (%count, $prev);
$prev = "\0" x $stride;
for my $y (0 .. $h - 1) {
    my $filter = ord(substr($raw, $y * ($stride + 1), 1));
    my @cur = unpack('C*', substr($raw, $y * ($stride + 1) + 1, $stride));
    my @up = unpack('C*', $prev);
    for my $i (0 .. $#cur) {
        my $a = $i >= $bpp ? $cur[$i - $bpp] : 0;
        my $b = $up[$i];
        my $c = $i >= $bpp ? $up[$i - $bpp] : 0;
        if    ($filter == 1) { $cur[$i] = ($cur[$i] + $a) & 255 }
        elsif ($filter == 2) { $cur[$i] = ($cur[$i] + $b) & 255 }
        elsif ($filter == 3) { $cur[$i] = ($cur[$i] + int(($a + $b) / 2)) & 255 }
        elsif ($filter == 4) {
            my $p = $a + $b - $c;
            my ($pa, $pb, $pc) = (abs($p - $a), abs($p - $b), abs($p - $c));
            my $pred = ($pa <= $pb && $pa <= $pc) ? $a : ($pb <= $pc) ? $b : $c;
            $cur[$i] = ($cur[$i] + $pred) & 255;
        }
    }
    $prev = pack('C*', @cur);
    for (my $i = 0; $i < $stride; $i += $bpp) {
        $count{ $cur[$i] << 16 | $cur[$i + 1] << 8 | $cur[$i + 2] }++;
    }
}
my ($bg) = sort { $count{$b} <=> $count{$a} } keys %count;
my $total = $w * $h;
my $ink = $total - $count{$bg};
my $share = 100 * $ink / $total;
printf "  %s: %dx%d, %d colours, %.1f%% of pixels differ from the background #%06x\n",
    $file, $w, $h, scalar(keys %count), $share, $bg;
if ($share < 1) {
    print STDERR "png-check: $file looks blank\n";
    exit 1;
}
exit 0;
