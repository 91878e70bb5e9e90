//! The command line through the real binary: exit statuses (grep's: 0 found, 1 nothing found,
//! 2 error) for every command, `--color` and `NO_COLOR`, `queries list` (marked invalid
//! queries, `--json`, what the running daemon runs), `match` paths, pages past the end, exact
//! pre-filter counts in `queries check`, error messages that name their cause once, the
//! shipped `config.toml`, and live configuration edits that are refused and tried again.

mod support;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use support::*;

/// Run lookout in `home`'s folder (relative paths are as a user types them) on its config
/// (unless `args` name another), with `env` set and the color variables of the test's own
/// environment removed.
fn lookout_in(home: &Home, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(BIN);
    command.current_dir(home.dir.path());
    if !args.contains(&"--config") {
        command.arg("--config").arg(home.config());
    }
    command
        .args(args)
        .env("RUST_LOG", "info")
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR")
        .env_remove("CLICOLOR_FORCE");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().unwrap()
}

fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Assert the exit status, showing the output when it differs.
#[track_caller]
fn expect_code(out: &Output, expected: i32, what: &str) {
    assert_eq!(
        code(out),
        Some(expected),
        "{what}: exit status\nstdout:\n{}\nstderr:\n{}",
        stdout(out),
        stderr(out)
    );
}

fn write(path: &Path, text: &str) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(path, text).unwrap();
}

/// Replace a file the way an editor saves it: a temporary file renamed over it.
fn save(path: &Path, text: &str) {
    let temp = path.with_extension("saving");
    std::fs::write(&temp, text).unwrap();
    std::fs::rename(&temp, path).unwrap();
}

const QUERIES: &str = "\
[[queries]]
name = \"niger\"
query = \"niger\"
[[queries]]
name = \"broken\"
query = \"chad AND\"
";

#[test]
fn exit_codes_of_ingest_and_match() {
    let home = Home::new(QUERIES);
    write(
        &home.path("in/a/x.txt"),
        "Niger news\n\nThe junta in Niger spoke.\n",
    );
    write(
        &home.path("in/b/x.txt"),
        "Niger again\n\nNiger, once more.\n",
    );
    write(
        &home.path("other/y.txt"),
        "Mali\n\nNothing here about the other one.\n",
    );
    std::fs::create_dir_all(home.path("empty")).unwrap();

    // The finding: a successful ingest exited 1 because an unrelated saved query is invalid.
    let out = lookout_in(&home, &["ingest", "in"], &[]);
    expect_code(&out, 0, "ingest with an unrelated invalid saved query");
    assert!(
        stderr(&out).contains("saved query 'broken'"),
        "{}",
        stderr(&out)
    );
    expect_code(
        &lookout_in(&home, &["ingest", "in"], &[]),
        0,
        "ingest unchanged files",
    );
    expect_code(
        &lookout_in(&home, &["ingest", "empty"], &[]),
        1,
        "ingest of no file",
    );
    let out = lookout_in(&home, &["ingest", "in", "nope.txt"], &[]);
    expect_code(&out, 2, "ingest of a missing path");
    assert!(
        stderr(&out).contains("nope.txt: No such file or directory"),
        "{}",
        stderr(&out)
    );
    write(&home.path("bad/b.json"), "{ not json");
    expect_code(
        &lookout_in(&home, &["ingest", "bad"], &[]),
        2,
        "ingest of a bad file",
    );

    // The finding: match exited 1 when it printed matches.
    let queries = home.path("q.tsv");
    write(&queries, "niger\tniger\nmali\tmali AND junta\n");
    let out = lookout_in(&home, &["match", "--queries", "q.tsv", "in"], &[]);
    expect_code(&out, 0, "match with matches");
    let out = lookout_in(&home, &["match", "--queries", "q.tsv", "other"], &[]);
    expect_code(&out, 1, "match without a match");
    assert_eq!(stdout(&out), "");
    let out = lookout_in(
        &home,
        &["match", "--queries", "q.tsv", "in", "missing"],
        &[],
    );
    expect_code(&out, 2, "match with a missing path (matches still printed)");
    assert_eq!(stdout(&out).lines().count(), 2, "{}", stdout(&out));
    // A saved query that does not parse is an error of match's own input.
    let out = lookout_in(&home, &["match", "in"], &[]);
    expect_code(&out, 2, "match with an invalid saved query");
    assert_eq!(stdout(&out).lines().count(), 2, "{}", stdout(&out));
}

