#!/usr/bin/env perl
# tests/fuzz.pl: random guests through the steps, to show that every step
# ends cleanly whatever runs in it.
#
#   tests/fuzz.pl [--seed N] [--count N] [--jobs N] [--watchdog SECONDS]
#                 [--keep DIR] ['STEP [OPTION]'...]
#   tests/fuzz.pl --emit MODE:INDEX [--seed N] > guest.bin
#
# For each step (default: every ./stepN that runs a guest and is built,
# and step 5 --boot, step 6 --pae), COUNT guest images of the step's mode
# are made from SEED and run with --guest and a short --timeout. An image is a mix of random bytes and
# instructions that tend to matter to a host (port and string I/O, MMIO
# addresses, control registers, descriptor tables, far jumps, int, iret,
# instructions KVM may not emulate). The same SEED always gives the same
# images, so a failure is reproduced with --emit and the step.
#
# The run fails on a signal (crash), a hang (no exit 10 s after the
# watchdog should have fired), a status other than 0 or 1 (77, "this
# host's KVM cannot", is counted apart, except in the lab: KVM_LAB=1)
# and any sanitizer report. It ends with counts by exit reason per step.
# Exit status: 0 all clean, 1 some failed, 2 usage.
use strict;
use warnings;
no warnings 'portable';    # 64-bit numbers: this script wants a 64-bit perl
use Getopt::Long qw(GetOptions);
use File::Temp qw(tempdir);
use POSIX qw(WNOHANG);

# Which mode each step (with its options) starts a guest in, and so
# which images it gets. Step 10 has none: it boots a Linux bzImage, whose
# bad forms tests/step10.t tries. Nor has step 13: it runs its own guest
# only, batch after batch (tests/step13.t).
my %STEP_MODE = (step3 => 'real', step4 => 'real', step5 => 'prot',
		 'step5 --boot' => 'real', step6 => 'prot', 'step6 --pae' => 'prot',
		 step7 => 'long', step8 => 'long', step9 => 'long',
		 step11 => 'long', step12 => 'long');
