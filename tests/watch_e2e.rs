//! Watching and reading files against the real daemon, the ways files really fail to be
//! ready: a file or a folder that cannot be read for a while (with the daemon running as an
//! unprivileged user, since root reads anything), a file refused by a limit that is then
//! raised, writers that pause mid-file or never close, a watch folder whose share is unmounted
//! or which is replaced by another folder, lookout's own files inside the watch folder, and
//! documents whose shown path goes away while another file holds them.

mod support;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use support::*;

fn status(home: &Home) -> Value {
    let out = home.lookout(&["status", "--json"]);
    assert!(
        out.status.success(),
        "status failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// One unlabelled sample of the running daemon's `/metrics`.
fn metric(home: &Home, name: &str) -> f64 {
    let text = reqwest::blocking::get(format!("{}/metrics", home.api()))
        .unwrap()
        .text()
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn alerts_of(home: &Home, query: &str) -> Vec<Value> {
    home.alert_lines()
        .into_iter()
        .filter(|a| a["query"]["name"] == query)
        .collect()
}

/// Write `content` under a hidden name in `folder`, then rename it to `name` there (for a
/// watch folder on another filesystem than the home).
fn drop_into(folder: &Path, name: &str, content: &str) -> PathBuf {
    let tmp = folder.join(format!(".{name}.part"));
    std::fs::write(&tmp, content).unwrap();
    let target = folder.join(name);
    std::fs::rename(&tmp, &target).unwrap();
    target
}

const NIGER: &str = "[[queries]]\nname = \"niger\"\nquery = 'niger'\n";

#[test]
fn a_file_unreadable_when_it_lands_is_indexed_once_it_can_be_read() {
    let home = Home::new_unprivileged(NIGER);
    let daemon = home.start_daemon(1);
    // Moved in with mode 000: the unprivileged daemon cannot open it.
    let staged = home.path(".locked.txt.part");
    std::fs::write(&staged, "Locked\n\nNiger news behind a lock.\n").unwrap();
    chmod(&staged, 0o000);
    let locked = home.path("watch/locked.txt");
    std::fs::rename(&staged, &locked).unwrap();
    daemon.wait_for_log("Permission denied", Duration::from_secs(10));
    daemon.wait_for_log("it will be read again", Duration::from_secs(5));

    // Shown as waiting for a retry, not quarantined; retries are counted.
    let report = status(&home);
    let retrying = report["retrying"].as_array().unwrap();
    assert_eq!(retrying.len(), 1, "{report:#}");
    assert_eq!(retrying[0]["path"], locked.display().to_string());
    assert!(
        retrying[0]["error"]
            .as_str()
            .unwrap()
            .contains("Permission denied"),
        "{report:#}"
    );
    assert!(retrying[0]["attempts"].as_u64().unwrap() >= 1);
    assert!(report["quarantined"].as_array().unwrap().is_empty());
    assert!(
        wait_until(Duration::from_secs(10), || metric(
            &home,
            "lookout_file_read_retries_total"
        ) >= 2.0),
        "no retries counted"
    );
    assert_eq!(metric(&home, "lookout_files_awaiting_retry"), 1.0);
    let text = String::from_utf8_lossy(&home.lookout(&["status"]).stdout).into_owned();
    assert!(text.contains("retrying:    1 file(s)"), "{text}");
    assert!(home.alert_lines().is_empty());

    // Readable again: processed normally, at the next retry (backoff capped at 30 s).
    chmod(&locked, 0o644);
    assert!(
        wait_until(Duration::from_secs(40), || home.alert_lines().len() == 1),
        "never read after chmod:\n{}",
        daemon.log_text()
    );
    daemon.wait_for_log("the file can be read again", Duration::from_secs(5));
    assert!(
        wait_until(Duration::from_secs(5), || status(&home)["retrying"]
            .as_array()
            .unwrap()
            .is_empty()),
        "still listed as retrying"
    );
    let log = daemon.stop();
    assert_eq!(
        count_lines(&home.path("daemon-1.log"), "it will be read again"),
        1,
        "reported more than once:\n{log}"
    );
    assert_eq!(count_lines(&home.path("daemon-1.log"), "vanished"), 0);
    assert_eq!(home.search("lock").len(), 1);
}

#[test]
fn a_file_in_a_folder_unreadable_for_a_moment_is_read_when_it_opens() {
    let home = Home::new_unprivileged(NIGER);
    let sub = home.path("watch/sub");
    std::fs::create_dir(&sub).unwrap();
    let daemon = home.start_daemon(1);
    std::thread::sleep(Duration::from_millis(300));
    // The folder cannot be searched by the daemon while the file lands in it.
    chmod(&sub, 0o000);
    std::fs::write(
        sub.join("inside.txt"),
        "Inside\n\nNiger news in a closed folder.\n",
    )
    .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        home.alert_lines().is_empty(),
        "read through a closed folder?"
    );
    chmod(&sub, 0o755);
    assert!(
        wait_until(Duration::from_secs(30), || home.alert_lines().len() == 1),
        "never read after the folder opened:\n{}",
        daemon.log_text()
    );
    daemon.stop();
    assert_eq!(count_lines(&home.path("daemon-1.log"), "vanished"), 0);
}

#[test]
fn a_file_refused_as_too_large_is_indexed_when_the_limit_is_raised() {
    let home = Home::new(&format!("max_file_size = 100\n{NIGER}"));
    let daemon = home.start_daemon(1);
    let article = format!("Long read\n\nNiger {}\n", "and more words ".repeat(20));
    home.drop_file("long.txt", article.as_bytes());
    daemon.wait_for_log("long.txt: too large", Duration::from_secs(10));
    assert!(wait_until(Duration::from_secs(5), || {
        status(&home)["quarantined"].as_array().unwrap().len() == 1
    }));
    let config = std::fs::read_to_string(home.config())
        .unwrap()
        .replace("max_file_size = 100\n", "max_file_size = 100000\n");
    std::fs::write(home.config(), config).unwrap();
    assert!(
        wait_until(Duration::from_secs(15), || home.alert_lines().len() == 1),
        "not indexed after the limit was raised:\n{}",
        daemon.log_text()
    );
    assert!(wait_until(Duration::from_secs(5), || {
        status(&home)["quarantined"].as_array().unwrap().is_empty()
    }));
    daemon.stop();
}

const OIL: &str = "[[queries]]\nname = \"oil-not-gas\"\nquery = 'oil AND NOT gas'\n\n[[queries]]\nname = \"oil\"\nquery = 'oil'\n";

/// The example: a writer flushes "...oil", keeps the file open for 2 s, then writes
/// "...gas" and closes. Nothing may alert on the partial file.
#[test]
fn a_half_written_file_alerts_only_on_what_it_says_when_closed() {
    let home = Home::new(OIL);
    let daemon = home.start_daemon(1);
    let path = home.path("watch/report.txt");
    let mut file = std::fs::File::create(&path).unwrap();
    file.write_all(b"Market report\n\nThe report mentions oil")
        .unwrap();
    file.flush().unwrap();
    std::thread::sleep(Duration::from_secs(2));
    file.write_all(b" and the report mentions gas.\n").unwrap();
    drop(file);
    assert!(
        wait_until(Duration::from_secs(10), || alerts_of(&home, "oil").len()
            == 1),
        "{:#?}\n{}",
        home.alert_lines(),
        daemon.log_text()
    );
    std::thread::sleep(Duration::from_millis(1000));
    assert!(
        alerts_of(&home, "oil-not-gas").is_empty(),
        "alerted on the partial file: {:#?}",
        home.alert_lines()
    );
    assert_eq!(home.alert_lines().len(), 1);
    // Alert iff search.
    assert!(home.search("oil AND NOT gas").is_empty());
    assert_eq!(home.search("oil AND gas").len(), 1);
    daemon.stop();
}

/// The class: writers that pause longer than the quiet period, and one that appends in many
/// small chunks. Every file alerts once, on its final content, and only that is indexed.
#[test]
fn slow_writers_alert_once_on_their_final_content() {
    let home = Home::new(
        "[[queries]]\nname = \"unfinished\"\nquery = 'opening AND NOT finished'\n\n\
         [[queries]]\nname = \"finished\"\nquery = 'finished'\n",
    );
    let daemon = home.start_daemon(1);
    let writers: Vec<_> = (0..4)
        .map(|i| {
            let path = home.path(&format!("watch/wire-{i}.txt"));
            std::thread::spawn(move || {
                let mut file = std::fs::File::create(&path).unwrap();
                file.write_all(format!("Wire {i}\n\nopening of story {i}.").as_bytes())
                    .unwrap();
                for k in 0..4 {
                    file.flush().unwrap();
                    // Pauses of 300 to 750 ms: each longer than the 250 ms quiet period.
                    std::thread::sleep(Duration::from_millis(300 + 150 * ((i + k) % 4) as u64));
                    file.write_all(format!(" Paragraph {k} of story {i}.").as_bytes())
                        .unwrap();
                }
                file.write_all(b" The story is finished.\n").unwrap();
            })
        })
        .collect();
    let appender_path = home.path("watch/ticker.txt");
    let appender = std::thread::spawn(move || {
        let mut file = std::fs::File::create(&appender_path).unwrap();
        file.write_all(b"Ticker\n\nopening").unwrap();
        for n in 0..150 {
            file.write_all(format!(" tick{n}").as_bytes()).unwrap();
            file.flush().unwrap();
            let pause = if n % 50 == 49 { 400 } else { 10 };
            std::thread::sleep(Duration::from_millis(pause));
        }
        file.write_all(b" finished.\n").unwrap();
    });
    for writer in writers {
        writer.join().unwrap();
    }
    appender.join().unwrap();
    assert!(
        wait_until(Duration::from_secs(15), || alerts_of(&home, "finished")
            .len()
            == 5),
        "{:#?}\n{}",
        home.alert_lines(),
        daemon.log_text()
    );
    std::thread::sleep(Duration::from_millis(1000));
    assert!(
        alerts_of(&home, "unfinished").is_empty(),
        "alerted on a partial file: {:#?}",
        alerts_of(&home, "unfinished")
    );
    assert_eq!(home.alert_lines().len(), 5);
    let hits = home.search("opening");
    assert_eq!(hits.len(), 5, "{hits:#?}");
    assert_eq!(home.search("finished").len(), 5);
    daemon.stop();
}

#[test]
fn a_writer_that_never_closes_is_read_after_the_open_file_timeout() {
    let home = Home::new(&format!("open_file_timeout_s = 2\n{NIGER}"));
    let daemon = home.start_daemon(1);
    let mut file = std::fs::File::create(home.path("watch/held.txt")).unwrap();
    file.write_all(b"Held open\n\nNiger news from a writer that never closes.\n")
        .unwrap();
    file.flush().unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || home.alert_lines().len() == 1),
        "{}",
        daemon.log_text()
    );
    daemon.wait_for_log("written but not closed", Duration::from_secs(1));
    drop(file);
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(home.alert_lines().len(), 1);
    daemon.stop();
}