#[test]
fn match_prints_the_same_in_the_same_order_on_any_number_of_threads() {
    let home = Home::new(
        "[[queries]]\nname = \"niger\"\nquery = \"niger\"\n\n[[queries]]\nname = \"mali\"\nquery = \"mali OR bamako\"\n",
    );
    // More files than a chunk (256), with matches, misses, warnings and a refusal among them.
    for i in 0..600 {
        let body = match i % 5 {
            0 => format!("Niger {i}\n\nniger and mali"),
            1 => format!("Bamako {i}\n\nmali"),
            2 => format!("Other {i}\n\nnothing here"),
            3 => "{\"title\":\"Niger\",\"body\":\"niger\"}\nnot json\n".to_string(),
            _ => format!("Niger {i}\n\nniger"),
        };
        let name = if i % 5 == 3 {
            format!("in/{i:04}.jsonl")
        } else {
            format!("in/{i:04}.txt")
        };
        write(&home.path(&name), &body);
    }
    write(&home.path("in/0100-empty.txt"), "");
    let one = lookout_in(&home, &["match", "in"], &[("RAYON_NUM_THREADS", "1")]);
    let many = lookout_in(&home, &["match", "in"], &[("RAYON_NUM_THREADS", "4")]);
    assert_eq!(stdout(&one), stdout(&many));
    assert_eq!(
        String::from_utf8_lossy(&one.stderr),
        String::from_utf8_lossy(&many.stderr)
    );
    assert_eq!(code(&one), code(&many));
    assert_eq!(stdout(&one).lines().count(), 120 * 2 + 120 + 120 + 120);
    assert!(String::from_utf8_lossy(&one.stderr).contains("0100-empty.txt"));
}

#[test]
fn match_prints_paths_as_given() {
    let home = Home::new("[[queries]]\nname = \"niger\"\nquery = \"niger\"\n");
    write(&home.path("in/a/x.txt"), "Niger news\n\nNiger.\n");
    write(&home.path("in/b/x.txt"), "Niger again\n\nNiger.\n");
    write(&home.path("one.txt"), "Niger once\n\nNiger.\n");
    write(
        &home.path("in/many.jsonl"),
        "{\"title\":\"Mali\",\"body\":\"mali\"}\n{\"title\":\"Niger\",\"body\":\"niger\"}\n",
    );
    let out = lookout_in(&home, &["match", "in", "one.txt"], &[]);
    expect_code(&out, 0, "match");
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "niger\tin/a/x.txt",
            "niger\tin/b/x.txt",
            "niger\tin/many.jsonl#2",
            "niger\tone.txt"
        ]
    );
    // An absolute argument stays absolute.
    let absolute = home.path("in/a");
    let out = lookout_in(&home, &["match", absolute.to_str().unwrap()], &[]);
    assert_eq!(
        stdout(&out),
        format!("niger\t{}\n", absolute.join("x.txt").display())
    );
}

