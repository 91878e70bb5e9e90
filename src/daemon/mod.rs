//! The daemon: watches the folders, feeds every complete file through the pipeline, commits on
//! a timer, serves the HTTP API's requests between files, applies edits of its configuration
//! while it runs, and shuts down cleanly on Ctrl-C or SIGTERM (finishing the files already
//! taken, committing, and giving webhooks a moment to deliver).

mod control;
mod reload;
pub mod status;

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::mpsc;

pub use control::{
    BackfillView, Control, ControlError, IngestedView, QueryProblemView, QuerySaved, QueryView,
};
pub use status::StatusReport;

use crate::api;
use crate::config::{Config, ConfigWatcher, QueryProblem};
use crate::matcher::Engine;
use crate::metrics::Metrics;
use crate::pipeline::{start_delivery, Pipeline, PipelineError};
use crate::watcher::{FolderWatcher, ReadyFile, WatchOptions};

/// How long a webhook request in flight may take at shutdown (what is not delivered then is
/// delivered from the alert log at the next start).
const WEBHOOK_DRAIN: Duration = Duration::from_secs(3);
/// How long API requests in flight may take at shutdown.
const API_DRAIN: Duration = Duration::from_secs(2);

pub fn run(config: Config, engine: Engine) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(config, engine))
}

/// The daemon loop's state: the running configuration and the pipeline it feeds.
pub(crate) struct Daemon {
    /// The configuration in force (hot reloads and API changes update it).
    config: Config,
    pipeline: Pipeline,
    /// Saved queries left out because they do not parse.
    problems: Vec<QueryProblem>,
    metrics: Metrics,
    control: Control,
    started_at: chrono::DateTime<chrono::Utc>,
    /// Files found ready and not yet taken (updated by the loop).
    ready_files: usize,
    /// Set when the webhooks or the routes of queries to webhooks changed.
    restart_delivery: bool,
    /// The configuration files as last read or written (see `reload::fingerprint`).
    config_files: Vec<(std::path::PathBuf, Option<blake3::Hash>)>,
}

