//! One file in, documents indexed and alerts raised: the path every article takes, whether it
//! was dropped into the watch folder (daemon) or named on the command line (`lookout ingest`).
//!
//! Order per document: skip it if its content is already indexed; match it against every saved
//! query; write each new alert (alert log first, then the tracing line and the webhooks); then
//! add it to the index. Alerts never wait for an index commit. A crash between the alert and
//! the commit re-processes the document on restart, and the alert ids already in the log keep
//! it from alerting twice.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;

use crate::analysis::Analyzer;
use crate::config::{compile_queries, Config, QueryProblem, SavedQuery};
use crate::document::{DocId, Document};
use crate::extract;
use crate::index::{DocWriter, IndexError, LookoutIndex};
use crate::matcher::{summarize, DocAnalysis, Engine, Percolator};
use crate::sinks::{
    self, Alert, AlertDoc, AlertLog, AlertQuery, Matched, SinkError, WebhookDispatcher,
};

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Sink(#[from] SinkError),
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
    /// Refused, with the one-line reason (already logged).
    Skipped(String),
}

/// Counters over the pipeline's life.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub files: u64,
    pub skipped_files: u64,
    pub new_documents: u64,
    pub known_documents: u64,
    pub alerts: u64,
}

pub struct Pipeline {
    index: LookoutIndex,
    writer: DocWriter,
    queries: Vec<SavedQuery>,
    percolator: Box<dyn Percolator>,
    engine: Engine,
    /// Re-plan the percolator from the index's term statistics when it holds this many
    /// documents (doubling each time): early plans are made on few or no statistics.
    next_replan: u64,
    analyzer: Analyzer,
    alert_log: AlertLog,
    /// Alert ids already in the log: never written twice.
    alerted: HashSet<String>,
    /// Documents added since the last commit (not yet visible to `index.contains`).
    uncommitted: HashSet<DocId>,
    webhooks: Option<WebhookDispatcher>,
    webhook_names: Vec<String>,
    max_file_size: u64,
    pub stats: Stats,
}

impl Pipeline {
    /// Compile the configured saved queries (the ones that do not parse are logged, named and
    /// left out, and returned), start the webhooks, and open the index and the alert log.
    /// Call from inside a tokio runtime: webhook deliveries run on it.
    pub fn from_config(
        config: &Config,
        engine: Engine,
    ) -> Result<(Pipeline, Vec<QueryProblem>), PipelineError> {
        let (queries, problems) = compile_queries(&config.queries);
        for problem in &problems {
            tracing::error!("{problem} (left out; fix it and restart)");
        }
        let webhooks = if config.webhooks.is_empty() {
            None
        } else {
            Some(WebhookDispatcher::start(config.webhooks.clone())?)
        };
        let pipeline = Pipeline::open(config, queries, engine, webhooks)?;
        Ok((pipeline, problems))
    }

    /// Open the index (taking its writer lock) and the alert log. `webhooks` must be started
    /// inside a tokio runtime by the caller (it may be `None` when there are none).
    pub fn open(
        config: &Config,
        queries: Vec<SavedQuery>,
        engine: Engine,
        webhooks: Option<WebhookDispatcher>,
    ) -> Result<Pipeline, PipelineError> {
        let index = LookoutIndex::open_or_create(&config.index)?;
        let writer = index.writer(config.commit_interval, 10_000)?;
        let alert_log = AlertLog::open(&config.alert_log)?;
        let alerted = alert_ids_in_log(&config.alert_log)?;
        let stats = index.term_stats()?;
        let next_replan = stats.docs().max(500) * 2;
        let percolator = engine.build(queries.iter().map(|q| q.query.clone()).collect(), &stats);
        Ok(Pipeline {
            index,
            writer,
            queries,
            percolator,
            engine,
            next_replan,
            analyzer: Analyzer::default(),
            alert_log,
            alerted,
            uncommitted: HashSet::new(),
            webhooks,
            webhook_names: config.webhooks.iter().map(|w| w.name.clone()).collect(),
            max_file_size: config.max_file_size,
            stats: Stats::default(),
        })
    }

    pub fn index(&self) -> &LookoutIndex {
        &self.index
    }

    /// Number of saved queries loaded.
    pub fn query_count(&self) -> usize {
        self.queries.len()
    }

