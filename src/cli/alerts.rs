//! `lookout alerts`: the alert log, readable (or as JSON lines), optionally followed.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use crate::config::Config;
use crate::sinks::{self, Alert};

#[derive(Debug, clap::Args)]
pub struct AlertsArgs {
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

pub fn run(config: &Config, args: AlertsArgs) -> anyhow::Result<ExitCode> {
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
