//! `lookout status`: what the daemon has done, read beside it: documents, saved queries, the
//! last commit, quarantined files with their reasons, and the webhooks' state.

use std::process::ExitCode;

use crate::config::{compile_queries, Config};
use crate::index::LookoutIndex;
use crate::ledger::{Ledger, LedgerError};

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(config: &Config, args: StatusArgs) -> anyhow::Result<ExitCode> {
    let documents = LookoutIndex::open_read_only(&config.index)
        .map(|index| index.num_docs())
        .unwrap_or(0);
    let (valid, invalid) = compile_queries(&config.queries);
    let ledger = match Ledger::open_read_only(&config.state_dir) {
        Ok(ledger) => Some(ledger),
        Err(LedgerError::Missing(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let (files, alerts) = match &ledger {
        Some(l) => l.counts()?,
        None => (0, 0),
    };
    let last_commit = match &ledger {
        Some(l) => l.meta("last_commit")?,
        None => None,
    };
    let quarantined = match &ledger {
        Some(l) => l.all_quarantined()?,
        None => Vec::new(),
    };
    let disabled: Vec<(String, String)> = config
        .webhooks
        .iter()
        .filter_map(|w| {
            crate::sinks::disabled_reason(&config.state_dir, &w.name)
                .ok()
                .flatten()
                .map(|reason| (w.name.clone(), reason))
        })
        .collect();
    if args.json {
        let value = serde_json::json!({
            "documents": documents,
            "files": files,
            "alerts": alerts,
            "queries": {"valid": valid.len(), "invalid": invalid.len()},
            "last_commit": last_commit,
            "quarantined": quarantined.iter().map(|q| serde_json::json!({
                "path": q.path, "reason": q.reason, "attempts": q.attempts, "at": q.at,
            })).collect::<Vec<_>>(),
            "webhooks": config.webhooks.iter().map(|w| serde_json::json!({
                "name": w.name,
                "disabled": disabled.iter().find(|(n, _)| n == &w.name).map(|(_, r)| r),
            })).collect::<Vec<_>>(),
        });
        println!("{value}");
        return Ok(ExitCode::SUCCESS);
    }
    println!("documents:   {documents} in {}", config.index.display());
    println!("files:       {files} processed");
    println!("alerts:      {alerts} in {}", config.alert_log.display());
    println!(
        "queries:     {} valid, {} invalid",
        valid.len(),
        invalid.len()
    );
    println!("last commit: {}", last_commit.as_deref().unwrap_or("never"));
    for webhook in &config.webhooks {
        match disabled.iter().find(|(n, _)| n == &webhook.name) {
            Some((_, reason)) => println!("webhook:     {} DISABLED: {reason}", webhook.name),
            None => println!("webhook:     {} enabled", webhook.name),
        }
    }
    if quarantined.is_empty() {
        println!("quarantine:  none");
    } else {
        println!("quarantine:  {} file(s)", quarantined.len());
        for q in &quarantined {
            println!(
                "  {}: {} (seen {}x, last {})",
                q.path, q.reason, q.attempts, q.at
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