    /// Read, extract, match and index one file. Bad files are logged and skipped; only a
    /// failure of the index or the alert log is an error.
    pub fn process_file(&mut self, path: &Path) -> Result<FileOutcome, PipelineError> {
        self.stats.files += 1;
        let documents = match read_documents(path, self.max_file_size) {
            Ok(documents) => documents,
            Err(reason) => {
                self.stats.skipped_files += 1;
                tracing::error!("skipped {}: {reason}", path.display());
                return Ok(FileOutcome::Skipped(reason));
            }
        };
        let (mut new, mut known, mut alerts) = (0, 0, 0);
        for document in documents {
            match self.process_document(document)? {
                Some(raised) => {
                    new += 1;
                    alerts += raised;
                }
                None => known += 1,
            }
        }
        Ok(FileOutcome::Processed { new, known, alerts })
    }

    /// Match and index one document. `None` when its content is already indexed; otherwise the
    /// number of alerts it raised.
    pub fn process_document(&mut self, document: Document) -> Result<Option<usize>, PipelineError> {
        if self.uncommitted.contains(&document.id) || self.index.contains(&document.id)? {
            self.stats.known_documents += 1;
            tracing::debug!(file = %document.location(), id = %document.id, "already indexed");
            return Ok(None);
        }
        let analysis = DocAnalysis::new(&document, &mut self.analyzer);
        let mut raised = 0;
        for query_index in self.percolator.percolate(&analysis) {
            let saved = &self.queries[query_index];
            let alert_id = sinks::alert_id(&saved.name, &document.id.0);
            if self.alerted.contains(&alert_id) {
                continue;
            }
            let summary = summarize(&saved.query, &document, &analysis);
            let alert = Alert {
                alert_id: alert_id.clone(),
                at: Utc::now(),
                query: AlertQuery {
                    name: saved.name.clone(),
                    text: saved.text.clone(),
                },
                doc: AlertDoc {
                    id: document.id.0.clone(),
                    path: document.location(),
                    title: document.title.clone(),
                    date: document.date,
                    source: document.source.clone(),
                    url: document.url.clone(),
                },
                matched: Matched {
                    terms: summary.terms,
                    snippet: summary.snippet,
                },
            };
            self.alert_log.append(&alert)?;
            tracing::info!(
                query = %saved.name,
                doc = %alert.doc.path,
                title = %alert.doc.title,
                terms = ?alert.matched.terms,
                alert_id = %alert.alert_id,
                "alert: '{}' matched {}", saved.name, alert.doc.path
            );
            if let Some(dispatcher) = &self.webhooks {
                let targets = saved.webhooks.as_ref().unwrap_or(&self.webhook_names);
                for hook in targets {
                    dispatcher.send(hook, &alert);
                }
            }
            self.alerted.insert(alert_id);
            raised += 1;
        }
        self.writer.add(&document)?;
        self.uncommitted.insert(document.id.clone());
        self.stats.new_documents += 1;
        self.stats.alerts += raised as u64;
        tracing::debug!(file = %document.location(), id = %document.id, alerts = raised, "indexed");
        Ok(Some(raised))
    }

    /// Commit if a batch is due. Call this regularly.
    pub fn tick(&mut self) -> Result<(), PipelineError> {
        if self.writer.maybe_commit()? {
            self.after_commit()?;
        }
        Ok(())
    }

    /// How long until a timed commit is due, when documents are pending.
    pub fn next_commit_in(&self) -> Option<Duration> {
        self.writer.next_commit_in()
    }

    /// Commit everything and make the alert log durable.
    pub fn commit(&mut self) -> Result<(), PipelineError> {
        self.writer.commit()?;
        self.after_commit()
    }

    fn after_commit(&mut self) -> Result<(), PipelineError> {
        self.uncommitted.clear();
        self.alert_log.sync()?;
        let docs = self.index.num_docs();
        if docs >= self.next_replan {
            let started = std::time::Instant::now();
            let stats = self.index.term_stats()?;
            let queries = self.queries.iter().map(|q| q.query.clone()).collect();
            self.percolator = self.engine.build(queries, &stats);
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

    /// Commit and hand back the webhook dispatcher for a graceful shutdown.
    pub fn finish(mut self) -> Result<(Stats, Option<WebhookDispatcher>), PipelineError> {
        self.commit()?;
        Ok((self.stats.clone(), self.webhooks.take()))
    }
}

/// The ids of the alerts already in the log. A corrupt line is reported and passed over: the
/// alerts around it still count.
fn alert_ids_in_log(path: &Path) -> Result<HashSet<String>, PipelineError> {
    let mut ids = HashSet::new();
    for alert in sinks::AlertLogReader::open(path)? {
        match alert {
            Ok(alert) => {
                ids.insert(alert.alert_id);
            }
            Err(error) => tracing::warn!("{error} (line ignored)"),
        }
    }
    Ok(ids)
}

/// Read and extract a file, as one line of reason on failure.
pub fn read_documents(path: &Path, max_file_size: u64) -> Result<Vec<Document>, String> {
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
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
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
