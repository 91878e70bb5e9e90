//! The engine: one owner of the state that turns files and posted articles into indexed
//! documents and alerts, driven by one [`Command`] enum (`command.rs`), whoever drives it: the
//! daemon loop (for the watcher, the API and its timers), `lookout ingest`, `lookout queries
//! add --backfill`, and the tests. It is synchronous (no async runtime, no transport): the
//! caller decides when each command runs.
//!
//! It owns the index writer, the ledger, the saved queries ([`QuerySet`], `queries.rs`: one
//! copy, keyed by [`QueryId`]) and the percolator filed under the same ids, the alert sinks
//! ([`AlertSink`], `alert_sink.rs`: the alert log first), the progress not yet committed, the
//! reads to retry (`retry.rs`), the watch folders' health (`roots.rs`), how files are read and
//! the file rules.
//!
//! Per file (`files.rs`): skip a file of a type lookout does not read (noted once, not an
//! error); skip it if the ledger already holds these exact bytes for this path; extract it (a
//! refusal is a typed [`SkipReason`], reported once per content and quarantined; the warnings
//! of a file that was read are reported once per content and kept for the status report). Per
//! document (`documents.rs`): skip it if its content is already indexed (a rename or a copy: at
//! most the stored path is updated); match it against every saved query; push each new alert
//! into the sinks; then add it to the index. A file that changed replaces its old documents.
//! Alerts never wait for an index commit. A file's documents, a posted body (`posted.rs`) and a
//! backfill (`backfill.rs`) are processed a slice at a time: the command that starts one returns
//! a run the caller steps with further commands, so a daemon answers between slices.
//!
//! Durability: a commit makes the index durable, then makes the sinks durable (the alert log's
//! fsync), then records the progress in the ledger in one transaction. At start-up the ledger
//! catches up with the alert log, so a crash anywhere re-processes at most the files since the
//! last commit, and the alert ids already in the log keep them from alerting twice.
//!
//! What a file says and what happened while reading it are told apart (`read.rs`): bad content
//! is quarantined by its hash; a read that failed for a reason that may go away is retried with
//! a capped backoff, never quarantined, never taken for a vanished file. Deletions are noticed
//! by `reconcile`, and held while a watch folder is missing, replaced or emptied at once. A
//! document is shown at a path that still holds it: when the path it shows goes away (deleted,
//! renamed, changed), it moves to another path holding the same content.
//!
//! Beside the engine, reading only: search collapsed by story ([`search_collapsed`],
//! `collapse.rs`), for the CLI and the API.

mod alert_sink;
mod backfill;
mod collapse;
mod command;
#[cfg(test)]
mod copies_tests;
mod documents;
mod files;
mod intake;
mod posted;
mod prepare;
mod queries;
mod read;
mod retry;
mod roots;
#[cfg(test)]
mod tests;

pub use alert_sink::{
    AlertLogSink, AlertSink, AlertSinkError, AlertSinks, Durable, DurableWork, MemorySink,
    MetricsSink, TracingSink,
};
pub use backfill::{Backfill, BackfillRun, BackfillStep, BACKFILL_SLICE};
pub use collapse::{
    search_collapsed, CollapseError, CollapsedHit, CollapsedResults, COLLAPSE_HITS,
};
pub use command::{Command, CommandError, QueryRefused, Reply};
pub use files::{FileDone, FileOutcome};
pub use intake::{Wake, WorkersError};
pub use posted::{IngestReport, IngestRun, Ingested};
pub use queries::{QueryChanges, QueryEntry, QuerySet, QueryState};
pub use read::{is_gone, read_bytes, read_documents, FileError, ReadError, SkipReason};
pub use retry::{RetryingFile, MAX_RETRY_GAP};
pub use roots::{health as watch_folder_health, WatchFolderHealth};

pub use crate::matcher::QueryId;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use crate::alerts::{self, AlertLogError};
use crate::analysis::Analyzer;
use crate::config::{Config, DuplicatesConfig, OnDelete};
use crate::document::DocId;
use crate::extract::Extractor;
use crate::index::{DocWriter, IndexError, LookoutIndex};
use crate::ledger::{AlertRow, CopyRow, FileNotes, FileRecord, Ledger, LedgerError, Progress};
use crate::lock;
use crate::matcher::{Engine as PercolatorKind, TermStats};
use crate::metrics::Metrics;
use crate::stories::StoryWindow;
use crate::watcher::OwnFiles;
use intake::Intake;
use prepare::{LiveQueries, ReadRules, SharedLiveQueries};
use retry::RetrySchedule;
use roots::WatchFolders;

