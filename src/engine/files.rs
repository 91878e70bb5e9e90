//! One file, from its path to its documents: own files and types lookout does not read are
//! noted, unchanged bytes skipped, reads that fail for a reason that may go away retried,
//! refusals ([`SkipReason`]) quarantined once per content, warnings reported once per content;
//! then its documents are processed a slice at a time ([`FileRun`]) and the file recorded.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::Utc;

use super::read::{is_gone, read_bytes, ReadError, SkipReason};
use super::retry::Failure;
use super::{Engine, EngineError, MAX_RETRY_GAP};
use crate::document::{DocId, Document};
use crate::extract::{self, Extraction, Warnings};
use crate::ledger::{FileRecord, FileWarnings, IgnoredFile, Quarantined};

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
    Skipped(SkipReason),
}

/// A file taken by [`Command::StartFile`](super::Command::StartFile): decided at once, or documents to process.
#[derive(Debug)]
pub enum FileStart {
    Done(FileOutcome),
    Run(FileRun),
}

/// A file whose documents are being matched and indexed, a slice at a time
/// ([`Command::ContinueFile`](super::Command::ContinueFile)). Until it is finished, its
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

impl Engine {
    /// Process every quarantined file that is still there once more: the rules that refused it
    /// (`max_file_size`) changed. Files still refused for the same reason are not reported
    /// again. Returns how many were looked at.
    pub(super) fn recheck_quarantine(&mut self) -> Result<usize, EngineError> {
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

    /// Try again to read and process a file whose read failed.
    pub(super) fn retry_file(&mut self, path: &Path) -> Result<FileOutcome, EngineError> {
        self.metrics.file_read_retried();
        self.take_file(path)
    }

    /// Read, extract, match and index one file. Bad files are logged and quarantined; files
    /// that cannot be read now are retried (when retries are on); only a failure of the index,
    /// the ledger or the alert log is an error.
    pub(super) fn process_file(&mut self, path: &Path) -> Result<FileOutcome, EngineError> {
        match self.start_file(path)? {
            FileStart::Done(outcome) => Ok(outcome),
            FileStart::Run(run) => self.run_file(run),
        }
    }

    /// Take one file, to be processed a slice of its documents at a time: the daemon answers
    /// requests between slices, so that a file of 20,000 articles does not stall it. Whatever
    /// can be decided at once (unchanged, refused, ignored, unreadable) is `Done`.
    pub(super) fn start_file(&mut self, path: &Path) -> Result<FileStart, EngineError> {
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
    pub(super) fn take_file(&mut self, path: &Path) -> Result<FileOutcome, EngineError> {
        match self.begin_file(path)? {
            FileStart::Done(outcome) => Ok(outcome),
            FileStart::Run(run) => self.run_file(run),
        }
    }

    /// Process every document of a file run, then finish it.
    pub(super) fn run_file(&mut self, mut run: FileRun) -> Result<FileOutcome, EngineError> {
        while self.continue_file(&mut run, Duration::MAX)? {}
        self.finish_file(run)
    }

    /// Read, check and extract a file; its documents are then processed by `continue_file`.
    pub(super) fn begin_file(&mut self, path: &Path) -> Result<FileStart, EngineError> {
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
    pub(super) fn continue_file(
        &mut self,
        run: &mut FileRun,
        budget: Duration,
    ) -> Result<bool, EngineError> {
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
    pub(super) fn finish_file(&mut self, run: FileRun) -> Result<FileOutcome, EngineError> {
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
    pub(super) fn read_failed(&mut self, key: &str, path: &Path, error: ReadError) -> FileOutcome {
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
    pub(super) fn quarantine_after_bug(
        &mut self,
        path: &Path,
        panic: String,
    ) -> Result<FileOutcome, EngineError> {
        let key = path.to_string_lossy().into_owned();
        let content_hash = read_bytes(path, self.max_file_size)
            .map(|bytes| blake3::hash(&bytes).to_hex().to_string())
            .unwrap_or_default();
        // Not retried as a failed read: the same bytes would meet the same bug.
        self.retries.remove(path);
        self.refuse(&key, content_hash, SkipReason::Bug { panic })
    }

    /// Note a file of a type lookout does not read: said once (INFO) per file, kept for the
    /// status report, not an error and not quarantined.
    pub(super) fn ignore(&mut self, key: String, path: &Path) -> Result<FileOutcome, EngineError> {
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
    pub(super) fn report_warnings(
        &mut self,
        key: &str,
        content_hash: &str,
        documents: usize,
        warnings: &Warnings,
    ) -> Result<(), EngineError> {
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
    pub(super) fn refuse(
        &mut self,
        key: &str,
        content_hash: String,
        error: SkipReason,
    ) -> Result<FileOutcome, EngineError> {
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
}

/// When a file landed, as far as its modification time tells: for drop-to-alert latency. None
/// for times in the future or more than an hour ago (a copy that kept an old time).
fn landed_ago(path: &Path) -> Option<Instant> {
    let modified = std::fs::metadata(path).ok()?.modified().ok()?;
    let age = std::time::SystemTime::now().duration_since(modified).ok()?;
    (age < Duration::from_secs(3600)).then(|| Instant::now() - age)
}
