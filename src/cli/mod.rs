//! The command line: one file per command. Flags parse into these types; each command loads
//! what it needs (config, index, alert log) and prints for people, or JSON with `--json`.
//! Every command ends in an [`Outcome`], whose exit status follows grep's convention (0 found,
//! 1 nothing found, 2 error); what "found" means for each command is in its `--help`.

mod alerts;
mod ingest;
mod inputs;
mod match_files;
mod queries;
mod search;
mod status;
pub mod style;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{ColorChoice, Parser, Subcommand};

use crate::config::Config;
use crate::matcher::Engine;
use style::Palette;

/// The percolation engine, as `--engine` names it (mapped to [`Engine`]; the matcher knows
/// nothing of the command line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum EngineChoice {
    /// Candidate queries selected by the terms they require, then verified exactly.
    #[default]
    Presearch,
    /// Every query against every document: the baseline.
    Brute,
}

impl From<EngineChoice> for Engine {
    fn from(choice: EngineChoice) -> Engine {
        match choice {
            EngineChoice::Presearch => Engine::Presearch,
            EngineChoice::Brute => Engine::Brute,
        }
    }
}

const EXIT_STATUS_HELP: &str = "\
Exit status (as grep's): 0 when the command found what it looks for, 1 when it ran and found
nothing, 2 on an error (one message on stderr names the input and what is wrong). Each
command's --help says what \"found\" means for it.";

#[derive(Debug, Parser)]
#[command(
    name = "lookout",
    version,
    about = "Full-text search and alerting: watch a folder, index articles, alert on saved queries",
    after_help = EXIT_STATUS_HELP
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
    /// Color in the output and the log lines: `auto` colors a terminal unless NO_COLOR is
    /// set (CLICOLOR_FORCE forces it).
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogFormat {
    /// One readable line per event.
    Pretty,
    /// One JSON object per event.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: watch the folders, index new articles, alert on saved queries.
    #[command(after_help = "\
Exit status: 0 when it stopped cleanly (Ctrl-C, SIGTERM), 2 when it could not start or
failed (invalid configuration, index in use, ...).")]
    Run,
    /// Search the index.
    Search(search::SearchArgs),
    /// List, check, run, add or remove the saved queries.
    #[command(
        subcommand,
        after_help = "Exit status: see each command's --help (lookout queries list --help, ...)."
    )]
    Queries(queries::QueriesCommand),
    /// Print the alert log (the last ones with --limit, newer ones with --since), or replay it
    /// to a webhook.
    Alerts(alerts::AlertsArgs),
    /// Index and match files or folders once, like the daemon does, then exit.
    Ingest(ingest::IngestArgs),
    /// Match files against saved queries without an index: prints NAME<TAB>FILE per match.
    Match(match_files::MatchArgs),
    /// What the daemon is doing: documents, alerts, queues, last commit, quarantined files,
    /// webhooks (from the running daemon, or from the files when none runs).
    Status(status::StatusArgs),
    /// Print a shell completion script: `lookout completions bash > /etc/bash_completion.d/lookout`.
    #[command(after_help = "Exit status: 0 (2 on an error).")]
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Print the HTTP API's OpenAPI document.
    #[command(after_help = "Exit status: 0 (2 on an error).")]
    Openapi,
}

/// How a command ended, as its exit status (grep's convention).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 0: it found what it looks for (hits, matches, alerts, queries), or did what it was
    /// asked.
    Found,
    /// 1: it ran and found nothing (or, for `queries check`, found an invalid query).
    NothingFound,
    /// 2: errors were reported on stderr (what was printed may be partial).
    Errors,
}

impl Outcome {
    /// `Found` when `found`, else `NothingFound`.
    pub fn found_if(found: bool) -> Outcome {
        if found {
            Outcome::Found
        } else {
            Outcome::NothingFound
        }
    }

    /// `Errors` when `errors`, else `self`.
    pub fn unless_errors(self, errors: bool) -> Outcome {
        if errors {
            Outcome::Errors
        } else {
            self
        }
    }
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> ExitCode {
        match outcome {
            Outcome::Found => ExitCode::SUCCESS,
            Outcome::NothingFound => ExitCode::from(1),
            Outcome::Errors => ExitCode::from(2),
        }
    }
}

/// The exit status of an error that ends a command.
pub const ERROR_EXIT: u8 = 2;