/// A failure of the engine's own storage (the index, the alert sinks, the ledger): the caller
/// stops, as nothing it does next could be recorded.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    AlertLog(#[from] AlertLogError),
    #[error(transparent)]
    Sink(#[from] AlertSinkError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Workers(#[from] WorkersError),
    /// A command was answered with a reply its caller does not take (a bug in lookout).
    #[error(
        "internal error (a bug in lookout): the engine answered {got} where {wanted} was expected"
    )]
    UnexpectedReply {
        wanted: &'static str,
        got: &'static str,
    },
}

/// Counters over the engine's life.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub files: u64,
    pub unchanged_files: u64,
    pub skipped_files: u64,
    /// Files of types lookout does not read (not counted in `files`).
    pub ignored_files: u64,
    /// Files read with warnings (records skipped, values left out).
    pub files_with_warnings: u64,
    pub new_documents: u64,
    pub known_documents: u64,
    pub removed_documents: u64,
    pub alerts: u64,
    /// Copy records written instead of alerts (`duplicates = "suppress"`).
    pub copies: u64,
}

/// How an engine is opened.
#[derive(Clone, Default)]
pub struct EngineOptions {
    pub percolator: PercolatorKind,
    /// Where the engine counts (the daemon's registry; a throwaway one by default).
    pub metrics: Metrics,
    /// Retry reads that fail for a reason that may go away (the daemon), instead of reporting
    /// them as skipped files (`lookout ingest`, which runs once).
    pub retry_reads: bool,
    /// lookout's own files, never read as articles (default: the configuration's).
    pub own_files: Option<OwnFiles>,
    /// Called from a worker thread whenever a part of a taken file is ready (the daemon wakes
    /// its loop with it); nothing by default.
    pub wake: Option<Wake>,
}

/// Commit at the latest after this many documents, whatever the timer says.
const COMMIT_DOCS: usize = 10_000;
/// A batch this large, once no file is in flight, is the end of a burst: it is committed
/// without waiting for the rest of the interval (see `Engine::commit_due_in`).
const BURST_DOCS: usize = 256;
/// Most files retried in one [`Command::RetryDue`] (the daemon answers requests and takes new
/// files between two).
const RETRY_BATCH: usize = 64;

pub struct Engine {
    index: Arc<LookoutIndex>,
    writer: DocWriter,
    ledger: Ledger,
    /// The saved queries: the one copy everything reads.
    queries: QuerySet,
    /// The compiled queries of `queries`, filed under their ids, shared with the workers.
    matching: SharedLiveQueries,
    /// The files taken and not yet applied, and the workers preparing them.
    intake: Intake,
    percolator_kind: PercolatorKind,
    /// Re-plan the percolator from the index's term statistics when it holds this many
    /// documents (doubling each time): early plans are made on few or no statistics.
    next_replan: u64,
    analyzer: Analyzer,
    /// Where alerts go, the alert log first.
    sinks: AlertSinks,
    alert_log_path: PathBuf,
    /// Progress since the last commit, recorded in the ledger by the next one.
    pending: Progress,
    /// The alerts raised in the batch being gathered (the one being committed has its own).
    raised: RaisedAlerts,
    pending_files: HashMap<String, FileRecord>,
    /// The paths of `pending.removed_files`, to look them up.
    removed_files: HashSet<String>,
    /// Documents added since the last commit (not yet visible to `index.contains`), with the
    /// path each shows.
    uncommitted: HashMap<DocId, String>,
    /// Documents removed from the index (no file holds them now) and not yet committed, or
    /// in the commit under way: the index the searchers see still holds them, but they are not
    /// known any more (a content back meanwhile is added again).
    removed_docs: HashSet<DocId>,
    last_commit: Instant,
    /// Whether files were in flight when the last commit started (see `commit_due_in`).
    last_commit_mid_burst: bool,
    commit_every: Duration,
    /// The index's term statistics the percolator was last planned on.
    term_stats: TermStats,
    /// A re-plan being built beside the running one (see `maybe_replan`).
    replanning: Option<mpsc::Receiver<NewPlan>>,
    /// The commit running on the index thread, if any (one at a time).
    committing: Option<CommitInFlight>,
    /// The ledger's connection the commits record progress with (on the index thread).
    commit_ledger: Arc<Mutex<Ledger>>,
    /// Wakes the caller's loop when a commit (or a worker's part) is done.
    wake: Wake,
    metrics: Metrics,
    /// How files are read (the `[json]` keys, `max_file_size`), shared with the workers.
    read_rules: Arc<ReadRules>,
    on_delete: OnDelete,
    watch_folders: WatchFolders,
    /// lookout's own files, never read as articles (a watch folder may hold them).
    own_files: OwnFiles,
    /// Files whose read failed for a reason that may go away, when retries are on.
    retries: RetrySchedule,
    /// Whether a failed read is retried (the daemon) or reported as a skipped file (`ingest`).
    retry_reads: bool,
    /// The configured webhooks' names (a saved query may only name these).
    webhooks: Vec<String>,
    /// Where a new saved query is written (the first queries file, else the config file).
    new_queries_file: PathBuf,
    /// The recent documents' fingerprints and stories, copies are looked for among.
    stories: StoryWindow,
    /// The next document's place in arrival order among the stories.
    next_story_seq: u64,
    duplicates: DuplicatesConfig,
    pub stats: Stats,
}

