//! One file in, documents indexed and alerts raised: the path every article takes, whether it
//! was dropped into the watch folder (daemon) or named on the command line (`lookout ingest`).
//!
//! Per file: skip a file of a type lookout does not read (noted once, not an error); skip it
//! if the ledger already holds these exact bytes for this path; extract it (a failure is
//! reported once per content and quarantined; the warnings of a file that was read, such as
//! skipped JSON Lines records, are reported once per content and kept for the status report). Per document: skip it if its
//! content is already indexed (a rename or a copy: at most the stored path is updated); match it
//! against every saved query; write each new alert (alert log first, then the tracing line and
//! the webhooks); then add it to the index. A file that changed replaces its old documents.
//! Alerts never wait for an index commit.
//!
//! Durability: a commit makes the index durable, then fsyncs the alert log, then records the
//! progress in the ledger in one transaction. At start-up the ledger catches up with the alert
//! log, so a crash anywhere re-processes at most the files since the last commit, and the alert
//! ids already in the log keep them from alerting twice.
//!
//! What a file says and what happened while reading it are told apart (`read`): bad content is
//! quarantined by its hash; a read that failed for a reason that may go away is retried with a
//! capped backoff (`retry`), never quarantined, never taken for a vanished file. Deletions are
//! noticed by `reconcile`, and held while a watch folder is missing, replaced or emptied at
//! once (`roots`). A document is shown at a path that still holds it: when the path it shows
//! goes away (deleted, renamed, changed), it moves to another path holding the same content.

mod read;
mod retry;
mod roots;

pub use read::{is_gone, read_bytes, read_documents, FileError, ReadError};
pub use retry::{RetryingFile, MAX_RETRY_GAP};
pub use roots::{health as watch_folder_health, WatchFolderHealth};

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;

use crate::alerts::{self, Alert, AlertDoc, AlertLog, AlertLogError, AlertQuery, Matched};
use crate::analysis::Analyzer;
use crate::config::{compile_queries, Config, OnDelete, QueryProblem, SavedQuery};
use crate::document::{DocId, Document};
use crate::extract::{self, ExtractError, Extraction, Extractor, Warnings};
use crate::index::{DocWriter, IndexError, LookoutIndex};
use crate::ledger::{
    FileRecord, FileWarnings, IgnoredFile, Ledger, LedgerError, Progress, Quarantined,
};
use crate::matcher::{summarize, DocAnalysis, Engine, Percolator, TermStats};
use crate::metrics::{AlertKind, Metrics};
use crate::watcher::OwnFiles;
use crate::webhooks::{self, LogDelivery, RetryPolicy, WebhookError};
use retry::{Failure, RetrySchedule};
use roots::WatchFolders;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    AlertLog(#[from] AlertLogError),
    #[error(transparent)]
    Webhook(#[from] WebhookError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// What became of one file.
#[derive(Debug)]
pub enum FileOutcome {
    /// Read and processed: how many of its documents were new, and how many alerts they raised.
    Processed {
        new: usize,
        known: usize,
        alerts: usize,
    },
    /// The same bytes were already processed at this path.
    Unchanged,
    /// A type lookout does not read (by its extension): not read, not an error.
    Ignored,
    /// Gone before it could be read (a temporary file, a quick delete): nothing to do.
    Vanished,
    /// One of lookout's own files (its index, state, alert log, configuration): never read.
    OwnFile,
    /// It could not be read now (an I/O error); the daemon tries again with a backoff.
    ReadFailed(ReadError),
    /// Refused for what it is or says (logged once per content, quarantined).
    Skipped(FileError),
}

/// A file taken by [`Pipeline::start_file`]: decided at once, or documents to process.
#[derive(Debug)]
pub enum FileStart {
    Done(FileOutcome),
    Run(FileRun),
}

/// A file whose documents are being matched and indexed, a slice at a time
/// ([`Pipeline::continue_file`], then [`Pipeline::finish_file`]). Until it is finished, its
/// progress is not recorded: a crash re-reads it, and the documents already indexed and the
/// alerts already raised are skipped by their content and alert ids.
#[derive(Debug)]
pub struct FileRun {
    key: String,
    content_hash: String,
    /// What the ledger held for this path before (a changed file).
    previous: Option<FileRecord>,
    documents: std::vec::IntoIter<Document>,
    ids: Vec<DocId>,
    new: usize,
    known: usize,
    alerts: usize,
    landed: Option<Instant>,
}

impl FileRun {
    /// The file's path as the ledger keys it.
    pub fn path(&self) -> &str {
        &self.key
    }

    /// Documents not yet processed.
    pub fn remaining(&self) -> usize {
        self.documents.len()
    }
}

/// What a backfill found: documents the query matches, and the alerts newly raised.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backfill {
    pub matched: usize,
    pub alerts: usize,
}

/// A backfill under way (see [`Pipeline::start_backfill`]).
pub struct BackfillRun {
    name: String,
    /// The query as it was when the backfill started.
    query: crate::query::Query,
    matching: crate::index::Matching,
    /// The next matched document to alert on.
    next: usize,
    /// What it found so far.
    pub outcome: Backfill,
}

impl BackfillRun {
    /// The saved query being backfilled.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many of the matched documents it has been through.
    pub fn done(&self) -> usize {
        self.next
    }
}

/// Where a backfill is after one slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackfillStep {
    More,
    Done,
    /// The query was changed or deleted while its backfill ran: it stopped.
    QueryChanged,
}

/// Documents a backfill alerts on in one slice: the daemon answers requests and takes files in
/// between, so a backfill of a million documents does not stall it.
pub const BACKFILL_SLICE: usize = 256;

/// A body of articles being matched and indexed a slice at a time (see
/// [`Pipeline::start_ingest`]).
#[derive(Debug)]
pub struct IngestRun {
    documents: std::vec::IntoIter<Document>,
    outcomes: Vec<Ingested>,
    warnings: Warnings,
}

/// What [`Pipeline::ingest_bytes`] took: the documents, and the warnings about the records it
/// skipped or the values it left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestReport {
    pub documents: Vec<Ingested>,
    pub warnings: Warnings,
}

/// One document handed to [`Pipeline::ingest_bytes`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingested {
    pub id: DocId,
    pub location: String,
    /// False when the same content was already indexed (then it raises no alert).
    pub new: bool,
    pub alerts: usize,
}

/// Counters over the pipeline's life.
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
}

/// Commit at the latest after this many documents, whatever the timer says.
const COMMIT_DOCS: usize = 10_000;
/// Most files retried in one call of [`Pipeline::retry_due`] (the daemon answers requests and
/// takes new files between two calls).
const RETRY_BATCH: usize = 64;

