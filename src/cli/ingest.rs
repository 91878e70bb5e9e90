//! `lookout ingest PATH...`: index and match files or folders once, through the daemon's own
//! pipeline, then exit (with a progress bar on a terminal for large folders).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::matcher::Engine;
use crate::pipeline::{collect_files_except, Pipeline};

/// How long `ingest` waits for its alerts to reach the webhooks before exiting.
const WEBHOOK_WAIT: Duration = Duration::from_secs(30);

#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    /// Files or folders (walked recursively).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

pub fn run(config: &Config, args: IngestArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new()?;
    let _guard = runtime.enter();
    let (mut pipeline, problems) = Pipeline::from_config(
        config,
        Engine::default(),
        crate::metrics::Metrics::default(),
    )?;
    // A folder holding lookout's own files (its home) is ingested without them.
    let files = collect_files_except(&args.paths, &config.own_files());
    let bar = (files.len() >= 100 && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(files.len() as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} files  {per_sec}  eta {eta}",
        ) {
            bar.set_style(style);
        }
        bar
    });
    let started = Instant::now();
    for file in &files {
        pipeline.process_file(file)?;
        pipeline.tick()?;
        if let Some(bar) = &bar {
            bar.inc(1);
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let (stats, webhooks) = pipeline.finish()?;
    if let Some(webhooks) = webhooks {
        // Give the webhooks the time to deliver what this run wrote; what they have not
        // delivered by then stays behind their cursor for the next run.
        let log_length = std::fs::metadata(&config.alert_log).map_or(0, |m| m.len());
        let deadline = Instant::now() + WEBHOOK_WAIT;
        while Instant::now() < deadline
            && webhooks
                .stats()
                .webhooks
                .iter()
                .any(|w| w.disabled.is_none() && w.cursor < log_length)
        {
            std::thread::sleep(Duration::from_millis(50));
        }
        runtime.block_on(webhooks.shutdown(Duration::from_secs(2)));
    }
    eprintln!(
        "ingested {} file{} in {:.1}s: {} new document{}, {} already indexed, {} file{} unchanged, {} alert{}, {} file{} skipped",
        stats.files,
        if stats.files == 1 { "" } else { "s" },
        started.elapsed().as_secs_f64(),
        stats.new_documents,
        if stats.new_documents == 1 { "" } else { "s" },
        stats.known_documents,
        stats.unchanged_files,
        if stats.unchanged_files == 1 { "" } else { "s" },
        stats.alerts,
        if stats.alerts == 1 { "" } else { "s" },
        stats.skipped_files,
        if stats.skipped_files == 1 { "" } else { "s" },
    );
    Ok(if stats.skipped_files == 0 && problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
