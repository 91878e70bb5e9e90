//! End to end, one alert per story: the real binary with `duplicates = "suppress"`, the seed
//! article (../shared/corpus) and three copies of it edited the way wire copies are, dropped
//! into watch/, give one alert (delivered to a real webhook listener) and three copy records
//! pointing at it; after a restart a fourth copy is still a copy, and search returns them all.

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

    // 1. A new headline and a byline.
    let headline_byline = format!(
        "Niger scraps U.S. security deal\n\nBy Amina Diallo, West Africa correspondent\n\n{}",
        paras.join("\n\n")
    );
    // 2. A paragraph dropped (the third), and the agency's boilerplate line at the end.
    let mut dropped = paras.clone();
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
    home.drop_file("copy-byline.txt", headline_byline.as_bytes());
    home.drop_file("copy-dropped.txt", dropped.as_bytes());
    home.drop_file("copy-changed.html", html.as_bytes());
    // A distinct article on the same topic alerts on its own.
    let distinct = "Niger talks on the security agreement\n\nNiger's foreign minister said on \
        Monday the government would review every security agreement signed before the coup, \
        starting with defence accords with France and the United States, and would put new \
        terms to parliament before the end of the year. Officials in Niamey said talks with \
        Russian and Turkish delegations on training and equipment were continuing.";
    home.drop_file("distinct.txt", distinct.as_bytes());

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