pub struct Pipeline {
    index: Arc<LookoutIndex>,
    writer: DocWriter,
    ledger: Ledger,
    queries: Vec<SavedQuery>,
    percolator: Box<dyn Percolator>,
    engine: Engine,
    /// Re-plan the percolator from the index's term statistics when it holds this many
    /// documents (doubling each time): early plans are made on few or no statistics.
    next_replan: u64,
    analyzer: Analyzer,
    alert_log: AlertLog,
    alert_log_path: PathBuf,
    /// Progress since the last commit, recorded in the ledger by the next one.
    pending: Progress,
    pending_alert_ids: HashSet<String>,
    pending_path_alerts: HashSet<(String, String)>,
    pending_files: HashMap<String, FileRecord>,
    /// The paths of `pending.removed_files`, to look them up.
    removed_files: HashSet<String>,
    /// Documents added since the last commit (not yet visible to `index.contains`), with the
    /// path each shows.
    uncommitted: HashMap<DocId, String>,
    last_commit: Instant,
    commit_every: Duration,
    /// Webhook delivery, fed from the alert log: told when lines were appended.
    webhooks: Option<LogDelivery>,
    /// Counts the alerts written to the log, for live followers (the API's event stream).
    alerts_written: tokio::sync::watch::Sender<u64>,
    /// The index's term statistics the percolator was last planned on.
    term_stats: TermStats,
    metrics: Metrics,
    max_file_size: u64,
    /// How files are read (the `[json]` keys).
    extractor: Extractor,
    on_delete: OnDelete,
    watch_folders: WatchFolders,
    /// lookout's own files, never read as articles (a watch folder may hold them).
    own_files: OwnFiles,
    /// Files whose read failed for a reason that may go away, when retries are on.
    retries: RetrySchedule,
    /// Whether a failed read is retried (the daemon) or reported as a skipped file (`ingest`).
    retry_reads: bool,
    pub stats: Stats,
}

impl Pipeline {
    /// Compile the configured saved queries (the ones that do not parse are logged, named and
    /// left out, and returned), open the index, the ledger and the alert log, and start webhook
    /// delivery from the alert log. Call from inside a tokio runtime: deliveries run on it.
    pub fn from_config(
        config: &Config,
        engine: Engine,
        metrics: Metrics,
    ) -> Result<(Pipeline, Vec<QueryProblem>), PipelineError> {
        let (queries, problems) = compile_queries(&config.queries, config.query_limits);
        for problem in &problems {
            tracing::error!("{problem} (left out; fix it and restart)");
        }
        // The index writer lock is taken first: one process at a time delivers from the log.
        let mut pipeline = Pipeline::open(config, queries, engine, None)?;
        if !config.webhooks.is_empty() {
            pipeline.webhooks = Some(start_delivery(config, metrics.clone())?);
        }
        pipeline.metrics = metrics;
        pipeline.update_gauges()?;
        Ok((pipeline, problems))
    }

    /// Open the index (taking its writer lock), the ledger and the alert log, and catch the
    /// ledger up with the log. `webhooks` must be started inside a tokio runtime by the caller.
    pub fn open(
        config: &Config,
        queries: Vec<SavedQuery>,
        engine: Engine,
        webhooks: Option<LogDelivery>,
    ) -> Result<Pipeline, PipelineError> {
        let index = Arc::new(LookoutIndex::open_or_create(&config.index)?);
        let writer = index.writer(config.commit_interval, COMMIT_DOCS)?;
        let alert_log = AlertLog::open(&config.alert_log)?;
        let mut ledger = Ledger::open(&config.state_dir)?;
        catch_up(&mut ledger, &config.alert_log)?;
        let term_stats = index.term_stats()?;
        let next_replan = term_stats.docs().max(500) * 2;
        let percolator = engine.build(
            queries.iter().map(|q| q.query.clone()).collect(),
            &term_stats,
        );
        Ok(Pipeline {
            index,
            writer,
            ledger,
            queries,
            percolator,
            engine,
            next_replan,
            analyzer: Analyzer::default(),
            alert_log,
            alert_log_path: config.alert_log.clone(),
            pending: Progress::default(),
            pending_alert_ids: HashSet::new(),
            pending_path_alerts: HashSet::new(),
            pending_files: HashMap::new(),
            removed_files: HashSet::new(),
            uncommitted: HashMap::new(),
            last_commit: Instant::now(),
            commit_every: config.commit_interval,
            webhooks,
            alerts_written: tokio::sync::watch::Sender::new(0),
            term_stats,
            metrics: Metrics::default(),
            max_file_size: config.max_file_size,
            extractor: Extractor {
                json_keys: config.json.clone(),
            },
            on_delete: config.on_delete,
            watch_folders: WatchFolders::new(&config.watch),
            own_files: config.own_files(),
            retries: RetrySchedule::default(),
            retry_reads: false,
            stats: Stats::default(),
        })
    }

    pub fn index(&self) -> &LookoutIndex {
        &self.index
    }

    /// The index, for searches beside the pipeline (they see each commit).
    pub fn shared_index(&self) -> Arc<LookoutIndex> {
        Arc::clone(&self.index)
    }

    /// The ledger of processed files, alerts and quarantine.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Whether files were processed under this folder (then its absence is a vanished folder,
    /// not a first run).
    pub fn knows_folder(&self, folder: &Path) -> Result<bool, PipelineError> {
        Ok(self.ledger.has_files_under(folder)?)
    }

    /// Number of saved queries loaded.
    pub fn query_count(&self) -> usize {
        self.queries.len()
    }

    /// The saved queries in use.
    pub fn queries(&self) -> &[SavedQuery] {
        &self.queries
    }

    /// Replace the saved queries (a config reload, the API): new documents are matched against
    /// these from now on. Documents already indexed are not (see [`Pipeline::backfill`]).
    /// A few changes (one query added, edited or removed) update the percolator in place;
    /// many rebuild it.
    pub fn set_queries(&mut self, queries: Vec<SavedQuery>) {
        let started = Instant::now();
        let wanted: HashMap<&str, &SavedQuery> =
            queries.iter().map(|q| (q.name.as_str(), q)).collect();
        let removed: Vec<usize> = (0..self.queries.len())
            .filter(|&i| !wanted.contains_key(self.queries[i].name.as_str()))
            .collect();
        let running: HashMap<&str, &SavedQuery> =
            self.queries.iter().map(|q| (q.name.as_str(), q)).collect();
        let changes = removed.len()
            + queries
                .iter()
                .filter(|q| {
                    running
                        .get(q.name.as_str())
                        .is_none_or(|r| r.query != q.query)
                })
                .count();
        if changes > (self.queries.len() / 10).max(64) {
            self.queries = queries;
            self.plan();
        } else {
            // Descending, so that the query swapped into a freed index is never one to remove.
            for &index in removed.iter().rev() {
                self.remove_at(index);
            }
            let mut at: HashMap<String, usize> = self
                .queries
                .iter()
                .enumerate()
                .map(|(i, q)| (q.name.clone(), i))
                .collect();
            for query in queries {
                let index = at.get(&query.name).copied();
                if index.is_none() {
                    at.insert(query.name.clone(), self.queries.len());
                }
                self.put_at(index, query);
            }
        }
        tracing::debug!(
            queries = self.queries.len(),
            changes,
            elapsed_us = started.elapsed().as_micros() as u64,
            "saved queries updated"
        );
    }