impl Engine {
    /// Compile the configured saved queries (the ones that do not parse are logged, named and
    /// kept as invalid entries), open the index (taking its writer lock), the ledger and the
    /// alert log, and catch the ledger up with the log. Alerts go to the alert log, the
    /// tracing line and the metrics; [`Engine::add_sink`] adds more.
    ///
    /// The saved queries are `queries` (the configuration's, handed over: the engine's
    /// `QuerySet` is their one copy); `config.queries` is not read.
    pub fn open(
        config: &Config,
        queries: Vec<crate::config::QuerySpec>,
        options: EngineOptions,
    ) -> Result<Engine, EngineError> {
        let started = Instant::now();
        let queries = QuerySet::compile(queries, config.query_limits);
        let compiled = started.elapsed();
        for (_, entry) in queries.iter() {
            if let Some(error) = entry.error() {
                tracing::error!(
                    "{}: saved query '{}': {error} (left out; fix it and restart)",
                    entry.spec.origin(),
                    entry.spec.name
                );
            }
        }
        let index = Arc::new(LookoutIndex::open_or_create(&config.index)?);
        let writer = index.writer()?;
        let mut sinks = AlertSinks::default();
        sinks.push(Box::new(AlertLogSink::open(&config.alert_log)?));
        sinks.push(Box::new(TracingSink));
        sinks.push(Box::new(MetricsSink::new(options.metrics.clone())));
        let mut ledger = Ledger::open(&config.state_dir)?;
        let tail = catch_up(&mut ledger, &config.alert_log)?;
        let (stories, next_story_seq) = load_stories(&ledger, config.duplicates)?;
        let commit_ledger = Arc::new(Mutex::new(Ledger::open(&config.state_dir)?));
        let term_stats = index.term_stats()?;
        let next_replan = term_stats.docs().max(500) * 2;
        let percolator = options.percolator.build_with_ids(
            queries.compiled().map(|(id, q)| (id, q.clone())),
            &term_stats,
        );
        tracing::debug!(
            queries = queries.len(),
            compile_ms = compiled.as_millis() as u64,
            plan_ms = (started.elapsed() - compiled).as_millis() as u64,
            "saved queries compiled and planned"
        );
        let matching = Arc::new(RwLock::new(LiveQueries {
            percolator,
            generation: queries.generation(),
        }));
        let workers = match config.workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let wake: Wake = options.wake.unwrap_or_else(|| Arc::new(|| {}));
        let intake = Intake::start(workers, Arc::clone(&wake))?;
        let engine = Engine {
            index,
            writer,
            ledger,
            queries,
            matching,
            intake,
            percolator_kind: options.percolator,
            next_replan,
            analyzer: Analyzer::default(),
            sinks,
            alert_log_path: config.alert_log.clone(),
            pending: Progress::default(),
            raised: RaisedAlerts::default(),
            pending_files: HashMap::new(),
            removed_files: HashSet::new(),
            removed_docs: HashSet::new(),
            uncommitted: HashMap::new(),
            last_commit: Instant::now(),
            last_commit_mid_burst: false,
            commit_every: config.commit_interval,
            term_stats,
            committing: None,
            replanning: None,
            commit_ledger,
            wake,
            metrics: options.metrics,
            read_rules: Arc::new(ReadRules {
                extractor: Extractor {
                    json_keys: config.json.clone(),
                },
                max_file_size: config.max_file_size,
                fingerprints: config.duplicates.window > 0,
            }),
            on_delete: config.on_delete,
            watch_folders: WatchFolders::new(&config.watch),
            own_files: options.own_files.unwrap_or_else(|| config.own_files()),
            retries: RetrySchedule::default(),
            retry_reads: options.retry_reads,
            webhooks: config.webhooks.iter().map(|w| w.name.clone()).collect(),
            new_queries_file: config.file_for_new_queries().to_path_buf(),
            stories,
            next_story_seq,
            duplicates: config.duplicates,
            stats: Stats::default(),
        };
        let mut engine = engine;
        engine.place_tail_stories(tail);
        engine.update_gauges()?;
        Ok(engine)
    }

