//! How extraction problems reach the user, end to end: the real daemon reading files dropped
//! into its watch folder (and `POST /documents`, `lookout ingest`): a multi-record file keeps
//! its good records and names its bad ones once (log, `lookout status`, `GET /status`); text
//! that says its encoding is read; files of other types are passed over quietly; the JSON keys
//! of `[json]` apply live.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::*;

const QUERIES: &str = "[[queries]]\nname = \"niger\"\nquery = 'niger'\n";

fn alerted_paths(home: &Home) -> Vec<String> {
    let mut paths: Vec<String> = home
        .alert_lines()
        .iter()
        .map(|a| a["doc"]["path"].as_str().unwrap_or_default().to_string())
        .collect();
    paths.sort();
    paths
}

fn wait_alerts(home: &Home, n: usize, daemon: &Daemon) {
    assert!(
        wait_until(Duration::from_secs(20), || home.alert_lines().len() >= n),
        "expected {n} alerts, have {:?}\n{}",
        alerted_paths(home),
        daemon.log_text()
    );
}

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

fn get_json(home: &Home, path: &str) -> Value {
    let response = http().get(format!("{}{path}", home.api())).send().unwrap();
    assert_eq!(response.status(), 200);
    response.json().unwrap()
}

fn metric(home: &Home, name: &str) -> f64 {
    let text = http()
        .get(format!("{}/metrics", home.api()))
        .send()
        .unwrap()
        .text()
        .unwrap();
    text.lines()
        .find(|l| l.starts_with(name) && !l.starts_with('#'))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn a_bad_line_loses_only_itself_and_is_reported_once() {
    let home = Home::new(QUERIES);
    let daemon = home.start_daemon(1);
    let lines = "{\"title\": \"One\", \"body\": \"Niger one\"}\n\
                 {\"title\": \"Two\", \"body\": \"Niger two\"\n\
                 {\"title\": \"Three\", \"body\": \"Niger three\", \"date\": \"01/11/2024\"}\n";
    home.drop_file("feed.jsonl", lines.as_bytes());
    wait_alerts(&home, 2, &daemon);
    daemon.wait_for_log(
        "feed.jsonl: 2 documents read, 1 record skipped: line 2 skipped: invalid JSON at column 36: EOF while parsing an object, near `…, \"body\": \"Niger two\"`; line 3: ",
        Duration::from_secs(10),
    );
    let log = daemon.log_text();
    assert!(
        log.contains("line 3: \"date\": `01/11/2024` is not a date lookout reads"),
        "{log}"
    );
    assert!(
        log.lines()
            .any(|l| l.contains(" WARN ") && l.contains("feed.jsonl")),
        "{log}"
    );
    assert!(!log.contains("ERROR"), "{log}");
    assert_eq!(
        alerted_paths(&home),
        [
            home.path("watch/feed.jsonl#1").display().to_string(),
            home.path("watch/feed.jsonl#3").display().to_string()
        ]
    );
    // Not a failed file, not quarantined; the status (live and at rest) names the lines.
    assert_eq!(metric(&home, "lookout_files_failed_total"), 0.0);
    // The status reads what is committed.
    assert!(wait_until(Duration::from_secs(10), || get_json(
        &home, "/status"
    )["warnings"]
        .as_array()
        .is_some_and(|w| !w.is_empty())));
    let status = get_json(&home, "/status");
    assert!(
        status["quarantined"].as_array().unwrap().is_empty(),
        "{status}"
    );
    let warnings = status["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{status}");
    assert!(warnings[0]["path"]
        .as_str()
        .unwrap()
        .ends_with("watch/feed.jsonl"));
    assert_eq!(warnings[0]["skipped_records"], 1);
    assert_eq!(warnings[0]["warnings"], 2);
    assert!(warnings[0]["details"][0]
        .as_str()
        .unwrap()
        .starts_with("line 2 skipped: invalid JSON"));
    daemon.stop();
    let out = home.lookout(&["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("warnings:    1 file(s) read with warnings"),
        "{text}"
    );
    assert!(
        text.contains("feed.jsonl: 1 record(s) skipped, 2 warning(s)"),
        "{text}"
    );
    assert!(
        text.contains("    line 2 skipped: invalid JSON at column 36"),
        "{text}"
    );
    assert!(text.contains("quarantine:  none"), "{text}");

    // Once per content: a restart says nothing again.
    let daemon = home.start_daemon(2);
    std::thread::sleep(Duration::from_millis(1500));
    let log = daemon.log_text();
    assert!(!log.contains("record skipped"), "{log}");

    // Fixed, the file leaves the report; its documents are all there.
    home.drop_file(
        "feed.jsonl",
        lines
            .replace("\"Niger two\"\n", "\"Niger two\"}\n")
            .replace("01/11/2024", "2024-11-01")
            .as_bytes(),
    );
    wait_alerts(&home, 3, &daemon);
    assert!(
        wait_until(Duration::from_secs(10), || get_json(&home, "/status")
            ["warnings"]
            .as_array()
            .is_some_and(Vec::is_empty)),
        "{}",
        daemon.log_text()
    );
    // The status shows a batch's notes from the moment it is applied; its documents are
    // searchable once it is committed (within `commit_interval`, after the alerts).
    assert!(
        wait_until(Duration::from_secs(10), || home.search("niger").len() == 3),
        "{}",
        daemon.log_text()
    );
    // A file with warnings that goes leaves the report too.
    home.drop_file("other.jsonl", b"{\"title\": \"Niger\"}\n42\n");
    assert!(wait_until(Duration::from_secs(10), || get_json(
        &home, "/status"
    )["warnings"]
        .as_array()
        .is_some_and(|w| w.len() == 1)));
    std::fs::remove_file(home.path("watch/other.jsonl")).unwrap();
    daemon.stop();
    let text = String::from_utf8_lossy(&home.lookout(&["status"]).stdout).into_owned();
    // The deletion is noticed by the reconcile at the next start.
    let daemon = home.start_daemon(3);
    assert!(
        wait_until(Duration::from_secs(10), || get_json(&home, "/status")
            ["warnings"]
            .as_array()
            .is_some_and(Vec::is_empty)),
        "{text}\n{}",
        daemon.log_text()
    );
    daemon.stop();
}

#[test]
fn text_that_says_its_encoding_is_read() {
    let home = Home::new(QUERIES);
    let daemon = home.start_daemon(1);
    let utf16 = |text: &str, big_endian: bool| -> Vec<u8> {
        let mut bytes = if big_endian {
            vec![0xFE, 0xFF]
        } else {
            vec![0xFF, 0xFE]
        };
        for unit in text.encode_utf16() {
            bytes.extend(if big_endian {
                unit.to_be_bytes()
            } else {
                unit.to_le_bytes()
            });
        }
        bytes
    };
    // What Windows Notepad and PowerShell write ("Unicode").
    home.drop_file(
        "notepad.txt",
        &utf16("Nigérien junta\r\n\r\nThe junta in Niger spoke.\r\n", false),
    );
    home.drop_file(
        "be.json",
        &utf16(r#"{"title": "Niamey", "body": "Niger, big-endian."}"#, true),
    );
    home.drop_file(
        "latin1.html",
        b"<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=iso-8859-1\">\
          <title>Caf\xe9 in Niger</title></head><body><p>The caf\xe9 re-opened.</p></body></html>",
    );
    // Latin-1 that does not say so stays refused, with what to do.
    home.drop_file("undeclared.txt", b"Caf\xe9 in Niger\n");
    wait_alerts(&home, 3, &daemon);
    daemon.wait_for_log(
        "undeclared.txt: not valid UTF-8 at byte 3: save it as UTF-8",
        Duration::from_secs(10),
    );
    daemon.stop();
    assert_eq!(home.search("title:nigerien").len(), 1);
    assert_eq!(home.search("title:cafe").len(), 1);
    assert_eq!(home.search("big endian").len(), 1);
}

#[test]
fn files_of_other_types_are_passed_over_quietly() {
    let home = Home::new(QUERIES);
    let mut daemon = home.start_daemon(1);
    home.drop_file("report.pdf", b"%PDF-1.7 Niger");
    home.drop_file("feed.xml", b"<rss>Niger</rss>");
    home.drop_file("NOTES", b"Niger");
    home.drop_file("ok.txt", b"Niger news\n\nThe junta in Niger spoke.\n");
    wait_alerts(&home, 1, &daemon);
    for name in ["report.pdf", "feed.xml", "NOTES"] {
        daemon.wait_for_log(
            &format!("watch/{name}: lookout does not read"),
            Duration::from_secs(10),
        );
    }
    let log = daemon.log_text();
    assert!(!log.contains("ERROR"), "{log}");
    assert!(!log.contains("skipped"), "{log}");
    assert_eq!(metric(&home, "lookout_files_failed_total"), 0.0);
    // The status reads what is committed.
    assert!(wait_until(Duration::from_secs(10), || get_json(
        &home, "/status"
    )["ignored_files"]
        == 3));
    let status = get_json(&home, "/status");
    assert!(status["quarantined"].as_array().unwrap().is_empty());
    assert!(daemon.is_running());
    daemon.stop();
    let text = String::from_utf8_lossy(&home.lookout(&["status"]).stdout).into_owned();
    assert!(
        text.contains("ignored:     3 file(s) of types lookout does not read (no extension 1, .pdf 1, .xml 1)"),
        "{text}"
    );
    // Said once per file: not again after a restart.
    let daemon = home.start_daemon(2);
    std::thread::sleep(Duration::from_millis(1500));
    let log = daemon.stop();
    assert!(
        !log.contains("INFO lookout::engine::files: ignored"),
        "{log}"
    );

    // `lookout ingest` of a folder holding them neither fails nor shouts; naming one is an error.
    let folder = home.path("inbox");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("scan.pdf"), b"%PDF").unwrap();
    std::fs::write(folder.join("mali.txt"), b"Mali\n\nNews from Bamako.\n").unwrap();
    let out = home.lookout(&["ingest", folder.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("1 file of other types ignored"), "{err}");
    assert!(
        !err.contains("ERROR") && !err.contains("skipped scan.pdf"),
        "{err}"
    );
    let pdf = folder.join("scan.pdf");
    let out = home.lookout(&["ingest", pdf.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("scan.pdf: lookout does not read this type of file"),
        "{err}"
    );
}

#[test]
fn posted_records_that_are_not_articles_are_named_in_the_answer() {
    let home = Home::new(QUERIES);
    let daemon = home.start_daemon(1);
    let post = |content_type: &str, body: &str| {
        http()
            .post(format!("{}/documents", home.api()))
            .header("content-type", content_type)
            .body(body.to_string())
            .send()
            .unwrap()
    };
    let response = post(
        "application/x-ndjson",
        "{\"title\": \"Niger\", \"body\": \"one\"}\nnot json\n{\"headline\": \"Niger two\", \"description\": \"d\"}\n",
    );
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().unwrap();
    assert_eq!(answer["documents"].as_array().unwrap().len(), 2, "{answer}");
    assert_eq!(answer["alerts"], 2, "{answer}");
    assert_eq!(answer["skipped_records"], 1, "{answer}");
    assert_eq!(answer["warnings"][0]["record"], "line 2", "{answer}");
    assert_eq!(answer["warnings"][0]["skipped"], true, "{answer}");
    assert!(
        answer["warnings"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("invalid JSON at column 2: expected ident, near `not json`"),
        "{answer}"
    );
    let response = post("application/json", r#"[{"title": "Niger three"}, 3]"#);
    let answer: Value = response.json().unwrap();
    assert_eq!(answer["warnings"][0]["record"], "element 2", "{answer}");
    // Nothing usable: 422, naming the records.
    let response = post("application/x-ndjson", "1\n[2]\n");
    assert_eq!(response.status(), 422);
    let body: Value = response.json().unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "no article found: line 1 skipped: expected an object, found a number; line 2 skipped"
        ),
        "{body}"
    );
    daemon.stop();
}

#[test]
fn json_keys_are_mapped_by_the_config_and_apply_live() {
    let home = Home::new(&format!(
        "{QUERIES}\n[json]\ntitle = [\"heading\"]\nbody = [\"story\"]\n"
    ));
    let daemon = home.start_daemon(1);
    home.drop_file(
        "a.json",
        br#"{"heading": "Niger talks", "story": "In Niamey."}"#,
    );
    wait_alerts(&home, 1, &daemon);
    assert_eq!(home.alert_lines()[0]["doc"]["title"], "Niger talks");
    // Edit the mapping while the daemon runs: files read from then on use it.
    let config = std::fs::read_to_string(home.config()).unwrap();
    std::fs::write(
        home.config(),
        config.replace("body = [\"story\"]", "body = [\"story\", \"lede\"]"),
    )
    .unwrap();
    daemon.wait_for_log("[json] keys changed", Duration::from_secs(15));
    home.drop_file(
        "b.json",
        br#"{"heading": "Second", "lede": "Niger again."}"#,
    );
    wait_alerts(&home, 2, &daemon);
    // A broken mapping is refused and the running one stays.
    let config = std::fs::read_to_string(home.config()).unwrap();
    std::fs::write(
        home.config(),
        config.replace("title = [\"heading\"]", "title = []"),
    )
    .unwrap();
    daemon.wait_for_log("json.title: name at least one key", Duration::from_secs(15));
    home.drop_file(
        "c.json",
        br#"{"heading": "Third", "story": "Niger thrice."}"#,
    );
    wait_alerts(&home, 3, &daemon);
    daemon.stop();
}

#[test]
fn a_dated_text_file_may_have_a_title() {
    let home = Home::new(QUERIES);
    let daemon = home.start_daemon(1);
    home.drop_file(
        "dated.txt",
        b"date 2024-03-28\nNiger ends pact\n\nThe junta ended its security agreement.\n",
    );
    home.drop_file("seed.txt", SEED_ARTICLE.as_bytes());
    wait_alerts(&home, 2, &daemon);
    daemon.stop();
    let hits = home.search("title:pact");
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert!(home.search("date:[2024-03-28 TO 2024-03-28]").len() == 2);
    // The seed's shape keeps no title.
    let seed = home.search("ripples");
    assert_eq!(seed.len(), 1);
    assert_eq!(seed[0]["title"], "", "{seed:?}");
}
