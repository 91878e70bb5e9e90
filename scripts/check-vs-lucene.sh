#!/usr/bin/env bash
# Differential check against Apache Lucene (../shared/lucene-ref): on the first DOCS Reuters
# articles with QUERIES generated saved queries, `lookout match` must print exactly the
# (query, file) pairs Lucene prints, and `lookout search` must return exactly Lucene's files for
# a sample of SAMPLE of those queries. Prints one summary line; exits 1 on any difference.
#
# Both percolation engines (presearch, brute) are checked.
#
# usage: scripts/check-vs-lucene.sh   (env: DOCS=2000 QUERIES=1000 SAMPLE=100 SEED=1;
#                                      DOCS=all for the whole corpus)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${LOOKOUT_SHARED:-$root/../shared}
docs_n=${DOCS:-2000}
[ "$docs_n" = all ] && docs_n=1000000000
queries_n=${QUERIES:-1000}
sample_n=${SAMPLE:-100}
seed=${SEED:-1}
corpus=${REUTERS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/lookout/reuters}
work=$(mktemp -d "${TMPDIR:-/tmp}/lookout-vs-lucene.XXXXXX")
trap 'rm -rf "$work"' EXIT

[ -f "$corpus/reuters.jsonl" ] || python3 "$shared/corpus/reuters.py" "$corpus" >&2
mkdir -p "$work/docs"
find "$corpus/files" -maxdepth 1 -name '*.txt' | sort | awk -v n="$docs_n" 'NR <= n' | xargs cp -t "$work/docs"
python3 "$shared/bench/gen_queries.py" "$work/docs" "$queries_n" --seed "$seed" > "$work/queries.tsv"

cargo build --release --quiet --manifest-path "$root/Cargo.toml"
lookout="$root/target/release/lookout"

"$shared/lucene-ref/run.sh" "$work/queries.tsv" "$work/docs" 2> "$work/lucene.err" | sort > "$work/lucene.tsv"
for engine in presearch brute; do
  "$lookout" match --engine "$engine" --queries "$work/queries.tsv" "$work/docs" | sort > "$work/lookout-$engine.tsv"
done

# Search: index the same files, then run a sample of the queries through `lookout search`.
cat > "$work/config.toml" <<TOML
watch = "watch"
index = "index"
alert_log = "alerts.jsonl"
TOML
"$lookout" --config "$work/config.toml" ingest "$work/docs" 2> "$work/ingest.err" \
  || { cat "$work/ingest.err" >&2; exit 1; }
python3 - "$work" "$lookout" "$sample_n" <<'PY'
import collections, json, os, subprocess, sys
work, lookout, sample_n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def pairs(name):
    # `lookout match` prints paths as given (docs/x.txt), Lucene's reference base names.
    with open(os.path.join(work, name)) as f:
        return {(q, os.path.basename(p)) for q, p in (line.rstrip("\n").split("\t", 1) for line in f if line.strip())}
lucene, ours, brute = pairs("lucene.tsv"), pairs("lookout-presearch.tsv"), pairs("lookout-brute.tsv")
queries = [line.rstrip("\n").split("\t", 1) for line in open(os.path.join(work, "queries.tsv")) if line.strip()]
step = max(1, len(queries) // sample_n)
sampled = queries[::step][:sample_n]
# lookout keeps one document per content: files with the same text are one search hit (under
# the first path), so search is compared by content, not by file name.
docs_dir = os.path.join(work, "docs")
content_of = {}
for file in os.listdir(docs_dir):
    with open(os.path.join(docs_dir, file), encoding="utf-8", errors="replace") as f:
        content_of[file] = " ".join(f.read().split())
duplicates = len(content_of) - len(set(content_of.values()))
by_query = collections.defaultdict(set)
for name, file in lucene:
    by_query[name].add(content_of[file])
search_diffs = 0
for name, text in sampled:
    run = subprocess.run([lookout, "--config", os.path.join(work, "config.toml"), "search", "--json",
                          "--limit", "1000000", text], capture_output=True, text=True)
    if run.returncode not in (0, 1):  # grep's convention: 1 is "no hit"
        sys.exit(f"search failed for {name} {text!r}: {run.stderr}")
    out = run.stdout
    got = {content_of[os.path.basename(json.loads(line)["path"])] for line in out.splitlines() if line.strip()}
    if got != by_query[name]:
        search_diffs += 1
        print(f"search differs for {name} {text!r}: only lookout {len(got - by_query[name])} documents, "
              f"only lucene {len(by_query[name] - got)}", file=sys.stderr)
only_ours, only_lucene = sorted(ours - lucene), sorted(lucene - ours)
for pair in only_ours[:20]:
    print("only lookout:", *pair, file=sys.stderr)
for pair in only_lucene[:20]:
    print("only lucene: ", *pair, file=sys.stderr)
docs = len(os.listdir(os.path.join(work, "docs")))
brute_diffs = len(brute ^ lucene)
print(f"check-vs-lucene: {docs} docs x {len(queries)} queries: lucene {len(lucene)} matches, lookout {len(ours)}, "
      f"differences {len(only_ours) + len(only_lucene)} (only lookout {len(only_ours)}, only lucene {len(only_lucene)}); "
      f"brute engine differences {brute_diffs}; "
      f"search sample {len(sampled)} queries ({duplicates} duplicate files are one document), differences {search_diffs}")
sys.exit(1 if only_ours or only_lucene or brute_diffs or search_diffs else 0)
PY
