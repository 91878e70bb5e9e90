//! `lookout queries list|check|run|add|rm`: the saved queries. `list` shows what the running
//! daemon runs (its API's `GET /queries`) or, when none runs, what the files say; invalid
//! queries are marked with their error and column either way. `add` and `rm` go through the
//! daemon when one runs, else edit the files.

use std::collections::HashMap;
use std::io::Write;

use super::search::PageArgs;
use super::{Outcome, Palettes};
use crate::api::queries::PutAnswer;
use crate::api::views::QueryView;
use crate::client::{ClientError, DaemonClient};
use crate::config::{compile_queries, persist, Config, SaveOutcome};
use crate::engine::{Command, Engine, EngineOptions, Reply, BACKFILL_SLICE};
use crate::index::{IndexError, LookoutIndex};
use crate::matcher::presearch::{plan, Key};
use crate::matcher::{Plan, TermStats};
use crate::query::{Clause, Occur, Query, Scope, TextField};

#[derive(Debug, clap::Subcommand)]
pub enum QueriesCommand {
    /// List the saved queries, invalid ones marked with their error (from the running daemon
    /// when one runs, else from the files).
    #[command(after_help = "\
Exit status: 0 when at least one saved query is listed (invalid ones count), 1 when there
is none, 2 on an error.")]
    List {
        /// Print one JSON array, as the API's GET /queries answers.
        #[arg(long)]
        json: bool,
    },
    /// Validate every saved query: positioned errors, warnings, and how the presearcher indexes
    /// each (pre-filtered on which terms, in how many indexed articles, or always checked).
    #[command(after_help = "\
Exit status: 0 when every saved query is valid (warnings allowed), 1 when at least one is
invalid, 2 on an error (unreadable configuration or index).")]
    Check {
        /// List every query's plan, even when there are more than 1,000.
        #[arg(long, short)]
        verbose: bool,
    },
    /// Add or replace a saved query: through the running daemon's API (applied at once), or in
    /// the queries file when no daemon runs.
    #[command(after_help = "\
Exit status: 0 when the query is saved (with --dry-run: when it would match at least one
indexed document), 1 when a --dry-run matches nothing, 2 on an error (invalid query, unknown
webhook, file not writable, ...).")]
    Add {
        /// The saved query's name (its alerts carry it).
        name: String,
        /// The query (quote it for the shell).
        query: String,
        /// Notify only this webhook of its alerts (repeatable; default: every webhook).
        #[arg(long = "webhook")]
        webhooks: Vec<String>,
        /// Also alert on the documents already indexed that it matches (once each).
        #[arg(long, conflicts_with = "dry_run")]
        backfill: bool,
        /// Do not save: show how many indexed documents it would match, and the first few.
        #[arg(long)]
        dry_run: bool,
    },
    /// Delete a saved query: through the running daemon's API, or from its file.
    #[command(after_help = "\
Exit status: 0 when the query is deleted, 1 when no saved query has that name, 2 on an
error.")]
    Rm {
        /// The saved query's name.
        name: String,
    },
    /// Run a saved query over the index, like `search`.
    #[command(after_help = "\
Exit status: 0 when hits are printed, 1 when there is none (nothing matches, or --offset is
past the last hit), 2 on an error (no such saved query, invalid query, no index).")]
    Run {
        /// The saved query's name.
        name: String,
        #[command(flatten)]
        page: PageArgs,
    },
}

pub fn run(
    config: &Config,
    command: QueriesCommand,
    palettes: &Palettes,
) -> anyhow::Result<Outcome> {
    match command {
        QueriesCommand::List { json } => list(config, json, palettes),
        QueriesCommand::Check { verbose } => check(config, verbose, palettes),
        QueriesCommand::Add {
            name,
            query,
            webhooks,
            backfill,
            dry_run,
        } => {
            let webhooks = (!webhooks.is_empty()).then_some(webhooks);
            add(config, &name, &query, webhooks, backfill, dry_run, palettes)
        }
        QueriesCommand::Rm { name } => remove(config, &name),
        QueriesCommand::Run { name, page } => {
            let Some(spec) = config.query_spec(&name) else {
                anyhow::bail!(
                    "no saved query named '{name}' in {} (see: lookout queries list)",
                    config.path.display()
                );
            };
            let (good, bad) = compile_queries(std::slice::from_ref(spec), config.query_limits);
            if let Some(problem) = bad.first() {
                eprintln!("lookout: {problem}");
                super::print_query_error(&problem.spec.text, &problem.error, &palettes.err);
                return Ok(Outcome::Errors);
            }
            let Some(saved) = good.first() else {
                anyhow::bail!("saved query '{name}' did not compile");
            };
            super::search::print_results(config, &saved.query, page, palettes)
        }
    }
}

