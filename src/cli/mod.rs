//! The command line: one file per command. Flags parse into these types; each command loads
//! what it needs (config, index, alert log) and prints for people, or JSON with `--json`.

mod alerts;
mod ingest;
mod match_files;
mod queries;
mod search;
mod status;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::matcher::Engine;

#[derive(Debug, Parser)]
#[command(
    name = "lookout",
    version,
    about = "Full-text search and alerting: watch a folder, index articles, alert on saved queries"
)]
pub struct Cli {
    /// The configuration file.
    #[arg(
        long,
        short,
        global = true,
        env = "LOOKOUT_CONFIG",
        default_value = "config.toml"
    )]
    pub config: PathBuf,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: watch the folders, index new articles, alert on saved queries.
    Run,
    /// Search the index.
    Search(search::SearchArgs),
    /// List, check or run the saved queries.
    #[command(subcommand)]
    Queries(queries::QueriesCommand),
    /// Print the alert log.
    Alerts(alerts::AlertsArgs),
    /// Index and match files or folders once, like the daemon does, then exit.
    Ingest(ingest::IngestArgs),
    /// Match files against saved queries without an index: prints NAME<TAB>FILE per match.
    Match(match_files::MatchArgs),
    /// What the daemon is doing: documents, alerts, queues, last commit, quarantined files,
    /// webhooks (from the running daemon, or from the files when none runs).
    Status(status::StatusArgs),
    /// Print a shell completion script: `lookout completions bash > /etc/bash_completion.d/lookout`.
    Completions { shell: clap_complete::Shell },
    /// Print the HTTP API's OpenAPI document.
    Openapi,
}

/// Logs go to stderr; `RUST_LOG` filters (default: info).
pub fn init_logging(cli: &Cli) {
    let default = match cli.command {
        Command::Run | Command::Ingest(_) => "info",
        _ => "warn",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match cli.log_format {
        LogFormat::Pretty => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run => {
            let config = load_config(&cli.config)?;
            crate::daemon::run(config, Engine::default())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Search(args) => search::run(&load_config(&cli.config)?, args),
        Command::Queries(command) => queries::run(&load_config(&cli.config)?, command),
        Command::Alerts(args) => alerts::run(&load_config(&cli.config)?, args),
        Command::Ingest(args) => ingest::run(&load_config(&cli.config)?, args),
        Command::Match(args) => match_files::run(&cli.config, args),
        Command::Status(args) => status::run(&load_config(&cli.config)?, args),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "lookout",
                &mut std::io::stdout(),
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Openapi => {
            println!("{}", crate::api::openapi_json());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn load_config(path: &std::path::Path) -> anyhow::Result<Config> {
    if !path.exists() {
        anyhow::bail!(
            "no config file at {} (run lookout from the folder holding config.toml, or pass --config PATH)",
            path.display()
        );
    }
    Config::load(path).context("invalid configuration")
}

/// A query error with a caret under its column.
fn print_query_error(text: &str, error: &crate::query::QueryError) {
    eprintln!("lookout: invalid query: {error}");
    eprintln!(
        "  {text}\n  {}^",
        " ".repeat(error.column.saturating_sub(1))
    );
}

/// Whether to decorate output for a terminal.
fn stdout_is_terminal() -> bool {
    std::io::stdout().is_terminal()
}

/// `<b>x</b>` in snippets as bold on a terminal, plain otherwise; entities unescaped.
fn render_snippet(snippet: &str, terminal: bool) -> String {
    let (bold, reset) = if terminal {
        ("\x1b[1m", "\x1b[0m")
    } else {
        ("", "")
    };
    snippet
        .replace("<b>", bold)
        .replace("</b>", reset)
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}
