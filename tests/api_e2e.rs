//! End to end over HTTP: the real `lookout` binary serving its API on 127.0.0.1, driven the way
//! a client does: saved queries with dry runs and backfills, search, documents, the alert log
//! and its live stream, metrics, the token; and the config edited while the daemon runs.

mod support;

use std::io::{BufRead, BufReader};
use std::time::Duration;

use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::{json, Value};
use support::*;

const MALI_ARTICLE: &str =
    "Mali's transitional government extended its mandate, officials in Bamako said.\n";
const OTHER_ARTICLE: &str =
    "Coffee prices rose on the New York exchange as Brazil's harvest slowed.\n";

/// A client for one daemon's API.
struct Api {
    base: String,
    token: Option<String>,
    http: Client,
}

impl Api {
    fn new(home: &Home) -> Api {
        Api {
            base: home.api(),
            token: None,
            http: Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
        }
    }

    fn with_token(mut self, token: &str) -> Api {
        self.token = Some(token.to_string());
        self
    }

    fn auth(&self, request: RequestBuilder) -> RequestBuilder {
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    fn get(&self, path: &str) -> Response {
        self.auth(self.http.get(format!("{}{path}", self.base)))
            .send()
            .unwrap()
    }

    fn put(&self, path: &str, body: Value) -> Response {
        self.auth(self.http.put(format!("{}{path}", self.base)).json(&body))
            .send()
            .unwrap()
    }

    fn post(&self, path: &str, content_type: &str, body: impl Into<String>) -> Response {
        self.auth(
            self.http
                .post(format!("{}{path}", self.base))
                .header("content-type", content_type)
                .body(body.into()),
        )
        .send()
        .unwrap()
    }

    fn delete(&self, path: &str) -> Response {
        self.auth(self.http.delete(format!("{}{path}", self.base)))
            .send()
            .unwrap()
    }

    /// GET and parse a 200 JSON answer.
    fn json(&self, path: &str) -> Value {
        let response = self.get(path);
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().unwrap()
    }

    fn search_total(&self, q: &str) -> u64 {
        let url = format!("/search?q={}", urlencode(q));
        self.json(&url)["total"].as_u64().unwrap()
    }
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn alerts_for(home: &Home, query: &str) -> Vec<Value> {
    home.alert_lines()
        .into_iter()
        .filter(|a| a["query"]["name"] == query)
        .collect()
}

const MALI_QUERY: &str = "[[queries]]\nname = \"mali\"\nquery = 'mali'\n";

#[test]
fn saved_queries_dry_run_backfill_search_and_delete() {
    let home = Home::new(MALI_QUERY);
    let daemon = home.start_daemon(1);
    let api = Api::new(&home);
    home.drop_file("niger.txt", SEED_ARTICLE.as_bytes());
    home.drop_file("mali.txt", MALI_ARTICLE.as_bytes());
    home.drop_file("coffee.txt", OTHER_ARTICLE.as_bytes());
    assert!(
        wait_until(Duration::from_secs(15), || api
            .search_total("mali OR niger OR coffee")
            == 3),
        "not indexed:\n{}",
        daemon.log_text()
    );
    let niger = json!({"query": "Niger AND \"security agreement\""});

    // A dry run answers what it would match, and saves nothing.
    let response = api.put("/queries/niger?dry_run=true", niger.clone());
    assert_eq!(response.status(), 200);
    let dry: Value = response.json().unwrap();
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["total"], 1);
    assert!(
        dry["hits"][0]["path"]
            .as_str()
            .unwrap()
            .ends_with("niger.txt"),
        "{dry}"
    );
    assert_eq!(api.get("/queries/niger").status(), 404);
    assert!(alerts_for(&home, "niger").is_empty());

    // With a backfill, the existing match alerts once, marked as a backfill.
    let response = api.put("/queries/niger?backfill=true", niger.clone());
    assert_eq!(response.status(), 201);
    let saved: Value = response.json().unwrap();
    assert_eq!(saved["created"], true);
    assert_eq!(saved["backfill"]["matched"], 1);
    assert_eq!(saved["backfill"]["alerts"], 1);
    let alerts = alerts_for(&home, "niger");
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0]["backfill"], true);
    assert!(alerts[0]["doc"]["path"]
        .as_str()
        .unwrap()
        .ends_with("niger.txt"));
    // Persisted to the config file.
    let config = std::fs::read_to_string(home.config()).unwrap();
    assert!(config.contains("name = \"niger\""), "{config}");
    assert!(config.contains("name = \"mali\""), "{config}");

    // A second backfill raises nothing new.
    let response = api.put("/queries/niger?backfill=true", niger.clone());
    assert_eq!(response.status(), 200);
    let again: Value = response.json().unwrap();
    assert_eq!(again["created"], false);
    assert_eq!(again["backfill"]["alerts"], 0);
    assert_eq!(alerts_for(&home, "niger").len(), 1);

    // The new query is live: alert iff search, on a new document.
    let listed = api.json("/queries");
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["mali", "niger"]);
    home.drop_file("niger-2.txt", format!("Update: {SEED_ARTICLE}").as_bytes());
    assert!(
        wait_until(Duration::from_secs(10), || alerts_for(&home, "niger").len()
            == 2),
        "{}",
        daemon.log_text()
    );
    let live = &alerts_for(&home, "niger")[1];
    assert!(live.get("backfill").is_none(), "{live}");
    // Searchable after the next commit (alerts never wait for one).
    let q = "/search?q=Niger%20AND%20%22security%20agreement%22&limit=10";
    assert!(wait_until(Duration::from_secs(10), || api.json(q)["total"] == 2));
    let hits = api.json(q);
    let snippet = hits["hits"][0]["snippet"].as_str().unwrap();
    assert!(snippet.contains("<b>"), "{snippet}");

    // Errors are JSON with a stable code; query errors carry their column.
    let response = api.put("/queries/broken", json!({"query": "niger AND"}));
    assert_eq!(response.status(), 400);
    let error: Value = response.json().unwrap();
    assert_eq!(error["error"]["code"], "invalid_query");
    assert_eq!(error["error"]["column"], 10);
    let response = api.get("/search?q=niger&limit=5000");
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.json::<Value>().unwrap()["error"]["code"],
        "invalid_parameter"
    );
    let check: Value = api
        .auth(
            api.http
                .post(format!("{}/queries/check", api.base))
                .json(&json!({"query": "a OR b AND c"})),
        )
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(check["valid"], true);
    assert!(!check["lints"].as_array().unwrap().is_empty(), "{check}");

    // Runtime changes survive a restart.
    daemon.stop();
    let daemon = home.start_daemon(2);
    let api = Api::new(&home);
    assert_eq!(
        api.json("/queries/niger")["query"],
        "Niger AND \"security agreement\""
    );

    // Delete: gone from the daemon and the file; new matches no longer alert.
    assert_eq!(api.delete("/queries/niger").status(), 204);
    assert_eq!(api.get("/queries/niger").status(), 404);
    assert_eq!(api.delete("/queries/niger").status(), 404);
    let config = std::fs::read_to_string(home.config()).unwrap();
    assert!(!config.contains("name = \"niger\""), "{config}");
    home.drop_file("niger-3.txt", format!("Later: {SEED_ARTICLE}").as_bytes());
    assert!(wait_until(Duration::from_secs(10), || api
        .search_total("later")
        == 1));
    assert_eq!(alerts_for(&home, "niger").len(), 2);
    daemon.stop();
}

