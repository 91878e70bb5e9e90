//! `lookout alerts`: the alert log, readable (or as JSON lines), filtered by saved query and
//! time, the last N (read from the log's end, so the cost is that of the alerts shown),
//! optionally followed; and `alerts replay`, which delivers the log to a webhook again.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Outcome, Palettes};
use crate::alerts::{self, Alert};
use crate::config::Config;
use crate::delivery;
use crate::metrics::Metrics;
use crate::webhooks;

/// The most alerts `--limit` may ask for (as the API's `GET /alerts`).
pub const MAX_LIMIT: u64 = 10_000;

#[derive(Debug, clap::Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "\
Exit status: 0 when alerts are printed, 1 when none passes the filters (or there is no alert
log yet), 2 on an error (unreadable log, invalid --since)."
)]
pub struct AlertsArgs {
    #[command(subcommand)]
    pub command: Option<AlertsCommand>,
    /// Keep printing new alerts as they are written (after the ones already in the log).
    #[arg(long, short)]
    pub follow: bool,
    /// Only alerts of this saved query.
    #[arg(long)]
    pub query: Option<String>,
    /// Only alerts at or after this time (RFC 3339, or a date YYYY-MM-DD, midnight UTC).
    #[arg(long, value_parser = crate::alerts::parse_since)]
    pub since: Option<DateTime<Utc>>,
    /// Only the last this many alerts that pass the filters (1 to 10,000; default: all).
    #[arg(
        long,
        short = 'n',
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=MAX_LIMIT)
    )]
    pub limit: Option<usize>,
    /// Print the alert log's JSON lines as they are.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum AlertsCommand {
    /// Deliver alerts from the log to a destination again (a webhook or an e-mail destination;
    /// those alerts its route wants, each alone, in its format), with the same signing and
    /// retries as the daemon. The destination's cursor and digests are not changed.
    #[command(after_help = "\
Exit status: 0 when every selected alert was delivered, 1 when no alert was selected, 2 when
a delivery failed, the destination answered 410 Gone, or on another error.")]
    Replay {
        /// The destination's name in the config (`--webhook` is the older spelling).
        #[arg(long = "to", visible_alias = "webhook", value_name = "NAME")]
        webhook: String,
        /// Only alerts at or after this time (RFC 3339, or a date YYYY-MM-DD).
        #[arg(long, value_parser = crate::alerts::parse_since)]
        since: Option<DateTime<Utc>>,
    },
}