    /// Add a saved query, or replace the one of the same name (the API): in place, without
    /// re-planning the others.
    pub fn upsert_query(&mut self, query: SavedQuery) {
        let index = self.queries.iter().position(|q| q.name == query.name);
        self.put_at(index, query);
    }

    /// Remove the saved query `name`; false when there is none.
    pub fn remove_query(&mut self, name: &str) -> bool {
        let Some(index) = self.queries.iter().position(|q| q.name == name) else {
            return false;
        };
        self.remove_at(index);
        true
    }

    /// Replace the query at `index` (re-filing it in the percolator only if its meaning
    /// changed), or append it when `index` is `None`.
    fn put_at(&mut self, index: Option<usize>, query: SavedQuery) {
        match index {
            Some(index) => {
                if self.queries[index].query != query.query {
                    self.percolator
                        .set(index, query.query.clone(), &self.term_stats);
                }
                self.queries[index] = query;
            }
            None => {
                self.percolator
                    .set(self.queries.len(), query.query.clone(), &self.term_stats);
                self.queries.push(query);
            }
        }
    }

    /// Remove the query at `index` from the list and the percolator alike (the last query
    /// takes its index in both).
    fn remove_at(&mut self, index: usize) {
        self.queries.swap_remove(index);
        self.percolator.swap_remove(index);
    }

    /// Build the percolator for the current queries on the last term statistics.
    fn plan(&mut self) {
        let queries = self.queries.iter().map(|q| q.query.clone()).collect();
        self.percolator = self.engine.build(queries, &self.term_stats);
    }

    /// What happens to deleted files' documents, and the largest file read (a config reload).
    /// Quarantined files are judged again when the rules that refused them may have changed
    /// (see [`Pipeline::recheck_quarantine`]).
    pub fn set_file_rules(&mut self, on_delete: OnDelete, max_file_size: u64) {
        self.on_delete = on_delete;
        self.max_file_size = max_file_size;
    }

    /// How files are read from now on (a config reload of `[json]`). Files already read are
    /// not read again.
    pub fn set_extractor(&mut self, extractor: Extractor) {
        self.extractor = extractor;
    }

    /// Never read these files (lookout's own; the daemon adds the files it logs to).
    pub fn set_own_files(&mut self, own_files: OwnFiles) {
        self.own_files = own_files;
    }

    /// Retry reads that fail for a reason that may go away (the daemon), instead of reporting
    /// them as skipped files (`lookout ingest`, which runs once).
    pub fn retry_failed_reads(&mut self, on: bool) {
        self.retry_reads = on;
    }

    /// Process every quarantined file that is still there once more: the rules that refused it
    /// (`max_file_size`) changed. Files still refused for the same reason are not reported
    /// again. Returns how many were looked at.
    pub fn recheck_quarantine(&mut self) -> Result<usize, PipelineError> {
        let quarantined = self.ledger.all_quarantined()?;
        let mut checked = 0;
        for q in quarantined {
            let path = PathBuf::from(&q.path);
            if is_gone(&path) {
                continue;
            }
            checked += 1;
            self.take_file(&path)?;
        }
        Ok(checked)
    }

    /// How long until a failed read is due to be tried again.
    pub fn next_retry_in(&self) -> Option<Duration> {
        self.retries
            .next_due()
            .map(|at| at.saturating_duration_since(Instant::now()))
    }

    /// The files whose failed read is due to be tried again (a bounded batch, soonest first).
    pub fn due_retries(&self) -> Vec<PathBuf> {
        self.retries.due(Instant::now(), RETRY_BATCH)
    }

    /// Try again to read and process a file whose read failed.
    pub fn retry_file(&mut self, path: &Path) -> Result<FileOutcome, PipelineError> {
        self.metrics.file_read_retried();
        self.take_file(path)
    }

    /// The files waiting for a read to be tried again, for the status report.
    pub fn retrying(&self) -> Vec<RetryingFile> {
        self.retries.report(Instant::now())
    }

    /// Swap the webhook delivery (a config reload); the old one is handed back to be shut down.
    pub fn replace_delivery(&mut self, delivery: Option<LogDelivery>) -> Option<LogDelivery> {
        std::mem::replace(&mut self.webhooks, delivery)
    }

    /// The webhooks whose delivery task ended unexpectedly, when webhooks are configured.
    pub fn delivery_crashed(&self) -> Option<Vec<String>> {
        self.webhooks.as_ref().map(LogDelivery::crashed)
    }

    /// Webhook delivery counts, when webhooks are configured.
    pub fn delivery_stats(&self) -> Option<webhooks::DeliveryStats> {
        self.webhooks.as_ref().map(LogDelivery::stats)
    }

    /// A receiver that sees the number of alerts written change (for live followers).
    pub fn subscribe_alerts(&self) -> tokio::sync::watch::Receiver<u64> {
        self.alerts_written.subscribe()
    }

    /// Documents added or removed since the last commit.
    pub fn uncommitted_changes(&self) -> usize {
        self.writer.pending()
    }

    /// Alert on the documents already in the index that the saved query `name` matches, all
    /// at once (see [`Pipeline::start_backfill`] for the sliced form the daemon uses).
    pub fn backfill(&mut self, name: &str) -> Result<Backfill, PipelineError> {
        let Some(mut run) = self.start_backfill(name)? else {
            return Ok(Backfill::default());
        };
        while self.continue_backfill(&mut run, BACKFILL_SLICE)? == BackfillStep::More {}
        self.finish_backfill(run)
    }

    /// Start a backfill of the saved query `name`: the documents a search for it returns now
    /// (so that a backfill alerts exactly where search finds) will each get an alert marked
    /// `backfill`, raised once like any other (a second backfill raises none). Commits first,
    /// so that the documents still in the batch are searched. `None` if no such query runs.
    pub fn start_backfill(&mut self, name: &str) -> Result<Option<BackfillRun>, PipelineError> {
        let Some(saved) = self.queries.iter().find(|q| q.name == name) else {
            return Ok(None);
        };
        let query = saved.query.clone();
        self.commit()?;
        let matching = self.index.matching(&query)?;
        Ok(Some(BackfillRun {
            name: name.to_string(),
            outcome: Backfill {
                matched: matching.len(),
                alerts: 0,
            },
            query,
            matching,
            next: 0,
        }))
    }