#[test]
fn exit_codes_of_search_queries_and_alerts() {
    let home = Home::new(QUERIES);
    let out = lookout_in(&home, &["search", "niger"], &[]);
    expect_code(&out, 2, "search without an index");
    assert!(stderr(&out).contains("no index at"), "{}", stderr(&out));

    write(
        &home.path("in/x.txt"),
        "Niger news\n\nThe junta in Niger spoke.\n",
    );
    write(&home.path("in/y.txt"), "Mali news\n\nBamako.\n");
    expect_code(&lookout_in(&home, &["ingest", "in"], &[]), 0, "ingest");

    expect_code(
        &lookout_in(&home, &["search", "niger"], &[]),
        0,
        "search with a hit",
    );
    expect_code(
        &lookout_in(&home, &["search", "--json", "niger"], &[]),
        0,
        "search --json",
    );
    let out = lookout_in(&home, &["search", "togo"], &[]);
    expect_code(&out, 1, "search without a hit");
    assert_eq!(stdout(&out), "no matching document\n");
    let out = lookout_in(&home, &["search", "niger AND"], &[]);
    expect_code(&out, 2, "search with an invalid query");
    assert!(stderr(&out).contains("column 10"), "{}", stderr(&out));
    expect_code(
        &lookout_in(&home, &["search", "--limit", "0", "niger"], &[]),
        2,
        "--limit 0",
    );

    // The finding: a page past the end printed "0 of 1 matching document".
    let out = lookout_in(&home, &["search", "--offset", "5", "niger"], &[]);
    expect_code(&out, 1, "a page past the end");
    assert_eq!(
        stdout(&out),
        "--offset 5 is past the last hit: there is 1 matching document (use an --offset below 1)\n"
    );
    let out = lookout_in(&home, &["search", "--json", "--offset", "1", "niger"], &[]);
    expect_code(&out, 1, "a JSON page past the end");
    assert_eq!(stdout(&out), "");
    assert!(
        stderr(&out).contains("past the last hit"),
        "{}",
        stderr(&out)
    );

    expect_code(
        &lookout_in(&home, &["queries", "run", "niger"], &[]),
        0,
        "queries run",
    );
    let out = lookout_in(&home, &["queries", "run", "nope"], &[]);
    expect_code(&out, 2, "queries run of an unknown query");
    let out = lookout_in(&home, &["queries", "run", "broken"], &[]);
    expect_code(&out, 2, "queries run of an invalid query");
    assert!(stderr(&out).contains("column 9"), "{}", stderr(&out));

    expect_code(
        &lookout_in(&home, &["queries", "list"], &[]),
        0,
        "queries list",
    );
    expect_code(
        &lookout_in(&home, &["queries", "check"], &[]),
        1,
        "queries check, one invalid",
    );

    // No daemon runs: add and rm work on the files.
    let out = lookout_in(&home, &["queries", "add", "bad", "niger AND"], &[]);
    expect_code(&out, 2, "queries add of an invalid query");
    let out = lookout_in(&home, &["queries", "add", "togo", "togo", "--dry-run"], &[]);
    expect_code(&out, 1, "a dry run that matches nothing");
    let out = lookout_in(&home, &["queries", "add", "mali", "mali", "--dry-run"], &[]);
    expect_code(&out, 0, "a dry run that matches");
    let out = lookout_in(&home, &["queries", "add", "mali", "mali"], &[]);
    expect_code(&out, 0, "queries add");
    assert!(
        stdout(&out).starts_with("added 'mali' in "),
        "{}",
        stdout(&out)
    );
    let out = lookout_in(
        &home,
        &["queries", "add", "x", "x", "--webhook", "nope"],
        &[],
    );
    expect_code(&out, 2, "queries add with an unknown webhook");
    expect_code(
        &lookout_in(&home, &["queries", "rm", "mali"], &[]),
        0,
        "queries rm",
    );
    let out = lookout_in(&home, &["queries", "rm", "mali"], &[]);
    expect_code(&out, 1, "queries rm of a query not there");
    expect_code(
        &lookout_in(&home, &["queries", "rm", "broken"], &[]),
        0,
        "rm broken",
    );
    expect_code(
        &lookout_in(&home, &["queries", "check"], &[]),
        0,
        "queries check, all valid",
    );
    expect_code(
        &lookout_in(&home, &["queries", "rm", "niger"], &[]),
        0,
        "rm niger",
    );
    let out = lookout_in(&home, &["queries", "list"], &[]);
    expect_code(&out, 1, "queries list of no query");

    // Alerts: the ingest raised one for 'niger'.
    expect_code(&lookout_in(&home, &["alerts"], &[]), 0, "alerts");
    expect_code(
        &lookout_in(&home, &["alerts", "--query", "niger"], &[]),
        0,
        "alerts --query",
    );
    expect_code(
        &lookout_in(&home, &["alerts", "--query", "nope"], &[]),
        1,
        "alerts of no query",
    );
    expect_code(
        &lookout_in(&home, &["alerts", "--since", "2999-01-01"], &[]),
        1,
        "alerts --since the future",
    );
    expect_code(
        &lookout_in(&home, &["alerts", "--since", "yesterday"], &[]),
        2,
        "alerts --since something that is not a time",
    );
    expect_code(
        &lookout_in(&home, &["alerts", "--limit", "1"], &[]),
        0,
        "alerts --limit",
    );
    expect_code(
        &lookout_in(&home, &["alerts", "replay", "--webhook", "no"], &[]),
        2,
        "replay",
    );
}

