#!/usr/bin/env bash
# Near-duplicate detection, measured: a labelled set built from real Reuters articles
# (../shared/corpus/reuters.py): STORIES stories with COPIES copies each, edited the way wire
# copies are (headline rewritten, a paragraph dropped or added, a byline or boilerplate line, a
# few words changed, HTML instead of text), and DISTINCT other articles on the same topics,
# ingested by the real binary with `duplicates = "suppress"` and QUERIES generated saved queries
# (../shared/bench/gen_queries.py). Prints recall (copies that became copy records of their
# story) and the false-merge rate (other articles taken as copies), and fails when they miss
# the targets: recall at least 95%, false merges at most 0.5% (see scripts/dedup_eval.py).
#
# The cost in throughput is measured by scripts/bench-daemon.sh (every article is
# fingerprinted, whatever the mode); see the README.
#
# usage: scripts/dedup-eval.sh   (env: STORIES=400 COPIES=3 DISTINCT=1200 QUERIES=2000 SEED=1
#        THRESHOLD= (the default 0.5) REUTERS_DIR=/tmp/reuters LOOKOUT_BIN=... BUILD=1)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/bench-common.sh"
shared=${LOOKOUT_SHARED:-$root/../shared}
[ -d "$shared/bench" ] || shared=/work/shared
corpus=${REUTERS_DIR:-/tmp/reuters}
cache=${BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lookout/bench}
lookout=${LOOKOUT_BIN:-$root/target/release/lookout}
work=$(mktemp -d "${TMPDIR:-/tmp}/lookout-dedup-eval.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

[ -f "$corpus/reuters.jsonl" ] || python3 "$shared/corpus/reuters.py" "$corpus" >&2
bench_binary "$root" "$lookout"
q=$(bench_queries "$cache" "$shared" "$corpus/files" "${QUERIES:-2000}")
extra=()
[ -n "${THRESHOLD:-}" ] && extra=(--threshold "$THRESHOLD")
result=$(timeout 900 python3 "$root/scripts/dedup_eval.py" "$lookout" "$corpus/reuters.jsonl" "$q" "$work" \
  --stories "${STORIES:-400}" --copies "${COPIES:-3}" --distinct "${DISTINCT:-1200}" --seed "${SEED:-1}" "${extra[@]}")
echo "$result"
python3 - "$result" <<'EOF'
import json, sys
r = json.loads(sys.argv[1])
print(f"stories {r['stories']}, copies {r['copies']}, distinct articles {r['distinct_articles']}, "
      f"{r['records']} alert and copy records, ingested in {r['ingest_s']} s")
print(f"recall: {r['recall']:.2%} of {r['copy_records_due']} copy records due "
      f"(target >= 95%); missed by edit: {r['missed_copies_by_edit']}")
print(f"false merges: {r['false_merge_rate']:.2%} of {r['distinct_records']} records of distinct "
      f"articles ({r['articles_falsely_merged']} of {r['articles_distinct_with_records']} articles; target <= 0.5%)")
print(f"copies suppressed as a copy of another story: {r['copy_records_to_another_story']} (counted as misses)")
ok = r["recall"] >= 0.95 and r["false_merge_rate"] <= 0.005
sys.exit(0 if ok else 1)
EOF
