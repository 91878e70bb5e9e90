//! The ledger: what lookout has durably done, in one SQLite database (`state/ledger.sqlite`).
//!
//! - `files`: each watched file's last processed content (hash of its bytes) and the documents
//!   it held, so unchanged files are skipped, changed ones re-indexed and deleted ones noticed;
//! - `doc_alerts` and `path_alerts`: which saved queries already alerted on each document and on
//!   each path (one row per document or path, not per alert: an article can raise hundreds), so
//!   nothing alerts twice;
//! - `quarantine`: files that failed to parse, with the reason, reported once per content;
//! - `warnings`: files read with warnings (records skipped, values left out), per content: a
//!   file's row goes when the file goes, changes, or is read again without warnings;
//! - `ignored`: files of a type lookout does not read (by extension), noted once each;
//! - `stories`: the recent documents' fingerprints (`stories::Fingerprint`) and the story each
//!   belongs to, in arrival order, bounded by the `[duplicates] window` (the engine's
//!   `StoryWindow` is read back from it at start-up);
//! - `copies`: the copy records written (`duplicates = "suppress"`): the copy's alert id and
//!   the first alert of its story for that query, which a later copy points at too;
//! - `meta`: how far into the alert log the alert tables are caught up, the last commit.
//!
//! The alert log stays the source of truth: the ledger records an alert only once the log line
//! is durable, and at start-up it catches up with whatever the log holds past its offset, so a
//! crash between the two never doubles an alert. Progress is written only after the step it
//! records is durable (index commit, log fsync), in one transaction.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use crate::document::DocId;
use crate::stories::Fingerprint;

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("ledger {path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("cannot create the state folder {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no ledger at {0} yet (the daemon creates it on its first run)")]
    Missing(PathBuf),
}

/// What the ledger remembers of a processed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    pub path: String,
    /// blake3 of the file's bytes.
    pub content_hash: String,
    pub docs: Vec<DocId>,
}

/// A quarantined file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantined {
    pub path: String,
    pub content_hash: String,
    pub reason: String,
    pub attempts: u64,
    pub at: String,
}

/// The warnings of a file that was read (the extraction's, rendered), for its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileWarnings {
    pub path: String,
    pub content_hash: String,
    /// Records skipped (not indexed).
    pub skipped_records: u64,
    /// Warnings in all (skipped records included).
    pub total: u64,
    /// The first warnings, one line each (bounded by the extractor).
    pub details: Vec<String>,
    pub at: String,
}

/// A file of a type lookout does not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoredFile {
    pub path: String,
    /// Its extension with the dot (`.pdf`), or empty.
    pub extension: String,
}

/// One alert written to the alert log: its id (which names the document), the location it
/// was raised at, and the saved query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRow {
    pub alert_id: String,
    /// Shared with the document's other alerts.
    pub path: Arc<str>,
    /// Shared with the saved query.
    pub query: Arc<str>,
}

impl AlertRow {
    pub fn new(
        alert_id: impl Into<String>,
        path: impl Into<Arc<str>>,
        query: impl Into<Arc<str>>,
    ) -> Self {
        AlertRow {
            alert_id: alert_id.into(),
            path: path.into(),
            query: query.into(),
        }
    }
}

/// A document's place among the stories (see `stories`): its fingerprint (shared with the
/// engine's window; stored as `Fingerprint::to_bytes` writes it), the first document of its
/// story, and its arrival.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoryRow {
    pub doc: DocId,
    pub story: DocId,
    pub fingerprint: Arc<Fingerprint>,
    pub seq: u64,
}

/// A copy record: the alert id it was written under and the first alert it points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyRow {
    pub alert_id: String,
    pub copy_of: String,
}

/// Everything one commit records, written in one transaction.
#[derive(Debug, Default)]
pub struct Progress {
    /// Alerts and copy records (a copy record is also in `copies`): either way the query is
    /// done with that document and that path.
    pub alerts: Vec<AlertRow>,
    pub copies: Vec<CopyRow>,
    pub stories: Vec<StoryRow>,
    /// Documents removed from the index: they leave `stories`.
    pub removed_stories: Vec<DocId>,
    /// Stories older than this arrival leave (the window moved past them).
    pub stories_before: Option<u64>,
    /// Files read: their content and documents. Each replaces the file's warnings (by
    /// `warnings`, or none) and leaves the quarantine.
    pub files: Vec<FileRecord>,
    pub removed_files: Vec<String>,
    pub quarantined: Vec<Quarantined>,
    pub released: Vec<String>,
    /// Warnings of files in `files` (written after them).
    pub warnings: Vec<FileWarnings>,
    /// Files of unsupported types seen for the first time.
    pub ignored: Vec<IgnoredFile>,
    /// Ignored files that are gone.
    pub unignored: Vec<String>,
    /// The alert log's length once durable: alerts before it are in `alerts`.
    pub alert_log_offset: u64,
}

