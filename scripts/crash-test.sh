#!/usr/bin/env bash
# Crash loop: drop Reuters articles into the watch folder while the daemon is killed with SIGKILL
# at random moments and restarted, then check that every article is indexed once, every alert
# that `lookout match` predicts is in the alert log exactly once, and every alert reached a test
# webhook (deduplicated by webhook-id) exactly once. Prints: files, kills, lost, duplicated
# alerts, raw redeliveries; exits 1 on any loss or duplicate.
#
# With COPY_EVERY=k (default 4), saved queries suppress duplicates and every k-th article gets
# an edited copy, dropped after the originals: each (query, content) still has exactly one
# record (an alert or a copy record), of an article and its copy at most one alerts, and every
# copy record points at an alert in the log (COPY_EVERY=0: no copies).
#
# usage: scripts/crash-test.sh   (env: FILES=2000 KILLS=30 QUERIES=300 SEED=1 COPY_EVERY=4)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${LOOKOUT_SHARED:-$root/../shared}
corpus=${REUTERS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/lookout/reuters}
[ -f "$corpus/reuters.jsonl" ] || python3 "$shared/corpus/reuters.py" "$corpus" >&2
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
exec python3 "$root/scripts/crash_test.py" "$root/target/release/lookout" "$corpus/files" "$shared/bench/gen_queries.py" \
  "${FILES:-2000}" "${KILLS:-30}" "${QUERIES:-300}" "${SEED:-1}" "${COPY_EVERY:-4}"
