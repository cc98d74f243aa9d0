#!/usr/bin/env perl
# tests/gdb-raw.pl PORT ITEM...: talk to step 11's gdb stub as no gdb
# would, for tests/step11.t: bad checksums, overlong packets, unknown
# commands. Each ITEM is sent in turn, in ack mode:
#
#   pkt:DATA     the packet $DATA#XX with its right checksum
#   bad:DATA     the same with a wrong checksum
#   long:N       a packet of N bytes ('a's), its checksum right
#   raw:TEXT     TEXT as it is (\xNN escapes: raw:\x03 is Ctrl-C)
#   close        close the connection, and stop
#
# and what came back is printed, a line per item: "ITEM -> ACK REPLY",
# ACK being + or - (or "none"), REPLY the stub's packet as sent (a '+'
# is sent back for it), "(closed)" if the stub closed the connection, or
# "(nothing)" after 10 s of silence. Exit status: 0, or 2 on bad usage
# or no connection.
use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;

my ($port, @items) = @ARGV;
die "usage: $0 PORT ITEM...\n" unless defined $port && $port =~ /^\d+$/;
my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp')
	or do { print STDERR "$0: cannot connect to 127.0.0.1:$port: $!\n"; exit 2 };
binmode($sock);
$sock->autoflush(1);
my $select = IO::Select->new($sock);
my $closed = 0;

# getc_wait(): the next byte from the stub, undef when it closed the
# connection, '' after 10 s of silence.
sub getc_wait {
	return '' unless $select->can_read(10);
	my $n = sysread($sock, my $c, 1);
	return $n ? $c : undef;
}

# packet(DATA): $DATA#XX, XX the sum of DATA's bytes modulo 256.
sub packet {
	my ($data) = @_;
	my $sum = 0;
	$sum += ord($_) for split //, $data;
	return sprintf('$%s#%02x', $data, $sum % 256);
}

# reply(): the stub's next packet, acknowledged, or what stopped it.
sub reply {
	my $text = '';
	while (1) {
		my $c = getc_wait();
		return '(closed)' unless defined $c;
		return $text eq '' ? '(nothing)' : "$text(cut)" if $c eq '';
		$text .= $c if $text ne '' || $c eq '$';
		last if $text =~ /#..$/s;
	}
	syswrite($sock, '+');
	return $text;
}

for my $item (@items) {
	my $send;
	if ($item =~ /^pkt:(.*)$/s) { $send = packet($1) }
	elsif ($item =~ /^bad:(.*)$/s) {
		my $good = packet($1);
		$send = substr($good, 0, -2) . sprintf('%02x', (hex(substr($good, -2)) + 1) % 256);
	}
	elsif ($item =~ /^long:(\d+)$/) { $send = packet('a' x $1) }
	elsif ($item =~ /^raw:(.*)$/s) { ($send = $1) =~ s/\\x([0-9a-fA-F]{2})/chr(hex($1))/ge }
	elsif ($item eq 'close') { close($sock); print "close\n"; exit 0 }
	else { print STDERR "$0: not an item: $item\n"; exit 2 }
	syswrite($sock, $send);
	my $shown = length($item) > 40 ? substr($item, 0, 40) . '...' : $item;
	my $ack = getc_wait();
	if (!defined $ack) { print "$shown -> (closed)\n"; exit 0 }
	if ($ack eq '-' || $ack eq '') { print "$shown -> ", ($ack eq '' ? 'none' : '-'), "\n"; next }
	print "$shown -> $ack ", reply(), "\n";
}
exit 0;
