//! Snapshots of what the command line prints, through the real binary in a temp folder on a
//! small fixed corpus: `search`, `queries list/check`, `status`, `alerts`, `match`, `ingest`,
//! the error outputs, each with its exit status; and one alert record of the log.
//!
//! What varies from run to run is replaced: the home folder (`[HOME]`), times (`[TIME]`),
//! durations, ports, index sizes, the version, and a log line's target (a module path). Commands
//! run with `RUST_LOG=warn`, so the log's warnings and errors are kept and its info lines
//! (timings, internals) are not.
//!
//! Review a change with `cargo insta review` (or `INSTA_UPDATE=always cargo test` and
//! `git diff tests/snapshots/`): a diff here is a change users see.

mod support;

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use support::*;

const QUERIES: &str = r#"
[[queries]]
name = "niger"
query = "niger"

[[queries]]
name = "security-pact"
query = '"security pact"~2 OR "security agreement"'

[[queries]]
name = "sahel"
query = "(niger OR mali) AND NOT title:oil"

[[queries]]
name = "short-prefix"
query = "dr* AND base"

[[queries]]
name = "recent"
query = "date:[2024-01-01 TO *] gold"

[[queries]]
name = "broken"
query = "chad AND"
"#;

/// The fixed corpus: the six fixture articles, and one file of two JSON articles with every
/// field.
fn write_corpus(dir: &Path) {
    copy_fixture_articles(dir);
    std::fs::write(
        dir.join("wire.jsonl"),
        concat!(
            r#"{"title": "Niger and Mali form a Sahel alliance", "body": "The juntas of Niger and Mali signed a mutual defence pact, a security agreement in all but name.", "date": "2024-07-06", "source": "Wire", "url": "https://news.example/sahel-alliance", "tags": ["sahel", "defence"]}"#,
            "\n",
            r#"{"title": "Gold output rises", "body": "Mali's gold output rose this year.", "date": "2023-11-02", "source": "Wire"}"#,
            "\n"
        ),
    )
    .unwrap();
}

/// A command's outputs for a snapshot.
struct Ran {
    shown: String,
}

