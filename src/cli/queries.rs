//! `lookout queries list|check|run NAME`: the saved queries of the configuration.

use std::io::Write;
use std::process::ExitCode;

use crate::api::client::{ClientError, DaemonClient};
use crate::api::queries::PutAnswer;
use crate::config::{compile_queries, persist, Config};
use crate::index::LookoutIndex;
use crate::matcher::presearch::plan;
use crate::matcher::{Plan, TermStats};
use crate::pipeline::Pipeline;

#[derive(Debug, clap::Subcommand)]
pub enum QueriesCommand {
    /// List the saved queries.
    List,
    /// Validate every saved query: positioned errors, warnings, and how the presearcher indexes
    /// each (pre-filtered on which terms, or always checked); exit 1 if any is invalid.
    Check {
        /// List every query's plan, even when there are more than 1,000.
        #[arg(long, short)]
        verbose: bool,
    },
    /// Add or replace a saved query: through the running daemon's API (applied at once), or in
    /// the queries file when no daemon runs.
    Add {
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
    Rm { name: String },
    /// Run a saved query over the index, like `search`.
    Run {
        name: String,
        #[arg(long)]
        json: bool,
        #[arg(long, short = 'n', default_value_t = 10)]
        limit: usize,
    },
}

pub fn run(config: &Config, command: QueriesCommand) -> anyhow::Result<ExitCode> {
    match command {
        QueriesCommand::List => {
            let width = config
                .queries
                .iter()
                .map(|q| q.name.len())
                .max()
                .unwrap_or(0);
            for spec in &config.queries {
                let hooks = match &spec.webhooks {
                    Some(names) => format!("  [webhooks: {}]", names.join(", ")),
                    None => String::new(),
                };
                println!("{:width$}  {}{hooks}", spec.name, spec.text);
            }
            if config.queries.is_empty() {
                eprintln!("no saved queries in {}", config.path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        QueriesCommand::Check { verbose } => check(config, verbose),
        QueriesCommand::Add {
            name,
            query,
            webhooks,
            backfill,
            dry_run,
        } => {
            let webhooks = (!webhooks.is_empty()).then_some(webhooks);
            add(config, &name, &query, webhooks, backfill, dry_run)
        }
        QueriesCommand::Rm { name } => remove(config, &name),
        QueriesCommand::Run { name, json, limit } => {
            let Some(spec) = config.queries.iter().find(|q| q.name == name) else {
                anyhow::bail!(
                    "no saved query named '{name}' in {} (see: lookout queries list)",
                    config.path.display()
                );
            };
            let (good, bad) = compile_queries(std::slice::from_ref(spec), config.query_limits);
            if let Some(problem) = bad.first() {
                anyhow::bail!("{problem}");
            }
            let Some(saved) = good.first() else {
                anyhow::bail!("saved query '{name}' did not compile");
            };
            super::search::print_results(config, &saved.query, json, limit, 0)
        }
    }
}

fn add(
    config: &Config,
    name: &str,
    text: &str,
    webhooks: Option<Vec<String>>,
    backfill: bool,
    dry_run: bool,
) -> anyhow::Result<ExitCode> {
    let parsed = match crate::query::parse_with_limits(text, config.query_limits) {
        Ok(parsed) => parsed,
        Err(error) => {
            super::print_query_error(text, &error);
            return Ok(ExitCode::from(1));
        }
    };
    for lint in &parsed.lints {
        eprintln!("warning: {lint}");
    }
    if let Some(daemon) = DaemonClient::find(config) {
        let answer = daemon
            .put_query(name, text, webhooks.as_deref(), backfill, dry_run)
            .map_err(client_error)?;
        match answer {
            PutAnswer::DryRun(dry) => {
                println!(
                    "'{name}' would match {} indexed document(s) (not saved)",
                    dry.total
                );
                for hit in &dry.hits {
                    println!("  {}  {}", hit.path, hit.title);
                }
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
            }
        }
        return Ok(ExitCode::SUCCESS);
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
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(unknown) = config.unknown_webhook(webhooks.as_deref().unwrap_or(&[])) {
        anyhow::bail!("the webhook '{unknown}' is not configured");
    }
    let file = config.file_for_query(name);
    let outcome = persist::save_query(&file, name, text, webhooks.as_deref())?;
    println!("{outcome:?} '{name}' in {}", file.display());
    if backfill {
        // Alerts go to the alert log; webhooks get them when the daemon next starts.
        let config = Config::load(&config.path)?;
        let (queries, _) = compile_queries(&config.queries, config.query_limits);
        let mut pipeline =
            Pipeline::open(&config, queries, crate::matcher::Engine::default(), None)?;
        let found = pipeline.backfill(name)?;
        pipeline.finish()?;
        println!(
            "backfill: {} indexed document(s) match, {} new alert(s)",
            found.matched, found.alerts
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn remove(config: &Config, name: &str) -> anyhow::Result<ExitCode> {
    if let Some(daemon) = DaemonClient::find(config) {
        daemon.delete_query(name).map_err(client_error)?;
        println!("deleted '{name}' (applied by the running daemon)");
        return Ok(ExitCode::SUCCESS);
    }
    let Some(spec) = config.query_spec(name) else {
        anyhow::bail!(
            "no saved query named '{name}' in {} (see: lookout queries list)",
            config.path.display()
        );
    };
    persist::remove_query(&spec.file, name)?;
    println!("deleted '{name}' from {}", spec.file.display());
    Ok(ExitCode::SUCCESS)
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

fn check(config: &Config, verbose: bool) -> anyhow::Result<ExitCode> {
    let (good, bad) = compile_queries(&config.queries, config.query_limits);
    for problem in &bad {
        eprintln!("error: {problem}");
        eprintln!("    {}", problem.spec.text);
        eprintln!(
            "    {}^",
            " ".repeat(problem.error.column.saturating_sub(1))
        );
    }
    // Plans are made on the index's term statistics when there is an index.
    let stats = match LookoutIndex::open_read_only(&config.index) {
        Ok(index) => index.term_stats()?,
        Err(_) => TermStats::empty(),
    };
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
                let keys: Vec<String> = keys.iter().map(ToString::to_string).collect();
                if stats.docs() >= MIN_DOCS_FOR_COST && *selectivity > COSTLY_SELECTIVITY {
                    notes.push(format!(
                        "costly: its rarest required terms ({}) are in {:.0}% of indexed articles",
                        keys.join(", "),
                        selectivity * 100.0
                    ));
                }
                if stats.docs() > 0 {
                    format!(
                        "pre-filtered on {} ({:.1}% of articles)",
                        keys.join(" | "),
                        selectivity * 100.0
                    )
                } else {
                    format!("pre-filtered on {}", keys.join(" | "))
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
        if stats.docs() > 0 {
            format!(" (plans on the term statistics of {} indexed articles)", stats.docs())
        } else {
            " (no index yet: plans without term statistics)".to_string()
        },
    );
    Ok(if bad.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
