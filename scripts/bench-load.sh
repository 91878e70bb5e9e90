#!/usr/bin/env bash
# Loading many saved queries: QUERIES generated queries (../shared/bench/gen_queries.py, seed 1;
# 1,000,000 by default) loaded by
#   - `lookout match` on one Reuters article (read, parse, plan, match, exit), wall and peak RSS
#     from /usr/bin/time -v;
#   - the daemon (`lookout run` on an empty index with the queries file): wall from the spawn to
#     its "lookout started" line (queries compiled and planned, API listening, folders
#     watched), and its peak RSS (VmHWM) then.
# RUNS runs of each, one after the other, so each row compares within one run. Targets on the
# 2-core machine (issue 10): at most 3 s and 1 GiB.
#
# usage: scripts/bench-load.sh   (env: QUERIES=1000000 RUNS=3 REUTERS_DIR=/tmp/reuters
#        LOOKOUT_BIN=target/release/lookout (built if missing; BUILD=1 rebuilds))
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/bench-common.sh"
shared=${LOOKOUT_SHARED:-$root/../shared}
[ -d "$shared/bench" ] || shared=/work/shared
corpus=${REUTERS_DIR:-/tmp/reuters}
cache=${BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lookout/bench}
n=${QUERIES:-1000000}
runs=${RUNS:-3}
lookout=${LOOKOUT_BIN:-$root/target/release/lookout}
work=$(mktemp -d "${TMPDIR:-/tmp}/lookout-bench-load.XXXXXX")
daemon_pid=""
cleanup() {
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ -d "$corpus/files" ] || python3 "$shared/corpus/reuters.py" "$corpus" >&2
bench_binary "$root" "$lookout"
mkdir -p "$cache" "$work/one"
q=$(bench_queries "$cache" "$shared" "$corpus/files" "$n")
cp "$(find "$corpus/files" -maxdepth 1 -name '*.txt' | sort | head -n 1)" "$work/one/"
port=$(free_port)

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "binary: $lookout (built $(date -u -r "$lookout" +%H:%M:%SZ)); tree $(git -C "$root" describe --always --dirty 2>/dev/null || echo "?")"
echo "queries: $(wc -l < "$q") ($(du -h "$q" | cut -f1)) from $q"
printf '%-4s %14s %14s %15s %15s\n' run match_wall_s match_rss_MiB daemon_start_s daemon_rss_MiB
for i in $(seq "$runs"); do
  /usr/bin/time -v "$lookout" --config "$work/none.toml" match --queries "$q" "$work/one" \
    > /dev/null 2> "$work/match.err" || [ $? = 1 ]
  read -r mwall mrss < <(python3 - "$work/match.err" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
h, m, s = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", text).groups()
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1)) / 1024
print(f"{int(h or 0) * 3600 + int(m) * 60 + float(s):.2f} {rss:.0f}")
PY
)
  home="$work/daemon-$i"; mkdir -p "$home/watch"
  printf 'watch = "watch"\nindex = "index"\nalert_log = "alerts.jsonl"\nqueries_files = ["%s"]\n[api]\nlisten = "127.0.0.1:%s"\n' \
    "$q" "$port" > "$home/config.toml"
  t0=$(date +%s.%N)
  RUST_LOG=info "$lookout" --config "$home/config.toml" run 2> "$home/log" > /dev/null &
  daemon_pid=$!
  for _ in $(seq 6000); do
    grep -q "lookout started" "$home/log" && break
    kill -0 "$daemon_pid" 2>/dev/null || { tail -5 "$home/log" >&2; exit 1; }
    sleep 0.01
  done
  t1=$(date +%s.%N)
  drss=$(awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$daemon_pid/status")
  kill "$daemon_pid"; wait "$daemon_pid" 2>/dev/null || true; daemon_pid=""
  rm -rf "$home"
  printf '%-4s %14s %14s %15.2f %15s\n' "$i" "$mwall" "$mrss" "$(echo "$t1 - $t0" | bc)" "$drss"
done