/// The saved queries as the files say, in the shape of the API's `GET /queries`.
fn views_from_files(config: &Config) -> Vec<QueryView> {
    QueryView::all(&crate::engine::QuerySet::compile(
        config.queries.clone(),
        config.query_limits,
    ))
}

fn list(config: &Config, json: bool, palettes: &Palettes) -> anyhow::Result<Outcome> {
    let from_files = views_from_files(config);
    let (views, source) = match DaemonClient::find(config) {
        Some(daemon) => {
            let running = daemon.queries().map_err(client_error)?;
            let differs = running.len() != from_files.len()
                || running.iter().zip(&from_files).any(|(a, b)| {
                    a.name != b.name || a.query != b.query || a.webhooks != b.webhooks
                });
            if differs {
                eprintln!(
                    "note: the files say otherwise ({} saved quer{} in {} and the files it names): \
                     an edit the daemon has not applied yet, or refused (see its log)",
                    from_files.len(),
                    if from_files.len() == 1 { "y" } else { "ies" },
                    config.path.display()
                );
            }
            (running, format!("the running daemon at {}", daemon.base()))
        }
        None if !config.api.enabled => (
            from_files,
            format!(
                "{} (the API is disabled: a running daemon cannot be asked)",
                config.path.display()
            ),
        ),
        None => (
            from_files,
            format!("{} (no daemon runs)", config.path.display()),
        ),
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let written = if json {
        writeln!(out, "{}", serde_json::to_string(&views)?)
    } else {
        write_list(&mut out, &views, palettes)
    };
    match written {
        Err(e) if !super::is_broken_pipe(&e) => return Err(e.into()),
        _ => {}
    }
    if !json {
        let invalid = views.iter().filter(|v| v.error.is_some()).count();
        if views.is_empty() {
            eprintln!("no saved queries in {source}");
        } else {
            eprintln!(
                "{} saved quer{}{}, from {source}",
                views.len(),
                if views.len() == 1 { "y" } else { "ies" },
                match invalid {
                    0 => String::new(),
                    n => format!(" ({n} invalid, not running)"),
                },
            );
        }
    }
    Ok(Outcome::found_if(!views.is_empty()))
}

/// `NAME  STATUS  QUERY  [webhooks: ...]`, and under an invalid query a caret at its column
/// with the error.
fn write_list(
    out: &mut impl Write,
    views: &[QueryView],
    palettes: &Palettes,
) -> std::io::Result<()> {
    let palette = &palettes.out;
    let width = views
        .iter()
        .map(|q| q.name.chars().count())
        .max()
        .unwrap_or(0);
    for view in views {
        let hooks = match &view.webhooks {
            Some(names) => format!("  [webhooks: {}]", names.join(", ")),
            None => String::new(),
        };
        let status = match &view.error {
            Some(_) => palette.error("invalid").to_string(),
            None => palette.good("active ").to_string(),
        };
        let pad = width.saturating_sub(view.name.chars().count());
        writeln!(
            out,
            "{}{}  {status}  {}{hooks}",
            palette.bold(&view.name),
            " ".repeat(pad),
            view.query
        )?;
        if let Some(error) = &view.error {
            // Under the query text: the name's column, two spaces, the status, two spaces.
            let indent = width + 2 + 7 + 2 + error.column.saturating_sub(1);
            writeln!(
                out,
                "{}{} {}",
                " ".repeat(indent),
                palette.error("^"),
                palette.error(format!("{} at column {}", error.message, error.column))
            )?;
        }
    }
    Ok(())
}

fn add(
    config: &Config,
    name: &str,
    text: &str,
    webhooks: Option<Vec<String>>,
    backfill: bool,
    dry_run: bool,
    palettes: &Palettes,
) -> anyhow::Result<Outcome> {
    if let Err(error) = crate::config::check_query_name(name) {
        anyhow::bail!(
            "the query name {} is refused: {error}",
            crate::config::shown_name(name)
        );
    }
    let parsed = match crate::query::parse_with_limits(text, config.query_limits) {
        Ok(parsed) => parsed,
        Err(error) => {
            super::print_query_error(text, &error, &palettes.err);
            return Ok(Outcome::Errors);
        }
    };
    for lint in &parsed.lints {
        eprintln!("warning: {lint}");
    }
    if let Some(daemon) = DaemonClient::find(config) {
        let answer = daemon
            .put_query(name, text, webhooks.as_deref(), backfill, dry_run)
            .map_err(client_error)?;
        return Ok(match answer {
            PutAnswer::DryRun(dry) => {
                println!(
                    "'{name}' would match {} indexed document(s) (not saved)",
                    dry.total
                );
                for hit in &dry.hits {
                    println!("  {}  {}", hit.path, hit.title);
                }
                Outcome::found_if(dry.total > 0)
            }
            PutAnswer::Saved(saved) => {
                let verb = if saved.created { "added" } else { "replaced" };
                println!(
                    "{verb} '{name}' in {} (applied by the running daemon)",
                    saved.query.file
                );
                if let Some(backfill) = saved.backfill {
                    println!(
                        "backfill: {} indexed document(s) match, {} new alert(s)",
                        backfill.matched, backfill.alerts
                    );
                }
                Outcome::Found
            }
        });
    }
    // No daemon: work on the files.
    if dry_run {
        let index = LookoutIndex::open_read_only(&config.index)?;
        let results = index.search(&parsed.query, 10, 0)?;
        println!(
            "'{name}' would match {} indexed document(s) (not saved)",
            results.total
        );
        for hit in &results.hits {
            println!("  {}  {}", hit.document.location(), hit.document.title);
        }
        return Ok(Outcome::found_if(results.total > 0));
    }
    if let Some(unknown) = config.unknown_webhook(webhooks.as_deref().unwrap_or(&[])) {
        anyhow::bail!("the webhook '{unknown}' is not configured");
    }
    let file = config.file_for_query(name);
    let outcome = persist::save_query(&file, name, text, webhooks.as_deref())?;
    let verb = match outcome {
        SaveOutcome::Added => "added",
        SaveOutcome::Updated => "replaced",
        SaveOutcome::Unchanged => "unchanged",
    };
    println!("{verb} '{name}' in {}", file.display());
    if backfill {
        // Alerts go to the alert log; webhooks get them when the daemon next starts.
        let config = Config::load(&config.path)?;
        let mut engine = Engine::open(&config, config.queries.clone(), EngineOptions::default())?;
        let found = match engine
            .execute(Command::StartBackfill {
                name: name.to_string(),
            })
            .and_then(Reply::backfill_started)?
        {
            Some(mut run) => {
                while engine
                    .execute(Command::ContinueBackfill {
                        run: &mut run,
                        slice: BACKFILL_SLICE,
                    })
                    .and_then(Reply::backfill_step)?
                    == crate::engine::BackfillStep::More
                {}
                engine
                    .execute(Command::FinishBackfill { run })
                    .and_then(Reply::backfilled)?
            }
            None => crate::engine::Backfill::default(),
        };
        engine.finish()?;
        println!(
            "backfill: {} indexed document(s) match, {} new alert(s)",
            found.matched, found.alerts
        );
    }
    Ok(Outcome::Found)
}

fn remove(config: &Config, name: &str) -> anyhow::Result<Outcome> {
    if let Some(daemon) = DaemonClient::find(config) {
        return match daemon.delete_query(name) {
            Ok(()) => {
                println!("deleted '{name}' (applied by the running daemon)");
                Ok(Outcome::Found)
            }
            Err(ClientError::Api { status: 404, .. }) => {
                eprintln!("lookout: the running daemon has no saved query named '{name}'");
                Ok(Outcome::NothingFound)
            }
            Err(other) => Err(client_error(other)),
        };
    }
    let Some(spec) = config.query_spec(name) else {
        eprintln!(
            "lookout: no saved query named '{name}' in {} (see: lookout queries list)",
            config.path.display()
        );
        return Ok(Outcome::NothingFound);
    };
    persist::remove_query(&spec.file, name)?;
    println!("deleted '{name}' from {}", spec.file.display());
    Ok(Outcome::Found)
}

fn client_error(error: ClientError) -> anyhow::Error {
    match error {
        ClientError::Api {
            column: Some(column),
            message,
            ..
        } => anyhow::anyhow!("{message} (column {column})"),
        other => other.into(),
    }
}

/// Share of articles above which a query's pre-filter is reported as costly.
const COSTLY_SELECTIVITY: f64 = 0.2;
/// Below this many indexed articles, shares are too noisy to warn about.
const MIN_DOCS_FOR_COST: u64 = 100;

/// Exact counts of the indexed articles a pre-filter selects (those holding one of its keys
/// in any field), cached by key set: the presearcher's statistics are estimates that only
/// guide its speed, so what is shown is counted on the index itself.
struct SelectedCounts<'a> {
    index: &'a LookoutIndex,
    cache: HashMap<String, usize>,
}

