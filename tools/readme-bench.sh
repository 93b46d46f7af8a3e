#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Regenerates the README's end-to-end benchmark figures from committed result
# directories, between the lines
#   <!-- e2e-bench:begin (tools/readme-bench.sh) -->
#   <!-- e2e-bench:end -->
# of README.md (nothing outside them changes):
#   tools/readme-bench.sh bench/results/RUN [bench/results/RUN2 ...]
# Each RUN holds e2e.json and, if it was made, e2e-bounded.json and e2e.png
# (tools/bench.sh writes them); the machine and the commit come from the
# JSON's context, the command from RUN/README.md's "command:" line. The
# figures are tools/e2e-table.sh's (targets and bounded resources); the full
# latency tables stay in RUN/e2e-summary.md. Needs jq.
set -euo pipefail

[ $# -ge 1 ] || { sed -n '3,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
readme=$root/README.md
begin='<!-- e2e-bench:begin (tools/readme-bench.sh) -->'
end='<!-- e2e-bench:end -->'
grep -qxF "$begin" "$readme" && grep -qxF "$end" "$readme" ||
  { echo "readme-bench: README.md lacks the marker lines '$begin' and '$end'" >&2; exit 1; }

section=$(mktemp)
trap 'rm -f "$section" "$section.new"' EXIT
for dir in "$@"; do
  dir=$(cd "$dir" && pwd)
  rel=${dir#"$root"/}
  [ -r "$dir/e2e.json" ] || { echo "readme-bench: no $rel/e2e.json" >&2; exit 1; }
  bounded=()
  [ -r "$dir/e2e-bounded.json" ] && bounded=("$dir/e2e-bounded.json")
  cmd=$(sed -n 's/^- *command: *//p' "$dir/README.md" 2>/dev/null | head -n1)
  {
    notes=""
    [ -r "$dir/README.md" ] && notes="$rel/README.md"
    jq -r --arg rel "$rel" --arg cmd "${cmd:-not recorded}" --arg notes "$notes" '.context as $c |
      "### \($c.gpu_name // "?" | if . == "none" then "host backend (no GPU)" else . end): \($c.host_name // "?"), \($c.cpu_model // "?"), \($c.num_cpus // "?") CPUs",
      "",
      "From [`\($rel)/`](\($rel)/e2e-summary.md): commit `\($c.git_commit // "?")`, \($c.date // "?"), evpool backend \($c.evpool_backend // "?"), NVIDIA driver \($c.nvidia_driver // "?"), CUDA runtime \($c.cuda_runtime // "?"); command `\($cmd)`. The full latency tables are in `e2e-summary.md` there\(if $notes == "" then "" else "; notes on the run, and what bounds evpool on it: [`README.md`](\($notes))" end).",
      ""' "$dir/e2e.json"
    [ -r "$dir/e2e.png" ] && printf '![evpool-e2e, %s](%s/e2e.png)\n\n' "$rel" "$rel"
    "$root/tools/e2e-table.sh" "$dir/e2e.json" "${bounded[@]}" |
      awk '/^## / { keep = ($0 ~ /^## (Targets|Steps|Bounded)/); if (keep) sub(/^## /, "#### ") } keep'
  } >>"$section"
done

awk -v begin="$begin" -v end="$end" -v file="$section" '
  $0 == begin { print; while ((getline line < file) > 0) print line; skip = 1; next }
  $0 == end { skip = 0 }
  !skip' "$readme" >"$section.new"
cat "$section.new" >"$readme"
echo "readme-bench: README.md updated from $*" >&2
