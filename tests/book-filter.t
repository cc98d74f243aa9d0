#!/usr/bin/env bash
# The book's listing filter (book/filters/book.lua and epub.lua): a listing
# comes from the named markers of a real file, and anything else (a bogus
# marker, a missing file, unbalanced markers, C pasted by hand, a marker
# no chapter shows) stops the build with a message that says where.
# Everything is written under $SCRATCH; the repository may be read-only.
# lab: on the host (needs no KVM: lab/run check runs it beside the lab)
. "$(dirname "$0")/lib.sh"

if ! command -v pandoc >/dev/null 2>&1; then
	echo "1..0 # SKIP pandoc is not installed (sudo make deps)"
	exit 0
fi
plan 37

filters=$ROOT/book/filters
mkdir -p "$SCRATCH/src"
cat >"$SCRATCH/src/good.c" <<'EOF'
#include <stdio.h>

/* listing: hello */
int main(void)
{
	puts("hello");
	return 0;
}
/* end listing: hello */
EOF
printf '/* listing: open */\nint x;\n' >"$SCRATCH/src/unclosed.c"
printf 'int x;\n/* end listing: stray */\n' >"$SCRATCH/src/stray.c"
printf '/* listing: a */\n/* end listing: a */\n/* listing: a */\n/* end listing: a */\n' \
	>"$SCRATCH/src/twice.c"
printf '/* listing:hello world */\nint x;\n' >"$SCRATCH/src/malformed.c"

# chapter NAME BODY: a one-listing chapter in $SCRATCH/NAME.md, run
# through the first pass; sets OUT, ERR, STATUS.
chapter() {
	printf '# A test chapter\n\n%s\n' "$2" >"$SCRATCH/$1.md"
	run pandoc --fail-if-warnings -f markdown-auto_identifiers \
		--lua-filter "$filters/book.lua" -M book-root="$SCRATCH" -M book-chapter="$1" \
		-t html "$SCRATCH/$1.md"
}
listing() { printf '```{.listing file="%s" name="%s"}\n```\n' "$1" "$2"; }

chapter good "$(listing src/good.c hello)"
is "$STATUS" 0 "a listing of a real marker builds"
like "$OUT" 'puts' "... and shows the lines between the markers"
unlike "$OUT" 'listing: hello' "... but not the marker lines themselves"
like "$OUT" 'src/good.c</code>, lines 4–8' "... and names its file and lines"

chapter bogus "$(listing src/good.c no-such-marker)"
like "$STATUS" '^[1-9]' "a bogus marker fails the build"
like "$ERR" 'no marker "no-such-marker" in src/good.c \(it has: hello\)' "... saying which marker and file"

chapter missing "$(listing src/nowhere.c hello)"
like "$STATUS" '^[1-9]' "a missing file fails the build"
like "$ERR" 'cannot read .*src/nowhere.c' "... naming the file"

chapter unclosed "$(listing src/unclosed.c open)"
like "$ERR" 'unclosed.c:1: "listing: open" is never closed' "an unclosed marker fails, with file and line"

chapter stray "$(listing src/stray.c stray)"
like "$ERR" 'stray.c:2: "end listing: stray" has no "listing: stray" open' "an end marker without a start fails"

chapter twice "$(listing src/twice.c a)"
like "$ERR" 'twice.c:3: marker "a" is used twice' "a marker name used twice in a file fails"

chapter malformed "$(listing src/malformed.c hello)"
like "$ERR" 'malformed.c:1: malformed marker' "a malformed marker line fails"

chapter pasted "$(printf '```c\nint main(void) { return 0; }\n```\n')"
like "$ERR" 'a c block written by hand' "C pasted into a chapter by hand fails"

chapter partial "$(printf '```{.c .partial}\nregs.rip = 0x1000;\n```\n')"
is "$STATUS" 0 "a fragment marked .partial is allowed"

# Figures: the alt text says what the diagram shows, not its caption again.
chapter no-alt "$(printf '![A loop](img/loop.svg)\n')"
like "$ERR" 'image img/loop.svg has no alt text' "a figure without alt text fails"
chapter alt-caption "$(printf '![A loop](img/loop.svg){alt="A loop"}\n')"
like "$ERR" 'its alt text repeats its caption' "... and so does one whose alt text is its caption"
chapter alt "$(printf '![A loop](img/loop.svg){alt="Three boxes in a circle"}\n')"
is "$STATUS" 0 "... a figure with alt text of its own builds"

# Output blocks: a run of book/runs, as recorded on each KVM under
# book/outputs/KVM/; each caption names its KVM, and a device error is
# refused unless the block expects one.
mkdir -p "$SCRATCH/book/outputs/kvm_amd" "$SCRATCH/book/outputs/kvm_pvm"
printf 'hello\t./hello\nbroken\t./broken\n' >"$SCRATCH/book/runs"
echo 'kvm_amd (in the lab)' >"$SCRATCH/book/outputs/kvm_amd/KVM"
echo 'kvm_pvm (Linux 1.0)' >"$SCRATCH/book/outputs/kvm_pvm/KVM"
for kvm in kvm_amd kvm_pvm; do
	echo "Hello from $kvm" >"$SCRATCH/book/outputs/$kvm/hello.out"
	echo 0 >"$SCRATCH/book/outputs/$kvm/hello.status"
	printf 'broken: /dev/kvm does not exist\n  Run it in the lab instead\n' >"$SCRATCH/book/outputs/$kvm/broken.out"
	echo 2 >"$SCRATCH/book/outputs/$kvm/broken.status"