#[test]
fn documents_posted_are_ingested_like_a_dropped_file() {
    let home = Home::new(&format!(
        "{MALI_QUERY}\n[api]\nlisten = \"127.0.0.1:0\"\nmax_body_bytes = 4096\n"
    ));
    let daemon = home.start_daemon(1);
    let api = Api::new(&home);
    let articles = json!([
        {"title": "Bamako talks", "body": MALI_ARTICLE, "date": "2024-04-02"},
        {"title": "Coffee", "text": OTHER_ARTICLE},
    ]);
    let response = api.post("/documents", "application/json", articles.to_string());
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().unwrap();
    assert_eq!(answer["alerts"], 1, "{answer}");
    assert_eq!(answer["documents"].as_array().unwrap().len(), 2);
    assert_eq!(answer["documents"][0]["new"], true);
    // Durable and searchable when the answer comes.
    assert_eq!(api.search_total("bamako"), 1);
    let alerts = alerts_for(&home, "mali");
    assert_eq!(alerts.len(), 1);
    assert!(
        alerts[0]["doc"]["path"]
            .as_str()
            .unwrap()
            .starts_with("api:"),
        "{alerts:?}"
    );
    assert_eq!(alerts[0]["doc"]["title"], "Bamako talks");

    // The same content again: known, no second alert.
    let answer: Value = api
        .post(
            "/documents",
            "application/x-ndjson",
            format!("{}\n", articles[0]),
        )
        .json()
        .unwrap();
    assert_eq!(answer["documents"][0]["new"], false);
    assert_eq!(alerts_for(&home, "mali").len(), 1);

    // Bad input: one clear JSON error each, and the daemon keeps going.
    let bad = api.post("/documents", "application/json", "{\"title\": ");
    assert_eq!(bad.status(), 422);
    assert_eq!(
        bad.json::<Value>().unwrap()["error"]["code"],
        "invalid_document"
    );
    let bad = api.post("/documents", "text/plain", "hello");
    assert_eq!(bad.status(), 415);
    let bad = api.post(
        "/documents",
        "application/json",
        format!("{{\"body\": \"{}\"}}", "x".repeat(5000)),
    );
    assert_eq!(bad.status(), 413);
    assert_eq!(
        bad.json::<Value>().unwrap()["error"]["code"],
        "body_too_large"
    );
    let missing = api.get("/nope");
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.json::<Value>().unwrap()["error"]["code"],
        "not_found"
    );

    // The alert log, paged and filtered.
    let page = api.json("/alerts?query=mali&limit=10");
    assert_eq!(page["alerts"].as_array().unwrap().len(), 1);
    assert_eq!(page["alerts"][0]["query"]["name"], "mali");
    assert!(page["older"].is_null());
    assert!(api.json("/alerts?since=2999-01-01")["alerts"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(api.get("/alerts?since=yesterday").status(), 400);
    daemon.stop();
}

/// Read SSE lines until an `alert` event; its (id, data).
fn next_alert_event(lines: &mut impl Iterator<Item = std::io::Result<String>>) -> (String, Value) {
    let (mut id, mut event) = (String::new(), String::new());
    for line in lines {
        let line = line.unwrap();
        if let Some(v) = line.strip_prefix("id:") {
            id = v.trim().to_string();
        } else if let Some(v) = line.strip_prefix("event:") {
            event = v.trim().to_string();
        } else if let Some(data) = line.strip_prefix("data:") {
            if event == "alert" {
                return (id, serde_json::from_str(data.trim()).unwrap());
            }
        }
    }
    panic!("the stream ended without an alert");
}

#[test]
fn alert_stream_delivers_new_alerts_and_resumes_after_last_event_id() {
    let home = Home::new(MALI_QUERY);
    let daemon = home.start_daemon(1);
    let api = Api::new(&home);

    let stream = api.get("/alerts/stream");
    assert_eq!(stream.status(), 200);
    assert!(stream.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut lines = BufReader::new(stream).lines();
    home.drop_file("mali-1.txt", MALI_ARTICLE.as_bytes());
    let (first_id, first) = next_alert_event(&mut lines);
    assert_eq!(first["query"]["name"], "mali");
    assert!(first["doc"]["path"]
        .as_str()
        .unwrap()
        .ends_with("mali-1.txt"));
    drop(lines);

    // Away while another alert is written; resuming after the first event delivers it.
    home.drop_file("mali-2.txt", format!("Again: {MALI_ARTICLE}").as_bytes());
    assert!(wait_until(Duration::from_secs(10), || alerts_for(
        &home, "mali"
    )
    .len()
        == 2));
    let resumed = api
        .auth(
            api.http
                .get(format!("{}/alerts/stream", api.base))
                .header("Last-Event-ID", &first_id),
        )
        .send()
        .unwrap();
    let mut lines = BufReader::new(resumed).lines();
    let (second_id, second) = next_alert_event(&mut lines);
    assert!(
        second["doc"]["path"]
            .as_str()
            .unwrap()
            .ends_with("mali-2.txt"),
        "{second}"
    );
    assert!(second_id.parse::<u64>().unwrap() > first_id.parse::<u64>().unwrap());
    drop(lines);

    // The alert log a page at a time, newest page first.
    let newest = api.json("/alerts?limit=1");
    assert!(newest["alerts"][0]["doc"]["path"]
        .as_str()
        .unwrap()
        .ends_with("mali-2.txt"));
    let older = newest["older"].as_u64().expect("an older page");
    let previous = api.json(&format!("/alerts?limit=1&before={older}"));
    assert!(previous["alerts"][0]["doc"]["path"]
        .as_str()
        .unwrap()
        .ends_with("mali-1.txt"));
    assert!(previous["older"].is_null(), "{previous}");
    // Open streams do not hold up a shutdown.
    let _open = api.get("/alerts/stream");
    daemon.stop();
}

/// The value of the sample `name` with `labels` (a subset) in a Prometheus text scrape.
fn sample(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => 0.0,
        })
        .sum()
}