#[test]
fn exit_codes_of_status_run_and_the_rest() {
    let home = Home::new("");
    expect_code(
        &lookout_in(&home, &["status"], &[]),
        0,
        "status of a fresh home",
    );
    expect_code(
        &lookout_in(&home, &["completions", "bash"], &[]),
        0,
        "completions",
    );
    expect_code(&lookout_in(&home, &["openapi"], &[]), 0, "openapi");
    expect_code(&lookout_in(&home, &["--help"], &[]), 0, "--help");
    expect_code(
        &lookout_in(&home, &["search", "--bogus", "x"], &[]),
        2,
        "a usage error",
    );
    let out = lookout_in(&home, &["--config", "nope.toml", "status"], &[]);
    expect_code(&out, 2, "a missing config");
    assert!(
        stderr(&out).contains("no config file at nope.toml"),
        "{}",
        stderr(&out)
    );

    // An index that cannot be read is said, once, and status exits 2.
    write(&home.path("index/meta.json"), "garbage\n");
    let out = lookout_in(&home, &["status"], &[]);
    expect_code(&out, 2, "status with a corrupt index");
    let err = stderr(&out);
    assert_eq!(
        err.matches("Meta file cannot be deserialized").count(),
        1,
        "{err}"
    );
    let out = lookout_in(&home, &["search", "x"], &[]);
    expect_code(&out, 2, "search on a corrupt index");
    assert_eq!(
        stderr(&out)
            .matches("Meta file cannot be deserialized")
            .count(),
        1,
        "{}",
        stderr(&out)
    );
    let out = lookout_in(&home, &["queries", "check"], &[]);
    expect_code(&out, 2, "queries check on a corrupt index");
    std::fs::remove_file(home.path("index/meta.json")).unwrap();

    // The index held by a running daemon: ingest says so and exits 2; search runs beside it.
    let daemon = home.start_daemon(1);
    write(&home.path("in/x.txt"), "Niger\n\nNiger news.\n");
    let out = lookout_in(&home, &["ingest", "in"], &[]);
    expect_code(&out, 2, "ingest beside a daemon");
    assert!(
        stderr(&out).contains("in use by another lookout process"),
        "{}",
        stderr(&out)
    );
    expect_code(
        &lookout_in(&home, &["status"], &[]),
        0,
        "status of a running daemon",
    );
    expect_code(
        &lookout_in(&home, &["search", "niger"], &[]),
        1,
        "search beside a daemon",
    );
    daemon.stop();
    expect_code(
        &lookout_in(&home, &["status"], &[]),
        0,
        "status once it stopped",
    );
}

