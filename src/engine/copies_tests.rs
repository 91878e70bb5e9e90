//! Copies of a story, through the engine's commands on a real index, ledger and alert log: a
//! query that suppresses duplicates alerts once per story and writes copy records for the
//! copies, across commits and restarts, whatever the order the copies come in.

use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::*;
use crate::alerts::Alert;
use crate::config::Config;
use crate::matcher::Engine as PercolatorKind;

struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new(config: &str) -> Home {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("watch")).unwrap();
        std::fs::write(dir.path().join("config.toml"), config).unwrap();
        Home { dir }
    }

    fn open(&self) -> (Engine, MemorySink) {
        let config = Config::load(&self.dir.path().join("config.toml")).unwrap();
        let mut engine = Engine::open(
            &config,
            config.queries.clone(),
            EngineOptions {
                percolator: PercolatorKind::Presearch,
                ..Default::default()
            },
        )
        .unwrap();
        let sink = MemorySink::default();
        engine.add_sink(Box::new(sink.clone()));
        (engine, sink)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join("watch").join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn logged(&self) -> Vec<Alert> {
        crate::alerts::read_alerts(&self.dir.path().join("alerts.jsonl")).unwrap()
    }
}

fn process(engine: &mut Engine, path: &Path) {
    engine
        .execute(Command::ProcessFile {
            path: path.to_path_buf(),
        })
        .and_then(Reply::file)
        .unwrap();
}

fn commit(engine: &mut Engine) {
    engine
        .execute(Command::Commit)
        .and_then(Reply::done)
        .unwrap();
}

const STORY: &str = "Niger's military junta said on Saturday it had ended with immediate effect \
    a security agreement that allowed military personnel and civilian staff from the U.S. \
    Department of Defense on its territory.\n\nThe decision follows a visit to Niger this week \
    by a U.S. delegation led by Assistant Secretary of State for African Affairs Molly Phee, \
    which the junta's spokesperson said had not followed diplomatic protocol.\n\nNiger has been \
    a key partner of Washington in the fight against insurgents in the Sahel region, and the \
    United States has some 650 troops stationed at two bases in the country.";

const OTHER: &str = "Niger's government said on Tuesday it would hold talks with neighbouring \
    states on reopening the border crossings closed since July, as traders complained of \
    shortages of rice and fuel in the capital Niamey.\n\nThe foreign minister told reporters \
    that a delegation would travel to Benin next week to discuss the terms of a reopening and \
    the fees charged on goods in transit through the port of Cotonou.";

fn config(mode: &str) -> String {
    format!(
        "[duplicates]\nmode = \"{mode}\"\n\n\
         [[queries]]\nname = \"niger\"\nquery = \"niger\"\n\n\
         [[queries]]\nname = \"every-copy\"\nquery = \"niger\"\nduplicates = \"alert\"\n"
    )
}

#[test]
fn a_story_alerts_once_and_its_copies_become_copy_records_pointing_at_that_alert() {
    let home = Home::new(&config("suppress"));
    let (mut engine, _sink) = home.open();
    let copies = [
        format!("NIGER ENDS U.S. PACT\n\nBy Jane Doe, staff writer\n\n{STORY}"),
        format!(
            "Junta ends military accord\n\n{}",
            STORY
                .replace("Saturday", "Sunday")
                .replace("key partner", "main ally")
        ),
        format!(
            "Niger junta scraps deal\n\n{}",
            STORY.rsplit_once("\n\n").unwrap().0
        ),
    ];
    let original = home.write("0.txt", &format!("Niger ends pact\n\n{STORY}"));
    process(&mut engine, &original);
    commit(&mut engine); // the original's alert is in the ledger; the copies find it there
    for (i, copy) in copies.iter().enumerate() {
        let path = home.write(&format!("{}.txt", i + 1), copy);
        process(&mut engine, &path);
    }
    let other = home.write("other.txt", &format!("Niger talks\n\n{OTHER}"));
    process(&mut engine, &other);
    commit(&mut engine);

    let logged = home.logged();
    let of = |query: &str| -> Vec<&Alert> {
        logged.iter().filter(|a| &*a.query.name == query).collect()
    };
    let niger = of("niger");
    let alerts: Vec<&&Alert> = niger.iter().filter(|a| !a.is_copy()).collect();
    let copy_records: Vec<&&Alert> = niger.iter().filter(|a| a.is_copy()).collect();
    assert_eq!(
        alerts.len(),
        2,
        "the story and the other article: {logged:#?}"
    );
    assert!(alerts[0].doc.path.ends_with("0.txt"));
    assert!(alerts[1].doc.path.ends_with("other.txt"));
    assert_eq!(copy_records.len(), 3);
    for record in &copy_records {
        assert_eq!(record.copy_of.as_deref(), Some(alerts[0].alert_id.as_str()));
        assert_eq!(
            record.alert_id,
            crate::alerts::alert_id("niger", &record.doc.id)
        );
    }
    // A query that alerts on duplicates alerts on each copy.
    assert!(of("every-copy").iter().all(|a| !a.is_copy()));
    assert_eq!(of("every-copy").len(), 5);
    assert_eq!(engine.stats.copies, 3);
}

