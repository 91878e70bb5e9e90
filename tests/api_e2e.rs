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

    // The web page's files carry no data: served without the token, under a strict policy;
    // what the page then asks for needs the token like any client's request.
    for path in ["/", "/assets/app.js", "/assets/app.css", "/assets/icon.svg"] {
        let response = Api::new(&home).get(path);
        assert_eq!(response.status(), 200, "{path}");
        let csp = response.headers()["content-security-policy"]
            .to_str()
            .unwrap();
        assert!(
            csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
            "{path}: {csp}"
        );
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    }
    assert_eq!(Api::new(&home).get("/documents/x").status(), 401);
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

// ---------------------------------------------------------------------------------------------
// The API's defences (issue 9): hosts and origins, connections, JSON errors, names, counters.
// ---------------------------------------------------------------------------------------------

/// An answer read off the wire.
#[derive(Debug)]
struct RawAnswer {
    status: u16,
    /// The head, lowercased.
    head: String,
    body: String,
}

impl RawAnswer {
    /// The JSON error code of this answer, checking it is JSON.
    fn code(&self) -> String {
        assert!(
            self.head.contains("content-type: application/json"),
            "not JSON: {self:?}"
        );
        let body: Value =
            serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {self:?}"));
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// Send `request` as raw bytes on a new connection to the daemon; its answer (read to the end
/// of the connection or of the body), or `None` when the connection closed unanswered.
fn raw(api: &Api, request: &[u8]) -> Option<RawAnswer> {
    use std::io::{Read, Write};
    let addr = api.base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let _ = stream.write_all(request);
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
        }
        if let Some(answer) = parse_answer(&bytes) {
            return Some(answer);
        }
    }
    parse_answer(&bytes)
}

/// One complete answer at the start of `bytes`, if there is one.
fn parse_answer(bytes: &[u8]) -> Option<RawAnswer> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&bytes[..end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let body = bytes.get(end + 4..end + 4 + length)?;
    Some(RawAnswer {
        status: head.get(9..12)?.parse().ok()?,
        head,
        body: String::from_utf8_lossy(body).into_owned(),
    })
}