const HELD_CONFIG: &str =
    "on_delete = \"remove\"\nrescan_interval_s = 1\n[[queries]]\nname = \"any\"\nquery = 'story'\n";

fn watch_state(home: &Home) -> (String, String) {
    let report = status(home);
    let folder = &report["watch_folders"][0];
    (
        folder["state"].as_str().unwrap_or_default().to_string(),
        folder["detail"].as_str().unwrap_or_default().to_string(),
    )
}

/// Unmounts (lazily) what the test mounted, whatever happens.
struct Mounts(Vec<PathBuf>);

impl Drop for Mounts {
    fn drop(&mut self) {
        for point in self.0.iter().rev() {
            let _ = Command::new("umount").arg("-l").arg(point).status();
        }
    }
}

fn mount(args: &[&str], point: &Path) -> bool {
    Command::new("mount")
        .args(args)
        .arg(point)
        .status()
        .is_ok_and(|s| s.success())
}

/// A share (a tmpfs, bind-mounted over the watch folder) goes away: the folder left behind is
/// the empty mount point. Nothing is deleted until the share is back; then the file that
/// really went away meanwhile is.
#[test]
fn an_unmounted_share_holds_deletions_until_it_is_back() {
    if !running_as_root() {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    }
    let home = Home::new(HELD_CONFIG);
    let share = home.path("share");
    let watch = home.path("watch");
    std::fs::create_dir(&share).unwrap();
    let mut mounts = Mounts(Vec::new());
    if !mount(&["-t", "tmpfs", "tmpfs"], &share) {
        eprintln!("skipped: cannot mount a tmpfs here");
        return;
    }
    mounts.0.push(share.clone());
    assert!(mount(&["--bind", share.to_str().unwrap()], &watch));
    mounts.0.push(watch.clone());

    let daemon = home.start_daemon(1);
    for i in 0..3 {
        drop_into(
            &watch,
            &format!("s{i}.txt"),
            &format!("Share {i}\n\nA story from the share, number {i}.\n"),
        );
    }
    assert!(
        wait_until(Duration::from_secs(10), || home.alert_lines().len() == 3),
        "{}",
        daemon.log_text()
    );
    std::thread::sleep(Duration::from_millis(500));

    assert!(Command::new("umount")
        .arg(&watch)
        .status()
        .unwrap()
        .success());
    mounts.0.pop();
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(home.search("story").len(), 3, "{}", daemon.log_text());
    let (state, detail) = watch_state(&home);
    assert_eq!(state, "replaced", "{detail}");
    assert!(detail.contains("deletions there are held"), "{detail}");
    // Meanwhile one file really goes away from the share.
    std::fs::remove_file(share.join("s0.txt")).unwrap();

    assert!(mount(&["--bind", share.to_str().unwrap()], &watch));
    mounts.0.push(watch.clone());
    daemon.wait_for_log("the watch folder is back", Duration::from_secs(10));
    assert!(
        wait_until(Duration::from_secs(10), || home.search("story").len() == 2),
        "{:?}\n{}",
        home.search("story"),
        daemon.log_text()
    );
    assert_eq!(watch_state(&home).0, "ok");
    // And the share is watched again.
    drop_into(
        &watch,
        "s3.txt",
        "Share 3\n\nA story after the share came back.\n",
    );
    assert!(wait_until(Duration::from_secs(10), || home
        .alert_lines()
        .len()
        == 4));
    let log = daemon.stop();
    assert_eq!(
        count_lines(&home.path("daemon-1.log"), "deletions there are held"),
        1,
        "{log}"
    );
    assert_eq!(home.alert_lines().len(), 4);
}

