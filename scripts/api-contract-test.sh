#!/usr/bin/env bash
# The API's contract: schemathesis (from PyPI) generates requests from the daemon's own
# /openapi.json and checks every answer: no server error, status codes, content types and
# bodies as the document says, invalid input refused, the token enforced. (Not "every
# schema-valid request is accepted": a query must also parse, which no schema can say.) It runs
# against the real daemon on a temp home holding a few hundred Reuters articles and two saved
# queries, with a token set.
#
#   scripts/api-contract-test.sh            # MAX_EXAMPLES=40 per operation by default
#
# The SSE stream (/alerts/stream) never ends, so it is left to tests/api_e2e.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
shared=${SHARED:-$root/../shared}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/lookout
max_examples=${MAX_EXAMPLES:-40}

# schemathesis in its own virtualenv (python3-venv from Debian when it is missing).
venv=$cache/venv-schemathesis
if [ ! -x "$venv/bin/st" ]; then
  python3 -m venv "$venv" 2>/dev/null || {
    apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
    rm -rf "$venv" && python3 -m venv "$venv"
  }
  "$venv/bin/pip" install -q 'schemathesis>=4,<5'
fi
echo "schemathesis $("$venv/bin/st" --version | awk '{print $NF}')"

cargo build --release --locked --quiet
bin=$root/target/release/lookout

corpus=$cache/reuters
[ -d "$corpus/files" ] || python3 "$shared/corpus/reuters.py" "$corpus" >/dev/null

home=$(mktemp -d)
daemon=
cleanup() {
  [ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
  rm -rf "$home"
}
trap cleanup EXIT

token=contract-test-token
mkdir -p "$home/watch"
cat >"$home/config.toml" <<EOF
watch = "watch"
index = "index"
alert_log = "alerts.jsonl"
state_dir = "state"
commit_interval_ms = 200
queries_files = ["queries.tsv"]

[[queries]]
name = "oil"
query = 'crude AND "oil prices"'

[api]
listen = "127.0.0.1:0"
token = "$token"
max_body_bytes = 65536
EOF
printf 'wheat\twheat AND export*\n' >"$home/queries.tsv"
find "$corpus/files" -name '*.txt' | sort | sed -n '1,300p' | xargs cp -t "$home/watch"

"$bin" --config "$home/config.toml" run 2>"$home/daemon.log" &
daemon=$!
for _ in $(seq 100); do
  [ -s "$home/state/api.addr" ] && break
  sleep 0.1
done
addr=$(cat "$home/state/api.addr")
base=http://$addr
echo "daemon on $base"
# Wait for the articles to be searchable.
for _ in $(seq 100); do
  total=$(curl -sf -H "Authorization: Bearer $token" "$base/search?q=reuter&limit=0" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])' || echo 0)
  [ "$total" -ge 250 ] && break
  sleep 0.2
done
echo "documents indexed: $total"

status=0
"$venv/bin/st" run "$base/openapi.json" \
  --header "Authorization: Bearer $token" \
  --checks all --exclude-checks positive_data_acceptance \
  --exclude-path /alerts/stream \
  --phases examples,coverage,fuzzing \
  --max-examples "$max_examples" --seed 1 --generation-database none \
  --workers 2 \
  --request-timeout 30 \
  --suppress-health-check all \
  --no-color --output-truncate false || status=$?

if ! kill -0 "$daemon" 2>/dev/null; then
  echo "FAIL: the daemon died during the run" >&2
  tail -50 "$home/daemon.log" >&2
  exit 1
fi
if grep -q "panicked" "$home/daemon.log"; then
  echo "FAIL: the daemon panicked" >&2
  grep -B2 -A10 panicked "$home/daemon.log" >&2
  exit 1
fi
kill -TERM "$daemon"
wait "$daemon" || { echo "FAIL: the daemon did not stop cleanly" >&2; exit 1; }
daemon=
[ "$status" -eq 0 ] || { echo "FAIL: schemathesis found problems (above)" >&2; exit "$status"; }
echo "api contract: OK"
