#!/usr/bin/env bash
# CPU, peak RSS and instruction count of one `muster-agent scan` of a machine image: RUNS runs
# under GNU time (CPU = user + sys, 10 ms resolution; peak RSS = the scan process's own
# maximum resident set), then one run under callgrind (instructions: stable on a busy machine).
# Used for the scan-cost figures in docs/benchmarks.md (issue 16 item 6). It does not build
# anything or write images; make them with the scan benchmark:
#
#   cargo build --release -p muster-agent
#   cargo bench -p muster-agent --bench scan -- --write-image /tmp/img                      # base
#   cargo bench -p muster-agent --bench scan -- --write-image /tmp/img5 --claude-json-mb 5  # + 5 MB
#   scripts/bench-scan-cost.sh target/release/muster-agent /tmp/img5 [RUNS]    (default 30)
#
# Needs GNU time and valgrind (Debian packages `time`, `valgrind`).
set -euo pipefail
agent=$1
image=$2
runs=${3:-30}
scan=("$agent" scan --offline --os linux --format json --root "$image")

out=$(mktemp /tmp/scan-cost.XXXXXX)
trap 'rm -f "$out" "$out".cg' EXIT
"${scan[@]}" >/dev/null # warm the page cache
for _ in $(seq 1 "$runs"); do
  /usr/bin/time -f '%U %S %M' -a -o "$out" "${scan[@]}" >/dev/null
done
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
cpu=$(awk '{ printf "%d\n", ($1 + $2) * 1000 + 0.5 }' "$out" | median)
rss=$(awk '{ print $3 }' "$out" | median)
rss_max=$(awk '{ print $3 }' "$out" | sort -n | tail -1)
valgrind --tool=callgrind --callgrind-out-file="$out".cg "${scan[@]}" >/dev/null 2>"$out".log || true
instr=$(awk '/^summary:/ { print $2 }' "$out".cg)
rm -f "$out".log
printf 'image %s, %s runs\n' "$image" "$runs"
printf '  CPU (user+sys) median %s ms\n' "$cpu"
printf '  peak RSS median %.1f MB, max %.1f MB\n' "$(echo "$rss / 1024" | bc -l)" "$(echo "$rss_max / 1024" | bc -l)"
printf '  instructions (callgrind) %s\n' "$instr"
