#!/usr/bin/perl
# gdb-sequence.pl FILE: a sequence diagram (graphviz dot, on stdout) of
# the packets of a recorded gdb session: FILE is a recording of
# book/tools/gdb-session.sh (book/outputs/KVM/NAME.out), whose step ran
# with --trace-gdb. Each packet becomes an arrow between two lifelines,
# gdb on the left and step 11 on the right, in the order of the trace;
# the acknowledgements (+) are left out, and so is everything else the
# step printed but the guest's own output, which shows, beside the
# step's lifeline, while the guest runs. A packet's text is cut to fit
# a phone's column, and a note says what the packet is for (the table
# below; a packet it does not know has none). Exit 1 if FILE holds no
# packet: the diagram must come from a real trace.
use strict;
use warnings;

my $file = shift or die "usage: $0 FILE\n";
open(my $fh, '<', $file) or die "$0: $file: $!\n";

# What each packet is for, by the start of its text: the first match
# wins. Requests from gdb, then the stub's replies.
my @requests = (
    [qr/^qSupported/, 'what each side supports'],
    [qr/^vMustReplyEmpty/, 'unknown? the empty reply'],
    [qr/^QStartNoAckMode/, 'no more + acks'],
    [qr/^H[gc]/, 'pick a thread (one vCPU)'],
    [qr/^qXfer:features:read:target\.xml/, 'the registers, described'],
    [qr/^qTStatus/, 'a trace experiment? (no)'],
    [qr/^\?$/, 'why is the target stopped?'],
    [qr/^q[fs]ThreadInfo/, 'the threads: just 1'],
    [qr/^qAttached/, 'attached to a live target?'],
    [qr/^qC$/, 'the current thread'],
    [qr/^qOffsets/, 'relocation? (none)'],
    [qr/^g$/, 'all registers'],
    [qr/^qSymbol/, 'symbols for the stub? (no)'],
    [qr/^m/, 'read guest memory'],
    [qr/^M/, 'write guest memory'],
    [qr/^Z0/, 'insert a breakpoint'],
    [qr/^z0/, 'remove it'],
    [qr/^Z1/, 'insert a hardware one'],
    [qr/^z1/, 'remove it'],
    [qr/^vCont\?/, 'which actions?'],
    [qr/^vCont;c/, 'continue'],
    [qr/^vCont;s/, 'one instruction'],
    [qr/^D/, 'detach'],
    [qr/^k$/, 'kill'],
);
my @replies = (
    [qr/^T05(hw|sw)break/, 'SIGTRAP: a breakpoint'],
    [qr/^T05/, 'stopped: SIGTRAP'],
    [qr/^T02/, 'stopped: SIGINT (Ctrl-C)'],
    [qr/^S05/, 'stopped: SIGTRAP'],
    [qr/^W(..)/, 'the guest ended, code 0x%s'],
    [qr/^l<\?xml/, 'last (l) part of target.xml'],
);

sub note {
    my ($text, $table) = @_;
    for my $entry (@$table) {
        my ($re, $note) = @$entry;
        next unless $text =~ $re;
        my $captured = $1;
        return $note =~ /%s/ ? sprintf($note, $captured) : $note;
    }
    return '';
}

# A packet's text for the diagram: its data (no $ and #xx), whole up to
# 20 characters, else its first 8 and its length (the trace's own cut
# says how long it was).
sub shorten {
    my ($data) = @_;
    my $len;
    if ($data =~ s/\.\.\. \((\d+) characters\)$//) {
        $len = $1 - 4;    # less the $ and #xx
    }
    $data =~ s/^\$//;
    $data =~ s/#[0-9a-f]{2}$//;
    $len //= length($data);
    return '(empty reply)' if $data eq '';
    $data =~ s/\\x0a/ /g;
    return $data if length($data) <= 20 && $len == length($data);
    return substr($data, 0, 8) . "... ($len bytes)";
}

