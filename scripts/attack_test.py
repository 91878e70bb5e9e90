#!/usr/bin/env python3
"""The adversarial test behind scripts/attack-test.sh (see there). usage: attack_test.py LOOKOUT USER

Each attack replays one class of input that once broke lookout, against the real daemon running
as USER (when started as root) with a 1,024 file-descriptor limit. A poller asks /healthz every
100 ms the whole time. Every article dropped carries a unique marker word; at the end each must
be found by search exactly once, every alert id must be unique, and the webhook must have
received each alert. Bounded in count and time everywhere."""
import http.client, http.server, json, os, pwd, random, resource, shutil, socket, subprocess, sys
import tempfile, threading, time, urllib.parse

lookout, user = sys.argv[1], sys.argv[2]
rng = random.Random(9)
as_root = os.getuid() == 0
if as_root:
    entry = pwd.getpwnam(user)
    uid, gid = entry.pw_uid, entry.pw_gid
work = tempfile.mkdtemp(prefix="lookout-attack.")
os.chmod(work, 0o755)
watch = os.path.join(work, "watch")
os.makedirs(watch)
failures, results = [], []


def demote():
    """In the child: systemd's descriptor limit, then the unprivileged user."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))
    if as_root:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)


def own(path):
    if as_root:
        os.chown(path, uid, gid)


# The test webhook: counts deliveries by webhook-id.
received, hook_lock = {}, threading.Lock()


class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        with hook_lock:
            key = self.headers.get("webhook-id")
            received[key] = received.get(key, 0) + 1
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


hook_server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
threading.Thread(target=hook_server.serve_forever, daemon=True).start()

QUERIES = {
    "niger": "niger",
    "oil-not-gas": "oil AND NOT gas",
    "oil-and-gas": "oil AND gas",
    "bank-bank": '"bank bank"~1',
    "bank-sloppy": '"said said said said bank bank bank bank the the the the"~2',
    "marked": "lookoutmark*",
}
with open(os.path.join(work, "queries.tsv"), "w") as f:
    for name, text in QUERIES.items():
        f.write(f"{name}\t{text}\n")
config = os.path.join(work, "config.toml")
with open(config, "w") as f:
    f.write(
        'watch = "watch"\nindex = "index"\nalert_log = "alerts.jsonl"\nstate_dir = "state"\n'
        'commit_interval_ms = 200\nrescan_interval_s = 2\non_delete = "remove"\n'
        'queries_files = ["queries.tsv"]\n\n'
        f'[[webhooks]]\nname = "test"\nurl = "http://127.0.0.1:{hook_server.server_port}/hook"\n'
        'timeout_ms = 2000\nmax_attempts = 20\n\n[api]\nlisten = "127.0.0.1:0"\n'
    )
for name in ("queries.tsv", "config.toml", "watch"):
    own(os.path.join(work, name))
own(work)

daemon_log = open(os.path.join(work, "daemon.log"), "a")
daemon = subprocess.Popen([lookout, "--config", config, "run"], stdout=subprocess.DEVNULL,
                          stderr=daemon_log, preexec_fn=demote, cwd=work,
                          env=dict(os.environ, RUST_LOG="info"))


def cli(*args, timeout=60):
    """A lookout command as the same user; (exit code, stdout, stderr)."""
    done = subprocess.run([lookout, "--config", config, *args], capture_output=True, text=True,
                          preexec_fn=demote, timeout=timeout, cwd=work)
    return done.returncode, done.stdout, done.stderr


deadline = time.time() + 30
addr_file = os.path.join(work, "state", "api.addr")
while not (os.path.exists(addr_file) and open(addr_file).read().endswith("\n")):
    if time.time() > deadline or daemon.poll() is not None:
        sys.exit(f"the daemon did not start:\n{open(os.path.join(work, 'daemon.log')).read()}")
    time.sleep(0.1)
host, port = open(addr_file).read().strip().rsplit(":", 1)
port = int(port)


def request(method, path, body=None, headers=None, host_header=None, timeout=60):
    """(status, parsed JSON or text) of one request on a fresh connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host_header or f"127.0.0.1:{port}")
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            conn.putheader("Content-Type", (headers or {}).pop("Content-Type", "application/json"))
            conn.putheader("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            conn.putheader(key, value)
        conn.endheaders(data)
        response = conn.getresponse()
        raw = response.read()
        try:
            return response.status, json.loads(raw) if raw else None
        except ValueError:
            return response.status, raw.decode("utf-8", "replace")
    finally:
        conn.close()


def q(text):
    return urllib.parse.quote(text, safe="")


def search_total(query):
    status, body = request("GET", f"/search?q={q(query)}&limit=0")
    if status != 200:
        return None
    return body["total"]


# The health poller: /healthz every 100 ms, each with a 5 s timeout.
health = {"asked": 0, "failed": 0, "slowest": 0.0, "errors": []}
polling = True


def poll_health():
    while polling:
        started = time.time()
        try:
            status, _ = request("GET", "/healthz", timeout=5)
            ok = status == 200
        except OSError as e:
            ok = False
            health["errors"].append(repr(e))
        spent = time.time() - started
        health["asked"] += 1
        health["slowest"] = max(health["slowest"], spent)
        if not ok:
            health["failed"] += 1
        time.sleep(0.1)


poller = threading.Thread(target=poll_health, daemon=True)
poller.start()

# Every article dropped carries a marker word; `expected` says what must hold at the end.
expected_markers = []  # markers that must be found exactly once by search
next_marker = [0]


def marker():
    next_marker[0] += 1
    value = f"lookoutmark{next_marker[0]:05d}"
    expected_markers.append(value)
    return value


def drop(name, content, folder=watch):
    """Write aside, then rename in (as users do)."""
    tmp = os.path.join(folder, "." + name + ".part")
    with open(tmp, "wb") as f:
        f.write(content if isinstance(content, bytes) else content.encode())
    os.rename(tmp, os.path.join(folder, name))
    return os.path.join(folder, name)


def wait(check, seconds, what):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if check():
            return True
        time.sleep(0.1)
    raise AssertionError(f"timed out after {seconds} s: {what}")


def found(mark, seconds=20):
    wait(lambda: search_total(mark) == 1, seconds, f"{mark} indexed")


def attack(name):
    def register(fn):
        started = time.time()
        try:
            detail = fn() or ""
            results.append((name, "ok", time.time() - started, detail))
        except Exception as e:  # an attack that fails is reported, the others still run
            failures.append(name)
            results.append((name, "FAILED", time.time() - started, f"{type(e).__name__}: {e}"))
        if daemon.poll() is not None:
            failures.append(f"{name}: the daemon exited")
        return fn
    return register


def alert_lines():
    path = os.path.join(work, "alerts.jsonl")
    lines = []
    for file in sorted(f for f in os.listdir(work) if f.startswith("alerts.jsonl")):
        with open(os.path.join(work, file)) as f:
            lines += [json.loads(l) for l in f if l.endswith("\n") and l.strip()]  # a line being written waits
    return lines


def alerts_of(query):
    return [a for a in alert_lines() if a["query"]["name"] == query]


# ---------------------------------------------------------------------------------------------

mark = marker()
drop("first.txt", f"Niger {mark}: oil output and gas exports rose.\n")
found(mark)
SHAPES = [
    "date:[* TO *]", "oil AND date:[* TO *]", "date:{* TO *}", "date:[* TO 2024-01-01]",
    "date:{2024-01-01 TO *]", "date:[0001-01-01 TO 9999-12-31]", "date:[9999-12-31 TO *]",
    "date:{* TO 0001-01-01}", "date:1677-09-21", "date:2262-04-12", "date:[2024-01-01 TO 2024-01-01}",
    "niger AND NOT date:[* TO *]", "niger OR date:[1990-01-01 TO *]", "title:(niger OR mali)",
    '"oil output"~0', '"oil oil oil"~100', '"gas gas"~1', "n*", "o* AND NOT g*",
    "(((((((((niger)))))))))", "niger -(-(mali))", "+niger +oil -gas", "url:http", "tags:x",
    "source:reuters OR body:niger", "\"\"", "niger AND \"\"", "Côte d'Ivoire", "niger\\:oil",
    "a" * 300, "niger && oil || gas", "!gas AND oil",
]


@attack("queries that parse run on every path")
def queries_that_parse():
    checked = 0
    for i, text in enumerate(SHAPES):
        st, check = request("POST", "/queries/check", {"query": text})
        assert st == 200, (text, st, check)
        st, body = request("GET", f"/search?q={q(text)}&limit=3")
        assert st in (200, 400), (text, st, body)
        if not check["valid"]:
            assert st == 400, (text, "check says invalid, search ran", body)
            continue
        assert st == 200, (text, "check says valid, search refused", body)
        total = body["total"]
        st, dry = request("PUT", f"/queries/shape{i}?dry_run=true", {"query": text})
        assert st == 200 and dry["total"] == total, (text, st, dry)
        st, saved = request("PUT", f"/queries/shape{i}?backfill=true", {"query": text})
        assert st == 201, (text, st, saved)
        assert saved["backfill"]["matched"] == total, (text, "backfill != search", saved)
        code, out, err = cli("search", "--json", "--limit", "5", text)
        assert code in (0, 1) and (code == 0) == (total > 0), (text, code, err)
        st, _ = request("DELETE", f"/queries/shape{i}")
        assert st == 204, (text, st)
        checked += 1
    return f"{len(SHAPES)} shapes, {checked} ran on search, dry run, backfill and the CLI"


@attack("oversized queries are refused at once")
def oversized_queries():
    huge = " OR ".join(f"w{i}" for i in range(700_000))
    started = time.time()
    st, body = request("PUT", "/queries/huge", {"query": huge})
    spent = time.time() - started
    assert st == 400 and body["error"]["code"] == "invalid_query", (st, str(body)[:200])
    assert spent < 10, f"refusing took {spent:.1f} s"
    at_limit = " OR ".join(f"w{i}" for i in range(1024))
    st, body = request("PUT", "/queries/wide", {"query": at_limit})
    assert st == 201, (st, str(body)[:300])
    st, body = request("GET", f"/search?q={q(at_limit + ' OR w9999')}&limit=1")
    assert st == 400, (st, str(body)[:300])
    deep = "(" * 5000 + "niger" + ")" * 5000
    st, body = request("GET", f"/search?q={q(deep)}")
    assert st in (400, 414), (st, str(body)[:200])
    request("DELETE", "/queries/wide")
    return f"700,000-term OR refused in {spent:.2f} s; 1,024 terms accepted, 1,025 refused"


@attack("quadratic shapes stay linear on a 3.6 MB article")
def quadratic_shapes():
    mark = marker()
    started = time.time()
    drop("bank.txt", f"{mark} " + "the bank said " * 256_000)
    found(mark, seconds=120)
    spent = time.time() - started
    time.sleep(1)
    for name in ("bank-bank", "bank-sloppy"):
        started = time.time()
        st, body = request("GET", f"/search?q={q(QUERIES[name] + ' AND ' + mark)}&limit=5")
        searched = time.time() - started
        assert st == 200, (st, body)
        assert len(alerts_of(name)) == body["total"], (name, "alert contradicts search")
        assert searched < 10, f"{name}: search took {searched:.1f} s"
    return f"indexed and matched in {spent:.1f} s; alerts agree with search"


@attack("a file of 20,000 articles and a backfill of 20,000 do not freeze requests")
def no_freeze():
    lines = "".join(json.dumps({"title": f"Bulk {i}", "body": f"lookoutbulk{i:05d} oil report {i}"}) + "\n"
                    for i in range(20000))
    drop("bulk.jsonl", lines)
    slowest, asked = 0.0, 0
    started = time.time()
    while search_total("lookoutbulk*") != 20000 and time.time() - started < 120:
        t = time.time()
        st, _ = request("GET", "/status", timeout=30)
        assert st == 200, st
        slowest = max(slowest, time.time() - t)
        asked += 1
        time.sleep(0.2)
    assert search_total("lookoutbulk*") == 20000, "the file was not indexed whole"
    file_seconds = time.time() - started
    result = {}

    def backfill():
        result["answer"] = request("PUT", "/queries/bulk-oil?backfill=true", {"query": "oil AND lookoutbulk*"},
                                   timeout=120)
    worker = threading.Thread(target=backfill)
    worker.start()
    during = 0.0
    while worker.is_alive():
        t = time.time()
        st, _ = request("GET", "/status", timeout=30)
        assert st == 200, st
        during = max(during, time.time() - t)
        time.sleep(0.1)
    worker.join()
    st, body = result["answer"]
    assert st == 201 and body["backfill"]["matched"] == 20000, (st, str(body)[:200])
    assert len(alerts_of("bulk-oil")) == 20000
    request("DELETE", "/queries/bulk-oil")
    return (f"20,000-article file in {file_seconds:.1f} s, slowest /status meanwhile {slowest:.2f} s "
            f"({asked} asked); backfill of 20,000: slowest /status {during:.2f} s")


@attack("a file unreadable at first is read once readable")
def unreadable_files():
    marks = [marker(), marker()]
    path = os.path.join(watch, "locked.txt")
    tmp = os.path.join(work, "locked.txt")
    with open(tmp, "w") as f:
        f.write(f"Niger {marks[0]} locked at first.\n")
    os.chmod(tmp, 0o000)
    os.rename(tmp, path)
    folder = os.path.join(watch, "shut")
    os.makedirs(folder)
    drop("inside.txt", f"Niger {marks[1]} in a folder shut for a moment.\n", folder)
    os.chmod(folder, 0o000)
    time.sleep(3)
    if as_root:
        assert search_total(marks[0]) == 0, "read a mode-000 file as an unprivileged user?"
    os.chmod(path, 0o644)
    os.chmod(folder, 0o755)
    found(marks[0], 30)
    found(marks[1], 30)
    return "mode 000 file and a folder shut for 3 s: both indexed once readable"


@attack("a half-written file is not taken before its writer closes it")
def half_written():
    mark = marker()
    before_not, before_and = len(alerts_of("oil-not-gas")), len(alerts_of("oil-and-gas"))
    with open(os.path.join(watch, "slow.txt"), "w") as f:
        f.write(f"{mark} The report mentions oil")
        f.flush()
        time.sleep(2)
        f.write(" and it mentions gas.\n")
    found(mark)
    time.sleep(1)
    assert len(alerts_of("oil-not-gas")) == before_not, "alerted on the partial file"
    assert len(alerts_of("oil-and-gas")) == before_and + 1
    assert search_total(f"{mark} AND oil AND NOT gas") == 0
    return "writer paused 2 s with the file open: one alert, on the whole file"


@attack("one bad JSON Lines line loses only itself")
def bad_jsonl_line():
    marks = [marker(), marker(), marker()]
    lines = [json.dumps({"title": "t", "body": f"Niger {m}"}) for m in marks]
    lines.insert(1, '{"title": "broken", "body": ')
    drop("batch.jsonl", "\n".join(lines) + "\n")
    for m in marks:
        found(m)
    st, status = request("GET", "/status")
    assert st == 200
    assert "batch.jsonl" in json.dumps(status), "the bad line is not reported in the status"
    return "3 good lines indexed, the bad one reported"


@attack("DNS rebinding and cross-site requests are refused")
def rebinding():
    for host_header in ("attacker.example:%d" % port, "127.0.0.1.attacker.example", "localhost.evil",
                        "LOCALHOST.attacker.example:%d" % port):
        st, body = request("GET", "/search?q=niger", host_header=host_header)
        assert st in (403, 421), (host_header, st, body)
        st, body = request("PUT", "/queries/rebind", {"query": "niger"}, host_header=host_header)
        assert st in (403, 421), (host_header, st, body)
    for origin in ("http://attacker.example", "null", "http://localhost:3000"):
        st, body = request("PUT", "/queries/rebind", {"query": "niger"}, headers={"Origin": origin})
        assert st == 403, (origin, st, body)
        st, body = request("DELETE", "/queries/niger", headers={"Origin": origin})
        assert st == 403, (origin, st, body)
    for ok_host in ("localhost:%d" % port, "127.0.0.1:%d" % port, "[::1]:%d" % port):
        st, _ = request("GET", "/search?q=niger&limit=1", host_header=ok_host)
        assert st == 200, (ok_host, st)
    st, _ = request("PUT", "/queries/rebind", {"query": "niger"},
                    headers={"Origin": f"http://127.0.0.1:{port}"})
    assert st == 201, st
    request("DELETE", "/queries/rebind")
    return "foreign hosts 421/403, foreign origins 403, local ones served"


@attack("1,100 slow connections do not starve /healthz, search or ingest")
def slowloris():
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
    except (ValueError, OSError):
        pass
    socks = []
    for i in range(1100):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            socks.append(s)
        except OSError:
            pass
    mark = marker()
    drop("during-flood.txt", f"Niger {mark} arrived during the flood.\n")
    slowest = 0.0
    deadline = time.time() + 20
    searched = 0
    while time.time() < deadline:
        for s in socks[:]:
            try:
                s.sendall(b"X-Drip: 1\r\n")
            except OSError:
                socks.remove(s)
        started = time.time()
        st, _ = request("GET", "/search?q=niger&limit=1", timeout=10)
        assert st == 200, st
        searched += 1
        slowest = max(slowest, time.time() - started)
        time.sleep(1)
    found(mark)
    held = len(socks)
    for s in socks:
        s.close()
    return f"{held} of 1,100 still held after 20 s; slowest search {slowest:.2f} s over {searched}"


@attack("malformed HTTP gets JSON errors")
def malformed_http():
    st, body = request("GET", "/search?q=" + "a" * 200_000)
    assert st in (400, 414, 431) and isinstance(body, dict) and "error" in body, (st, str(body)[:100])
    st, body = request("GET", "/healthz", headers={"X-Big": "b" * 200_000})
    assert st in (400, 431) and isinstance(body, dict) and "error" in body, (st, str(body)[:100])
    for junk in (b"\x00\x01\x02garbage\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"GET\r\n\r\n",
                 b"POST /documents HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -5\r\n\r\n"):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(junk)
        reply = b""
        try:
            while chunk := s.recv(65536):
                reply += chunk
        except OSError:
            pass
        s.close()
        if reply:
            head, _, rest = reply.partition(b"\r\n\r\n")
            assert rest.strip().startswith(b"{"), (junk, reply[:200])
    for body in (b"{", b"[1,2", b"\xff\xfe", b'{"query": 5}', b"null"):
        st, answer = request("PUT", "/queries/junk", body)
        assert 400 <= st < 500 and "error" in answer, (body, st, answer)
        st, answer = request("POST", "/documents", body)
        assert 400 <= st < 500 and "error" in answer, (body, st, answer)
    return "long URI, huge header, garbage, bad bodies: all JSON 4xx"


@attack("hostile query names are refused")
def hostile_names():
    for name in ("n" * 40_000, "check", "a b", "a/b", "..", "\x00x", "é" * 3, "-x"):
        st, body = request("PUT", f"/queries/{q(name)}", {"query": "niger"})
        assert st in (400, 404, 405, 414, 431), (name[:20], st, body)
        assert isinstance(body, dict) and "error" in body, (name[:20], body)
    code, out, err = cli("queries", "add", "x" * 100, "niger")
    assert code == 2, (code, err)
    longest = max(len(line) for file in os.listdir(work) if file.startswith("alerts.jsonl")
                  for line in open(os.path.join(work, file), "rb"))
    assert longest < 8192, longest
    return f"every bad name refused; longest alert line {longest} bytes"


@attack("an alert log moved away gets a new file")
def rotated_log():
    os.rename(os.path.join(work, "alerts.jsonl"), os.path.join(work, "alerts.jsonl.1"))
    mark = marker()
    drop("after-rotation.txt", f"Niger {mark} after the rotation.\n")
    found(mark)
    wait(lambda: os.path.exists(os.path.join(work, "alerts.jsonl")), 10, "a new alert log")
    st, body = request("GET", "/alerts?limit=5")
    assert st == 200 and any(mark in json.dumps(a) for a in body["alerts"]), body
    return "new alerts in a new alerts.jsonl, served by /alerts"


@attack("an unmounted watch folder deletes nothing")
def unmounted_share():
    if not as_root:
        return "skipped (needs root to mount a tmpfs)"
    documents = search_total("lookoutmark*")
    if subprocess.run(["mount", "-t", "tmpfs", "tmpfs", watch], capture_output=True).returncode:
        return "skipped (cannot mount a tmpfs here)"
    try:
        time.sleep(6)  # three rescans
        assert search_total("lookoutmark*") == documents, "documents removed while unmounted"
    finally:
        subprocess.run(["umount", watch], check=True)
    time.sleep(4)
    assert search_total("lookoutmark*") == documents
    return f"{documents} documents kept through an unmount (on_delete = remove)"


# ---------------------------------------------------------------------------------------------
# The invariants over everything above.
@attack("nothing lost, nothing doubled")
def invariants():
    wait(lambda: all(search_total(m) == 1 for m in expected_markers), 30, "every marker indexed")
    lines = alert_lines()
    ids = [a["alert_id"] for a in lines]
    assert len(ids) == len(set(ids)), "an alert was written twice"
    # Delivery is one request at a time to this receiver (a Python server): the time it may
    # take grows with the alerts (40,000 here), at 100 alerts/s at the least.
    started = time.time()
    wait(lambda: set(ids) <= set(received), max(60, len(ids) / 100), "every alert delivered to the webhook")
    took = time.time() - started
    return (f"{len(expected_markers)} articles indexed once; {len(ids)} alerts, each once, all delivered "
            f"(the last {took:.0f} s after this check began)")


polling = False
poller.join(timeout=10)
if health["failed"]:
    failures.append(f"/healthz failed {health['failed']} times: {health['errors'][:3]}")
alive = daemon.poll() is None
if not alive:
    failures.append("the daemon exited")
daemon.terminate()
try:
    daemon.wait(timeout=30)
except subprocess.TimeoutExpired:
    daemon.kill()
    failures.append("the daemon did not stop on SIGTERM")

width = max(len(name) for name, *_ in results)
for name, verdict, spent, detail in results:
    print(f"{verdict:6} {name:{width}}  {spent:6.1f} s  {detail}")
print(f"/healthz: {health['asked']} asked, {health['failed']} failed, slowest {health['slowest']:.3f} s;"
      f" daemon {'up' if alive else 'DOWN'} as {user if as_root else 'the current user'} with 1,024 descriptors")
if failures:
    print("FAILED:", "; ".join(failures))
    print("work folder kept:", work)
    sys.exit(1)
if os.environ.get("KEEP"):
    print("work folder kept:", work)
else:
    shutil.rmtree(work, ignore_errors=True)
print("attack test passed")
