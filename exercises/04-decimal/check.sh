# check.sh for 04-decimal, sourced by exercises/ex.sh (see its helpers).
# The guest prints numbers it cannot know in advance: the fixed edge
# cases and one chosen at random for each check.

check() {
	local numbers expected chars n

	numbers="0,7,10,42,1234,65535,$((RANDOM % 60000 + 100))"
	run_program --trace --numbers "$numbers"
	expect_status 0 "the guest halts with its 42s (exit status 0)"
	expected=$(printf 'number: %s\n' ${numbers//,/ })
	expect_equal "$(printf '%s\n' "$OUT" | grep '^number: ' || true)" "$expected" \
		"the guest prints $numbers in decimal"

	# One KVM_EXIT_IO per character: "Hello, world!\n", and for each
	# number "number: ", its digits and "\n". The host does not format
	# anything: the digits come out of the guest one "out" at a time.
	chars=14
	for n in ${numbers//,/ }; do
		chars=$((chars + 8 + ${#n} + 1))
	done
	expect_count "$ERR" '^\[trace\] KVM_EXIT_IO .* out port 0xe9 size 1 count 1' "$chars" \
		"the trace shows one out to port 0xe9 per character ($chars)"
	# The bytes of those exits, in order, are the text ('.' for "\n").
	expect_equal "$(printf '%s\n' "$ERR" | sed -n "s/.* out port 0xe9 .* data 0x.. '\\(.\\)'\$/\\1/p" | tr -d '\n')" \
		"Hello, world!.$(printf 'number: %s.' ${numbers//,/ })" \
		"... and their bytes, in order, are the text the guest printed"
}