my (@rows, $running);
while (my $line = <$fh>) {
    chomp $line;
    if ($line =~ /^\[gdb\] <- (.*)$/) {
        next if $1 eq '+' || $1 eq '-';
        my $data = $1;
        if ($data =~ /^\^C/) {
            push @rows, { dir => 'right', text => '0x03 (Ctrl-C)', note => 'interrupt' };
            next;
        }
        push @rows, { dir => 'right', text => shorten($data), note => note($data, \@requests) };
        $running = $data =~ /^(vCont;[cs]|[cs])/ ? 1 : 0;
    } elsif ($line =~ /^\[gdb\] -> (.*)$/) {
        my $data = $1;
        my $bare = $data;
        $bare =~ s/^\$//;
        push @rows, { dir => 'left', text => shorten($data), note => note($bare, \@replies) };
        $running = 0;
    } elsif ($running && $line !~ /^step11: / && $line ne '') {
        if (@rows && $rows[-1]{dir} eq 'guest') {
            $rows[-1]{text} .= "\\l$line";
        } else {
            push @rows, { dir => 'guest', text => "the guest runs:\\l$line" };
        }
    }
}
close($fh);
die "$0: no packets in $file (a recording of book/tools/gdb-session.sh?)\n" unless @rows;

sub quote {
    my ($s) = @_;
    $s =~ s/(["])/\\$1/g;
    return $s;
}

print <<"EOF";
// Made by book/tools/gdb-sequence.pl from $file: do not edit.
// A sequence diagram of a gdb session's packets, top to bottom.
digraph gdb_session {
    graph [bgcolor="transparent", rankdir=TB, fontname="Helvetica", fontsize=12, nodesep=0.08, ranksep=0.06];
    node [fontname="Helvetica", fontsize=11, shape=point, width=0.02, height=0.02, color="#555555"];
    edge [fontname="Helvetica", fontsize=11, color="#333333", arrowsize=0.6];
    g0 [shape=box, style="rounded,filled", fillcolor="#dbe8f7", label="gdb", width=0.7];
    m0 [shape=plaintext, label="", width=2.1];
    s0 [shape=box, style="rounded,filled", fillcolor="#e8f5e0", label="step11", width=0.7];
    n0 [shape=plaintext, label=<<table border="0" cellpadding="0"><tr><td width="150" align="left"><b>what it is for</b></td></tr></table>>];
    { rank=same; g0 -> m0 -> s0 -> n0 [style=invis]; }
EOF
my $i = 0;
for my $row (@rows) {
    $i++;
    my $prev = $i - 1;
    my $note = quote($row->{note} // '');
    my $mid;
    if ($row->{dir} eq 'guest') {
        $mid = "m$i [shape=box, style=\"filled\", fillcolor=\"#fbf3e6\", color=\"#fbf3e6\", "
            . "label=\"" . quote($row->{text}) . "\\l\"];";
    } else {
        $mid = "m$i [shape=plaintext, height=0.22, margin=0.02, fontname=\"Courier\", label=\"" . quote($row->{text}) . "\"];";
    }
    print "    $mid\n";
    print "    n$i [shape=plaintext, group=notes, height=0.22, margin=0, label=<<table border=\"0\" cellpadding=\"0\"><tr>"
        . "<td width=\"150\" align=\"left\">" . html($row->{note} // '') . "</td></tr></table>>];\n";
    print "    g$i [group=gdb]; s$i [group=stub];\n";
    if ($row->{dir} eq 'right') {
        print "    { rank=same; g$i -> m$i [arrowhead=none]; m$i -> s$i; s$i -> n$i [style=invis]; }\n";
    } elsif ($row->{dir} eq 'left') {
        print "    { rank=same; g$i -> m$i [dir=back]; m$i -> s$i [arrowhead=none]; s$i -> n$i [style=invis]; }\n";
    } else {
        print "    { rank=same; g$i -> m$i -> s$i -> n$i [style=invis]; }\n";
    }
    print "    g$prev -> g$i [arrowhead=none, style=dashed, color=\"#999999\", weight=100];\n";
    print "    s$prev -> s$i [arrowhead=none, style=dashed, color=\"#999999\", weight=100];\n";
    print "    m$prev -> m$i [style=invis, weight=10];\n";
    print "    n$prev -> n$i [style=invis, weight=100];\n";
}
print "}\n";

sub html {
    my ($s) = @_;
    $s =~ s/&/&amp;/g;
    $s =~ s/</&lt;/g;
    $s =~ s/>/&gt;/g;
    return $s;
}
