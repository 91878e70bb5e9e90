#!/usr/bin/env python3
"""The real daemon under a drop of many files, then drop-to-alert latency with the daemon busy.

usage: bench_daemon.py LOOKOUT_BIN QUERIES.tsv DROP_DIR WORK_DIR PORT [--latency BUSY_DIR PICK_DIR DROPS RATE]

Prints one JSON object on stdout.

Drop: the daemon starts on an empty index with QUERIES.tsv; every file of DROP_DIR is linked (or
copied) into WORK_DIR/incoming (same filesystem), then all are renamed into watch/ at once. The clock
runs from the first rename until the daemon reports every file processed *and committed*:
`GET /metrics` (served by the API without the daemon's loop, so polling it costs the daemon
nothing) is polled until `lookout_ingest_seconds_count` (one per file processed) reaches the
number of files, then `GET /status` until `files` (the ledger's count of processed files) does.
The ledger is written last in a commit, after the index commit and the alert log's fsync, so a
file counted there is durable in the index, the alert log and the ledger. Alerts are the
ledger's count (`alerts` in `/status`) at that point. Peak RSS is the daemon's VmHWM.

Latency (--latency): in the same daemon, a background feeder renames files of BUSY_DIR into
watch/ at RATE files/s (batches every 10 ms), so the daemon is busy, while DROPS files of
PICK_DIR that match at least one saved query (and hold content not dropped before) are renamed
in one at a time, 20 ms apart, each timed until its first alert line is in the alert log.

BENCH_SAMPLES=FILE writes each timed drop (wall-clock end, latency ms, file name), to find
what the slow ones have in common (e.g. with BENCH_RUST_LOG=info,lookout::engine=debug, whose
"committed" lines give each commit's phases).

BENCH_EXTRA_CONFIG=TEXT is appended to the daemon's config (tables, e.g. "[duplicates]\\nwindow = 0").

PERF_DATA=FILE records a perf profile of the daemon during the drop (for profiling, not figures;
PERF_ARGS, default "-F 499 -g"; "--call-graph dwarf" gives whole stacks, slowly).
"""
import json, os, shutil, signal, subprocess, sys, threading, time, urllib.request

lookout, queries, drop_dir, work, port = sys.argv[1:6]
latency = None
if "--latency" in sys.argv:
    i = sys.argv.index("--latency")
    busy_dir, pick_dir, drops, rate = sys.argv[i + 1], sys.argv[i + 2], int(sys.argv[i + 3]), float(sys.argv[i + 4])
    latency = (busy_dir, pick_dir, drops, rate)

DEADLINE_S = float(os.environ.get("BENCH_DEADLINE_S", "300"))
watch = os.path.join(work, "watch")
incoming = os.path.join(work, "incoming")
for d in (watch, incoming):
    os.makedirs(d, exist_ok=True)
config = os.path.join(work, "config.toml")
with open(config, "w") as f:
    f.write('watch = "watch"\nindex = "index"\nalert_log = "alerts.jsonl"\n'
            f'queries_files = ["{os.path.abspath(queries)}"]\n[api]\nlisten = "127.0.0.1:{port}"\n'
            + os.environ.get("BENCH_EXTRA_CONFIG", "") + "\n")
alerts_path = os.path.join(work, "alerts.jsonl")
base = f"http://127.0.0.1:{port}"


def get(path):
    with urllib.request.urlopen(base + path, timeout=30) as r:
        return r.read().decode()


def metric(text, name):
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def vm(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) // 1024  # MiB
    return 0


def cpu_seconds(pid):
    """The CPU time (user and system, every thread) a process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_cpu_seconds(pid):
    """The CPU time each kind of thread has used so far, by thread name (digits dropped, so
    the workers add up), counting threads that ended (the process total minus the live ones)."""
    by_name = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:
            continue  # ended meanwhile
        name = stat[stat.index("(") + 1:stat.rindex(")")].rstrip("0123456789-")
        fields = stat.rsplit(")", 1)[1].split()
        used = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        by_name[name] = by_name.get(name, 0.0) + used
    by_name["(ended)"] = cpu_seconds(pid) - sum(by_name.values())
    return by_name


def normalized(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return " ".join(f.read().split())


def stage(src, dst):
    """A file beside the watch folder, to be renamed in: a hard link (same filesystem), or a copy."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


