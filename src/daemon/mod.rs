//! The daemon: watches the folders, feeds every complete file to the engine, commits on
//! a timer, serves the HTTP API's requests between files, applies edits of its configuration
//! while it runs, and shuts down cleanly on Ctrl-C or SIGTERM (finishing the files already
//! taken, committing, and giving webhooks a moment to deliver).

pub mod alert_sinks;
mod backfill;
mod posted;
mod reload;
pub use reload::{startup_fingerprint, Fingerprint};
mod requests;
pub mod status;
mod watching;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::mpsc;

pub use status::StatusReport;

use crate::api::{self, EngineHandle};
use crate::config::{Config, ConfigWatcher};
use crate::engine::{Command, CommandError, Engine, EngineError, EngineOptions, Reply};
use crate::matcher::Engine as PercolatorKind;
use crate::metrics::Metrics;
use crate::watcher::WatchOptions;
use alert_sinks::{start_delivery, AlertCounter, SharedDelivery, WebhookNudge};

/// How long a webhook request in flight may take at shutdown (what is not delivered then is
/// delivered from the alert log at the next start).
const WEBHOOK_DRAIN: Duration = Duration::from_secs(3);
/// How long API requests in flight may take at shutdown.
const API_DRAIN: Duration = Duration::from_secs(2);
/// The work a file's slice does before requests are answered again.
const FILE_SLICE: Duration = Duration::from_millis(20);
/// How often the daemon checks that its background tasks (webhook delivery) still run.
const SUPERVISE_INTERVAL: Duration = Duration::from_secs(2);
/// The other work (requests, files, commits) the daemon loop does between two slices of a
/// posted body or a backfill when both wait.
const SLICED_EVERY: Duration = Duration::from_millis(20);

/// Run the daemon on `config`, read from files that held `read_from` (see
/// [`startup_fingerprint`]).
pub fn run(config: Config, read_from: Fingerprint, engine: PercolatorKind) -> anyhow::Result<()> {
    crate::contain::install_panic_hook();
    // Descriptors for the watcher, the index and the logs, whether the API runs or not.
    crate::api::open_files::raise_open_files_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(config, read_from, engine))
}

/// The daemon loop's state: the running configuration and the engine it drives.
pub(crate) struct Daemon {
    /// The configuration in force (hot reloads update it), without its saved queries: those
    /// are the engine's `QuerySet`, the one copy (see [`Daemon::running_config`]).
    config: Config,
    engine: Engine,
    metrics: Metrics,
    control: EngineHandle,
    /// Webhook delivery from the alert log, nudged by the engine's alerts.
    delivery: SharedDelivery,
    started_at: chrono::DateTime<chrono::Utc>,
    /// Files found ready and not yet taken (updated by the loop).
    ready_files: usize,
    /// Set when webhook delivery must start again from its cursors: the webhooks or the
    /// queries' routes changed (the engine says so), or a delivery task died.
    restart_delivery: bool,
    /// The configuration files as last read or written (see `reload::fingerprint`; at
    /// start-up, as they were just before the configuration was first read).
    config_files: reload::Fingerprint,
    /// The last edit of the configuration was refused: the next signal tries it again, even
    /// if the files did not change (a `touch`).
    config_refused: bool,
    /// The files the configuration file names now, even if it does not load (watched too).
    config_named: Vec<std::path::PathBuf>,
    /// After webhook delivery stopped unexpectedly: the delay before the next restart and
    /// when it is due.
    delivery_crash: Option<(Duration, Instant)>,
    /// Why delivery is not running when destinations are configured (its restart failed); it
    /// is tried again on the crash schedule, and the status says so meanwhile.
    delivery_down: Option<String>,
    /// Backfills under way, run a slice at a time between files and requests.
    backfills: backfill::Backfills,
    /// Posted bodies of articles under way, processed a slice at a time.
    posts: posted::Posts,
    /// Whether the next sliced turn goes to a posted body (else to a backfill).
    posts_next: bool,
}

