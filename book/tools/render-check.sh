#!/bin/sh
# render-check.sh BOOK_DIR OUT_DIR PAGE...: look at the book as a reader
# would, in headless Chromium, at laptop width (1280 px) and at phone
# width (400 px).
#
# For each PAGE (a name, e.g. "index" for BOOK_DIR/index.html), at each
# width:
#   - a screenshot (OUT_DIR/PAGE.png at laptop width, OUT_DIR/PAGE-phone.png
#     at phone width), which must not be blank (png-check.pl);
#   - a probe: a copy of the page with a small script (render-probe.js)
#     that, once the page has loaded, records whether every image decoded
#     and the stylesheet applied, and measures every diagram: the smallest
#     text it shows as rendered (the SVG's font size times the diagram's
#     scale on the page) must be at least 11 px at laptop width and 9 px at
#     phone width, the diagram must fit the page and link to its full-size
#     SVG. Chromium's --dump-dom shows the verdict.
# Every page is checked; exit 1 if any failed, with one line per problem.
set -u
book=$1 out=$2
shift 2
chromium=${CHROMIUM:-chromium}
here=$(cd "$(dirname "$0")" && pwd)
# NAME:WIDTH,HEIGHT:the smallest text a diagram may show, in CSS px
sizes=${RENDER_SIZES:-laptop:1280,900:11 phone:400,860:9}

if ! command -v "$chromium" >/dev/null 2>&1; then
	echo "render-check: $chromium not found: install it (sudo make deps-render)" >&2
	exit 1
fi
mkdir -p "$out"
abs=$(cd "$book" && pwd)
absout=$(cd "$out" && pwd)
# Chromium wants a writable home and profile; keep them out of the user's.
profile=$(mktemp -d "${TMPDIR:-/tmp}/book-chromium.XXXXXX")
trap 'rm -rf "$profile"' EXIT

browse() {
	HOME=$profile timeout -k 5 60 "$chromium" --headless --no-sandbox --disable-gpu \
		--no-first-run --no-default-browser-check --disable-extensions \
		--user-data-dir="$profile/data" --hide-scrollbars "$@" 2>>"$out/chromium.log"
}

# The probe runs in a frame of the exact width: Chromium's headless
# window is never narrower than 500 px (its screenshots are, though).
cat >"$out/probe-frame.html" <<'FRAME'
<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>render-check</title></head>
<body style="margin:0"><iframe id="page" style="border:0;display:block"></iframe>
<script>
var params = new URLSearchParams(location.search);
var frame = document.getElementById('page');
frame.style.width = params.get('w') + 'px';
frame.style.height = params.get('h') + 'px';
window.addEventListener('message', function (e) {
  document.body.setAttribute('data-render-check', String(e.data));
});
frame.src = params.get('page');
</script></body></html>
FRAME

failed=0
fail() {
	echo "render-check: $*" >&2
	failed=1
}

for page in "$@"; do
	file=$abs/$page.html
	[ -f "$file" ] || { fail "no $file"; continue; }
	probe=$out/$page.probe.html
	sed -e "s|<head>|<head><base href=\"file://$abs/\">|" \
	    -e 's|</body>|<script src="'"file://$here/render-probe.js"'"></script></body>|' \
	    "$file" >"$probe"

	for size in $sizes; do
		name=${size%%:*} rest=${size#*:}
		window=${rest%%:*} min=${rest#*:}
		png=$out/$page.png
		[ "$name" = laptop ] || png=$out/$page-$name.png
		rm -f "$png"
		browse --window-size="$window" --screenshot="$png" "file://$file" >/dev/null
		if [ ! -s "$png" ]; then
			fail "Chromium made no screenshot of $page.html (see $out/chromium.log)"
		elif ! perl "$here/png-check.pl" "$png" >/dev/null; then
			fail "$page.html at $name width: the screenshot $png is blank"
		fi

		w=${window%,*} h=${window#*,}
		verdict=$(browse --window-size="$((w + 20)),$((h + 20))" --allow-file-access-from-files \
			--virtual-time-budget=5000 --dump-dom \
			"file://$absout/probe-frame.html?w=$w&h=$h&page=$page.probe.html%3Fwidth%3D$name%26min%3D$min" |
			sed -n 's/.*data-render-check="\([^"]*\)".*/\1/p')
		case $verdict in
		OK*)	echo "  $page.html: ${verdict#OK }" ;;
		"")	fail "$page.html at $name width: the probe never reported (page did not load?)" ;;
		*)	echo "$verdict" | tr ';' '\n' | sed -n 's/^ *//; /smallest text:/!s/^/render-check: '"$page"'.html: /p' >&2
			echo "$verdict" | sed -n 's/.*; smallest text: /  '"$page"'.html: '"$name"': smallest text: /p'
			failed=1 ;;
		esac
	done
done
exit $failed