impl Progress {
    pub fn is_empty(&self) -> bool {
        self.alerts.is_empty()
            && self.copies.is_empty()
            && self.stories.is_empty()
            && self.removed_stories.is_empty()
            && self.files.is_empty()
            && self.removed_files.is_empty()
            && self.quarantined.is_empty()
            && self.released.is_empty()
            && self.warnings.is_empty()
            && self.ignored.is_empty()
            && self.unignored.is_empty()
    }
}

/// The files read with warnings and the quarantined files, by path, as the ledger holds them
/// once some batches are recorded: the live status shows a batch's notes from the moment its
/// documents can be searched, before the ledger has them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileNotes {
    pub warnings: BTreeMap<String, FileWarnings>,
    pub quarantined: BTreeMap<String, Quarantined>,
}

impl FileNotes {
    /// The notes the ledger holds now.
    pub fn read(ledger: &Ledger) -> Result<Self, LedgerError> {
        Ok(Self {
            warnings: ledger
                .all_warnings()?
                .into_iter()
                .map(|w| (w.path.clone(), w))
                .collect(),
            quarantined: ledger
                .all_quarantined()?
                .into_iter()
                .map(|q| (q.path.clone(), q))
                .collect(),
        })
    }

    /// Apply a batch as [`Ledger::record`] will (in its order); `files` are the paths of the
    /// files it records as read, when they are not in `progress.files`. Applying a batch the
    /// ledger already holds changes nothing.
    pub fn apply<'a>(&mut self, progress: &Progress, files: impl IntoIterator<Item = &'a str>) {
        for removed in &progress.removed_files {
            self.warnings.remove(removed);
        }
        let mut read = |path: &str| {
            self.quarantined.remove(path);
            self.warnings.remove(path);
        };
        progress.files.iter().for_each(|f| read(&f.path));
        files.into_iter().for_each(read);
        for released in &progress.released {
            self.quarantined.remove(released);
        }
        for w in &progress.warnings {
            self.warnings.insert(w.path.clone(), w.clone());
        }
        for q in &progress.quarantined {
            self.warnings.remove(&q.path);
            self.quarantined.insert(q.path.clone(), q.clone());
        }
    }
}

