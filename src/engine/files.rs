//! One file, from its path to its documents, on the writer's side: own files and types lookout
//! does not read are noted at once; the rest is taken into the intake (`intake.rs`), prepared
//! by a worker (`prepare.rs`), and its parts applied here in the order the files were taken:
//! unchanged bytes skipped, reads that fail for a reason that may go away retried, refusals
//! ([`SkipReason`]) quarantined once per content, warnings reported once per content; then its
//! documents are applied a slice at a time and the file recorded.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;

use super::intake::{Taken, TakenState};
use super::prepare::{FileJob, Part, PreparedDocument};
use super::read::{is_gone, read_bytes, ReadError, SkipReason};
use super::retry::Failure;
use super::{Engine, EngineError, MAX_RETRY_GAP};
use crate::document::DocId;
use crate::extract::{self, Warnings};
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

/// A file applied whole by [`Command::StepFiles`](super::Command::StepFiles).
#[derive(Debug)]
pub struct FileDone {
    pub path: PathBuf,
    pub outcome: FileOutcome,
    /// From the moment it was taken.
    pub took: Duration,
}

/// A file whose documents are being applied, a slice at a time. Until it is finished, its
/// progress is not recorded: a crash re-reads it, and the documents already indexed and the
/// alerts already raised are skipped by their content and alert ids.
#[derive(Debug)]
pub(super) struct FileRun {
    key: String,
    content_hash: String,
    /// What the ledger held for this path before (a changed file).
    previous: Option<FileRecord>,
    /// Prepared and not yet applied.
    prepared: VecDeque<PreparedDocument>,
    /// Not yet prepared (still with a worker).
    unprepared: usize,
    ids: Vec<DocId>,
    new: usize,
    known: usize,
    alerts: usize,
    landed: Option<Instant>,
}

impl FileRun {
    fn is_done(&self) -> bool {
        self.prepared.is_empty() && self.unprepared == 0
    }

