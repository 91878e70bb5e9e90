//! Bugs do not end the daemon: with fault injection (tikv's fail-rs; `cargo test` builds the
//! binary with the `failpoints` feature, configured by `FAILPOINTS`), a panic while processing
//! one file quarantines that file with the reason, a panic while answering one request answers
//! a JSON 500, and a watcher or webhook delivery task that dies is restarted; in every case the
//! daemon goes on, loses nothing and doubles nothing.

mod support;

use std::time::Duration;

use reqwest::blocking::Client;
use serde_json::{json, Value};
use support::*;

const QUERIES: &str = r#"
[[queries]]
name = "niger"
query = 'niger'
"#;

fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn niger_alerts(home: &Home) -> Vec<String> {
    let mut paths: Vec<String> = home
        .alert_lines()
        .iter()
        .filter(|a| a["query"]["name"] == "niger")
        .map(|a| file_name(&a["doc"]["path"]))
        .collect();
    paths.sort();
    paths
}

/// The file name of a path a JSON answer gives.
fn file_name(path: &Value) -> String {
    let path = path.as_str().expect("a path");
    path.rsplit('/').next().unwrap_or(path).to_string()
}

#[test]
fn a_bug_met_by_one_file_quarantines_it_and_the_daemon_goes_on() {
    let home = Home::new(QUERIES);
    let mut daemon = home.start_daemon_with_env(1, &[("FAILPOINTS", "pipeline::document=panic")]);
    home.drop_file("poison.txt", b"Niger: lookout-failpoint in this article.\n");
    home.drop_file("good.txt", b"Niger said so.\n");
    assert!(
        wait_until(Duration::from_secs(15), || niger_alerts(&home)
            == ["good.txt"]),
        "{:?}\n{}",
        niger_alerts(&home),
        daemon.log_text()
    );
    assert!(daemon.is_running(), "{}", daemon.log_text());
    daemon.wait_for_log("bug while processing this file", Duration::from_secs(5));
    // The poisoned file is listed with its reason (after the next commit).
    let listed = || {
        let status = client()
            .get(format!("{}/status", home.api()))
            .send()
            .unwrap()
            .json::<Value>()
            .unwrap();
        status["quarantined"].as_array().unwrap().iter().any(|q| {
            q["path"].as_str().unwrap().ends_with("poison.txt")
                && q["reason"].as_str().unwrap().contains("internal error")
        })
    };
    assert!(
        wait_until(Duration::from_secs(10), listed),
        "{}",
        daemon.log_text()
    );
    // Later files go through as usual, once each.
    home.drop_file("later.txt", b"Niger, later.\n");
    assert!(
        wait_until(Duration::from_secs(15), || niger_alerts(&home).len() == 2),
        "{}",
        daemon.log_text()
    );
    assert_eq!(niger_alerts(&home), ["good.txt", "later.txt"]);
    daemon.stop();
}

#[test]
fn a_bug_met_by_one_request_answers_500_and_the_daemon_goes_on() {
    let home = Home::new(QUERIES);
    let mut daemon = home.start_daemon_with_env(1, &[("FAILPOINTS", "daemon::put_query=panic")]);
    let api = home.api();
    let http = client();
    let answer = http
        .put(format!("{api}/queries/bad"))
        .json(&json!({"query": "mali AND lookout-failpoint"}))
        .send()
        .unwrap();
    assert_eq!(answer.status(), 500);
    let body: Value = answer.json().unwrap();
    assert_eq!(body["error"]["code"], "internal", "{body:#}");
    assert!(daemon.is_running(), "{}", daemon.log_text());
    // The next request works, and so do files.
    let answer = http
        .put(format!("{api}/queries/mali"))
        .json(&json!({"query": "mali"}))
        .send()
        .unwrap();
    assert_eq!(answer.status(), 201, "{}", answer.text().unwrap());
    home.drop_file("a.txt", b"Niger and Mali.\n");
    assert!(
        wait_until(Duration::from_secs(15), || home.alert_lines().len() == 2),
        "{:#?}\n{}",
        home.alert_lines(),
        daemon.log_text()
    );
    assert_eq!(
        http.get(format!("{api}/healthz")).send().unwrap().status(),
        200
    );
    daemon.stop();
}