    /// Push every alert into `sink` too, after the sinks already there.
    pub fn add_sink(&mut self, sink: Box<dyn AlertSink>) {
        self.sinks.push(sink);
    }

    pub fn index(&self) -> &LookoutIndex {
        &self.index
    }

    /// The index, for searches beside the engine (they see each commit).
    pub fn shared_index(&self) -> Arc<LookoutIndex> {
        Arc::clone(&self.index)
    }

    /// The ledger of processed files, alerts and quarantine.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The saved queries: what runs, what does not parse, their routes.
    pub fn queries(&self) -> &QuerySet {
        &self.queries
    }

    /// Whether files were processed under this folder (then its absence is a vanished folder,
    /// not a first run).
    pub fn knows_folder(&self, folder: &Path) -> Result<bool, EngineError> {
        Ok(self.ledger.has_files_under(folder)?)
    }

    /// The files waiting for a read to be tried again, for the status report.
    pub fn retrying(&self) -> Vec<RetryingFile> {
        self.retries.report(Instant::now())
    }

    /// Documents added or removed and not yet durable (a commit under way included).
    pub fn uncommitted_changes(&self) -> usize {
        self.writer.pending() + self.committing.as_ref().map_or(0, |c| c.changes)
    }

    /// How long until a timed commit is due, when there is work pending and no commit is under
    /// way (its end wakes the caller: see [`Engine::commit_finished`]).
    pub fn next_commit_in(&self) -> Option<Duration> {
        (self.committing.is_none() && self.has_pending_work()).then(|| self.commit_due_in())
    }

    /// How long until the next commit is due: `commit_interval` after the last one; but once a
    /// burst of files is over, a tenth of it after the last commit, so that what a burst
    /// brought becomes searchable and durable at once instead of up to an interval later. A
    /// burst is over when no file is in flight, none was taken for a tenth of the interval,
    /// and the batch holds at least [`BURST_DOCS`] documents or the last commit started while
    /// files were in flight. A steady feed (files taken more often than every tenth of an
    /// interval) and a trickle keep the interval's pace, and so do posted bodies and backfills
    /// (no file).
    fn commit_due_in(&self) -> Duration {
        let since_commit = self.last_commit.elapsed();
        let at_interval = self.commit_every.saturating_sub(since_commit);
        let burst_batch = self.writer.pending() >= BURST_DOCS || self.last_commit_mid_burst;
        match self.intake.idle_for() {
            Some(idle) if self.intake.is_empty() && burst_batch => {
                let tenth = self.commit_every / 10;
                let burst_over_in = tenth
                    .saturating_sub(since_commit)
                    .max(tenth.saturating_sub(idle));
                at_interval.min(burst_over_in)
            }
            _ => at_interval,
        }
    }

    /// Whether a commit under way is done and waits to be taken in by the next
    /// [`Command::Tick`] (which then starts the next one when due).
    pub fn commit_finished(&mut self) -> bool {
        match &mut self.committing {
            Some(c) if c.outcome.is_none() => {
                if let Ok(outcome) = c.done.try_recv() {
                    c.outcome = Some(outcome);
                }
                c.outcome.is_some()
            }
            Some(_) => true,
            None => false,
        }
    }

    /// Whether a commit is under way.
    pub fn committing(&self) -> bool {
        self.committing.is_some()
    }

    /// How long until a failed read is due to be tried again.
    pub fn next_retry_in(&self) -> Option<Duration> {
        self.retries
            .next_due()
            .map(|at| at.saturating_duration_since(Instant::now()))
    }

    fn has_pending_work(&self) -> bool {
        self.writer.pending() > 0 || !self.pending_files.is_empty() || !self.pending.is_empty()
    }

