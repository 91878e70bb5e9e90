//! End to end: the real `lookout` binary in a temp folder, a real webhook listener on
//! 127.0.0.1, articles dropped by rename, copy and before start-up.

mod support;

use std::time::Duration;

use support::*;

fn config_with_webhook(url: &str) -> String {
    format!(
        r#"
[[queries]]
name = "niger-security"
query = 'Niger AND "security agreement"'

[[queries]]
name = "mali"
query = 'mali'

[[webhooks]]
name = "desk"
url = "{url}"
secret = "{SECRET}"
timeout_ms = 2000
"#
    )
}

#[test]
fn dropped_article_alerts_once_in_log_webhook_and_search() {
    let listener = WebhookListener::start();
    let home = Home::new(&config_with_webhook(&listener.url));
    let daemon = home.start_daemon(1);

    home.drop_file("2024-03-28-niger.txt", SEED_ARTICLE.as_bytes());

    // One alert line, with the query, the document and why.
    assert!(
        wait_until(Duration::from_secs(10), || !home.alert_lines().is_empty()),
        "no alert:\n{}",
        daemon.log_text()
    );
    let alerts = home.alert_lines();
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let alert = &alerts[0];
    assert_eq!(alert["query"]["name"], "niger-security");
    assert_eq!(alert["query"]["text"], "Niger AND \"security agreement\"");
    assert!(
        alert["doc"]["path"]
            .as_str()
            .unwrap()
            .ends_with("watch/2024-03-28-niger.txt"),
        "{alert}"
    );
    assert_eq!(alert["doc"]["date"], "2024-03-28");
    assert_eq!(alert["doc"]["title"], "");
    let snippet = alert["matched"]["snippet"].as_str().unwrap();
    assert!(snippet.contains("<b>security agreement</b>"), "{snippet}");
    let terms: Vec<&str> = alert["matched"]["terms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(terms, vec!["niger", "security agreement"]);
    let alert_id = alert["alert_id"].as_str().unwrap().to_string();
    assert!(alert_id.starts_with("q:niger-security/d:"), "{alert_id}");

    // A tracing line at INFO.
    daemon.wait_for_log("alert: 'niger-security' matched", Duration::from_secs(5));

    // One signed webhook POST whose signature verifies.
    assert!(
        wait_until(Duration::from_secs(10), || !listener.requests().is_empty()),
        "no webhook"
    );
    let requests = listener.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.header("webhook-id"), Some(alert_id.as_str()));
    let timestamp = request.header("webhook-timestamp").unwrap();
    let signature = request.header("webhook-signature").unwrap();
    assert!(lookout::webhooks::verify(
        SECRET,
        &alert_id,
        timestamp,
        &request.body,
        signature
    ));
    assert!(!lookout::webhooks::verify(
        "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        &alert_id,
        timestamp,
        &request.body,
        signature
    ));
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["alert_id"], alert_id.as_str());

    // Search finds it once committed.
    assert!(
        wait_until(Duration::from_secs(10), || home
            .search("Niger AND junta")
            .len()
            == 1),
        "search never found the article"
    );
    let hits = home.search("Niger AND junta");
    assert!(hits[0]["path"]
        .as_str()
        .unwrap()
        .ends_with("2024-03-28-niger.txt"));
    assert_eq!(hits[0]["date"], "2024-03-28");
    assert!(hits[0]["snippet"].as_str().unwrap().contains("<b>"));

    // Human search output: rank, title, date, path, snippet.
    let out = home.lookout(&["search", "Niger AND junta"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("2024-03-28")
            && text.contains("2024-03-28-niger.txt")
            && text.contains("1 of 1 matching document"),
        "{text}"
    );

    daemon.stop();

    // A second start on the same folder raises no new alert (the article is still there).
    let daemon = home.start_daemon(2);
    std::thread::sleep(Duration::from_millis(1500));
    // The same content under another name (a copy or a rename) does not alert either.
    home.drop_file("copy-of-niger.txt", SEED_ARTICLE.as_bytes());
    daemon.wait_for_log("already indexed file=", Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(500));
    let log = daemon.stop();
    assert_eq!(
        home.alert_lines().len(),
        1,
        "second run alerted again:\n{log}"
    );
    assert_eq!(listener.requests().len(), 1);
    assert_eq!(home.search("niger").len(), 1);
}

#[test]
fn files_before_startup_and_a_thousand_copied_at_once_are_all_indexed() {
    let home = Home::new("[[queries]]\nname = \"marker\"\nquery = 'lookoutmarker'\n");
    for i in 0..5 {
        std::fs::write(
            home.path(&format!("watch/early-{i}.txt")),
            format!("Early {i}\n\nlookoutmarker early article number {i}\n"),
        )
        .unwrap();
    }
    let daemon = home.start_daemon(1);
    let source = home.path("source");
    std::fs::create_dir_all(&source).unwrap();
    for i in 0..1000 {
        std::fs::write(
            source.join(format!("burst-{i:04}.txt")),
            format!("Burst {i}\n\nlookoutmarker burst article number {i}\n"),
        )
        .unwrap();
    }
    // Copied in at once, like `cp source/* watch/`.
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "cp {}/* {}/",
            source.display(),
            home.path("watch").display()
        ))
        .status()
        .unwrap();
    assert!(status.success());
    let ok = wait_until(Duration::from_secs(60), || {
        home.search("lookoutmarker").len() == 1005
    });
    assert!(
        ok,
        "indexed {} of 1005:\n{}",
        home.search("lookoutmarker").len(),
        daemon.log_text()
    );
    assert!(wait_until(Duration::from_secs(10), || home
        .alert_lines()
        .len()
        == 1005));
    daemon.stop();
    assert_eq!(home.alert_lines().len(), 1005);
}

