# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
# Shared by tools/plot-bench.sh and tools/plot-e2e.sh (sourced, not run).

# gp_lines COLUMN NAME FILE [NAME FILE ...]: prints one gnuplot `plot`
# command with a line per non-empty FILE (column 1 against COLUMN, which may
# be a gnuplot expression such as '($2 > 0 ? $2 : 1)'), titled NAME, in
# line type = its position in the list (the same colour in every panel);
# "no data" when no FILE has any.
gp_lines() {
  local col=$1 n=0 first=1
  shift
  printf 'plot '
  while [ $# -ge 2 ]; do
    n=$((n + 1))
    if [ -s "$2" ]; then
      [ $first -eq 1 ] || printf ', \\\n     '
      first=0
      printf '"%s" using 1:%s with linespoints lt %d lw 2 pt 7 ps 1 title "%s"' "$2" "$col" "$n" "$1"
    fi
    shift 2
  done
  [ $first -eq 0 ] || printf '[1:2] [1:10] 5 lc rgb "white" title "no data"'
  printf '\n'
}
