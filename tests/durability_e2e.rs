//! Nothing lost, nothing doubled, bad input refused clearly: the real daemon against the ways
//! files really arrive (slow writers, editor saves, rewrites, copies, renames, deletions) and
//! junk, with the ledger keeping restarts honest.

mod support;

use std::io::Write;
use std::time::Duration;

use support::*;

const QUERIES: &str = r#"
[[queries]]
name = "niger"
query = 'niger'

[[queries]]
name = "mali"
query = 'mali'

[[queries]]
name = "pact"
query = '"security pact"'
"#;

fn alerts_for(home: &Home, file: &str) -> Vec<String> {
    let mut names: Vec<String> = home
        .alert_lines()
        .iter()
        .filter(|a| a["doc"]["path"].as_str().unwrap().ends_with(file))
        .map(|a| a["query"]["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

fn wait_alerts(home: &Home, n: usize, daemon: &Daemon) {
    assert!(
        wait_until(Duration::from_secs(15), || home.alert_lines().len() >= n),
        "expected {n} alerts, have {:#?}\n{}",
        home.alert_lines(),
        daemon.log_text()
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(home.alert_lines().len(), n, "{:#?}", home.alert_lines());
}

#[test]
fn writers_each_end_in_one_document_and_the_right_alerts() {
    let home = Home::new(QUERIES);
    let daemon = home.start_daemon(1);

    // A slow writer, chunk by chunk, keeping the file open.
    let mut file = std::fs::File::create(home.path("watch/slow.txt")).unwrap();
    for chunk in [
        "Slow news\n\n",
        "The junta in ",
        "Niger spoke ",
        "about the ",
        "security pact.",
    ] {
        file.write_all(chunk.as_bytes()).unwrap();
        file.flush().unwrap();
        std::thread::sleep(Duration::from_millis(120));
    }
    drop(file);
    wait_alerts(&home, 2, &daemon);
    assert_eq!(alerts_for(&home, "slow.txt"), vec!["niger", "pact"]);

    // An editor's save: write a temporary file, then rename it over the original.
    std::fs::write(
        home.path("watch/.edited.txt.swp"),
        "Draft\n\nMali and Niger.\n",
    )
    .unwrap();
    std::fs::rename(
        home.path("watch/.edited.txt.swp"),
        home.path("watch/edited.txt"),
    )
    .unwrap();
    wait_alerts(&home, 4, &daemon);
    assert_eq!(alerts_for(&home, "edited.txt"), vec!["mali", "niger"]);

    // Truncate and rewrite in place: the new content replaces the old document, and only the
    // queries that had not alerted on this path alert.
    std::fs::write(
        home.path("watch/edited.txt"),
        "Draft 2\n\nMali, Niger and the security pact.\n",
    )
    .unwrap();
    wait_alerts(&home, 5, &daemon);
    assert_eq!(
        alerts_for(&home, "edited.txt"),
        vec!["mali", "niger", "pact"]
    );
    assert!(
        wait_until(Duration::from_secs(5), || home.search("draft").len() == 1),
        "old version still indexed"
    );
    assert_eq!(home.search("\"draft 2\"").len(), 1);

    // A copy of a file with an old mtime is still a new file.
    let old = home.path("old.txt");
    std::fs::write(&old, "Archive\n\nMali in 1987.\n").unwrap();
    let status = std::process::Command::new("touch")
        .args(["-d", "1987-02-26"])
        .arg(&old)
        .status()
        .unwrap();
    assert!(status.success());
    let status = std::process::Command::new("cp")
        .arg("-p")
        .arg(&old)
        .arg(home.path("watch/"))
        .status()
        .unwrap();
    assert!(status.success());
    wait_alerts(&home, 6, &daemon);
    assert_eq!(alerts_for(&home, "old.txt"), vec!["mali"]);

    // A rename moves the document; it does not alert again.
    std::fs::rename(
        home.path("watch/old.txt"),
        home.path("watch/archive-1987.txt"),
    )
    .unwrap();
    assert!(
        wait_until(Duration::from_secs(5), || {
            let hits = home.search("archive");
            hits.len() == 1
                && hits[0]["path"]
                    .as_str()
                    .unwrap()
                    .ends_with("archive-1987.txt")
        }),
        "rename not followed: {:?}\n{}",
        home.search("archive"),
        daemon.log_text()
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(home.alert_lines().len(), 6);
    daemon.stop();

    // A restart changes nothing.
    let daemon = home.start_daemon(2);
    std::thread::sleep(Duration::from_millis(1500));
    daemon.stop();
    assert_eq!(home.alert_lines().len(), 6);
    assert_eq!(home.search("niger OR mali").len(), 3);
}

#[test]
fn deleted_files_keep_or_remove_their_documents() {
    for (policy, kept) in [("keep", 1), ("remove", 0)] {
        let home = Home::new(&format!("on_delete = \"{policy}\"\n{QUERIES}"));
        let daemon = home.start_daemon(1);
        home.drop_file("gone.txt", b"Gone\n\nNiger news that will be deleted.\n");
        home.drop_file("other.txt", b"Other\n\nMali news that stays.\n");
        wait_alerts(&home, 2, &daemon);
        std::thread::sleep(Duration::from_millis(500));
        daemon.stop();
        std::fs::remove_file(home.path("watch/gone.txt")).unwrap();
        // Deleted while lookout was not running: noticed at start-up.
        let daemon = home.start_daemon(2);
        assert!(
            wait_until(Duration::from_secs(10), || home.search("deleted").len()
                == kept),
            "{policy}: {:?}\n{}",
            home.search("deleted"),
            daemon.log_text()
        );
        daemon.wait_for_log("file deleted", Duration::from_secs(5));
        assert_eq!(home.search("stays").len(), 1);
        daemon.stop();
        assert_eq!(home.alert_lines().len(), 2);
    }
}

#[test]
fn a_vanished_watch_folder_is_reported_not_treated_as_deletions() {
    let home = Home::new(&format!("on_delete = \"remove\"\n{QUERIES}"));
    let daemon = home.start_daemon(1);
    home.drop_file("kept.txt", b"Kept\n\nNiger article.\n");
    wait_alerts(&home, 1, &daemon);
    std::thread::sleep(Duration::from_millis(500));
    daemon.stop();
    std::fs::rename(home.path("watch"), home.path("watch-moved")).unwrap();
    let daemon = home.start_daemon(2);
    daemon.wait_for_log("the watch folder is missing", Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        home.search("niger").len(),
        1,
        "a missing folder must not delete documents"
    );
    // Meanwhile the daemon serves: the status says the folder is missing, a query is saved.
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let status: serde_json::Value = http
        .get(format!("{}/status", home.api()))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(status.to_string().contains("missing"), "{status}");
    let saved = http
        .put(format!("{}/queries/while-missing", home.api()))
        .json(&serde_json::json!({"query": "zebra"}))
        .send()
        .unwrap();
    assert_eq!(saved.status(), 201);
    std::fs::rename(home.path("watch-moved"), home.path("watch")).unwrap();
    daemon.wait_for_log("watch folder is back", Duration::from_secs(10));
    home.drop_file(
        "new.txt",
        b"New

Mali article.
",
    );
    wait_alerts(&home, 2, &daemon);
    daemon.stop();
    assert_eq!(home.search("niger").len(), 1);
}

#[test]
fn junk_gets_one_clear_error_each_and_is_quarantined() {
    let home = Home::new(QUERIES);
    let mut daemon = home.start_daemon(1);
    // 100 MiB (sparse), beyond the default max_file_size of 20 MiB.
    let big = home.path(".big.txt.part");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(100 * 1024 * 1024)
        .unwrap();
    std::fs::rename(&big, home.path("watch/big.txt")).unwrap();
    home.drop_file("empty.txt", b"");
    home.drop_file("binary.txt", b"\x7fELF\x00\x00\x01\x02");
    home.drop_file("latin1.txt", b"Caf\xe9 in Niger\n");
    home.drop_file(
        "deep.html",
        format!(
            "<html><body>{}Niger{}</body></html>",
            "<div>".repeat(50_000),
            "</div>".repeat(50_000)
        )
        .as_bytes(),
    );
    home.drop_file(
        "deep.json",
        format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000)).as_bytes(),
    );
    home.drop_file(
        "broken.jsonl",
        b"{\"title\":\"ok\",\"body\":\"Niger\"}\n{not json\n",
    );
    std::os::unix::fs::symlink("/etc/passwd", home.path("watch/escape.txt")).unwrap();
    for (file, reason) in [
        ("empty.txt", "empty file"),
        ("binary.txt", "binary file"),
        ("latin1.txt", "not valid UTF-8"),
        ("big.txt", "too large"),
        ("deep.html", "nested too deeply"),
        ("deep.json", "nested too deeply"),
        // One bad line does not lose the file: the good line is indexed, the bad one named.
        (
            "broken.jsonl",
            "1 document read, 1 record skipped: line 2 skipped: invalid JSON",
        ),
    ] {
        daemon.wait_for_log(&format!("{file}: {reason}"), Duration::from_secs(15));
    }
    // The symlink out of the folder is not followed.
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !daemon.log_text().contains("escape.txt: "),
        "{}",
        daemon.log_text()
    );
    assert!(home.search("root").is_empty());
    // The daemon keeps going.
    assert!(daemon.is_running());
    // broken.jsonl's good line alerts, then good.txt.
    home.drop_file("good.txt", b"Good\n\nNiger.\n");
    wait_alerts(&home, 2, &daemon);
    daemon.stop();
    assert_eq!(
        count_lines(
            &daemon_log(&home, 1),
            "ERROR lookout::engine::files: skipped"
        ),
        6
    );

    // Quarantined files are listed with their reason, and not reported again after a restart.
    let out = home.lookout(&["status"]);
    let status = String::from_utf8_lossy(&out.stdout);
    assert!(status.contains("quarantine:  6 file(s)"), "{status}");
    assert!(status.contains("binary.txt: binary file"), "{status}");
    let daemon = home.start_daemon(2);
    std::thread::sleep(Duration::from_millis(1500));
    let log = daemon.stop();
    assert_eq!(
        count_lines(
            &daemon_log(&home, 2),
            "ERROR lookout::engine::files: skipped"
        ),
        0,
        "{log}"
    );
}

fn daemon_log(home: &Home, n: usize) -> std::path::PathBuf {
    home.path(&format!("daemon-{n}.log"))
}

#[test]
fn a_second_daemon_on_the_same_index_exits_with_a_clear_message() {
    let home = Home::new(QUERIES);
    let daemon = home.start_daemon(1);
    let out = home.lookout(&["run"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("in use by another lookout process"), "{err}");
    daemon.stop();
}

#[test]
fn a_hanging_webhook_never_delays_ingest_or_the_alert_log() {
    // A listener that accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = held.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            keep.lock().unwrap().push(stream);
        }
    });
    let home = Home::new(&format!(
        "{QUERIES}\n[[webhooks]]\nname = \"stuck\"\nurl = \"http://127.0.0.1:{port}/hook\"\ntimeout_ms = 30000\n"
    ));
    let daemon = home.start_daemon(1);
    for i in 0..5 {
        let started = std::time::Instant::now();
        home.drop_file(
            &format!("n{i}.txt"),
            format!("News {i}\n\nNiger report number {i}.\n").as_bytes(),
        );
        assert!(
            wait_until(Duration::from_secs(3), || home.alert_lines().len() == i + 1),
            "alert {i} delayed by the webhook:\n{}",
            daemon.log_text()
        );
        assert!(started.elapsed() < Duration::from_secs(3));
    }
    assert!(wait_until(Duration::from_secs(5), || home
        .search("report")
        .len()
        == 5));
    assert!(
        !held.lock().unwrap().is_empty(),
        "the webhook was never called"
    );
    daemon.stop();
}

