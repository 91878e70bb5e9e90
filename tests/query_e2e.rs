//! Issue 9 through the real binary: every query that parses runs on every path (backfill, dry
//! run, search over HTTP and on the command line, live alerts, `lookout match`) and the query
//! size limit (`max_query_clauses`) is applied on each of them with the same verdict.

mod support;

use std::time::Duration;

use reqwest::blocking::Client;
use serde_json::{json, Value};
use support::*;

const DATED: &str = " date 2024-03-28 Oil prices rose after the bank said supply would tighten.\n";
const UNDATED: &str = "Oil prices fell again, the bank said on Monday.\n";
/// A date no index can hold (tantivy's nanoseconds overflow): the document is kept, undated.
const ANCIENT_JSON: &str =
    r#"{"title": "Old oil", "body": "oil from the year one", "date": "0001-01-01"}"#;

struct Api {
    base: String,
    http: Client,
}

impl Api {
    fn new(home: &Home) -> Api {
        Api {
            base: home.api(),
            http: Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
        }
    }

    fn send(&self, request: reqwest::blocking::RequestBuilder) -> (u16, Value) {
        let response = request.send().unwrap();
        let status = response.status().as_u16();
        let body = response.text().unwrap();
        let value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("not JSON ({e}), status {status}: {body}"));
        (status, value)
    }

    fn get(&self, path: &str, query: &[(&str, &str)]) -> (u16, Value) {
        self.send(self.http.get(format!("{}{path}", self.base)).query(query))
    }

    fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(self.http.put(format!("{}{path}", self.base)).json(&body))
    }

    fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(self.http.post(format!("{}{path}", self.base)).json(&body))
    }

    fn healthy(&self) -> bool {
        self.http
            .get(format!("{}/healthz", self.base))
            .send()
            .is_ok_and(|r| r.status().is_success())
    }
}

fn wait_for_documents(api: &Api, query: &str, n: u64) {
    let ok = wait_until(Duration::from_secs(20), || {
        api.get("/search", &[("q", query)]).1["total"].as_u64() == Some(n)
    });
    assert!(ok, "the index never held {n} documents for {query}");
}