/// `METHOD target` with these extra header lines (`Connection: close` is added).
fn request(method: &str, target: &str, headers: &[&str], body: &str) -> Vec<u8> {
    let mut text = format!("{method} {target} HTTP/1.1\r\n");
    for header in headers {
        text.push_str(header);
        text.push_str("\r\n");
    }
    if !body.is_empty() {
        text.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    text.push_str("Connection: close\r\n\r\n");
    text.push_str(body);
    text.into_bytes()
}

#[test]
fn dns_rebinding_and_cross_site_requests_are_refused() {
    let home = Home::new(MALI_QUERY);
    let daemon = home.start_daemon(1);
    let api = Api::new(&home);
    let port = api.base.rsplit(':').next().unwrap().to_string();
    let host = |name: &str| format!("Host: {name}");
    let evil = json!({"query": "mali"}).to_string();

    // The example: a page of attacker.example whose name now resolves to 127.0.0.1.
    let foreign = format!("attacker.example:{port}");
    for (method, target, body) in [
        ("GET", "/search?q=mali", ""),
        ("GET", "/alerts", ""),
        ("GET", "/queries", ""),
        ("PUT", "/queries/evil", evil.as_str()),
        ("DELETE", "/queries/mali", ""),
        ("GET", "/healthz", ""),
    ] {
        let answer = raw(&api, &request(method, target, &[&host(&foreign)], body)).unwrap();
        assert_eq!(answer.status, 421, "{method} {target}: {answer:?}");
        assert_eq!(answer.code(), "host_not_allowed");
    }
    assert_eq!(api.get("/queries/evil").status(), 404);
    assert_eq!(api.get("/queries/mali").status(), 200);
    assert!(!std::fs::read_to_string(home.config())
        .unwrap()
        .contains("evil"));

    // The class: spellings of a foreign name, and of this machine's.
    for refused in [
        format!("127.0.0.1.attacker.example:{port}"),
        format!("localhost.attacker.example:{port}"),
        "attacker.example".to_string(),
        format!("ATTACKER.example.:{port}"),
        format!("127.1:{port}"),
        format!("192.168.1.1:{port}"),
        format!("[::2]:{port}"),
    ] {
        let answer = raw(&api, &request("GET", "/queries", &[&host(&refused)], "")).unwrap();
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (421, "host_not_allowed"),
            "{refused}"
        );
    }
    for served in [
        format!("LOCALHOST.:{port}"),
        format!("localhost:{port}"),
        "localhost".to_string(),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
        format!("[::ffff:127.0.0.1]:{port}"),
    ] {
        let answer = raw(&api, &request("GET", "/queries", &[&host(&served)], "")).unwrap();
        assert_eq!(answer.status, 200, "{served}: {answer:?}");
    }
    // The target's own authority counts (absolute form), and a request needs one Host.
    let own = host(&format!("127.0.0.1:{port}"));
    let answer = raw(
        &api,
        &request("GET", "http://attacker.example/queries", &[&own], ""),
    )
    .unwrap();
    assert_eq!(
        (answer.status, answer.code().as_str()),
        (421, "host_not_allowed")
    );
    let answer = raw(&api, &request("GET", "/queries", &[], "")).unwrap();
    assert_eq!(
        (answer.status, answer.code().as_str()),
        (400, "invalid_host")
    );
    let answer = raw(&api, &request("GET", "/queries", &[&own, &own], "")).unwrap();
    assert_eq!(
        (answer.status, answer.code().as_str()),
        (400, "invalid_host")
    );

    // Origins: only the API's own may change anything; other local origins are other origins.
    for origin in [
        "http://attacker.example",
        &format!("http://attacker.example:{port}"),
        "null",
        "http://localhost:3000",
        "http://127.0.0.1:3000",
        &format!("https://127.0.0.1.attacker.example:{port}"),
    ] {
        let answer = raw(
            &api,
            &request(
                "PUT",
                "/queries/evil",
                &[&own, &format!("Origin: {origin}")],
                &evil,
            ),
        )
        .unwrap();
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (403, "origin_not_allowed"),
            "{origin}"
        );
    }
    for site in ["cross-site", "same-site"] {
        let answer = raw(
            &api,
            &request(
                "PUT",
                "/queries/evil",
                &[
                    &own,
                    &format!("Sec-Fetch-Site: {site}"),
                    "Sec-Fetch-Mode: cors",
                ],
                &evil,
            ),
        )
        .unwrap();
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (403, "origin_not_allowed")
        );
    }
    assert_eq!(api.get("/queries/evil").status(), 404);
    // The API's own page (served at `/` later) is same-origin: it works.
    let answer = raw(
        &api,
        &request(
            "PUT",
            "/queries/own",
            &[
                &own,
                &format!("Origin: http://127.0.0.1:{port}"),
                "Sec-Fetch-Site: same-origin",
            ],
            &evil,
        ),
    )
    .unwrap();
    assert_eq!(answer.status, 201, "{answer:?}");
    // No CORS, ever: a preflight gets no permission, nor does any answer.
    let preflight = raw(
        &api,
        &request(
            "OPTIONS",
            "/queries/x",
            &[
                &own,
                "Origin: http://attacker.example",
                "Access-Control-Request-Method: PUT",
            ],
            "",
        ),
    )
    .unwrap();
    assert!(preflight.status >= 400, "{preflight:?}");
    assert!(
        !preflight.head.contains("access-control-allow"),
        "{preflight:?}"
    );
    let ok = raw(
        &api,
        &request(
            "GET",
            "/queries",
            &[&own, &format!("Origin: http://127.0.0.1:{port}")],
            "",
        ),
    )
    .unwrap();
    assert!(!ok.head.contains("access-control-allow"), "{ok:?}");
    daemon.stop();

    // allowed_hosts: a reverse proxy's name, exact or below a domain, with or without a port.
    let proxied = Home::new(&format!(
        "{MALI_QUERY}\n[api]\nlisten = \"127.0.0.1:0\"\nallowed_hosts = [\"lookout.example\", \"*.corp.example\"]\n"
    ));
    let daemon = proxied.start_daemon(1);
    let api = Api::new(&proxied);
    for (name, status) in [
        ("lookout.example", 200),
        ("Lookout.Example:443", 200),
        ("a.b.corp.example", 200),
        ("corp.example", 421),
        ("lookout.example.attacker.example", 421),
    ] {
        let answer = raw(&api, &request("GET", "/queries", &[&host(name)], "")).unwrap();
        assert_eq!(answer.status, status, "{name}: {answer:?}");
    }
    let answer = raw(
        &api,
        &request(
            "PUT",
            "/queries/proxied",
            &[&host("lookout.example"), "Origin: https://lookout.example"],
            &evil,
        ),
    )
    .unwrap();
    assert_eq!(answer.status, 201, "{answer:?}");
    daemon.stop();
}

