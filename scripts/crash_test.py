#!/usr/bin/env python3
"""The crash loop behind scripts/crash-test.sh (see there). usage:
crash_test.py LOOKOUT DOCS_DIR GEN_QUERIES FILES KILLS QUERIES SEED [COPY_EVERY]

With COPY_EVERY = k > 0, saved queries suppress duplicates and every k-th article (of 60 words
or more) also gets an
edited copy (a byline, a word changed, a new headline) dropped later: each (query, content)
then has exactly one record, an alert or a copy record; of an article and its copy, at most
one alerts for a query, and every copy record points at an alert of that query in the log."""
import collections, http.server, json, os, random, shutil, signal, subprocess, sys, tempfile, threading, time

lookout, docs_dir, gen_queries = sys.argv[1], sys.argv[2], sys.argv[3]
n_files, min_kills, n_queries, seed = (int(x) for x in sys.argv[4:8])
copy_every = int(sys.argv[8]) if len(sys.argv) > 8 else 0
rng = random.Random(seed)
work = tempfile.mkdtemp(prefix="lookout-crash.")
watch, source = os.path.join(work, "watch"), os.path.join(work, "source")
os.makedirs(watch)
os.makedirs(source)
for name in sorted(os.listdir(docs_dir))[:n_files]:
    shutil.copy(os.path.join(docs_dir, name), source)
