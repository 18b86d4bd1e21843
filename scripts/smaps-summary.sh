#!/bin/bash
# Prints a process's resident memory split by kind of mapping, every INTERVAL seconds, COUNT
# times: total, [heap], anonymous (thread arenas, mmap'd allocations), [stack], file-backed (the
# binary and its libraries), and the thread count. Linux only (reads /proc/PID/smaps). Used to
# find what grows in an idle agent (docs/benchmarks.md, "Agent daemon idle").
#
# usage: scripts/smaps-summary.sh PID [INTERVAL] [COUNT]
set -eu
pid=$1
every=${2:-15}
count=${3:-40}
for _ in $(seq 1 "$count"); do
  awk -v t="$(date -u +%H:%M:%S)" '
    /^[0-9a-f]+-[0-9a-f]+ / { name = $6; if (name == "") name = "[anon]"; next }
    /^Rss:/ { rss[name] += $2; total += $2 }
    END {
      files = 0
      for (k in rss) if (k != "[heap]" && k != "[anon]" && k != "[stack]") files += rss[k]
      printf "%s rss_kb=%d heap=%d anon=%d stack=%d files=%d", t, total, rss["[heap]"], rss["[anon]"], rss["[stack]"], files
    }' "/proc/$pid/smaps"
  awk '/^Threads:/ { printf " threads=%s\n", $2 }' "/proc/$pid/status"
  sleep "$every"
done
