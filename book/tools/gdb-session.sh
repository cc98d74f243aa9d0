#!/usr/bin/env bash
# book/tools/gdb-session.sh: one session with step 11's gdb stub, as the
# book shows it (book/runs): ./step11 --gdb 0 --trace-gdb in the
# background, then a client against it, then what each printed.
#
#   book/tools/gdb-session.sh [STEP-OPTION...] gdb COMMAND...
#       gdb in batch mode with the guest's symbols, connected to the
#       stub, running each COMMAND in turn (set as DESIGN.md says: tcp
#       auto-retry off, remotetimeout 1, inside timeout)
#   book/tools/gdb-session.sh [STEP-OPTION...] raw ITEM...
#       tests/gdb-raw.pl: packets as no gdb sends them (see its ITEMs)
#
# Prints a line "== gdb" (or "== raw packets") and the client's output,
# then "== ./step11 --gdb 0 --trace-gdb ..." and the step's stdout and
# stderr together, in the order the step wrote them. A packet line of the
# trace longer than 80 characters is cut there and says how long it was
# (a g reply is 1,200 hex digits). Exits with the step's status. Run
# from the repository's root, with step 11 and its guest built.
set -u

if [ $# -lt 2 ]; then
	echo "usage: book/tools/gdb-session.sh [STEP-OPTION...] gdb|raw COMMAND..." >&2
	exit 2
fi
opts=()
while [ $# -gt 0 ] && [ "$1" != gdb ] && [ "$1" != raw ]; do
	opts+=("$1")
	shift
done
client=${1:-}
shift
dir=$(mktemp -d "${TMPDIR:-/tmp}/gdb-session.XXXXXX") || exit 2
trap 'rm -rf "$dir"' EXIT

# The step, its output in one file; wait until it says its port.
timeout -k 5 60 ./step11 --gdb 0 --trace-gdb "${opts[@]}" >"$dir/step" 2>&1 </dev/null &
step_pid=$!
port=
for _ in $(seq 400); do
	port=$(sed -n 's/^step11: waiting for gdb on 127\.0\.0\.1:\([0-9]*\):.*/\1/p' "$dir/step")
	[ -n "$port" ] && break
	kill -0 "$step_pid" 2>/dev/null || break
	sleep 0.05
done

if [ -n "$port" ] && [ "$client" = gdb ]; then
	echo "== gdb"
	ex=(-ex 'set tcp auto-retry off' -ex 'set remotetimeout 1' -ex "target remote :$port")
	for c in "$@"; do ex+=(-ex "$c"); done
	timeout -k 5 60 gdb -q -nx -batch "${ex[@]}" build/guest/debug64.elf 2>&1 </dev/null
elif [ -n "$port" ]; then
	echo "== raw packets"
	perl tests/gdb-raw.pl "$port" "$@"
fi
status=0
wait "$step_pid" || status=$?
echo "== ./step11 --gdb 0 --trace-gdb${opts[*]:+ ${opts[*]}}"
awk 'length($0) > 80 && /^\[gdb\] / {
	printf "%s... (%d characters)\n", substr($0, 1, 72), length($0) - 9; next
} { print }' "$dir/step"
exit "$status"