    /// File the changed queries in the percolator: in place for a few, a rebuild for many.
    fn refile(&mut self, changes: &QueryChanges) {
        let started = Instant::now();
        if changes.len() > (self.queries.active() / 10).max(64) {
            self.plan();
        } else {
            let mut matching = lock::write(&self.matching);
            for &id in &changes.withdrawn {
                matching.percolator.remove(id);
            }
            for &id in &changes.filed {
                match self.queries.get(id).and_then(QueryEntry::shared_query) {
                    Some(query) => matching.percolator.set(id, query.clone(), &self.term_stats),
                    None => matching.percolator.remove(id),
                }
            }
            matching.generation = self.queries.generation();
        }
        self.metrics.set_saved_queries(self.queries.active());
        tracing::debug!(
            queries = self.queries.active(),
            changes = changes.len(),
            elapsed_us = started.elapsed().as_micros() as u64,
            "saved queries updated"
        );
    }

    /// Build the percolator for the current queries on the last term statistics (the workers
    /// go on with the one before until it is in place).
    fn plan(&mut self) {
        let percolator = self.percolator_kind.build_with_ids(
            self.queries.compiled().map(|(id, q)| (id, q.clone())),
            &self.term_stats,
        );
        *lock::write(&self.matching) = LiveQueries {
            percolator,
            generation: self.queries.generation(),
        };
    }

    /// Take in a finished commit; start one if a batch is due and none is under way.
    fn tick(&mut self) -> Result<(), EngineError> {
        self.collect_commit(false)?;
        if self.committing.is_none()
            && self.has_pending_work()
            && (self.writer.pending() >= COMMIT_DOCS || self.commit_due_in().is_zero())
        {
            self.start_commit()?;
        }
        Ok(())
    }

    /// Start a commit only if the batch is full or the commit is twice overdue (for a caller
    /// that prefers to commit when idle).
    fn tick_if_overdue(&mut self) -> Result<(), EngineError> {
        self.collect_commit(false)?;
        if self.writer.pending() >= COMMIT_DOCS
            || self.last_commit.elapsed() >= 2 * self.commit_every
        {
            self.tick()?;
        }
        Ok(())
    }

    /// Commit and wait: everything done so far is durable when this returns.
    fn commit(&mut self) -> Result<(), EngineError> {
        self.collect_commit(true)?;
        self.start_commit()?;
        self.collect_commit(true)
    }

    /// Hand the batch to the index thread: it commits the index, then runs the sinks' durable
    /// work (the alert log's fsync), then records the progress in the ledger, and reports back.
    /// Meanwhile the batch's dedup state stays where lookups find it (the alerts raised, the
    /// files recorded, the documents not yet visible to searchers); `collect_commit` drops
    /// what the ledger and the index then hold.
    fn start_commit(&mut self) -> Result<(), EngineError> {
        let started = Instant::now();
        let durable = self.sinks.durable()?;
        let mut progress = std::mem::take(&mut self.pending);
        progress.files = self.pending_files.values().cloned().collect();
        // The ledger keeps the stories of the last `window` arrivals, as the window does.
        progress.stories_before = Some(
            self.next_story_seq
                .saturating_sub(self.duplicates.window as u64),
        );
        progress.alert_log_offset = std::fs::metadata(&self.alert_log_path)
            .map(|m| m.len())
            .unwrap_or(0);
        let notes = Progress {
            // The paths read, without their documents: they clear their file's notes.
            files: progress
                .files
                .iter()
                .map(|f| FileRecord {
                    path: f.path.clone(),
                    content_hash: f.content_hash.clone(),
                    docs: Vec::new(),
                })
                .collect(),
            removed_files: progress.removed_files.clone(),
            quarantined: progress.quarantined.clone(),
            released: progress.released.clone(),
            warnings: progress.warnings.clone(),
            ignored: progress.ignored.clone(),
            unignored: progress.unignored.clone(),
            ..Progress::default()
        };
        let documents: Vec<(DocId, String)> = self
            .uncommitted
            .iter()
            .map(|(id, path)| (id.clone(), path.clone()))
            .collect();
        let removed_docs: Vec<DocId> = self.removed_docs.iter().cloned().collect();
        let changes = self.writer.pending();
        let ledger = Arc::clone(&self.commit_ledger);
        let wake = Arc::clone(&self.wake);
        let (done, outcome) = mpsc::channel();
        self.writer.start_commit(Box::new(move |indexed| {
            let recorded = (|| -> Result<Progress, EngineError> {
                indexed?;
                let index_done = started.elapsed();
                for work in durable {
                    work()?;
                }
                let sinks_done = started.elapsed();
                // Tests hold the ledger back here (FAILPOINTS=commit::ledger=sleep(MS)).
                fail::fail_point!("commit::ledger");
                lock::lock(&ledger).record(&progress)?;
                tracing::debug!(
                    files = progress.files.len(),
                    alerts = progress.alerts.len(),
                    index_ms = index_done.as_millis() as u64,
                    sinks_ms = (sinks_done - index_done).as_millis() as u64,
                    ledger_ms = (started.elapsed() - sinks_done).as_millis() as u64,
                    "committed"
                );
                Ok(progress)
            })();
            let _ = done.send(recorded);
            wake();
        }))?;
        self.committing = Some(CommitInFlight {
            raised: std::mem::take(&mut self.raised),
            done: outcome,
            outcome: None,
            documents,
            removed_docs,
            notes,
            changes,
        });
        self.last_commit = Instant::now();
        self.last_commit_mid_burst = !self.intake.is_empty();
        Ok(())
    }