async fn serve(
    mut config: Config,
    read_from: Fingerprint,
    percolator: PercolatorKind,
) -> anyhow::Result<()> {
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    let metrics = Metrics::new();
    let own_files = own_files(&config);
    // The engine's workers wake the loop when a part of a file they prepare is ready.
    let files_woken = Arc::new(tokio::sync::Notify::new());
    let wake = {
        let files_woken = Arc::clone(&files_woken);
        Arc::new(move || files_woken.notify_one())
    };
    // From here on the saved queries are the engine's.
    let queries = std::mem::take(&mut config.queries);
    let mut engine = Engine::open(
        &config,
        queries,
        EngineOptions {
            percolator,
            metrics: metrics.clone(),
            // A file that cannot be read now (permissions, too many open files...) is tried
            // again.
            retry_reads: true,
            own_files: Some(own_files.clone()),
            wake: Some(wake),
        },
    )?;
    // The index writer lock is taken first: one process at a time delivers from the log.
    let delivery = SharedDelivery::default();
    let mut delivery_down = None;
    if !config.destinations().names().is_empty() {
        // A destination the configuration cannot deliver to refuses the start; state that
        // stops delivery (a corrupt cursor) does not stop the rest: it is reported and retried.
        crate::delivery::check_destinations(&config.destinations())?;
        match start_delivery(&config, engine.queries(), metrics.clone()) {
            Ok(started) => {
                delivery.replace(Some(started));
            }
            Err(e) => {
                tracing::error!("cannot start delivery: {e}; alerts stay in the alert log and are delivered once it starts (tried again with backoff)");
                delivery_down = Some(e.to_string());
            }
        }
    }
    let (alerts_written, alerts_seen) = tokio::sync::watch::channel(0u64);
    engine.add_sink(Box::new(AlertCounter(alerts_written)));
    engine.add_sink(Box::new(WebhookNudge(delivery.clone())));
    let (control, mut requests) = EngineHandle::channel();
    let mut daemon = Daemon {
        config,
        engine,
        metrics,
        control,
        delivery,
        started_at: chrono::Utc::now(),
        ready_files: 0,
        restart_delivery: false,
        config_files: read_from,
        config_refused: false,
        config_named: Vec::new(),
        delivery_crash: None,
        delivery_down,
        backfills: Default::default(),
        posts: Default::default(),
        posts_next: true,
    };
    daemon.update_gauges();

    // One shutdown signal type for every task: a cancellation token (cancelled here, or when
    // this function returns early, by its drop guard).
    let stop_api = tokio_util::sync::CancellationToken::new();
    let _stop_api_on_return = stop_api.clone().drop_guard();
    let api = match daemon.config.api.enabled {
        true => Some(
            api::start(api::ApiContext {
                control: daemon.control.clone(),
                index: daemon.engine.shared_index(),
                alert_log: daemon.config.alert_log.clone(),
                alerts_written: alerts_seen,
                metrics: daemon.metrics.clone(),
                api: daemon.config.api.clone(),
                query_limits: daemon.config.query_limits,
                state_dir: daemon.config.state_dir.clone(),
                stop: stop_api.clone(),
            })
            .await?,
        ),
        false => None,
    };

    daemon.make_new_watch_folders()?;
    let config = &daemon.config;
    let mut watching = watching::Watching::start(WatchOptions {
        roots: config.watch.clone(),
        quiet_period: Duration::from_millis(250),
        rescan_interval: config.rescan_interval,
        poll_interval: config.poll_interval,
        open_file_timeout: config.open_file_timeout,
        own_files,
        await_missing_roots: true,
    })?;
    // Logged once the folders are watched: a file written after this line is seen by its
    // events (a writer at work is waited for); one written before is found by the scan.
    tracing::info!(
        config = %daemon.config.path.display(),
        index = %daemon.config.index.display(),
        alert_log = %daemon.config.alert_log.display(),
        queries = daemon.engine.queries().active(),
        invalid_queries = daemon.engine.queries().invalid(),
        documents = daemon.engine.index().num_docs(),
        "lookout started, watching {}",
        daemon.config.watch.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    );
    let (config_tx, mut config_changed) = mpsc::channel::<()>(1);
    let mut config_watcher = ConfigWatcher::start(daemon.config_files_to_watch(), config_tx)
        .map_err(|e| tracing::error!("config changes will not be applied until a restart: {e}"))
        .ok();
    // An edit made since the configuration was read (before the watcher looked) is applied
    // now: the files are not known yet, so this reads them again.
    tokio::task::block_in_place(|| daemon.reload())?;
    if let Some(watcher) = config_watcher.as_mut() {
        if let Err(e) = watcher.set_files(daemon.config_files_to_watch()) {
            tracing::error!("edits of this file will not be applied until a restart: {e}");
        }
    }

    let gone = tokio::task::block_in_place(|| daemon.run(Command::Reconcile)?.count())
        .map_err(CommandError::into_engine_error)?;
    if gone > 0 {
        tracing::info!(files = gone, "files deleted while lookout was not running");
    }
    let mut reconcile = tokio::time::interval(daemon.config.rescan_interval);
    reconcile.tick().await;
    let mut supervise = tokio::time::interval(SUPERVISE_INTERVAL);
    supervise.tick().await;

    // When the last slice of a posted body or a backfill ended.
    let mut last_slice = Instant::now();
    loop {
        // Posted bodies and backfills run a slice at a time: whenever nothing else waits, and
        // at least every `SLICED_EVERY` of other work, so that files and requests go on while
        // they run (everything ready meanwhile is handled before the next slice, not one event
        // per slice) and a flood of files does not stop them either.
        if daemon.has_sliced_work() && last_slice.elapsed() >= SLICED_EVERY {
            tokio::task::block_in_place(|| daemon.step_sliced())?;
            last_slice = Instant::now();
            continue;
        }
        let commit_due = daemon.engine.next_commit_in();
        let retry_due = daemon.engine.next_retry_in();
        let files_ready = daemon.engine.files_ready();
        let files_room = daemon.engine.has_room_for_files();
        let files_in_flight = daemon.engine.files_in_flight();
        // A commit runs on the index thread; once done it is taken in (and the next one
        // started when due) by a tick.
        let commit_finished = daemon.engine.commit_finished();
        let committing = daemon.engine.committing();
        daemon.ready_files = watching.queued() + files_in_flight;
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
                    if let Err(e) = watcher.set_files(daemon.config_files_to_watch()) {
                        tracing::error!("edits of this file will not be applied until a restart: {e}");
                    }
                }
            }
            // Ready files go to the engine's workers while it has room for them (taking one
            // is quick); what they prepared is applied a slice at a time, in the order the
            // files were taken, requests answered in between.
            ready = watching.next(), if files_room => {
                tracing::debug!(file = %ready.path.display(), reason = ?ready.reason, "file ready");
                tokio::task::block_in_place(|| daemon.take_file(&ready.path))?;
            }
            () = std::future::ready(()), if files_ready => {
                tokio::task::block_in_place(|| daemon.step_files())?;
            }
            () = std::future::ready(()), if commit_finished => {
                tokio::task::block_in_place(|| daemon.command(Command::Tick))?;
                daemon.update_gauges();
            }
            // A worker has something ready, or the commit is done.
            () = files_woken.notified(), if (files_in_flight > 0 && !files_ready) || (committing && !commit_finished) => {}
            _ = tokio::time::sleep(commit_due.unwrap_or(Duration::from_secs(3600))), if commit_due.is_some() => {
                tokio::task::block_in_place(|| daemon.command(Command::Tick))?;
                daemon.update_gauges();
            }
            // Retries are taken like ready files, when there is room (taking without room
            // would apply the files in flight whole first, requests unanswered meanwhile).
            _ = tokio::time::sleep(retry_due.unwrap_or(Duration::from_secs(3600))), if retry_due.is_some() && files_room => {
                tokio::task::block_in_place(|| daemon.retry_files())?;
            }
            _ = reconcile.tick() => {
                tokio::task::block_in_place(|| daemon.command(Command::Reconcile))?;
            }
            _ = supervise.tick() => daemon.supervise_delivery(),
            signal = &mut shutdown => {
                tracing::info!("{signal}: finishing the files already taken, then stopping");
                break;
            }
            // Nothing else waits: on with the posted bodies and the backfills.
            () = std::future::ready(()), if daemon.has_sliced_work() => {
                tokio::task::block_in_place(|| daemon.step_sliced())?;
                last_slice = Instant::now();
            }
        }
        if std::mem::take(&mut daemon.restart_delivery) {
            daemon.restart_delivery().await;
        }
    }
    drop(config_watcher);
    // Posted bodies under way are finished; backfills stop (what they raised is kept); their
    // requests are answered.
    tokio::task::block_in_place(|| {
        daemon.finish_posts()?;
        daemon.stop_backfills()
    })?;
    // The API stops taking requests; the ones in flight are still answered while it drains.
    stop_api.cancel();
    if let Some(api) = api {
        let stopped = api.stopped(API_DRAIN);
        tokio::pin!(stopped);
        loop {
            tokio::select! {
                _ = &mut stopped => break,
                Some(request) = requests.recv() => {
                    tokio::task::block_in_place(|| {
                        daemon.answer(request)?;
                        daemon.finish_posts()?;
                        daemon.stop_backfills()
                    })?;
                }
            }
        }
    }
    // Files taken are finished; those the watcher already declared ready are processed, not
    // dropped.
    tokio::task::block_in_place(|| daemon.finish_files())?;
    for ready in watching.stop().await {
        tokio::task::block_in_place(|| daemon.process_file(&ready.path))?;
    }
    let Daemon {
        engine, delivery, ..
    } = daemon;
    let stats = tokio::task::block_in_place(|| engine.finish())?;
    if let Some(webhooks) = delivery.replace(None) {
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

/// lookout's own files, and the files this process logs to (`lookout run 2> watch/x.log`
/// would otherwise read its own log as an article, over and over).
fn own_files(config: &Config) -> crate::watcher::OwnFiles {
    let mut own = config.own_files();
    for stream in ["/proc/self/fd/1", "/proc/self/fd/2"] {
        if let Ok(target) = std::fs::read_link(stream) {
            if target.is_absolute() && target.is_file() {
                own.add_file_and_siblings(&target);
            }
        }
    }
    own
}

impl Daemon {
    /// Make the watch folders never used yet (a first run: the folder users drop files
    /// into). A folder where files were processed and that is missing now vanished (an
    /// unmounted share, a moved folder): it is not made, nor taken as a mass delete; the
    /// watcher watches it when it is back, and the daemon serves meanwhile.
    fn make_new_watch_folders(&mut self) -> anyhow::Result<()> {
        for root in self.config.watch.clone() {
            if root.exists() || self.engine.knows_folder(&root)? {
                continue;
            }
            std::fs::create_dir_all(&root)
                .with_context(|| format!("cannot create the watch folder {}", root.display()))?;
        }
        Ok(())
    }

    /// Apply one engine command.
    fn run(&mut self, command: Command<'_>) -> Result<Reply, CommandError> {
        self.engine.execute(command)
    }

    /// Apply one engine command of the daemon's own that answers nothing (commits, ticks,
    /// reconciles): only a failure of the engine's storage comes back.
    fn command(&mut self, command: Command<'_>) -> Result<(), EngineError> {
        self.run(command)
            .map(drop)
            .map_err(CommandError::into_engine_error)
    }

    /// The running configuration with the saved queries the engine runs (for diffs against an
    /// edited configuration).
    fn running_config(&self) -> Config {
        Config {
            queries: self.engine.queries().specs(),
            ..self.config.clone()
        }
    }

    /// The files whose change calls for a reload: the config file, its `queries_files`, and
    /// the files the running saved queries come from.
    fn watched_files(&self) -> Vec<PathBuf> {
        let mut files = self.config.watched_files();
        // The queries of one file share its path: compared once per run of them.
        let mut last: Option<&std::sync::Arc<Path>> = None;
        for (_, entry) in self.engine.queries().iter() {
            let file = &entry.spec.file;
            if last.is_some_and(|last| std::sync::Arc::ptr_eq(last, file)) {
                continue;
            }
            last = Some(file);
            if !files.iter().any(|f| **f == **file) {
                files.push(file.to_path_buf());
            }
        }
        files
    }

    fn has_sliced_work(&self) -> bool {
        self.has_posts() || self.has_backfills()
    }

    /// One slice of a posted body or of a backfill, in turn.
    fn step_sliced(&mut self) -> Result<(), EngineError> {
        let posts_now = self.has_posts() && (self.posts_next || !self.has_backfills());
        self.posts_next = !posts_now;
        if posts_now {
            self.step_post()
        } else {
            self.step_backfill()
        }
    }

    /// Take one ready file: decided at once (an own file, a type lookout does not read), or
    /// handed to the engine's workers.
    fn take_file(&mut self, path: &Path) -> Result<(), EngineError> {
        let started = Instant::now();
        let taken = self
            .run(Command::TakeFile {
                path: path.to_path_buf(),
            })
            .and_then(Reply::taken)
            .map_err(CommandError::into_engine_error)?;
        if taken.is_some() {
            self.metrics.observe_ingest(started.elapsed());
        }
        self.update_gauges();
        Ok(())
    }

    /// Apply what the workers prepared for about `FILE_SLICE` (the engine quarantines a file
    /// whose processing meets a bug and goes on with the next).
    fn step_files(&mut self) -> Result<(), EngineError> {
        let done = self
            .run(Command::StepFiles {
                budget: FILE_SLICE,
                wait: None,
            })
            .and_then(Reply::files_done)
            .map_err(CommandError::into_engine_error)?;
        if !done.is_empty() {
            self.update_gauges();
        }
        Ok(())
    }

    /// At shutdown: the files taken are applied.
    fn finish_files(&mut self) -> Result<(), EngineError> {
        while self.engine.files_in_flight() > 0 {
            self.run(Command::StepFiles {
                budget: Duration::MAX,
                wait: Some(Duration::from_millis(50)),
            })
            .map_err(CommandError::into_engine_error)?;
        }
        Ok(())
    }

    fn quarantine_after_bug(
        &mut self,
        path: &Path,
        panicked: &crate::contain::Panicked,
    ) -> Result<(), EngineError> {
        tracing::error!(file = %path.display(), "bug while processing this file ({panicked}): quarantined; the daemon goes on");
        self.command(Command::QuarantineAfterBug {
            path: path.to_path_buf(),
            panic: panicked.message.clone(),
        })
    }

    /// Process one ready file whole (at shutdown). A bug met on the way (a panic) quarantines
    /// the file with the reason instead of ending the daemon.
    fn process_file(&mut self, path: &Path) -> Result<(), EngineError> {
        let processed = crate::contain::contain(|| {
            self.command(Command::ProcessFile {
                path: path.to_path_buf(),
            })
        });
        match processed {
            Ok(outcome) => outcome?,
            Err(panicked) => self.quarantine_after_bug(path, &panicked)?,
        }
        self.update_gauges();
        self.command(Command::TickIfOverdue)
    }

    /// Try again the files whose read failed and whose retry is due (a bounded batch, while
    /// the engine has room for them). A bug met on the way quarantines the file, as for a file
    /// taken the first time.
    fn retry_files(&mut self) -> Result<(), EngineError> {
        let due = self
            .run(Command::DueRetries)
            .and_then(Reply::paths)
            .map_err(CommandError::into_engine_error)?;
        for path in due {
            if !self.engine.has_room_for_files() {
                break; // the others stay due
            }
            let retried =
                crate::contain::contain(|| self.command(Command::RetryFile { path: path.clone() }));
            match retried {
                Ok(outcome) => outcome?,
                Err(panicked) => self.quarantine_after_bug(&path, &panicked)?,
            }
        }
        self.update_gauges();
        self.command(Command::TickIfOverdue)
    }

    /// The queue gauges (the engine keeps the others).
    fn update_gauges(&self) {
        self.metrics
            .set_queue_depth("ready_files", self.ready_files);
        self.metrics
            .set_queue_depth("requests", self.control.depth());
    }

    /// The live status report.
    fn status(&mut self) -> Result<StatusReport, EngineError> {
        let engine = self
            .run(Command::Status)
            .and_then(Reply::status)
            .map_err(CommandError::into_engine_error)?;
        let queries = status::QueryCounts {
            active: engine.active_queries,
            invalid: engine.invalid_queries,
        };
        let delivery = self
            .delivery
            .with(crate::delivery::LogDelivery::stats)
            .unwrap_or_default();
        let mut report = status::build(
            &self.config,
            Some(self.engine.index()),
            Some(self.engine.ledger()),
            // A batch's documents are searchable before the ledger holds its notes: the
            // engine's view has them from the moment they are taken.
            Some(engine.notes),
            queries,
            Some(status::LiveDelivery {
                delivery: &delivery,
                metrics: &self.metrics,
                down: self.delivery_down.as_deref(),
            }),
        )?;
        report.running = true;
        report.started_at = Some(
            self.started_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        );
        report.queues = status::QueueDepths {
            ready_files: self.ready_files,
            requests: self.control.depth(),
            uncommitted: engine.uncommitted,
        };
        report.retrying = engine.retrying.into_iter().map(Into::into).collect();
        Ok(report)
    }

    /// A webhook whose delivery task ended unexpectedly (a bug) is restarted from its cursor:
    /// its alerts wait in the log, none is lost.
    fn supervise_delivery(&mut self) {
        let crashed = match self.delivery.with(crate::delivery::LogDelivery::crashed) {
            Some(crashed) if crashed.is_empty() => return,
            Some(crashed) => Some(crashed),
            // Delivery that could not be started is tried again, as a crash is.
            None if self.delivery_down.is_some() => None,
            None => return,
        };
        // A bug that strikes again at once is retried less and less often (up to 5 minutes).
        let now = Instant::now();
        if self
            .delivery_crash
            .is_some_and(|(_, retry_at)| now < retry_at)
        {
            return;
        }
        let delay = match self.delivery_crash {
            Some((delay, retry_at)) if now < retry_at + delay * 4 => {
                (delay * 2).min(Duration::from_secs(300))
            }
            _ => SUPERVISE_INTERVAL,
        };
        self.delivery_crash = Some((delay, now + delay));
        match crashed {
            Some(crashed) => tracing::error!(
                webhooks = %crashed.join(", "),
                "webhook delivery stopped unexpectedly (a bug; see the error above); restarting it from the persisted cursors"
            ),
            None => tracing::info!(
                next_try_in = ?delay,
                "trying to start delivery again (it could not start: see the error above)"
            ),
        }
        self.restart_delivery = true;
    }

    /// Restart webhook delivery on the current configuration and the engine's saved queries
    /// (webhooks or routes changed).
    async fn restart_delivery(&mut self) {
        let destinations = self.config.destinations();
        // What would refuse to start is found before the running delivery is stopped: it
        // then goes on as it was.
        if let Err(e) = crate::delivery::check_destinations(&destinations) {
            let running = self.delivery.with(|_| ()).is_some();
            tracing::error!(
                "cannot restart delivery: {e}; {}",
                if running {
                    "it goes on as it was"
                } else {
                    "alerts stay in the alert log and are delivered once it starts"
                }
            );
            if !running {
                self.delivery_down = Some(e.to_string());
            }
            return;
        }
        if let Some(old) = self.delivery.replace(None) {
            old.shutdown(WEBHOOK_DRAIN).await;
        }
        if destinations.names().is_empty() {
            self.delivery_down = None;
            return;
        }
        match start_delivery(&self.config, self.engine.queries(), self.metrics.clone()) {
            Ok(delivery) => {
                self.delivery.replace(Some(delivery));
                if self.delivery_down.take().is_some() {
                    self.delivery_crash = None;
                }
                tracing::info!(
                    destinations = destinations.names().len(),
                    "webhook delivery restarted on the new configuration"
                );
            }
            Err(e) => {
                tracing::error!("cannot restart delivery: {e}; alerts stay in the alert log and are delivered once it starts (tried again with backoff)");
                self.delivery_down = Some(e.to_string());
            }
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM, naming which. The handlers are installed when this is
/// called, not when the future is first polled: a signal that arrives in between (right after
/// "lookout started") is then kept, instead of killing the process unclean.
fn shutdown_signal() -> impl std::future::Future<Output = &'static str> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, Signal, SignalKind};
        async fn received(signal: Option<Signal>) {
            match signal {
                Some(mut signal) => {
                    signal.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        }
        let interrupt = signal(SignalKind::interrupt()).ok();
        let terminate = signal(SignalKind::terminate()).ok();
        async move {
            tokio::select! {
                _ = received(interrupt) => "interrupted",
                _ = received(terminate) => "terminated",
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
        "interrupted"
    }
}
