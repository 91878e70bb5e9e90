#!/usr/bin/env bash
# The desk's web page in a real browser (Debian's chromium and chromium-driver, driven over
# WebDriver by Python's selenium): the token prompt, a search with highlighted hits, a query
# error at its column, the live feed (and its resumption after a restart), a saved query added
# with a dry run and a backfill and deleted, no console error or CSP violation, and two
# figures: the first view's time with DOCS articles indexed and the feed under FEED_RATE
# alerts/s. See scripts/browser_test.py. Installs nothing: .ci/run does.
#
# usage: scripts/browser-test.sh   (env: DOCS=20000 FEED_RATE=200 FEED_SECONDS=5 SCREENSHOTS=DIR
#        REUTERS_DIR=/tmp/reuters KEEP=1)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${LOOKOUT_SHARED:-$root/../shared}
[ -d "$shared/corpus" ] || shared=/work/shared
corpus=${REUTERS_DIR:-/tmp/reuters}
[ -d "$corpus/files" ] || python3 "$shared/corpus/reuters.py" "$corpus" >&2
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
exec timeout "${STEP_TIMEOUT:-900}" python3 "$root/scripts/browser_test.py" "$root/target/release/lookout" "$corpus/files"
