#!/usr/bin/env bash
# Burst: 20,000 Reuters articles copied into the watch folder at once, with the kernel's inotify
# queue lowered to 64 events where this machine lets us (root), so the watcher overflows and must
# rescan. Every file must be processed. Prints: files, processed, indexed, lost, overflow seen.
#
# usage: scripts/burst-test.sh   (env: FILES=20000 QUEUE=64)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${LOOKOUT_SHARED:-$root/../shared}
corpus=${REUTERS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/lookout/reuters}
files=${FILES:-20000}
queue=${QUEUE:-64}
[ -f "$corpus/reuters.jsonl" ] || python3 "$shared/corpus/reuters.py" "$corpus" >&2
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
lookout="$root/target/release/lookout"
work=$(mktemp -d "${TMPDIR:-/tmp}/lookout-burst.XXXXXX")
knob=/proc/sys/fs/inotify/max_queued_events
saved=$(cat "$knob" 2>/dev/null || echo "")
cleanup() {
  [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  [ -n "$saved" ] && [ -w "$knob" ] && echo "$saved" > "$knob" || true
  rm -rf "$work"
}
trap cleanup EXIT
lowered=no
if [ -w "$knob" ] && echo "$queue" > "$knob" 2>/dev/null; then lowered="yes ($queue events)"; fi

mkdir -p "$work/watch" "$work/source"
find "$corpus/files" -maxdepth 1 -name '*.txt' | sort | awk -v n="$files" 'NR <= n' | xargs cp -t "$work/source"
printf 'watch = "watch"\nindex = "index"\nalert_log = "alerts.jsonl"\n[[queries]]\nname = "oil"\nquery = "oil"\n' > "$work/config.toml"
RUST_LOG=info,lookout::watcher=debug "$lookout" --config "$work/config.toml" run 2> "$work/daemon.log" &
pid=$!
for _ in $(seq 100); do grep -q "lookout started" "$work/daemon.log" && break; sleep 0.1; done
# Restore the knob at once: the watcher's inotify instance already has the small queue.
[ -n "$saved" ] && [ -w "$knob" ] && echo "$saved" > "$knob" || true

started=$(date +%s.%N)
find "$work/source" -name '*.txt' -print0 | xargs -0 cp -t "$work/watch"
distinct=$(python3 -c 'import os,sys; d=sys.argv[1]; print(len({" ".join(open(os.path.join(d,f),encoding="utf-8",errors="replace").read().split()) for f in os.listdir(d)}))' "$work/source")
processed=0
for _ in $(seq 600); do
  processed=$("$lookout" --config "$work/config.toml" status --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["files"])' || echo 0)
  [ "$processed" -ge "$files" ] && break
  sleep 0.5
done
elapsed=$(python3 -c "import time; print(f'{time.time() - $started:.1f}')")
sleep 1.5
indexed=$("$lookout" --config "$work/config.toml" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["documents"])')
overflow=$(grep -c "file events were lost" "$work/daemon.log" || true)
lost=$(( files - processed ))
echo "burst-test: files $files, processed $processed in ${elapsed}s, indexed $indexed of $distinct distinct, lost $lost; inotify queue lowered: $lowered; overflows (rescans): $overflow"
[ "$lost" -eq 0 ] && [ "$indexed" -eq "$distinct" ]