/// Run `lookout ARGS` in `home`'s folder (on its config unless `args` name another).
fn lookout(home: &Home, args: &[&str]) -> Ran {
    let mut command = Command::new(BIN);
    command.current_dir(home.dir.path());
    if !args.contains(&"--config") {
        command.arg("--config").arg("config.toml");
    }
    let output = command
        .args(args)
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("CLICOLOR")
        .env_remove("LOOKOUT_CONFIG")
        .output()
        .unwrap();
    let mut shown = String::new();
    let _ = writeln!(
        shown,
        "$ lookout {}\nexit status {}",
        args.iter()
            .map(|a| if a.contains(' ') || a.is_empty() {
                format!("{a:?}")
            } else {
                a.to_string()
            })
            .collect::<Vec<_>>()
            .join(" "),
        output.status.code().unwrap_or(-1)
    );
    let _ = write!(
        shown,
        "--- stdout\n{}--- stderr\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ran { shown }
}

/// The filters that make outputs repeatable: what varies between runs, replaced.
fn filters(home: &Home) -> Vec<(String, String)> {
    let mut filters: Vec<(String, String)> = time_filters();
    let more: Vec<(String, &str)> = vec![
        // The home folder, wherever a path shows it.
        (home.path_pattern(), "[HOME]"),
        // A log line's target: a module path, which moves without the behaviour changing.
        (
            r"(?m)^(\[TIME\]\s+(?:ERROR|WARN|INFO|DEBUG|TRACE)\s+)[a-z_]+(?:::[a-z_]+)*:".into(),
            "${1}[TARGET]:",
        ),
        // Durations of a run.
        (r"in \d+\.\ds:".into(), "in [SECONDS]s:"),
        // Ports of a daemon's API.
        (r"127\.0\.0\.1:\d+".into(), "127.0.0.1:[PORT]"),
        // The index's size on disk (segment files vary with commits and merges), and the
        // version.
        (
            r#""index_bytes":\s*\d+"#.into(),
            r#""index_bytes": "[BYTES]""#,
        ),
        (
            r#""version":\s*"\d+\.\d+\.\d+[^"]*""#.into(),
            r#""version": "[VERSION]""#,
        ),
        (
            r"\(\d+(\.\d+)? (B|KiB|MiB|GiB|bytes)\)".into(),
            "([INDEX SIZE])",
        ),
    ];
    filters.extend(more.into_iter().map(|(a, b)| (a, b.to_string())));
    filters
}

/// Assert `ran`'s outputs, with the varying parts of `home`'s runs replaced.
#[track_caller]
fn snapshot(home: &Home, name: &str, ran: Ran) {
    let mut settings = insta::Settings::clone_current();
    for (regex, replacement) in filters(home) {
        settings.add_filter(&regex, replacement);
    }
    settings.bind(|| insta::assert_snapshot!(name, ran.shown));
}

/// Several commands' outputs in one snapshot.
fn transcript(home: &Home, commands: &[&[&str]]) -> Ran {
    let shown = commands
        .iter()
        .map(|args| lookout(home, args).shown)
        .collect::<Vec<_>>()
        .join("\n");
    Ran { shown }
}

#[test]
fn outputs_before_anything_is_indexed() {
    let home = Home::new(QUERIES);
    write_corpus(&home.path("in"));
    snapshot(
        &home,
        "before_indexing",
        transcript(
            &home,
            &[
                &["search", "niger"],
                &["status"],
                &["alerts"],
                &["alerts", "--json"],
                &["queries", "check"],
            ],
        ),
    );
    snapshot(
        &home,
        "status_json_before_indexing",
        pretty(lookout(&home, &["status", "--json"])),
    );
}

/// `ran` with the JSON of its stdout pretty-printed (keys in the order written), for a
/// command that prints one JSON value.
fn pretty(mut ran: Ran) -> Ran {
    let Some(start) = ran.shown.find("--- stdout\n") else {
        return ran;
    };
    let start = start + "--- stdout\n".len();
    let Some(end) = ran.shown.find("--- stderr\n") else {
        return ran;
    };
    if let Some(json) = pretty_json(&ran.shown[start..end]) {
        ran.shown
            .replace_range(start..end, &format!("(pretty-printed)\n{json}\n"));
    }
    ran
}

#[test]
fn outputs_of_the_commands_on_a_fixed_corpus() {
    let home = Home::new(QUERIES);
    write_corpus(&home.path("in"));
    std::fs::write(
        home.path("q.tsv"),
        "niger\tniger\nmali-gold\tmali AND gold\nnone\tzebra\n",
    )
    .unwrap();

    snapshot(
        &home,
        "queries_list",
        transcript(&home, &[&["queries", "list"]]),
    );
    snapshot(
        &home,
        "queries_list_json",
        pretty(lookout(&home, &["queries", "list", "--json"])),
    );
    snapshot(
        &home,
        "match",
        transcript(
            &home,
            &[
                &["match", "--queries", "q.tsv", "in"],
                &["match", "--queries", "q.tsv", "in/oil-prices.txt"],
                &["match", "--queries", "q.tsv", "in", "missing.txt"],
                &["match", "in"],
            ],
        ),
    );
    // The counts of a whole folder's ingest are the same in any order; the corpus of the
    // other snapshots is then ingested a file at a time, so that its alerts and index are in
    // one order whatever order a run takes files in.
    let fresh = Home::new(QUERIES);
    write_corpus(&fresh.path("in"));
    std::fs::write(fresh.path("photo.png"), b"\x89PNG\r\n").unwrap();
    snapshot(
        &fresh,
        "ingest",
        transcript(
            &fresh,
            &[
                &["ingest", "in"],
                &["ingest", "in"],
                &["ingest", "in/niger-pact.txt", "missing.txt"],
                &["ingest", "photo.png"],
                &["ingest", "config.toml"],
            ],
        ),
    );
    home.ingest_each_in_name_order("in");
    snapshot(
        &home,
        "search_plain",
        transcript(
            &home,
            &[
                &["search", "niger"],
                &["search", "\"security agreement\""],
                &["search", "--limit", "2", "--offset", "1", "niger"],
                &["search", "--offset", "100", "niger"],
                &["search", "zebra"],
                &["search", "niger and mali"],
                &["search", "date:[2024-07-01 TO *]"],
                &["search", "--collapse", "niger"],
                &["search", "--collapse", "--offset", "100", "niger"],
                &["queries", "run", "sahel"],
            ],
        ),
    );
    snapshot(
        &home,
        "search_json",
        transcript(
            &home,
            &[
                &["search", "--json", "niger"],
                &["search", "--json", "--offset", "100", "niger"],
                &["search", "--json", "zebra"],
                &["search", "--json", "--collapse", "--limit", "2", "niger"],
            ],
        ),
    );
    snapshot(
        &home,
        "queries_check",
        transcript(&home, &[&["queries", "check"]]),
    );
    snapshot(&home, "status", transcript(&home, &[&["status"]]));
    snapshot(
        &home,
        "status_json",
        pretty(lookout(&home, &["status", "--json"])),
    );
    snapshot(
        &home,
        "alerts",
        transcript(
            &home,
            &[
                &["alerts"],
                &["alerts", "--query", "sahel", "--limit", "1"],
                &["alerts", "--query", "nope"],
                &["alerts", "--since", "2999-01-01"],
            ],
        ),
    );
    snapshot(
        &home,
        "alerts_json",
        transcript(
            &home,
            &[&["alerts", "--json"], &["alerts", "--json", "--limit", "2"]],
        ),
    );

    // One alert record, as the log holds it (one line, shown pretty-printed).
    let log = std::fs::read_to_string(home.path("alerts.jsonl")).unwrap();
    let line = log
        .lines()
        .find(|l| l.contains("\"name\":\"sahel\"") && l.contains("\"path\":\"in/wire.jsonl#1\""))
        .unwrap_or_else(|| panic!("no alert of sahel on wire.jsonl#1:\n{log}"));
    snapshot(
        &home,
        "alert_record",
        Ran {
            shown: format!("{line}\n\n{}\n", pretty_json(line).unwrap()),
        },
    );
    let alerts = home.alert_lines();
    // The alerts, by query and document, in the log's order.
    let listed: Vec<String> = alerts
        .iter()
        .map(|a| {
            format!(
                "{}  {}  {}",
                a["query"]["name"].as_str().unwrap_or_default(),
                a["doc"]["path"].as_str().unwrap_or_default(),
                a["alert_id"].as_str().unwrap_or_default()
            )
        })
        .collect();
    snapshot(
        &home,
        "alert_log_order",
        Ran {
            shown: listed.join("\n"),
        },
    );

    // Adding and removing saved queries in the files (no daemon runs).
    snapshot(
        &home,
        "queries_add_rm",
        transcript(
            &home,
            &[
                &["queries", "add", "gold", "gold", "--dry-run"],
                &["queries", "add", "zebra", "zebra", "--dry-run"],
                &["queries", "add", "gold", "gold"],
                &["queries", "add", "gold", "gold OR silver"],
                &["queries", "add", "tiny", "g*"],
                &["queries", "add", "bad", "niger AND"],
                &["queries", "add", "a b", "niger"],
                &["queries", "add", "check", "niger"],
                &["queries", "add", "hooked", "niger", "--webhook", "nope"],
                &["queries", "rm", "gold"],
                &["queries", "rm", "gold"],
                &["queries", "run", "nope"],
                &["queries", "run", "broken"],
            ],
        ),
    );
}

#[test]
fn error_outputs_and_their_exit_statuses() {
    let home = Home::new(QUERIES);
    snapshot(
        &home,
        "errors",
        transcript(
            &home,
            &[
                &["--config", "nope.toml", "status"],
                &["search", "--bogus", "x"],
                &["search"],
                &["search", "--limit", "0", "niger"],
                &["search", "--limit", "1000001", "niger"],
                &["search", "--offset", "-1", "niger"],
                &["search", "niger"],
                &["search", "niger AND"],
                &["alerts", "--since", "yesterday"],
                &["alerts", "--limit", "0"],
                &["alerts", "replay", "--webhook", "nope"],
                &["ingest"],
                &["ingest", "missing.txt"],
                &["match", "missing.txt"],
                &["queries"],
                &["queries", "run"],
                &["nonsense"],
            ],
        ),
    );
    // A configuration that does not load.
    std::fs::write(home.config(), "watch = \"watch\"\nindex = 3\n").unwrap();
    snapshot(
        &home,
        "errors_bad_config",
        transcript(&home, &[&["status"], &["search", "niger"]]),
    );
}

#[test]
fn outputs_through_a_running_daemon() {
    let home = Home::new(QUERIES);
    write_corpus(&home.path("in"));
    home.ingest_each_in_name_order("in");
    let daemon = home.start_daemon(1);
    snapshot(
        &home,
        "daemon_queries",
        transcript(
            &home,
            &[
                &["queries", "list"],
                &["queries", "list", "--json"],
                &["queries", "add", "gold", "gold", "--dry-run"],
                &["queries", "add", "gold", "gold", "--backfill"],
                &["queries", "add", "gold", "gold OR silver"],
                &["queries", "add", "bad", "niger AND"],
                &["queries", "add", "hooked", "niger", "--webhook", "nope"],
                &["queries", "rm", "gold"],
                &["queries", "rm", "gold"],
            ],
        ),
    );
    let status = lookout(&home, &["status"]);
    snapshot(&home, "daemon_status", status);
    snapshot(
        &home,
        "daemon_status_json",
        pretty(lookout(&home, &["status", "--json"])),
    );
    daemon.stop();
}
