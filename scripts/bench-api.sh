#!/usr/bin/env bash
# HTTP API benchmark: wrk (Debian's) against GET /search on the Reuters corpus
# (../shared/corpus/reuters.py) while the daemon keeps ingesting and alerting.
#
# The daemon runs with 1,000 saved queries from ../shared/bench/gen_queries.py (seed 1) and an index
# of the first SEED_FILES articles. Three wrk passes with the same client settings, in one run so
# their ratios hold on this noisy machine:
#   1. GET /healthz, idle daemon (the HTTP stack alone: the ceiling for any endpoint);
#   2. GET /search, idle daemon;
#   3. GET /search for DURATION seconds while the next RATE*DURATION articles are dropped into the
#      watch folder at RATE files/s (written to a temporary name, then renamed in), so the daemon
#      indexes, percolates and alerts under the load.
# The search passes rotate through SEARCHES saved queries' texts plus single Reuters terms
# (scripts/bench-api.lua), LIMIT hits a page. Afterwards every dropped file must be in the ledger,
# the index must hold every distinct article, alerts must have kept coming during the load, and the
# daemon must stop on SIGTERM with exit status 0.
#
# Prints requests/s, latency p50/p90/p99/max, errors (non-2xx, socket errors, timeouts), documents
# before/after, files dropped vs processed during the load, alerts written during the load (and the
# longest pause between two), /status latency once a second during the load, the daemon's CPU
# use, its exit status; exits 1 if a check fails. wrk and the daemon share the machine's cores;
# wrk's latency is measured closed-loop (no coordinated-omission correction). KEEP=1 keeps the
# work folder (daemon log, wrk outputs, alert log).
#
# usage: scripts/bench-api.sh   (env: SEED_FILES=10000 DURATION=30 RATE=100 THREADS=2 CONNECTIONS=16
#                                BASELINE_DURATION=10 SEARCHES=300 LIMIT=10 KEEP=0)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/scripts/bench-common.sh"
shared=${LOOKOUT_SHARED:-$root/../shared}
corpus=${REUTERS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/lookout/reuters}
cache=${BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lookout/bench}
seed_files=${SEED_FILES:-10000}
duration=${DURATION:-30}
rate=${RATE:-100}
threads=${THREADS:-2}
connections=${CONNECTIONS:-16}
baseline=${BASELINE_DURATION:-10}
searches=${SEARCHES:-300}
limit=${LIMIT:-10}
lua="$root/scripts/bench-api.lua"
lookout="$root/target/release/lookout"
work=$(mktemp -d "${TMPDIR:-/tmp}/lookout-bench-api.XXXXXX")
cleanup() {
  [ -n "${dropper:-}" ] && kill "$dropper" 2>/dev/null || true
  [ -n "${prober:-}" ] && kill "$prober" 2>/dev/null || true
  [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  if [ "${KEEP:-0}" = 1 ]; then echo "work folder kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

# wrk from Debian, when missing (apt-get update only if the package lists do not know it yet).
if ! command -v wrk >/dev/null; then
  sudo=$([ "$(id -u)" = 0 ] || echo sudo)
  $sudo apt-get install -y -qq wrk >/dev/null 2>&1 ||
    { $sudo apt-get update -qq && $sudo apt-get install -y -qq wrk >/dev/null; }
fi

cargo build --release --locked --quiet --manifest-path "$root/Cargo.toml"
[ -f "$corpus/reuters.jsonl" ] || python3 "$shared/corpus/reuters.py" "$corpus" >&2
mkdir -p "$cache"
queries=$(bench_queries "$cache" "$shared" "$corpus/files" 1000)

# The daemon's home: the first SEED_FILES articles already in watch/, the saved queries beside the
# config, the API on a free port (the daemon writes it to state/api.addr).
mkdir -p "$work/watch" "$work/incoming"
cp "$queries" "$work/queries.tsv"
cat > "$work/config.toml" <<'EOF'
watch = "watch"
index = "index"
alert_log = "alerts.jsonl"
state_dir = "state"
commit_interval_ms = 1000
queries_files = ["queries.tsv"]

[api]
listen = "127.0.0.1:0"
EOF
find "$corpus/files" -maxdepth 1 -name '*.txt' | sort > "$work/corpus.txt"
awk -v n="$seed_files" 'NR <= n' "$work/corpus.txt" > "$work/seed.txt"
awk -v n="$seed_files" -v m="$((seed_files + rate * duration))" 'NR > n && NR <= m' "$work/corpus.txt" > "$work/to-drop.txt"
xargs cp -t "$work/watch" < "$work/seed.txt"
[ "$(wc -l < "$work/to-drop.txt")" -eq $((rate * duration)) ] ||
  { echo "the corpus has too few articles for SEED_FILES + RATE * DURATION" >&2; exit 1; }

echo /healthz > "$work/healthz-paths.txt"

"$lookout" --config "$work/config.toml" run > "$work/daemon.log" 2>&1 &
pid=$!
for _ in $(seq 600); do
  [ -s "$work/state/api.addr" ] && break
  kill -0 "$pid" 2>/dev/null || { echo "the daemon did not start:" >&2; cat "$work/daemon.log" >&2; exit 1; }
  sleep 0.1
done
url="http://$(cat "$work/state/api.addr")"

# Wait until the daemon has processed at least $1 files and has nothing ready or uncommitted, then
# save that /status as $2.
settle() {
  local want=$1 out=$2 deadline=$((SECONDS + 600))
  while :; do
    if curl -sf --max-time 30 "$url/status" > "$out.tmp" &&
      python3 -c 'import json, sys; s = json.load(open(sys.argv[1])); q = s["queues"]
sys.exit(not (s["files"] >= int(sys.argv[2]) and q["ready_files"] == 0 and q["uncommitted"] == 0))' "$out.tmp" "$want"; then
      mv "$out.tmp" "$out"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { echo "the daemon died:" >&2; tail -n 20 "$work/daemon.log" >&2; exit 1; }
    [ "$SECONDS" -lt "$deadline" ] || { echo "timed out waiting for $want processed files" >&2; exit 1; }
    sleep 0.5
  done
}
now() { date +%s.%N; }
lines() { [ -f "$work/alerts.jsonl" ] && wc -l < "$work/alerts.jsonl" || echo 0; }
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; } # the daemon's CPU time, in clock ticks

# One wrk pass: bench NAME ENDPOINT PATHS SECONDS (wrk's report in wrk-NAME.txt). --timeout 10s
# rather than wrk's 2 s, so slow answers count in the latency percentiles instead of as timeouts.
bench() {
  BENCH_PATHS="$3" wrk -t"$threads" -c"$connections" -d"$4"s --timeout 10s --latency -s "$lua" \
    "$url$2" > "$work/wrk-$1.txt"
}

settle "$seed_files" "$work/status-seeded.json"

# Request paths for wrk: SEARCHES of the saved queries that find something in the seeded index
# (spread over the file; a generated query often finds nothing, and an empty page costs little),
# and single Reuters terms, interleaved, URL-encoded. The same list for both search passes.
python3 - "$url" "$work/queries.tsv" "$searches" "$limit" "$work/search-paths.note" > "$work/search-paths.txt" <<'PY'
import json, sys, urllib.parse, urllib.request
url, n, limit = sys.argv[1], int(sys.argv[3]), int(sys.argv[4])
path = lambda q, limit: f"/search?q={urllib.parse.quote(q, safe='')}&limit={limit}"
queries = [line.split("\t", 1)[1].strip() for line in open(sys.argv[2], encoding="utf-8") if "\t" in line]
found = [q for q in queries if json.load(urllib.request.urlopen(url + path(q, 0)))["total"] > 0]
saved = [found[i * len(found) // n] for i in range(min(n, len(found)))]
terms = """oil crude opec gold silver copper coffee cocoa sugar wheat corn grain soybeans cotton
rubber dollar yen sterling currency interest inflation gnp trade tariff deficit bank bundesbank
treasury bonds merger acquisition takeover dividend earnings profit shares strike shipping japan
brazil canada exports imports tonnes barrels stake""".split()
mixed = []
for i, q in enumerate(saved):
    mixed.append(q)
    if i % 6 == 5 and terms:
        mixed.append(terms.pop(0))
mixed += terms
open(sys.argv[5], "w").write(f"{len(found)} of {len(queries)} saved queries find something")
for q in mixed:
    print(path(q, limit))
PY
sleep 1

bench healthz /healthz "$work/healthz-paths.txt" "$baseline"
bench search-idle /search "$work/search-paths.txt" "$baseline"

# The loaded pass: the dropper writes RATE files/s for DURATION seconds while wrk runs.
curl -sf --max-time 30 "$url/status" > "$work/status-before.json"
echo "$(now) $(lines) $(cpu)" > "$work/mark-before"
python3 - "$work/to-drop.txt" "$work/incoming" "$work/watch" "$rate" "$duration" > "$work/dropped.txt" <<'PY' &
import os, sys, time
names, incoming, watch = open(sys.argv[1]).read().split(), sys.argv[2], sys.argv[3]
rate, duration = float(sys.argv[4]), float(sys.argv[5])
start = time.monotonic()
for i, source in enumerate(names):
    due = start + i / rate
    if due - start >= duration:
        break
    time.sleep(max(0.0, due - time.monotonic()))
    name = os.path.basename(source)
    with open(source, "rb") as f, open(os.path.join(incoming, name), "wb") as out:
        out.write(f.read())
    os.rename(os.path.join(incoming, name), os.path.join(watch, name))
    print(name, flush=True)
PY
dropper=$!
# Meanwhile /status once a second: it is answered by the daemon loop, between files.
(
  end=$((SECONDS + duration))
  while [ "$SECONDS" -lt "$end" ]; do
    curl -s -o /dev/null -w '%{http_code} %{time_total}\n' --max-time 30 "$url/status" || true
    sleep 1
  done
) > "$work/status-probe.txt" &
prober=$!
bench search /search "$work/search-paths.txt" "$duration"
echo "$(now) $(lines) $(cpu)" > "$work/mark-after"
curl -sf --max-time 30 "$url/status" > "$work/status-after.json"
wait "$dropper" "$prober"
dropper= prober=
echo "$(now)" > "$work/mark-dropped"
settle "$(($(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["files"])' "$work/status-before.json") + $(wc -l < "$work/dropped.txt")))" "$work/status-final.json"
echo "$(now) $(lines)" > "$work/mark-settled"

# Stop: SIGTERM, and the daemon must exit 0 within a minute.
kill -TERM "$pid"
for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
status=0
if kill -0 "$pid" 2>/dev/null; then
  echo "the daemon did not stop within 60 s of SIGTERM; killing it" >&2
  kill -KILL "$pid"
fi
wait "$pid" || status=$?
pid=
echo "$status" > "$work/exit-status"

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); wrk and the daemon share them"
echo "wrk: $(wrk --version 2>&1 | head -n 1 | cut -d' ' -f1-2), -t$threads -c$connections --timeout 10s; search passes: $(wc -l < "$work/search-paths.txt") queries rotated ($(cat "$work/search-paths.note"); $searches of them + single terms), limit=$limit"
python3 - "$work" "$corpus/files" "$(getconf CLK_TCK)" <<'PY'
import datetime, json, os, sqlite3, sys

work, docs, hz = sys.argv[1], sys.argv[2], int(sys.argv[3])
path = lambda name: os.path.join(work, name)
read = lambda name: open(path(name), encoding="utf-8").read()
failures = []

def wrk(name):
    line = next(l for l in read(f"wrk-{name}.txt").splitlines() if l.startswith("wrk-json "))
    r = json.loads(line[len("wrk-json "):])
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    r["socket_errors"] = sum(r["errors"][k] for k in ("connect", "read", "write", "timeout"))
    return r

ms = lambda us: f"{us / 1000:.2f}" if us < 100_000 else f"{us / 1000:.0f}"
print(f"{'pass':<28} {'requests/s':>10} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} {'requests':>9} {'non-2xx':>8} {'socket err':>10}")
runs = {}
for name, label in (("healthz", "GET /healthz, idle"), ("search-idle", "GET /search, idle"),
                    ("search", "GET /search, under ingest")):
    r = runs[name] = wrk(name)
    lat = r["latency_us"]
    print(f"{label:<28} {r['rps']:10.0f} {ms(lat['p50']):>8} {ms(lat['p90']):>8} {ms(lat['p99']):>8} "
          f"{ms(lat['max']):>8} {r['requests']:9d} {r['errors']['status']:8d} {r['socket_errors']:10d}")
    if r["errors"]["status"] or r["socket_errors"]:
        failures.append(f"{label}: {r['errors']}")
s, i, h = runs["search"], runs["search-idle"], runs["healthz"]
print(f"mean response: search {s['bytes'] / s['requests'] / 1024:.1f} KiB, healthz {h['bytes'] / h['requests']:.0f} B")
print(f"ratios: search under ingest / idle search {s['rps'] / i['rps']:.2f}x requests/s, "
      f"p99 {s['latency_us']['p99'] / i['latency_us']['p99']:.1f}x; "
      f"idle search / healthz {i['rps'] / h['rps']:.2f}x requests/s")

# Ingest and alerts during the loaded pass.
status = {n: json.loads(read(f"status-{n}.json")) for n in ("seeded", "before", "after", "final")}
t0, lines0, cpu0 = map(float, read("mark-before").split())
t1, lines1, cpu1 = map(float, read("mark-after").split())
t_dropped = float(read("mark-dropped"))
t_settled, lines_settled = map(float, read("mark-settled").split())
window = t1 - t0
dropped = read("dropped.txt").split()
processed = status["after"]["files"] - status["before"]["files"]
print(f"documents: {status['seeded']['documents']} after seeding ({status['seeded']['files']} files), "
      f"{status['before']['documents']} before the loaded pass, {status['after']['documents']} right after it, "
      f"{status['final']['documents']} once the drops were all processed")
print(f"ingest during the loaded pass ({window:.1f} s): {len(dropped)} files dropped ({len(dropped) / window:.1f}/s), "
      f"{processed} processed and committed ({processed / window:.1f}/s); all {status['final']['files'] - status['before']['files']} "
      f"processed {max(0.0, t_settled - t_dropped):.1f} s after the last drop")

# Alerts: the log's lines during the pass, and their timestamps second by second.
alerts = [json.loads(l) for l in open(path("alerts.jsonl"), encoding="utf-8")]
during = int(lines1 - lines0)
stamps = sorted(datetime.datetime.fromisoformat(a["at"].replace("Z", "+00:00")).timestamp() for a in alerts)
inside = [t for t in stamps if t0 <= t <= t1]
gaps = [b - a for a, b in zip([t0] + inside, inside + [t1])]
seconds = len({int(t - t0) for t in inside if t - t0 < int(window)})
print(f"alerts during the loaded pass: {during} written ({during / window:.1f}/s), in {seconds} of its "
      f"{int(window)} full seconds, longest pause {max(gaps):.2f} s; {int(lines_settled - lines0)} for the dropped files in all; "
      f"{len(alerts)} in the log")
probe = [line.split() for line in read("status-probe.txt").splitlines()]
probe_ms = sorted(float(t) * 1000 for _, t in probe)
print(f"GET /status once a second during the loaded pass: {len(probe)} calls, {sum(c != '200' for c, _ in probe)} not 200, "
      f"median {probe_ms[len(probe_ms) // 2]:.1f} ms, max {probe_ms[-1]:.1f} ms")
if any(c != "200" for c, _ in probe):
    failures.append("GET /status failed during the loaded pass")
print(f"daemon CPU during the loaded pass: {(cpu1 - cpu0) / hz / window * 100:.0f}% of one core")

# Every dropped file must be in the ledger, and the index must hold every distinct article.
norm = lambda name: " ".join(open(os.path.join(docs, name), encoding="utf-8", errors="replace").read().split())
seed = [os.path.basename(p) for p in read("seed.txt").split()]
seed_texts = {norm(n) for n in seed}
new_texts = {norm(n) for n in dropped} - seed_texts
ledger = sqlite3.connect(f"file:{path('state/ledger.sqlite')}?mode=ro", uri=True)
in_ledger = {os.path.basename(p) for (p,) in ledger.execute("SELECT DISTINCT path FROM file_docs")}
missing = [n for n in dropped if n not in in_ledger]
expected = len(seed_texts) + len(new_texts)
print(f"dropped files indexed: {len(dropped) - len(missing)} of {len(dropped)} in the ledger; documents "
      f"{status['final']['documents']} (expected {expected}: {len(seed_texts)} distinct seed articles + "
      f"{len(new_texts)} new distinct dropped ones); quarantined {len(status['final']['quarantined'])}")
if missing:
    failures.append(f"{len(missing)} dropped files not indexed, e.g. {missing[:5]}")
if status["final"]["documents"] != expected:
    failures.append(f"the index holds {status['final']['documents']} documents, expected {expected}")
if during == 0 or seconds < window - 2:
    failures.append("alerts stalled during the loaded pass")

log = read("daemon.log")
panics, errors, warnings = log.count("panicked"), log.count(" ERROR "), log.count(" WARN ")
exit_status = int(read("exit-status"))
print(f"daemon: exit status {exit_status} after SIGTERM; log: {panics} panics, {errors} errors, {warnings} warnings")
if exit_status != 0:
    failures.append(f"the daemon exited with {exit_status}")
if panics:
    failures.append("the daemon panicked")
for f in failures:
    print(f"  !! {f}", file=sys.stderr)
sys.exit(1 if failures else 0)
PY
