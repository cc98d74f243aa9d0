#!/usr/bin/env bash
# bench/bench.sh: make bench. Runs ./step13 (on this machine's KVM, or in
# the lab when it has no usable one: lab/auto decides), shows its progress
# as it goes, and writes what it measured into one folder:
#
#   bench.txt   the table, as the step prints it
#   bench.csv   the same figures as CSV (./step13 --csv)
#   bench.svg   a chart of them (gnuplot, bench/chart.gp)
#
#   bench/bench.sh [--out DIR] [STEP13 OPTIONS...]    (DIR: build/bench)
#
# In the lab the step's standard error reaches us mixed with its output:
# its progress lines ("step13: [3/12] ...") are told apart and shown on
# our standard error, as they come. Exit status: the step's (0, 1, 2, 77);
# 2 for a chart gnuplot could not draw.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

out=build/bench
if [ "${1:-}" = --out ]; then
	[ $# -ge 2 ] || { echo "bench.sh: --out needs a folder" >&2; exit 2; }
	out=$2
	shift 2
fi
mkdir -p "$out"
command -v gnuplot >/dev/null ||
	{ echo "bench.sh: gnuplot is not installed: make deps installs it (gnuplot-nox)" >&2; exit 2; }

# The step's words, each quoted for bash -c.
args=
for arg in "$@"; do
	args="$args $(printf '%q' "$arg")"
done

# Run it; lines go to the table and CSV (stdout) or are progress (stderr).
status=0
lab/auto cmd "./step13$args --csv -" | while IFS= read -r line; do
	if [[ $line =~ ^step13:\ \[[0-9]+/[0-9]+\] ]]; then
		printf '%s\n' "$line" >&2
	else
		printf '%s\n' "$line"
	fi
done >"$out/run.out" || status=$?
if [ "$status" != 0 ]; then
	cat "$out/run.out" >&2
	echo "bench.sh: ./step13 failed (status $status): no figures written" >&2
	exit "$status"
fi

# Split the output: the table, then the CSV from its header line on.
sed '/^figure,by,/,$d' "$out/run.out" >"$out/bench.txt"
sed -n '/^figure,by,/,$p' "$out/run.out" >"$out/bench.csv"
rm -f "$out/run.out"
[ -s "$out/bench.csv" ] || { echo "bench.sh: ./step13 printed no CSV" >&2; exit 2; }

# The chart, titled with the machine the table's first line names.
machine=$(sed -n '1s/^step13: KVM: //p' "$out/bench.txt")
gnuplot -e "csv='$out/bench.csv'; svg='$out/bench.svg'; machine='${machine//\'/}'" bench/chart.gp ||
	{ echo "bench.sh: gnuplot could not draw $out/bench.svg" >&2; exit 2; }
cat "$out/bench.txt"
echo "bench: the table in $out/bench.txt, the figures in $out/bench.csv, the chart in $out/bench.svg"
