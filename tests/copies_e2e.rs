//! End to end, one alert per story: the real binary with `duplicates = "suppress"`, the seed
//! article (../shared/corpus) and three copies of it edited the way wire copies are, dropped
//! into watch/, give one alert (delivered to a real webhook listener) and three copy records
//! pointing at it; after a restart a fourth copy is still a copy, and search returns them all.
//! Search collapsed by story (the API's `collapse=true`, the CLI's `--collapse`) shows the seed
//! and its copies as one hit with `copies` = 3, beside the distinct article.

mod support;

use std::time::Duration;

use support::*;

/// The seed article in its original shape (` date YYYY-MM-DD`, then paragraphs).
fn seed_article() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/corpus/seed-article.txt"
    );
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("the seed article at {path} (../shared/corpus): {e}"))
}

/// The seed article's paragraphs (the first one without its date).
fn paragraphs(seed: &str) -> Vec<String> {
    let body = seed
        .trim_start()
        .trim_start_matches("date 2024-03-28")
        .trim();
    body.split("\n\n").map(|p| p.trim().to_string()).collect()
}

/// Three copies of the seed article, edited the way wire copies are: (file name, text).
fn edited_copies(paras: &[String]) -> [(&'static str, String); 3] {
    // 1. A new headline and a byline.
    let headline_byline = format!(
        "Niger scraps U.S. security deal\n\nBy Amina Diallo, West Africa correspondent\n\n{}",
        paras.join("\n\n")
    );
    // 2. A paragraph dropped (the third), and the agency's boilerplate line at the end.
    let mut dropped = paras.to_vec();
    dropped.remove(2);
    let dropped = format!(
        " date 2024-03-28 {}\n\n(c) 2024 Wire Agency. All rights reserved.\n",
        dropped.join("\n\n")
    );
    // 3. A few words changed, as HTML.
    let changed: Vec<String> = paras
        .iter()
        .map(|p| {
            p.replace("officially", "formally")
                .replace("pivotal", "major")
                .replace("longstanding", "long-running")
        })
        .collect();
    let html = format!(
        "<!doctype html><html><head><title>Niger ends pact with US</title></head><body>\
         <nav>Home | World | Africa</nav><article>{}</article></body></html>",
        changed
            .iter()
            .map(|p| format!("<p>{p}</p>"))
            .collect::<String>()
    );
    [
        ("copy-byline.txt", headline_byline),
        ("copy-dropped.txt", dropped),
        ("copy-changed.html", html),
    ]
}

/// A distinct article on the same topic (not a copy of the seed).
const DISTINCT: &str = "Niger talks on the security agreement\n\nNiger's foreign minister said on \
    Monday the government would review every security agreement signed before the coup, \
    starting with defence accords with France and the United States, and would put new \
    terms to parliament before the end of the year. Officials in Niamey said talks with \
    Russian and Turkish delegations on training and equipment were continuing.";

fn config(url: &str) -> String {
    format!(
        r#"
[duplicates]
mode = "suppress"

[[queries]]
name = "niger-security"
query = 'Niger AND "security agreement"'

[[queries]]
name = "niger-every-copy"
query = 'niger'
duplicates = "alert"

[[webhooks]]
name = "desk"
url = "{url}"
secret = "{SECRET}"
timeout_ms = 2000
"#
    )
}

#[test]
fn the_seed_article_and_three_edited_copies_alert_once() {
    let listener = WebhookListener::start();
    let home = Home::new(&config(&listener.url));
    let seed = seed_article();
    let paras = paragraphs(&seed);
    let mut daemon = home.start_daemon(1);
    home.drop_file("seed.txt", seed.as_bytes());
    assert!(
        wait_until(Duration::from_secs(15), || home.alert_lines().len() == 2),
        "no alert:\n{}",
        daemon.log_text()
    );

    for (name, text) in edited_copies(&paras) {
        home.drop_file(name, text.as_bytes());
    }
    // A distinct article on the same topic alerts on its own.
    home.drop_file("distinct.txt", DISTINCT.as_bytes());

    let of = |lines: &[serde_json::Value], query: &str| -> Vec<serde_json::Value> {
        lines
            .iter()
            .filter(|l| l["query"]["name"] == query)
            .cloned()
            .collect()
    };
    assert!(
        wait_until(Duration::from_secs(15), || {
            of(&home.alert_lines(), "niger-security").len() == 5
        }),
        "{:#?}\n{}",
        home.alert_lines(),
        daemon.log_text()
    );
    let lines = home.alert_lines();
    let security = of(&lines, "niger-security");
    let alerts: Vec<&serde_json::Value> = security
        .iter()
        .filter(|l| l.get("copy_of").is_none())
        .collect();
    let copies: Vec<&serde_json::Value> = security
        .iter()
        .filter(|l| l.get("copy_of").is_some())
        .collect();
    assert_eq!(
        alerts.len(),
        2,
        "the seed and the distinct article: {security:#?}"
    );
    let first = &alerts[0];
    assert!(first["doc"]["path"].as_str().unwrap().ends_with("seed.txt"));
    assert!(alerts[1]["doc"]["path"]
        .as_str()
        .unwrap()
        .ends_with("distinct.txt"));
    assert_eq!(copies.len(), 3, "{security:#?}");
    let mut copy_paths: Vec<&str> = copies
        .iter()
        .map(|c| {
            assert_eq!(c["copy_of"], first["alert_id"], "{c}");
            let path = c["doc"]["path"].as_str().unwrap();
            path.rsplit('/').next().unwrap()
        })
        .collect();
    copy_paths.sort();
    assert_eq!(
        copy_paths,
        ["copy-byline.txt", "copy-changed.html", "copy-dropped.txt"]
    );
    // The query that alerts on duplicates alerted on every one.
    let every = of(&lines, "niger-every-copy");
    assert_eq!(every.len(), 5);
    assert!(every.iter().all(|l| l.get("copy_of").is_none()));

    // Alert iff search and not a copy of one that alerted: search returns the five.
    // (Once committed: the alert log is written before the index commit.)
    let query = "Niger AND \"security agreement\"";
    assert!(
        wait_until(Duration::from_secs(10), || home.search(query).len() == 5),
        "{:#?}",
        home.search(query)
    );

    // The webhook got the alerts, not the copy records.
    assert!(wait_until(Duration::from_secs(10), || listener
        .requests()
        .len()
        >= 7));
    std::thread::sleep(Duration::from_millis(500));
    let delivered: Vec<serde_json::Value> = listener
        .requests()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(
        delivered.len(),
        7,
        "2 + 5 alerts, no copy record: {delivered:#?}"
    );
    assert!(delivered.iter().all(|d| d.get("copy_of").is_none()));

    // The metrics count the copy records.
    let metrics = reqwest::blocking::get(format!("{}/metrics", home.api()))
        .unwrap()
        .text()
        .unwrap();
    assert!(metrics.contains("lookout_copies_total 3"), "{metrics}");

    // After a restart, the story is still known: a fourth copy is a copy record.
    assert!(daemon.is_running());
    let _ = daemon.stop();
    let daemon = home.start_daemon(2);
    home.drop_file(
        "copy-after-restart.txt",
        format!(
            "UPDATE 1-Niger junta ends U.S. pact\n\n{}",
            paras.join("\n\n")
        )
        .as_bytes(),
    );
    assert!(
        wait_until(Duration::from_secs(15), || {
            of(&home.alert_lines(), "niger-security").len() == 6
        }),
        "{}",
        daemon.log_text()
    );
    let last = of(&home.alert_lines(), "niger-security").pop().unwrap();
    assert_eq!(last["copy_of"], first["alert_id"], "{last}");
    assert!(last["doc"]["path"]
        .as_str()
        .unwrap()
        .ends_with("copy-after-restart.txt"));
}

/// `GET /search` on the running daemon: the status and the JSON body.
fn api_search(home: &Home, params: &str) -> (u16, serde_json::Value) {
    let response = reqwest::blocking::get(format!("{}/search?{params}", home.api())).unwrap();
    let status = response.status().as_u16();
    (status, response.json().unwrap())
}

#[test]
fn a_collapsed_search_shows_the_seed_and_its_copies_as_one_story() {
    let home = Home::new(
        "[duplicates]\nmode = \"suppress\"\n\n[[queries]]\nname = \"niger\"\nquery = 'niger'\n",
    );
    let seed = seed_article();
    let paras = paragraphs(&seed);
    let daemon = home.start_daemon(1);
    // The seed first (the copies join its story), then its copies and the distinct article.
    home.drop_file("seed.txt", seed.as_bytes());
    assert!(
        wait_until(Duration::from_secs(15), || home.search("niger").len() == 1),
        "{}",
        daemon.log_text()
    );
    for (name, text) in edited_copies(&paras) {
        home.drop_file(name, text.as_bytes());
    }
    home.drop_file("distinct.txt", DISTINCT.as_bytes());
    // Searchable once committed; the ledger records the stories right after the commit.
    let collapsed = || api_search(&home, "q=niger&collapse=true").1;
    assert!(
        wait_until(Duration::from_secs(15), || {
            let body = collapsed();
            body["total"] == 5 && body["collapse"]["stories"] == 2
        }),
        "{:#}\n{}",
        collapsed(),
        daemon.log_text()
    );

    // Without collapse nothing changes: five hits, no story fields.
    let (status, plain) = api_search(&home, "q=niger");
    assert_eq!(status, 200);
    assert_eq!(plain["total"], 5);
    assert!(plain.get("collapse").is_none(), "{plain:#}");
    let hits = plain["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 5);
    assert!(hits
        .iter()
        .all(|h| h.get("copies").is_none() && h.get("story").is_none()));
    let (_, explicit) = api_search(&home, "q=niger&collapse=false");
    assert_eq!(explicit, plain);

    // Collapsed: two stories, the seed's with its three copies, the distinct article alone.
    let (status, body) = api_search(&home, "q=niger&collapse=true");
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(
        body["collapse"],
        serde_json::json!({"stories": 2, "grouped": 5, "capped": false})
    );
    let hits = body["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 2, "{body:#}");
    let file = |h: &serde_json::Value| -> String {
        let path = h["path"].as_str().unwrap();
        path.rsplit('/').next().unwrap().to_string()
    };
    let seed_id = plain["hits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| file(h) == "seed.txt")
        .map(|h| h["id"].clone())
        .unwrap();
    let story = hits.iter().find(|h| h["copies"] == 3).unwrap_or_else(|| {
        panic!("no story with three copies: {body:#}");
    });
    assert_eq!(story["story"], seed_id, "the story is the seed's: {body:#}");
    assert!(
        [
            "seed.txt",
            "copy-byline.txt",
            "copy-dropped.txt",
            "copy-changed.html"
        ]
        .contains(&file(story).as_str()),
        "{story:#}"
    );
    let alone = hits.iter().find(|h| h["copies"] == 0).unwrap();
    assert_eq!(file(alone), "distinct.txt");
    assert_eq!(alone["story"], alone["id"]);

    // Pages are over stories.
    let (_, second) = api_search(&home, "q=niger&collapse=true&limit=1&offset=1");
    assert_eq!(second["hits"].as_array().unwrap().len(), 1);
    assert_eq!(second["hits"][0]["id"], hits[1]["id"]);
    assert_eq!(second["collapse"]["stories"], 2);
    let (status, past) = api_search(&home, "q=niger&collapse=true&offset=2");
    assert_eq!(status, 200);
    assert_eq!(past["hits"].as_array().unwrap().len(), 0);
    assert_eq!(past["total"], 5);

    // A value that is not a boolean is the API's usual 400.
    let (status, refused) = api_search(&home, "q=niger&collapse=maybe");
    assert_eq!(status, 400, "{refused:#}");
    assert_eq!(refused["error"]["code"], "invalid_parameter", "{refused:#}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("collapse"),
        "{refused:#}"
    );

    // The CLI reads the index and the ledger beside the daemon: the same stories.
    let out = home.lookout(&["search", "--collapse", "niger"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.matches("+3 copies").count(), 1, "{stdout}");
    assert!(
        stdout.contains("2 of 2 stories in 5 matching documents"),
        "{stdout}"
    );
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("  ")).count(),
        2 * 3,
        "{stdout}"
    );
    let out = home.lookout(&["search", "--collapse", "--json", "niger"]);
    assert_eq!(out.status.code(), Some(0));
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let api_hits: Vec<(serde_json::Value, serde_json::Value)> = hits
        .iter()
        .map(|h| (h["id"].clone(), h["copies"].clone()))
        .collect();
    let cli_hits: Vec<(serde_json::Value, serde_json::Value)> = lines
        .iter()
        .map(|h| (h["id"].clone(), h["copies"].clone()))
        .collect();
    assert_eq!(cli_hits, api_hits);
    // Past the last story: exit 1, and the summary says why.
    let out = home.lookout(&["search", "--collapse", "--offset", "2", "niger"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains("--offset 2 is past the last story: there are 2 stories"));
    // Without --collapse, the CLI shows every copy and no count.
    let out = home.lookout(&["search", "niger"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("5 of 5 matching documents"), "{stdout}");
    assert!(!stdout.contains("copies"), "{stdout}");
}