#[test]
fn a_watcher_that_dies_is_restarted_and_finds_the_files() {
    let home = Home::new(QUERIES);
    let mut daemon = home.start_daemon_with_env(1, &[("FAILPOINTS", "watcher::emit=1*panic")]);
    home.drop_file("a.txt", b"Niger, first.\n");
    daemon.wait_for_log(
        "the folder watcher stopped unexpectedly",
        Duration::from_secs(15),
    );
    assert!(
        wait_until(Duration::from_secs(20), || niger_alerts(&home) == ["a.txt"]),
        "{}",
        daemon.log_text()
    );
    home.drop_file("b.txt", b"Niger, second.\n");
    assert!(
        wait_until(Duration::from_secs(15), || niger_alerts(&home)
            == ["a.txt", "b.txt"]),
        "{}",
        daemon.log_text()
    );
    assert!(daemon.is_running());
    daemon.stop();
}

#[test]
fn a_webhook_delivery_that_dies_is_restarted_and_delivers() {
    let listener = WebhookListener::start();
    let home = Home::new(&format!(
        "{QUERIES}\n[[webhooks]]\nname = \"desk\"\nurl = \"{}\"\ntimeout_ms = 2000\n",
        listener.url
    ));
    let daemon = home.start_daemon_with_env(1, &[("FAILPOINTS", "delivery::line=1*panic")]);
    home.drop_file("a.txt", b"Niger, first.\n");
    home.drop_file("b.txt", b"Niger, second.\n");
    daemon.wait_for_log(
        "webhook delivery stopped unexpectedly",
        Duration::from_secs(15),
    );
    assert!(
        wait_until(Duration::from_secs(20), || listener.requests().len() >= 2),
        "{} requests\n{}",
        listener.requests().len(),
        daemon.log_text()
    );
    daemon.stop();
}

#[test]
fn a_long_backfill_runs_in_slices_while_files_and_requests_go_on() {
    let home = Home::new("[[queries]]\nname = \"live\"\nquery = 'zebra'\n");
    // Every backfill slice (256 documents) takes 250 ms more: 1,200 documents take > 1 s.
    let daemon =
        home.start_daemon_with_env(1, &[("FAILPOINTS", "daemon::backfill_slice=sleep(250)")]);
    let api = home.api();
    let http = client();
    let body: String = (0..1200)
        .map(|i| format!("{{\"title\": \"Article {i}\", \"body\": \"an article numbered {i}\"}}\n"))
        .collect();
    let answer = http
        .post(format!("{api}/documents"))
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .unwrap();
    assert!(answer.status().is_success(), "{}", answer.text().unwrap());

    let put = {
        let api = api.clone();
        std::thread::spawn(move || {
            let answer = client()
                .put(format!("{api}/queries/every?backfill=true"))
                .json(&json!({"query": "article"}))
                .send()
                .unwrap();
            let status = answer.status();
            let body: Value = answer.json().unwrap();
            (status, body, std::time::Instant::now())
        })
    };
    // Once the backfill has begun, a file and a status request go through before it ends.
    assert!(
        wait_until(Duration::from_secs(20), || home
            .alert_lines()
            .iter()
            .any(|a| a["backfill"] == true)),
        "{}",
        daemon.log_text()
    );
    home.drop_file("live.txt", b"A zebra article.\n");
    let status = http.get(format!("{api}/status")).send().unwrap();
    assert_eq!(status.status(), 200);
    let status_answered = std::time::Instant::now();
    let (put_status, put_body, put_answered) = put.join().unwrap();
    assert_eq!(put_status, 201, "{put_body:#}");
    assert_eq!(put_body["backfill"]["matched"], 1200, "{put_body:#}");
    assert_eq!(put_body["backfill"]["alerts"], 1200, "{put_body:#}");
    assert!(
        status_answered < put_answered,
        "/status waited for the backfill"
    );
    // The dropped file's live alert was written while the backfill still ran.
    let lines = home.alert_lines();
    let live = lines
        .iter()
        .position(|a| a["query"]["name"] == "live")
        .expect("live alert");
    let last_backfill = lines.iter().rposition(|a| a["backfill"] == true).unwrap();
    assert!(live < last_backfill, "the file waited for the backfill");
    // The backfill raised each alert once; the file's own alert for `every` is live.
    assert_eq!(
        lines
            .iter()
            .filter(|a| a["query"]["name"] == "every")
            .count(),
        1201
    );
    daemon.stop();
}