/// The finding: "No space left on device (os error 28): No space left on device (os error 28)".
#[cfg(target_os = "linux")]
#[test]
fn a_fatal_io_error_names_its_cause_once() {
    if !Path::new("/dev/full").exists() {
        return;
    }
    let home = Home::new("");
    std::fs::write(
        home.config(),
        "alert_log = \"/dev/full\"\n[[queries]]\nname = \"niger\"\nquery = \"niger\"\n",
    )
    .unwrap();
    write(&home.path("in/x.txt"), "Niger\n\nNiger news.\n");
    let out = lookout_in(&home, &["ingest", "in"], &[]);
    expect_code(&out, 2, "ingest onto a full disk");
    let err = stderr(&out);
    let line = err
        .lines()
        .find(|l| l.starts_with("lookout: "))
        .unwrap_or_else(|| panic!("no error line: {err}"));
    assert_eq!(line.matches("No space left on device").count(), 1, "{line}");
    assert!(line.contains("/dev/full"), "{line}");

    // A configuration that cannot be read: one cause, once.
    std::fs::create_dir(home.path("dir.toml")).unwrap();
    let out = lookout_in(&home, &["--config", "dir.toml", "status"], &[]);
    expect_code(&out, 2, "a config that is a folder");
    assert_eq!(
        stderr(&out).matches("Is a directory").count(),
        1,
        "{}",
        stderr(&out)
    );
}

#[test]
fn color_follows_the_flag_then_no_color_then_the_terminal() {
    let home = Home::new("[[queries]]\nname = \"niger\"\nquery = \"niger\"\n");
    write(
        &home.path("in/x.txt"),
        "Niger news\n\nThe junta in Niger spoke.\n",
    );
    const ESC: &str = "\x1b[";
    // Log lines on stderr (ingest logs at INFO).
    let out = lookout_in(&home, &["ingest", "in"], &[("CLICOLOR_FORCE", "1")]);
    assert!(
        stderr(&out).contains(ESC),
        "forced color, logs: {}",
        stderr(&out)
    );
    let forced_off = [("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")];
    write(&home.path("in2/y.txt"), "Niger more\n\nNiger.\n");
    let out = lookout_in(&home, &["ingest", "in2"], &forced_off);
    expect_code(&out, 0, "ingest");
    assert!(
        !stderr(&out).contains(ESC),
        "NO_COLOR, logs: {}",
        stderr(&out)
    );
    write(&home.path("in3/z.txt"), "Niger again\n\nNiger.\n");
    let out = lookout_in(
        &home,
        &["--color", "never", "ingest", "in3"],
        &[("CLICOLOR_FORCE", "1")],
    );
    assert!(
        !stderr(&out).contains(ESC),
        "--color never, logs: {}",
        stderr(&out)
    );

    // Output on stdout, for every command that decorates it.
    for args in [
        &["search", "niger"][..],
        &["alerts"][..],
        &["queries", "list"][..],
        &["queries", "run", "niger"][..],
    ] {
        let out = lookout_in(&home, args, &[]);
        assert!(
            !stdout(&out).contains(ESC),
            "{args:?} to a pipe: {}",
            stdout(&out)
        );
        let out = lookout_in(&home, args, &[("CLICOLOR_FORCE", "1")]);
        assert!(
            stdout(&out).contains(ESC),
            "{args:?} forced: {}",
            stdout(&out)
        );
        let out = lookout_in(&home, args, &forced_off);
        assert!(
            !stdout(&out).contains(ESC),
            "{args:?} NO_COLOR: {}",
            stdout(&out)
        );
        let mut never = vec!["--color", "never"];
        never.extend_from_slice(args);
        let out = lookout_in(&home, &never, &[("CLICOLOR_FORCE", "1")]);
        assert!(
            !stdout(&out).contains(ESC),
            "{args:?} --color never: {}",
            stdout(&out)
        );
        let mut always = vec!["--color", "always"];
        always.extend_from_slice(args);
        let out = lookout_in(&home, &always, &[("NO_COLOR", "1")]);
        assert!(
            stdout(&out).contains(ESC),
            "{args:?} --color always: {}",
            stdout(&out)
        );
    }
    let out = lookout_in(&home, &["--color", "sometimes", "status"], &[]);
    expect_code(&out, 2, "an unknown --color");
}

