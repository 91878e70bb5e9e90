#!/usr/bin/env bash
# The real daemon end to end: an empty index, N saved queries from ../shared/bench/gen_queries.py
# (seed 1), and FILES Reuters articles (the first, sorted by name) copied beside the watch folder
# and renamed into it at once. For each N it prints the daemon's files/s and alerts/s from the
# first rename until every file is processed and committed (the ledger's count of files in
# `GET /status`, written after the index commit and the alert log's fsync; see
# scripts/bench_daemon.py), its peak RSS (VmHWM), and in the same run the matching-only rate of
# Apache Lucene Monitor (../shared/lucene-monitor/run.sh, one article at a time, the same queries;
# Monitor matches about 10 articles/s at 10,000 queries here, so it gets the first
# MONITOR_WORK/N of the same articles, 500 at 10,000 queries and 50 at 100,000, after an
# untimed warm-up on a fifth of them) and of `lookout match` (the whole process on all the
# articles, minus the same process on one article: its load).
# Then, at LATENCY_QUERIES queries in the same daemon: drop-to-alert p50/p99 of DROPS articles
# renamed in one at a time while a background feeder renames other articles in at BUSY_RATE
# files/s (the daemon busy), and the rate the daemon kept up meanwhile.
# Last, the cost of finding copies: the drop at the first size with and without it, alternating.
#
# Uses target/release/lookout (built if missing; BUILD=1 rebuilds it first), or LOOKOUT_BIN. Every step is
# bounded (STEP_TIMEOUT seconds); the daemon and the temp folder are removed at exit.
#
# usage: scripts/bench-daemon.sh   (env: SIZES="10000 100000" FILES=5000 DROPS=200 BUSY_RATE=500
#        LATENCY_QUERIES=10000 MONITOR_WORK=5000000 STEP_TIMEOUT=900
#        COPIES_PAIRS=3 (0 skips the copies' cost), MONITOR=0 and LATENCY=0 skip those parts, for quick re-measurements REUTERS_DIR=/tmp/reuters)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/bench-common.sh"
shared=${LOOKOUT_SHARED:-$root/../shared}
[ -d "$shared/bench" ] || shared=/work/shared
corpus=${REUTERS_DIR:-/tmp/reuters}
cache=${BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lookout/bench}
sizes=${SIZES:-10000 100000}
files=${FILES:-5000}
drops=${DROPS:-200}
busy_rate=${BUSY_RATE:-500}
latency_queries=${LATENCY_QUERIES:-10000}
monitor_work=${MONITOR_WORK:-5000000}
step_timeout=${STEP_TIMEOUT:-900}
lookout=${LOOKOUT_BIN:-$root/target/release/lookout}
work=$(mktemp -d "${TMPDIR:-/tmp}/lookout-bench-daemon.XXXXXX")
cleanup() {
  # bench_daemon.py stops its daemon itself; this stops one left by an interrupted run.
  local f
  for f in "$work"/daemon-*/daemon.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ -d "$corpus/files" ] || python3 "$shared/corpus/reuters.py" "$corpus" >&2
bench_binary "$root" "$lookout"
mkdir -p "$cache" "$work/drop" "$work/busy" "$work/pick" "$work/one"
# The drop: the first FILES articles; the background of the latency part: the next 10,000;
# the timed latency drops are picked from the 2,000 after those.
# Hard links where the corpus is on the same filesystem (these are only read; what the daemon
# gets is copied again by bench_daemon.py), else copies.
take() { xargs cp -l -t "$1" 2>/dev/null < "$2" || xargs cp -f -t "$1" < "$2"; }
find "$corpus/files" -maxdepth 1 -name '*.txt' | sort > "$work/all"
awk -v n="$files" 'NR <= n' "$work/all" > "$work/list"; take "$work/drop" "$work/list"
awk -v n="$files" 'NR > n && NR <= n + 10000' "$work/all" > "$work/list"; take "$work/busy" "$work/list"
awk -v n="$files" 'NR > n + 10000 && NR <= n + 12000' "$work/all" > "$work/list"; take "$work/pick" "$work/list"
head -n 1 "$work/all" > "$work/list"; take "$work/one" "$work/list"
port=$(free_port)

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "binary: $lookout (built $(date -u -r "$lookout" +%H:%M:%SZ)); tree $(git -C "$root" describe --always --dirty 2>/dev/null || echo "?")"
echo "drop: $files Reuters articles renamed into watch/ at once, empty index; done = every file in the ledger (committed)"
printf '%-8s %12s %13s %10s %11s %13s %14s %11s\n' \
  queries daemon_files/s daemon_alerts/s peak_rss_MiB monitor/s daemon/monitor match_docs/s match/monitor
