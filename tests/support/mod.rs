//! Test helpers for end-to-end tests: the real `lookout` binary in a temp folder, a real
//! webhook listener on 127.0.0.1, and files dropped the way users drop them.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_lookout");

/// The seed article's shape: a leading ` date YYYY-MM-DD`, then the text.
pub const SEED_ARTICLE: &str = " date 2024-03-28 In a move that has sent ripples across international security frameworks, Niger's military junta has officially terminated its longstanding security agreement with the United States. This decision marks a pivotal shift in the West African nation's foreign policy.\n\nBreaking Bonds: The End of US-Niger Security Pact\n\nThe security arrangement between Niger and the United States was instrumental in counter-terrorism operations.\n";

pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// The user and group an unprivileged daemon runs as (see [`Home::new_unprivileged`]).
pub const UNPRIVILEGED_USER: &str = "nobody";
pub const UNPRIVILEGED_GROUP: &str = "nogroup";

/// Whether this process runs as root (then it reads any file, whatever its permissions).
pub fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// A command that runs `program` as [`UNPRIVILEGED_USER`] when this process is root (with
/// `setpriv`: no supplementary groups, no capabilities), and as this process's user
/// otherwise (which is unprivileged already). Permission checks apply to what it runs.
pub fn unprivileged_command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    if !running_as_root() {
        return Command::new(program);
    }
    let mut command = Command::new("setpriv");
    command
        .arg(format!("--reuid={UNPRIVILEGED_USER}"))
        .arg(format!("--regid={UNPRIVILEGED_GROUP}"))
        .arg("--clear-groups")
        .arg("--")
        .arg(program);
    command
}

/// Hand `path` and everything below it to [`UNPRIVILEGED_USER`] when this process is root, so
/// that a program run by [`unprivileged_command`] can write there. Does nothing otherwise.
pub fn give_to_unprivileged_user(path: &Path) {
    if !running_as_root() {
        return;
    }
    let status = Command::new("chown")
        .arg("-R")
        .arg(format!("{UNPRIVILEGED_USER}:{UNPRIVILEGED_GROUP}"))
        .arg(path)
        .status()
        .expect("chown runs");
    assert!(status.success(), "cannot chown {}", path.display());
}

/// A lookout home: config, watch folder, index, alert log, daemon log.
pub struct Home {
    pub dir: tempfile::TempDir,
    /// The daemon and the CLI run as an unprivileged user (when the tests run as root).
    unprivileged: bool,
}

impl Home {
    pub fn new(extra_config: &str) -> Home {
        Home::build(extra_config, false)
    }

    /// A home whose daemon and `lookout` commands run as an unprivileged user when the tests
    /// run as root (root reads any file, so a permission problem cannot be seen otherwise), and
    /// as the current user otherwise. The home belongs to that user; files the test writes
    /// stay the test's (readable by others unless the test says).
    pub fn new_unprivileged(extra_config: &str) -> Home {
        let home = Home::build(extra_config, true);
        give_to_unprivileged_user(home.dir.path());
        home
    }

    /// Whether this home's daemon runs as an unprivileged user.
    pub fn is_unprivileged(&self) -> bool {
        self.unprivileged || !running_as_root()
    }