#[test]
fn queries_list_marks_invalid_queries_and_prints_json() {
    let home = Home::new(QUERIES);
    let out = lookout_in(&home, &["queries", "list"], &[]);
    expect_code(&out, 0, "queries list");
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "niger   active   niger", "{text}");
    assert_eq!(lines[1], "broken  invalid  chad AND", "{text}");
    // The caret sits under column 9 of the query text.
    let caret = lines[2].find('^').unwrap();
    assert_eq!(caret, lines[1].find("chad AND").unwrap() + 8, "{text}");
    assert!(
        lines[2].ends_with("expected a term after AND at column 9"),
        "{text}"
    );
    assert!(stderr(&out).contains("2 saved queries (1 invalid, not running)"));

    let out = lookout_in(&home, &["queries", "list", "--json"], &[]);
    let list: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(list[0]["name"], "niger");
    assert_eq!(list[0]["status"], "active");
    assert_eq!(list[1]["status"], "invalid");
    assert_eq!(list[1]["error"]["column"], 9);
    assert_eq!(list[1]["error"]["message"], "expected a term after AND");
}

#[test]
fn queries_list_shows_what_the_running_daemon_runs() {
    let home = Home::new("[[queries]]\nname = \"niger\"\nquery = \"niger\"\n");
    let daemon = home.start_daemon(1);
    // An edit that does not parse: the daemon keeps running the query as it was.
    let text = std::fs::read_to_string(home.config()).unwrap();
    save(
        &home.config(),
        &text.replace("query = \"niger\"", "query = \"niger AND\""),
    );
    daemon.wait_for_log("the running version stays", Duration::from_secs(15));

    let out = lookout_in(&home, &["queries", "list", "--json"], &[]);
    expect_code(&out, 0, "queries list beside a daemon");
    let listed: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(listed[0]["query"], "niger", "{listed}");
    assert_eq!(listed[0]["status"], "active", "{listed}");
    assert!(
        stderr(&out).contains("the files say otherwise"),
        "{}",
        stderr(&out)
    );
    let api: serde_json::Value = reqwest::blocking::get(format!("{}/queries", home.api()))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(listed, api);
    let out = lookout_in(&home, &["queries", "list"], &[]);
    assert!(stderr(&out).contains("from the running daemon at http://127.0.0.1:"));
    daemon.stop();

    // No daemon: the files say it is invalid.
    let out = lookout_in(&home, &["queries", "list", "--json"], &[]);
    let listed: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(listed[0]["status"], "invalid", "{listed}");
}

#[test]
fn queries_check_counts_the_articles_a_prefilter_selects() {
    let home = Home::new(
        "[[queries]]\nname = \"niger\"\nquery = \"niger\"\n\
         [[queries]]\nname = \"either\"\nquery = \"mali OR niger\"\n",
    );
    // 'niger' in the title and the body of one article: one article, not two.
    write(
        &home.path("in/a.txt"),
        "Niger\n\nThe junta in Niger spoke.\n",
    );
    write(&home.path("in/b.txt"), "Chad\n\nNdjamena news.\n");
    write(&home.path("in/c.txt"), "Togo\n\nLome news.\n");
    expect_code(&lookout_in(&home, &["ingest", "in"], &[]), 0, "ingest");
    let out = lookout_in(&home, &["queries", "check"], &[]);
    expect_code(&out, 0, "queries check");
    let text = stdout(&out);
    assert!(
        text.contains("ok  niger  pre-filtered on niger (1 of 3 indexed articles)"),
        "{text}"
    );
    // A changed file replaces its article: the old one no longer counts.
    write(&home.path("in/a.txt"), "Mali\n\nBamako news.\n");
    expect_code(
        &lookout_in(&home, &["ingest", "in"], &[]),
        0,
        "ingest again",
    );
    let text = stdout(&lookout_in(&home, &["queries", "check"], &[]));
    assert!(
        text.contains("ok  niger  pre-filtered on niger (0 of 3 indexed articles)"),
        "{text}"
    );
    assert!(
        text.contains("ok  either  pre-filtered on mali | niger (1 of 3 indexed articles)"),
        "{text}"
    );
}

