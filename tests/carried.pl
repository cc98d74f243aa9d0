#!/usr/bin/env perl
# tests/carried.pl: the code carried from step to step, compared.
#
#   tests/carried.pl            compare (tests/carried.t runs this)
#   tests/carried.pl --list     each item and the steps that have it
#   tests/carried.pl --allowed  compare, and show the changes the allowlist
#                               allows too, as diffs (to review the list)
#   tests/carried.pl --show NAME STEP   one item's text, as compared
#
# Reads every steps/stepN.c (CARRIED_STEPS=DIR reads DIR/stepN.c instead)
# and cuts each into its top-level items, each known by its name:
#   - a function, with the comment block right above it;
#   - a table, variable, struct or enum (e.g. exit_names, command_line,
#     "struct options"), with the comment block right above it;
#   - a #define, its line alone and its spaces squeezed (a comment above
#     a run of #defines is about the run, and their columns are aligned
#     to each other).
# The book's listing markers (/* listing: NAME */, /* end listing: NAME */)
# are not code and are left out. An item that two or more steps have is
# carried: each step's text must be the text of the last step before it
# that has the item (a step built on an earlier one, not on the step
# before it, has a "base" line in the allowlist: then the last step up
# to that one), unless tests/carried-allow.txt (CARRIED_ALLOW=FILE)
# says that this step changes it, and why. A change so allowed is what
# the next steps carry. An entry of the allowlist that allows nothing (no
# such item, or the step's text is the same after all) is a failure too.
#
# Output: one line per carried item, "PASS ..." or "FAIL ...", then any
# lines about the allowlist ("FAIL ..."); a diff or detail follows a
# FAIL in lines that start with two spaces. Exit status: 0 all passed,
# 1 some failed, 2 usage error or a file that cannot be read.
use strict;
use warnings;
use File::Temp qw(tempdir);

# Every error that stops the comparison (a file it cannot read or cut
# into items) is status 2, not a difference.
$SIG{__DIE__} = sub { print STDERR $_[0]; exit 2 };

my $dir = $ENV{CARRIED_STEPS} // 'steps';
my $allow_file = $ENV{CARRIED_ALLOW} // 'tests/carried-allow.txt';

# items(FILE): the file's top-level items, as [name, text, first line].
sub items {
	my ($file) = @_;
	open(my $fh, '<', $file) or die "carried.pl: cannot read $file: $!\n";
	my @lines = <$fh>;
	close($fh);

	my (@items, @comment, $in_comment);
	my $i = 0;
	while ($i < @lines) {
		my $line = $lines[$i];
		# The book's markers, wherever they are, are not part of an item.
		if ($line =~ m{^\s*/\* (?:end )?listing: [\w-]+ \*/\s*$}) {
			$i++;
			next;
		}
		if ($in_comment || $line =~ m{^/\*}) {
			push @comment, $line;
			$in_comment = $line !~ m{\*/};
			$i++;
			next;
		}
		if ($line =~ /^\s*$/) {
			@comment = ();
			$i++;
			next;
		}
		if ($line =~ /^#/) {
			my $start = $i;
			my $text = $line;
			while ($lines[$i] =~ /\\\n\z/ && $i + 1 < @lines) {
				$text .= $lines[++$i];
			}
			$i++;
			if ($text =~ /^#\s*define\s+(\w+)/) {
				my $name = $1;
				(my $squeezed = $text) =~ s/[ \t]+/ /g;
				push @items, [$name, $squeezed, $start + 1];
			}
			@comment = ();
			next;
		}
		if ($line =~ /^\s/ || $line =~ /^[})]/) {
			die "carried.pl: $file:" . ($i + 1) . ": cannot read this line at the top level: $line";
		}
		# A declaration or a definition: up to its ';' at depth 0, or, for
		# a function, up to the '}' that closes its body.
		my $start = $i;
		my ($depth, $parens, $text, $code_text, $header, $done) = (0, 0, '', '', undef, 0);
		my $in_block_comment = 0;
		while (!$done) {
			die "carried.pl: $file:" . ($start + 1) . ": unterminated definition\n" if $i >= @lines;
			my $l = $lines[$i++];
			$text .= $l;
			my $code = $l;
			# Strip what is not code from the line before counting braces:
			# comments, strings and character constants.
			if ($in_block_comment) {
				if ($code =~ s{^.*?\*/}{}s) { $in_block_comment = 0 } else { next }
			}
			$code =~ s{"(?:\\.|[^"\\])*"}{""}g;
			$code =~ s{'(?:\\.|[^'\\])*'}{''}g;
			$code =~ s{/\*.*?\*/}{}g;
			$code =~ s{//.*}{};
			if ($code =~ s{/\*.*}{}s) { $in_block_comment = 1 }
			next if $code =~ /^#/;  # #ifdef and the like inside a body
			for my $c (split //, $code) {
				$code_text .= $c;
				if ($c eq '(') { $parens++ }
				elsif ($c eq ')') { $parens-- }
				elsif ($c eq '{') {
					$header //= $code_text =~ s/\{\z//r if $depth == 0;
					$depth++;
				} elsif ($c eq '}') {
					$depth--;
					# A function's body ends the function; a struct, enum
					# or initializer goes on to its ';'.
					if ($depth == 0 && $header =~ /\)\s*$/ && $header !~ /=/) {
						$done = 1;
						last;
					}
				} elsif ($c eq ';' && $depth == 0 && $parens == 0) {
					$done = 1;
					last;
				}
			}
		}
		$header //= $code_text =~ s/;\z//r;
		push @items, [name_of($header, $file, $start + 1), join('', @comment) . $text, $start + 1];
		@comment = ();
	}
	return @items;
}