    fn build(extra_config: &str, unprivileged: bool) -> Home {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("watch")).unwrap();
        // Tests run side by side: each daemon's API takes a free port (unless the test says).
        let api = if extra_config.contains("[api]") {
            ""
        } else {
            "\n[api]\nlisten = \"127.0.0.1:0\"\n"
        };
        let config = format!(
            "watch = \"watch\"\nindex = \"index\"\nalert_log = \"alerts.jsonl\"\ncommit_interval_ms = 200\n{extra_config}{api}"
        );
        std::fs::write(dir.path().join("config.toml"), config).unwrap();
        Home { dir, unprivileged }
    }

    /// The `lookout` binary, run as this home's user.
    fn command(&self) -> Command {
        if self.unprivileged {
            unprivileged_command(BIN)
        } else {
            Command::new(BIN)
        }
    }

    /// A regular expression matching this home's folder in outputs, for snapshot filters.
    pub fn path_pattern(&self) -> String {
        let mut pattern = String::new();
        for c in self.dir.path().display().to_string().chars() {
            if "\\.+*?()|[]{}^$".contains(c) {
                pattern.push('\\');
            }
            pattern.push(c);
        }
        pattern
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn config(&self) -> PathBuf {
        self.path("config.toml")
    }

    pub fn lookout(&self, args: &[&str]) -> Output {
        self.command()
            .arg("--config")
            .arg(self.config())
            .args(args)
            .env("RUST_LOG", "info")
            .output()
            .unwrap()
    }

    /// `lookout ingest` of each file of the folder `rel`, one at a time in name order, so the
    /// index and the alerts have one order whatever the ingest's parallelism.
    pub fn ingest_each_in_name_order(&self, rel: &str) {
        let mut names: Vec<String> = std::fs::read_dir(self.path(rel))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for name in names {
            let out = self
                .command()
                .current_dir(self.dir.path())
                .args([
                    "--config",
                    "config.toml",
                    "ingest",
                    &format!("{rel}/{name}"),
                ])
                .env("RUST_LOG", "warn")
                .output()
                .unwrap();
            assert_eq!(
                out.status.code(),
                Some(0),
                "ingest {rel}/{name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    /// Start the daemon; its stderr goes to `daemon-N.log`. Returns once it has started.
    pub fn start_daemon(&self, n: usize) -> Daemon {
        self.start_daemon_with_env(n, &[])
    }

    /// `start_daemon` with more environment variables (e.g. `FAILPOINTS`).
    pub fn start_daemon_with_env(&self, n: usize, env: &[(&str, &str)]) -> Daemon {
        let log = self.path(&format!("daemon-{n}.log"));
        let child = self
            .command()
            .arg("--config")
            .arg(self.config())
            .arg("run")
            .envs(env.iter().copied())
            .env("RUST_LOG", "info,lookout=debug")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let daemon = Daemon { child, log };
        daemon.wait_for_log("lookout started", Duration::from_secs(30));
        daemon
    }

    /// The running daemon's API base address (`http://127.0.0.1:PORT`), from the address file
    /// it writes in the state folder.
    pub fn api(&self) -> String {
        let file = self.path("state/api.addr");
        // The file may be seen before its line is written.
        let read = || std::fs::read_to_string(&file).unwrap_or_default();
        assert!(
            wait_until(Duration::from_secs(10), || read().ends_with('\n')),
            "the daemon wrote no API address"
        );
        format!("http://{}", read().trim())
    }

    /// Write `content` to a temporary name, then rename it into the watch folder.
    pub fn drop_file(&self, name: &str, content: &[u8]) -> PathBuf {
        let tmp = self.path(&format!(".{name}.part"));
        std::fs::write(&tmp, content).unwrap();
        let target = self.path("watch").join(name);
        std::fs::rename(&tmp, &target).unwrap();
        target
    }

    /// The alert log's complete lines, parsed (a line the daemon is writing meanwhile, not yet
    /// ended by its newline, is left for the next look, as a tailing reader does).
    pub fn alert_lines(&self) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(self.path("alerts.jsonl")).unwrap_or_default();
        let complete = &text[..text.rfind('\n').map_or(0, |end| end + 1)];
        complete
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Search with `--json`; the hits (exit 1 is "no hit", as grep's).
    pub fn search(&self, query: &str) -> Vec<serde_json::Value> {
        let out = self.lookout(&["search", "--json", "--limit", "1000000", query]);
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "search failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

pub struct Daemon {
    pub child: Child,
    pub log: PathBuf,
}

impl Daemon {
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn wait_for_log(&self, needle: &str, timeout: Duration) {
        let ok = wait_until(timeout, || self.log_text().contains(needle));
        assert!(
            ok,
            "daemon log never showed {needle:?}:\n{}",
            self.log_text()
        );
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn stop(mut self) -> String {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(
                    status.success(),
                    "daemon exited with {status}:\n{}",
                    self.log_text()
                );
                return self.log_text();
            }
            assert!(
                Instant::now() < deadline,
                "daemon did not stop:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn wait_until(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One request the webhook listener received.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A real HTTP listener on 127.0.0.1 that answers 200 and records every request.
pub struct WebhookListener {
    pub url: String,
    pub received: Arc<Mutex<Vec<Received>>>,
    server: Arc<tiny_http::Server>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl WebhookListener {
    pub fn start() -> WebhookListener {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let port = server.server_addr().to_ip().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let (srv, rec) = (server.clone(), received.clone());
        let thread = std::thread::spawn(move || {
            for mut request in srv.incoming_requests() {
                let mut body = Vec::new();
                let _ = request.as_reader().read_to_end(&mut body);
                let headers = request
                    .headers()
                    .iter()
                    .map(|h| (h.field.to_string(), h.value.to_string()))
                    .collect();
                rec.lock().unwrap().push(Received { headers, body });
                let _ = request.respond(tiny_http::Response::from_string("ok"));
            }
        });
        WebhookListener {
            url: format!("http://127.0.0.1:{port}/hook"),
            received,
            server,
            thread: Some(thread),
        }
    }

    pub fn requests(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

impl Drop for WebhookListener {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Snapshot filters (regular expression, replacement) for the times of a run: where a time is
/// a value (a log line's start, `"at"`, `"started_at"`, `"last_commit"`, `running since`,
/// `last commit:`, the alert list's `YYYY-MM-DD HH:MM:SS`), not where a message gives one as an
/// example.
/// Copy the fixture articles (`tests/fixtures/articles`) into `dir`.
pub fn copy_fixture_articles(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/articles");
    for entry in std::fs::read_dir(&fixtures).unwrap() {
        let name = entry.unwrap().file_name();
        std::fs::copy(fixtures.join(&name), dir.join(&name)).unwrap();
    }
}

pub fn time_filters() -> Vec<(String, String)> {
    const TIME: &str = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)";
    vec![
        (format!("(?m)^{TIME}"), "[TIME]".to_string()),
        (
            format!(r#""(at|started_at|last_commit)":(\s*)"{TIME}""#),
            r#""$1":$2"[TIME]""#.to_string(),
        ),
        (
            format!("(running since|last commit:) {TIME}"),
            "$1 [TIME]".to_string(),
        ),
        (
            r"(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d".to_string(),
            "[TIME]".to_string(),
        ),
    ]
}

/// JSON text pretty-printed with its keys in the order they were written (a
/// `serde_json::Value` would sort them), for snapshots; `None` when it is not one JSON value.
pub fn pretty_json(text: &str) -> Option<String> {
    let mut out = Vec::new();
    let mut input = serde_json::Deserializer::from_str(text);
    serde_transcode::transcode(&mut input, &mut serde_json::Serializer::pretty(&mut out)).ok()?;
    input.end().ok()?;
    String::from_utf8(out).ok()
}

pub fn count_lines(path: &Path, needle: &str) -> usize {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(needle))
        .count()
}