    /// Take in the commit under way once it is done (with `wait`, wait for it): what it
    /// recorded leaves the batch's dedup state (the ledger and the index hold it now).
    fn collect_commit(&mut self, wait: bool) -> Result<(), EngineError> {
        let gone = || EngineError::Index(IndexError::WriterGone(self.index.path().to_path_buf()));
        let outcome = match &mut self.committing {
            None => return Ok(()),
            Some(c) => match c.outcome.take() {
                Some(outcome) => outcome,
                None if wait => c.done.recv().unwrap_or_else(|_| Err(gone())),
                None => match c.done.try_recv() {
                    Ok(outcome) => outcome,
                    Err(mpsc::TryRecvError::Empty) => return Ok(()),
                    Err(mpsc::TryRecvError::Disconnected) => Err(gone()),
                },
            },
        };
        let Some(committed) = self.committing.take() else {
            return Ok(());
        };
        let progress = outcome?;
        // Its alerts are in the ledger now: `committed.raised` goes with it.
        for file in &progress.files {
            if self.pending_files.get(&file.path) == Some(file) {
                self.pending_files.remove(&file.path);
            }
        }
        for path in &progress.removed_files {
            if !self.pending.removed_files.contains(path) {
                self.removed_files.remove(path);
            }
        }
        for (id, path) in committed.documents {
            if self.uncommitted.get(&id) == Some(&path) {
                self.uncommitted.remove(&id);
            }
        }
        // The index the searchers see has them deleted now (one removed again meanwhile is
        // deleted there too, unless added back: then `uncommitted` holds it).
        for id in &committed.removed_docs {
            self.removed_docs.remove(id);
        }
        self.update_gauges()?;
        self.maybe_replan()
    }

    /// The notes of the batch being committed (quarantined, warnings, ignored, released
    /// files), for lookups that must see them until the ledger holds them.
    pub(super) fn committing_notes(&self) -> Option<&Progress> {
        self.committing.as_ref().map(|c| &c.notes)
    }

    /// The files read with warnings and the quarantined files as they stand: the ledger's,
    /// with the batch being committed and the one being gathered applied (their documents
    /// may be searchable before the ledger holds their notes).
    pub fn file_notes(&self) -> Result<FileNotes, EngineError> {
        let mut notes = FileNotes::read(&self.ledger)?;
        let mut in_commit = HashSet::new();
        if let Some(committing) = self.committing_notes() {
            notes.apply(committing, std::iter::empty());
            in_commit.extend(committing.files.iter().map(|f| (&f.path, &f.content_hash)));
        }
        // `pending_files` keeps the committing batch's files until the ledger has them.
        let read_since = self
            .pending_files
            .values()
            .filter(|f| !in_commit.contains(&(&f.path, &f.content_hash)))
            .map(|f| f.path.as_str());
        notes.apply(&self.pending, read_since);
        Ok(notes)
    }

    /// The gauges a commit moves: documents, index size, quarantine, last commit.
    fn update_gauges(&self) -> Result<(), EngineError> {
        self.metrics.set_documents(self.index.num_docs());
        self.metrics.set_index_size_bytes(self.index.size_bytes());
        self.metrics
            .set_quarantined_files(self.ledger.quarantined_count()?);
        self.metrics.set_last_commit(std::time::SystemTime::now());
        self.metrics.set_saved_queries(self.queries.active());
        Ok(())
    }