/// A watch folder renamed away and replaced by an empty one, then one emptied all at once:
/// deletions are held while it is not the folder lookout knows (or holds nothing); the real
/// one coming back (or a file landing in the emptied one) lets real deletions through.
#[test]
fn a_replaced_or_emptied_watch_folder_holds_deletions() {
    let home = Home::new(HELD_CONFIG);
    let daemon = home.start_daemon(1);
    for i in 0..3 {
        home.drop_file(
            &format!("f{i}.txt"),
            format!("File {i}\n\nA story, number {i}.\n").as_bytes(),
        );
    }
    assert!(wait_until(Duration::from_secs(10), || home
        .alert_lines()
        .len()
        == 3));
    std::thread::sleep(Duration::from_millis(500));

    // Replaced: renamed away, an empty folder in its place.
    std::fs::rename(home.path("watch"), home.path("watch-away")).unwrap();
    std::fs::create_dir(home.path("watch")).unwrap();
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(home.search("story").len(), 3, "{}", daemon.log_text());
    assert_eq!(watch_state(&home).0, "replaced");
    // A file dropped into the replacement is indexed, and does not make it the folder.
    home.drop_file(
        "intruder.txt",
        b"Intruder\n\nA story in the wrong folder.\n",
    );
    assert!(wait_until(Duration::from_secs(10), || home
        .alert_lines()
        .len()
        == 4));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(home.search("story").len(), 4, "{}", daemon.log_text());
    assert_eq!(watch_state(&home).0, "replaced");
    std::fs::remove_file(home.path("watch-away/f0.txt")).unwrap();
    std::fs::remove_dir_all(home.path("watch")).unwrap();
    std::fs::rename(home.path("watch-away"), home.path("watch")).unwrap();
    daemon.wait_for_log("the watch folder is back", Duration::from_secs(10));
    assert!(
        wait_until(Duration::from_secs(10), || home.search("story").len() == 2),
        "{}",
        daemon.log_text()
    );

    // Emptied all at once: held, until a file is in it again.
    for i in 1..3 {
        std::fs::remove_file(home.path(&format!("watch/f{i}.txt"))).unwrap();
    }
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(home.search("story").len(), 2, "{}", daemon.log_text());
    assert_eq!(watch_state(&home).0, "emptied");
    home.drop_file("new.txt", b"New\n\nA new story.\n");
    assert!(
        wait_until(Duration::from_secs(10), || {
            let hits = home.search("story");
            hits.len() == 1 && hits[0]["path"].as_str().unwrap().ends_with("new.txt")
        }),
        "{:?}\n{}",
        home.search("story"),
        daemon.log_text()
    );
    assert_eq!(watch_state(&home).0, "ok");
    let log = daemon.stop();
    assert_eq!(
        count_lines(&home.path("daemon-1.log"), "deletions there are held"),
        2,
        "{log}"
    );
    assert_eq!(home.alert_lines().len(), 5);
}

