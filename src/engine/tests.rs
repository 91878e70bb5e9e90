//! The engine driven by its commands, as the daemon drives it, on a real index, ledger, alert
//! log and files in a temporary folder, with an in-memory sink watching what is raised.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;
use crate::config::Config;
use crate::matcher::Engine as PercolatorKind;

struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    /// A home whose config.toml holds these saved queries (name, text).
    fn new(queries: &[(&str, &str)], extra: &str) -> Home {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("watch")).unwrap();
        let mut text = String::from(extra);
        for (name, query) in queries {
            text.push_str(&format!(
                "\n[[queries]]\nname = \"{name}\"\nquery = \"{query}\"\n"
            ));
        }
        std::fs::write(dir.path().join("config.toml"), text).unwrap();
        Home { dir }
    }

    fn config(&self) -> Config {
        Config::load(&self.dir.path().join("config.toml")).unwrap()
    }

    /// An engine on this home, with an in-memory sink after the others.
    fn open(&self, percolator: PercolatorKind) -> (Engine, MemorySink) {
        let config = self.config();
        let mut engine = Engine::open(
            &config,
            config.queries.clone(),
            EngineOptions {
                percolator,
                ..Default::default()
            },
        )
        .unwrap();
        let sink = MemorySink::default();
        engine.add_sink(Box::new(sink.clone()));
        (engine, sink)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join("watch").join(name)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// `(query, path)` of every alert in the alert log, in order.
    fn logged(&self) -> Vec<(String, String)> {
        crate::alerts::read_alerts(&self.dir.path().join("alerts.jsonl"))
            .unwrap()
            .into_iter()
            .map(|a| (a.query.name.to_string(), a.doc.path.clone()))
            .collect()
    }
}

fn process(engine: &mut Engine, path: &Path) -> FileOutcome {
    engine
        .execute(Command::ProcessFile {
            path: path.to_path_buf(),
        })
        .and_then(Reply::file)
        .unwrap()
}

fn commit(engine: &mut Engine) {
    engine
        .execute(Command::Commit)
        .and_then(Reply::done)
        .unwrap();
}