/// Logs go to stderr; `RUST_LOG` filters (default: info for `run` and `ingest`, else warn).
///
/// Lines are written by a thread of their own (tracing-appender's non-blocking writer, never
/// lossy: a full queue makes the logger wait), buffered and flushed whenever the queue is
/// drained, so that a burst of alerts costs a few writes, not one per line. Keep the guard
/// until the end: dropping it writes what is queued.
pub fn init_logging(cli: &Cli) -> tracing_appender::non_blocking::WorkerGuard {
    let default = match cli.command {
        Command::Run | Command::Ingest(_) => "info",
        _ => "warn",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("lookout-log")
        .finish(std::io::BufWriter::with_capacity(
            64 * 1024,
            std::io::stderr(),
        ));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match cli.log_format {
        LogFormat::Pretty => builder
            .with_ansi(Palette::stderr(cli.color).enabled())
            .init(),
        LogFormat::Json => builder.with_ansi(false).json().init(),
    }
    guard
}

/// How stdout and stderr are decorated (`--color` and the environment).
pub(crate) struct Palettes {
    /// Decorations of stdout.
    pub out: Palette,
    /// Decorations of stderr.
    pub err: Palette,
}

pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let palettes = Palettes {
        out: Palette::stdout(cli.color),
        err: Palette::stderr(cli.color),
    };
    match cli.command {
        Command::Run => {
            // What the files hold before they are read: the daemon reads them again only if
            // one changes meanwhile.
            let read_from = crate::daemon::startup_fingerprint(&cli.config);
            let config = load_config(&cli.config)?;
            crate::daemon::run(config, read_from, Engine::default())?;
            Ok(Outcome::Found)
        }
        Command::Search(args) => search::run(&load_config(&cli.config)?, args, &palettes),
        Command::Queries(command) => queries::run(&load_config(&cli.config)?, command, &palettes),
        Command::Alerts(args) => alerts::run(&load_config(&cli.config)?, args, &palettes),
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
            Ok(Outcome::Found)
        }
        Command::Openapi => {
            println!("{}", crate::api::openapi_json());
            Ok(Outcome::Found)
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

/// An error and its causes on one line, `what: why: because`, each cause once: many errors
/// write their source into their own message and also return it as `source()`, so a cause
/// whose text is already in the line is not repeated.
pub fn error_chain<'a>(
    causes: impl IntoIterator<Item = &'a (dyn std::error::Error + 'static)>,
) -> String {
    let mut line = String::new();
    for cause in causes {
        let text = cause.to_string();
        let text = text.trim();
        if text.is_empty() || line.contains(text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(text);
    }
    line
}

/// A query error with a caret under its column.
fn print_query_error(text: &str, error: &crate::query::QueryError, err: &Palette) {
    eprintln!("lookout: invalid query: {error}");
    eprintln!(
        "  {text}\n  {}{}",
        " ".repeat(error.column.saturating_sub(1)),
        err.error("^")
    );
}

/// `<b>x</b>` in snippets as bold when decorating, plain otherwise; entities unescaped.
fn render_snippet(snippet: &str, palette: &Palette) -> String {
    let (bold, reset) = palette.bold_markers();
    crate::alerts::record::snippet_marked(snippet, &bold, &reset)
}

/// Whether a write failed because the reader went away (`lookout search x | head`): not an
/// error, the command just stops.
fn is_broken_pipe(error: &std::io::Error) -> bool {
    error.kind() == std::io::ErrorKind::BrokenPipe
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read {path}: {source}")]
    struct EmbedsItsSource {
        path: &'static str,
        source: std::io::Error,
    }

    #[test]
    fn a_cause_is_printed_once() {
        let io = std::io::Error::from_raw_os_error(28);
        let io_text = io.to_string();
        let error = anyhow::Error::new(EmbedsItsSource {
            path: "/data/index",
            source: io,
        })
        .context("commit failed");
        let line = error_chain(error.chain());
        assert_eq!(
            line,
            format!("commit failed: cannot read /data/index: {io_text}")
        );
        assert_eq!(line.matches(&io_text).count(), 1, "{line}");
        // A cause its parent does not embed is still shown.
        let error = anyhow::Error::new(std::io::Error::from_raw_os_error(2)).context("open x");
        assert!(error_chain(error.chain()).starts_with("open x: "));
    }

    #[test]
    fn every_command_and_flag_has_a_help_text() {
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in command.get_subcommands() {
                let sub_path = format!("{path} {}", sub.get_name());
                if sub.get_name() != "help" && sub.get_about().is_none() {
                    missing.push(sub_path.clone());
                }
                walk(sub, &sub_path, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "lookout", &mut missing);
        assert!(missing.is_empty(), "no help text: {missing:#?}");
    }

    #[test]
    fn every_command_says_what_its_exit_status_means() {
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for sub in command.get_subcommands() {
                let sub_path = format!("{path} {}", sub.get_name());
                // A group (`queries`) runs nothing itself: its commands say.
                if sub.get_name() != "help"
                    && !sub.is_subcommand_required_set()
                    && !sub
                        .get_after_help()
                        .is_some_and(|h| h.to_string().contains("Exit status"))
                {
                    missing.push(sub_path.clone());
                }
                walk(sub, &sub_path, missing);
            }
        }
        let mut missing = Vec::new();
        let root = Cli::command();
        assert!(root
            .get_after_help()
            .is_some_and(|h| h.to_string().contains("Exit status")));
        walk(&root, "lookout", &mut missing);
        assert!(missing.is_empty(), "no exit status in --help: {missing:#?}");
    }
}