    /// Re-plan the percolator on the index's term statistics when the index doubled: the new
    /// plan is built on a thread of its own (it takes seconds at 100,000 queries) while the
    /// workers match with the one in place, and installed by `install_plan` if the saved
    /// queries did not change meanwhile (the same queries: the same matches, faster).
    fn maybe_replan(&mut self) -> Result<(), EngineError> {
        self.install_plan();
        let docs = self.index.num_docs();
        if docs < self.next_replan || self.replanning.is_some() {
            return Ok(());
        }
        self.next_replan = docs * 2;
        let term_stats = self.index.term_stats()?;
        let queries: Vec<(QueryId, crate::query::SharedQuery)> = self
            .queries
            .compiled()
            .map(|(id, q)| (id, q.clone()))
            .collect();
        let generation = self.queries.generation();
        let kind = self.percolator_kind;
        let wake = Arc::clone(&self.wake);
        let (done, plan) = mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("lookout-plan".into())
            .spawn(move || {
                crate::background::lower_this_thread();
                let started = Instant::now();
                // Beside the running plan, on one thread: the workers keep the cores.
                let build = || kind.build_with_ids(queries, &term_stats);
                let percolator = match rayon::ThreadPoolBuilder::new().num_threads(1).build() {
                    Ok(pool) => pool.install(build),
                    Err(_) => build(),
                };
                let _ = done.send(NewPlan {
                    percolator,
                    term_stats,
                    generation,
                    documents: docs,
                    took: started.elapsed(),
                });
                wake();
            });
        match spawned {
            Ok(_) => self.replanning = Some(plan),
            Err(e) => tracing::warn!(
                "cannot start a thread to re-plan the saved queries ({e}); the current plan stays"
            ),
        }
        Ok(())
    }

    /// Put a plan built by `maybe_replan` in place, if it is done and still for the saved
    /// queries that run (after a change, the next doubling plans again).
    fn install_plan(&mut self) {
        let Some(plan) = &self.replanning else {
            return;
        };
        let plan = match plan.try_recv() {
            Ok(plan) => plan,
            Err(mpsc::TryRecvError::Empty) => return,
            Err(mpsc::TryRecvError::Disconnected) => {
                self.replanning = None;
                return;
            }
        };
        self.replanning = None;
        if plan.generation != self.queries.generation() {
            tracing::debug!(
                "the saved queries changed while they were re-planned: the plan is dropped"
            );
            return;
        }
        self.term_stats = plan.term_stats;
        *lock::write(&self.matching) = LiveQueries {
            percolator: plan.percolator,
            generation: plan.generation,
        };
        tracing::info!(
            documents = plan.documents,
            queries = self.queries.active(),
            elapsed_ms = plan.took.as_millis() as u64,
            "re-planned the saved queries on the index's term statistics"
        );
    }

    /// Apply the files taken, commit and report the counters (the end of a run).
    pub fn finish(mut self) -> Result<Stats, EngineError> {
        self.drain_files()?;
        self.commit()?;
        Ok(self.stats.clone())
    }
}

/// A percolator re-planned on newer term statistics, for the queries of `generation`.
struct NewPlan {
    percolator: Box<dyn crate::matcher::Percolator>,
    term_stats: TermStats,
    generation: u64,
    documents: u64,
    took: Duration,
}

/// A commit handed to the index thread.
struct CommitInFlight {
    done: mpsc::Receiver<Result<Progress, EngineError>>,
    /// Its outcome, once received (by [`Engine::commit_finished`]) and not yet taken in.
    outcome: Option<Result<Progress, EngineError>>,
    /// Its documents, not visible to searchers until it is done, with the path each showed.
    documents: Vec<(DocId, String)>,
    /// The documents it deletes (no file holds them), known as removed until it is done.
    removed_docs: Vec<DocId>,
    /// Its notes, looked up until the ledger holds them.
    notes: Progress,
    /// Its alerts, known as raised until the ledger holds them.
    raised: RaisedAlerts,
    /// How many index changes it commits.
    changes: usize,
}

/// The alerts one batch raised, by id (query and document content) and by (location, query),
/// so that none is raised twice before the ledger holds them. One set per batch: a commit's
/// goes whole once the ledger has it, not alert by alert. Keyed by text from documents and
/// names, so hashed with foldhash, seeded at random (fast, and no input can be made to collide).
#[derive(Default)]
pub(super) struct RaisedAlerts {
    ids: foldhash::HashSet<String>,
    /// (location, query name), shared with the alerts and the saved query.
    path_queries: foldhash::HashSet<(Arc<str>, Arc<str>)>,
    /// The copy records among them: alert id → the first alert of the story it points at.
    copies: foldhash::HashMap<String, String>,
}

