//! End to end, the desk's deliveries with the real binary and real receivers on 127.0.0.1: a
//! digest every 2 s holds exactly the alerts of its window across a kill -9; a throttled query
//! sends at most its rate alone and digests the rest; Slack and template bodies have the shape
//! those tools accept; an e-mail reaches a real SMTP server (aiosmtpd, with AUTH) with the
//! snippet in its text and HTML parts, over the plain connection, STARTTLS and TLS.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::*;

/// Article `n`: a short story that matches `zebra`.
fn article(n: usize) -> String {
    format!(
        "Zebra count {n} released\n\nThe park service said on Tuesday that the zebra herd number {n} \
         grew this season, citing rainfall and fewer poachers in the northern reserve. Rangers \
         counted animals from the air over three days and compared the figures with item {n} of \
         last year's survey.\n"
    )
}

fn rfc3339(text: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .with_timezone(&chrono::Utc)
}

/// The received requests as (webhook-id, JSON body).
fn bodies(listener: &WebhookListener) -> Vec<(String, Value)> {
    listener
        .requests()
        .into_iter()
        .map(|r| {
            let id = r.header("webhook-id").unwrap_or_default().to_string();
            let body = serde_json::from_slice(&r.body)
                .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&r.body)));
            (id, body)
        })
        .collect()
}

/// Digests by id (a digest sent again after a crash has its id and content), checked equal.
fn digests_by_id(received: &[(String, Value)]) -> BTreeMap<String, Value> {
    let mut by_id: BTreeMap<String, Value> = BTreeMap::new();
    for (id, body) in received.iter().filter(|(_, b)| b["type"] == "digest") {
        assert_eq!(*id, body["digest_id"], "webhook-id is the digest id");
        if let Some(before) = by_id.get(id) {
            assert_eq!(before, body, "a digest sent again is the same digest");
        }
        by_id.insert(id.clone(), body.clone());
    }
    by_id
}