    /// Raise the alerts of the next `slice` documents of a backfill. Stops early when the
    /// query was changed or deleted meanwhile (the alerts raised so far stand).
    pub fn continue_backfill(
        &mut self,
        run: &mut BackfillRun,
        slice: usize,
    ) -> Result<BackfillStep, PipelineError> {
        let Some(query_index) = self
            .queries
            .iter()
            .position(|q| q.name == run.name && q.query == run.query)
        else {
            return Ok(BackfillStep::QueryChanged);
        };
        let documents = run.matching.documents(run.next..run.next + slice.max(1))?;
        run.next += documents.len();
        for document in &documents {
            let analysis = DocAnalysis::new(document, &mut self.analyzer);
            let raised = self.raise_alerts(document, &analysis, &[query_index], true)?;
            run.outcome.alerts += raised;
            self.stats.alerts += raised as u64;
        }
        Ok(if run.next >= run.matching.len() {
            BackfillStep::Done
        } else {
            BackfillStep::More
        })
    }

    /// Commit a backfill's alerts (durable when this returns) and report what it found.
    pub fn finish_backfill(&mut self, run: BackfillRun) -> Result<Backfill, PipelineError> {
        self.commit()?;
        tracing::info!(query = %run.name, matched = run.outcome.matched, alerts = run.outcome.alerts, "backfill done");
        Ok(run.outcome)
    }

    /// Ingest articles handed over directly (the API's `POST /documents`): `format_hint` is a
    /// file name whose extension picks the reader (`.json`, `.jsonl`). Each document is matched
    /// and indexed exactly like one from a dropped file, under the location `api:{id}`; the
    /// batch is committed before this returns. Records that are not articles are skipped and
    /// named in the report's warnings; `Ok(Err(_))` when the input holds no article at all.
    pub fn ingest_bytes(
        &mut self,
        format_hint: &str,
        bytes: &[u8],
    ) -> Result<Result<IngestReport, ExtractError>, PipelineError> {
        let mut run = match self.start_ingest(format_hint, bytes) {
            Ok(run) => run,
            Err(refused) => return Ok(Err(refused)),
        };
        while self.continue_ingest(&mut run, Duration::MAX)? {}
        self.finish_ingest(run).map(Ok)
    }

    /// Read a body of articles handed over directly, to be matched and indexed a slice at a
    /// time (`continue_ingest`, then `finish_ingest`), like a file of many articles. Refused
    /// when it holds no article.
    pub fn start_ingest(
        &mut self,
        format_hint: &str,
        bytes: &[u8],
    ) -> Result<IngestRun, ExtractError> {
        match self.extractor.extract(Path::new(format_hint), bytes) {
            Ok(Extraction {
                documents,
                warnings,
            }) => Ok(IngestRun {
                outcomes: Vec::with_capacity(documents.len()),
                documents: documents.into_iter(),
                warnings,
            }),
            Err(e) => {
                // A refused request body, not a file: counted apart from failed files.
                self.metrics.api_documents_rejected();
                Err(e)
            }
        }
    }

    /// Match and index the next documents of a body, for at least one document and until
    /// `budget` is spent. False when every document is done.
    pub fn continue_ingest(
        &mut self,
        run: &mut IngestRun,
        budget: Duration,
    ) -> Result<bool, PipelineError> {
        let started = Instant::now();
        for mut document in run.documents.by_ref() {
            document.path = PathBuf::from(format!("api:{}", document.id));
            document.part = None;
            let id = document.id.clone();
            let location = document.location();
            let result = self.process_document(document)?;
            run.outcomes.push(Ingested {
                id,
                location,
                new: result.is_some(),
                alerts: result.unwrap_or(0),
            });
            if started.elapsed() >= budget {
                break;
            }
        }
        Ok(run.documents.len() > 0)
    }

    /// Commit a body's documents (durable when this returns) and report them.
    pub fn finish_ingest(&mut self, run: IngestRun) -> Result<IngestReport, PipelineError> {
        self.commit()?;
        Ok(IngestReport {
            documents: run.outcomes,
            warnings: run.warnings,
        })
    }

    /// Read, extract, match and index one file. Bad files are logged and quarantined; files
    /// that cannot be read now are retried (when retries are on); only a failure of the index,
    /// the ledger or the alert log is an error.
    pub fn process_file(&mut self, path: &Path) -> Result<FileOutcome, PipelineError> {
        match self.start_file(path)? {
            FileStart::Done(outcome) => Ok(outcome),
            FileStart::Run(run) => self.run_file(run),
        }
    }

    /// Take one file, to be processed a slice of its documents at a time: the daemon answers
    /// requests between slices, so that a file of 20,000 articles does not stall it. Whatever
    /// can be decided at once (unchanged, refused, ignored, unreadable) is `Done`.
    pub fn start_file(&mut self, path: &Path) -> Result<FileStart, PipelineError> {
        let key = path.to_string_lossy().into_owned();
        if self.own_files.contains(path) {
            tracing::debug!(file = %key, "one of lookout's own files: not an article");
            return Ok(FileStart::Done(FileOutcome::OwnFile));
        }
        if !extract::is_supported(path) {
            return self.ignore(key, path).map(FileStart::Done);
        }
        self.stats.files += 1;
        self.begin_file(path)
    }

    /// `process_file` without counting a file taken (retries and re-checks).
    fn take_file(&mut self, path: &Path) -> Result<FileOutcome, PipelineError> {
        match self.begin_file(path)? {
            FileStart::Done(outcome) => Ok(outcome),
            FileStart::Run(run) => self.run_file(run),
        }
    }

    /// Process every document of a file run, then finish it.
    fn run_file(&mut self, mut run: FileRun) -> Result<FileOutcome, PipelineError> {
        while self.continue_file(&mut run, Duration::MAX)? {}
        self.finish_file(run)
    }

    /// Read, check and extract a file; its documents are then processed by `continue_file`.
    fn begin_file(&mut self, path: &Path) -> Result<FileStart, PipelineError> {
        let key = path.to_string_lossy().into_owned();
        let bytes = match read_bytes(path, self.max_file_size) {
            Ok(bytes) => {
                if let Some(attempts) = self.retries.remove(path) {
                    tracing::info!(file = %key, failed_reads = attempts, "the file can be read again; processing it");
                    self.metrics.set_files_awaiting_retry(self.retries.len());
                }
                bytes
            }
            Err(ReadError::NotFound) => {
                // Gone between its event and now (a temp file, a quick delete): nothing to do.
                if self.retries.remove(path).is_some() {
                    tracing::info!(file = %key, "the file that could not be read is gone");
                    self.metrics.set_files_awaiting_retry(self.retries.len());
                }
                tracing::debug!(file = %key, "vanished before it was read");
                return Ok(FileStart::Done(FileOutcome::Vanished));
            }
            Err(error) if error.is_transient() => {
                return Ok(FileStart::Done(self.read_failed(&key, path, error)))
            }
            Err(error) => {
                self.retries.remove(path);
                return self
                    .refuse(&key, String::new(), error.into())
                    .map(FileStart::Done);
            }
        };
        let content_hash = blake3::hash(&bytes).to_hex().to_string();
        let previous = match self.pending_files.get(&key) {
            Some(record) => Some(record.clone()),
            None => self.ledger.file(&key)?,
        };
        if previous
            .as_ref()
            .is_some_and(|p| p.content_hash == content_hash)
        {
            self.stats.unchanged_files += 1;
            self.metrics.file_unchanged();
            tracing::debug!(file = %key, "unchanged since it was processed");
            return Ok(FileStart::Done(FileOutcome::Unchanged));
        }
        let Extraction {
            documents,
            warnings,
        } = match self.extractor.extract(path, &bytes) {
            Ok(extraction) => extraction,
            Err(e) => {
                return self
                    .refuse(&key, content_hash, e.into())
                    .map(FileStart::Done)
            }
        };
        self.report_warnings(&key, &content_hash, documents.len(), &warnings)?;
        Ok(FileStart::Run(FileRun {
            landed: landed_ago(path),
            key,
            content_hash,
            previous,
            ids: Vec::with_capacity(documents.len()),
            documents: documents.into_iter(),
            new: 0,
            known: 0,
            alerts: 0,
        }))
    }