impl RaisedAlerts {
    pub(super) fn contains(&self, alert_id: &str, path_query: &(Arc<str>, Arc<str>)) -> bool {
        self.ids.contains(alert_id) || self.path_queries.contains(path_query)
    }

    /// The alert `alert_id` (of this batch) stands for, as a story's first alert: itself, or
    /// the alert it is a copy record of.
    pub(super) fn origin(&self, alert_id: &str) -> Option<String> {
        if let Some(original) = self.copies.get(alert_id) {
            return Some(original.clone());
        }
        self.ids.contains(alert_id).then(|| alert_id.to_string())
    }

    pub(super) fn insert_copy(&mut self, alert_id: String, copy_of: String) {
        self.copies.insert(alert_id, copy_of);
    }

    pub(super) fn insert(&mut self, alert_id: String, path_query: (Arc<str>, Arc<str>)) {
        self.ids.insert(alert_id);
        self.path_queries.insert(path_query);
    }
}

/// The window of recent documents' stories, read back from the ledger (its latest
/// `[duplicates] window` rows), and the next arrival's number.
fn load_stories(
    ledger: &Ledger,
    duplicates: DuplicatesConfig,
) -> Result<(StoryWindow, u64), EngineError> {
    let mut window = StoryWindow::new(duplicates.window, duplicates.threshold);
    // With no window, the latest row still tells where the arrivals' numbering goes on.
    let (rows, unreadable) = ledger.recent_stories(duplicates.window.max(1))?;
    let next = rows.last().map_or(0, |row| row.seq + 1);
    for row in rows {
        window.insert(row.doc, row.story, row.fingerprint, row.seq);
    }
    if unreadable > 0 {
        tracing::warn!(
            unreadable,
            "fingerprints of another version in the ledger were left out: copies of those articles are not found"
        );
    }
    Ok((window, next))
}

/// Bring the ledger's alert tables up to the end of the alert log (what a crash after the log
/// write and before the ledger transaction left behind). Returns the documents of the records
/// caught up (id and location, in log order, once each): their stories were not recorded
/// either.
fn catch_up(ledger: &mut Ledger, alert_log: &Path) -> Result<Vec<(DocId, String)>, EngineError> {
    let length = std::fs::metadata(alert_log).map(|m| m.len()).unwrap_or(0);
    let mut offset = ledger.alert_log_offset()?;
    if offset > length {
        tracing::warn!(log = %alert_log.display(), "the alert log is shorter than the ledger remembers (replaced?): reading it all again");
        offset = 0;
    }
    if offset == length {
        return Ok(Vec::new());
    }
    let mut follower = alerts::follow(alert_log, offset);
    let alerts = follower.poll()?;
    let caught = alerts.len();
    let mut seen = HashSet::new();
    let tail: Vec<(DocId, String)> = alerts
        .iter()
        .filter(|a| seen.insert(a.doc.id.clone()))
        .map(|a| (DocId(a.doc.id.clone()), a.doc.path.clone()))
        .collect();
    let copies = alerts
        .iter()
        .filter_map(|a| {
            a.copy_of.as_ref().map(|original| CopyRow {
                alert_id: a.alert_id.clone(),
                copy_of: original.clone(),
            })
        })
        .collect();
    let progress = Progress {
        copies,
        alerts: alerts
            .into_iter()
            .map(|a| AlertRow {
                alert_id: a.alert_id,
                // Read back, each alert holds its own document.
                path: a.doc.path.as_str().into(),
                query: a.query.name,
            })
            .collect(),
        alert_log_offset: follower.offset(),
        ..Default::default()
    };
    ledger.record(&progress)?;
    tracing::info!(alerts = caught, "ledger caught up with the alert log");
    Ok(tail)
}

/// Every file under the given paths (files as named, folders walked recursively, sorted),
/// skipping hidden and temporary names.
pub fn collect_files(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found: Vec<PathBuf> = walkdir::WalkDir::new(path)
                .follow_links(false)
                .into_iter()
                .filter_entry(|e| {
                    e.depth() == 0 || !crate::watcher::is_ignored(Path::new(e.file_name()))
                })
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_file())
                .map(|e| e.into_path())
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    files
}