latency_row=""
for n in $sizes; do
  q=$(bench_queries "$cache" "$shared" "$corpus/files" "$n")
  run="$work/daemon-$n"; mkdir -p "$run"
  extra=()
  [ "$n" = "$latency_queries" ] && [ "${LATENCY:-1}" != 0 ] && extra=(--latency "$work/busy" "$work/pick" "$drops" "$busy_rate")
  daemon=$(timeout "$step_timeout" python3 "$root/scripts/bench_daemon.py" "$lookout" "$q" "$work/drop" "$run" "$port" "${extra[@]}")
  rm -rf "$run"
  mdocs=$(( monitor_work / n < files ? monitor_work / n : files ))
  rm -rf "$work/monitor"; mkdir -p "$work/monitor"
  find "$work/drop" -name '*.txt' | sort | awk -v k="$mdocs" 'NR <= k' > "$work/list"; take "$work/monitor" "$work/list"
  monitor=nan
  [ "${MONITOR:-1}" = 0 ] || monitor=$(timeout "$step_timeout" "$shared/lucene-monitor/run.sh" "$q" "$work/monitor" --warmup $(( mdocs / 5 )) 2>&1 >/dev/null |
    sed -n 's/^monitor: .* \([0-9.]*\) docs\/s.*/\1/p')
  t0=$(date +%s.%N)
  timeout "$step_timeout" "$lookout" match --queries "$q" "$work/drop" > /dev/null || [ $? -eq 1 ]
  t1=$(date +%s.%N)
  timeout "$step_timeout" "$lookout" match --queries "$q" "$work/one" > /dev/null || [ $? -eq 1 ]
  t2=$(date +%s.%N)
  python3 - "$n" "$daemon" "${monitor:-nan}" "$files" "$t0" "$t1" "$t2" "$mdocs" <<'PY'
import json, sys
n, d, monitor, files = sys.argv[1], json.loads(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
t0, t1, t2 = map(float, sys.argv[5:8])
mdocs = sys.argv[8]
match = files / max((t1 - t0) - (t2 - t1), 1e-9)
print(f"{int(n):<8} {d['files_per_s']:14.0f} {d['alerts_per_s']:15.0f} {d['peak_rss_mib']:12} {monitor:11.1f} "
      f"{d['files_per_s'] / monitor:13.1f}x {match:14.0f} {match / monitor:12.1f}x")
print(f"         ({d['files']} files, {d['alerts']} alerts, {d['documents']} documents; renames {d['rename_s']} s, "
      f"all processed {d['processed_s']} s, committed {d['committed_s']} s; match {t1 - t0:.2f} s, its load {t2 - t1:.2f} s; Monitor on {mdocs} of the articles)")
threads = ", ".join(f"{k} {v}" for k, v in d["cpu_by_thread_s"].items())
print(f"         (daemon CPU {d['cpu_s']} s: {threads})")
PY
  if [ ${#extra[@]} -gt 0 ]; then
    latency_row=$(python3 - "$daemon" "$n" "$busy_rate" <<'PY'
import json, sys
d, n, rate = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
print(f"drop-to-alert at {n} queries, busy: p50 {d['latency_p50_ms']:.1f} ms, p99 {d['latency_p99_ms']:.1f} ms, "
      f"max {d['latency_max_ms']:.1f} ms over {d['latency_drops']} drops; background {rate} files/s offered, "
      f"{d['busy_files_per_s']:.0f} files/s processed")
PY
)
  fi
done
[ -z "$latency_row" ] || echo "$latency_row"

# The cost of finding copies (near-duplicates): at the first size, the same binary and drop with
# `[duplicates] window = 0` (no fingerprints, no story lookup, no stories rows in the ledger) and
# with the default window, alternating COPIES_PAIRS times (in one run, so the ratio stands on
# this noisy machine); the median of the pairs' ratios.
pairs=${COPIES_PAIRS:-3}
if [ "$pairs" -gt 0 ]; then
  n=${sizes%% *}
  q=$(bench_queries "$cache" "$shared" "$corpus/files" "$n")
  ratios=()
  for i in $(seq 1 "$pairs"); do
    for mode in off on; do
      run="$work/copies-$mode"; rm -rf "$run"; mkdir -p "$run"
      extra_config=""; [ "$mode" = off ] && extra_config=$'[duplicates]\nwindow = 0'
      out=$(BENCH_EXTRA_CONFIG="$extra_config" timeout "$step_timeout" python3 "$root/scripts/bench_daemon.py" "$lookout" "$q" "$work/drop" "$run" "$port")
      rm -rf "$run"
      eval "rate_$mode=$(python3 -c 'import json,sys; print(round(json.loads(sys.argv[1])["files_per_s"]))' "$out")"
    done
    ratio=$(python3 -c "print(f'{$rate_on / $rate_off:.3f}')")
    ratios+=("$ratio")
    echo "copies cost, pair $i at $n queries: without $rate_off files/s, with $rate_on files/s, ratio $ratio"
  done
  python3 - "${ratios[@]}" <<'PY'
import statistics, sys
r = sorted(map(float, sys.argv[1:]))
m = statistics.median(r)
print(f"copies cost: finding copies keeps {m:.1%} of the throughput (median of {len(r)} pairs; {', '.join(f'{x:.3f}' for x in r)}); cost {1 - m:.1%}")
PY
fi