    /// Match and index the next documents of a file run, for at least one document and until
    /// `budget` is spent. False when every document is done.
    pub fn continue_file(
        &mut self,
        run: &mut FileRun,
        budget: Duration,
    ) -> Result<bool, PipelineError> {
        let started = Instant::now();
        for document in run.documents.by_ref() {
            run.ids.push(document.id.clone());
            match self.process_document(document)? {
                Some(raised) => {
                    run.new += 1;
                    run.alerts += raised;
                }
                None => run.known += 1,
            }
            if started.elapsed() >= budget {
                break;
            }
        }
        Ok(run.documents.len() > 0)
    }

    /// Record a file run whose documents are all done (its progress is made durable by the
    /// next commit).
    pub fn finish_file(&mut self, run: FileRun) -> Result<FileOutcome, PipelineError> {
        let FileRun {
            key,
            content_hash,
            previous,
            ids,
            new,
            known,
            alerts,
            landed,
            ..
        } = run;
        // A changed file: the documents it no longer holds go, unless another file holds them
        // (then they are shown there).
        if let Some(previous) = previous {
            let dropped: Vec<DocId> = previous
                .docs
                .into_iter()
                .filter(|d| !ids.contains(d))
                .collect();
            self.leave(&dropped, &key, true)?;
        }
        if alerts > 0 {
            if let Some(landed) = landed {
                self.metrics.observe_drop_to_alert(landed.elapsed());
            }
        }
        let record = FileRecord {
            path: key.clone(),
            content_hash,
            docs: ids,
        };
        self.pending_files.insert(key, record);
        Ok(FileOutcome::Processed { new, known, alerts })
    }

    /// A read failed for a reason that may go away: retried with a backoff (reported on the
    /// first failure and when the error changes), or, without retries, reported as skipped.
    fn read_failed(&mut self, key: &str, path: &Path, error: ReadError) -> FileOutcome {
        self.metrics.file_read_failed();
        if !self.retry_reads {
            self.stats.skipped_files += 1;
            self.metrics.file_failed();
            tracing::error!("skipped {key}: {error}");
            return FileOutcome::ReadFailed(error);
        }
        match self.retries.failed(path, error.to_string(), Instant::now()) {
            Failure::First => tracing::warn!(
                "{key}: {error}; it will be read again (after 1 s, then less and less often, at least every {} s)",
                MAX_RETRY_GAP.as_secs()
            ),
            Failure::Changed { attempts } => {
                tracing::warn!("{key}: {error} ({attempts} failed reads); it will be read again")
            }
            Failure::Again { attempts } => {
                tracing::debug!(file = %key, attempts, "still cannot read: {error}")
            }
        }
        self.metrics.set_files_awaiting_retry(self.retries.len());
        FileOutcome::ReadFailed(error)
    }

    /// Quarantine a file whose processing met a bug (a panic the daemon contained), with the
    /// reason, so that `lookout status` lists it; the same bytes are reported once.
    pub fn quarantine_after_bug(
        &mut self,
        path: &Path,
        reason: String,
    ) -> Result<FileOutcome, PipelineError> {
        let key = path.to_string_lossy().into_owned();
        let content_hash = read_bytes(path, self.max_file_size)
            .map(|bytes| blake3::hash(&bytes).to_hex().to_string())
            .unwrap_or_default();
        // Not retried as a failed read: the same bytes would meet the same bug.
        self.retries.remove(path);
        self.refuse(&key, content_hash, FileError::Internal(reason))
    }

    /// Note a file of a type lookout does not read: said once (INFO) per file, kept for the
    /// status report, not an error and not quarantined.
    fn ignore(&mut self, key: String, path: &Path) -> Result<FileOutcome, PipelineError> {
        self.stats.ignored_files += 1;
        let noted =
            self.pending.ignored.iter().any(|i| i.path == key) || self.ledger.is_ignored(&key)?;
        if noted {
            tracing::debug!(file = %key, "ignored again (a type lookout does not read)");
            return Ok(FileOutcome::Ignored);
        }
        let extension = path
            .extension()
            .map(|e| format!(".{}", e.to_string_lossy()))
            .unwrap_or_default();
        let what = if extension.is_empty() {
            "files without an extension".to_string()
        } else {
            format!("{extension} files")
        };
        tracing::info!(
            file = %key,
            "ignored {key}: lookout does not read {what} (it reads {})",
            extract::SUPPORTED_EXTENSIONS
        );
        self.pending.ignored.push(IgnoredFile {
            path: key,
            extension: extension.to_ascii_lowercase(),
        });
        Ok(FileOutcome::Ignored)
    }

    /// Report the warnings of a file that was read (records skipped, values left out): once
    /// per content at WARN, then kept for the status report until the file goes or changes.
    fn report_warnings(
        &mut self,
        key: &str,
        content_hash: &str,
        documents: usize,
        warnings: &Warnings,
    ) -> Result<(), PipelineError> {
        // This content replaces whatever an earlier one in this batch left pending.
        self.pending.warnings.retain(|w| w.path != key);
        self.pending.quarantined.retain(|q| q.path != key);
        if warnings.is_empty() {
            return Ok(());
        }
        self.stats.files_with_warnings += 1;
        let known = self.ledger.warnings(key)?;
        let skipped = warnings.skipped_records();
        if known.is_some_and(|k| k.content_hash == content_hash) {
            tracing::debug!(file = %key, "still the same warnings: {}", warnings.summary());
        } else {
            let what = if skipped > 0 {
                format!(
                    "{documents} document{} read, {skipped} record{} skipped",
                    if documents == 1 { "" } else { "s" },
                    if skipped == 1 { "" } else { "s" },
                )
            } else {
                format!(
                    "read with {} warning{}",
                    warnings.total(),
                    if warnings.total() == 1 { "" } else { "s" }
                )
            };
            tracing::warn!(
                file = %key,
                documents,
                skipped_records = skipped,
                warnings = warnings.total(),
                "{key}: {what}: {}",
                warnings.summary()
            );
        }
        self.pending.warnings.push(FileWarnings {
            path: key.to_string(),
            content_hash: content_hash.to_string(),
            skipped_records: skipped as u64,
            total: warnings.total() as u64,
            details: warnings.lines(),
            at: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        });
        Ok(())
    }