#[test]
fn alerts_limit_and_since() {
    let home = Home::new("[[queries]]\nname = \"niger\"\nquery = \"niger\"\n");
    for i in 0..5 {
        write(
            &home.path(&format!("in/{i}.txt")),
            &format!("Niger {i}\n\nNiger story {i}.\n"),
        );
    }
    expect_code(&lookout_in(&home, &["ingest", "in"], &[]), 0, "ingest");
    let out = lookout_in(&home, &["alerts", "--json", "--limit", "2"], &[]);
    expect_code(&out, 0, "alerts --limit 2");
    let titles: Vec<String> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["doc"]["title"].to_string())
        .collect();
    assert_eq!(
        titles,
        ["\"Niger 3\"", "\"Niger 4\""],
        "the last two, oldest first"
    );
    let out = lookout_in(&home, &["alerts", "--json", "--since", "2000-01-01"], &[]);
    assert_eq!(stdout(&out).lines().count(), 5);
    expect_code(
        &lookout_in(&home, &["alerts", "--limit", "0"], &[]),
        2,
        "--limit 0",
    );
}

/// The class: every commented-out key or table of the shipped `config.toml`, uncommented
/// where it sits (a table with the commented keys under it), gives a valid configuration.
#[test]
fn every_commented_key_of_the_shipped_config_can_be_uncommented() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shipped = std::fs::read_to_string(root.join("config.toml")).unwrap();
    let lines: Vec<&str> = shipped.lines().collect();
    fn commented(line: &str) -> Option<&str> {
        line.strip_prefix('#').map(str::trim_start)
    }
    let is_key = |text: &str| {
        let Some((key, value)) = text.split_once('=') else {
            return false;
        };
        let key = key.trim();
        !key.is_empty()
            && !value.trim().is_empty()
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let is_table = |text: &str| {
        let text = text.trim();
        text.starts_with('[') && text.ends_with(']') && !text.contains(' ')
    };
    // Each block: the line numbers to uncomment together.
    let mut blocks: Vec<Vec<usize>> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        match commented(lines[i]) {
            Some(text) if is_table(text) => {
                let mut block = vec![i];
                while i + 1 < lines.len() && commented(lines[i + 1]).is_some_and(is_key) {
                    i += 1;
                    block.push(i);
                }
                blocks.push(block);
            }
            Some(text) if is_key(text) => blocks.push(vec![i]),
            _ => {}
        }
        i += 1;
    }
    assert!(blocks.len() >= 4, "found only {blocks:?}");
    for block in blocks {
        let dir = tempfile::tempdir().unwrap();
        // The files its commented keys name ship beside it.
        std::fs::copy(root.join("queries.tsv"), dir.path().join("queries.tsv")).unwrap();
        let text: Vec<String> = lines
            .iter()
            .enumerate()
            .map(|(n, line)| match block.contains(&n) {
                true => commented(line).unwrap_or(line).to_string(),
                false => line.to_string(),
            })
            .collect();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, text.join("\n")).unwrap();
        let uncommented: Vec<&str> = block.iter().map(|&n| lines[n]).collect();
        if let Err(error) = lookout::config::Config::load(&path) {
            panic!("uncommenting {uncommented:?} gives an invalid config: {error}");
        }
    }
}

