//! `lookout queries list|check|run NAME`: the saved queries of the configuration.

use std::io::Write;
use std::process::ExitCode;

use crate::config::{compile_queries, Config};
use crate::index::LookoutIndex;
use crate::matcher::presearch::plan;
use crate::matcher::{Plan, TermStats};

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
        QueriesCommand::Run { name, json, limit } => {
            let Some(spec) = config.queries.iter().find(|q| q.name == name) else {
                anyhow::bail!(
                    "no saved query named '{name}' in {} (see: lookout queries list)",
                    config.path.display()
                );
            };
            let (good, bad) = compile_queries(std::slice::from_ref(spec));
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

/// Share of articles above which a query's pre-filter is reported as costly.
const COSTLY_SELECTIVITY: f64 = 0.2;
/// Below this many indexed articles, shares are too noisy to warn about.
const MIN_DOCS_FOR_COST: u64 = 100;

fn check(config: &Config, verbose: bool) -> anyhow::Result<ExitCode> {
    let (good, bad) = compile_queries(&config.queries);
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