fn shown(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

#[test]
fn queries_changed_in_place_alert_by_their_new_names_and_texts() {
    for percolator in [PercolatorKind::Presearch, PercolatorKind::Brute] {
        let home = Home::new(
            &[("a", "niger"), ("b", "mali"), ("c", "junta"), ("d", "army")],
            "",
        );
        let (mut engine, sink) = home.open(percolator);
        let first = home.write("1.txt", "niger mali junta army");
        process(&mut engine, &first);
        let mut names: Vec<String> = sink.pairs().into_iter().map(|(q, _)| q).collect();
        names.sort();
        assert_eq!(names, ["a", "b", "c", "d"]);
        // Remove a and c, change d, keep b, add e.
        let mut specs = engine.queries().specs();
        specs.retain(|s| &*s.name == "b" || &*s.name == "d");
        for spec in &mut specs {
            if &*spec.name == "d" {
                spec.text = "coup".into();
            }
        }
        let mut e = specs[0].clone();
        e.name = "e".into();
        e.text = "army".into();
        specs.push(e);
        let changes = engine
            .execute(Command::ReplaceQueries { specs })
            .and_then(Reply::queries_replaced)
            .unwrap();
        assert_eq!((changes.withdrawn.len(), changes.filed.len()), (2, 2));
        assert_eq!(engine.queries().active(), 3);
        let second = home.write("2.txt", "niger mali junta army coup");
        process(&mut engine, &second);
        let mut names: Vec<String> = sink.pairs()[4..].iter().map(|(q, _)| q.clone()).collect();
        names.sort();
        assert_eq!(names, ["b", "d", "e"], "{percolator:?}");
    }
}

#[test]
fn the_same_content_alerts_once_whatever_its_name_and_a_rename_moves_it() {
    let home = Home::new(&[("niger", "niger")], "");
    let (mut engine, sink) = home.open(PercolatorKind::default());
    let first = home.write("a.txt", "Coup in Niger\n\nThe army of Niger.");
    assert!(matches!(
        process(&mut engine, &first),
        FileOutcome::Processed {
            new: 1,
            alerts: 1,
            ..
        }
    ));
    // The same bytes again: unchanged; a copy under another name: known, no alert.
    assert!(matches!(
        process(&mut engine, &first),
        FileOutcome::Unchanged
    ));
    let copy = home.write("b.txt", "Coup in Niger\n\nThe army of Niger.");
    assert!(matches!(
        process(&mut engine, &copy),
        FileOutcome::Processed {
            new: 0,
            known: 1,
            alerts: 0
        }
    ));
    commit(&mut engine);
    assert_eq!(sink.pairs(), [("niger".to_string(), shown(&first))]);
    // Renamed: the document is shown at its new path, and raises nothing.
    let renamed = home.path("c.txt");
    std::fs::rename(&first, &renamed).unwrap();
    std::fs::remove_file(&copy).unwrap();
    process(&mut engine, &renamed);
    commit(&mut engine);
    let hits = engine
        .index()
        .search(&crate::query::parse("niger").unwrap().query, 10, 0)
        .unwrap();
    assert_eq!(hits.total, 1);
    assert_eq!(hits.hits[0].document.path, renamed);
    assert_eq!(sink.alerts().len(), 1, "nothing doubled");
    assert_eq!(
        home.logged(),
        sink.pairs(),
        "the log holds what the sinks saw"
    );
}

#[test]
fn a_changed_file_replaces_its_documents_and_alerts_only_for_new_queries() {
    let home = Home::new(&[("niger", "niger"), ("mali", "mali")], "");
    let (mut engine, sink) = home.open(PercolatorKind::default());
    let path = home.write("a.txt", "Niger news");
    process(&mut engine, &path);
    commit(&mut engine);
    home.write("a.txt", "Niger and Mali news");
    assert!(matches!(
        process(&mut engine, &path),
        FileOutcome::Processed {
            new: 1,
            alerts: 1,
            ..
        }
    ));
    commit(&mut engine);
    // niger alerted on this path already: only mali is new.
    assert_eq!(
        sink.pairs(),
        [
            ("niger".to_string(), shown(&path)),
            ("mali".to_string(), shown(&path))
        ]
    );
    // The old content is gone from the index.
    let old = engine
        .index()
        .search(
            &crate::query::parse("news AND NOT mali").unwrap().query,
            10,
            0,
        )
        .unwrap();
    assert_eq!(old.total, 0);
}

#[test]
fn a_backfill_alerts_exactly_on_what_search_returns_once() {
    let home = Home::new(&[("niger", "niger")], "");
    let (mut engine, sink) = home.open(PercolatorKind::default());
    for (name, text) in [
        ("1.txt", "mali coup"),
        ("2.txt", "mali army"),
        ("3.txt", "niger"),
    ] {
        let path = home.write(name, text);
        process(&mut engine, &path);
    }
    commit(&mut engine);
    let (_, created, _) = engine
        .execute(Command::PutQuery {
            name: "mali".into(),
            text: "mali".into(),
            webhooks: None,
        })
        .and_then(Reply::query_saved)
        .unwrap();
    assert!(created);
    let backfill = |engine: &mut Engine| {
        let mut run = engine
            .execute(Command::StartBackfill {
                name: "mali".into(),
            })
            .and_then(Reply::backfill_started)
            .unwrap()
            .unwrap();
        while engine
            .execute(Command::ContinueBackfill {
                run: &mut run,
                slice: 1,
            })
            .and_then(Reply::backfill_step)
            .unwrap()
            == BackfillStep::More
        {}
        engine
            .execute(Command::FinishBackfill { run })
            .and_then(Reply::backfilled)
            .unwrap()
    };
    assert_eq!(
        backfill(&mut engine),
        Backfill {
            matched: 2,
            alerts: 2
        }
    );
    assert_eq!(
        backfill(&mut engine),
        Backfill {
            matched: 2,
            alerts: 0
        },
        "a second backfill raises nothing"
    );
    let backfilled: Vec<bool> = sink.alerts().iter().map(|a| a.backfill).collect();
    assert_eq!(backfilled, [false, true, true]);
    // The query was saved in the config file.
    let saved = Config::load(&home.dir.path().join("config.toml")).unwrap();
    assert!(saved.queries.iter().any(|q| &*q.name == "mali"));
}

#[test]
fn a_query_changed_while_its_backfill_runs_stops_the_backfill() {
    let home = Home::new(&[("mali", "mali")], "");
    let (mut engine, _sink) = home.open(PercolatorKind::default());
    for i in 0..3 {
        let path = home.write(&format!("{i}.txt"), &format!("mali {i}"));
        process(&mut engine, &path);
    }
    let mut run = engine
        .execute(Command::StartBackfill {
            name: "mali".into(),
        })
        .and_then(Reply::backfill_started)
        .unwrap()
        .unwrap();
    let step = |engine: &mut Engine, run: &mut BackfillRun| {
        engine
            .execute(Command::ContinueBackfill { run, slice: 1 })
            .and_then(Reply::backfill_step)
            .unwrap()
    };
    assert_eq!(step(&mut engine, &mut run), BackfillStep::More);
    engine
        .execute(Command::PutQuery {
            name: "mali".into(),
            text: "mali AND coup".into(),
            webhooks: None,
        })
        .and_then(Reply::query_saved)
        .unwrap();
    assert_eq!(step(&mut engine, &mut run), BackfillStep::QueryChanged);
}

#[test]
fn a_query_added_between_slices_of_a_file_matches_the_rest_of_it() {
    let home = Home::new(&[("niger", "niger")], "");
    let (mut engine, sink) = home.open(PercolatorKind::default());
    let lines: Vec<String> = (0..3)
        .map(|i| format!("{{\"title\": \"t{i}\", \"body\": \"niger mali {i}\"}}"))
        .collect();
    let path = home.write("many.jsonl", &(lines.join("\n") + "\n"));
    assert!(engine
        .execute(Command::TakeFile { path: path.clone() })
        .and_then(Reply::taken)
        .unwrap()
        .is_none());
    // A zero budget applies one part or one document a step: the file's extraction, then its
    // first document; then a new query; then the rest, prepared before the query came.
    let step = |engine: &mut Engine| {
        engine
            .execute(Command::StepFiles {
                budget: Duration::ZERO,
                wait: Some(Duration::from_secs(10)),
            })
            .and_then(Reply::files_done)
            .unwrap()
    };
    assert!(step(&mut engine).is_empty());
    assert!(step(&mut engine).is_empty());
    assert_eq!(sink.pairs().len(), 1);
    engine
        .execute(Command::PutQuery {
            name: "mali".into(),
            text: "mali".into(),
            webhooks: None,
        })
        .and_then(Reply::query_saved)
        .unwrap();
    let mut done = Vec::new();
    for _ in 0..10 {
        done.extend(step(&mut engine));
        if !done.is_empty() {
            break;
        }
    }
    assert!(matches!(
        done[..],
        [FileDone {
            outcome: FileOutcome::Processed {
                new: 3,
                known: 0,
                alerts: 5
            },
            ..
        }]
    ));
    let queries: Vec<String> = sink.pairs().into_iter().map(|(q, _)| q).collect();
    assert_eq!(queries, ["niger", "niger", "mali", "niger", "mali"]);
}

#[test]
fn reconcile_forgets_deleted_files_and_removes_their_documents_when_asked() {
    let home = Home::new(&[("niger", "niger")], "on_delete = \"remove\"\n");
    let (mut engine, _sink) = home.open(PercolatorKind::default());
    let keep = home.write("keep.txt", "niger one");
    let gone = home.write("gone.txt", "niger two");
    process(&mut engine, &keep);
    process(&mut engine, &gone);
    commit(&mut engine);
    std::fs::remove_file(&gone).unwrap();
    let forgotten = engine
        .execute(Command::Reconcile)
        .and_then(Reply::count)
        .unwrap();
    assert_eq!(forgotten, 1);
    commit(&mut engine);
    assert_eq!(engine.index().num_docs(), 1);
    assert!(engine.ledger().file(&shown(&gone)).unwrap().is_none());
    assert!(engine.ledger().file(&shown(&keep)).unwrap().is_some());
}

#[test]
fn after_a_crash_the_ledger_catches_up_with_the_log_and_nothing_alerts_twice() {
    let home = Home::new(&[("niger", "niger")], "");
    let path = home.write("a.txt", "niger");
    {
        let (mut engine, sink) = home.open(PercolatorKind::default());
        process(&mut engine, &path);
        assert_eq!(sink.alerts().len(), 1);
        // A crash: the alert is in the log, the index and the ledger never committed.
        for work in engine.sinks.durable().unwrap() {
            work().unwrap();
        }
        drop(engine);
    }
    assert_eq!(home.logged().len(), 1);
    let (mut engine, sink) = home.open(PercolatorKind::default());
    // The file is processed again (its progress was never recorded)...
    assert!(matches!(
        process(&mut engine, &path),
        FileOutcome::Processed {
            new: 1,
            alerts: 0,
            ..
        }
    ));
    commit(&mut engine);
    // ...and its alert, caught up from the log's tail, is not raised again.
    assert!(sink.alerts().is_empty());
    assert_eq!(home.logged().len(), 1);
    assert_eq!(sink.commits(), 1);
}

#[test]
fn refused_query_changes_change_nothing() {
    let home = Home::new(&[("niger", "niger")], "");
    let (mut engine, _sink) = home.open(PercolatorKind::default());
    let refused =
        |engine: &mut Engine, name: &str, text: &str, webhooks: Option<Vec<String>>| match engine
            .execute(Command::PutQuery {
                name: name.into(),
                text: text.into(),
                webhooks,
            }) {
            Err(CommandError::Query(refused)) => refused,
            other => panic!("not refused: {other:?}"),
        };
    assert!(matches!(
        refused(&mut engine, "bad name!", "niger", None),
        QueryRefused::InvalidName { .. }
    ));
    assert!(matches!(
        refused(&mut engine, "q", "((", None),
        QueryRefused::InvalidQuery(_)
    ));
    assert!(matches!(
        refused(&mut engine, "q", "mali", Some(vec!["nowhere".into()])),
        QueryRefused::UnknownWebhook(_)
    ));
    assert!(matches!(
        engine.execute(Command::DeleteQuery { name: "q".into() }),
        Err(CommandError::Query(QueryRefused::NoSuchQuery(_)))
    ));
    assert_eq!(engine.queries().len(), 1);
}

#[test]
fn a_refused_file_is_quarantined_once_per_content_with_a_typed_reason() {
    let home = Home::new(&[("niger", "niger")], "");
    let (mut engine, _sink) = home.open(PercolatorKind::default());
    let path = home.write("empty.txt", "");
    assert!(matches!(
        process(&mut engine, &path),
        FileOutcome::Skipped(SkipReason::Extract(crate::extract::ExtractError::Empty))
    ));
    commit(&mut engine);
    let quarantined = engine.ledger().quarantined(&shown(&path)).unwrap().unwrap();
    assert_eq!(
        (quarantined.reason.as_str(), quarantined.attempts),
        ("empty file", 1)
    );
    process(&mut engine, &path);
    commit(&mut engine);
    let again = engine.ledger().quarantined(&shown(&path)).unwrap().unwrap();
    assert_eq!(again.attempts, 2);
}

#[test]
fn matches_prepared_before_a_query_change_are_not_applied_under_a_reused_id() {
    let home = Home::new(&[("niger", "niger"), ("mali", "mali")], "");
    let (mut engine, sink) = home.open(PercolatorKind::default());
    let document = crate::document::DocumentFields {
        body: "mali".into(),
        ..Default::default()
    }
    .into_document(home.path("x.txt"), None);
    let prepared = prepare::PreparedDocument::prepare(
        document,
        &engine.matching,
        &mut crate::analysis::Analyzer::default(),
        true,
    );
    let mali = engine.queries().id_of("mali").unwrap();
    engine
        .execute(Command::DeleteQuery {
            name: "mali".into(),
        })
        .and_then(Reply::query_deleted)
        .unwrap();
    let (coup, _, _) = engine
        .execute(Command::PutQuery {
            name: "coup".into(),
            text: "coup".into(),
            webhooks: None,
        })
        .and_then(Reply::query_saved)
        .unwrap();
    assert_eq!(coup, mali, "the freed id is reused");
    assert_eq!(engine.apply_new_document(prepared).unwrap(), 0);
    assert!(sink.alerts().is_empty());
}

/// What a search for `text` returns: the paths of the hits.
fn searched(engine: &Engine, text: &str) -> Vec<PathBuf> {
    engine
        .index()
        .search(&crate::query::parse(text).unwrap().query, 100, 0)
        .unwrap()
        .hits
        .into_iter()
        .map(|hit| hit.document.path)
        .collect()
}

#[test]
fn a_content_back_after_its_document_was_removed_is_indexed_again() {
    // A -> B -> A with commits in between: the second A is a new document again (its first
    // copy was removed with B). The segment that held A also holds another document, so the
    // deleted A stays in it, only marked deleted.
    let home = Home::new(&[("alpha", "alphaword"), ("beta", "betaword")], "");
    let (mut engine, sink) = home.open(PercolatorKind::default());
    let a = "Title A\n\nThe alphaword story.\n";
    let p = home.write("p.txt", a);
    let other = home.write("o.txt", "Other\n\nAnother story.\n");
    process(&mut engine, &p);
    process(&mut engine, &other);
    commit(&mut engine);
    home.write("p.txt", "Title B\n\nThe betaword story.\n");
    process(&mut engine, &p);
    commit(&mut engine);
    assert!(searched(&engine, "alphaword").is_empty());
    home.write("p.txt", a);
    process(&mut engine, &p);
    commit(&mut engine);
    assert_eq!(searched(&engine, "alphaword"), std::slice::from_ref(&p));
    assert!(searched(&engine, "betaword").is_empty());
    // Each content alerted once, the second A did not alert again.
    assert_eq!(
        sink.pairs(),
        [
            ("alpha".to_string(), shown(&p)),
            ("beta".to_string(), shown(&p))
        ]
    );
}

#[test]
fn a_copy_dropped_after_the_original_was_deleted_and_removed_is_indexed() {
    let home = Home::new(&[("alpha", "alphaword")], "on_delete = \"remove\"\n");
    let (mut engine, sink) = home.open(PercolatorKind::default());
    let text = "Title A\n\nThe alphaword story.\n";
    let original = home.write("original.txt", text);
    let other = home.write("o.txt", "Other\n\nAnother story.\n");
    process(&mut engine, &original);
    process(&mut engine, &other);
    commit(&mut engine);
    std::fs::remove_file(&original).unwrap();
    engine
        .execute(Command::Reconcile)
        .and_then(Reply::count)
        .unwrap();
    commit(&mut engine);
    assert!(searched(&engine, "alphaword").is_empty());
    let copy = home.write("copy.txt", text);
    process(&mut engine, &copy);
    commit(&mut engine);
    assert_eq!(searched(&engine, "alphaword"), [copy]);
    assert_eq!(sink.alerts().len(), 1, "one alert per query and content");
}

#[test]
fn a_content_back_within_one_batch_after_its_document_was_removed_is_indexed_again() {
    // A (committed) -> B -> A before the next commit: B's change removes A's document from the
    // index (not yet committed); the second A must add it back, not take it for known.
    let home = Home::new(&[("alpha", "alphaword"), ("beta", "betaword")], "");
    let (mut engine, sink) = home.open(PercolatorKind::default());
    let a = "Title A\n\nThe alphaword story.\n";
    let p = home.write("p.txt", a);
    process(&mut engine, &p);
    commit(&mut engine);
    home.write("p.txt", "Title B\n\nThe betaword story.\n");
    process(&mut engine, &p);
    home.write("p.txt", a);
    process(&mut engine, &p);
    commit(&mut engine);
    assert_eq!(searched(&engine, "alphaword"), std::slice::from_ref(&p));
    assert!(searched(&engine, "betaword").is_empty());
    assert_eq!(engine.index().num_docs(), 1);
    assert_eq!(
        sink.pairs(),
        [
            ("alpha".to_string(), shown(&p)),
            ("beta".to_string(), shown(&p))
        ]
    );
}

/// Take `path` into the intake (it is a supported type: handed to a worker).
fn take(engine: &mut Engine, path: &Path) {
    let decided = engine
        .execute(Command::TakeFile {
            path: path.to_path_buf(),
        })
        .and_then(Reply::taken)
        .unwrap();
    assert!(decided.is_none(), "{decided:?}");
}

/// Apply every file taken, waiting for the workers.
fn step_all(engine: &mut Engine) -> Vec<FileDone> {
    let mut done = Vec::new();
    while engine.files_in_flight() > 0 {
        done.extend(
            engine
                .execute(Command::StepFiles {
                    budget: Duration::MAX,
                    wait: Some(Duration::from_millis(50)),
                })
                .and_then(Reply::files_done)
                .unwrap(),
        );
    }
    done
}

#[test]
fn a_path_changed_while_in_flight_ends_with_its_last_content_each_alerting_once() {
    // Whatever the workers read when (A, B, A, C: the earlier takes may read a later
    // content), the path ends with its last content, searchable, each content alerting once.
    for round in 0..20 {
        let home = Home::new(
            &[
                ("alpha", "alphaword"),
                ("beta", "betaword"),
                ("gamma", "gammaword"),
            ],
            "[engine]\nworkers = 4\n",
        );
        let (mut engine, sink) = home.open(PercolatorKind::default());
        let a = "Title A\n\nThe alphaword story.\n";
        let p = home.write("p.txt", a);
        process(&mut engine, &p);
        if round % 2 == 0 {
            commit(&mut engine);
        }
        for text in [
            "Title B\n\nThe betaword story.\n",
            a,
            "Title B\n\nThe betaword story.\n",
            a,
            "Title C\n\nThe gammaword story.\n",
            a,
        ] {
            home.write("p.txt", text);
            take(&mut engine, &p);
        }
        step_all(&mut engine);
        commit(&mut engine);
        assert_eq!(
            searched(&engine, "alphaword"),
            std::slice::from_ref(&p),
            "round {round}"
        );
        assert!(searched(&engine, "betaword").is_empty(), "round {round}");
        assert!(searched(&engine, "gammaword").is_empty(), "round {round}");
        let record = engine.ledger().file(&shown(&p)).unwrap().unwrap();
        assert_eq!(
            record.content_hash,
            blake3::hash(a.as_bytes()).to_hex().to_string()
        );
        let mut pairs = sink.pairs();
        let all = pairs.len();
        pairs.sort();
        pairs.dedup();
        assert_eq!(
            pairs.len(),
            all,
            "nothing doubled (round {round}): {pairs:?}"
        );
        assert!(pairs.contains(&("alpha".to_string(), shown(&p))));
    }
}

#[test]
fn copies_taken_back_to_back_alert_once_per_query() {
    let home = Home::new(&[("alpha", "alphaword")], "[engine]\nworkers = 4\n");
    let (mut engine, sink) = home.open(PercolatorKind::default());
    let text = "Title A\n\nThe alphaword story.\n";
    let copies: Vec<PathBuf> = (0..12)
        .map(|i| home.write(&format!("copy{i}.txt"), text))
        .collect();
    for copy in &copies {
        take(&mut engine, copy);
    }
    // (Taking waits for room, applying the earliest files: not every file is in `done`.)
    step_all(&mut engine);
    commit(&mut engine);
    assert_eq!(sink.alerts().len(), 1);
    assert_eq!(searched(&engine, "alphaword").len(), 1);
    for copy in &copies {
        assert!(engine.ledger().file(&shown(copy)).unwrap().is_some());
    }
}

#[test]
fn queries_changed_while_files_are_in_flight_alert_per_the_set_they_are_applied_under() {
    // Files taken, then the queries change before they are applied: each document applied
    // after the change alerts exactly per the new set, a freed and reused id never under the
    // name it had.
    let home = Home::new(
        &[("alpha", "alphaword"), ("beta", "betaword")],
        "[engine]\nworkers = 4\n",
    );
    let (mut engine, sink) = home.open(PercolatorKind::default());
    let paths: Vec<PathBuf> = (0..8)
        .map(|i| {
            home.write(
                &format!("f{i}.txt"),
                &format!("T{i}\n\nalphaword betaword {i}"),
            )
        })
        .collect();
    for path in &paths {
        take(&mut engine, path);
    }
    // Give the workers time to prepare them on the old set.
    std::thread::sleep(Duration::from_millis(300));
    let beta = engine.queries().id_of("beta").unwrap();
    engine
        .execute(Command::DeleteQuery {
            name: "beta".into(),
        })
        .and_then(Reply::query_deleted)
        .unwrap();
    let (gamma, _, _) = engine
        .execute(Command::PutQuery {
            name: "gamma".into(),
            text: "nothingmatchesthis".into(),
            webhooks: None,
        })
        .and_then(Reply::query_saved)
        .unwrap();
    assert_eq!(gamma, beta, "the freed id is reused");
    let (_, _, _) = engine
        .execute(Command::PutQuery {
            name: "delta".into(),
            text: "betaword".into(),
            webhooks: None,
        })
        .and_then(Reply::query_saved)
        .unwrap();
    step_all(&mut engine);
    commit(&mut engine);
    let mut names: Vec<String> = sink.pairs().into_iter().map(|(q, _)| q).collect();
    names.sort();
    names.dedup();
    assert_eq!(names, ["alpha", "delta"]);
    assert_eq!(sink.alerts().len(), 2 * paths.len());
}

#[test]
fn a_file_whose_documents_outlast_a_slice_is_finished_by_steps_taken_when_ready() {
    // The daemon steps the files only when `files_ready` says so, with a small budget and no
    // wait. A file whose last part came and whose documents did not all fit in a slice must
    // still be ready (it has prepared documents), or it and every file behind it stay in
    // flight for ever.
    let home = Home::new(&[("niger", "niger")], "");
    let (mut engine, sink) = home.open(PercolatorKind::default());
    let lines: Vec<String> = (0..40)
        .map(|i| format!("{{\"title\": \"t{i}\", \"body\": \"niger mali {i}\"}}"))
        .collect();
    let many = home.write("many.jsonl", &(lines.join("\n") + "\n"));
    let small = home.write("small.txt", "Small\n\nniger small");
    take(&mut engine, &many);
    take(&mut engine, &small);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut done = Vec::new();
    while done.len() < 2 && std::time::Instant::now() < deadline {
        if engine.files_ready() {
            done.extend(
                engine
                    .execute(Command::StepFiles {
                        budget: Duration::ZERO,
                        wait: None,
                    })
                    .and_then(Reply::files_done)
                    .unwrap(),
            );
        } else {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    assert_eq!(done.len(), 2, "in flight: {}", engine.files_in_flight());
    assert_eq!(sink.alerts().len(), 41);
}

#[test]
fn what_a_commit_under_way_records_still_dedups_the_next_batch() {
    let home = Home::new(&[("niger", "niger")], "");
    let (mut engine, sink) = home.open(PercolatorKind::default());
    let a = home.write("a.txt", "niger one");
    process(&mut engine, &a);
    engine.start_commit().unwrap();
    // While it runs, or once it is done but not yet taken in: a copy, the same bytes again.
    let b = home.write("b.txt", "niger one");
    assert!(matches!(
        process(&mut engine, &b),
        FileOutcome::Processed {
            new: 0,
            known: 1,
            alerts: 0
        }
    ));
    assert!(matches!(process(&mut engine, &a), FileOutcome::Unchanged));
    engine.collect_commit(true).unwrap();
    assert!(engine.committing.is_none());
    // Taken in: the ledger and the index answer now.
    let c = home.write("c.txt", "niger one");
    process(&mut engine, &c);
    assert!(matches!(process(&mut engine, &a), FileOutcome::Unchanged));
    commit(&mut engine);
    assert_eq!(sink.alerts().len(), 1);
    assert_eq!(engine.index().num_docs(), 1);
    for path in [&a, &b, &c] {
        assert!(engine.ledger().file(&shown(path)).unwrap().is_some());
    }
    assert_eq!(engine.uncommitted_changes(), 0);
    assert!(engine.uncommitted.is_empty() && engine.pending_files.is_empty());
}

#[test]
fn files_taken_back_to_back_are_applied_in_the_order_taken() {
    let home = Home::new(&[("niger", "niger")], "");
    let (mut engine, sink) = home.open(PercolatorKind::default());
    // The same article under many names, and a path rewritten between takes: whatever order
    // the workers finish in, the first name alerts, and the path ends with its last content.
    let mut taken = Vec::new();
    for i in 0..20 {
        let path = home.write(&format!("copy-{i:02}.txt"), "niger copy");
        engine
            .execute(Command::TakeFile { path: path.clone() })
            .and_then(Reply::taken)
            .unwrap();
        taken.push(path);
    }
    let changing = home.write("changing.txt", "niger first");
    engine
        .execute(Command::TakeFile {
            path: changing.clone(),
        })
        .and_then(Reply::taken)
        .unwrap();
    // Taking waits for room by applying the earliest files; the rest are applied here.
    let done: Vec<FileDone> = engine.drain_files().unwrap();
    assert_eq!(done.last().map(|d| d.path.clone()), Some(changing.clone()));
    home.write("changing.txt", "niger second");
    process(&mut engine, &changing);
    commit(&mut engine);
    // One alert per content and per path: the copies are one article, and the rewritten
    // path already alerted for this query.
    assert_eq!(
        sink.pairs(),
        [
            ("niger".to_string(), shown(&taken[0])),
            ("niger".to_string(), shown(&changing)),
        ]
    );
    // The rewritten path holds its last content only; the copies' article is shown at the
    // first name.
    assert_eq!(engine.index().num_docs(), 2);
    let record = engine.ledger().file(&shown(&changing)).unwrap().unwrap();
    assert_eq!(
        record.content_hash,
        blake3::hash(b"niger second").to_hex().to_string()
    );
}

#[test]
fn a_burst_is_committed_soon_after_it_ends_a_trickle_at_the_interval() {
    let home = Home::new(&[("a", "niger")], "commit_interval_ms = 10000\n");
    let (mut engine, _sink) = home.open(PercolatorKind::Presearch);
    // One file, then nothing in flight: the interval's pace.
    process(&mut engine, &home.write("one.txt", "niger"));
    let due = engine.next_commit_in().expect("a batch waits");
    assert!(due > Duration::from_secs(5), "{due:?}");
    // A burst's worth of documents, then nothing in flight: a tenth of the interval.
    for i in 0..BURST_DOCS {
        process(
            &mut engine,
            &home.write(&format!("{i}.txt"), &format!("niger {i}")),
        );
    }
    let due = engine.next_commit_in().expect("a batch waits");
    assert!(due <= Duration::from_secs(1), "{due:?}");
    commit(&mut engine);
    assert_eq!(engine.next_commit_in(), None);
}