fn scrape(api: &Api) -> prometheus_parse::Scrape {
    let response = api.get("/metrics");
    assert_eq!(response.status(), 200);
    let text = response.text().unwrap();
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
        .unwrap_or_else(|e| panic!("not Prometheus text ({e}):\n{text}"))
}

#[test]
fn metrics_parse_as_prometheus_text_and_move() {
    let home = Home::new(MALI_QUERY);
    let daemon = home.start_daemon(1);
    let api = Api::new(&home);
    let before = scrape(&api);
    assert_eq!(
        sample(&before, "lookout_documents_ingested_total", &[]),
        0.0
    );
    home.drop_file("mali.txt", MALI_ARTICLE.as_bytes());
    home.drop_file("empty.txt", b"");
    assert!(wait_until(Duration::from_secs(10), || alerts_for(
        &home, "mali"
    )
    .len()
        == 1));
    assert!(
        wait_until(Duration::from_secs(10), || {
            let after = scrape(&api);
            sample(&after, "lookout_documents_ingested_total", &[]) == 1.0
                && sample(&after, "lookout_files_failed_total", &[]) == 1.0
                && sample(&after, "lookout_alerts_total", &[("query", "mali")]) == 1.0
                && sample(&after, "lookout_ingest_seconds_count", &[]) >= 2.0
                && sample(&after, "lookout_index_documents", &[]) == 1.0
        }),
        "metrics did not move:\n{}",
        api.get("/metrics").text().unwrap()
    );
    daemon.stop();
}

