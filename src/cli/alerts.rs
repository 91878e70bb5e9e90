//! `lookout alerts`: the alert log, readable (or as JSON lines), optionally followed.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::metrics::Metrics;
use crate::sinks::{self, Alert};

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AlertsArgs {
    #[command(subcommand)]
    pub command: Option<AlertsCommand>,
    /// Keep printing new alerts as they are written.
    #[arg(long, short)]
    pub follow: bool,
    /// Only alerts of this saved query.
    #[arg(long)]
    pub query: Option<String>,
    /// Print the alert log's JSON lines as they are.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum AlertsCommand {
    /// Deliver alerts from the log to a webhook again (those its route wants), with the same
    /// signing and retries as the daemon. The webhook's cursor is not changed.
    Replay {
        /// The webhook's name in the config.
        #[arg(long)]
        webhook: String,
        /// Only alerts at or after this time (RFC 3339, or a date YYYY-MM-DD).
        #[arg(long, value_parser = crate::sinks::parse_since)]
        since: Option<DateTime<Utc>>,
    },
}

pub fn run(config: &Config, args: AlertsArgs) -> anyhow::Result<ExitCode> {
    if let Some(AlertsCommand::Replay { webhook, since }) = args.command {
        return replay(config, &webhook, since);
    }
    let terminal = super::stdout_is_terminal();
    let stdout = std::io::stdout();
    let keep = |alert: &Alert| args.query.as_ref().is_none_or(|q| &alert.query.name == q);
    let print = |alert: &Alert| -> std::io::Result<()> {
        let mut out = stdout.lock();
        if args.json {
            writeln!(out, "{}", alert.to_json_line())
        } else {
            write_alert(&mut out, alert, terminal)
        }
    };
    let mut follower = sinks::follow(&config.alert_log, 0);
    loop {
        for alert in follower.poll()? {
            if keep(&alert) {
                if let Err(e) = print(&alert) {
                    if e.kind() == std::io::ErrorKind::BrokenPipe {
                        return Ok(ExitCode::SUCCESS);
                    }
                    return Err(e.into());
                }
            }
        }
        if !args.follow {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn write_alert(out: &mut impl Write, alert: &Alert, terminal: bool) -> std::io::Result<()> {
    let (bold, reset) = if terminal {
        ("\x1b[1m", "\x1b[0m")
    } else {
        ("", "")
    };
    let title = if alert.doc.title.is_empty() {
        "(untitled)"
    } else {
        alert.doc.title.as_str()
    };
    let date = alert.doc.date.map(|d| format!("  {d}")).unwrap_or_default();
    writeln!(
        out,
        "{}  {bold}{}{reset}  {}{date}  {title}",
        alert.at.format("%Y-%m-%d %H:%M:%S"),
        alert.query.name,
        alert.doc.path
    )?;
    writeln!(out, "    matched: {}", alert.matched.terms.join(", "))?;
    writeln!(
        out,
        "    {}",
        super::render_snippet(&alert.matched.snippet, terminal)
    )
}

fn replay(config: &Config, name: &str, since: Option<DateTime<Utc>>) -> anyhow::Result<ExitCode> {
    let Some(webhook) = config.webhooks.iter().find(|w| w.name == name) else {
        let names: Vec<&str> = config.webhooks.iter().map(|w| w.name.as_str()).collect();
        anyhow::bail!(
            "no webhook named '{name}' in {} (configured: {})",
            config.path.display(),
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        );
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let stats = runtime.block_on(sinks::replay(
        &config.alert_log,
        webhook,
        &config.webhook_routes(),
        since,
        sinks::RetryPolicy::default(),
        // A one-off command: nothing scrapes its metrics.
        &Metrics::new(),
    ))?;
    println!(
        "replayed to '{name}': {} alert{} selected, {} delivered, {} failed ({} failed attempts), {} skipped",
        stats.selected,
        if stats.selected == 1 { "" } else { "s" },
        stats.delivered,
        stats.failed,
        stats.failed_attempts,
        stats.skipped
    );
    if let Some(gone) = &stats.gone {
        eprintln!("lookout: webhook '{name}' answered 410 Gone ({gone}): replay stopped");
    }
    Ok(if stats.failed == 0 && stats.gone.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
