#!/usr/bin/env bash
# --guest with an ELF file, in every step that takes --guest (3 to 7):
# the ELF of each step's own guest runs as its flat binary does; an ELF
# of the wrong class, a segment outside RAM or over what the host built,
# a truncated or malformed file, an entry the mode cannot start at, and
# a file of zeros are each refused with status 2 and their own message,
# before any guest runs: never a signal, never a hang. The broken ELFs
# are the real ones (build/guest/*.elf) with a field changed, in $SCRATCH.
. "$(dirname "$0")/lib.sh"
need_steps 3 7

G=build/guest
for elf in real16 hello32 hello64 boot16; do
	[ -f "$G/$elf.elf" ] || { plan 1; ok 1 "$G/$elf.elf is built (make all)"; exit 1; }
done

# patch IN OUT [WHERE FORMAT VALUE]...: OUT is IN with each VALUE packed
# (perl's pack FORMAT) at WHERE: a byte offset, or P+N for byte N of the
# first program header (found from e_phoff, for either class).
patch() {
	perl -e '
		my ($in, $out, @edits) = @ARGV;
		open(my $f, "<:raw", $in) or die "$in: $!\n";
		my $d = do { local $/; <$f> };
		my $phoff = ord(substr($d, 4, 1)) == 2 ? unpack("Q<", substr($d, 0x20, 8))
						       : unpack("V", substr($d, 0x1c, 4));
		while (my ($where, $fmt, $value) = splice(@edits, 0, 3)) {
			$where = $where =~ /^P\+(\d+)$/ ? $phoff + $1 : $where =~ /^0x/ ? hex($where) : $where;
			$value = hex($value) if $value =~ /^0x/;
			my $bytes = pack($fmt, $value);
			substr($d, $where, length($bytes)) = $bytes;
		}
		open(my $o, ">:raw", $out) or die "$out: $!\n";
		print $o $d;
	' "$@"
}

# refused STEP FILE REGEX DESCRIPTION [OPTION...]: the step refuses FILE
# with status 2 and a message that matches REGEX (2 tests).
refused() {
	local step=$1 file=$2 regex=$3 desc=$4
	shift 4
	run "./$step" "$@" --guest "$file" --timeout 5
	is "$STATUS" 2 "$step, $desc: status 2"
	like "$ERR" "$regex" "$step, $desc: the message says so"
}

# Step 3's guest has no ELF of its own: its seven bytes (mov ax, 40;
# add ax, 2; hlt) in a 32-bit ELF made here, one segment at 0x1000.
perl -e 'print pack("a4C3x9vvVVVVVvvvvvv", "\x7fELF", 1, 1, 1, 2, 3, 1, 0x1000, 52, 0, 0,
	52, 32, 1, 0, 0, 0), pack("V8", 1, 84, 0x1000, 0x1000, 7, 7, 5, 1),
	"\xb8\x28\x00\x83\xc0\x02\xf4"' >"$SCRATCH/seven.elf"

plan 69

# The real ELFs pass, as their flat binaries do.
run ./step3 --guest "$SCRATCH/seven.elf"
is "$STATUS" 0 "step3, an ELF of its seven bytes: status 0"
like "$OUT" '^step3: the guest halted with AX = 42$' "... AX = 42"
like "$OUT" 'an ELF file, 7 bytes loaded, entry 0x1000$' "... the step says what it loaded"

run ./step4 --guest $G/real16.elf
is "$STATUS" 0 "step4, build/guest/real16.elf: status 0"
like "$OUT" '^step4: the guest halted: AX = 42, memory\[0x400\] = 42$' "... both 42s"

run ./step5 --guest $G/hello32.elf
is "$STATUS" 0 "step5, build/guest/hello32.elf: status 0"
like "$OUT" '^step5: the guest halted in 32-bit protected mode: EAX = 42, memory\[0x400\] = 42$' \
	"... both 42s, in 32-bit protected mode"

run ./step5 --boot --guest $G/real16.elf
is "$STATUS" 0 "step5 --boot, build/guest/real16.elf (real mode): status 0"
run ./step5 --boot --guest $G/boot16.elf
is "$STATUS" 0 "step5 --boot, build/guest/boot16.elf: status 0"
like "$OUT" '^step5: the guest halted in 32-bit protected mode: EAX = 42, memory\[0x400\] = 42$' \
	"... started at its first byte (e_entry), it switched to protected mode itself"

run ./step6 --guest $G/hello32.elf
unsupported 2 || {
	is "$STATUS" 0 "step6, build/guest/hello32.elf: status 0"
	like "$OUT" 'EAX = 42, memory\[0x400\] = 42, its reply at physical 0x180100 = 42$' "... all three 42s"
}

# Step 7: the same output as the flat binary's, apart from the line that
# says what was loaded.
run ./step7 --guest $G/hello64.bin
flat=$OUT
run ./step7 --guest $G/hello64.elf
is "$STATUS" 0 "step7, build/guest/hello64.elf: status 0"
like "$OUT" '^step7: build/guest/hello64.elf: an ELF file, [0-9]+ bytes loaded, entry 0x1000$' \
	"... one line says what was loaded"