#[test]
fn a_file_of_many_articles_is_processed_in_slices_while_requests_go_on() {
    let home = Home::new(QUERIES);
    // Every article of the file takes 50 ms more: 60 of them take 3 s.
    let daemon = home.start_daemon_with_env(1, &[("FAILPOINTS", "pipeline::document=sleep(50)")]);
    let api = home.api();
    let lines: String = (0..60)
        .map(|i| {
            format!("{{\"title\": \"Niger {i}\", \"body\": \"lookout-failpoint article {i}\"}}\n")
        })
        .collect();
    home.drop_file("many.jsonl", lines.as_bytes());
    assert!(
        wait_until(Duration::from_secs(20), || !home.alert_lines().is_empty()),
        "{}",
        daemon.log_text()
    );
    // While the file is under way, a status request and a new saved query are answered.
    let http = client();
    let status = http.get(format!("{api}/status")).send().unwrap();
    assert_eq!(status.status(), 200);
    let saved = http
        .put(format!("{api}/queries/later"))
        .json(&json!({"query": "article"}))
        .send()
        .unwrap();
    assert_eq!(saved.status(), 201);
    let answered_after = home.alert_lines().len();
    assert!(
        answered_after < 60,
        "the requests waited for the whole file"
    );
    // The file is finished, every article once; the query saved meanwhile alerts on the rest.
    assert!(
        wait_until(Duration::from_secs(30), || niger_alerts(&home).len() == 60),
        "{}",
        daemon.log_text()
    );
    let later = home
        .alert_lines()
        .iter()
        .filter(|a| a["query"]["name"] == "later")
        .count();
    assert!(later > 0 && later < 60, "{later}");
    daemon.stop();
}

#[test]
fn posted_articles_are_processed_in_slices_while_requests_go_on() {
    let home = Home::new(QUERIES);
    // Every posted article takes 50 ms more: 60 of them take 3 s.
    let daemon = home.start_daemon_with_env(1, &[("FAILPOINTS", "pipeline::document=sleep(50)")]);
    let api = home.api();
    let body: String = (0..60)
        .map(|i| {
            format!("{{\"title\": \"Niger {i}\", \"body\": \"lookout-failpoint posted {i}\"}}\n")
        })
        .collect();
    let post = {
        let api = api.clone();
        std::thread::spawn(move || {
            let answer = client()
                .post(format!("{api}/documents"))
                .header("content-type", "application/x-ndjson")
                .body(body)
                .send()
                .unwrap();
            let status = answer.status();
            let json: Value = answer.json().unwrap();
            (status, json, std::time::Instant::now())
        })
    };
    assert!(
        wait_until(Duration::from_secs(20), || !home.alert_lines().is_empty()),
        "{}",
        daemon.log_text()
    );
    let status = client().get(format!("{api}/status")).send().unwrap();
    assert_eq!(status.status(), 200);
    let status_answered = std::time::Instant::now();
    let (post_status, json, post_answered) = post.join().unwrap();
    assert_eq!(post_status, 200, "{json:#}");
    assert_eq!(json["documents"].as_array().unwrap().len(), 60, "{json:#}");
    assert!(
        status_answered < post_answered,
        "/status waited for the whole body"
    );
    assert_eq!(niger_alerts(&home).len(), 60);
    daemon.stop();
}

#[test]
fn the_status_names_a_files_warnings_and_quarantine_as_soon_as_its_documents_are_searchable() {
    let home = Home::new(QUERIES);
    // The index is committed and searchable 1.5 s before the ledger records the batch.
    let mut daemon = home.start_daemon_with_env(1, &[("FAILPOINTS", "commit::ledger=sleep(1500)")]);
    let api = home.api();
    home.drop_file("broken.json", b"{\"title\": \"never closed\", \"body\": ");
    std::thread::sleep(Duration::from_millis(300));
    home.drop_file(
        "batch.jsonl",
        b"{\"title\": \"one\", \"body\": \"Niger first\"}\n{\"title\": \"broken\", \"body\": \n{\"title\": \"two\", \"body\": \"Niger second\"}\n",
    );
    assert!(
        wait_until(Duration::from_secs(20), || home.search("niger").len() == 2),
        "{}",
        daemon.log_text()
    );
    let status_now = || -> Value {
        client()
            .get(format!("{api}/status"))
            .send()
            .unwrap()
            .json()
            .unwrap()
    };
    let named = |status: &Value, list: &str| -> Vec<String> {
        status[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| file_name(&f["path"]))
            .collect()
    };
    // Before the ledger has the batch, and once it has it: the same report, each file once.
    for status in [status_now(), {
        std::thread::sleep(Duration::from_secs(3));
        status_now()
    }] {
        assert_eq!(named(&status, "warnings"), ["batch.jsonl"], "{status:#}");
        assert_eq!(status["warnings"][0]["skipped_records"], 1, "{status:#}");
        assert_eq!(named(&status, "quarantined"), ["broken.json"], "{status:#}");
    }
    assert!(daemon.is_running(), "{}", daemon.log_text());
    daemon.stop();
}
