//! `lookout status`: what the daemon is doing, asked of the running daemon's API, or read from
//! the index, the ledger and the state folder when no daemon runs.

use std::process::ExitCode;

use crate::api::client::DaemonClient;
use crate::config::Config;
use crate::daemon::status;

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(config: &Config, args: StatusArgs) -> anyhow::Result<ExitCode> {
    let report = match DaemonClient::find(config) {
        Some(daemon) => daemon.status()?,
        None => status::from_files(config)?,
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{}", status::render(&report, config));
    }
    Ok(ExitCode::SUCCESS)
}