    /// Whether the writer can go on with it now: documents to apply, or all applied.
    pub(super) fn has_work(&self) -> bool {
        !self.prepared.is_empty() || self.unprepared == 0
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
            self.wait_for_room()?;
            self.submit_file(&path)?;
        }
        self.drain_files()?;
        Ok(checked)
    }

    /// Try again to read and process a file whose read failed (taken like a new file; applied
    /// by [`Command::StepFiles`](super::Command::StepFiles)).
    pub(super) fn retry_file(&mut self, path: &Path) -> Result<(), EngineError> {
        self.metrics.file_read_retried();
        self.wait_for_room()?;
        self.submit_file(path)?;
        self.retries.attempting(path, Instant::now());
        Ok(())
    }

    /// Read, extract, match and index one file whole (and the files taken before it). Bad
    /// files are logged and quarantined; files that cannot be read now are retried (when
    /// retries are on); only a failure of the index, the ledger or the alert log is an error.
    pub(super) fn process_file(&mut self, path: &Path) -> Result<FileOutcome, EngineError> {
        if let Some(outcome) = self.take_file(path)? {
            return Ok(outcome);
        }
        let done = self.drain_files()?;
        Ok(done
            .into_iter()
            .rev()
            .find(|d| d.path == path)
            .map(|d| d.outcome)
            .unwrap_or(FileOutcome::Vanished))
    }

    /// Take a file that is ready: own files and types lookout does not read are decided at
    /// once (`Some`); the rest goes to a worker (waiting for room first) and is applied by
    /// [`Command::StepFiles`](super::Command::StepFiles).
    pub(super) fn take_file(&mut self, path: &Path) -> Result<Option<FileOutcome>, EngineError> {
        let key = path.to_string_lossy().into_owned();
        if self.own_files.contains(path) {
            tracing::debug!(file = %key, "one of lookout's own files: not an article");
            return Ok(Some(FileOutcome::OwnFile));
        }
        if !extract::is_supported(path) {
            return self.ignore(key, path).map(Some);
        }
        self.stats.files += 1;
        self.wait_for_room()?;
        self.submit_file(path)?;
        Ok(None)
    }

    /// Whether another file may be taken without waiting.
    pub fn has_room_for_files(&self) -> bool {
        self.intake.has_room()
    }

    /// Files taken and not yet applied whole.
    pub fn files_in_flight(&self) -> usize {
        self.intake.len()
    }

    /// Whether [`Command::StepFiles`](super::Command::StepFiles) has parts to apply now.
    pub fn files_ready(&mut self) -> bool {
        self.intake.receive(None);
        self.intake.ready()
    }

    /// Apply the first files' parts until none is there yet, for at least one part and until
    /// `budget` is spent; with `wait`, wait that long for the first file's next part when it
    /// has none. A panic while applying a file quarantines it (the bug is reported with the
    /// file) and the next one goes on.
    pub(super) fn step_files(
        &mut self,
        budget: Duration,
        wait: Option<Duration>,
    ) -> Result<Vec<FileDone>, EngineError> {
        let started = Instant::now();
        let mut done = Vec::new();
        self.install_plan();
        self.intake.receive(wait);
        while let Some(mut taken) = self.intake.pop() {
            let applied = catch_unwind(AssertUnwindSafe(|| {
                self.apply_parts(&mut taken, budget, started)
            }));
            let finished = match applied {
                Ok(finished) => finished?,
                Err(payload) => {
                    let panic = crate::contain::payload_message(payload.as_ref());
                    tracing::error!(file = %taken.path.display(), "bug while processing this file ({panic}): quarantined; the daemon goes on");
                    Some(self.quarantine_after_bug(&taken.path, panic)?)
                }
            };
            match finished {
                Some(outcome) => {
                    let took = taken.taken_at.elapsed();
                    self.metrics.observe_ingest(took);
                    done.push(FileDone {
                        path: taken.path,
                        outcome,
                        took,
                    });
                }
                None => self.intake.put_back(taken),
            }
            if started.elapsed() >= budget {
                break;
            }
            self.intake.receive(None);
            if !self.intake.ready() {
                break;
            }
        }
        if !done.is_empty() {
            self.tick_if_overdue()?;
        }
        Ok(done)
    }

    /// Apply every file taken (waiting for the workers), for a caller that runs to the end.
    pub(super) fn drain_files(&mut self) -> Result<Vec<FileDone>, EngineError> {
        let mut done = Vec::new();
        while !self.intake.is_empty() {
            done.extend(self.step_files(Duration::MAX, Some(Duration::from_millis(50)))?);
        }
        Ok(done)
    }

    /// Apply the earliest files until there is room for one more.
    fn wait_for_room(&mut self) -> Result<(), EngineError> {
        while !self.intake.has_room() {
            self.step_files(Duration::MAX, Some(Duration::from_millis(50)))?;
        }
        Ok(())
    }

    /// Hand the file to a worker, with the content hash it was last processed with.
    fn submit_file(&mut self, path: &Path) -> Result<(), EngineError> {
        let job = self.file_job(path)?;
        self.intake.submit(job);
        Ok(())
    }

    fn file_job(&self, path: &Path) -> Result<FileJob, EngineError> {
        let key = path.to_string_lossy();
        let previous_hash = match self.pending_files.get(key.as_ref()) {
            Some(record) => Some(record.content_hash.clone()),
            None => self.ledger.file(&key)?.map(|record| record.content_hash),
        };
        Ok(FileJob {
            path: path.to_path_buf(),
            previous_hash,
            rules: Arc::clone(&self.read_rules),
            matching: Arc::clone(&self.matching),
        })
    }

    /// What the ledger (or this batch) holds for the file at `key`.
    fn file_record(&self, key: &str) -> Result<Option<FileRecord>, EngineError> {
        match self.pending_files.get(key) {
            Some(record) => Ok(Some(record.clone())),
            None => Ok(self.ledger.file(key)?),
        }
    }

    /// Apply the parts of `taken` that are there, and its documents within `budget`. `Some`
    /// when the file is done.
    fn apply_parts(
        &mut self,
        taken: &mut Taken,
        budget: Duration,
        started: Instant,
    ) -> Result<Option<FileOutcome>, EngineError> {
        let mut worked = false;
        loop {
            if let TakenState::Running(run) = &mut taken.state {
                if !run.prepared.is_empty() {
                    self.continue_file(run, budget, started)?;
                    worked = true;
                }
                if run.is_done() {
                    let TakenState::Running(run) =
                        std::mem::replace(&mut taken.state, TakenState::Skipping)
                    else {
                        unreachable!("matched just above");
                    };
                    return self.finish_file(*run).map(Some);
                }
                if worked && started.elapsed() >= budget {
                    return Ok(None);
                }
            }
            let Some(part) = taken.parts.pop_front() else {
                return Ok(None);
            };
            worked = true;
            if let Some(outcome) = self.apply_part(taken, part)? {
                return Ok(Some(outcome));
            }
        }
    }

    /// Apply one part of a file; `Some` when it decides the file.
    fn apply_part(
        &mut self,
        taken: &mut Taken,
        part: Part,
    ) -> Result<Option<FileOutcome>, EngineError> {
        let path = taken.path.clone();
        let key = path.to_string_lossy().into_owned();
        match part {
            Part::Documents(documents) => {
                if let TakenState::Running(run) = &mut taken.state {
                    run.unprepared = run.unprepared.saturating_sub(documents.len());
                    run.prepared.extend(documents);
                }
                Ok(None)
            }
            Part::Panicked(panic) => {
                tracing::error!(file = %key, "bug while processing this file ({panic}): quarantined; the daemon goes on");
                self.quarantine_after_bug(&path, panic).map(Some)
            }
            Part::ReadFailed(ReadError::NotFound) => {
                // Gone between its event and now (a temp file, a quick delete): nothing to do.
                if self.retries.remove(&path).is_some() {
                    tracing::info!(file = %key, "the file that could not be read is gone");
                    self.metrics.set_files_awaiting_retry(self.retries.len());
                }
                tracing::debug!(file = %key, "vanished before it was read");
                Ok(Some(FileOutcome::Vanished))
            }
            Part::ReadFailed(error) if error.is_transient() => {
                Ok(Some(self.read_failed(&key, &path, error)))
            }
            Part::ReadFailed(error) => {
                self.retries.remove(&path);
                self.refuse(&key, String::new(), error.into()).map(Some)
            }
            Part::Unchanged { content_hash } => {
                self.read_again(&key, &path);
                let current = self.file_record(&key)?;
                if current.is_some_and(|c| c.content_hash == content_hash) {
                    return Ok(Some(self.unchanged(&key)));
                }
                // Recorded otherwise since it was taken (a change applied meanwhile, then
                // changed back): prepared again, here.
                let mut job = self.file_job(&path)?;
                job.previous_hash = None;
                let mut parts = Vec::new();
                job.run(&mut |part| parts.push(part));
                for part in parts.into_iter().rev() {
                    taken.parts.push_front(part);
                }
                Ok(None)
            }
            Part::Refused {
                content_hash,
                reason,
            } => {
                self.retries.remove(&path);
                self.refuse(&key, content_hash, reason).map(Some)
            }
            Part::Extracted {
                content_hash,
                warnings,
                documents,
                landed,
            } => {
                self.read_again(&key, &path);
                let previous = self.file_record(&key)?;
                if previous
                    .as_ref()
                    .is_some_and(|p| p.content_hash == content_hash)
                {
                    taken.state = TakenState::Skipping;
                    return Ok(Some(self.unchanged(&key)));
                }
                self.report_warnings(&key, &content_hash, documents, &warnings)?;
                taken.state = TakenState::Running(Box::new(FileRun {
                    key,
                    content_hash,
                    previous,
                    prepared: VecDeque::new(),
                    unprepared: documents,
                    ids: Vec::with_capacity(documents),
                    new: 0,
                    known: 0,
                    alerts: 0,
                    landed,
                }));
                Ok(None)
            }
        }
    }

    /// A file whose read had failed was read now.
    fn read_again(&mut self, key: &str, path: &Path) {
        if let Some(attempts) = self.retries.remove(path) {
            tracing::info!(file = %key, failed_reads = attempts, "the file can be read again; processing it");
            self.metrics.set_files_awaiting_retry(self.retries.len());
        }
    }

    fn unchanged(&mut self, key: &str) -> FileOutcome {
        self.stats.unchanged_files += 1;
        self.metrics.file_unchanged();
        tracing::debug!(file = %key, "unchanged since it was processed");
        FileOutcome::Unchanged
    }

    /// Apply the prepared documents of a file run, for at least one document and until
    /// `budget` (counted from `started`) is spent. True while prepared documents remain.
    fn continue_file(
        &mut self,
        run: &mut FileRun,
        budget: Duration,
        started: Instant,
    ) -> Result<bool, EngineError> {
        while let Some(prepared) = run.prepared.pop_front() {
            run.ids.push(prepared.document.id.clone());
            match self.apply_document(prepared)? {
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
        Ok(!run.prepared.is_empty())
    }

    /// Record a file run whose documents are all done (its progress is made durable by the
    /// next commit).
    fn finish_file(&mut self, run: FileRun) -> Result<FileOutcome, EngineError> {
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
        let content_hash = read_bytes(path, self.read_rules.max_file_size)
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
        let noted = self.pending.ignored.iter().any(|i| i.path == key)
            || self
                .committing_notes()
                .is_some_and(|c| c.ignored.iter().any(|i| i.path == key))
            || self.ledger.is_ignored(&key)?;
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
        let committing = self
            .committing_notes()
            .and_then(|c| c.warnings.iter().rev().find(|w| w.path == key).cloned());
        let known = match committing {
            Some(warnings) => Some(warnings),
            None => self.ledger.warnings(key)?,
        };
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
        let batch = |p: &crate::ledger::Progress| {
            p.quarantined.iter().rev().find(|q| q.path == key).cloned()
        };
        let known = match batch(&self.pending).or_else(|| self.committing_notes().and_then(batch)) {
            Some(q) => Some(q),
            None => self.ledger.quarantined(key)?,
        };
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
