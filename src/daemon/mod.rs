//! The daemon: watches the folders, feeds every complete file through the pipeline, commits on
//! a timer, and shuts down cleanly on Ctrl-C or SIGTERM (finishing the files already taken,
//! committing, and giving webhooks a moment to deliver).

use std::time::Duration;

use anyhow::Context;
use tokio::sync::mpsc;

use crate::config::Config;
use crate::matcher::Engine;
use crate::pipeline::Pipeline;
use crate::watcher::{FolderWatcher, ReadyFile, WatchOptions};

/// How long a webhook request in flight may take at shutdown (what is not delivered then is
/// delivered from the alert log at the next start).
const WEBHOOK_DRAIN: Duration = Duration::from_secs(3);

pub fn run(config: Config, engine: Engine) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(config, engine))
}

async fn serve(config: Config, engine: Engine) -> anyhow::Result<()> {
    let (mut pipeline, problems) = Pipeline::from_config(&config, engine)?;
    tracing::info!(
        config = %config.path.display(),
        index = %config.index.display(),
        alert_log = %config.alert_log.display(),
        queries = pipeline.query_count(),
        invalid_queries = problems.len(),
        documents = pipeline.index().num_docs(),
        "lookout started, watching {}",
        config.watch.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    );

    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    for root in &config.watch {
        if root.exists() {
            continue;
        }
        if !pipeline.knows_folder(root)? {
            // A first run: make the folder users drop files into.
            std::fs::create_dir_all(root)
                .with_context(|| format!("cannot create the watch folder {}", root.display()))?;
            continue;
        }
        // Files were processed there: the folder vanished (an unmounted disk, a moved folder).
        // That is not a mass delete: wait for it to come back.
        tracing::error!(folder = %root.display(), "the watch folder is missing; its documents are kept, and lookout waits for it to come back");
        let mut waited = 0u64;
        while !root.exists() {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                signal = &mut shutdown => {
                    tracing::info!("{signal} while waiting for {}", root.display());
                    let _ = tokio::task::block_in_place(|| pipeline.finish())?;
                    return Ok(());
                }
            }
            waited += 1;
            if waited.is_multiple_of(60) {
                tracing::error!(folder = %root.display(), "the watch folder is still missing");
            }
        }
        tracing::info!(folder = %root.display(), "the watch folder came back");
    }
    let (ready_tx, mut ready_rx) = mpsc::channel::<ReadyFile>(1024);
    let watcher = FolderWatcher::start(
        WatchOptions {
            roots: config.watch.clone(),
            quiet_period: Duration::from_millis(250),
            rescan_interval: config.rescan_interval,
            poll_interval: config.poll_interval,
        },
        ready_tx,
    )?;

    let gone = tokio::task::block_in_place(|| pipeline.reconcile())?;
    if gone > 0 {
        tracing::info!(files = gone, "files deleted while lookout was not running");
    }
    let mut reconcile = tokio::time::interval(config.rescan_interval);
    reconcile.tick().await;

    loop {
        let commit_due = pipeline.next_commit_in();
        // Files first: a commit (index, alert log fsync, ledger) runs when no file waits, or
        // when it is long overdue, so a commit rarely stands between a drop and its alert.
        tokio::select! {
            biased;
            ready = ready_rx.recv() => {
                let Some(ready) = ready else { break };
                tracing::debug!(file = %ready.path.display(), reason = ?ready.reason, "file ready");
                tokio::task::block_in_place(|| pipeline.process_file(&ready.path))?;
                tokio::task::block_in_place(|| pipeline.tick_if_overdue())?;
            }
            _ = tokio::time::sleep(commit_due.unwrap_or(Duration::from_secs(3600))), if commit_due.is_some() => {
                tokio::task::block_in_place(|| pipeline.tick())?;
            }
            _ = reconcile.tick() => {
                tokio::task::block_in_place(|| pipeline.reconcile())?;
            }
            signal = &mut shutdown => {
                tracing::info!("{signal}: finishing the files already taken, then stopping");
                break;
            }
        }
    }
    watcher.stop().await;
    // Files the watcher already declared ready are processed, not dropped.
    while let Ok(ready) = ready_rx.try_recv() {
        tokio::task::block_in_place(|| pipeline.process_file(&ready.path))?;
    }
    let (stats, webhooks) = tokio::task::block_in_place(|| pipeline.finish())?;
    if let Some(webhooks) = webhooks {
        webhooks.shutdown(WEBHOOK_DRAIN).await;
    }
    tracing::info!(
        files = stats.files,
        new_documents = stats.new_documents,
        alerts = stats.alerts,
        "lookout stopped"
    );
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM, naming which.
async fn shutdown_signal() -> &'static str {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
        "interrupted"
    };
    #[cfg(unix)]
    {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
            "terminated"
        };
        tokio::select! {
            name = ctrl_c => name,
            name = term => name,
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await
}