#[test]
fn an_alert_log_rotated_or_deleted_while_running_gets_a_new_file() {
    let listener = WebhookListener::start();
    let home = Home::new(&format!(
        "{QUERIES}\n[[webhooks]]\nname = \"desk\"\nurl = \"{}\"\ntimeout_ms = 2000\n",
        listener.url
    ));
    let daemon = home.start_daemon(1);
    home.drop_file("a.txt", b"Niger said so.\n");
    wait_alerts(&home, 1, &daemon);

    // Rotation by rename: the next alert starts a new file at the configured path.
    std::fs::rename(home.path("alerts.jsonl"), home.path("alerts.jsonl.1")).unwrap();
    home.drop_file("b.txt", b"Mali said so.\n");
    wait_alerts(&home, 1, &daemon);
    assert_eq!(alerts_for(&home, "b.txt"), ["mali"]);
    daemon.wait_for_log("the alert log was moved away", Duration::from_secs(5));

    // Deleted: the same.
    std::fs::remove_file(home.path("alerts.jsonl")).unwrap();
    home.drop_file("c.txt", b"A security pact was signed.\n");
    wait_alerts(&home, 1, &daemon);
    assert_eq!(alerts_for(&home, "c.txt"), ["pact"]);

    // Readers of the path see the new alerts; the webhook got every alert once.
    let out = home.lookout(&["alerts", "--json"]);
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("c.txt"), "{shown}");
    assert!(
        wait_until(Duration::from_secs(10), || listener.requests().len() >= 3),
        "webhook got {} requests\n{}",
        listener.requests().len(),
        daemon.log_text()
    );
    let mut ids: Vec<String> = listener
        .requests()
        .iter()
        .map(|r| r.header("webhook-id").unwrap().to_string())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "{ids:?}");

    // A restart raises nothing again.
    daemon.stop();
    let daemon = home.start_daemon(2);
    home.drop_file("d.txt", b"Niger and Mali, again.\n");
    wait_alerts(&home, 3, &daemon);
    assert_eq!(alerts_for(&home, "d.txt"), ["mali", "niger"]);
}