    /// Report a file that is refused for what it is or says: once per content, then
    /// quarantined.
    fn refuse(
        &mut self,
        key: &str,
        content_hash: String,
        error: FileError,
    ) -> Result<FileOutcome, PipelineError> {
        let reason = error.to_string();
        self.stats.skipped_files += 1;
        self.metrics.file_failed();
        self.pending.warnings.retain(|w| w.path != key);
        let known = self
            .pending
            .quarantined
            .iter()
            .rev()
            .find(|q| q.path == key)
            .cloned()
            .map_or_else(|| self.ledger.quarantined(key), |q| Ok(Some(q)))?;
        let attempts = match known {
            Some(q) if q.content_hash == content_hash && q.reason == reason => {
                tracing::debug!(file = %key, "still failing: {reason}");
                q.attempts + 1
            }
            _ => {
                tracing::error!("skipped {key}: {reason}");
                1
            }
        };
        self.pending.quarantined.push(Quarantined {
            path: key.to_string(),
            content_hash,
            reason,
            attempts,
            at: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        });
        Ok(FileOutcome::Skipped(error))
    }

    /// Match and index one document. `None` when its content is already indexed; otherwise the
    /// number of alerts it raised.
    pub fn process_document(&mut self, document: Document) -> Result<Option<usize>, PipelineError> {
        if self.uncommitted.contains_key(&document.id) || self.index.contains(&document.id)? {
            self.stats.known_documents += 1;
            self.metrics.document_known();
            self.follow_rename(&document)?;
            tracing::debug!(file = %document.location(), id = %document.id, "already indexed");
            return Ok(None);
        }
        // Tests inject a bug here for documents holding the marker (FAILPOINTS=pipeline::document=panic).
        fail::fail_point!(
            "pipeline::document",
            document.body.contains("lookout-failpoint"),
            |_| Ok(None)
        );
        let analysis = DocAnalysis::new(&document, &mut self.analyzer);
        let matches = self.percolator.percolate(&analysis);
        let raised = self.raise_alerts(&document, &analysis, &matches, false)?;
        self.writer.add(&document)?;
        self.uncommitted.insert(
            document.id.clone(),
            document.path.to_string_lossy().into_owned(),
        );
        self.stats.new_documents += 1;
        self.metrics.document_ingested();
        self.stats.alerts += raised as u64;
        tracing::debug!(file = %document.location(), id = %document.id, alerts = raised, "indexed");
        Ok(Some(raised))
    }

    /// Write one alert for each of the saved queries `matches` (indexes into the queries) that
    /// never alerted on this document's content nor at its location: alert log first, then the
    /// tracing line, then a nudge to the webhooks. Returns how many were written.
    fn raise_alerts(
        &mut self,
        document: &Document,
        analysis: &DocAnalysis,
        matches: &[usize],
        backfill: bool,
    ) -> Result<usize, PipelineError> {
        if matches.is_empty() {
            return Ok(0);
        }
        let location = document.location();
        // Usually neither this content nor this path ever alerted: only a crash before the
        // commit, a changed file or a backfill finds queries here.
        let doc_alerted = self.ledger.doc_alerts(&document.id)?;
        let path_alerted = self.ledger.path_alerts(&location)?;
        let mut raised = 0;
        for &query_index in matches {
            let saved = &self.queries[query_index];
            let alert_id = alerts::alert_id(&saved.name, &document.id.0);
            let path_query = (location.clone(), saved.name.clone());
            if self.pending_alert_ids.contains(&alert_id)
                || self.pending_path_alerts.contains(&path_query)
                || doc_alerted.contains(&saved.name)
                || path_alerted.contains(&saved.name)
            {
                continue;
            }
            let summary = summarize(&saved.query, document, analysis);
            let alert = Alert {
                alert_id: alert_id.clone(),
                at: Utc::now(),
                query: AlertQuery {
                    name: saved.name.clone(),
                    text: saved.text.clone(),
                },
                doc: AlertDoc {
                    id: document.id.0.clone(),
                    path: location.clone(),
                    title: document.title.clone(),
                    date: document.date,
                    source: document.source.clone(),
                    url: document.url.clone(),
                },
                matched: Matched {
                    terms: summary.terms,
                    snippet: summary.snippet,
                },
                backfill,
            };
            self.alert_log.append(&alert)?;
            tracing::info!(
                query = %saved.name,
                doc = %alert.doc.path,
                title = %alert.doc.title,
                terms = ?alert.matched.terms,
                alert_id = %alert.alert_id,
                backfill,
                "alert: '{}' matched {}", saved.name, alert.doc.path
            );
            if let Some(delivery) = &self.webhooks {
                delivery.notify();
            }
            self.alerts_written.send_modify(|count| *count += 1);
            let kind = if backfill {
                AlertKind::Backfill
            } else {
                AlertKind::Live
            };
            self.metrics.alert(&saved.name, kind);
            self.metrics.sink_delivered(crate::metrics::ALERT_LOG_SINK);
            self.pending
                .alerts
                .push((alert_id.clone(), location.clone(), saved.name.clone()));
            self.pending_alert_ids.insert(alert_id);
            self.pending_path_alerts.insert(path_query);
            raised += 1;
        }
        Ok(raised)
    }

    /// A known document under a new path: when the path the index shows it at no longer holds
    /// it (a rename, or that file was deleted or changed), the index entry moves here. No alert
    /// either way.
    fn follow_rename(&mut self, document: &Document) -> Result<(), PipelineError> {
        let here = document.path.to_string_lossy();
        let Some(shown) = self.shown_at(&document.id)? else {
            return Ok(());
        };
        if shown == here || self.still_holds(&shown, &document.id)? {
            return Ok(());
        }
        self.show_at(document)?;
        tracing::info!(from = %shown, to = %document.location(), "renamed");
        Ok(())
    }

    /// Where the index shows a document (its stored path), counting this batch's additions.
    fn shown_at(&self, id: &DocId) -> Result<Option<String>, PipelineError> {
        if let Some(path) = self.uncommitted.get(id) {
            return Ok(Some(path.clone()));
        }
        Ok(self
            .index
            .stored_document(id)?
            .map(|d| d.path.to_string_lossy().into_owned()))
    }