pub struct Ledger {
    path: PathBuf,
    db: Connection,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS doc_alerts (doc_id TEXT PRIMARY KEY, queries TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS path_alerts (path TEXT PRIMARY KEY, queries TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, content_hash TEXT NOT NULL, processed_at TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS file_docs (path TEXT NOT NULL, doc_id TEXT NOT NULL, PRIMARY KEY (path, doc_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS file_docs_by_doc ON file_docs (doc_id);
CREATE TABLE IF NOT EXISTS quarantine (path TEXT PRIMARY KEY, content_hash TEXT NOT NULL, reason TEXT NOT NULL, attempts INTEGER NOT NULL, at TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS warnings (path TEXT PRIMARY KEY, content_hash TEXT NOT NULL, skipped_records INTEGER NOT NULL, total INTEGER NOT NULL, details TEXT NOT NULL, at TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ignored (path TEXT PRIMARY KEY, extension TEXT NOT NULL, at TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stories (doc_id TEXT PRIMARY KEY, story TEXT NOT NULL, seq INTEGER NOT NULL, fingerprint BLOB NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS stories_by_seq ON stories (seq);
CREATE TABLE IF NOT EXISTS copies (alert_id TEXT PRIMARY KEY, copy_of TEXT NOT NULL) WITHOUT ROWID;
";

impl Ledger {
    /// Open (or create) the ledger in `state_dir`, for the one process that writes.
    pub fn open(state_dir: &Path) -> Result<Ledger, LedgerError> {
        std::fs::create_dir_all(state_dir).map_err(|source| LedgerError::CreateDir {
            path: state_dir.to_path_buf(),
            source,
        })?;
        let path = state_dir.join("ledger.sqlite");
        let db = Connection::open(&path).map_err(|source| LedgerError::Sqlite {
            path: path.clone(),
            source,
        })?;
        let ledger = Ledger { path, db };
        ledger.run(|db| {
            db.pragma_update(None, "journal_mode", "WAL")?;
            // NORMAL under WAL survives any crash of the process; after a power loss the last
            // transaction may be lost, and start-up catches up from the alert log (fsynced) and
            // the index (committed): the ledger is rebuilt from what is durable, never ahead of it.
            db.pragma_update(None, "synchronous", "NORMAL")?;
            db.busy_timeout(std::time::Duration::from_secs(5))?;
            db.execute_batch(SCHEMA)
        })?;
        Ok(ledger)
    }

    /// Open for reading beside a running daemon (`lookout status`).
    pub fn open_read_only(state_dir: &Path) -> Result<Ledger, LedgerError> {
        let path = state_dir.join("ledger.sqlite");
        if !path.exists() {
            return Err(LedgerError::Missing(path));
        }
        let db = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(
            |source| LedgerError::Sqlite {
                path: path.clone(),
                source,
            },
        )?;
        let ledger = Ledger { path, db };
        ledger.run(|db| db.busy_timeout(std::time::Duration::from_secs(5)))?;
        Ok(ledger)
    }

    fn run<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, LedgerError> {
        f(&self.db).map_err(|source| LedgerError::Sqlite {
            path: self.path.clone(),
            source,
        })
    }

    pub fn meta(&self, key: &str) -> Result<Option<String>, LedgerError> {
        self.run(|db| {
            db.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()
        })
    }

    /// How far into the alert log the alert tables are caught up.
    pub fn alert_log_offset(&self) -> Result<u64, LedgerError> {
        Ok(self
            .meta("alert_log_offset")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    /// The saved queries that already alerted on this document's content, and those that
    /// already alerted at this path: one statement, one read transaction (the engine asks for
    /// every new document that matches).
    pub fn alerted(
        &self,
        doc: &DocId,
        path: &str,
    ) -> Result<(Vec<String>, Vec<String>), LedgerError> {
        let (on_doc, at_path): (Option<String>, Option<String>) = self.run(|db| {
            db.prepare_cached(
                "SELECT (SELECT queries FROM doc_alerts WHERE doc_id = ?1), \
                        (SELECT queries FROM path_alerts WHERE path = ?2)",
            )?
            .query_row([doc.0.as_str(), path], |r| Ok((r.get(0)?, r.get(1)?)))
        })?;
        let list = |text: Option<String>| {
            text.and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or_default()
        };
        Ok((list(on_doc), list(at_path)))
    }

    /// The first alert a copy record points at, by the copy record's alert id.
    pub fn copy_of(&self, alert_id: &str) -> Result<Option<String>, LedgerError> {
        self.run(|db| {
            db.prepare_cached("SELECT copy_of FROM copies WHERE alert_id = ?1")?
                .query_row([alert_id], |r| r.get(0))
                .optional()
        })
    }

    /// How many copy records were written (none in a ledger from before them, read only).
    pub fn copies_count(&self) -> Result<u64, LedgerError> {
        if !self.has_table("copies")? {
            return Ok(0);
        }
        self.run(|db| db.query_row("SELECT count(*) FROM copies", [], |r| r.get::<_, i64>(0)))
            .map(|n| n.max(0) as u64)
    }

    /// The latest `limit` documents among the stories, oldest first, and how many of them
    /// were left out: their fingerprint is of another version (or damaged).
    pub fn recent_stories(&self, limit: usize) -> Result<(Vec<StoryRow>, usize), LedgerError> {
        self.run(|db| {
            let mut unreadable = 0;
            let mut rows: Vec<StoryRow> = Vec::new();
            let mut select = db.prepare_cached(
                "SELECT doc_id, story, seq, fingerprint FROM stories ORDER BY seq DESC LIMIT ?1",
            )?;
            let mut found = select.query([limit.min(i64::MAX as usize) as i64])?;
            while let Some(r) = found.next()? {
                let bytes: Vec<u8> = r.get(3)?;
                let Some(fingerprint) = Fingerprint::from_bytes(&bytes) else {
                    unreadable += 1;
                    continue;
                };
                rows.push(StoryRow {
                    doc: DocId(r.get(0)?),
                    story: DocId(r.get(1)?),
                    seq: r.get::<_, i64>(2)?.max(0) as u64,
                    fingerprint: Arc::new(fingerprint),
                });
            }
            rows.reverse();
            Ok((rows, unreadable))
        })
    }

    /// The story of each of these documents that has a row in `stories` (a document without
    /// one is its own story), for search's collapse: one prepared statement over chunks of
    /// ids, in one read transaction (one snapshot, even beside the writing daemon). Empty in a
    /// ledger from before stories.
    pub fn stories_of(&self, docs: &[DocId]) -> Result<HashMap<DocId, DocId>, LedgerError> {
        let mut found = HashMap::with_capacity(docs.len());
        if docs.is_empty() || !self.has_table("stories")? {
            return Ok(found);
        }
        self.run(|db| {
            // A deferred transaction: the reads below see one snapshot of the WAL.
            db.execute_batch("BEGIN")?;
            let read = (|| {
                let mut chunks = docs.chunks_exact(STORY_LOOKUP_CHUNK);
                if chunks.len() > 0 {
                    let mut select = db.prepare_cached(&story_lookup_sql(STORY_LOOKUP_CHUNK))?;
                    for chunk in chunks.by_ref() {
                        read_stories(&mut select, chunk, &mut found)?;
                    }
                }
                let rest = chunks.remainder();
                if !rest.is_empty() {
                    let mut select = db.prepare(&story_lookup_sql(rest.len()))?;
                    read_stories(&mut select, rest, &mut found)?;
                }
                Ok(())
            })();
            let ended = db.execute_batch("COMMIT");
            read.and(ended)
        })?;
        Ok(found)
    }

    pub fn file(&self, path: &str) -> Result<Option<FileRecord>, LedgerError> {
        self.run(|db| {
            let hash: Option<String> = db
                .prepare_cached("SELECT content_hash FROM files WHERE path = ?1")?
                .query_row([path], |r| r.get(0))
                .optional()?;
            let Some(content_hash) = hash else {
                return Ok(None);
            };
            let mut stmt = db.prepare_cached("SELECT doc_id FROM file_docs WHERE path = ?1")?;
            let docs = stmt
                .query_map([path], |r| r.get::<_, String>(0).map(DocId))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(Some(FileRecord {
                path: path.to_string(),
                content_hash,
                docs,
            }))
        })
    }

    /// The paths (other than `except`) whose last content held this document.
    pub fn paths_of(&self, doc: &DocId, except: &str) -> Result<Vec<String>, LedgerError> {
        self.run(|db| {
            let mut stmt =
                db.prepare_cached("SELECT path FROM file_docs WHERE doc_id = ?1 AND path != ?2")?;
            let paths = stmt
                .query_map([doc.0.as_str(), except], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            Ok(paths)
        })
    }

    /// Whether any processed file lies under `folder`.
    pub fn has_files_under(&self, folder: &Path) -> Result<bool, LedgerError> {
        Ok(!self.files_under(folder, 1)?.is_empty())
    }

    /// Up to `limit` processed files under `folder`, in path order.
    pub fn files_under(&self, folder: &Path, limit: usize) -> Result<Vec<String>, LedgerError> {
        let folder = folder.to_string_lossy();
        let base = folder.trim_end_matches('/');
        let prefix = format!("{base}/");
        // Every path starting with "base/" sorts in [base + '/', base + '0'): '0' follows '/'.
        let upper = format!("{base}0");
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(|db| {
            let mut stmt = db.prepare_cached(
                "SELECT path FROM files WHERE path >= ?1 AND path < ?2 ORDER BY path LIMIT ?3",
            )?;
            let paths = stmt
                .query_map(params![prefix, upper, limit], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            Ok(paths)
        })
    }

    /// Set one `meta` value at once (outside a commit's transaction: for facts that do not
    /// depend on the index, such as a watch folder's identity).
    pub fn set_meta(&mut self, key: &str, value: &str) -> Result<(), LedgerError> {
        self.run(|db| {
            db.prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)")?
                .execute([key, value])
                .map(|_| ())
        })
    }

    /// Every processed file's path.
    pub fn file_paths(&self) -> Result<Vec<String>, LedgerError> {
        self.run(|db| {
            let mut stmt = db.prepare("SELECT path FROM files")?;
            let paths = stmt
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            Ok(paths)
        })
    }

    pub fn quarantined(&self, path: &str) -> Result<Option<Quarantined>, LedgerError> {
        self.run(|db| {
            db.prepare_cached(
                "SELECT path, content_hash, reason, attempts, at FROM quarantine WHERE path = ?1",
            )?
            .query_row([path], quarantined_row)
            .optional()
        })
    }

    pub fn all_quarantined(&self) -> Result<Vec<Quarantined>, LedgerError> {
        self.run(|db| {
            let mut stmt = db.prepare(
                "SELECT path, content_hash, reason, attempts, at FROM quarantine ORDER BY path",
            )?;
            let rows = stmt
                .query_map([], quarantined_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// Whether the table exists (a ledger written by an older lookout, opened read-only,
    /// lacks the newer ones).
    fn has_table(&self, name: &str) -> Result<bool, LedgerError> {
        self.run(|db| {
            db.prepare_cached("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1")?
                .exists([name])
        })
    }

    /// The warnings recorded for this path's last content, if any.
    pub fn warnings(&self, path: &str) -> Result<Option<FileWarnings>, LedgerError> {
        if !self.has_table("warnings")? {
            return Ok(None);
        }
        self.run(|db| {
            db.prepare_cached(
                "SELECT path, content_hash, skipped_records, total, details, at FROM warnings WHERE path = ?1",
            )?
            .query_row([path], warnings_row)
            .optional()
        })
    }

    /// Every file read with warnings, by path.
    pub fn all_warnings(&self) -> Result<Vec<FileWarnings>, LedgerError> {
        if !self.has_table("warnings")? {
            return Ok(Vec::new());
        }
        self.run(|db| {
            let mut stmt = db.prepare(
                "SELECT path, content_hash, skipped_records, total, details, at FROM warnings ORDER BY path",
            )?;
            let rows = stmt
                .query_map([], warnings_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// Whether this path is a file of an unsupported type already noted.
    pub fn is_ignored(&self, path: &str) -> Result<bool, LedgerError> {
        if !self.has_table("ignored")? {
            return Ok(false);
        }
        self.run(|db| {
            db.prepare_cached("SELECT 1 FROM ignored WHERE path = ?1")?
                .exists([path])
        })
    }

    /// The paths of the files of unsupported types noted.
    pub fn ignored_paths(&self) -> Result<Vec<String>, LedgerError> {
        if !self.has_table("ignored")? {
            return Ok(Vec::new());
        }
        self.run(|db| {
            let mut stmt = db.prepare("SELECT path FROM ignored")?;
            let paths = stmt
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            Ok(paths)
        })
    }

    /// How many files of each unsupported extension were noted, by extension.
    pub fn ignored_counts(&self) -> Result<Vec<(String, u64)>, LedgerError> {
        if !self.has_table("ignored")? {
            return Ok(Vec::new());
        }
        self.run(|db| {
            let mut stmt = db.prepare(
                "SELECT extension, count(*) FROM ignored GROUP BY extension ORDER BY extension",
            )?;
            let counts = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)?.max(0) as u64)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(counts)
        })
    }

    /// Files in quarantine.
    pub fn quarantined_count(&self) -> Result<u64, LedgerError> {
        self.run(|db| {
            let n: i64 = db.query_row("SELECT count(*) FROM quarantine", [], |r| r.get(0))?;
            Ok(n.max(0) as u64)
        })
    }

    /// Files processed, and alerts raised (copy records not counted).
    pub fn counts(&self) -> Result<(u64, u64), LedgerError> {
        let copies = self.copies_count()?;
        self.run(|db| {
            let files: i64 = db.query_row("SELECT count(*) FROM files", [], |r| r.get(0))?;
            let handled: i64 = db.query_row(
                "SELECT coalesce(sum(json_array_length(queries)), 0) FROM doc_alerts",
                [],
                |r| r.get(0),
            )?;
            Ok((
                files.max(0) as u64,
                (handled.max(0) as u64).saturating_sub(copies),
            ))
        })
    }

    /// Record one commit's progress in a single durable transaction.
    pub fn record(&mut self, progress: &Progress) -> Result<(), LedgerError> {
        let path = self.path.clone();
        let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let result = (|| -> rusqlite::Result<()> {
            let tx = self.db.transaction()?;
            {
                // One row per document and per path, merged with what is there.
                let mut by_doc: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
                let mut by_path: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
                for alert in &progress.alerts {
                    by_doc
                        .entry(crate::alerts::doc_of_alert_id(&alert.alert_id))
                        .or_default()
                        .push(&*alert.query);
                    by_path.entry(&*alert.path).or_default().push(&*alert.query);
                }
                merge_lists(&tx, "doc_alerts", "doc_id", by_doc)?;
                merge_lists(&tx, "path_alerts", "path", by_path)?;
                let mut drop_docs = tx.prepare_cached("DELETE FROM file_docs WHERE path = ?1")?;
                let mut drop_file = tx.prepare_cached("DELETE FROM files WHERE path = ?1")?;
                let mut drop_warnings =
                    tx.prepare_cached("DELETE FROM warnings WHERE path = ?1")?;
                for removed in &progress.removed_files {
                    drop_docs.execute([removed])?;
                    drop_file.execute([removed])?;
                    drop_warnings.execute([removed])?;
                }
                let mut file = tx.prepare_cached(
                    "INSERT OR REPLACE INTO files (path, content_hash, processed_at) VALUES (?1, ?2, ?3)",
                )?;
                let mut doc = tx.prepare_cached(
                    "INSERT OR IGNORE INTO file_docs (path, doc_id) VALUES (?1, ?2)",
                )?;
                let mut release = tx.prepare_cached("DELETE FROM quarantine WHERE path = ?1")?;
                for record in &progress.files {
                    drop_docs.execute([&record.path])?;
                    file.execute(params![record.path, record.content_hash, at])?;
                    for id in &record.docs {
                        doc.execute([&record.path, &id.0])?;
                    }
                    release.execute([&record.path])?;
                    drop_warnings.execute([&record.path])?;
                }
                for released in &progress.released {
                    release.execute([released])?;
                }
                let mut warn = tx.prepare_cached(
                    "INSERT OR REPLACE INTO warnings (path, content_hash, skipped_records, total, details, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?;
                for w in &progress.warnings {
                    let details =
                        serde_json::to_string(&w.details).unwrap_or_else(|_| "[]".to_string());
                    warn.execute(params![
                        w.path,
                        w.content_hash,
                        w.skipped_records as i64,
                        w.total as i64,
                        details,
                        w.at
                    ])?;
                }
                let mut ignore = tx.prepare_cached(
                    "INSERT OR REPLACE INTO ignored (path, extension, at) VALUES (?1, ?2, ?3)",
                )?;
                for ignored in &progress.ignored {
                    ignore.execute(params![ignored.path, ignored.extension, at])?;
                }
                let mut unignore = tx.prepare_cached("DELETE FROM ignored WHERE path = ?1")?;
                for path in &progress.unignored {
                    unignore.execute([path])?;
                }
                let mut quarantine = tx.prepare_cached(
                    "INSERT OR REPLACE INTO quarantine (path, content_hash, reason, attempts, at) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?;
                for q in &progress.quarantined {
                    // The file changed into something unreadable: its old warnings are stale.
                    drop_warnings.execute([&q.path])?;
                    quarantine.execute(params![
                        q.path,
                        q.content_hash,
                        q.reason,
                        q.attempts as i64,
                        q.at
                    ])?;
                }
                let mut copy = tx.prepare_cached(
                    "INSERT OR IGNORE INTO copies (alert_id, copy_of) VALUES (?1, ?2)",
                )?;
                for c in &progress.copies {
                    copy.execute([&c.alert_id, &c.copy_of])?;
                }
                let mut story = tx.prepare_cached(
                    "INSERT OR REPLACE INTO stories (doc_id, story, seq, fingerprint) VALUES (?1, ?2, ?3, ?4)",
                )?;
                for row in &progress.stories {
                    let bytes = row.fingerprint.to_bytes();
                    story.execute(params![row.doc.0, row.story.0, row.seq as i64, bytes])?;
                }
                let mut unstory = tx.prepare_cached("DELETE FROM stories WHERE doc_id = ?1")?;
                for doc in &progress.removed_stories {
                    unstory.execute([&doc.0])?;
                }
                if let Some(before) = progress.stories_before {
                    tx.prepare_cached("DELETE FROM stories WHERE seq < ?1")?
                        .execute([before as i64])?;
                }
                let mut meta =
                    tx.prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)")?;
                meta.execute(["alert_log_offset", &progress.alert_log_offset.to_string()])?;
                meta.execute(["last_commit", &at])?;
            }
            tx.commit()
        })();
        result.map_err(|source| LedgerError::Sqlite { path, source })
    }
}

/// Add `queries` to each key's stored list (a JSON array of query names, sorted, unique).
/// Ids looked up per statement by [`Ledger::stories_of`] (well under SQLite's limit on bound
/// parameters, 32,766 since 3.32).
const STORY_LOOKUP_CHUNK: usize = 500;

fn story_lookup_sql(ids: usize) -> String {
    let mut sql = String::from("SELECT doc_id, story FROM stories WHERE doc_id IN (");
    for i in 0..ids {
        sql.push_str(if i == 0 { "?" } else { ",?" });
    }
    sql.push(')');
    sql
}

fn read_stories(
    select: &mut rusqlite::Statement<'_>,
    ids: &[DocId],
    found: &mut HashMap<DocId, DocId>,
) -> rusqlite::Result<()> {
    let mut rows = select.query(rusqlite::params_from_iter(ids.iter().map(|d| d.0.as_str())))?;
    while let Some(row) = rows.next()? {
        found.insert(DocId(row.get(0)?), DocId(row.get(1)?));
    }
    Ok(())
}

fn merge_lists(
    tx: &rusqlite::Transaction<'_>,
    table: &str,
    key_column: &str,
    additions: BTreeMap<&str, Vec<&str>>,
) -> rusqlite::Result<()> {
    let mut read = tx.prepare_cached(&format!(
        "SELECT queries FROM {table} WHERE {key_column} = ?1"
    ))?;
    let mut write = tx.prepare_cached(&format!(
        "INSERT OR REPLACE INTO {table} ({key_column}, queries) VALUES (?1, ?2)"
    ))?;
    for (key, queries) in additions {
        let stored: Option<String> = read.query_row([key], |r| r.get(0)).optional()?;
        let mut list: Vec<String> = stored
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        list.extend(queries.into_iter().map(str::to_string));
        list.sort_unstable();
        list.dedup();
        let text = serde_json::to_string(&list).unwrap_or_else(|_| "[]".to_string());
        write.execute([key, text.as_str()])?;
    }
    Ok(())
}

fn warnings_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<FileWarnings> {
    let details: String = r.get(4)?;
    Ok(FileWarnings {
        path: r.get(0)?,
        content_hash: r.get(1)?,
        skipped_records: r.get::<_, i64>(2)?.max(0) as u64,
        total: r.get::<_, i64>(3)?.max(0) as u64,
        details: serde_json::from_str(&details).unwrap_or_default(),
        at: r.get(5)?,
    })
}

fn quarantined_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Quarantined> {
    Ok(Quarantined {
        path: r.get(0)?,
        content_hash: r.get(1)?,
        reason: r.get(2)?,
        attempts: r.get::<_, i64>(3)?.max(0) as u64,
        at: r.get(4)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger_add_alert(dir: &Path, alert_id: &str, path: &str, query: &str) {
        let mut ledger = Ledger::open(dir).unwrap();
        ledger
            .record(&Progress {
                alerts: vec![AlertRow::new(alert_id, path, query)],
                alert_log_offset: 120,
                ..Default::default()
            })
            .unwrap();
    }

    #[test]
    fn stories_of_reads_the_rows_there_are_over_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::open(dir.path()).unwrap();
        let words: Vec<String> = (0..40).map(|i| format!("word{i}")).collect();
        let fingerprint =
            Arc::new(Fingerprint::of_tokens(words.iter().map(String::as_str)).unwrap());
        // More documents than one statement looks up: the original 0, every third one a copy.
        let docs: Vec<DocId> = (0..STORY_LOOKUP_CHUNK * 2 + 7)
            .map(|i| DocId(format!("d{i}")))
            .collect();
        let stories: Vec<StoryRow> = docs
            .iter()
            .enumerate()
            .map(|(i, doc)| StoryRow {
                doc: doc.clone(),
                story: if i % 3 == 0 {
                    docs[0].clone()
                } else {
                    doc.clone()
                },
                fingerprint: fingerprint.clone(),
                seq: i as u64,
            })
            .collect();
        ledger
            .record(&Progress {
                stories,
                ..Default::default()
            })
            .unwrap();
        let mut asked = docs.clone();
        asked.push(DocId("no-row".into()));
        let reader = Ledger::open_read_only(dir.path()).unwrap();
        let found = reader.stories_of(&asked).unwrap();
        assert_eq!(found.len(), docs.len());
        assert_eq!(found[&docs[3]], docs[0]);
        assert_eq!(found[&docs[STORY_LOOKUP_CHUNK * 2 + 5]], docs[0]);
        assert_eq!(found[&docs[4]], docs[4]);
        assert!(!found.contains_key(&DocId("no-row".into())));
        assert!(reader.stories_of(&[]).unwrap().is_empty());
    }

    #[test]
    fn records_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::open(dir.path()).unwrap();
        assert_eq!(ledger.alert_log_offset().unwrap(), 0);
        let progress = Progress {
            alerts: vec![AlertRow::new("q:a/d:1", "/w/x.txt", "a")],
            files: vec![FileRecord {
                path: "/w/x.txt".into(),
                content_hash: "h1".into(),
                docs: vec![DocId("1".into())],
            }],
            quarantined: vec![Quarantined {
                path: "/w/bad.txt".into(),
                content_hash: "h2".into(),
                reason: "binary file".into(),
                attempts: 1,
                at: "now".into(),
            }],
            alert_log_offset: 120,
            ..Default::default()
        };
        ledger.record(&progress).unwrap();
        drop(ledger);
        let ledger = Ledger::open(dir.path()).unwrap();
        // Both lists at once, each present or not.
        let one = |s: &str| vec![s.to_string()];
        assert_eq!(
            ledger.alerted(&DocId("1".into()), "/w/x.txt").unwrap(),
            (one("a"), one("a"))
        );
        assert_eq!(
            ledger.alerted(&DocId("2".into()), "/w/x.txt").unwrap(),
            (vec![], one("a"))
        );
        assert_eq!(
            ledger.alerted(&DocId("1".into()), "/w/y.txt").unwrap(),
            (one("a"), vec![])
        );
        ledger_add_alert(dir.path(), "q:b/d:1", "/w/x.txt", "b");
        let ledger = Ledger::open(dir.path()).unwrap();
        assert_eq!(
            ledger.alerted(&DocId("1".into()), "/elsewhere").unwrap().0,
            vec!["a".to_string(), "b".to_string()]
        );
        assert_eq!(
            ledger.file("/w/x.txt").unwrap().unwrap().docs,
            vec![DocId("1".into())]
        );
        assert_eq!(
            ledger.paths_of(&DocId("1".into()), "/other").unwrap(),
            vec!["/w/x.txt".to_string()]
        );
        assert_eq!(ledger.alert_log_offset().unwrap(), 120);
        assert!(ledger.has_files_under(Path::new("/w")).unwrap());
        assert!(ledger.has_files_under(Path::new("/w/")).unwrap());
        assert!(!ledger.has_files_under(Path::new("/w/x")).unwrap());
        assert!(ledger.has_files_under(Path::new("/")).unwrap());
        assert_eq!(
            ledger.files_under(Path::new("/w"), 5).unwrap(),
            vec!["/w/x.txt".to_string()]
        );
        assert_eq!(ledger.all_quarantined().unwrap()[0].reason, "binary file");
        let reader = Ledger::open_read_only(dir.path()).unwrap();
        assert_eq!(reader.counts().unwrap(), (1, 2));
    }

    #[test]
    fn a_changed_file_replaces_its_documents_and_leaves_quarantine() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::open(dir.path()).unwrap();
        let record = |hash: &str, doc: &str| FileRecord {
            path: "/w/x.txt".into(),
            content_hash: hash.into(),
            docs: vec![DocId(doc.into())],
        };
        ledger
            .record(&Progress {
                quarantined: vec![Quarantined {
                    path: "/w/x.txt".into(),
                    content_hash: "h0".into(),
                    reason: "empty file".into(),
                    attempts: 1,
                    at: "now".into(),
                }],
                ..Default::default()
            })
            .unwrap();
        ledger
            .record(&Progress {
                files: vec![record("h1", "1")],
                ..Default::default()
            })
            .unwrap();
        ledger
            .record(&Progress {
                files: vec![record("h2", "2")],
                ..Default::default()
            })
            .unwrap();
        assert_eq!(
            ledger.file("/w/x.txt").unwrap().unwrap().docs,
            vec![DocId("2".into())]
        );
        assert!(ledger.all_quarantined().unwrap().is_empty());
        ledger
            .record(&Progress {
                removed_files: vec!["/w/x.txt".into()],
                ..Default::default()
            })
            .unwrap();
        assert!(ledger.file("/w/x.txt").unwrap().is_none());
    }

    #[test]
    fn warnings_follow_the_files_content_and_ignored_files_are_counted() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::open(dir.path()).unwrap();
        let file = |path: &str, hash: &str| FileRecord {
            path: path.into(),
            content_hash: hash.into(),
            docs: vec![],
        };
        let warned = |path: &str, hash: &str| FileWarnings {
            path: path.into(),
            content_hash: hash.into(),
            skipped_records: 1,
            total: 2,
            details: vec![
                "line 2 skipped: no title or text".into(),
                "line 3: x".into(),
            ],
            at: "now".into(),
        };
        ledger
            .record(&Progress {
                files: vec![
                    file("/w/a.jsonl", "h1"),
                    file("/w/b.jsonl", "h1"),
                    file("/w/c.jsonl", "h1"),
                ],
                warnings: vec![
                    warned("/w/a.jsonl", "h1"),
                    warned("/w/b.jsonl", "h1"),
                    warned("/w/c.jsonl", "h1"),
                ],
                ignored: vec![
                    IgnoredFile {
                        path: "/w/x.pdf".into(),
                        extension: ".pdf".into(),
                    },
                    IgnoredFile {
                        path: "/w/y.pdf".into(),
                        extension: ".pdf".into(),
                    },
                    IgnoredFile {
                        path: "/w/NOTES".into(),
                        extension: String::new(),
                    },
                ],
                ..Default::default()
            })
            .unwrap();
        assert_eq!(
            ledger.warnings("/w/a.jsonl").unwrap(),
            Some(warned("/w/a.jsonl", "h1"))
        );
        assert_eq!(ledger.all_warnings().unwrap().len(), 3);
        assert!(ledger.is_ignored("/w/x.pdf").unwrap());
        assert_eq!(
            ledger.ignored_counts().unwrap(),
            [(String::new(), 1), (".pdf".to_string(), 2)]
        );
        // Read again without warnings, deleted, or changed into something unreadable: the
        // warnings go; an ignored file that is gone is forgotten.
        ledger
            .record(&Progress {
                files: vec![file("/w/a.jsonl", "h2")],
                removed_files: vec!["/w/b.jsonl".into()],
                quarantined: vec![Quarantined {
                    path: "/w/c.jsonl".into(),
                    content_hash: "h3".into(),
                    reason: "empty file".into(),
                    attempts: 1,
                    at: "now".into(),
                }],
                unignored: vec!["/w/x.pdf".into()],
                ..Default::default()
            })
            .unwrap();
        assert!(ledger.all_warnings().unwrap().is_empty());
        assert!(!ledger.is_ignored("/w/x.pdf").unwrap());
        assert_eq!(ledger.ignored_paths().unwrap().len(), 2);
    }

    #[test]
    fn a_ledger_from_before_warnings_reads_as_having_none() {
        let dir = tempfile::tempdir().unwrap();
        let db = Connection::open(dir.path().join("ledger.sqlite")).unwrap();
        db.execute_batch(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;",
        )
        .unwrap();
        drop(db);
        let reader = Ledger::open_read_only(dir.path()).unwrap();
        assert!(reader.all_warnings().unwrap().is_empty());
        assert!(reader.warnings("/w/a").unwrap().is_none());
        assert!(reader.ignored_counts().unwrap().is_empty());
        assert!(!reader.is_ignored("/w/a").unwrap());
    }

    /// A batch of notes over three paths, as the engine gathers them.
    fn batch_of_notes() -> impl proptest::strategy::Strategy<Value = Progress> {
        use proptest::prelude::*;
        let path = || prop::sample::select(vec!["/w/a", "/w/b", "/w/c"]);
        let paths = move || prop::collection::vec(path(), 0..3);
        (paths(), paths(), paths(), paths(), paths(), 0..3u64).prop_map(
            |(files, removed, released, warned, quarantined, round)| Progress {
                files: files
                    .into_iter()
                    .map(|p| FileRecord {
                        path: p.into(),
                        content_hash: format!("h{round}"),
                        docs: Vec::new(),
                    })
                    .collect(),
                removed_files: removed.into_iter().map(String::from).collect(),
                released: released.into_iter().map(String::from).collect(),
                warnings: warned
                    .into_iter()
                    .map(|p| FileWarnings {
                        path: p.into(),
                        content_hash: format!("h{round}"),
                        skipped_records: round,
                        total: round + 1,
                        details: vec![format!("line {round} skipped")],
                        at: "t".into(),
                    })
                    .collect(),
                quarantined: quarantined
                    .into_iter()
                    .map(|p| Quarantined {
                        path: p.into(),
                        content_hash: format!("h{round}"),
                        reason: "binary file".into(),
                        attempts: round + 1,
                        at: "t".into(),
                    })
                    .collect(),
                ..Default::default()
            },
        )
    }

    proptest::proptest! {
        /// `FileNotes::apply` is `Ledger::record` for the notes (what the live status shows
        /// before a batch is recorded is what the ledger holds after), and applying a batch
        /// the ledger already holds changes nothing.
        #[test]
        fn file_notes_apply_a_batch_as_the_ledger_records_it(
            batches in proptest::collection::vec(batch_of_notes(), 1..6)
        ) {
            let dir = tempfile::tempdir().unwrap();
            let mut ledger = Ledger::open(dir.path()).unwrap();
            for batch in &batches {
                let mut ahead = FileNotes::read(&ledger).unwrap();
                ahead.apply(batch, std::iter::empty());
                ledger.record(batch).unwrap();
                let mut recorded = FileNotes::read(&ledger).unwrap();
                proptest::prop_assert_eq!(&ahead, &recorded);
                recorded.apply(batch, std::iter::empty());
                proptest::prop_assert_eq!(&ahead, &recorded);
            }
        }
    }
}
