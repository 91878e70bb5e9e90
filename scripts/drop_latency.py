#!/usr/bin/env python3
"""Drop-to-alert latency of the real daemon: prints "P50/P99" in milliseconds.

usage: drop_latency.py LOOKOUT_BIN DOCS_DIR QUERIES.tsv WORK_DIR DROPS

The index is first filled with the first 10,000 articles (no queries, so the daemon plans its
saved queries on real term statistics), then the daemon runs with QUERIES.tsv and DROPS further
articles that match at least one query are dropped one at a time: written to a temporary name,
renamed into the watch folder, and timed until their first alert line is in the alert log.
"""
import os, signal, subprocess, sys, time

lookout, docs_dir, queries, work, drops = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
os.makedirs(os.path.join(work, "watch"), exist_ok=True)
os.makedirs(os.path.join(work, "incoming"), exist_ok=True)
base = 'watch = "watch"\nindex = "index"\nalert_log = "alerts.jsonl"\n'
with open(os.path.join(work, "empty.toml"), "w") as f:
    f.write(base)
with open(os.path.join(work, "config.toml"), "w") as f:
    f.write(base + f'queries_files = ["{os.path.abspath(queries)}"]\n')

files = sorted(os.listdir(docs_dir))
seed, rest = files[:10000], files[10000:]
def content(name):
    with open(os.path.join(docs_dir, name), encoding="utf-8", errors="replace") as f:
        return f.read()
seed_dir = os.path.join(work, "seed")
os.makedirs(seed_dir, exist_ok=True)
for name in seed:
    os.link(os.path.join(docs_dir, name), os.path.join(seed_dir, name))
subprocess.run([lookout, "--config", os.path.join(work, "empty.toml"), "ingest", seed_dir],
               check=True, stderr=subprocess.DEVNULL)
seen = {" ".join(content(n).split()) for n in seed}

# Articles not yet indexed that match at least one saved query.
pool = [n for n in rest[:4000] if " ".join(content(n).split()) not in seen]
out = subprocess.run([lookout, "match", "--queries", queries] + [os.path.join(docs_dir, n) for n in pool],
                     check=True, capture_output=True, text=True).stdout
matching = {os.path.basename(line.split("\t", 1)[1]) for line in out.splitlines() if "\t" in line}
chosen, contents = [], set()
for n in pool:
    text = " ".join(content(n).split())
    if n in matching and text not in contents:
        chosen.append(n)
        contents.add(text)
    if len(chosen) == drops:
        break

log = open(os.path.join(work, "daemon.log"), "w")
daemon = subprocess.Popen([lookout, "--config", os.path.join(work, "config.toml"), "run"], stderr=log,
                          stdout=subprocess.DEVNULL, env=dict(os.environ, RUST_LOG="warn,lookout::daemon=info"))
alerts_path = os.path.join(work, "alerts.jsonl")
deadline = time.time() + 120
while "lookout started" not in open(os.path.join(work, "daemon.log")).read():
    if time.time() > deadline or daemon.poll() is not None:
        sys.exit("daemon did not start: " + open(os.path.join(work, "daemon.log")).read())
    time.sleep(0.05)
time.sleep(0.5)

offset = os.path.getsize(alerts_path) if os.path.exists(alerts_path) else 0
latencies = []
try:
    for n in chosen:
        data = content(n).encode()
        tmp = os.path.join(work, "incoming", n)
        with open(tmp, "wb") as f:
            f.write(data)
        needle = ('/watch/' + n + '"').encode()
        t0 = time.perf_counter()
        os.rename(tmp, os.path.join(work, "watch", n))
        buf = b""
        while True:
            with open(alerts_path, "rb") as f:
                f.seek(offset)
                chunk = f.read()
            if chunk:
                offset += len(chunk)
                buf += chunk
                if needle in buf:
                    break
            if time.perf_counter() - t0 > 10:
                sys.exit(f"no alert for {n} within 10 s")
            time.sleep(0.0002)
        latencies.append((time.perf_counter() - t0) * 1000)
        time.sleep(0.02)
finally:
    daemon.send_signal(signal.SIGTERM)
    daemon.wait(timeout=60)
latencies.sort()
pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]
print(f"{pick(0.50):.1f}/{pick(0.99):.1f}")