    /// Whether the file at `path` still holds the document: its last processed content held
    /// it, it is not being forgotten, and it is not gone.
    fn still_holds(&self, path: &str, id: &DocId) -> Result<bool, PipelineError> {
        let listed = match self.pending_files.get(path) {
            Some(record) => record.docs.contains(id),
            None if self.removed_files.contains(path) => false,
            None => self
                .ledger
                .file(path)?
                .is_some_and(|record| record.docs.contains(id)),
        };
        Ok(listed && !is_gone(Path::new(path)))
    }

    /// Replace the index entry of `document`'s id with `document` (its path and part).
    fn show_at(&mut self, document: &Document) -> Result<(), PipelineError> {
        self.writer.delete(&document.id);
        self.writer.add(document)?;
        self.uncommitted.insert(
            document.id.clone(),
            document.path.to_string_lossy().into_owned(),
        );
        Ok(())
    }

    /// The paths other than `except` that still hold the document.
    fn holders(&self, id: &DocId, except: &str) -> Result<Vec<String>, PipelineError> {
        let mut candidates: Vec<String> = self
            .pending_files
            .values()
            .filter(|f| f.path != except && f.docs.contains(id))
            .map(|f| f.path.clone())
            .collect();
        for path in self.ledger.paths_of(id, except)? {
            if !candidates.contains(&path) {
                candidates.push(path);
            }
        }
        let mut holders = Vec::with_capacity(candidates.len());
        for path in candidates {
            if self.still_holds(&path, id)? {
                holders.push(path);
            }
        }
        Ok(holders)
    }

    /// The file at `leaving` no longer holds these documents (it was deleted, or changed).
    /// Each one another file still holds is shown there if the index showed it at `leaving`;
    /// each one no file holds is removed from the index when `remove_orphans`.
    fn leave(
        &mut self,
        ids: &[DocId],
        leaving: &str,
        remove_orphans: bool,
    ) -> Result<(), PipelineError> {
        let mut moves: Vec<(String, Vec<DocId>)> = Vec::new();
        for id in ids {
            let holders = self.holders(id, leaving)?;
            let Some(holder) = holders.into_iter().next() else {
                if remove_orphans {
                    self.writer.delete(id);
                    self.uncommitted.remove(id);
                    self.stats.removed_documents += 1;
                }
                continue;
            };
            if self.shown_at(id)?.as_deref() != Some(leaving) {
                continue;
            }
            match moves.iter_mut().find(|(path, _)| *path == holder) {
                Some((_, ids)) => ids.push(id.clone()),
                None => moves.push((holder, vec![id.clone()])),
            }
        }
        // Each holder is read once, however many of its documents move.
        for (holder, ids) in moves {
            // Read as it was read when processed (the configured `[json]` keys make the ids).
            let read = read_bytes(Path::new(&holder), self.max_file_size)
                .map_err(FileError::from)
                .and_then(|bytes| Ok(self.extractor.extract(Path::new(&holder), &bytes)?));
            let documents = match read {
                Ok(extraction) => extraction.documents,
                Err(error) => {
                    tracing::debug!(file = %holder, "cannot show documents at this file: {error}");
                    continue;
                }
            };
            for document in documents.iter().filter(|d| ids.contains(&d.id)) {
                if self.uncommitted.get(&document.id).map(String::as_str) == Some(&holder) {
                    continue; // a file holding the same article twice
                }
                self.show_at(document)?;
                tracing::info!(from = %leaving, to = %document.location(), "document now shown at another file that holds it");
            }
        }
        Ok(())
    }

    /// Compare the ledger with the watch folders: files that are gone are forgotten (their
    /// documents kept, or removed with `on_delete = "remove"`; either way shown at another
    /// file that still holds them). Deletions under a watch folder that is missing, replaced
    /// or emptied all at once are held until it is back: a vanished folder is not a mass
    /// delete. Only a definite "not found" is a deletion (a file behind a folder that cannot
    /// be searched for a moment is not gone).
    pub fn reconcile(&mut self) -> Result<usize, PipelineError> {
        let sound = self.watch_folders.assess(&mut self.ledger)?;
        let folders = self.watch_folders.paths();
        let watched = |path: &Path| folders.iter().any(|f| path.starts_with(f));
        let mut gone_paths = Vec::new();
        for path in self.ledger.file_paths()? {
            let p = Path::new(&path);
            if !sound.iter().any(|f| p.starts_with(&f.path)) {
                continue; // under a held folder, or outside the watch folders (`ingest`)
            }
            if self.pending_files.contains_key(&path)
                || self.removed_files.contains(&path)
                || !is_gone(p)
            {
                continue;
            }
            gone_paths.push(path);
        }
        // Quarantined files that are gone leave the quarantine; ignored ones are forgotten.
        let mut released = Vec::new();
        for q in self.ledger.all_quarantined()? {
            let p = Path::new(&q.path);
            let held = watched(p) && !sound.iter().any(|f| p.starts_with(&f.path));
            if !held && is_gone(p) && !self.pending.released.contains(&q.path) {
                released.push(q.path);
            }
        }
        let mut unignored = Vec::new();
        for path in self.ledger.ignored_paths()? {
            let p = Path::new(&path);
            let held = watched(p) && !sound.iter().any(|f| p.starts_with(&f.path));
            if !held && is_gone(p) && !self.pending.unignored.contains(&path) {
                unignored.push(path);
            }
        }
        // A folder that went away during the walk: its files are not gone, it is.
        let still = WatchFolders::still_sound(&sound);
        let under_still = |path: &str| still.iter().any(|f| Path::new(path).starts_with(f));
        gone_paths.retain(|p| under_still(p));
        released.retain(|p| under_still(p) || !watched(Path::new(p)));
        unignored.retain(|p| under_still(p) || !watched(Path::new(p)));
        self.pending.released.extend(released);
        self.pending.unignored.extend(unignored);

        let gone = gone_paths.len();
        for path in gone_paths {
            if let Some(record) = self.ledger.file(&path)? {
                self.leave(&record.docs, &path, self.on_delete == OnDelete::Remove)?;
            }
            self.retries.remove(Path::new(&path));
            tracing::info!(file = %path, on_delete = ?self.on_delete, "file deleted");
            self.removed_files.insert(path.clone());
            self.pending.removed_files.push(path);
        }
        Ok(gone)
    }

    /// Commit if a batch is due. Call this regularly.
    pub fn tick(&mut self) -> Result<(), PipelineError> {
        let has_work =
            self.writer.pending() > 0 || !self.pending_files.is_empty() || !self.pending.is_empty();
        if has_work
            && (self.writer.pending() >= COMMIT_DOCS
                || self.last_commit.elapsed() >= self.commit_every)
        {
            self.commit()?;
        }
        Ok(())
    }

    /// Commit only if the batch is full or the commit is twice overdue (for a caller that
    /// prefers to commit when idle).
    pub fn tick_if_overdue(&mut self) -> Result<(), PipelineError> {
        if self.writer.pending() >= COMMIT_DOCS
            || self.last_commit.elapsed() >= 2 * self.commit_every
        {
            self.tick()?;
        }
        Ok(())
    }