is "$(printf '%s\n' "$OUT" | grep -v ': an ELF file, ')" "$flat" "... the rest is the flat binary's output"

# The wrong class for the mode.
refused step5 $G/hello64.elf 'is a 64-bit ELF file \(ELFCLASS64\) for x86-64' "a 64-bit ELF"
refused step6 $G/hello64.elf 'is a 64-bit ELF file \(ELFCLASS64\)' "a 64-bit ELF"
refused step7 $G/hello32.elf 'is a 32-bit ELF file \(ELFCLASS32\) for i386' "a 32-bit ELF"
like "$ERR" 'step7 runs 64-bit ELF files \(ELFCLASS64\) for x86-64 \(EM_X86_64\)' "... and says what it runs"
refused step4 $G/hello64.elf 'ELFCLASS64' "a 64-bit ELF"

# A segment outside RAM (p_paddr at the 2 MiB end), or over what the host
# built there: the GDT, the page tables, step 6's note.
patch $G/hello32.elf "$SCRATCH/high32.elf" P+12 V 0x200000
refused step5 "$SCRATCH/high32.elf" 'segment 0 \(physical 0x200000, 0xf8 bytes\) is outside$' "a segment past the end of RAM"
patch $G/hello64.elf "$SCRATCH/high64.elf" P+24 Q 0x1fff80
refused step7 "$SCRATCH/high64.elf" 'segment 0 \(physical 0x1fff80, 0xf0 bytes\) is outside$' "a segment running past the end of RAM"
patch $G/real16.elf "$SCRATCH/high16.elf" P+12 V 0xffffffff
refused step4 "$SCRATCH/high16.elf" 'segment 0 \(physical 0xffffffff, ' "a segment at 4 GiB - 1"
patch $G/hello32.elf "$SCRATCH/gdt32.elf" P+12 V 0x480
refused step5 "$SCRATCH/gdt32.elf" 'overlaps$' "a segment over the GDT"
like "$ERR" '^  the GDT, which the host reserves at 0x500 to 0x518$' "... named, with its place"
refused step6 "$SCRATCH/gdt32.elf" '^  the GDT, ' "a segment over the GDT"
patch $G/hello32.elf "$SCRATCH/tables32.elf" P+12 V 0x103f80
refused step6 "$SCRATCH/tables32.elf" '^  the page tables, which the host reserves at 0x100000 to 0x104000$' \
	"a segment over the page tables"
patch $G/hello32.elf "$SCRATCH/note32.elf" P+12 V 0x180000
refused step6 "$SCRATCH/note32.elf" "^  the note's page, " "a segment over the note"
patch $G/hello64.elf "$SCRATCH/tables64.elf" P+24 Q 0x100000
refused step7 "$SCRATCH/tables64.elf" '^  the page tables, which the host reserves at 0x100000 to 0x104000$' \
	"a segment over the page tables"

# Truncated or malformed files.
head -c 40 $G/real16.elf >"$SCRATCH/short.elf"
refused step3 "$SCRATCH/short.elf" 'is a truncated ELF file: 40 bytes, less than its header' "an ELF cut inside its header"
head -c 200 $G/hello32.elf >"$SCRATCH/cut32.elf"
refused step5 "$SCRATCH/cut32.elf" 'truncated ELF file: segment 0 has 248 bytes' "an ELF cut before its segment"
head -c 200 $G/hello64.elf >"$SCRATCH/cut64.elf"
refused step7 "$SCRATCH/cut64.elf" 'truncated ELF file: segment 0 ' "an ELF cut before its segment"
patch $G/hello32.elf "$SCRATCH/phnum.elf" 0x2c v 60000
refused step5 "$SCRATCH/phnum.elf" 'malformed ELF file: 60000 program headers' "too many program headers"
patch $G/hello32.elf "$SCRATCH/class.elf" 4 C 7
refused step6 "$SCRATCH/class.elf" 'malformed ELF file: class 7 ' "an ELF of no class"
patch $G/hello32.elf "$SCRATCH/filesz.elf" P+16 V 0x200
refused step5 "$SCRATCH/filesz.elf" 'more bytes in$' "p_filesz above p_memsz"

# An entry the mode cannot start at.
patch $G/real16.elf "$SCRATCH/entry64k.elf" 0x18 V 0x10000
refused step4 "$SCRATCH/entry64k.elf" 'entry point 0x10000 is above 64 KiB' "an entry at 64 KiB"
refused step3 "$SCRATCH/entry64k.elf" 'entry point 0x10000 is above 64 KiB' "an entry at 64 KiB"
patch $G/hello64.elf "$SCRATCH/entry64.elf" 0x18 Q 0x400000
refused step7 "$SCRATCH/entry64.elf" 'entry point 0x400000 is not mapped' "an entry nothing maps"

# A file of zeros: its own message, in every step.
head -c 4096 /dev/zero >"$SCRATCH/zeros.bin"
for step in "${STEPS[@]}"; do
	refused "$step" "$SCRATCH/zeros.bin" 'is all zeros \(4096 bytes\)' "a file of zeros"
done

finish
