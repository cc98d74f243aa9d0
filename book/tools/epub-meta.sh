#!/bin/sh
# epub-meta.sh EPUB META.xml: add the <meta> elements of META.xml (its
# comments left out) to the EPUB's package metadata, in place.
#
# Pandoc 2.17 writes title, language, identifier, date and rights itself,
# but no accessibility metadata (schema:accessMode ...), and its
# --epub-metadata takes Dublin Core elements only. So the EPUB is opened,
# its content.opf gets the lines before </metadata>, and it is zipped
# again as EPUB wants: "mimetype" first and stored uncompressed.
set -eu
epub=$1 meta=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/epub-meta.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

abs_epub=$(cd "$(dirname "$epub")" && pwd)/$(basename "$epub")
unzip -q "$epub" -d "$tmp/x"
opf=$tmp/x/EPUB/content.opf
[ -f "$opf" ] || { echo "epub-meta: no EPUB/content.opf in $epub" >&2; exit 1; }
[ "$(grep -c '</metadata>' "$opf")" = 1 ] ||
	{ echo "epub-meta: $opf has not exactly one </metadata>" >&2; exit 1; }
# The elements alone, one per line, indented like pandoc's.
perl -0ne 's/<!--.*?-->//gs; print "    $1\n" while /(<meta\b.*?<\/meta>)/gs' "$meta" >"$tmp/lines"
[ -s "$tmp/lines" ] || { echo "epub-meta: no <meta> elements in $meta" >&2; exit 1; }
perl -pi -e 'BEGIN { local $/; open(my $f, "<", shift) or die; $add = <$f> }
	s/^(\s*<\/metadata>)/$add$1/' "$tmp/lines" "$opf"
rm -f "$tmp/new.epub"
(cd "$tmp/x" && zip -q -X -0 "$tmp/new.epub" mimetype &&
	zip -q -X -r -9 -D "$tmp/new.epub" . -x mimetype)
mv "$tmp/new.epub" "$abs_epub"