    /// How long until a timed commit is due, when there is work pending.
    pub fn next_commit_in(&self) -> Option<Duration> {
        let has_work =
            self.writer.pending() > 0 || !self.pending_files.is_empty() || !self.pending.is_empty();
        has_work.then(|| self.commit_every.saturating_sub(self.last_commit.elapsed()))
    }

    /// Make the index durable, then the alert log, then record the progress in the ledger.
    pub fn commit(&mut self) -> Result<(), PipelineError> {
        self.writer.commit()?;
        self.alert_log.sync()?;
        let mut progress = std::mem::take(&mut self.pending);
        progress.files = self.pending_files.drain().map(|(_, f)| f).collect();
        progress.alert_log_offset = std::fs::metadata(&self.alert_log_path)
            .map(|m| m.len())
            .unwrap_or(0);
        self.ledger.record(&progress)?;
        self.pending_alert_ids.clear();
        self.pending_path_alerts.clear();
        self.removed_files.clear();
        self.uncommitted.clear();
        self.last_commit = Instant::now();
        self.update_gauges()?;
        self.maybe_replan()
    }

    /// The gauges a commit moves: documents, index size, quarantine, last commit.
    fn update_gauges(&self) -> Result<(), PipelineError> {
        self.metrics.set_documents(self.index.num_docs());
        self.metrics.set_index_size_bytes(self.index.size_bytes());
        self.metrics
            .set_quarantined_files(self.ledger.quarantined_count()?);
        self.metrics.set_last_commit(std::time::SystemTime::now());
        self.metrics.set_saved_queries(self.queries.len());
        Ok(())
    }

    fn maybe_replan(&mut self) -> Result<(), PipelineError> {
        let docs = self.index.num_docs();
        if docs >= self.next_replan {
            let started = Instant::now();
            self.term_stats = self.index.term_stats()?;
            self.plan();
            self.next_replan = docs * 2;
            tracing::info!(
                documents = docs,
                queries = self.queries.len(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "re-planned the saved queries on the index's term statistics"
            );
        }
        Ok(())
    }

    /// Commit and hand back the webhook delivery for a graceful shutdown.
    pub fn finish(mut self) -> Result<(Stats, Option<LogDelivery>), PipelineError> {
        self.commit()?;
        Ok((self.stats.clone(), self.webhooks.take()))
    }
}

/// Start delivering the alert log to the configured webhooks, routed by each saved query's
/// `webhooks` (every webhook when it has none), counting in `metrics`.
pub fn start_delivery(config: &Config, metrics: Metrics) -> Result<LogDelivery, WebhookError> {
    webhooks::start_new_webhooks_at_log_end(
        &config.alert_log,
        &config.state_dir,
        &config.webhooks,
    )?;
    LogDelivery::start(
        config.alert_log.clone(),
        config.state_dir.clone(),
        config.webhooks.clone(),
        config.webhook_routes(),
        RetryPolicy::default(),
        metrics,
    )
}

/// Bring the ledger's alert tables up to the end of the alert log (what a crash after the log
/// write and before the ledger transaction left behind).
fn catch_up(ledger: &mut Ledger, alert_log: &Path) -> Result<(), PipelineError> {
    let length = std::fs::metadata(alert_log).map(|m| m.len()).unwrap_or(0);
    let mut offset = ledger.alert_log_offset()?;
    if offset > length {
        tracing::warn!(log = %alert_log.display(), "the alert log is shorter than the ledger remembers (replaced?): reading it all again");
        offset = 0;
    }
    if offset == length {
        return Ok(());
    }
    let mut follower = alerts::follow(alert_log, offset);
    let alerts = follower.poll()?;
    let caught = alerts.len();
    let progress = Progress {
        alerts: alerts
            .into_iter()
            .map(|a| (a.alert_id, a.doc.path, a.query.name))
            .collect(),
        alert_log_offset: follower.offset(),
        ..Default::default()
    };
    ledger.record(&progress)?;
    tracing::info!(alerts = caught, "ledger caught up with the alert log");
    Ok(())
}

/// When a file landed, as far as its modification time tells: for drop-to-alert latency. None
/// for times in the future or more than an hour ago (a copy that kept an old time).
fn landed_ago(path: &Path) -> Option<Instant> {
    let modified = std::fs::metadata(path).ok()?.modified().ok()?;
    let age = std::time::SystemTime::now().duration_since(modified).ok()?;
    (age < Duration::from_secs(3600)).then(|| Instant::now() - age)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::compile_queries;
    use crate::document::DocumentFields;

    fn saved(specs: &[(&str, &str)]) -> Vec<SavedQuery> {
        let specs: Vec<crate::config::QuerySpec> = specs
            .iter()
            .map(|(name, text)| crate::config::QuerySpec {
                name: name.to_string(),
                text: text.to_string(),
                webhooks: None,
                origin: "test".into(),
                file: "test".into(),
            })
            .collect();
        let (good, bad) = compile_queries(&specs, Default::default());
        assert!(bad.is_empty());
        good
    }

    fn article(body: &str) -> Document {
        DocumentFields {
            body: body.into(),
            ..Default::default()
        }
        .into_document(PathBuf::from(format!("/w/{}.txt", body.len())), None)
    }

    /// The queries that alerted on the last document, sorted.
    fn alerted(dir: &Path, before: usize) -> Vec<String> {
        let mut names: Vec<String> = alerts::read_alerts(&dir.join("alerts.jsonl"))
            .unwrap()
            .into_iter()
            .skip(before)
            .map(|a| a.query.name)
            .collect();
        names.sort();
        names
    }

    #[test]
    fn queries_changed_in_place_alert_by_their_new_names_and_texts() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::parse(&dir.path().join("config.toml"), "").unwrap();
        for engine in [Engine::Presearch, Engine::Brute] {
            let home = dir.path().join(format!("{engine:?}"));
            let config = Config {
                index: home.join("index"),
                alert_log: home.join("alerts.jsonl"),
                state_dir: home.join("state"),
                ..config.clone()
            };
            let mut pipeline = Pipeline::open(
                &config,
                saved(&[("a", "niger"), ("b", "mali"), ("c", "junta"), ("d", "army")]),
                engine,
                None,
            )
            .unwrap();
            pipeline
                .process_document(article("niger mali junta army"))
                .unwrap();
            assert_eq!(alerted(&home, 0), ["a", "b", "c", "d"]);
            // Remove a and c, change d, keep b, add e.
            pipeline.set_queries(saved(&[("d", "coup"), ("b", "mali"), ("e", "army")]));
            assert_eq!(pipeline.query_count(), 3);
            pipeline
                .process_document(article("niger mali junta army coup"))
                .unwrap();
            assert_eq!(alerted(&home, 4), ["b", "d", "e"]);
        }
    }
}