/// `watch = "."`: the home is the watch folder, with the index, the state, the alert log, the
/// config, a queries file and the daemon's own log in it. Only the article is read, once, and
/// nothing loops.
#[test]
fn watch_dot_reads_the_articles_and_none_of_lookouts_own_files() {
    let listener = WebhookListener::start();
    let home = Home::new("");
    std::fs::write(home.path("queries.tsv"), "niger\tniger\n").unwrap();
    std::fs::write(
        home.config(),
        format!(
            "watch = \".\"\nindex = \"index\"\nalert_log = \"alerts.jsonl\"\ncommit_interval_ms = 200\n\
             rescan_interval_s = 1\nqueries_files = [\"queries.tsv\"]\n\
             [[webhooks]]\nname = \"hook\"\nurl = \"{}\"\n[api]\nlisten = \"127.0.0.1:0\"\n",
            listener.url
        ),
    )
    .unwrap();
    std::fs::remove_dir(home.path("watch")).unwrap();
    let daemon = home.start_daemon(1);
    drop_into(
        home.dir.path(),
        "article.txt",
        "Article\n\nNiger news in the home folder.\n",
    );
    assert!(wait_until(Duration::from_secs(10), || home
        .alert_lines()
        .len()
        == 1));
    assert!(wait_until(Duration::from_secs(10), || listener
        .requests()
        .len()
        == 1));
    // Several rescans and commits later: still one file, one alert, nothing refused.
    std::thread::sleep(Duration::from_secs(4));
    let first = daemon.log_text().len();
    std::thread::sleep(Duration::from_secs(2));
    let report = status(&home);
    assert_eq!(report["files"], 1, "{report:#}");
    assert_eq!(report["documents"], 1, "{report:#}");
    assert!(
        report["quarantined"].as_array().unwrap().is_empty(),
        "{report:#}"
    );
    assert_eq!(home.alert_lines().len(), 1);
    let log = daemon.stop();
    assert!(!log.contains("skipped"), "{log}");
    let readings = log
        .lines()
        .filter(|l| l.contains("lookout::daemon: file ready"))
        .count();
    assert_eq!(readings, 1, "{log}");
    // No loop: the log did not keep growing with file activity while idle.
    let idle = &log[first.min(log.len())..];
    assert!(!idle.contains("file ready"), "{idle}");

    // `lookout ingest` of the home reads the article only (the daemon's log, which it knew
    // as its own, is not lookout's for another process).
    std::fs::remove_file(home.path("daemon-1.log")).unwrap();
    let out = home.lookout(&["ingest", home.dir.path().to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ingested 1 file "), "{err}");
    assert_eq!(home.alert_lines().len(), 1);
}

/// Where a hit is shown must be a file that holds it: after the path it showed is deleted (both
/// `on_delete` policies), renamed away, or changed, it moves to a path that still holds the
/// same content.
#[test]
fn a_document_is_shown_at_a_path_that_still_holds_it() {
    for policy in ["keep", "remove"] {
        let home = Home::new(&format!(
            "on_delete = \"{policy}\"\nrescan_interval_s = 1\n[[queries]]\nname = \"any\"\nquery = 'copy'\n"
        ));
        let daemon = home.start_daemon(1);
        let shown = |word: &str| -> Vec<String> {
            home.search(word)
                .iter()
                .map(|h| h["path"].as_str().unwrap().to_string())
                .collect()
        };
        let shown_at = |word: &str, file: &str| {
            let ok = wait_until(Duration::from_secs(10), || {
                let paths = shown(word);
                paths.len() == 1 && paths[0].ends_with(&format!("/{file}"))
            });
            assert!(
                ok,
                "{policy}: {word} shown at {:?}, not {file}\n{}",
                shown(word),
                daemon.log_text()
            );
        };

        // Deleted.
        home.drop_file("a.txt", b"Deleted\n\nA copy that is deleted.\n");
        shown_at("deleted", "a.txt");
        home.drop_file("b.txt", b"Deleted\n\nA copy that is deleted.\n");
        std::thread::sleep(Duration::from_millis(700));
        std::fs::remove_file(home.path("watch/a.txt")).unwrap();
        shown_at("deleted", "b.txt");

        // Renamed away while another file holds it.
        home.drop_file("c.txt", b"Renamed\n\nA copy that is renamed.\n");
        shown_at("renamed", "c.txt");
        home.drop_file("d.txt", b"Renamed\n\nA copy that is renamed.\n");
        std::thread::sleep(Duration::from_millis(700));
        std::fs::rename(home.path("watch/c.txt"), home.path("watch/e.txt")).unwrap();
        assert!(
            wait_until(Duration::from_secs(10), || {
                let paths = shown("renamed");
                paths.len() == 1 && !paths[0].ends_with("/c.txt")
            }),
            "{policy}: {:?}",
            shown("renamed")
        );

        // Changed so that it no longer holds it.
        home.drop_file("f.txt", b"Changed\n\nA copy that is changed.\n");
        shown_at("changed", "f.txt");
        home.drop_file("g.txt", b"Changed\n\nA copy that is changed.\n");
        std::thread::sleep(Duration::from_millis(700));
        home.drop_file("f.txt", b"Other\n\nSomething else entirely.\n");
        shown_at("changed", "g.txt");
        shown_at("entirely", "f.txt");

        // Every hit is shown at a file that exists and holds it.
        for hit in home.search("copy OR entirely") {
            let path = hit["path"].as_str().unwrap();
            let text = std::fs::read_to_string(path).unwrap_or_default();
            assert!(
                text.contains(hit["title"].as_str().unwrap()),
                "{policy}: {path} does not hold {hit}"
            );
        }
        daemon.stop();
        assert_eq!(home.alert_lines().len(), 3, "{policy}");
    }
}