#[test]
fn bad_files_and_bad_queries_are_refused_clearly_and_the_daemon_keeps_going() {
    let home = Home::new(
        r#"
[[queries]]
name = "good"
query = 'niger'

[[queries]]
name = "unknown-field"
query = 'region:sahel'

[[queries]]
name = "syntax"
query = 'niger AND '
"#,
    );
    let mut daemon = home.start_daemon(1);
    let log = daemon.log_text();
    assert!(
        log.contains("saved query 'unknown-field': unknown field 'region'"),
        "{log}"
    );
    assert!(
        log.contains("saved query 'syntax': expected a term after AND at column 11"),
        "{log}"
    );

    home.drop_file("binary.txt", &[0x7f, b'E', b'L', b'F', 0, 0, 1, 2, 3]);
    home.drop_file("empty.txt", b"");
    // Wait for the pipeline's verdicts, not just the watcher's "file ready".
    daemon.wait_for_log("binary.txt: binary file", Duration::from_secs(10));
    daemon.wait_for_log("empty.txt: empty file", Duration::from_secs(10));
    let log = daemon.log_text();
    assert_eq!(count_lines(&daemon.log, "skipped"), 2, "{log}");
    assert!(
        log.lines()
            .any(|l| l.contains("binary.txt") && l.contains("binary file")),
        "{log}"
    );
    assert!(
        log.lines()
            .any(|l| l.contains("empty.txt") && l.contains("empty file")),
        "{log}"
    );
    assert!(daemon.is_running());

    home.drop_file("ok.txt", b"Niger news\n\nThe junta in Niger spoke.\n");
    assert!(
        wait_until(Duration::from_secs(10), || home.alert_lines().len() == 1),
        "{}",
        daemon.log_text()
    );
    assert_eq!(home.alert_lines()[0]["query"]["name"], "good");
    daemon.stop();

    // `queries check` exits non-zero with a positioned message for each bad one.
    let out = home.lookout(&["queries", "check"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("saved query 'unknown-field': unknown field 'region'")
            && err.contains("at column 1"),
        "{err}"
    );
    assert!(
        err.contains("saved query 'syntax': expected a term after AND at column 11"),
        "{err}"
    );
    let out = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.contains("3 saved queries checked: 1 valid, 2 invalid"),
        "{out}"
    );
}

#[test]
fn an_invalid_config_is_refused_with_file_key_and_problem() {
    let home = Home::new("colour = \"blue\"\n");
    let out = home.lookout(&["run"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("config.toml") && err.contains("unknown field `colour`"),
        "{err}"
    );
    assert_eq!(
        err.lines().filter(|l| l.contains("lookout:")).count(),
        1,
        "{err}"
    );
}

#[test]
fn alerts_replay_redelivers_to_a_webhook() {
    let listener = WebhookListener::start();
    let home = Home::new(&config_with_webhook(&listener.url));
    let daemon = home.start_daemon(1);
    home.drop_file("a.txt", b"A\n\nMali news.\n");
    home.drop_file("b.txt", SEED_ARTICLE.as_bytes());
    assert!(wait_until(Duration::from_secs(10), || listener
        .requests()
        .len()
        == 2));
    daemon.stop();
    let out = home.lookout(&["alerts", "replay", "--webhook", "desk"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("2 alerts selected, 2 delivered, 0 failed"),
        "{text}"
    );
    let requests = listener.requests();
    assert_eq!(requests.len(), 4);
    // The same ids: a receiver deduplicating by webhook-id sees each alert once.
    let mut ids: Vec<_> = requests
        .iter()
        .map(|r| r.header("webhook-id").unwrap().to_string())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 2);
    let out = home.lookout(&[
        "alerts",
        "replay",
        "--webhook",
        "desk",
        "--since",
        "2999-01-01",
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 alerts selected"));
    let out = home.lookout(&["alerts", "replay", "--to", "nope"]);
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("no webhook or e-mail destination named 'nope'"));
}

#[test]
fn a_file_of_many_articles_and_the_small_files_behind_it_all_alert() {
    // The big file's documents take many slices to apply; when its last part has come, what
    // it still holds must be applied (it once stayed in flight for ever, and every file taken
    // behind it with it).
    let home = Home::new(
        "[[queries]]\nname = \"marker\"\nquery = 'lookoutmarker'\n\n[engine]\nworkers = 2\n",
    );
    let daemon = home.start_daemon(1);
    let records: String = (0..2000)
        .map(|i| {
            format!(
                "{{\"title\": \"Record {i}\", \"body\": \"lookoutmarker record number {i}\"}}\n"
            )
        })
        .collect();
    home.drop_file("many.jsonl", records.as_bytes());
    for i in 0..5 {
        home.drop_file(
            &format!("small-{i}.txt"),
            format!("Small {i}\n\nlookoutmarker small article {i}\n").as_bytes(),
        );
    }
    let ok = wait_until(Duration::from_secs(120), || {
        home.alert_lines().len() == 2005
    });
    assert!(
        ok,
        "{} alerts of 2005:\n{}",
        home.alert_lines().len(),
        daemon.log_text()
    );
    daemon.stop();
    assert_eq!(home.alert_lines().len(), 2005);
}