#[test]
fn copies_are_found_after_a_restart_and_nothing_is_written_twice() {
    let home = Home::new(&config("suppress"));
    {
        let (mut engine, _) = home.open();
        process(
            &mut engine,
            &home.write("0.txt", &format!("Niger\n\n{STORY}")),
        );
        commit(&mut engine);
        engine.finish().unwrap();
    }
    let copy = home.write("1.txt", &format!("By Jane Doe\n\n{STORY} Reuter"));
    {
        let (mut engine, _) = home.open();
        process(&mut engine, &copy);
        commit(&mut engine);
        engine.finish().unwrap();
    }
    {
        // The same copy again under another name, and the story itself again: nothing new.
        let (mut engine, sink) = home.open();
        let again = home.write("again.txt", &format!("By Jane Doe\n\n{STORY} Reuter"));
        process(&mut engine, &again);
        process(&mut engine, &copy);
        commit(&mut engine);
        engine.finish().unwrap();
        assert!(sink.alerts().is_empty(), "{:#?}", sink.alerts());
    }
    let niger: Vec<Alert> = home
        .logged()
        .into_iter()
        .filter(|a| &*a.query.name == "niger")
        .collect();
    assert_eq!(niger.len(), 2);
    assert!(!niger[0].is_copy());
    assert_eq!(
        niger[1].copy_of.as_deref(),
        Some(niger[0].alert_id.as_str())
    );
}

#[test]
fn the_default_mode_alerts_on_every_copy() {
    let home = Home::new("[[queries]]\nname = \"niger\"\nquery = \"niger\"\n");
    let (mut engine, _) = home.open();
    process(
        &mut engine,
        &home.write("0.txt", &format!("Niger\n\n{STORY}")),
    );
    process(
        &mut engine,
        &home.write("1.txt", &format!("By Jane Doe\n\n{STORY}")),
    );
    commit(&mut engine);
    let logged = home.logged();
    assert_eq!(logged.len(), 2);
    assert!(logged.iter().all(|a| !a.is_copy()));
}

