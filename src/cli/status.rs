//! `lookout status`: what the daemon is doing, asked of the running daemon's API, or read from
//! the index, the ledger and the state folder when no daemon runs. An index or a ledger that
//! cannot be read is said after the report, and the exit status is 2.

use super::Outcome;
use crate::client::DaemonClient;
use crate::config::Config;
use crate::daemon::status;
use crate::index::{IndexError, LookoutIndex};

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Exit status: 0 when the report is printed (whether a daemon runs or not: see `running` in
--json), 2 when the index, the ledger or the daemon cannot be read.")]
pub struct StatusArgs {
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(config: &Config, args: StatusArgs) -> anyhow::Result<Outcome> {
    let (report, trouble) = match DaemonClient::find(config) {
        Some(daemon) => (daemon.status()?, None),
        None => {
            // The report counts an unreadable index as empty: say what is wrong with it.
            let trouble = match LookoutIndex::open_read_only(&config.index) {
                Ok(_) | Err(IndexError::Missing(_)) => None,
                Err(error) => Some(error),
            };
            (status::from_files(config)?, trouble)
        }
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", status::render(&report, config));
    }
    Ok(match trouble {
        Some(error) => {
            eprintln!(
                "lookout: {}",
                super::error_chain(std::iter::once(
                    &error as &(dyn std::error::Error + 'static)
                ))
            );
            Outcome::Errors
        }
        None => Outcome::Found,
    })
}
