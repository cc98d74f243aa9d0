#!/usr/bin/env bash
# book/tools/record-outputs.sh: runs every command of book/runs on this
# machine's KVM and records what it printed, for the book's output blocks
# (make book-outputs) and for the test that proves them
# (tests/book-outputs.t). A run flagged "boot" (it boots Linux) is left
# out on a KVM that runs a guest's kernel slowly (kvm_pvm).
#
#   book/tools/record-outputs.sh DIR     DIR/NAME.out and NAME.status for
#                                        each run, and DIR/KVM: which KVM
#   book/tools/record-outputs.sh --tar   the same as a base64 tar on stdout
#                                        (in the lab, where the repository
#                                        is read-only)
#   book/tools/record-outputs.sh --kind  only which KVM this is
#   book/tools/record-outputs.sh --update NEW DIR
#                                        NEW's recordings into DIR, but
#                                        for those equal as masked: a
#                                        new host address is no change
#
# Run from the repository's root, with the steps and test guests built.
# Exit status 0, or 2 when there is no KVM to record on. Sourced (as
# tests/book-outputs.t does), it defines its functions and runs nothing.

# runs: book/runs without its comments, one run a line, its fields
# (NAME, COMMAND, MASK, FLAGS) separated by \037, which read does not
# merge as it merges tabs: an empty MASK before FLAGS stays a field.
runs() {
	grep -v -e '^#' -e '^$' book/runs | tr '\t' '\037'
}

# has_flag FLAGS WORD: whether book/runs' FLAGS column holds WORD.
has_flag() {
	[[ " $1 " == *" $2 "* ]]
}

# The KVMs that run a guest's kernel code slowly: kvm_pvm emulates every
# instruction the guest runs in kernel mode (about 1 us each), so a boot
# of Linux (a run flagged "boot") takes minutes there, and is neither
# recorded nor compared on it. book/filters/book.lua has the same list.
SLOW_KERNEL_KVMS="kvm_pvm"
SLOW_KERNEL_WHY="emulates a guest's kernel code, about 1 us an instruction, and a boot takes minutes: the lab records and compares it"

# boots KIND: whether a run flagged "boot" runs on this KVM.
boots() {
	! has_flag "$SLOW_KERNEL_KVMS" "$1"
}

# kvm_kind: the kernel module behind /dev/kvm, from the modules loaded
# (kvm_pvm first: a PVM host may have a hardware module loaded as well).
kvm_kind() {
	local module
	for module in kvm_pvm kvm_intel kvm_amd; do
		if [ -d "/sys/module/$module" ]; then
			printf '%s\n' "$module"
			return 0
		fi
	done
	return 1
}

# kvm_about KIND: the words a chapter's caption uses for that KVM, and
# the kernel it ran on.
kvm_about() {
	local where=
	[ "${KVM_LAB:-0}" = 1 ] && where="in the lab: QEMU's emulated AMD CPU, "
	printf '%s (%sLinux %s)\n' "$1" "$where" "$(uname -r)"
}

# masked MASK FILE VAR [FLAGS]: FILE's text into VAR, with each run of
# hex digits in the lines matching MASK (book/runs' third column, an
# extended regex), and the spaces that pad it, replaced by one #, so
# that 0.38 s and 1.02 s compare equal, and "[    1.20]" and "[   12.40]"
# too. With the flag "boot" (a boot's console varies from run to run)
# or "measure" (step 13's figures, and the processor it names), only
# those lines: the others are left out. Pure bash: in the lab,
# whose CPU is emulated, every process costs.
masked() {
	local line text=
	shopt -s extglob
	while IFS= read -r line || [ -n "$line" ]; do
		if [ -n "$1" ] && [[ $line =~ $1 ]]; then
			line=${line//*( )+([0-9a-f])/#}
		elif has_flag "${4:-}" boot || has_flag "${4:-}" measure; then
			continue
		fi
		text+=$line$'\n'
	done <"$2"
	printf -v "$3" '%s' "$text"
}

# update NEW DIR: copy NEW's recordings over DIR's, each unless the two
# are equal as masked, so that recording again changes only what changed.
# A run NEW lacks (a boot, on a KVM that does not boot) is left as it is.
update() {
	local name command mask flags new old
	mkdir -p "$2"
	cp "$1/KVM" "$2/KVM"
	while IFS=$'\037' read -r name command mask flags; do
		[ -f "$1/$name.out" ] || continue
		if [ -f "$2/$name.out" ]; then
			masked "$mask" "$1/$name.out" new "$flags"
			masked "$mask" "$2/$name.out" old "$flags"
			[ "$new" = "$old" ] && cmp -s "$1/$name.status" "$2/$name.status" && continue
		fi
		cp "$1/$name.out" "$1/$name.status" "$2/"
	done <<<"$(runs)"
}

# record DIR KIND: each run of book/runs into DIR, on the KVM KIND; a
# boot, or a run flagged slow, only where the guest's kernel code runs at
# speed (boots).
record() {
	local name command mask flags
	while IFS=$'\037' read -r name command mask flags; do
		[ -n "$name" ] || continue
		if has_flag "$flags" boot || has_flag "$flags" slow; then
			boots "$2" || continue
		fi
		record_one "$1" "$name" "$command" "$flags"
	done <<<"$(runs)"
}

# record_one DIR NAME COMMAND FLAGS: one run into DIR/NAME.out and
# DIR/NAME.status (tests/book-outputs.t runs a "timed" run again so). A
# step may fail on purpose (a broken guest), so the status is recorded,
# not obeyed; a hang is cut off by timeout (after 60 s, or 600 s for a
# boot: a few minutes in the lab under shadow paging).
record_one() {
	local limit=60 status=0
	! has_flag "$4" boot || limit=600
	timeout -k 5 "$limit" sh -c "$3" >"$1/$2.out" 2>&1 </dev/null || status=$?
	printf '%s\n' "$status" >"$1/$2.status"
}

main() {
	local kind
	if [ "${1:-}" = --update ] && [ $# = 3 ]; then
		update "$2" "$3"
		return
	fi
	if ! kind=$(kvm_kind) || [ ! -e "${KVM_DEVICE:-/dev/kvm}" ]; then
		echo "record-outputs: no KVM here (no kvm_pvm, kvm_intel or kvm_amd module, or no /dev/kvm)" >&2
		exit 2
	fi
	case ${1:-} in
	--kind)
		printf '%s\n' "$kind"
		;;
	--tar)
		TAR_DIR=$(mktemp -d)
		trap 'rm -rf "$TAR_DIR"' EXIT
		kvm_about "$kind" >"$TAR_DIR/KVM"
		record "$TAR_DIR" "$kind"
		tar -C "$TAR_DIR" -c . | base64
		;;
	'' | -*)
		echo "usage: book/tools/record-outputs.sh DIR | --tar | --kind | --update NEW DIR" >&2
		exit 2
		;;
	*)
		mkdir -p "$1"
		kvm_about "$kind" >"$1/KVM"
		record "$1" "$kind"
		;;
	esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -eu
	main "$@"
fi