my $HANG_SECONDS = 10;
# In the lab (KVM_LAB=1) every step must run: 77 is a failure there.
my $LAB = ($ENV{KVM_LAB} // '') eq '1';

my ($seed, $count, $jobs, $watchdog, $keep, $emit) = (1, 200, 0, 0.05, undef, undef);
# Bad usage: say what is wrong and exit 2.
sub usage {
	print STDERR "$0: $_[0]\n" if @_;
	print STDERR "usage: $0 [--seed N] [--count N] [--jobs N] [--watchdog SECONDS]\n",
		"                [--keep DIR] ['STEP [OPTION]'...]\n",
		"       $0 --emit MODE:INDEX [--seed N] > guest.bin\n";
	exit 2;
}
GetOptions('seed=i' => \$seed, 'count=i' => \$count, 'jobs=i' => \$jobs,
	   'watchdog=f' => \$watchdog, 'keep=s' => \$keep, 'emit=s' => \$emit) or usage();
usage('--seed, --count and --jobs want numbers >= 0') if $seed < 0 || $count < 0 || $jobs < 0;
usage('--watchdog wants a number of seconds > 0') unless $watchdog > 0;

# ---------------------------------------------------------------------
# A tiny seeded generator: xorshift32, seeded per image from (seed,
# mode, index) so that each image can be made again on its own.

my $state;

sub seed_image {
	my ($mode, $index) = @_;
	my $h = 2166136261;                     # FNV-1a over the name
	for my $c (split //, "$seed/$mode/$index") {
		$h = (($h ^ ord $c) * 16777619) & 0xffffffff;
	}
	$state = $h || 1;
}

sub rand32 {
	$state ^= ($state << 13) & 0xffffffff;
	$state ^= $state >> 17;
	$state ^= ($state << 5) & 0xffffffff;
	return $state;
}

sub pick { return $_[rand32() % @_] }

# Addresses a hostile guest would aim at: the result word, the GDT, the
# load address, the page tables of step 7, the edges of RAM (2 MiB), the
# APIC and IOAPIC windows, the reset vector, the top of 4 GiB.
my @ADDRESSES = (0, 0x400, 0x500, 0x1000, 0xf000, 0x100000, 0x101000,
	0x103000, 0x1ffffc, 0x1fffff, 0x200000, 0x400000, 0x80000000,
	0xfec00000, 0xfee00000, 0xfffffff0, 0xfffffffc, 0xffffffff);

sub lebytes { my ($n, $v) = @_; return pack($n == 2 ? 'v' : $n == 4 ? 'V' : 'Q<', $v) }
sub addr32 { return rand32() % 4 ? pick(@ADDRESSES) : rand32() }
sub imm8 { return chr(rand32() & 0xff) }

# Byte sequences shared by every mode (their operand size follows the
# mode: 16 bits in real mode, 32 in protected and long mode).
my @COMMON = (
	"\xf4", "\xe6\xe9", "\xe4\xe9", sub { "\xe6" . imm8() }, sub { "\xe4" . imm8() },
	"\xee", "\xef", "\xec", "\xed", "\xf3\x6e", "\xf3\x6c", "\xf3\x6f", "\xf3\x6d",
	sub { "\xeb" . imm8() }, sub { pick("\x74", "\x75", "\xe2") . imm8() },
	sub { "\xcd" . imm8() }, "\xcc", "\xcf", "\x0f\x0b", "\xfa", "\xfb", "\x9c", "\x9d",
	"\x0f\x30", "\x0f\x32", "\x0f\xa2", "\x0f\x31", "\x0f\x01\xc1", "\x0f\x01\xd9",
	"\x0f\x09", "\xf1", "\x0f\x05", "\x0f\x34", "\x0f\x07", "\x0f\x00\xd8", "\x0f\x00\xd0",
	"\x0f\x01\xd0", "\x0f\x01\xd1", "\x0f\xae\x27", "\x0f\xae\x2f", "\x0f\x01\xf8",
	"\x8e\xd8", "\x8e\xd0", "\x8e\xc0", "\x0f\x20\xc0", "\x0f\x22\xc0", "\x0f\x20\xd8",
	"\x0f\x22\xd8", "\x0f\x20\xe0", "\x0f\x22\xe0", "\xd9\xee", "\x0f\x10\x07", "\x0f\x01\x17",
	"\x0f\x01\x1f",
);

# Per mode: moves of interesting values into registers, memory accesses
# and jumps through them, far jumps.
my %MODE_CODE = (
	real => [
		sub { "\xba" . lebytes(2, pick(0xe9, 0x60, 0x1234, 0xcf8, 0xcfc, rand32())) },
		sub { "\x66\xb9" . lebytes(4, pick(0xffffffff, 0xffff, rand32())) },
		sub { "\x66\xb8" . lebytes(4, pick(0x80000001, 0x80000011, 0x11, 0x20, 0xffffffff, rand32())) },
		sub { "\x66\xbf" . lebytes(4, addr32()) }, sub { "\x66\xbe" . lebytes(4, addr32()) },
		"\x67\x66\x89\x07", "\x67\x66\x8b\x07", "\x67\xf3\x6e", "\x67\xf3\x6c",
		sub { "\xb8" . lebytes(2, rand32()) }, sub { "\xa3" . lebytes(2, rand32()) },
		sub { "\xea" . lebytes(2, rand32()) . lebytes(2, pick(0, 8, 0x10, rand32())) },
		sub { "\x0f\x01\x16" . lebytes(2, rand32()) },
	],
	prot => [
		sub { "\xba" . lebytes(4, pick(0xe9, 0x60, 0x1234, 0xcf8, rand32())) },
		sub { "\xb9" . lebytes(4, pick(0xffffffff, 0x1000, rand32())) },
		sub { "\xb8" . lebytes(4, pick(0x80000011, 0x11, 0x20, 0x10, 0xffffffff, addr32())) },
		sub { "\xbf" . lebytes(4, addr32()) }, sub { "\xbe" . lebytes(4, addr32()) },
		sub { "\xa1" . lebytes(4, addr32()) }, sub { "\xa3" . lebytes(4, addr32()) },
		"\x89\x07", "\x8b\x07", "\xff\xe0", "\xff\xd0", "\xf3\xab", "\xf3\xa5",
		sub { "\xea" . lebytes(4, addr32()) . lebytes(2, pick(0, 8, 0x10, 0x18, rand32())) },
	],
	long => [
		sub { "\xba" . lebytes(4, pick(0xe9, 0x60, 0x1234, 0x3f8, 0x3fd, rand32())) },
		sub { "\x48\xb9" . lebytes(8, pick(0xffffffff, 0xffffffffffffffff, rand32())) },
		sub { "\x48\xb8" . lebytes(8, pick(0x8000000000000000, 0xffffffff80000000,
			0x80050033, 0x20, addr32(), rand32() << 32 | rand32())) },
		sub { "\x48\xbf" . lebytes(8, addr32()) }, sub { "\x48\xbe" . lebytes(8, addr32()) },
		sub { "\x48\xbf" . lebytes(8, 0xd0000000 + (rand32() & 0x1f)) },
		"\x48\x89\x07", "\x48\x8b\x07", "\xff\xe0", "\xff\xd0", "\xf3\x48\xab",
		"\x48\x0f\xc7\x0f", "\x48\xcf", "\x0f\x01\xf8", "\x48\x0f\xae\x2f",
		"\x0f\x22\xe0", "\x0f\x01\x10",
	],
);

# One image: up to 512 bytes (now and then up to 16 KiB) of instructions
# from the lists above and random bytes, in about equal parts.
sub make_image {
	my ($mode, $index) = @_;
	seed_image($mode, $index);
	my $size = rand32() % 64 ? 1 + rand32() % 512 : 1 + rand32() % 16384;
	my $image = '';
	my @code = (@COMMON, @{ $MODE_CODE{$mode} });
	while (length $image < $size) {
		if (rand32() % 2) {
			my $piece = pick(@code);
			$image .= ref $piece ? $piece->() : $piece;
		} else {
			$image .= imm8() for 1 .. 1 + rand32() % 8;
		}
	}
	return substr($image, 0, $size);
}

if (defined $emit) {
	my ($mode, $index) = $emit =~ /^(real|prot|long):(\d+)$/
		or usage('--emit wants MODE:INDEX, MODE one of real, prot, long');
	binmode STDOUT;
	print make_image($mode, $index);
	exit 0;
}

# ---------------------------------------------------------------------
# Running the steps

# A step's program: its first word ("step6" of "step6 --pae").
sub program { return (split ' ', $_[0])[0] }

my @steps = @ARGV ? @ARGV : grep { -x './' . program($_) } sort keys %STEP_MODE;
for (@steps) {
	$STEP_MODE{$_} or usage("\"$_\" is not a step that runs guests ("
		. join(', ', sort keys %STEP_MODE) . ')');
	-x './' . program($_) or usage('./' . program($_) . ' is not built (make ' . program($_) . ')');
}
$jobs ||= do { my $n = `nproc 2>/dev/null`; ($n && $n =~ /^(\d+)/) ? $1 : 1 };
my $scratch = tempdir('kvm-fuzz.XXXXXX', TMPDIR => 1, CLEANUP => 1);

# Run one image through a step. Returns its class: "status 0: halted",
# "status 1: KVM_EXIT_..." etc., or "FAIL ..." for what must not happen.
sub run_one {
	my ($step, $image_file, $err_file) = @_;
	my $pid = fork() // die "$0: fork: $!\n";
	if ($pid == 0) {
		open STDIN, '<', '/dev/null';
		open STDOUT, '>', '/dev/null';
		open STDERR, '>', $err_file;
		my ($program, @options) = split ' ', $step;
		exec "./$program", @options, '--guest', $image_file, '--timeout', $watchdog;
		exit 127;
	}
	my $hung = 0;
	eval {
		local $SIG{ALRM} = sub { die "hang\n" };
		alarm($HANG_SECONDS + int($watchdog));
		waitpid($pid, 0);
		alarm(0);
	};
	if ($@) {
		kill 'KILL', $pid;
		waitpid($pid, 0);
		$hung = 1;
	}
	my $status = $?;
	my $err = do { local $/; open my $fh, '<', $err_file; <$fh> // '' };
	return 'FAIL hang (killed after the watchdog did not stop it)' if $hung;
	return 'FAIL sanitizer report: ' . ($err =~ /(\S*Sanitizer\S*|runtime error:[^\n]*)/)[0]
		if $err =~ /Sanitizer|runtime error:/;
	return 'FAIL signal ' . ($status & 127) if $status & 127;
	$status >>= 8;
	return 'status 0: halted' if $status == 0;
	return 'FAIL status 77 in the lab, where every step must run' if $status == 77 && $LAB;
	return 'status 77: this KVM cannot run the step' if $status == 77;
	my ($first) = $err =~ /^([^\n]*)/;
	return "FAIL status $status: $first" if $status != 1;
	return "status 1: $1" if $err =~ /the guest stopped: (KVM_EXIT_\w+|exit reason \d+)/;
	return 'status 1: watchdog timeout' if $err =~ /timeout: the guest was still running/;
	return "status 1: $first";
}

# A worker runs the images INDEX = worker, worker + jobs, ... of a step
# and writes "index class" lines to its results file.
sub worker {
	my ($step, $worker) = @_;
	my $mode = $STEP_MODE{$step};
	(my $tag = $step) =~ s/\W+/-/g;
	open my $out, '>', "$scratch/$tag.$worker.results" or die "$0: $!\n";
	for (my $i = $worker; $i < $count; $i += $jobs) {
		my $file = "$scratch/$tag.$worker.bin";
		open my $fh, '>:raw', $file or die "$0: $file: $!\n";
		print $fh make_image($mode, $i);
		close $fh;
		my $class = run_one($step, $file, "$scratch/$tag.$worker.err");
		print $out "$i $class\n";
		if ($class =~ /^FAIL/ && defined $keep) {
			system('mkdir', '-p', $keep);
			system('cp', $file, "$keep/$tag-seed$seed-$mode-$i.bin");
		}
	}
	close $out;
}

$| = 1;
my $failed = 0;
print "fuzz: seed $seed, $count images per step, watchdog $watchdog s, $jobs jobs\n";
for my $step (@steps) {
	my $mode = $STEP_MODE{$step};
	(my $tag = $step) =~ s/\W+/-/g;
	my @pids;
	for my $w (0 .. $jobs - 1) {
		my $pid = fork() // die "$0: fork: $!\n";
		if ($pid == 0) { worker($step, $w); exit 0 }
		push @pids, $pid;
	}
	waitpid($_, 0) for @pids;
	my (%counts, @failures);
	for my $w (0 .. $jobs - 1) {
		open my $fh, '<', "$scratch/$tag.$w.results" or die "$0: results of $step: $!\n";
		while (<$fh>) {
			my ($i, $class) = /^(\d+) (.*)$/ or next;
			$counts{$class}++;
			push @failures, [$i, $class] if $class =~ /^FAIL/;
		}
	}
	my $total = 0;
	$total += $_ for values %counts;
	print "$step ($mode mode, $total images):\n";
	printf "  %6d  %s\n", $counts{$_}, $_ for sort { $counts{$b} <=> $counts{$a} || $a cmp $b } keys %counts;
	for (sort { $a->[0] <=> $b->[0] } @failures) {
		my ($i, $class) = @$_;
		print "  $class\n    reproduce: tests/fuzz.pl --seed $seed --emit $mode:$i >g.bin && ./$step --guest g.bin --timeout $watchdog\n";
	}
	$failed += @failures;
	$failed++ if $total != $count;
}
print $failed ? "fuzz: $failed failures\n" : "fuzz: no crash, hang, bad status or sanitizer report\n";
exit($failed ? 1 : 0);
