#!/usr/bin/env bash
# book/tools/record-outputs.sh: runs every command of book/runs on this
# machine's KVM and records what it printed, for the book's output blocks
# (make book-outputs) and for the test that proves them
# (tests/book-outputs.t).
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

# masked MASK FILE VAR: FILE's text into VAR, with each run of hex
# digits in the lines matching MASK (book/runs' third column, an extended
# regex) replaced by one #, so that 0.38 s and 1.02 s compare equal. Pure
# bash: in the lab, whose CPU is emulated, every process costs.
masked() {
	local line text=
	shopt -s extglob
	while IFS= read -r line || [ -n "$line" ]; do
		[ -n "$1" ] && [[ $line =~ $1 ]] && line=${line//+([0-9a-f])/#}
		text+=$line$'\n'
	done <"$2"
	printf -v "$3" '%s' "$text"
}

# update NEW DIR: copy NEW's recordings over DIR's, each unless the two
# are equal as masked, so that recording again changes only what changed.
update() {
	local name command mask new old
	mkdir -p "$2"
	cp "$1/KVM" "$2/KVM"
	while IFS=$'\t' read -r name command mask; do
		case $name in '' | '#'*) continue ;; esac
		if [ -f "$2/$name.out" ]; then
			masked "$mask" "$1/$name.out" new
			masked "$mask" "$2/$name.out" old
			[ "$new" = "$old" ] && cmp -s "$1/$name.status" "$2/$name.status" && continue
		fi
		cp "$1/$name.out" "$1/$name.status" "$2/"
	done <book/runs
}

# record DIR: each run of book/runs into DIR. A step may fail on purpose
# (a broken guest), so the status is recorded, not obeyed; a hang is cut
# off by timeout.
record() {
	local name command mask status
	while IFS=$'\t' read -r name command mask; do
		case $name in '' | '#'*) continue ;; esac
		status=0
		timeout -k 5 60 sh -c "$command" >"$1/$name.out" 2>&1 </dev/null || status=$?
		printf '%s\n' "$status" >"$1/$name.status"
	done <book/runs
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
		record "$TAR_DIR"
		tar -C "$TAR_DIR" -c . | base64
		;;
	'' | -*)
		echo "usage: book/tools/record-outputs.sh DIR | --tar | --kind | --update NEW DIR" >&2
		exit 2
		;;
	*)
		mkdir -p "$1"
		kvm_about "$kind" >"$1/KVM"
		record "$1"
		;;
	esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -eu
	main "$@"
fi