# name_of(HEADER): what a declaration's text before its '{', '=' or ';'
# declares: "struct NAME", "enum NAME", a function's or a variable's name.
sub name_of {
	my ($header, $file, $line) = @_;
	$header =~ s{/\*.*?\*/}{}gs;
	return "$1 $2" if $header =~ /^\s*(?:typedef\s+)?(struct|enum|union)\s+(\w+)\s*$/;
	return $1 if $header =~ /(\w+)\s*\(/;              # a function
	$header =~ s/\s*(?:=|\[|,).*//s;                   # a variable: its first declarator
	return $1 if $header =~ /(\w+)\s*$/;
	die "carried.pl: $file:$line: cannot tell what this declares\n";
}

# The steps: N => path, for every DIR/stepN.c.
opendir(my $dh, $dir) or do { print STDERR "carried.pl: cannot read $dir: $!\n"; exit 2 };
my %step_file = map { /^step(\d+)\.c$/ ? ($1 => "$dir/$_") : () } readdir($dh);
closedir($dh);
my @steps = sort { $a <=> $b } keys %step_file;
if (@steps < 2) {
	print STDERR "carried.pl: fewer than two steps in $dir\n";
	exit 2;
}

# %text{NAME}{N}: the text of item NAME in step N.
my (%text, %line, @order);
for my $n (@steps) {
	my %seen;
	for my $item (items($step_file{$n})) {
		my ($name, $body, $at) = @$item;
		if ($seen{$name}++) {
			print STDERR "carried.pl: $step_file{$n}:$at: a second $name in one step\n";
			exit 2;
		}
		push @order, $name unless exists $text{$name};
		$text{$name}{$n} = $body;
		$line{$name}{$n} = $at;
	}
}

# steps_text(LIST): "3-7", "2 4 5" as compactly as it goes.
sub steps_text {
	my @n = @_;
	my @out;
	while (@n) {
		my $first = shift @n;
		my $last = $first;
		$last = shift @n while @n && $n[0] == $last + 1;
		push @out, $last == $first ? $first : $last == $first + 1 ? "$first $last" : "$first-$last";
	}
	return join(' ', @out);
}

if (@ARGV && $ARGV[0] eq '--list') {
	for my $name (@order) {
		my @have = sort { $a <=> $b } keys %{ $text{$name} };
		printf "%-28s %s\n", $name, steps_text(@have);
	}
	exit 0;
}
if (@ARGV == 3 && $ARGV[0] eq '--show') {
	my $body = $text{ $ARGV[1] }{ $ARGV[2] };
	defined $body or do { print STDERR "carried.pl: step$ARGV[2] has no $ARGV[1]\n"; exit 2 };
	print $body;
	exit 0;
}
my $show_allowed = @ARGV == 1 && $ARGV[0] eq '--allowed';
if (@ARGV && !$show_allowed) {
	print STDERR "usage: tests/carried.pl [--list | --allowed | --show NAME STEP]\n";
	exit 2;
}

# The allowlist: "NAME  STEPS  REASON" a line, STEPS like "4" or "2-7"
# or "4,5"; blank lines and lines starting with # are ignored. A line
# "base  N  M  REASON" says that step N is built on step M, not on the
# step before it: it carries step M's text (and what the steps between
# change is none of its business).
my (%allow, @entries, %base);
open(my $afh, '<', $allow_file) or do { print STDERR "carried.pl: cannot read $allow_file: $!\n"; exit 2 };
my @problems;
while (my $l = <$afh>) {
	next if $l =~ /^\s*(#|$)/;
	chomp $l;
	if ($l =~ /^base\s{2,}(\d+)\s{2,}(\d+)\s{2,}\S/) {
		$base{$1} = { on => $2, line => $. };
		push @problems, "FAIL $allow_file:$.: step$1 cannot be built on step$2, which is not before it"
			if $2 >= $1;
		push @problems, "FAIL $allow_file:$.: there is no step$1 to build on step$2"
			unless $step_file{$1};
		next;
	}
	my ($name, $spec, $reason) = $l =~ /^(\S+(?: \w+)?)\s{2,}([\d,-]+)\s{2,}(\S.*)$/;
	# "struct NAME" and "enum NAME" hold a space: the fields are parted
	# by two spaces or more.
	if (!defined $reason) {
		push @problems, "FAIL $allow_file:$.: not NAME  STEPS  REASON (fields parted by two spaces): $l";
		next;
	}
	for my $part (split /,/, $spec) {
		my ($from, $to) = $part =~ /^(\d+)(?:-(\d+))?$/ or do {
			push @problems, "FAIL $allow_file:$.: steps \"$spec\" are not like 4, 2-7 or 4,6";
			next;
		};
		for my $n ($from .. ($to // $from)) {
			$allow{$name}{$n} = { line => $., reason => $reason, used => 0 };
		}
	}
}
close($afh);

my $scratch = tempdir('carried.XXXXXX', TMPDIR => 1, CLEANUP => 1);

# diff_text(NAME, FROM, TO): the unified diff of the item from step FROM
# to step TO, each line indented by two spaces.
sub diff_text {
	my ($name, $from, $to) = @_;
	my @files;
	for my $n ($from, $to) {
		my $f = "$scratch/step$n";
		open(my $out, '>', $f) or die "carried.pl: $f: $!\n";
		print $out $text{$name}{$n};
		close($out);
		push @files, $f;
	}
	my @diff = `diff -u --label 'step$from.c:$line{$name}{$from}' --label 'step$to.c:$line{$name}{$to}' @files`;
	return map { "  $_" } @diff;
}

my $failed = 0;
for my $name (@order) {
	my @have = sort { $a <=> $b } keys %{ $text{$name} };
	next if @have < 2;
	# The text each step should have: the last one before it (up to its
	# base), changed only where the allowlist says so. %ok: the text
	# each step is compared to from the next on.
	my $first = shift @have;
	my %ok = ($first => $first);
	my (@changed, @bad, @detail, @shown);
	for my $n (@have) {
		my $limit = $base{$n} ? $base{$n}{on} : $n - 1;
		my ($before) = grep { $_ <= $limit } sort { $b <=> $a } keys %ok;
		if (!defined $before) {     # built on a step before any that has it
			$ok{$n} = $n;
			next;
		}
		my $ref = $ok{$before};
		$ok{$n} = $ref;
		my $allowed = $allow{$name}{$n};
		if ($text{$name}{$n} eq $text{$name}{$ref}) {
			next;
		}
		if ($allowed) {
			$allowed->{used} = 1;
			push @changed, $n;
			push @shown, "  step$n changes $name ($allowed->{reason}):", diff_text($name, $ref, $n)
				if $show_allowed;
			$ok{$n} = $n;
			next;
		}
		push @bad, $n;
		push @detail, "  step$n\'s $name differs from step$ref\'s:", diff_text($name, $ref, $n);
	}
	my $all = steps_text(sort { $a <=> $b } keys %{ $text{$name} });
	my $changes = @changed ? ", changed by step " . join(', ', @changed) . " as allowed" : '';
	if (@bad) {
		$failed = 1;
		print "FAIL $name (steps $all$changes): " . join(', ', map { "step$_" } @bad)
			. " differ" . (@bad == 1 ? 's' : '') . " from the step before, and $allow_file does not allow it\n";
		print map { /\n\z/ ? $_ : "$_\n" } @detail;
	} else {
		print "PASS $name: the same in steps $all$changes\n";
	}
	print map { /\n\z/ ? $_ : "$_\n" } @shown;
}

# Entries that allow nothing: no such item in that step, or no change.
for my $name (sort keys %allow) {
	for my $n (sort { $a <=> $b } keys %{ $allow{$name} }) {
		my $entry = $allow{$name}{$n};
		next if $entry->{used};
		my $why = !exists $text{$name} ? "no step has $name"
			: !exists $text{$name}{$n} ? "step$n has no $name"
			: (grep { $_ < $n } keys %{ $text{$name} }) ? "step$n carries $name unchanged"
			: "step$n is the first step with $name: there is nothing to change";
		push @problems, "FAIL $allow_file:$entry->{line}: allows step$n to change $name, but $why";
	}
}
print "$_\n" for @problems;
$failed = 1 if @problems;
exit $failed;