/// The finding: `queries_files` added while the daemon runs, before the file exists: refused;
/// then the file is created: it must be picked up (it was not, even after `touch`).
#[test]
fn a_refused_config_is_tried_again_when_the_file_it_names_appears() {
    let home = Home::new("[[queries]]\nname = \"niger\"\nquery = \"niger\"\n");
    let daemon = home.start_daemon(1);
    let text = std::fs::read_to_string(home.config()).unwrap();
    save(
        &home.config(),
        &format!("queries_files = [\"more/queries.tsv\"]\n{text}"),
    );
    daemon.wait_for_log("configuration change refused", Duration::from_secs(15));
    assert!(
        daemon.log_text().contains("queries.tsv"),
        "{}",
        daemon.log_text()
    );

    // In a folder that did not exist either.
    write(&home.path("more/queries.tsv"), "mali\tmali\n");
    daemon.wait_for_log("saved query added", Duration::from_secs(15));
    daemon.wait_for_log("the configuration loads again", Duration::from_secs(5));
    let out = lookout_in(&home, &["queries", "list", "--json"], &[]);
    let listed: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{listed}");
    assert!(!stderr(&out).contains("say otherwise"), "{}", stderr(&out));
    home.drop_file("m.txt", b"Mali\n\nNews from Bamako.\n");
    assert!(
        wait_until(Duration::from_secs(15), || home
            .alert_lines()
            .iter()
            .any(|a| a["query"]["name"] == "mali")),
        "{}",
        daemon.log_text()
    );

    // Then an edit of that file applies too (it is watched now).
    save(&home.path("more/queries.tsv"), "mali\tmali\ntogo\ttogo\n");
    assert!(
        wait_until(Duration::from_secs(15), || daemon
            .log_text()
            .contains("query=togo")),
        "{}",
        daemon.log_text()
    );
    daemon.stop();
}

/// A `touch` of the config after a refusal tries again (the fingerprint of unchanged files
/// used to drop the signal).
#[test]
fn a_touch_after_a_refusal_tries_again() {
    let home = Home::new("[[queries]]\nname = \"niger\"\nquery = \"niger\"\n");
    let daemon = home.start_daemon(1);
    let text = std::fs::read_to_string(home.config()).unwrap();
    save(
        &home.config(),
        &format!("queries_files = [\"nowhere.tsv\"]\n{text}"),
    );
    daemon.wait_for_log("configuration change refused", Duration::from_secs(15));
    let refusals = || count_lines(&daemon.log, "configuration change refused");
    // Past the quiet period of the watcher: the count settles.
    std::thread::sleep(Duration::from_secs(1));
    let before = refusals();
    let file = std::fs::File::options()
        .append(true)
        .open(home.config())
        .unwrap();
    file.set_modified(SystemTime::now() + Duration::from_secs(5))
        .unwrap();
    drop(file);
    assert!(
        wait_until(Duration::from_secs(15), || refusals() > before),
        "no retry after touch:\n{}",
        daemon.log_text()
    );
    daemon.stop();
}

/// The finding: `INFO saved query added query=chad-typo`, then `ERROR ... left out`.
#[test]
fn a_saved_query_that_does_not_parse_is_one_error_line_not_added() {
    let home = Home::new("[[queries]]\nname = \"niger\"\nquery = \"niger\"\n");
    let daemon = home.start_daemon(1);
    let text = std::fs::read_to_string(home.config()).unwrap();
    let with_typo = text.replace(
        "[[queries]]",
        "[[queries]]\nname = \"chad-typo\"\nquery = \"chad AND\"\n[[queries]]\nname = \"mali\"\nquery = \"mali\"\n[[queries]]",
    );
    save(&home.config(), &with_typo);
    daemon.wait_for_log("configuration reloaded", Duration::from_secs(15));
    let log = daemon.log_text();
    let about_typo: Vec<&str> = log.lines().filter(|l| l.contains("chad-typo")).collect();
    assert_eq!(about_typo.len(), 1, "{log}");
    assert!(
        about_typo[0].contains("ERROR") && about_typo[0].contains("not added"),
        "{log}"
    );
    assert!(about_typo[0].contains("column 9"), "{log}");
    assert!(log.contains("saved query added query=mali"), "{log}");

    // Another edit (the invalid one unchanged) says nothing more about it.
    save(
        &home.config(),
        &with_typo.replace("query = \"mali\"", "query = \"mali OR togo\""),
    );
    daemon.wait_for_log("saved query changed query=mali", Duration::from_secs(15));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        count_lines(&daemon.log, "chad-typo"),
        1,
        "{}",
        daemon.log_text()
    );
    daemon.stop();
}
