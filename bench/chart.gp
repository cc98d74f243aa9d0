# bench/chart.gp: the chart of make bench, from ./step13's CSV.
#
#   gnuplot -e "csv='bench.csv'; svg='bench.svg'; machine='kvm_amd; ...'" bench/chart.gp
#
# Two panels. Above, each kind of exit: the median time of one (ns), ours
# with its quartiles as an error bar, and beside it the bare loop's (the
# same ioctl, nothing else). Below, creating a VM, a vCPU and memory
# slots (µs). The CSV's rows: 1-7 the exits, 8-12 the creations.
# 440 wide: on a phone the book shows it at about 360 px, and its text
# must stay readable there (make book-render-check).
set terminal svg size 440,780 dynamic font "sans,12" background rgb "white"
set output svg
set datafile separator ","
set multiplot layout 2,1 title "What KVM costs, on\n".machine font "sans,12" noenhanced

set style data histogram
set style histogram errorbars gap 2 lw 1
set style fill solid 0.8 border rgb "black"
set boxwidth 0.9
set grid ytics
set key top center horizontal samplen 2
set yrange [0:*]
set offsets 0, 0, graph 0.15, 0
set xtics rotate by 40 right nomirror noenhanced scale 0  # no tic marks: beside a low bar one looks like its error bar
set ylabel "ns per exit (median)"
set title "Exits: ours (quartiles as bars),\nand the bare loop"
plot csv every ::1::7 using 4:5:6:xtic(1) title "ours" lc rgb "#3b6ea5", \
     '' every ::1::7 using 10:10:10 title "bare loop" lc rgb "#c9c9c9"

set style histogram errorbars gap 2 lw 1
set ylabel "µs (median)"
set title "Creating a VM, a vCPU, memory slots"
set key off
plot csv every ::8::12 using ($4/1000):($5/1000):($6/1000):xtic(1) lc rgb "#a5623b"
unset multiplot