#[test]
fn a_token_guards_every_endpoint_but_healthz() {
    let home = Home::new(&format!(
        "{MALI_QUERY}\n[api]\nlisten = \"127.0.0.1:0\"\ntoken = \"s3cret-token\"\n"
    ));
    let daemon = home.start_daemon(1);
    let api = Api::new(&home);
    for path in [
        "/status",
        "/search?q=mali",
        "/queries",
        "/metrics",
        "/openapi.json",
        "/alerts",
    ] {
        let response = api.get(path);
        assert_eq!(response.status(), 401, "{path}");
        assert_eq!(
            response.json::<Value>().unwrap()["error"]["code"],
            "unauthorized"
        );
    }
    assert_eq!(api.get("/healthz").status(), 200);
    let wrong = Api::new(&home).with_token("guess");
    assert_eq!(wrong.get("/status").status(), 401);
    let api = api.with_token("s3cret-token");
    let status = api.json("/status");
    assert_eq!(status["running"], true);
    assert_eq!(status["queries"]["active"], 1);
    // The CLI finds the daemon and uses the token from the config.
    let out = home.lookout(&["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("running since"),
        "{text}"
    );
    daemon.stop();

    // No token, not loopback: refused at start, clearly.
    let open = Home::new("[api]\nlisten = \"0.0.0.0:0\"\n");
    let out = open.lookout(&["run"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("api.listen") && err.contains("token"), "{err}");
}

/// Replace the config file the way editors save (write aside, rename over).
fn save_config(home: &Home, text: &str) {
    let aside = home.path("config.toml.new");
    std::fs::write(&aside, text).unwrap();
    std::fs::rename(&aside, home.config()).unwrap();
}

#[test]
fn config_edits_apply_live_and_a_broken_edit_keeps_the_running_config() {
    let home = Home::new(MALI_QUERY);
    let daemon = home.start_daemon(1);
    let original = std::fs::read_to_string(home.config()).unwrap();

    // Add a query by editing config.toml: it applies without a restart.
    let added = original.replace(
        MALI_QUERY,
        &format!("{MALI_QUERY}\n[[queries]]\nname = \"niger\"\nquery = 'Niger AND \"security agreement\"'\n"),
    );
    save_config(&home, &added);
    daemon.wait_for_log("configuration reloaded", Duration::from_secs(10));
    home.drop_file("niger.txt", SEED_ARTICLE.as_bytes());
    assert!(
        wait_until(Duration::from_secs(10), || alerts_for(&home, "niger").len()
            == 1),
        "{}",
        daemon.log_text()
    );

    // A broken edit: one clear error naming the file; the daemon runs on as before.
    save_config(&home, &format!("{added}\nthis is = not [toml\n"));
    daemon.wait_for_log("configuration change refused", Duration::from_secs(10));
    let log = daemon.log_text();
    let refusals: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("configuration change refused"))
        .collect();
    assert_eq!(refusals.len(), 1, "{log}");
    assert!(refusals[0].contains("config.toml"), "{}", refusals[0]);
    home.drop_file("mali.txt", MALI_ARTICLE.as_bytes());
    assert!(
        wait_until(Duration::from_secs(10), || alerts_for(&home, "mali").len()
            == 1),
        "{}",
        daemon.log_text()
    );

    // A running query edited into one that does not parse keeps running as it was.
    save_config(
        &home,
        &added.replace("query = 'mali'", "query = 'mali AND'"),
    );
    daemon.wait_for_log("the running version stays", Duration::from_secs(10));
    home.drop_file("mali-2.txt", format!("Again: {MALI_ARTICLE}").as_bytes());
    assert!(
        wait_until(Duration::from_secs(10), || alerts_for(&home, "mali").len()
            == 2),
        "{}",
        daemon.log_text()
    );
    daemon.stop();
}

#[test]
fn cli_manages_queries_through_the_daemon_or_the_files() {
    let home = Home::new(MALI_QUERY);
    home.drop_file("niger.txt", SEED_ARTICLE.as_bytes());
    let daemon = home.start_daemon(1);
    let api = Api::new(&home);
    assert!(wait_until(Duration::from_secs(10), || api
        .search_total("niger")
        == 1));

    let run = |args: &[&str]| {
        let out = home.lookout(args);
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{args:?}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    let dry = run(&["queries", "add", "niger", "niger", "--dry-run"]);
    assert!(dry.contains("would match 1"), "{dry}");
    let added = run(&["queries", "add", "niger", "niger", "--backfill"]);
    assert!(
        added.contains("running daemon") && added.contains("1 new alert"),
        "{added}"
    );
    assert_eq!(api.json("/queries/niger")["query"], "niger");
    let bad = home.lookout(&["queries", "add", "bad", "niger AND"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("column 10"));
    run(&["queries", "rm", "niger"]);
    assert_eq!(api.get("/queries/niger").status(), 404);
    daemon.stop();

    // No daemon: the files are edited, and a backfill runs on the index directly.
    let added = run(&[
        "queries",
        "add",
        "security",
        "\"security agreement\"",
        "--backfill",
    ]);
    assert!(added.contains("1 new alert"), "{added}");
    assert_eq!(alerts_for(&home, "security").len(), 1);
    let listed = run(&["queries", "list"]);
    assert!(listed.contains("security"), "{listed}");
    run(&["queries", "rm", "security"]);
    assert!(!run(&["queries", "list"]).contains("security"));
    let status = run(&["status"]);
    assert!(status.contains("not running"), "{status}");
}

#[test]
fn a_webhook_added_to_the_config_gets_alerts_without_a_restart() {
    let listener = WebhookListener::start();
    let home = Home::new(MALI_QUERY);
    let daemon = home.start_daemon(1);
    // An alert from before the webhook existed: a new webhook gets alerts from now on.
    home.drop_file("mali-0.txt", format!("Earlier: {MALI_ARTICLE}").as_bytes());
    assert!(wait_until(Duration::from_secs(10), || alerts_for(
        &home, "mali"
    )
    .len()
        == 1));
    let original = std::fs::read_to_string(home.config()).unwrap();
    save_config(
        &home,
        &format!(
            "{original}\n[[webhooks]]\nname = \"desk\"\nurl = \"{}\"\nsecret = \"{SECRET}\"\n",
            listener.url
        ),
    );
    daemon.wait_for_log("webhook delivery restarted", Duration::from_secs(10));
    home.drop_file("mali.txt", MALI_ARTICLE.as_bytes());
    assert!(
        wait_until(Duration::from_secs(10), || !listener.requests().is_empty()),
        "no webhook POST:\n{}",
        daemon.log_text()
    );
    let request = &listener.requests()[0];
    let alert: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(alert["query"]["name"], "mali");
    assert!(
        alert["doc"]["path"]
            .as_str()
            .unwrap()
            .ends_with("/mali.txt"),
        "{alert}"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(listener.requests().len(), 1);
    daemon.stop();
}
