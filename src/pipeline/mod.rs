//! One file in, documents indexed and alerts raised: the path every article takes, whether it
//! was dropped into the watch folder (daemon) or named on the command line (`lookout ingest`).
//!
//! Per file: skip it if the ledger already holds these exact bytes for this path; extract it
//! (a failure is reported once per content and quarantined). Per document: skip it if its
//! content is already indexed (a rename or a copy: at most the stored path is updated); match it
//! against every saved query; write each new alert (alert log first, then the tracing line and
//! the webhooks); then add it to the index. A file that changed replaces its old documents.
//! Alerts never wait for an index commit.
//!
//! Durability: a commit makes the index durable, then fsyncs the alert log, then records the
//! progress in the ledger in one transaction. At start-up the ledger catches up with the alert
//! log, so a crash anywhere re-processes at most the files since the last commit, and the alert
//! ids already in the log keep them from alerting twice.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;

use crate::analysis::Analyzer;
use crate::config::{compile_queries, Config, OnDelete, QueryProblem, SavedQuery};
use crate::document::{DocId, Document};
use crate::extract;
use crate::index::{DocWriter, IndexError, LookoutIndex};
use crate::ledger::{FileRecord, Ledger, LedgerError, Progress, Quarantined};
use crate::matcher::{summarize, DocAnalysis, Engine, Percolator, TermStats};
use crate::metrics::{AlertKind, Metrics};
use crate::sinks::{
    self, Alert, AlertDoc, AlertLog, AlertQuery, LogDelivery, Matched, RetryPolicy, SinkError,
};

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// What became of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileOutcome {
    /// Read and processed: how many of its documents were new, and how many alerts they raised.
    Processed {
        new: usize,
        known: usize,
        alerts: usize,
    },
    /// The same bytes were already processed at this path.
    Unchanged,
    /// Refused, with the one-line reason (logged once per content).
    Skipped(String),
}

/// What a backfill found: documents the query matches, and the alerts newly raised.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backfill {
    pub matched: usize,
    pub alerts: usize,
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
    pub new_documents: u64,
    pub known_documents: u64,
    pub removed_documents: u64,
    pub alerts: u64,
}

