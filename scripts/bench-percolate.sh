#!/usr/bin/env bash
# Percolation benchmark on the Reuters corpus (../shared/corpus/reuters.py) with 1,000, 10,000 and
# 100,000 saved queries from ../shared/bench/gen_queries.py (seed 1). For each size it prints the
# query load time, memory, documents/s of the presearch engine (all articles) and of the brute
# engine (on a subset), their ratio, candidates vs matches per document, the always-check bucket,
# Lucene's brute force on the same subset, and the daemon's drop-to-alert latency (p50/p99 over
# DROPS write-then-rename drops). Single-threaded matching; one run measures ours and the baselines.
#
# Then the full-size differential check: all articles x 10,000 queries, lookout (presearch and
# brute) against Lucene (about 12 minutes of Lucene; FULL_DIFF=0 skips it).
#
# usage: scripts/bench-percolate.sh   (env: SIZES="1000 10000 100000" DROPS=200 FULL_DIFF=1)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/bench-common.sh"
shared=${LOOKOUT_SHARED:-$root/../shared}
corpus=${REUTERS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/lookout/reuters}
cache=${BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lookout/bench}
sizes=${SIZES:-1000 10000 100000}
drops=${DROPS:-200}
work=$(mktemp -d "${TMPDIR:-/tmp}/lookout-bench.XXXXXX")
trap 'pkill -f "$work/config.toml" 2>/dev/null || true; rm -rf "$work"' EXIT

[ -f "$corpus/reuters.jsonl" ] || python3 "$shared/corpus/reuters.py" "$corpus" >&2
mkdir -p "$cache"
docs="$corpus/files"
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
cargo bench --no-run --quiet --manifest-path "$root/Cargo.toml" --bench percolate 2>/dev/null
bench=$(ls -t "$root"/target/release/deps/percolate-* | grep -v '\.d$' | head -n 1)
lookout="$root/target/release/lookout"

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "corpus: $(ls "$docs" | wc -l) Reuters articles"
printf '%-8s %7s %9s %12s %10s %8s %8s %10s %10s %7s %12s %12s\n' \
  queries load_s rss_MiB presearch/s brute/s ratio lucene/s vs_lucene cand/doc match/doc always drop_p50/p99_ms
for n in $sizes; do
  q=$(bench_queries "$cache" "$shared" "$docs" "$n")
  # Brute force is slow with many queries: time it on a subset that takes a few seconds.
  subset=$(( n >= 100000 ? 50 : (n >= 10000 ? 400 : 3000) ))
  sub="$work/subset-$n"; mkdir -p "$sub"
  find "$docs" -maxdepth 1 -name '*.txt' | sort | awk -v k="$subset" 'NR <= k' | xargs cp -t "$sub"
  row=$("$bench" "$docs" "$q" --brute-docs "$subset")
  lucene=$("$shared/lucene-ref/run.sh" "$q" "$sub" 2>&1 >/dev/null | sed -n 's/.* = \([0-9.]*\) docs\/s/\1/p')
  latency=$(python3 "$root/scripts/drop_latency.py" "$lookout" "$docs" "$q" "$work/latency-$n" "$drops")
  python3 - "$row" "$lucene" "$latency" <<'PY'
import json, sys
r, lucene, lat = json.loads(sys.argv[1]), float(sys.argv[2] or "nan"), sys.argv[3]
print(f"{r['queries']:<8} {r['load_s']:7.2f} {r['peak_rss_mib']:9.0f} {r['presearch_docs_per_s']:12.0f} "
      f"{r['brute_docs_per_s']:10.1f} {r['ratio']:7.0f}x {lucene:8.1f} {r['presearch_docs_per_s']/lucene:9.0f}x "
      f"{r['candidates_per_doc']:10.1f} {r['matches_per_doc']:7.2f} {r['always_check']:12} {lat:>12}")
if r["differences_vs_brute"]:
    print(f"  !! {r['differences_vs_brute']} documents differ between presearch and brute force", file=sys.stderr)
    sys.exit(1)
PY
done

if [ "${FULL_DIFF:-1}" != 0 ]; then
  echo
  DOCS=all QUERIES=10000 SAMPLE=100 REUTERS_DIR="$corpus" "$root/scripts/check-vs-lucene.sh" 2>/dev/null | tail -n 1
fi