#[test]
fn every_error_the_api_gives_is_json() {
    let home = Home::new(&format!(
        "{MALI_QUERY}\n[api]\nlisten = \"127.0.0.1:0\"\nmax_body_bytes = 4096\n"
    ));
    let daemon = home.start_daemon(1);
    let api = Api::new(&home);
    let own = "Host: localhost";
    let big_body = json!({"query": "x".repeat(5000)}).to_string();
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        // The example: a target over the limit (414, and it had an empty body).
        (
            request(
                "GET",
                &format!("/search?q={}", "a".repeat(20_000)),
                &[own],
                "",
            ),
            414,
            "uri_too_long",
        ),
        (
            request(
                "GET",
                &format!("/search?q={}", "a".repeat(70_000)),
                &[own],
                "",
            ),
            431,
            "headers_too_large",
        ),
        (
            request(
                "GET",
                "/healthz",
                &[own, &format!("X-Big: {}", "b".repeat(40_000))],
                "",
            ),
            431,
            "headers_too_large",
        ),
        (
            request(
                "GET",
                "/healthz",
                &(0..120)
                    .map(|i| format!("X-{i}: v"))
                    .collect::<Vec<_>>()
                    .iter()
                    .map(String::as_str)
                    .chain([own])
                    .collect::<Vec<_>>(),
                "",
            ),
            431,
            "headers_too_large",
        ),
        (
            b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nbroken header\r\n\r\n".to_vec(),
            400,
            "bad_request",
        ),
        (
            b"GET /healthz HTTP/7.0\r\nHost: localhost\r\n\r\n".to_vec(),
            400,
            "bad_request",
        ),
        (
            b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n".to_vec(),
            400,
            "bad_request",
        ),
        (request("GET", "/nope", &[own], ""), 404, "not_found"),
        (
            request("DELETE", "/search", &[own], ""),
            405,
            "method_not_allowed",
        ),
        (
            request("GET", "/queries/check", &[own], ""),
            405,
            "method_not_allowed",
        ),
        (
            request("PUT", "/queries/big", &[own], &big_body),
            413,
            "body_too_large",
        ),
        (
            request("PUT", "/queries/x", &[own], "{\"query\": "),
            400,
            "invalid_body",
        ),
        (
            request("GET", "/search?q=niger%20AND", &[own], ""),
            400,
            "invalid_query",
        ),
        (
            request("GET", "/search?limit=1", &[own], ""),
            400,
            "invalid_parameter",
        ),
        (
            request("GET", "/queries/%FF%FE", &[own], ""),
            400,
            "invalid_parameter",
        ),
        (
            request("GET", "/queries/nope", &[own], ""),
            404,
            "query_not_found",
        ),
        (
            request(
                "PUT",
                "/queries/a%20b",
                &[own],
                &json!({"query": "x"}).to_string(),
            ),
            400,
            "invalid_query_name",
        ),
    ];
    for (bytes, status, code) in cases {
        let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(50)]).to_string();
        let answer = raw(&api, &bytes).unwrap_or_else(|| panic!("no answer to {shown:?}"));
        assert_eq!(answer.status, status, "{shown:?}: {answer:?}");
        assert_eq!(answer.code(), code, "{shown:?}");
    }
    // HTTP/2 is not spoken: prior knowledge is closed unanswered; the daemon goes on.
    assert!(raw(&api, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").is_none());
    assert_eq!(api.get("/healthz").status(), 200);
    daemon.stop();
}

#[test]
fn query_names_are_checked_wherever_they_enter() {
    let home = Home::new(MALI_QUERY);
    let daemon = home.start_daemon(1);
    let api = Api::new(&home);
    // The example: a 40,000-character name (its alert lines were ~80 KB).
    let long = "n".repeat(40_000);
    let response = api.put(&format!("/queries/{long}"), json!({"query": "mali"}));
    assert_eq!(response.status(), 431);
    let response = api.put(
        &format!("/queries/{}", "n".repeat(65)),
        json!({"query": "mali"}),
    );
    assert_eq!(response.status(), 400);
    let error: Value = response.json().unwrap();
    assert_eq!(error["error"]["code"], "invalid_query_name");
    assert!(
        error["error"]["message"].as_str().unwrap().contains("64"),
        "{error}"
    );
    for name in ["a%20b", "a%2Fb", ".hidden", "caf%C3%A9", "a%09b", "q:1"] {
        let response = api.put(&format!("/queries/{name}"), json!({"query": "mali"}));
        assert_eq!(response.status(), 400, "{name}");
        assert_eq!(
            response.json::<Value>().unwrap()["error"]["code"],
            "invalid_query_name",
            "{name}"
        );
    }
    // `check` is the check endpoint's: no query may take the name.
    let response = api.put("/queries/check", json!({"query": "mali"}));
    assert_eq!(response.status(), 405);
    assert!(response.text().unwrap().contains("reserved"));
    let listed = api.json("/queries");
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    // The longest name allowed works end to end, and its alert line stays small.
    let longest = format!("a{}", "-b_c.".repeat(12))
        .chars()
        .take(64)
        .collect::<String>();
    assert_eq!(
        api.put(&format!("/queries/{longest}"), json!({"query": "mali"}))
            .status(),
        201
    );
    home.drop_file("mali.txt", MALI_ARTICLE.as_bytes());
    assert!(wait_until(Duration::from_secs(10), || !alerts_for(
        &home, &longest
    )
    .is_empty()));
    let line = std::fs::read_to_string(home.path("alerts.jsonl")).unwrap();
    assert!(line.lines().all(|l| l.len() < 8 * 1024), "{line}");
    // The CLI refuses before asking anyone, with the rule.
    let out = home.lookout(&["queries", "add", "oil prices", "oil"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("\"oil prices\"") && err.contains("' '"),
        "{err}"
    );
    daemon.stop();

    // A bad name already in a file: the file is refused at start-up, naming file, line, rule.
    std::fs::write(
        home.path("queries.tsv"),
        "\u{feff}oil\toil\nmy query\tquery\n",
    )
    .unwrap();
    let config = std::fs::read_to_string(home.config()).unwrap();
    std::fs::write(
        home.config(),
        format!("queries_files = [\"queries.tsv\"]\n{config}"),
    )
    .unwrap();
    let out = home.lookout(&["run"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("queries.tsv:2") && err.contains("\"my query\""),
        "{err}"
    );
    // Fixed, the byte-order mark is no part of the first name.
    std::fs::write(home.path("queries.tsv"), "\u{feff}oil\toil\n").unwrap();
    let daemon = home.start_daemon(2);
    let api = Api::new(&home);
    assert_eq!(api.json("/queries/oil")["query"], "oil");
    daemon.stop();
}

#[test]
fn an_ipv4_mapped_loopback_listen_address_is_served() {
    // The config lets it through without a token; the server must agree and serve it.
    let home = Home::new("[api]\nlisten = \"[::ffff:127.0.0.1]:0\"\n");
    let daemon = home.start_daemon(1);
    let api = Api::new(&home);
    assert!(api.base.contains("::ffff:127.0.0.1"), "{}", api.base);
    assert!(
        wait_until(Duration::from_secs(10), || api
            .http
            .get(format!("{}/healthz", api.base))
            .send()
            .is_ok_and(|r| r.status() == 200)),
        "{}",
        daemon.log_text()
    );
    let out = home.lookout(&["status"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("running since"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    daemon.stop();
    // And the other side: a mapped address that is not loopback still needs a token.
    let open = Home::new("[api]\nlisten = \"[::ffff:10.1.2.3]:0\"\n");
    let out = open.lookout(&["run"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a loopback address"));
}

#[test]
fn rejected_documents_and_webhook_counts_are_counted_once_and_kept() {
    let listener = WebhookListener::start();
    let hook = format!(
        "[[webhooks]]\nname = \"desk\"\nurl = \"{}\"\nsecret = \"{SECRET}\"\n",
        listener.url
    );
    let home = Home::new(&format!("{MALI_QUERY}\n{hook}"));
    let daemon = home.start_daemon(1);
    let api = Api::new(&home);
    // A refused POST /documents is no failed file.
    let bad = api.post("/documents", "application/json", "{\"title\": ");
    assert_eq!(bad.status(), 422);
    let after = scrape(&api);
    assert_eq!(
        sample(&after, "lookout_api_documents_rejected_total", &[]),
        1.0
    );
    assert_eq!(sample(&after, "lookout_files_failed_total", &[]), 0.0);

    home.drop_file("mali.txt", MALI_ARTICLE.as_bytes());
    assert!(wait_until(Duration::from_secs(10), || listener
        .requests()
        .len()
        == 1));
    let delivered = |api: &Api| {
        let status = api.json("/status");
        let desk = status["webhooks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["name"] == "desk")
            .cloned()
            .unwrap();
        (
            desk["delivered"].as_u64().unwrap(),
            sample(
                &scrape(api),
                "lookout_sink_alerts_total",
                &[("sink", "webhook:desk")],
            ) as u64,
        )
    };
    assert!(wait_until(Duration::from_secs(10), || delivered(&api) == (1, 1)));
    // A webhook config change restarts delivery: /status and /metrics still agree.
    let original = std::fs::read_to_string(home.config()).unwrap();
    save_config(
        &home,
        &format!(
            "{original}\n[[webhooks]]\nname = \"other\"\nurl = \"{}\"\nsecret = \"{SECRET}\"\n",
            listener.url
        ),
    );
    daemon.wait_for_log("webhook delivery restarted", Duration::from_secs(10));
    assert_eq!(delivered(&api), (1, 1));
    let out = home.lookout(&["status"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("desk ok (1 delivered"), "{text}");
    daemon.stop();
}

/// Start the daemon under an open-file limit of 1,024 (systemd's default soft limit; here the
/// hard one too, so it cannot be raised).
fn start_daemon_with_1024_descriptors(home: &Home) -> Daemon {
    let log = home.path("daemon-limited.log");
    let child = std::process::Command::new("sh")
        .args(["-c", "ulimit -n 1024 && exec \"$0\" \"$@\""])
        .arg(BIN)
        .arg("--config")
        .arg(home.config())
        .arg("run")
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let daemon = Daemon { child, log };
    daemon.wait_for_log("API listening", Duration::from_secs(30));
    daemon
}

fn open_descriptors(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

#[test]
fn a_flood_of_slow_connections_under_1024_descriptors_keeps_the_daemon_answering() {
    use std::io::Write;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;
    // This test holds 1,100 sockets itself.
    lookout::api::open_files::raise_open_files_limit();
    let home = Home::new(MALI_QUERY);
    let daemon = start_daemon_with_1024_descriptors(&home);
    let pid = daemon.child.id();
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    assert!(
        limits
            .lines()
            .any(|l| l.starts_with("Max open files") && l.contains(" 1024 ")),
        "{limits}"
    );
    let api = Api::new(&home);
    let addr: std::net::SocketAddr = api.base.trim_start_matches("http://").parse().unwrap();

    // 4 attackers hold 275 connections each (1,100), dripping a header line every 2 s and
    // reconnecting whatever the daemon closes; bounded in time and in connections opened.
    let stop = Arc::new(AtomicBool::new(false));
    let opened = Arc::new(AtomicUsize::new(0));
    let attackers: Vec<_> = (0..4)
        .map(|_| {
            let (stop, opened) = (Arc::clone(&stop), Arc::clone(&opened));
            std::thread::spawn(move || {
                let connect = || {
                    let mut s =
                        std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
                    s.set_write_timeout(Some(Duration::from_secs(1))).ok()?;
                    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
                        .ok()?;
                    Some(s)
                };
                let mut held: Vec<Option<std::net::TcpStream>> = (0..275).map(|_| None).collect();
                let started = std::time::Instant::now();
                while !stop.load(Ordering::SeqCst)
                    && started.elapsed() < Duration::from_secs(60)
                    && opened.load(Ordering::SeqCst) < 50_000
                {
                    for slot in held.iter_mut() {
                        let alive = slot
                            .as_mut()
                            .is_some_and(|s| s.write_all(b"X-Drip: 1\r\n").is_ok());
                        if !alive {
                            *slot = connect();
                            opened.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    std::thread::sleep(Duration::from_secs(2));
                }
            })
        })
        .collect();

    // Throughout the attack: /healthz on a new connection each time, a search, a dropped file.
    let fresh = Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let (mut checks, mut slowest) = (0, Duration::ZERO);
    let mut dropped = false;
    let mut most_descriptors = 0;
    while started.elapsed() < Duration::from_secs(15) {
        let asked = std::time::Instant::now();
        let health = fresh.get(format!("{}/healthz", api.base)).send();
        let took = asked.elapsed();
        assert!(
            health.as_ref().is_ok_and(|r| r.status() == 200),
            "/healthz failed after {checks} checks ({:?} into the attack): {health:?}\n{}",
            started.elapsed(),
            daemon.log_text()
        );
        assert!(took < Duration::from_secs(5), "/healthz took {took:?}");
        slowest = slowest.max(took);
        checks += 1;
        if checks % 4 == 0 {
            let search = fresh.get(format!("{}/search?q=mali", api.base)).send();
            assert!(search.is_ok_and(|r| r.status() == 200));
        }
        if !dropped && started.elapsed() > Duration::from_secs(4) {
            home.drop_file("mali.txt", MALI_ARTICLE.as_bytes());
            dropped = true;
        }
        most_descriptors = most_descriptors.max(open_descriptors(pid));
        std::thread::sleep(Duration::from_millis(250));
    }
    // The dropped file was indexed and alerted during the attack.
    assert!(
        wait_until(Duration::from_secs(10), || api.search_total("bamako") == 1),
        "{}",
        daemon.log_text()
    );
    assert_eq!(alerts_for(&home, "mali").len(), 1);
    stop.store(true, Ordering::SeqCst);
    for attacker in attackers {
        attacker.join().unwrap();
    }
    println!(
        "{checks} /healthz checks during the attack, slowest {slowest:?}; {} attack connections opened; at most {most_descriptors} descriptors open in the daemon",
        opened.load(Ordering::SeqCst)
    );
    assert!(checks >= 30, "{checks}");
    assert!(most_descriptors < 1024, "{most_descriptors}");
    let log = daemon.stop();
    assert!(!log.contains("Too many open files"), "{log}");
}

#[test]
fn alert_streams_are_capped_and_a_refused_one_gets_a_json_503() {
    let home = Home::new(&format!(
        "{MALI_QUERY}\n[api]\nlisten = \"127.0.0.1:0\"\nmax_streams = 2\n"
    ));
    let daemon = home.start_daemon(1);
    let api = Api::new(&home);
    let first = api.get("/alerts/stream");
    let second = api.get("/alerts/stream");
    assert_eq!(
        (first.status().as_u16(), second.status().as_u16()),
        (200, 200)
    );
    let third = api.get("/alerts/stream");
    assert_eq!(third.status(), 503);
    assert_eq!(
        third.json::<Value>().unwrap()["error"]["code"],
        "too_many_streams"
    );
    // The other endpoints are not held up; a closed stream frees its place.
    assert_eq!(api.get("/healthz").status(), 200);
    drop(first);
    assert!(wait_until(Duration::from_secs(20), || api
        .get("/alerts/stream")
        .status()
        == 200));
    drop(second);
    daemon.stop();
}

#[test]
fn an_indexed_article_is_read_back_by_its_content_id() {
    let home = Home::new(MALI_QUERY);
    let daemon = home.start_daemon(1);
    let api = Api::new(&home);
    home.drop_file("mali.txt", MALI_ARTICLE.as_bytes());
    assert!(
        wait_until(Duration::from_secs(20), || home.alert_lines().len() == 1),
        "{}",
        daemon.log_text()
    );
    // Readable once committed (an alert is written before its batch's commit).
    assert!(wait_until(Duration::from_secs(20), || api
        .search_total("mali")
        == 1));
    let alert = &home.alert_lines()[0];
    let id = alert["doc"]["id"].as_str().unwrap();
    let document = api.json(&format!("/documents/{id}"));
    assert_eq!(document["id"], id);
    assert_eq!(document["title"], alert["doc"]["title"]);
    let text = format!("{} {}", document["title"], document["body"]);
    assert!(text.contains("Bamako"), "{document}");
    assert!(document["path"].as_str().unwrap().ends_with("mali.txt"));
    // A hit's id finds it too.
    let hits = api.json("/search?q=mali");
    assert_eq!(hits["hits"][0]["id"], id);
    // Not an id, and an id nothing has: refused clearly.
    for (path, status, code) in [
        ("/documents/nothex", 400, "invalid_parameter"),
        (
            &*format!("/documents/{}", id.to_uppercase()),
            400,
            "invalid_parameter",
        ),
        (
            &*format!("/documents/{}", "0".repeat(64)),
            404,
            "document_not_found",
        ),
    ] {
        let response = api.get(path);
        assert_eq!(response.status(), status, "{path}");
        assert_eq!(
            response.json::<Value>().unwrap()["error"]["code"],
            code,
            "{path}"
        );
    }
    daemon.stop();
}