# Copies: `copy-NAME` beside `NAME`, named to sort after every original (dropped later).
pairs = {}
if copy_every:
    for i, name in enumerate(sorted(os.listdir(source))):
        if i % copy_every:
            continue
        with open(os.path.join(source, name), encoding="utf-8", errors="replace") as f:
            title, _, body = f.read().partition("\n\n")
        if len(body.split()) < 60:
            continue  # a brief or a table: too short to be told a copy (see stories/)
        words = body.split(" ")
        if len(words) > 10:
            words[len(words) // 2] = "reportedly"
        copy = f"UPDATE 1-{title}\n\nBy a staff correspondent\n\n{' '.join(words)}"
        copy_name = f"zz-copy-{name}"
        with open(os.path.join(source, copy_name), "w", encoding="utf-8") as f:
            f.write(copy)
        pairs[copy_name] = name
queries = os.path.join(work, "queries.tsv")
with open(queries, "w") as f:
    subprocess.run([sys.executable, gen_queries, source, str(n_queries), "--seed", str(seed)], stdout=f, check=True)

# The test webhook: counts deliveries by webhook-id.
received = collections.Counter()
lock = threading.Lock()
class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        with lock:
            received[self.headers.get("webhook-id")] += 1
        self.send_response(200)
        self.end_headers()
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
threading.Thread(target=server.serve_forever, daemon=True).start()

config = os.path.join(work, "config.toml")
with open(config, "w") as f:
    f.write(f'watch = "watch"\nindex = "index"\nalert_log = "alerts.jsonl"\ncommit_interval_ms = 200\n'
            f'queries_files = ["queries.tsv"]\n\n[[webhooks]]\nname = "test"\nurl = "http://127.0.0.1:{server.server_port}/hook"\n'
            f'secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"\ntimeout_ms = 2000\nmax_attempts = 20\n')
    if copy_every:
        f.write('\n[duplicates]\nmode = "suppress"\n')

def start():
    log = open(os.path.join(work, "daemon.log"), "a")
    return subprocess.Popen([lookout, "--config", config, "run"], stdout=subprocess.DEVNULL, stderr=log,
                            env=dict(os.environ, RUST_LOG="warn"))

# Drop the articles at a steady pace, as users do: write to a temporary name, rename in.
names = sorted(os.listdir(source))
def dropper():
    for name in names:
        tmp = os.path.join(watch, "." + name + ".part")
        shutil.copy(os.path.join(source, name), tmp)
        os.rename(tmp, os.path.join(watch, name))
        time.sleep(rng.uniform(0, 0.02))
dropping = threading.Thread(target=dropper)
dropping.start()

kills = 0
daemon = start()
while dropping.is_alive() or kills < min_kills:
    time.sleep(rng.uniform(0.2, 1.2))
    daemon.send_signal(signal.SIGKILL)
    daemon.wait()
    kills += 1
    daemon = start()
dropping.join()

def status():
    out = subprocess.run([lookout, "--config", config, "status", "--json"], capture_output=True, text=True)
    return json.loads(out.stdout) if out.returncode == 0 else {}
def alert_lines():
    path = os.path.join(work, "alerts.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(l) for l in f if l.endswith("\n") and l.strip()]  # a line being written waits

# Let the last daemon finish: every file processed, every alert delivered.
deadline = time.time() + 180
while time.time() < deadline:
    alerts = alert_lines()
    with lock:
        delivered = set(received)
    due = {a["alert_id"] for a in alerts if "copy_of" not in a}
    if status().get("files", 0) >= len(names) and due <= delivered:
        break
    time.sleep(0.5)
time.sleep(1)
daemon.send_signal(signal.SIGTERM)
daemon.wait(timeout=60)

# Expected: what `lookout match` predicts, per (query, content): duplicate files are one document.
def content(name):
    with open(os.path.join(source, name), encoding="utf-8", errors="replace") as f:
        return " ".join(f.read().split())
# Exit 1 is "no match" (grep's convention); match prints paths as given.
run = subprocess.run([lookout, "match", "--queries", queries, source], capture_output=True, text=True)
if run.returncode not in (0, 1):
    sys.exit(f"lookout match failed: {run.stderr}")
out = run.stdout
expected = {(q, content(os.path.basename(f))) for q, f in (l.split("\t", 1) for l in out.splitlines() if l.strip())}
alerts = alert_lines()
by_pair = collections.Counter((a["query"]["name"], content(os.path.basename(a["doc"]["path"]))) for a in alerts)
ids = collections.Counter(a["alert_id"] for a in alerts)
lost_alerts = len(expected - set(by_pair))
unexpected = len(set(by_pair) - expected)
duplicated = sum(c - 1 for c in by_pair.values() if c > 1) + sum(c - 1 for c in ids.values() if c > 1)
indexed = status().get("documents", -1)
distinct = len({content(n) for n in names})
copy_records = [a for a in alerts if "copy_of" in a]
alert_ids = {a["alert_id"]: a for a in alerts if "copy_of" not in a}
with lock:
    undelivered = len(set(alert_ids) - set(received))
    redeliveries = sum(received.values()) - len(received)
    delivered_copies = len({a["alert_id"] for a in copy_records} & set(received))
# Copies: every copy record points at an alert of its query; of an article and its copy, at
# most one alerts for a query.
dangling = sum(1 for a in copy_records
               if a["copy_of"] not in alert_ids or alert_ids[a["copy_of"]]["query"]["name"] != a["query"]["name"])
alerted = collections.Counter((a["query"]["name"], os.path.basename(a["doc"]["path"])) for a in alerts if "copy_of" not in a)
twice = sum(1 for copy, original in pairs.items() for q in {a["query"]["name"] for a in alerts}
            if alerted[(q, copy)] and alerted[(q, original)])
lost = lost_alerts + unexpected + undelivered + abs(distinct - indexed) + dangling
duplicated += twice + delivered_copies
print(f"crash-test: files {len(names)}, kills {kills}, indexed {indexed} of {distinct} distinct articles, "
      f"alerts {len(alerts)} of {len(expected)} expected, lost {lost} "
      f"(alerts missing {lost_alerts}, unexpected {unexpected}, undelivered {undelivered}), "
      f"duplicated alerts {duplicated}, raw redeliveries {redeliveries}"
      + (f"; copies {len(pairs)}, copy records {len(copy_records)} (dangling {dangling}, "
         f"article and copy both alerting {twice}, copy records delivered {delivered_copies})" if copy_every else ""))
if lost or duplicated:
    print(f"work folder kept: {work}", file=sys.stderr)
    sys.exit(1)
shutil.rmtree(work)