async fn serve(config: Config, engine: Engine) -> anyhow::Result<()> {
    let metrics = Metrics::new();
    let (pipeline, problems) = Pipeline::from_config(&config, engine, metrics.clone())?;
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
    let (control, mut requests) = Control::channel();
    let mut daemon = Daemon {
        config,
        pipeline,
        problems,
        metrics,
        control,
        started_at: chrono::Utc::now(),
        ready_files: 0,
        restart_delivery: false,
        config_files: Vec::new(),
    };
    daemon.config_files = reload::fingerprint(&daemon.config.watched_files());
    daemon.update_gauges();

    let (stop_api, api_stopped) = tokio::sync::watch::channel(false);
    let api = match daemon.config.api.enabled {
        true => Some(
            api::start(api::ApiContext {
                control: daemon.control.clone(),
                index: daemon.pipeline.shared_index(),
                alert_log: daemon.config.alert_log.clone(),
                alerts_written: daemon.pipeline.subscribe_alerts(),
                metrics: daemon.metrics.clone(),
                api: daemon.config.api.clone(),
                query_limits: daemon.config.query_limits,
                state_dir: daemon.config.state_dir.clone(),
                stop: api_stopped,
            })
            .await?,
        ),
        false => None,
    };

    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    if !daemon.wait_for_watch_folders(&mut shutdown).await? {
        stop_api_server(&stop_api, api).await;
        let _ = tokio::task::block_in_place(|| daemon.pipeline.finish())?;
        return Ok(());
    }
    let config = &daemon.config;
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
    let (config_tx, mut config_changed) = mpsc::channel::<()>(1);
    let mut config_watcher = ConfigWatcher::start(daemon.config.watched_files(), config_tx)
        .map_err(|e| tracing::error!("config changes will not be applied until a restart: {e}"))
        .ok();

    let gone = tokio::task::block_in_place(|| daemon.pipeline.reconcile())?;
    if gone > 0 {
        tracing::info!(files = gone, "files deleted while lookout was not running");
    }
    let mut reconcile = tokio::time::interval(daemon.config.rescan_interval);
    reconcile.tick().await;

    loop {
        let commit_due = daemon.pipeline.next_commit_in();
        daemon.ready_files = ready_rx.len();
        // Requests first (they are few and someone waits for each), then files; a commit
        // (index, alert log fsync, ledger) runs when no file waits, or when it is long overdue,
        // so a commit rarely stands between a drop and its alert.
        tokio::select! {
            biased;
            Some(request) = requests.recv() => {
                tokio::task::block_in_place(|| daemon.answer(request))?;
            }
            Some(()) = config_changed.recv() => {
                tokio::task::block_in_place(|| daemon.reload())?;
                if let Some(watcher) = config_watcher.as_mut() {
                    if let Err(e) = watcher.set_files(daemon.config.watched_files()) {
                        tracing::error!("edits of this file will not be applied until a restart: {e}");
                    }
                }
            }
            ready = ready_rx.recv() => {
                let Some(ready) = ready else { break };
                tracing::debug!(file = %ready.path.display(), reason = ?ready.reason, "file ready");
                tokio::task::block_in_place(|| daemon.process_file(&ready.path))?;
            }
            _ = tokio::time::sleep(commit_due.unwrap_or(Duration::from_secs(3600))), if commit_due.is_some() => {
                tokio::task::block_in_place(|| daemon.pipeline.tick())?;
                daemon.update_gauges();
            }
            _ = reconcile.tick() => {
                tokio::task::block_in_place(|| daemon.pipeline.reconcile())?;
            }
            signal = &mut shutdown => {
                tracing::info!("{signal}: finishing the files already taken, then stopping");
                break;
            }
        }
        if std::mem::take(&mut daemon.restart_delivery) {
            daemon.restart_delivery().await;
        }
    }
    drop(config_watcher);
    // The API stops taking requests; the ones in flight are still answered while it drains.
    let _ = stop_api.send(true);
    if let Some(api) = api {
        let stopped = api.stopped(API_DRAIN);
        tokio::pin!(stopped);
        loop {
            tokio::select! {
                _ = &mut stopped => break,
                Some(request) = requests.recv() => {
                    tokio::task::block_in_place(|| daemon.answer(request))?;
                }
            }
        }
    }
    watcher.stop().await;
    // Files the watcher already declared ready are processed, not dropped.
    while let Ok(ready) = ready_rx.try_recv() {
        tokio::task::block_in_place(|| daemon.process_file(&ready.path))?;
    }
    let (stats, webhooks) = tokio::task::block_in_place(|| daemon.pipeline.finish())?;
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

/// Stop the API server: no new connection; open event streams end; requests in flight get
/// a moment to finish.
async fn stop_api_server(stop: &tokio::sync::watch::Sender<bool>, api: Option<api::Running>) {
    let _ = stop.send(true);
    if let Some(api) = api {
        api.stopped(API_DRAIN).await;
    }
}

impl Daemon {
    /// Wait for watch folders that vanished (an unmounted disk, a moved folder) to come back;
    /// make the ones never used yet. False when a shutdown signal came first.
    async fn wait_for_watch_folders(
        &mut self,
        shutdown: &mut std::pin::Pin<&mut impl std::future::Future<Output = &'static str>>,
    ) -> anyhow::Result<bool> {
        for root in self.config.watch.clone() {
            if root.exists() {
                continue;
            }
            if !self.pipeline.knows_folder(&root)? {
                // A first run: make the folder users drop files into.
                std::fs::create_dir_all(&root).with_context(|| {
                    format!("cannot create the watch folder {}", root.display())
                })?;
                continue;
            }
            // Files were processed there: the folder vanished. That is not a mass delete:
            // wait for it to come back.
            tracing::error!(folder = %root.display(), "the watch folder is missing; its documents are kept, and lookout waits for it to come back");
            let mut waited = 0u64;
            while !root.exists() {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    signal = shutdown.as_mut() => {
                        tracing::info!("{signal} while waiting for {}", root.display());
                        return Ok(false);
                    }
                }
                waited += 1;
                if waited.is_multiple_of(60) {
                    tracing::error!(folder = %root.display(), "the watch folder is still missing");
                }
            }
            tracing::info!(folder = %root.display(), "the watch folder came back");
        }
        Ok(true)
    }

    fn process_file(&mut self, path: &Path) -> Result<(), PipelineError> {
        let started = Instant::now();
        self.pipeline.process_file(path)?;
        self.metrics.observe_ingest(started.elapsed());
        self.update_gauges();
        self.pipeline.tick_if_overdue()
    }

    /// The queue gauges (the pipeline keeps the others).
    fn update_gauges(&self) {
        self.metrics
            .set_queue_depth("ready_files", self.ready_files);
        self.metrics
            .set_queue_depth("requests", self.control.depth());
    }

    /// The live status report.
    fn status(&self) -> Result<StatusReport, PipelineError> {
        let queries = status::QueryCounts {
            active: self.pipeline.query_count(),
            invalid: self.problems.len(),
        };
        let delivery = self.pipeline.delivery_stats().unwrap_or_default();
        let mut report = status::build(
            &self.config,
            Some(self.pipeline.index()),
            Some(self.pipeline.ledger()),
            queries,
            Some(&delivery),
        )?;
        report.running = true;
        report.started_at = Some(
            self.started_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        );
        report.queues = status::QueueDepths {
            ready_files: self.ready_files,
            requests: self.control.depth(),
            uncommitted: self.pipeline.uncommitted_changes(),
        };
        Ok(report)
    }

    /// Restart webhook delivery on the current configuration (webhooks or routes changed).
    async fn restart_delivery(&mut self) {
        if let Some(old) = self.pipeline.replace_delivery(None) {
            old.shutdown(WEBHOOK_DRAIN).await;
        }
        if self.config.webhooks.is_empty() {
            return;
        }
        match start_delivery(&self.config, self.metrics.clone()) {
            Ok(delivery) => {
                self.pipeline.replace_delivery(Some(delivery));
                tracing::info!(webhooks = self.config.webhooks.len(), "webhook delivery restarted on the new configuration");
            }
            Err(e) => tracing::error!("cannot restart webhook delivery: {e}; alerts stay in the alert log and are delivered after a restart"),
        }
    }
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