/// Commit at the latest after this many documents, whatever the timer says.
const COMMIT_DOCS: usize = 10_000;

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
    /// Documents added since the last commit (not yet visible to `index.contains`).
    uncommitted: HashSet<DocId>,
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
    on_delete: OnDelete,
    watch_roots: Vec<PathBuf>,
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
            uncommitted: HashSet::new(),
            last_commit: Instant::now(),
            commit_every: config.commit_interval,
            webhooks,
            alerts_written: tokio::sync::watch::Sender::new(0),
            term_stats,
            metrics: Metrics::default(),
            max_file_size: config.max_file_size,
            on_delete: config.on_delete,
            watch_roots: config.watch.clone(),
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
    pub fn set_file_rules(&mut self, on_delete: OnDelete, max_file_size: u64) {
        self.on_delete = on_delete;
        self.max_file_size = max_file_size;
    }

    /// Swap the webhook delivery (a config reload); the old one is handed back to be shut down.
    pub fn replace_delivery(&mut self, delivery: Option<LogDelivery>) -> Option<LogDelivery> {
        std::mem::replace(&mut self.webhooks, delivery)
    }

    /// Webhook delivery counts, when webhooks are configured.
    pub fn delivery_stats(&self) -> Option<sinks::DeliveryStats> {
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

    /// Alert on the documents already in the index that the saved query `name` matches: the
    /// documents a search for it returns, so that a backfill alerts exactly where search finds.
    /// Each alert is marked `backfill` and raised once, like any other (a second backfill
    /// raises none). Commits first (so that the documents still in the batch are searched) and
    /// after (so that the alerts are durable when this returns).
    pub fn backfill(&mut self, name: &str) -> Result<Backfill, PipelineError> {
        let Some(query_index) = self.queries.iter().position(|q| q.name == name) else {
            return Ok(Backfill::default());
        };
        self.commit()?;
        let documents = self
            .index
            .matching_documents(&self.queries[query_index].query)?;
        let mut outcome = Backfill {
            matched: documents.len(),
            alerts: 0,
        };
        for document in &documents {
            let analysis = DocAnalysis::new(document, &mut self.analyzer);
            outcome.alerts += self.raise_alerts(document, &analysis, &[query_index], true)?;
        }
        self.stats.alerts += outcome.alerts as u64;
        self.commit()?;
        tracing::info!(query = %name, matched = outcome.matched, alerts = outcome.alerts, "backfill done");
        Ok(outcome)
    }

    /// Ingest articles handed over directly (the API's `POST /documents`): `format_hint` is a
    /// file name whose extension picks the reader (`.json`, `.jsonl`). Each document is matched
    /// and indexed exactly like one from a dropped file, under the location `api:{id}`; the
    /// batch is committed before this returns. `Ok(Err(reason))` when the input is refused.
    pub fn ingest_bytes(
        &mut self,
        format_hint: &str,
        bytes: &[u8],
    ) -> Result<Result<Vec<Ingested>, String>, PipelineError> {
        let documents = match extract::extract(Path::new(format_hint), bytes) {
            Ok(documents) => documents,
            Err(e) => {
                self.stats.skipped_files += 1;
                self.metrics.file_failed();
                return Ok(Err(e.to_string()));
            }
        };
        let mut outcomes = Vec::with_capacity(documents.len());
        for mut document in documents {
            document.path = PathBuf::from(format!("api:{}", document.id));
            document.part = None;
            let id = document.id.clone();
            let location = document.location();
            let result = self.process_document(document)?;
            outcomes.push(Ingested {
                id,
                location,
                new: result.is_some(),
                alerts: result.unwrap_or(0),
            });
        }
        self.commit()?;
        Ok(Ok(outcomes))
    }

    /// Read, extract, match and index one file. Bad files are logged and quarantined; only a
    /// failure of the index, the ledger or the alert log is an error.
    pub fn process_file(&mut self, path: &Path) -> Result<FileOutcome, PipelineError> {
        self.stats.files += 1;
        let key = path.to_string_lossy().into_owned();
        let bytes = match read_bytes(path, self.max_file_size) {
            Ok(bytes) => bytes,
            Err(_) if !path.exists() => {
                // Gone between its event and now (a temp file, a quick delete): nothing to do.
                tracing::debug!(file = %key, "vanished before it was read");
                return Ok(FileOutcome::Skipped("vanished before it was read".into()));
            }
            Err(reason) => return self.refuse(&key, String::new(), reason),
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
            return Ok(FileOutcome::Unchanged);
        }
        let documents = match extract::extract(path, &bytes) {
            Ok(documents) => documents,
            Err(e) => return self.refuse(&key, content_hash, e.to_string()),
        };
        let landed = landed_ago(path);
        let (mut new, mut known, mut alerts) = (0, 0, 0);
        let mut ids = Vec::with_capacity(documents.len());
        for document in documents {
            ids.push(document.id.clone());
            match self.process_document(document)? {
                Some(raised) => {
                    new += 1;
                    alerts += raised;
                }
                None => known += 1,
            }
        }
        // A changed file: the documents it no longer holds go, unless another file holds them.
        if let Some(previous) = previous {
            for old in previous.docs.iter().filter(|d| !ids.contains(d)) {
                self.remove_if_orphan(old, &key)?;
            }
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

    /// Report a file that cannot be read or parsed: once per content, then quarantined.
    fn refuse(
        &mut self,
        key: &str,
        content_hash: String,
        reason: String,
    ) -> Result<FileOutcome, PipelineError> {
        self.stats.skipped_files += 1;
        self.metrics.file_failed();
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
            reason: reason.clone(),
            attempts,
            at: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        });
        Ok(FileOutcome::Skipped(reason))
    }

    /// Match and index one document. `None` when its content is already indexed; otherwise the
    /// number of alerts it raised.
    pub fn process_document(&mut self, document: Document) -> Result<Option<usize>, PipelineError> {
        if self.uncommitted.contains(&document.id) || self.index.contains(&document.id)? {
            self.stats.known_documents += 1;
            self.metrics.document_known();
            self.follow_rename(&document)?;
            tracing::debug!(file = %document.location(), id = %document.id, "already indexed");
            return Ok(None);
        }
        let analysis = DocAnalysis::new(&document, &mut self.analyzer);
        let matches = self.percolator.percolate(&analysis);
        let raised = self.raise_alerts(&document, &analysis, &matches, false)?;
        self.writer.add(&document)?;
        self.uncommitted.insert(document.id.clone());
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
            let alert_id = sinks::alert_id(&saved.name, &document.id.0);
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

    /// A known document under a new path: when every path it was seen at is gone (a rename),
    /// the index entry moves to the new path. No alert either way.
    fn follow_rename(&mut self, document: &Document) -> Result<(), PipelineError> {
        if self.uncommitted.contains(&document.id) {
            return Ok(());
        }
        let key = document.path.to_string_lossy();
        let others = self.ledger.paths_of(&document.id, &key)?;
        let pending_elsewhere = self
            .pending_files
            .values()
            .any(|f| f.path != key && f.docs.contains(&document.id));
        if !others.is_empty() && !pending_elsewhere && others.iter().all(|p| !Path::new(p).exists())
        {
            self.writer.delete(&document.id);
            self.writer.add(document)?;
            self.uncommitted.insert(document.id.clone());
            tracing::info!(from = %others.join(", "), to = %document.location(), "renamed");
        }
        Ok(())
    }

    /// Remove a document from the index unless another file still holds it.
    fn remove_if_orphan(&mut self, id: &DocId, except: &str) -> Result<(), PipelineError> {
        let held_elsewhere = !self.ledger.paths_of(id, except)?.is_empty()
            || self
                .pending_files
                .values()
                .any(|f| f.path != except && f.docs.contains(id));
        if !held_elsewhere {
            self.writer.delete(id);
            self.uncommitted.remove(id);
            self.stats.removed_documents += 1;
        }
        Ok(())
    }

    /// Compare the ledger with the watch folders: files that are gone are forgotten (their
    /// documents kept, or removed with `on_delete = "remove"`). A watch folder that is missing
    /// is skipped: a vanished folder is not a mass delete.
    pub fn reconcile(&mut self) -> Result<usize, PipelineError> {
        let roots: Vec<PathBuf> = self
            .watch_roots
            .iter()
            .filter(|r| r.is_dir())
            .cloned()
            .collect();
        let mut gone = 0;
        for path in self.ledger.file_paths()? {
            let p = Path::new(&path);
            if !roots.iter().any(|r| p.starts_with(r)) || p.exists() {
                continue;
            }
            if self.pending_files.contains_key(&path) {
                continue;
            }
            gone += 1;
            if self.on_delete == OnDelete::Remove {
                if let Some(record) = self.ledger.file(&path)? {
                    for id in &record.docs {
                        self.remove_if_orphan(id, &path)?;
                    }
                }
            }
            tracing::info!(file = %path, on_delete = ?self.on_delete, "file deleted");
            self.pending.removed_files.push(path);
        }
        // Quarantined files that are gone leave the quarantine.
        for q in self.ledger.all_quarantined()? {
            if !Path::new(&q.path).exists() && !self.pending.released.contains(&q.path) {
                self.pending.released.push(q.path);
            }
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
pub fn start_delivery(config: &Config, metrics: Metrics) -> Result<LogDelivery, SinkError> {
    sinks::start_new_webhooks_at_log_end(&config.alert_log, &config.state_dir, &config.webhooks)?;
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
    let mut follower = sinks::follow(alert_log, offset);
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

/// Read a file's bytes, refusing what is not a regular file or too large.
fn read_bytes(path: &Path, max_file_size: u64) -> Result<Vec<u8>, String> {
    let metadata = std::fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    if !metadata.is_file() {
        return Err("not a regular file".into());
    }
    if metadata.len() > max_file_size {
        return Err(format!(
            "too large: {} bytes (max_file_size is {} bytes)",
            metadata.len(),
            max_file_size
        ));
    }
    std::fs::read(path).map_err(|e| format!("cannot read: {e}"))
}

/// Read and extract a file, as one line of reason on failure.
pub fn read_documents(path: &Path, max_file_size: u64) -> Result<Vec<Document>, String> {
    let bytes = read_bytes(path, max_file_size)?;
    extract::extract(path, &bytes).map_err(|e| e.to_string())
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
        let mut names: Vec<String> = sinks::read_alerts(&dir.join("alerts.jsonl"))
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
