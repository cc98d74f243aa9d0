#!/bin/sh
# render-check.sh BOOK_DIR OUT_DIR PAGE...: look at the book as a reader
# would, in headless Chromium.
#
# For each PAGE (a name, e.g. "index" for BOOK_DIR/index.html):
#   - a screenshot at laptop size (OUT_DIR/PAGE.png) and at phone size
#     (OUT_DIR/PAGE-phone.png), each of which must not be blank
#     (png-check.pl);
#   - a probe: a copy of the page with a small script that, once the page
#     has loaded, records whether every image decoded and the stylesheet
#     applied; Chromium's --dump-dom shows the verdict.
# Exit 1 on the first page that fails, saying why.
set -u
book=$1 out=$2
shift 2
chromium=${CHROMIUM:-chromium}
here=$(cd "$(dirname "$0")" && pwd)

if ! command -v "$chromium" >/dev/null 2>&1; then
	echo "render-check: $chromium not found: install it (sudo make deps)" >&2
	exit 1
fi
mkdir -p "$out"
abs=$(cd "$book" && pwd)
# Chromium wants a writable home and profile; keep them out of the user's.
profile=$(mktemp -d "${TMPDIR:-/tmp}/book-chromium.XXXXXX")
trap 'rm -rf "$profile"' EXIT

browse() {
	HOME=$profile timeout -k 5 60 "$chromium" --headless --no-sandbox --disable-gpu \
		--no-first-run --no-default-browser-check --disable-extensions \
		--user-data-dir="$profile/data" --hide-scrollbars "$@" 2>>"$out/chromium.log"
}

for page in "$@"; do
	file=$abs/$page.html
	[ -f "$file" ] || { echo "render-check: no $file" >&2; exit 1; }

	for size in laptop:1100,1500 phone:390,844; do
		name=${size%%:*}
		png=$out/$page.png
		[ "$name" = phone ] && png=$out/$page-phone.png
		rm -f "$png"
		browse --window-size="${size#*:}" --screenshot="$png" "file://$file" >/dev/null
		if [ ! -s "$png" ]; then
			echo "render-check: Chromium made no screenshot of $page.html (see $out/chromium.log)" >&2
			exit 1
		fi
		perl "$here/png-check.pl" "$png" || exit 1
	done

	probe=$out/$page.probe.html
	sed -e "s|<head>|<head><base href=\"file://$abs/\">|" \
	    -e 's|</body>|<script src="'"file://$here/render-probe.js"'"></script></body>|' \
	    "$file" >"$probe"
	verdict=$(browse --virtual-time-budget=5000 --dump-dom "file://$(cd "$out" && pwd)/$page.probe.html" |
		sed -n 's/.*data-render-check="\([^"]*\)".*/\1/p')
	case $verdict in
	OK*)	echo "  $page.html: ${verdict#OK }" ;;
	"")	echo "render-check: $page.html: the probe never reported (page did not load?)" >&2
		exit 1 ;;
	*)	echo "render-check: $page.html: $verdict" >&2
		exit 1 ;;
	esac
done