impl SelectedCounts<'_> {
    fn count(&mut self, keys: &[Key]) -> Result<usize, IndexError> {
        let cache_key = keys
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\u{0}");
        if let Some(&count) = self.cache.get(&cache_key) {
            return Ok(count);
        }
        let count = self.index.count(&holding_any(keys))?;
        self.cache.insert(cache_key, count);
        Ok(count)
    }
}

/// The query "a document holds one of these keys, in any field".
fn holding_any(keys: &[Key]) -> Query {
    let clauses = keys
        .iter()
        .flat_map(|key| {
            TextField::ALL.into_iter().map(move |field| {
                let scope = Scope::Field(field);
                let query = match key {
                    Key::Term(term) => Query::Term {
                        scope,
                        term: term.clone(),
                    },
                    Key::Prefix(prefix) => Query::Prefix {
                        scope,
                        prefix: prefix.clone(),
                    },
                };
                Clause {
                    occur: Occur::Should,
                    query,
                }
            })
        })
        .collect();
    Query::Bool(clauses)
}

fn check(config: &Config, verbose: bool, palettes: &Palettes) -> anyhow::Result<Outcome> {
    let (good, bad) = compile_queries(&config.queries, config.query_limits);
    for problem in &bad {
        eprintln!("error: {problem}");
        eprintln!("    {}", problem.spec.text);
        eprintln!(
            "    {}{}",
            " ".repeat(problem.error.column.saturating_sub(1)),
            palettes.err.error("^")
        );
    }
    // Plans are made on the index's term statistics when there is an index.
    let mut index_trouble = false;
    let index = match LookoutIndex::open_read_only(&config.index) {
        Ok(index) => Some(index),
        Err(IndexError::Missing(_)) => None,
        Err(error) => {
            eprintln!(
                "lookout: {}; plans are shown without term statistics",
                super::error_chain(std::iter::once(
                    &error as &(dyn std::error::Error + 'static)
                ))
            );
            index_trouble = true;
            None
        }
    };
    let stats = match &index {
        Some(index) => index.term_stats()?,
        None => TermStats::empty(),
    };
    let docs = index.as_ref().map_or(0, LookoutIndex::num_docs);
    let mut counts = index.as_ref().map(|index| SelectedCounts {
        index,
        cache: HashMap::new(),
    });
    let list_each = verbose || good.len() <= 1000;
    let (mut warnings, mut always) = (0, 0);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for saved in &good {
        let mut notes: Vec<String> = saved.lints.iter().map(ToString::to_string).collect();
        let plan = plan(&saved.query, &stats);
        let described = match &plan {
            Plan::AlwaysCheck => {
                always += 1;
                "always checked (no term to pre-filter on)".to_string()
            }
            Plan::Prefiltered {
                keys, selectivity, ..
            } => {
                let shown: Vec<String> = keys.iter().map(ToString::to_string).collect();
                // The estimate decides whether an exact count is worth it when plans are not
                // listed (it counts a term once per field, so it errs on the high side).
                let maybe_costly = docs >= MIN_DOCS_FOR_COST && *selectivity > COSTLY_SELECTIVITY;
                let selected = match counts.as_mut() {
                    Some(counts) if list_each || maybe_costly => Some(counts.count(keys)?),
                    _ => None,
                };
                if let Some(selected) = selected {
                    let share = selected as f64 / docs.max(1) as f64;
                    if docs >= MIN_DOCS_FOR_COST && share > COSTLY_SELECTIVITY {
                        notes.push(format!(
                            "costly: its rarest required terms ({}) are in {selected} of {docs} indexed articles ({:.0}%)",
                            shown.join(", "),
                            share * 100.0
                        ));
                    }
                }
                match selected {
                    Some(selected) => format!(
                        "pre-filtered on {} ({selected} of {docs} indexed article{})",
                        shown.join(" | "),
                        if docs == 1 { "" } else { "s" }
                    ),
                    None => format!("pre-filtered on {}", shown.join(" | ")),
                }
            }
        };
        if list_each {
            let _ = writeln!(out, "ok  {}  {described}", saved.name);
        }
        for note in notes {
            warnings += 1;
            eprintln!("warning: saved query '{}': {note}", saved.name);
        }
    }
    let n = config.queries.len();
    let _ = writeln!(
        out,
        "{n} saved quer{} checked: {} valid, {} invalid, {warnings} warning{}; presearch: {} pre-filtered, {always} always checked{}",
        if n == 1 { "y" } else { "ies" },
        good.len(),
        bad.len(),
        if warnings == 1 { "" } else { "s" },
        good.len() - always,
        match (&index, index_trouble) {
            (Some(_), _) => format!(" (plans on the term statistics of {docs} indexed articles)"),
            (None, true) => " (unreadable index: plans without term statistics)".to_string(),
            (None, false) => " (no index yet: plans without term statistics)".to_string(),
        },
    );
    Ok(Outcome::found_if(bad.is_empty()).unless_errors(index_trouble))
}