pub fn run(config: &Config, args: AlertsArgs, palettes: &Palettes) -> anyhow::Result<Outcome> {
    if let Some(AlertsCommand::Replay { webhook, since }) = args.command {
        return replay(config, &webhook, since);
    }
    let path = &config.alert_log;
    let keep = |alert: &Alert| {
        args.query.as_ref().is_none_or(|q| *alert.query.name == **q)
            && args.since.is_none_or(|since| alert.at >= since)
    };
    let stdout = std::io::stdout();
    let print = |alert: &Alert| -> std::io::Result<()> {
        let mut out = stdout.lock();
        if args.json {
            writeln!(out, "{}", alert.to_json_line())
        } else {
            write_alert(&mut out, alert, palettes)
        }
    };
    let mut printed = 0usize;
    let mut errors = false;
    if !args.json && !args.follow && !path.exists() {
        eprintln!("no alert log yet at {}", path.display());
    }
    // The alerts already in the log, and where following goes on from.
    let follow_from = match args.limit {
        Some(limit) => {
            let end = end_of_complete_lines(path)?;
            let mut newest = Vec::with_capacity(limit.min(1024));
            for item in alerts::read_backwards(path, Some(end))? {
                let (_, alert) = item?;
                // The log is in time order: nothing older passes `since`.
                if args.since.is_some_and(|since| alert.at < since) {
                    break;
                }
                if keep(&alert) {
                    newest.push(alert);
                    if newest.len() == limit {
                        break;
                    }
                }
            }
            for alert in newest.iter().rev() {
                match print(alert) {
                    Ok(()) => printed += 1,
                    Err(e) if super::is_broken_pipe(&e) => {
                        return Ok(Outcome::found_if(printed > 0))
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            end
        }
        None => {
            let mut reader = alerts::AlertLogReader::open(path)?;
            for item in reader.by_ref() {
                let alert = match item {
                    Ok(alert) => alert,
                    Err(error) => {
                        eprintln!("lookout: {error} (skipped)");
                        errors = true;
                        continue;
                    }
                };
                if !keep(&alert) {
                    continue;
                }
                match print(&alert) {
                    Ok(()) => printed += 1,
                    Err(e) if super::is_broken_pipe(&e) => {
                        return Ok(Outcome::found_if(printed > 0))
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            reader.offset()
        }
    };
    if !args.follow {
        return Ok(Outcome::found_if(printed > 0).unless_errors(errors));
    }
    let mut follower = alerts::follow(path, follow_from);
    loop {
        for alert in follower.poll()? {
            if !keep(&alert) {
                continue;
            }
            match print(&alert) {
                Ok(()) => printed += 1,
                Err(e) if super::is_broken_pipe(&e) => return Ok(Outcome::found_if(printed > 0)),
                Err(e) => return Err(e.into()),
            }
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The byte offset just past the log's last complete line (0 for a missing or empty log): a
/// line still being written is left to the follower.
fn end_of_complete_lines(path: &Path) -> anyhow::Result<u64> {
    const CHUNK: u64 = 64 * 1024;
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(alerts::AlertLogError::io(path, "open", e).into()),
    };
    let read_error = |e| alerts::AlertLogError::io(path, "read", e);
    let mut end = file.metadata().map_err(read_error)?.len();
    let mut chunk = Vec::new();
    while end > 0 {
        let start = end.saturating_sub(CHUNK);
        chunk.resize((end - start) as usize, 0);
        file.seek(SeekFrom::Start(start)).map_err(read_error)?;
        file.read_exact(&mut chunk).map_err(read_error)?;
        if let Some(newline) = chunk.iter().rposition(|&b| b == b'\n') {
            return Ok(start + newline as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}

fn write_alert(out: &mut impl Write, alert: &Alert, palettes: &Palettes) -> std::io::Result<()> {
    let palette = &palettes.out;
    let title = if alert.doc.title.is_empty() {
        "(untitled)"
    } else {
        alert.doc.title.as_str()
    };
    let date = alert.doc.date.map(|d| format!("  {d}")).unwrap_or_default();
    writeln!(
        out,
        "{}  {}  {}{date}  {title}",
        palette.dim(alert.at.format("%Y-%m-%d %H:%M:%S")),
        palette.bold(&alert.query.name),
        alert.doc.path
    )?;
    if let Some(original) = &alert.copy_of {
        // A copy record: the story alerted already; say where, not what matched again.
        return writeln!(out, "    copy of {original} (no new alert)");
    }
    writeln!(out, "    matched: {}", alert.matched.terms.join(", "))?;
    writeln!(
        out,
        "    {}",
        super::render_snippet(&alert.matched.snippet, palette)
    )
}

fn replay(config: &Config, name: &str, since: Option<DateTime<Utc>>) -> anyhow::Result<Outcome> {
    let destinations = config.destinations();
    let Some(destination) = destinations.find(name) else {
        let names = destinations.names();
        anyhow::bail!(
            "no webhook or e-mail destination named '{name}' in {} (configured: {})",
            config.path.display(),
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        );
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let stats = runtime.block_on(delivery::replay(
        &config.alert_log,
        &destination,
        &config.webhook_routes(),
        since,
        webhooks::RetryPolicy::default(),
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
    Ok(Outcome::found_if(stats.selected > 0)
        .unless_errors(stats.failed > 0 || stats.gone.is_some()))
}

#[cfg(test)]
mod tests {
    use super::end_of_complete_lines;

    #[test]
    fn the_end_of_complete_lines_leaves_a_torn_line_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alerts.jsonl");
        assert_eq!(end_of_complete_lines(&path).unwrap(), 0);
        std::fs::write(&path, "").unwrap();
        assert_eq!(end_of_complete_lines(&path).unwrap(), 0);
        std::fs::write(&path, "{}\n{}\n{\"torn").unwrap();
        assert_eq!(end_of_complete_lines(&path).unwrap(), 6);
        let long = format!("{}\n{}", "x".repeat(200_000), "y".repeat(100_000));
        std::fs::write(&path, &long).unwrap();
        assert_eq!(end_of_complete_lines(&path).unwrap(), 200_001);
        std::fs::write(&path, "no newline at all").unwrap();
        assert_eq!(end_of_complete_lines(&path).unwrap(), 0);
    }
}
