//! `lookout queries list|check|run NAME`: the saved queries of the configuration.

use std::process::ExitCode;

use crate::config::{compile_queries, Config};

#[derive(Debug, clap::Subcommand)]
pub enum QueriesCommand {
    /// List the saved queries.
    List,
    /// Validate every saved query: positioned errors, warnings; exit 1 if any is invalid.
    Check,
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
        QueriesCommand::Check => {
            let (good, bad) = compile_queries(&config.queries);
            for problem in &bad {
                eprintln!("error: {problem}");
                eprintln!("    {}", problem.spec.text);
                eprintln!(
                    "    {}^",
                    " ".repeat(problem.error.column.saturating_sub(1))
                );
            }
            let mut warnings = 0;
            for saved in &good {
                for lint in &saved.lints {
                    warnings += 1;
                    eprintln!("warning: saved query '{}': {lint}", saved.name);
                }
            }
            println!(
                "{} saved quer{} checked: {} valid, {} invalid, {} warning{}",
                config.queries.len(),
                if config.queries.len() == 1 {
                    "y"
                } else {
                    "ies"
                },
                good.len(),
                bad.len(),
                warnings,
                if warnings == 1 { "" } else { "s" }
            );
            Ok(if bad.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
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