/// Story `s`, copy `c`: the story's 60 words, with the copy's own byline and one word of
/// each 20 changed (copy 0 is the story itself, under its own headline).
fn story_copy(s: usize, c: usize) -> String {
    let words: Vec<String> = (0..60)
        .map(|i| {
            if c > 0 && i % 20 == c % 20 {
                format!("edit{c}x{i}")
            } else {
                format!("s{s}w{i}")
            }
        })
        .collect();
    format!(
        "Headline {c} of story {s}\n\nBy reporter {c}. common {} topic{}",
        words.join(" "),
        s % 2
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Copies of a story, in any order and spread over any commits: each query that
    /// suppresses duplicates alerts once per story that it matches, every other copy it matches
    /// is a copy record pointing at that alert, and each alert and copy record is of a document
    /// that searching the query returns (alert iff search, and not a copy of one that alerted).
    #[test]
    fn any_order_gives_one_alert_per_story_and_query(
        order in Just((0..3usize).flat_map(|s| (0..3usize).map(move |c| (s, c))).collect::<Vec<_>>()).prop_shuffle(),
        commits in proptest::collection::vec(proptest::bool::ANY, 9),
    ) {
        let home = Home::new(
            "[duplicates]\nmode = \"suppress\"\n\n\
             [[queries]]\nname = \"all\"\nquery = \"common\"\n\n\
             [[queries]]\nname = \"odd\"\nquery = \"topic1\"\n",
        );
        let (mut engine, _) = home.open();
        for (i, &(s, c)) in order.iter().enumerate() {
            let path = home.write(&format!("{s}-{c}.txt"), &story_copy(s, c));
            process(&mut engine, &path);
            if commits[i] {
                commit(&mut engine);
            }
        }
        commit(&mut engine);
        let logged = home.logged();
        for (query, stories) in [("all", 3usize), ("odd", 1)] {
            let records: Vec<&Alert> = logged.iter().filter(|a| &*a.query.name == query).collect();
            let alerts: Vec<&&Alert> = records.iter().filter(|a| !a.is_copy()).collect();
            prop_assert_eq!(alerts.len(), stories, "{} {:?}", query, order);
            prop_assert_eq!(records.len(), stories * 3);
            for record in records.iter().filter(|a| a.is_copy()) {
                let original = alerts.iter().find(|a| Some(&a.alert_id) == record.copy_of.as_ref());
                prop_assert!(original.is_some(), "{:?} points at no alert", record.copy_of);
                // Same story: the file names start with the story number.
                let story = |a: &Alert| Path::new(&a.doc.path).file_name().unwrap().to_string_lossy().split('-').next().unwrap().to_string();
                prop_assert_eq!(story(record), story(original.unwrap()));
            }
            let query_ast = crate::query::parse(if query == "all" { "common" } else { "topic1" }).unwrap();
            let hits: Vec<String> = engine.index().matching_documents(&query_ast.query).unwrap().into_iter().map(|d| d.id.0).collect();
            for record in &records {
                prop_assert!(hits.contains(&record.doc.id), "alert not in search: {}", record.doc.path);
            }
            prop_assert_eq!(hits.len(), records.len());
        }
    }
}

#[test]
fn the_ledger_keeps_the_stories_of_the_window_only() {
    for window in [0usize, 2] {
        let home = Home::new(&format!(
            "[duplicates]\nmode = \"suppress\"\nwindow = {window}\n\n[[queries]]\nname = \"all\"\nquery = \"common\"\n"
        ));
        let (mut engine, _) = home.open();
        for s in 0..5 {
            process(
                &mut engine,
                &home.write(&format!("{s}.txt"), &story_copy(s, 0)),
            );
            commit(&mut engine);
        }
        let (rows, _) = engine.ledger().recent_stories(100).unwrap();
        assert_eq!(rows.len(), window, "window {window}");
        // With no window, a copy is an alert like any article.
        process(&mut engine, &home.write("copy.txt", &story_copy(4, 1)));
        commit(&mut engine);
        let copies = home.logged().iter().filter(|a| a.is_copy()).count();
        assert_eq!(copies, usize::from(window > 0), "window {window}");
    }
}

#[test]
fn copies_do_not_chain_through_a_short_rewrite_of_two_stories() {
    let home = Home::new(
        "[duplicates]\nmode = \"suppress\"\nthreshold = 0.45\n\n[[queries]]\nname = \"all\"\nquery = \"common\"\n",
    );
    let (mut engine, _) = home.open();
    // Words without digits (a digit would bring in the digit check).
    let letters = |i: usize| -> String {
        [i / 26, i % 26]
            .iter()
            .map(|&d| (b'a' + d as u8) as char)
            .collect()
    };
    let words = |story: &str, range: std::ops::Range<usize>| -> Vec<String> {
        range.map(|i| format!("{story}w{}", letters(i))).collect()
    };
    let a = words("a", 0..60).join(" ");
    let c = words("c", 0..60).join(" ");
    // The bridge: the openings of both stories, each about half of it.
    let bridge = [words("a", 0..20), words("c", 0..20)].concat().join(" ");
    for (name, body) in [("a.txt", &a), ("bridge.txt", &bridge), ("c.txt", &c)] {
        process(
            &mut engine,
            &home.write(name, &format!("Title\n\ncommon {body}")),
        );
    }
    commit(&mut engine);
    let logged = home.logged();
    let alerted: Vec<&str> = logged
        .iter()
        .filter(|a| !a.is_copy())
        .map(|a| a.doc.path.rsplit('/').next().unwrap())
        .collect();
    // The bridge is a copy of a (it came after it); c is not a copy of a, whatever the bridge.
    assert_eq!(alerted, ["a.txt", "c.txt"], "{logged:#?}");
}

#[test]
fn after_a_crash_a_new_copy_is_a_copy_before_the_original_is_read_again() {
    let home = Home::new(&config("suppress"));
    let original = home.write("0.txt", &format!("Niger\n\n{STORY}"));
    {
        let (mut engine, _) = home.open();
        process(&mut engine, &original);
        // A crash: the alert is in the log, the index and the ledger (stories) never committed.
        for work in engine.sinks.durable().unwrap() {
            work().unwrap();
        }
        drop(engine);
    }
    let (mut engine, _) = home.open();
    // A copy comes before the original is processed again.
    process(
        &mut engine,
        &home.write("1.txt", &format!("By Jane Doe\n\n{STORY}")),
    );
    process(&mut engine, &original);
    commit(&mut engine);
    let niger: Vec<Alert> = home
        .logged()
        .into_iter()
        .filter(|a| &*a.query.name == "niger")
        .collect();
    assert_eq!(niger.len(), 2, "{niger:#?}");
    assert!(!niger[0].is_copy());
    assert_eq!(
        niger[1].copy_of.as_deref(),
        Some(niger[0].alert_id.as_str())
    );
}

#[test]
fn a_collapsed_search_shows_one_hit_per_story_with_its_copies() {
    let home = Home::new(
        "[duplicates]\nmode = \"suppress\"\n\n[[queries]]\nname = \"all\"\nquery = \"common\"\n",
    );
    let (mut engine, _) = home.open();
    for s in 0..3 {
        for c in 0..3 {
            let path = home.write(&format!("{s}-{c}.txt"), &story_copy(s, c));
            process(&mut engine, &path);
        }
    }
    // An article of its own, and one more copy of story 2 that the query does not match.
    process(
        &mut engine,
        &home.write("lone.txt", "Lone\n\ncommon words of an article of its own"),
    );
    let unmatched = story_copy(2, 5).replace("common", "rare");
    process(&mut engine, &home.write("2-5.txt", &unmatched));
    commit(&mut engine);

    // Beside the engine, as the API and the CLI read: a read-only ledger connection.
    let reader = crate::ledger::Ledger::open_read_only(&home.dir.path().join("state")).unwrap();
    let query = crate::query::parse("common").unwrap().query;
    let all = search_collapsed(engine.index(), Some(&reader), &query, 10, 0).unwrap();
    assert_eq!(all.total, 10);
    assert_eq!(all.grouped, 10);
    assert!(!all.capped());
    assert_eq!(all.stories, 4);
    let mut copies: Vec<usize> = all.hits.iter().map(|h| h.copies).collect();
    copies.sort();
    // The copy that does not match the query is not counted.
    assert_eq!(copies, [0, 2, 2, 2]);
    for hit in &all.hits {
        if hit.copies == 2 {
            // The story id is its first document's, whichever member is shown.
            let story = Path::new(&hit.hit.document.path)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .split('-')
                .next()
                .unwrap()
                .to_string();
            let first = engine
                .index()
                .matching_documents(&query)
                .unwrap()
                .into_iter()
                .find(|d| d.path.ends_with(format!("{story}-0.txt")))
                .unwrap();
            assert_eq!(hit.story, first.id);
        } else {
            assert_eq!(hit.story, hit.hit.document.id, "its own story");
        }
    }
    // Ranked as search ranks: each story's hit is its best-ranked member, in rank order.
    let ranked = engine.index().search(&query, 100, 0).unwrap();
    let rank_of = |id: &crate::document::DocId| {
        ranked
            .hits
            .iter()
            .position(|h| &h.document.id == id)
            .unwrap()
    };
    let ranks: Vec<usize> = all
        .hits
        .iter()
        .map(|h| rank_of(&h.hit.document.id))
        .collect();
    assert!(ranks.windows(2).all(|w| w[0] < w[1]), "{ranks:?}");
    assert_eq!(ranks[0], 0);

    // Pages are over stories.
    let second = search_collapsed(engine.index(), Some(&reader), &query, 2, 1).unwrap();
    assert_eq!(second.stories, 4);
    let ids = |r: &CollapsedResults| -> Vec<String> {
        r.hits.iter().map(|h| h.hit.document.id.0.clone()).collect()
    };
    assert_eq!(ids(&second), ids(&all)[1..3]);
    let past = search_collapsed(engine.index(), Some(&reader), &query, 10, 4).unwrap();
    assert!(past.hits.is_empty());
    assert_eq!((past.total, past.stories), (10, 4));

    // Without the ledger, every hit is its own story.
    let alone = search_collapsed(engine.index(), None, &query, 100, 0).unwrap();
    assert_eq!(alone.stories, 10);
    assert!(alone.hits.iter().all(|h| h.copies == 0));
    // Nothing matches: no story.
    let none = crate::query::parse("nowhere").unwrap().query;
    let empty = search_collapsed(engine.index(), Some(&reader), &none, 10, 0).unwrap();
    assert_eq!((empty.total, empty.stories, empty.hits.len()), (0, 0, 0));
}