names = sorted(os.listdir(drop_dir))
for n in names:
    stage(os.path.join(drop_dir, n), os.path.join(incoming, n))

log = open(os.path.join(work, "daemon.log"), "w")
daemon = subprocess.Popen([lookout, "--config", config, "run"], stderr=log, stdout=subprocess.DEVNULL,
                          env=dict(os.environ, RUST_LOG=os.environ.get("BENCH_RUST_LOG", "info")))
with open(os.path.join(work, "daemon.pid"), "w") as f:
    f.write(str(daemon.pid))
result = {}
try:
    deadline = time.time() + 120
    while True:
        if daemon.poll() is not None or time.time() > deadline:
            sys.exit("daemon did not start: " + open(os.path.join(work, "daemon.log")).read()[-2000:])
        try:
            status = json.loads(get("/status"))
            if status["queries"]["active"] > 0:
                break
        except OSError:
            pass
        time.sleep(0.05)
    result["queries_active"] = status["queries"]["active"]
    result["rss_idle_mib"] = vm(daemon.pid, "VmRSS")

    perf = None
    if os.environ.get("PERF_DATA"):
        # Profiling (not for figures): perf samples the daemon during the drop only.
        args = os.environ.get("PERF_ARGS", "-F 499 -g").split()
        perf = subprocess.Popen(["perf", "record", *args, "-p", str(daemon.pid), "-o", os.environ["PERF_DATA"]],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(2)
    total = len(names)
    threads_started = thread_cpu_seconds(daemon.pid)
    cpu_started = cpu_seconds(daemon.pid)
    started = time.perf_counter()
    for n in names:
        os.rename(os.path.join(incoming, n), os.path.join(watch, n))
    renamed = time.perf_counter() - started
    limit = started + DEADLINE_S
    while True:
        done = metric(get("/metrics"), "lookout_ingest_seconds_count")
        if done >= total:
            break
        if time.perf_counter() > limit or daemon.poll() is not None:
            sys.exit(f"not every file processed within {DEADLINE_S} s")
        # Rendering /metrics is costly with a series per saved query (100,000 of them): asked
        # every 20 ms, it would slow the daemon it measures. So it is asked at a third of the
        # time the rest should take at the rate so far (at least 20 ms, at most 1 s apart):
        # a handful of renders per run, and the end is known to about 20 ms.
        elapsed = time.perf_counter() - started
        rest = (total - done) * elapsed / done if done > 0 else 1.0
        time.sleep(min(1.0, max(0.02, rest / 3)))
    processed = time.perf_counter() - started
    while True:
        status = json.loads(get("/status"))
        if status["files"] >= total and status["queues"]["uncommitted"] == 0:
            break
        if time.perf_counter() > limit or daemon.poll() is not None:
            sys.exit(f"not every file committed within {DEADLINE_S} s")
        time.sleep(0.02)
    committed = time.perf_counter() - started
    cpu = cpu_seconds(daemon.pid) - cpu_started
    threads = thread_cpu_seconds(daemon.pid)
    threads = {k: round(v - threads_started.get(k, 0.0), 2) for k, v in threads.items()}
    threads = {k: v for k, v in sorted(threads.items(), key=lambda kv: -kv[1]) if v >= 0.01}
    if perf:
        perf.send_signal(signal.SIGINT)
        perf.wait(timeout=120)
    result.update(files=total, alerts=status["alerts"], documents=status["documents"],
                  rename_s=round(renamed, 3), processed_s=round(processed, 3), committed_s=round(committed, 3),
                  files_per_s=total / committed, alerts_per_s=status["alerts"] / committed,
                  cpu_s=round(cpu, 2), cpu_by_thread_s=threads, peak_rss_mib=vm(daemon.pid, "VmHWM"))

    if latency:
        busy_dir, pick_dir, drops, rate = latency
        # Enough background files for the whole timed part; the timed files hold content
        # dropped nowhere else, so each raises alerts (a known content would not).
        busy = sorted(os.listdir(busy_dir))[: int(rate * (2 + drops * 0.03)) + 1]
        seen = {normalized(os.path.join(d, n)) for d, ns in ((drop_dir, names), (busy_dir, busy)) for n in ns}
        pool = []
        for n in sorted(os.listdir(pick_dir)):
            text = normalized(os.path.join(pick_dir, n))
            if text not in seen:
                seen.add(text)
                pool.append(n)
        out = subprocess.run([lookout, "match", "--queries", queries] + [os.path.join(pick_dir, n) for n in pool],
                             capture_output=True, text=True).stdout
        matching = {os.path.basename(line.split("\t", 1)[1]) for line in out.splitlines() if "\t" in line}
        chosen = [n for n in pool if n in matching][:drops]
        for n in busy:
            stage(os.path.join(busy_dir, n), os.path.join(incoming, "busy-" + n))
        for n in chosen:
            stage(os.path.join(pick_dir, n), os.path.join(incoming, n))

        stop = threading.Event()
        fed = [0]

        def feed():
            t0, i = time.perf_counter(), 0
            while not stop.is_set() and i < len(busy):
                due = int((time.perf_counter() - t0) * rate)
                while i < min(due, len(busy)):
                    os.rename(os.path.join(incoming, "busy-" + busy[i]), os.path.join(watch, "busy-" + busy[i]))
                    i += 1
                time.sleep(0.01)
            fed[0] = i

        offset = os.path.getsize(alerts_path)
        feeder = threading.Thread(target=feed)
        feeder.start()
        time.sleep(1.0)  # the daemon is busy before the first timed drop
        ingest_before = metric(get("/metrics"), "lookout_ingest_seconds_count")
        t_busy = time.perf_counter()
        latencies = []
        samples = []
        try:
            for n in chosen:
                needle = ('/watch/' + n + '"').encode()
                t0 = time.perf_counter()
                os.rename(os.path.join(incoming, n), os.path.join(watch, n))
                buf = b""
                while True:
                    with open(alerts_path, "rb") as f:
                        f.seek(offset)
                        chunk = f.read()
                    if chunk:
                        offset += len(chunk)
                        # Keep only the tail that may hold the start of a needle cut in two.
                        buf = buf[-len(needle):] + chunk
                        if needle in buf:
                            break
                    if time.perf_counter() - t0 > 10:
                        sys.exit(f"no alert for {n} within 10 s")
                    time.sleep(0.0002)
                latencies.append((time.perf_counter() - t0) * 1000)
                samples.append((time.time(), latencies[-1], n))
                time.sleep(0.02)
        finally:
            stop.set()
            feeder.join()
        busy_s = time.perf_counter() - t_busy
        ingest_after = metric(get("/metrics"), "lookout_ingest_seconds_count")
        if os.environ.get("BENCH_SAMPLES"):
            with open(os.environ["BENCH_SAMPLES"], "w") as f:
                for at, ms, n in samples:
                    f.write(f"{at:.6f}\t{ms:.3f}\t{n}\n")
        latencies.sort()
        pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]
        result.update(latency_drops=len(latencies), latency_p50_ms=pick(0.50), latency_p99_ms=pick(0.99),
                      latency_max_ms=latencies[-1], busy_files_fed=fed[0],
                      busy_files_per_s=(ingest_after - ingest_before) / busy_s)
finally:
    daemon.send_signal(signal.SIGTERM)
    try:
        daemon.wait(timeout=60)
    except subprocess.TimeoutExpired:
        daemon.kill()
        daemon.wait()
print(json.dumps(result))