#[test]
fn an_all_open_date_range_runs_on_every_path_and_the_daemon_stays_up() {
    let home = Home::new("");
    home.drop_file("dated.txt", DATED.as_bytes());
    home.drop_file("undated.txt", UNDATED.as_bytes());
    home.drop_file("ancient.json", ANCIENT_JSON.as_bytes());
    let mut daemon = home.start_daemon(0);
    let api = Api::new(&home);
    wait_for_documents(&api, "oil", 3);

    // Search over HTTP: "has a date" (the year-one date was dropped: undated).
    let (status, found) = api.get("/search", &[("q", "date:[* TO *]")]);
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["total"], 1, "{found}");
    let (status, found) = api.get("/search", &[("q", "oil AND NOT date:[* TO *]")]);
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["total"], 2, "{found}");

    // The check says valid, and what runs agrees.
    let (status, check) = api.post("/queries/check", json!({"query": "oil AND date:[* TO *]"}));
    assert_eq!((status, &check["valid"]), (200, &json!(true)), "{check}");

    // Dry run, then the backfill that crashed the daemon.
    let (status, dry) = api.put(
        "/queries/x?dry_run=true",
        json!({"query": "oil AND date:[* TO *]"}),
    );
    assert_eq!(status, 200, "{dry}");
    assert_eq!(dry["total"], 1, "{dry}");
    let (status, saved) = api.put(
        "/queries/x?backfill=true",
        json!({"query": "oil AND date:[* TO *]"}),
    );
    assert!((200..300).contains(&status), "{status}: {saved}");
    assert!(
        daemon.is_running(),
        "the daemon exited:\n{}",
        daemon.log_text()
    );
    assert!(api.healthy());
    assert!(wait_until(Duration::from_secs(10), || home
        .alert_lines()
        .iter()
        .any(|a| a["query"]["name"] == "x")));
    let backfilled: Vec<Value> = home
        .alert_lines()
        .into_iter()
        .filter(|a| a["query"]["name"] == "x")
        .collect();
    assert_eq!(backfilled.len(), 1, "{backfilled:?}");
    assert!(backfilled[0]["doc"]["path"]
        .as_str()
        .unwrap()
        .ends_with("dated.txt"));

    // Live: a new dated article alerts, an undated one does not.
    home.drop_file("later.txt", b" date 2024-04-01 More oil news.\n");
    home.drop_file("later-undated.txt", b"Yet more oil news.\n");
    wait_for_documents(&api, "oil", 5);
    let alerted: Vec<String> = home
        .alert_lines()
        .into_iter()
        .filter(|a| a["query"]["name"] == "x")
        .map(|a| a["doc"]["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(alerted.len(), 2, "{alerted:?}");
    assert!(alerted.iter().any(|p| p.ends_with("later.txt")));

    // The command line, beside the daemon.
    let out = home.lookout(&["search", "date:[* TO *]"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("2 of 2 matching documents"), "{stdout}");
    // Any page is safe: the largest the CLI takes is answered (past the end: exit 1), a
    // larger one is refused by name (exit 2); the library takes any (see alert_iff_search).
    let out = home.lookout(&["search", "--limit", "1000000", "--offset", "1000000", "oil"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("past the last hit"));
    let out = home.lookout(&["search", "--limit", &usize::MAX.to_string(), "oil"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--limit"));
    // Every edge of a date range.
    for q in [
        "date:[0001-01-01 TO 9999-12-31]",
        "date:{2262-04-11 TO *]",
        "date:[* TO 1677-09-21]",
        "date:9999-12-31",
        "date:{* TO *}",
    ] {
        let (status, found) = api.get("/search", &[("q", q)]);
        assert_eq!(status, 200, "{q}: {found}");
    }
    assert!(daemon.is_running());
    daemon.stop();
}

#[test]
fn the_query_size_limit_is_the_same_on_every_path() {
    let home = Home::new(
        "max_query_clauses = 3\n\n[[queries]]\nname = \"small\"\nquery = \"oil OR gas\"\n\n\
         [[queries]]\nname = \"large\"\nquery = \"oil OR gas OR coal OR wind\"\n",
    );
    home.drop_file("dated.txt", DATED.as_bytes());
    let mut daemon = home.start_daemon(0);
    let api = Api::new(&home);
    // The saved query over the limit is refused at load, with its column.
    daemon.wait_for_log("large", Duration::from_secs(10));
    let log = daemon.log_text();
    assert!(log.contains("more than 3 clauses"), "{log}");
    wait_for_documents(&api, "oil", 1);

    let large = "oil OR gas OR coal OR wind";
    let (status, check) = api.post("/queries/check", json!({"query": large}));
    assert_eq!(status, 200);
    assert_eq!(check["valid"], false, "{check}");
    assert_eq!(check["error"]["column"], 23, "{check}");
    let (status, check) = api.post("/queries/check", json!({"query": "oil OR gas OR coal"}));
    assert_eq!((status, &check["valid"]), (200, &json!(true)), "{check}");
    let (status, refused) = api.get("/search", &[("q", large)]);
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused.to_string().contains("more than 3 clauses"),
        "{refused}"
    );
    let (status, refused) = api.put("/queries/big?dry_run=true", json!({"query": large}));
    assert_eq!(status, 400, "{refused}");
    let (status, refused) = api.put("/queries/big", json!({"query": large}));
    assert_eq!(status, 400, "{refused}");
    assert!(daemon.is_running());

    // The command line reads the same limit.
    let out = home.lookout(&["search", large]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("more than 3 clauses"));
    let queries = home.path("q.tsv");
    std::fs::write(&queries, format!("ok\toil\nbig\t{large}\n")).unwrap();
    let out = home.lookout(&[
        "match",
        "--queries",
        queries.to_str().unwrap(),
        home.path("watch").to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("ok\t"), "{stdout}");
    assert!(!stdout.contains("big\t"), "{stdout}");
    assert!(stderr.contains("more than 3 clauses"), "{stderr}");
    daemon.stop();
}

#[test]
fn match_runs_every_date_shape_and_a_repeated_word_on_a_long_article() {
    let home = Home::new("");
    home.drop_file("dated.txt", DATED.as_bytes());
    home.drop_file("ancient.json", ANCIENT_JSON.as_bytes());
    home.drop_file("banks.txt", "the bank said ".repeat(50_000).as_bytes());
    let queries = home.path("q.tsv");
    std::fs::write(
        &queries,
        "dated\toil AND date:[* TO *]\nundated\toil AND NOT date:[* TO *]\n\
         far\tdate:[0001-01-01 TO 9999-12-31]\nnever\tdate:{2262-04-11 TO *]\n\
         banks\t\"bank bank\"~1\nbanks2\t\"bank bank\"~2\n",
    )
    .unwrap();
    for engine in ["presearch", "brute"] {
        let out = home.lookout(&[
            "match",
            "--engine",
            engine,
            "--queries",
            queries.to_str().unwrap(),
            home.path("watch").to_str().unwrap(),
        ]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        // NAME<TAB>FILE, the file as a name (however the path is printed).
        let mut lines: Vec<String> = stdout
            .lines()
            .filter_map(|line| line.split_once('\t'))
            .map(|(name, file)| {
                let base = file.rsplit('/').next().unwrap_or(file);
                format!("{name}\t{base}")
            })
            .collect();
        lines.sort();
        assert_eq!(
            lines,
            vec![
                "banks2\tbanks.txt",
                "dated\tdated.txt",
                "far\tdated.txt",
                "undated\tancient.json"
            ],
            "{engine}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