done
chapter output "$(printf '```{.output run="hello"}\n```\n')"
is "$STATUS" 0 "an output block of a recorded run builds"
like "$OUT" 'On kvm_amd \(in the lab\):' "... each KVM's output under a caption that names it"
like "$OUT" 'Hello from kvm_pvm' "... kvm_pvm's too, since it differs"
chapter device-error "$(printf '```{.output run="broken"}\n```\n')"
like "$ERR" 'output run=broken on kvm_amd is a device error' "a recorded device error fails the build"
chapter device-error-expected "$(printf '```{.output run="broken" expect="device-error"}\n```\n')"
like "$OUT" 'On kvm_amd \(in the lab\) and kvm_pvm \(Linux 1.0\), alike:' "... unless the block expects it; KVMs alike share a block"
chapter no-error "$(printf '```{.output run="hello" expect="device-error"}\n```\n')"
like "$ERR" 'was expected to show a device error' "a block expecting a device error fails when there is none"
chapter unrecorded "$(printf '```{.output run="nowhere"}\n```\n')"
like "$ERR" 'no such run in book/runs' "a run not in book/runs fails the build"

# An excerpt (from=, to=), and a run flagged "boot" in book/runs' fourth
# column (an empty MASK before it): not looked for on kvm_pvm, which
# runs a guest's kernel slowly; a console's \r\n shown as a line's end.
printf 'boot\t./boot\t\tboot\n' >>"$SCRATCH/book/runs"
for kvm in kvm_amd kvm_pvm; do
	printf 'one\r\ntwo\r\nthree\r\nfour\r\n' >"$SCRATCH/book/outputs/$kvm/boot.out"
	echo 0 >"$SCRATCH/book/outputs/$kvm/boot.status"
done
chapter excerpt "$(printf '```{.output run="boot" from="two" to="three"}\n```\n')"
is "$STATUS" 0 "an excerpt of a recorded run builds"
# console: the text of the first console block in $OUT.
console() { printf '%s' "$OUT" | perl -0ne 'print $1 if m{<pre class="console"><code>(.*?)</code>}s'; }
is "$(console)" '$ ./boot
[...]
two
three
[...]' "... its lines from from= to to=, [...] for those left out, no status"
like "$OUT" 'On kvm_amd \(in the lab\), an excerpt:' "... under a caption that says so"
unlike "$OUT" 'kvm_pvm' "... and a boot is not shown on kvm_pvm, though a recording is there"
unlike "$OUT" $'\r' "... a console's \\r dropped"
chapter excerpt-end "$(printf '```{.output run="boot" from="three"}\n```\n')"
is "$(console)" '$ ./boot
[...]
three
four
$ echo $?
0' "an excerpt to the end shows the exit status"
chapter excerpt-missing "$(printf '```{.output run="boot" from="five"}\n```\n')"
like "$ERR" 'output run=boot on kvm_amd: no line holds from="five"' "an excerpt's text that the recording lacks fails the build"
chapter excerpt-order "$(printf '```{.output run="boot" from="three" to="one"}\n```\n')"
like "$ERR" 'no line from "three" on holds to="one"' "... and so does a to= before from="
chapter boot-pvm "$(printf '```{.output run="boot" kvm="kvm_pvm"}\n```\n')"
like "$ERR" 'a boot \(book/runs\) is not recorded on kvm_pvm' "asking for a boot on kvm_pvm fails the build"

# A run flagged "slow" (much guest kernel code, step 12's million
# additions): not looked for on kvm_pvm either, and not allowed there.
printf 'slow\t./slow\t\tslow\n' >>"$SCRATCH/book/runs"
for kvm in kvm_amd kvm_pvm; do
	printf 'done\n' >"$SCRATCH/book/outputs/$kvm/slow.out"
	echo 0 >"$SCRATCH/book/outputs/$kvm/slow.status"
done
chapter slow "$(printf '```{.output run="slow"}\n```\n')"
unlike "$OUT" 'kvm_pvm' "a slow run is not shown on kvm_pvm, though a recording is there"
chapter slow-pvm "$(printf '```{.output run="slow" kvm="kvm_pvm"}\n```\n')"
like "$ERR" 'a slow run \(book/runs\) is not recorded on kvm_pvm' "asking for a slow run on kvm_pvm fails the build"

# The whole-book check: a marker that no chapter shows fails the EPUB pass.
printf '/* listing: hello */\nint a;\n/* end listing: hello */\n/* listing: unused */\nint b;\n/* end listing: unused */\n' \
	>"$SCRATCH/src/two.c"
chapter whole "$(listing "$SCRATCH/src/two.c" hello)"
run pandoc --fail-if-warnings -f markdown-auto_identifiers --lua-filter "$filters/book.lua" \
	-M book-root="$SCRATCH" -M book-chapter=whole -t json -o "$SCRATCH/whole.json" "$SCRATCH/whole.md"
printf -- '---\ntitle: test\n---\n' >"$SCRATCH/meta.yaml"
run pandoc --fail-if-warnings -f markdown "$SCRATCH/meta.yaml" --lua-filter "$filters/epub.lua" \
	-M book-parts="$SCRATCH/whole.json" -M book-sources="$SCRATCH/src/two.c" -t html
like "$ERR" 'two.c:4: the marker "unused" is shown by no chapter' "a marker no chapter shows fails the book"
run pandoc --fail-if-warnings -f markdown "$SCRATCH/meta.yaml" --lua-filter "$filters/epub.lua" \
	-M book-parts="$SCRATCH/whole.json" -M book-sources="$SCRATCH/src/good.c" -t html
like "$ERR" 'good.c:3: the marker "hello" is shown by no chapter' "... checked per file and marker"

finish