/// The alert ids of the alert log (not copy records).
fn logged_alert_ids(home: &Home) -> BTreeSet<String> {
    home.alert_lines()
        .iter()
        .filter(|a| a.get("copy_of").is_none())
        .map(|a| a["alert_id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_digest_every_2s_holds_exactly_its_windows_alerts_across_a_kill_9() {
    let listener = WebhookListener::start();
    let home = Home::new(&format!(
        r#"
[[queries]]
name = "zebras"
query = 'zebra'

[[webhooks]]
name = "desk-digest"
url = "{}"
secret = "{SECRET}"
digest = "2s"
"#,
        listener.url
    ));
    let mut daemon = home.start_daemon(1);
    let total = 24;
    for n in 0..total {
        if n == total / 2 {
            // Mid-stream, with a digest open: kill -9, then start again.
            assert!(wait_until(Duration::from_secs(20), || logged_alert_ids(
                &home
            )
            .len()
                >= n));
            daemon.child.kill().unwrap();
            daemon.child.wait().unwrap();
            daemon = home.start_daemon(2);
        }
        home.drop_file(&format!("zebra-{n:02}.txt"), article(n).as_bytes());
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(
        wait_until(Duration::from_secs(30), || logged_alert_ids(&home).len()
            == total),
        "{}",
        daemon.log_text()
    );
    let logged = logged_alert_ids(&home);
    let covered = || {
        let digests = digests_by_id(&bodies(&listener));
        digests
            .values()
            .map(|d| d["count"].as_u64().unwrap())
            .sum::<u64>() as usize
    };
    assert!(
        wait_until(Duration::from_secs(30), || covered() >= total),
        "digests cover {} of {total} alerts:\n{}",
        covered(),
        daemon.log_text()
    );
    let received = bodies(&listener);
    assert!(
        received.iter().all(|(_, b)| b["type"] == "digest"),
        "a digest destination sends no single alerts"
    );
    let digests = digests_by_id(&received);
    assert!(digests.len() >= 3, "{} digests", digests.len());
    // Each alert in exactly one digest, and in the digest of its own window.
    let alert_times: BTreeMap<String, String> = home
        .alert_lines()
        .iter()
        .map(|a| {
            (
                a["alert_id"].as_str().unwrap().to_string(),
                a["at"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut seen = BTreeSet::new();
    for digest in digests.values() {
        let (start, end) = (
            rfc3339(digest["window"]["start"].as_str().unwrap()),
            rfc3339(digest["window"]["end"].as_str().unwrap()),
        );
        assert_eq!(end - start, chrono::Duration::seconds(2));
        assert_eq!(digest["query"]["name"], "zebras");
        let listed = digest["alerts"].as_array().unwrap();
        assert_eq!(
            listed.len() as u64,
            digest["count"].as_u64().unwrap(),
            "under 20: all listed"
        );
        for entry in listed {
            let id = entry["alert_id"].as_str().unwrap().to_string();
            let at = rfc3339(&alert_times[&id]);
            assert!(
                start <= at && at < end,
                "{id} at {at} in a digest of {start}..{end}"
            );
            assert!(
                entry["snippet"].as_str().unwrap().contains("<b>"),
                "{entry}"
            );
            assert!(seen.insert(id.clone()), "{id} is in two digests");
        }
    }
    assert_eq!(seen, logged, "every alert of the log in a digest");
    daemon.stop();
}

#[test]
fn a_throttled_query_sends_at_most_its_rate_and_digests_the_rest() {
    let listener = WebhookListener::start();
    let home = Home::new(&format!(
        r#"
[[queries]]
name = "zebras"
query = 'zebra'

[[webhooks]]
name = "desk-now"
url = "{}"
at_most = "3/1h"
digest = "2s"
"#,
        listener.url
    ));
    let daemon = home.start_daemon(1);
    let total = 10;
    for n in 0..total {
        home.drop_file(&format!("zebra-{n:02}.txt"), article(n).as_bytes());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(wait_until(Duration::from_secs(30), || logged_alert_ids(
        &home
    )
    .len()
        == total));
    let delivered = || {
        let received = bodies(&listener);
        let alone = received
            .iter()
            .filter(|(_, b)| b.get("alert_id").is_some())
            .count();
        let digested: u64 = digests_by_id(&received)
            .values()
            .map(|d| d["count"].as_u64().unwrap())
            .sum();
        (alone, digested as usize)
    };
    assert!(
        wait_until(Duration::from_secs(30), || {
            let (alone, digested) = delivered();
            alone + digested >= total
        }),
        "{:?}\n{}",
        delivered(),
        daemon.log_text()
    );
    let (alone, digested) = delivered();
    assert_eq!(
        (alone, digested),
        (3, total - 3),
        "3 alone (the rate), the rest digested"
    );
    let received = bodies(&listener);
    let mut ids: BTreeSet<String> = received
        .iter()
        .filter_map(|(_, b)| b["alert_id"].as_str().map(str::to_string))
        .collect();
    for digest in digests_by_id(&received).values() {
        for entry in digest["alerts"].as_array().unwrap() {
            assert!(
                ids.insert(entry["alert_id"].as_str().unwrap().to_string()),
                "sent twice"
            );
        }
    }
    assert_eq!(ids, logged_alert_ids(&home));
    daemon.stop();
}

/// A saved query's own `at_most` and `digest` apply to its alerts on a destination that sends
/// each alert, other queries keep the destination's way, and a hot reload that turns them
/// `off` sends the query's next alerts alone.
#[test]
fn a_query_throttles_and_digests_on_its_own_and_a_reload_turns_it_off() {
    let listener = WebhookListener::start();
    let config = |zebras: &str| {
        format!(
            r#"
[[queries]]
name = "zebras"
query = 'zebra'
{zebras}

[[queries]]
name = "lions"
query = 'lion'

[[webhooks]]
name = "desk"
url = "{}"
"#,
            listener.url
        )
    };
    let home = Home::new(&config("at_most = \"3/1h\"\ndigest = \"2s\""));
    let lion = |n: usize| article(n).replace("Zebra", "Lion").replace("zebra", "lion");
    let daemon = home.start_daemon(1);
    for n in 0..6 {
        home.drop_file(&format!("zebra-{n:02}.txt"), article(n).as_bytes());
        if n < 4 {
            home.drop_file(&format!("lion-{n:02}.txt"), lion(n).as_bytes());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // (alone, digested) per query.
    let delivered = |query: &str| {
        let received = bodies(&listener);
        let alone = received
            .iter()
            .filter(|(_, b)| b.get("alert_id").is_some() && b["query"]["name"] == query)
            .count();
        let digested: u64 = digests_by_id(&received)
            .values()
            .filter(|d| d["query"]["name"] == query)
            .map(|d| d["count"].as_u64().unwrap())
            .sum();
        (alone, digested as usize)
    };
    assert!(
        wait_until(Duration::from_secs(30), || delivered("zebras") == (3, 3)
            && delivered("lions") == (4, 0)),
        "zebras {:?} lions {:?}\n{}",
        delivered("zebras"),
        delivered("lions"),
        daemon.log_text()
    );
    // Turned off by a hot reload: the next zebra alerts go alone.
    let reloads = || daemon.log_text().matches("configuration reloaded").count();
    let before = reloads();
    std::fs::write(
        home.config(),
        std::fs::read_to_string(home.config()).unwrap().replace(
            "at_most = \"3/1h\"\ndigest = \"2s\"",
            "at_most = \"off\"\ndigest = \"off\"",
        ),
    )
    .unwrap();
    assert!(
        wait_until(Duration::from_secs(20), || reloads() > before),
        "{}",
        daemon.log_text()
    );
    for n in 6..9 {
        home.drop_file(&format!("zebra-{n:02}.txt"), article(n).as_bytes());
    }
    assert!(
        wait_until(Duration::from_secs(30), || delivered("zebras") == (6, 3)),
        "zebras {:?}\n{}",
        delivered("zebras"),
        daemon.log_text()
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(delivered("zebras"), (6, 3), "nothing more, nothing twice");
    assert_eq!(delivered("lions"), (4, 0));
    let received = bodies(&listener);
    let mut ids = BTreeSet::new();
    for (_, body) in &received {
        if let Some(id) = body["alert_id"].as_str() {
            assert!(ids.insert(id.to_string()), "{id} sent twice");
        }
    }
    for digest in digests_by_id(&received).values() {
        for entry in digest["alerts"].as_array().unwrap() {
            let id = entry["alert_id"].as_str().unwrap();
            assert!(ids.insert(id.to_string()), "{id} sent twice");
        }
    }
    assert_eq!(ids, logged_alert_ids(&home));
    daemon.stop();
}

#[test]
fn slack_and_template_bodies_have_the_shape_their_tools_accept() {
    let slack = WebhookListener::start();
    let discord = WebhookListener::start();
    let ntfy = WebhookListener::start();
    let home = Home::new(&format!(
        r#"
[[queries]]
name = "zebras"
query = 'zebra AND herd'

[[webhooks]]
name = "slack"
url = "{}"
format = "slack"

[[webhooks]]
name = "discord"
url = "{}"
format = "template"
template = '{{"username": "lookout", "content": {{{{ ("**" ~ alert.query.name ~ "**: " ~ alert.doc.title ~ "\n" ~ (alert.matched.snippet | marked("**", "**"))) | tojson }}}}}}'

[[webhooks]]
name = "ntfy"
url = "{}"
format = "template"
content_type = "text/plain; charset=utf-8"
template = '{{{{ alert.matched.snippet | plain }}}}'
headers = {{ Title = "lookout alert", Tags = "newspaper" }}
"#,
        slack.url, discord.url, ntfy.url
    ));
    let daemon = home.start_daemon(1);
    home.drop_file("zebra.txt", article(7).as_bytes());
    assert!(
        wait_until(Duration::from_secs(20), || {
            !slack.requests().is_empty()
                && !discord.requests().is_empty()
                && !ntfy.requests().is_empty()
        }),
        "{}",
        daemon.log_text()
    );
    // Slack incoming webhooks: `text` (the notification fallback) and `blocks`, each block a
    // known type; section text mrkdwn of at most 3,000 chars; context elements.
    let request = &slack.requests()[0];
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert!(
        request.header("webhook-signature").is_none(),
        "no secret, no signature"
    );
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert!(body["text"].as_str().is_some_and(|t| !t.is_empty()));
    let blocks = body["blocks"].as_array().unwrap();
    assert!(!blocks.is_empty() && blocks.len() <= 50);
    for block in blocks {
        match block["type"].as_str().unwrap() {
            "section" => {
                assert_eq!(block["text"]["type"], "mrkdwn");
                assert!(block["text"]["text"].as_str().unwrap().chars().count() <= 3000);
            }
            "context" => {
                for element in block["elements"].as_array().unwrap() {
                    assert_eq!(element["type"], "mrkdwn");
                }
            }
            "header" => assert_eq!(block["text"]["type"], "plain_text"),
            other => panic!("unexpected block type {other}"),
        }
    }
    let section = blocks[0]["text"]["text"].as_str().unwrap();
    assert!(
        section.contains("*zebra*") && section.contains("*herd*"),
        "{section}"
    );
    // Discord: `content` (at most 2,000 chars), optional `username`.
    let request = &discord.requests()[0];
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    let content = body["content"].as_str().unwrap();
    assert!(
        content.starts_with("**zebras**: Zebra count 7 released\n"),
        "{content}"
    );
    assert!(
        content.contains("**zebra**") && content.chars().count() <= 2000,
        "{content}"
    );
    assert_eq!(body["username"], "lookout");
    // ntfy: the message as a plain-text body, the title and tags as headers.
    let request = &ntfy.requests()[0];
    assert_eq!(
        request.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(request.header("Title"), Some("lookout alert"));
    assert_eq!(request.header("Tags"), Some("newspaper"));
    let text = String::from_utf8(request.body.clone()).unwrap();
    assert!(
        text.contains("zebra herd number 7") && !text.contains("<b>"),
        "{text}"
    );
    daemon.stop();
}

/// A free port on 127.0.0.1 (bound, then released for the server to take).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A Python that has aiosmtpd: the machine's (`.ci/run` installs it), else a virtual
/// environment in the target folder with aiosmtpd from PyPI, made once, so that `cargo test`
/// works on a fresh machine.
fn python_with_aiosmtpd() -> std::path::PathBuf {
    // Tests run side by side: one of them makes the environment.
    static PYTHON: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    PYTHON.get_or_init(find_or_make_python).clone()
}

fn find_or_make_python() -> std::path::PathBuf {
    let has = |python: &std::path::Path| {
        Command::new(python)
            .args(["-c", "import aiosmtpd"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let system = std::path::PathBuf::from("python3");
    if has(&system) {
        return system;
    }
    let venv = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("smtp-venv");
    let python = venv.join("bin/python3");
    if !has(&python) {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3 makes a virtual environment");
        assert!(made.success(), "python3 -m venv {}", venv.display());
        let installed = Command::new(&python)
            .args(["-m", "pip", "install", "-q", "aiosmtpd==1.4.6"])
            .status()
            .expect("pip installs aiosmtpd");
        assert!(
            installed.success(),
            "pip install aiosmtpd into {}",
            venv.display()
        );
    }
    python
}

/// aiosmtpd on 127.0.0.1, requiring AUTH as desk/sesame; messages land in `out`.
struct SmtpServer {
    child: std::process::Child,
    port: u16,
}

/// How the test SMTP server is secured: `(mode, certificate file, key file)`, mode
/// `starttls` or `tls`.
type ServerTls<'a> = Option<(&'a str, &'a std::path::Path, &'a std::path::Path)>;

impl SmtpServer {
    fn start(out: &std::path::Path) -> SmtpServer {
        SmtpServer::start_with(out, None)
    }

    fn start_with(out: &std::path::Path, tls: ServerTls<'_>) -> SmtpServer {
        let port = free_port();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/smtp_server.py");
        let mut args: Vec<String> = vec![
            script.into(),
            port.to_string(),
            out.to_str().unwrap().into(),
            "desk".into(),
            "sesame".into(),
        ];
        if let Some((mode, cert, key)) = tls {
            args.push(mode.into());
            args.push(cert.to_str().unwrap().into());
            args.push(key.to_str().unwrap().into());
        }
        let mut child = Command::new(python_with_aiosmtpd())
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs the SMTP server (aiosmtpd from PyPI; .ci/run installs it)");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(
            line.trim(),
            "ready",
            "the SMTP server did not start: is aiosmtpd installed (pip install aiosmtpd)?"
        );
        SmtpServer { child, port }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn an_email_reaches_the_smtp_server_with_the_snippet() {
    let mail = tempfile::tempdir().unwrap();
    let mail_dir = mail.path().to_path_buf();
    let smtp = SmtpServer::start(&mail_dir);
    let home = Home::new(&format!(
        r#"
[[queries]]
name = "zebras"
query = 'zebra AND herd'
webhooks = ["desk-mail"]

[[emails]]
name = "desk-mail"
smtp_host = "127.0.0.1"
smtp_port = {}
tls = "none"
from = "lookout <lookout@example.org>"
to = ["Desk <desk@example.org>", "night@example.org"]
username_env = "LOOKOUT_TEST_SMTP_USER"
password_env = "LOOKOUT_TEST_SMTP_PASSWORD"
"#,
        smtp.port
    ));
    let daemon = home.start_daemon_with_env(
        1,
        &[
            ("LOOKOUT_TEST_SMTP_USER", "desk"),
            ("LOOKOUT_TEST_SMTP_PASSWORD", "sesame"),
        ],
    );
    home.drop_file("zebra.txt", article(3).as_bytes());
    let mails = wait_for_mail(&mail_dir, Duration::from_secs(30));
    assert_eq!(mails.len(), 1, "one e-mail:\n{}", daemon.log_text());
    let mail = &mails[0];
    let parsed = mail.replace("=\r\n", "").replace("=3D", "=");
    assert!(
        mail.contains("X-Envelope-To: desk@example.org,night@example.org"),
        "{mail}"
    );
    assert!(
        mail.contains("Subject: [lookout] zebras: Zebra count 3 released"),
        "{mail}"
    );
    assert!(
        mail.contains("Message-ID: <") && mail.contains("@lookout>"),
        "{mail}"
    );
    assert!(mail.contains("multipart/alternative"), "{mail}");
    assert!(
        parsed.contains("text/plain") && parsed.contains("text/html"),
        "{mail}"
    );
    assert!(
        parsed.contains("the *zebra* *herd* number 3"),
        "text part with the snippet: {parsed}"
    );
    assert!(
        parsed.contains("the <b>zebra</b> <b>herd</b> number 3"),
        "HTML part with the highlighted snippet: {parsed}"
    );
    daemon.stop();
}

/// The messages the test SMTP server has written to `dir`, in order, once there is one or
/// `timeout` has passed.
fn wait_for_mail(dir: &std::path::Path, timeout: Duration) -> Vec<String> {
    let mails = || -> Vec<String> {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    };
    let deadline = Instant::now() + timeout;
    while mails().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    mails()
}

/// STARTTLS and TLS from the first byte, against aiosmtpd with a certificate of its own that
/// `ca_file` trusts; AUTH only over TLS. Without `ca_file` the same server is refused (its
/// certificate is not trusted) and the e-mail is dead-lettered with the reason.
#[test]
fn an_email_goes_over_starttls_and_tls_to_a_server_the_ca_file_trusts() {
    let certs = tempfile::tempdir().unwrap();
    let issued = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let cert = certs.path().join("smtp.pem");
    let key = certs.path().join("smtp.key");
    std::fs::write(&cert, issued.cert.pem()).unwrap();
    std::fs::write(&key, issued.key_pair.serialize_pem()).unwrap();
    // What OpenSSL makes by default: a self-signed certificate that says CA:TRUE, which rustls
    // does not take as a server's own even when it is trusted.
    let ca_cert = certs.path().join("ca-as-server.pem");
    let ca_key = certs.path().join("ca-as-server.key");
    {
        let mut params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let key_pair = rcgen::KeyPair::generate().unwrap();
        let ca = params.self_signed(&key_pair).unwrap();
        std::fs::write(&ca_cert, ca.pem()).unwrap();
        std::fs::write(&ca_key, key_pair.serialize_pem()).unwrap();
    }
    for (mode, trusted, (cert, key)) in [
        ("starttls", true, (&cert, &key)),
        ("tls", true, (&cert, &key)),
        ("starttls", false, (&cert, &key)),
        ("tls", false, (&ca_cert, &ca_key)),
    ] {
        let mail = tempfile::tempdir().unwrap();
        let smtp = SmtpServer::start_with(mail.path(), Some((mode, cert, key)));
        let ca_as_server = cert == &ca_cert;
        let ca_file = if trusted || ca_as_server {
            format!("ca_file = {:?}", cert.display().to_string())
        } else {
            String::new()
        };
        let home = Home::new(&format!(
            r#"
[[queries]]
name = "zebras"
query = 'zebra AND herd'

[[emails]]
name = "desk-mail"
smtp_host = "127.0.0.1"
smtp_port = {}
tls = "{mode}"
{ca_file}
from = "lookout <lookout@example.org>"
to = ["desk@example.org"]
username_env = "LOOKOUT_TEST_SMTP_USER"
password_env = "LOOKOUT_TEST_SMTP_PASSWORD"
max_attempts = 1
"#,
            smtp.port
        ));
        let daemon = home.start_daemon_with_env(
            1,
            &[
                ("LOOKOUT_TEST_SMTP_USER", "desk"),
                ("LOOKOUT_TEST_SMTP_PASSWORD", "sesame"),
            ],
        );
        home.drop_file("zebra.txt", article(4).as_bytes());
        if trusted {
            let mails = wait_for_mail(mail.path(), Duration::from_secs(30));
            assert_eq!(mails.len(), 1, "{mode}: one e-mail:\n{}", daemon.log_text());
            assert!(
                mails[0].replace("=\r\n", "").contains("<b>zebra</b>"),
                "{mode}: {}",
                mails[0]
            );
        } else {
            let dead_letters = home.path("state/dead-letter.jsonl");
            assert!(
                wait_until(Duration::from_secs(30), || dead_letters.exists()),
                "{mode} untrusted: no dead letter\n{}",
                daemon.log_text()
            );
            let record = std::fs::read_to_string(&dead_letters).unwrap();
            assert!(
                record.to_lowercase().contains("certificate"),
                "the reason names the certificate: {record}"
            );
            if ca_as_server {
                assert!(
                    record.contains("CA:FALSE"),
                    "the reason says what certificate the server needs: {record}"
                );
            }
            assert!(wait_for_mail(mail.path(), Duration::ZERO).is_empty());
        }
        daemon.stop();
    }
}

/// Each destination's state in `GET /status`, by name: (state, problem).
fn destination_states(home: &Home) -> BTreeMap<String, (String, Option<String>)> {
    let status: Value = reqwest::blocking::get(format!("{}/status", home.api()))
        .and_then(|r| r.json())
        .unwrap_or(Value::Null);
    status["webhooks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|w| {
            (
                w["name"].as_str().unwrap_or_default().to_string(),
                (
                    w["state"].as_str().unwrap_or_default().to_string(),
                    w["problem"].as_str().map(str::to_string),
                ),
            )
        })
        .collect()
}

#[test]
fn a_reload_whose_destinations_cannot_start_is_refused_and_delivery_goes_on() {
    let listener = WebhookListener::start();
    let wire_listener = WebhookListener::start();
    let fresh_listener = WebhookListener::start();
    // Tables only, so that more can follow (the home's top-level keys come first).
    let tables = format!(
        r#"
[[queries]]
name = "zebras"
query = 'zebra'

[[webhooks]]
name = "desk"
url = "{}"

[api]
listen = "127.0.0.1:0"
"#,
        listener.url
    );
    let home = Home::new(&tables);
    let top = std::fs::read_to_string(home.config())
        .unwrap()
        .split("\n[[queries]]")
        .next()
        .unwrap()
        .to_string();
    let write_config = |more: &str| {
        std::fs::write(home.config(), format!("{top}{tables}{more}")).unwrap();
    };
    let daemon = home.start_daemon(1);
    let delivered = || {
        bodies(&listener)
            .iter()
            .filter(|(_, b)| b.get("alert_id").is_some())
            .count()
    };
    let mut dropped = 0;
    let mut drop_and_see_it_delivered = |why: &str| {
        home.drop_file(
            &format!("zebra-{dropped:02}.txt"),
            article(dropped).as_bytes(),
        );
        dropped += 1;
        assert!(
            wait_until(Duration::from_secs(20), || delivered() == dropped),
            "{why}: delivered {} of {dropped}\n{}",
            delivered(),
            daemon.log_text()
        );
    };
    drop_and_see_it_delivered("at start");
    let refused = || {
        daemon
            .log_text()
            .matches("configuration change refused")
            .count()
    };
    // Each class of destination that passes the file's checks but cannot start: credentials
    // named but not in the environment, and a certificate file rustls cannot use.
    std::fs::write(
        home.path("garbage.pem"),
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let broken = [
        (
            "username_env = \"LOOKOUT_TEST_NOT_SET_USER\"\npassword_env = \"LOOKOUT_TEST_NOT_SET_PASSWORD\"\ntls = \"none\"",
            "LOOKOUT_TEST_NOT_SET_USER",
        ),
        ("tls = \"starttls\"\nca_file = \"garbage.pem\"", "garbage.pem"),
    ];
    for (settings, named) in broken {
        let before = refused();
        write_config(&format!(
            "\n[[emails]]\nname = \"mail\"\nsmtp_host = \"127.0.0.1\"\nsmtp_port = 9\nfrom = \"lookout@example.org\"\nto = [\"desk@example.org\"]\n{settings}\n"
        ));
        assert!(
            wait_until(Duration::from_secs(20), || refused() > before),
            "{settings}: not refused\n{}",
            daemon.log_text()
        );
        let log = daemon.log_text();
        let line = log
            .lines()
            .rfind(|l| l.contains("configuration change refused"))
            .unwrap();
        assert!(
            line.contains("e-mail destination \"mail\"") && line.contains(named),
            "{line}"
        );
        drop_and_see_it_delivered(settings);
        assert_eq!(
            destination_states(&home).get("desk").map(|s| s.0.as_str()),
            Some("ok")
        );
    }

    // A restart that fails after those checks (a new destination's cursor is corrupt): the
    // status says delivery is stopped and why, and it starts again once the cause is gone. A
    // destination added by the same edit starts where the log was then: it misses nothing
    // raised while delivery was stopped.
    let cursor = home.path("state/webhooks/wire.cursor");
    std::fs::create_dir_all(cursor.parent().unwrap()).unwrap();
    std::fs::write(&cursor, "not a cursor").unwrap();
    write_config(&format!(
        "\n[[webhooks]]\nname = \"wire\"\nurl = \"{}\"\n\n[[webhooks]]\nname = \"fresh\"\nurl = \"{}\"\n",
        wire_listener.url, fresh_listener.url
    ));
    let all_stopped = || {
        let states = destination_states(&home);
        states.len() == 3
            && states
                .values()
                .all(|(state, problem)| state == "stopped" && problem.is_some())
    };
    assert!(
        wait_until(Duration::from_secs(20), all_stopped),
        "{:?}\n{}",
        destination_states(&home),
        daemon.log_text()
    );
    home.drop_file("zebra-while-stopped.txt", article(90).as_bytes());
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        delivered(),
        dropped,
        "nothing is sent while delivery is stopped"
    );
    std::fs::remove_file(&cursor).unwrap();
    let all_ok = || {
        let states = destination_states(&home);
        states.len() == 3 && states.values().all(|(state, _)| state == "ok")
    };
    assert!(
        wait_until(Duration::from_secs(40), all_ok),
        "{:?}\n{}",
        destination_states(&home),
        daemon.log_text()
    );
    // The alert that came while delivery was stopped waited in the log: sent once.
    assert!(
        wait_until(Duration::from_secs(20), || delivered() == dropped + 1),
        "{}",
        daemon.log_text()
    );
    home.drop_file("zebra-after.txt", article(91).as_bytes());
    assert!(
        wait_until(Duration::from_secs(20), || delivered() == dropped + 2
            && bodies(&wire_listener).len() == 1
            && bodies(&fresh_listener).len() == 2),
        "desk {} wire {} fresh {}\n{}",
        delivered(),
        bodies(&wire_listener).len(),
        bodies(&fresh_listener).len(),
        daemon.log_text()
    );
    std::thread::sleep(Duration::from_secs(1));
    let ids: Vec<String> = bodies(&listener)
        .iter()
        .filter_map(|(_, b)| b["alert_id"].as_str().map(str::to_string))
        .collect();
    let distinct: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(distinct.len(), ids.len(), "an alert sent twice: {ids:?}");
    assert_eq!(distinct, logged_alert_ids(&home));
    daemon.stop();
}

#[test]
fn a_corrupt_cursor_at_start_up_stops_delivery_not_the_daemon() {
    let listener = WebhookListener::start();
    let home = Home::new(&format!(
        "[[queries]]\nname = \"zebras\"\nquery = 'zebra'\n\n[[webhooks]]\nname = \"desk\"\nurl = \"{}\"\n",
        listener.url
    ));
    let cursor = home.path("state/webhooks/desk.cursor");
    std::fs::create_dir_all(cursor.parent().unwrap()).unwrap();
    std::fs::write(&cursor, "{ torn").unwrap();
    let daemon = home.start_daemon(1);
    home.drop_file("zebra-00.txt", article(0).as_bytes());
    assert!(
        wait_until(Duration::from_secs(20), || home.alert_lines().len() == 1),
        "the daemon indexes and alerts without delivery\n{}",
        daemon.log_text()
    );
    let states = destination_states(&home);
    let (state, problem) = &states["desk"];
    assert_eq!(state, "stopped", "{states:?}");
    assert!(
        problem
            .as_deref()
            .unwrap_or_default()
            .contains("desk.cursor"),
        "{problem:?}"
    );
    // Once the cause is gone, delivery starts by itself (the destination anew, at the log's end).
    std::fs::remove_file(&cursor).unwrap();
    assert!(
        wait_until(Duration::from_secs(40), || destination_states(&home)
            ["desk"]
            .0
            == "ok"),
        "{:?}\n{}",
        destination_states(&home),
        daemon.log_text()
    );
    home.drop_file("zebra-01.txt", article(1).as_bytes());
    assert!(
        wait_until(Duration::from_secs(20), || bodies(&listener).len() == 1),
        "{}",
        daemon.log_text()
    );
    daemon.stop();
}
