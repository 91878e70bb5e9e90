//! The one way to drive the engine: a [`Command`], applied by [`Engine::execute`], answered by a
//! [`Reply`] (mini-redis's `Command` is the model: one enum, one entry point). The daemon loop,
//! `lookout ingest`, `lookout queries add --backfill` and the tests all send these; a later
//! transport (a message queue, a cluster) would too.
//!
//! Work that takes long is sliced. Files are taken (`TakeFile`) into the intake, where workers
//! prepare them in parallel, and applied in the order taken by `StepFiles`, a budget at a
//! time. A posted body or a backfill is started by a command (`StartIngest`, `StartBackfill`)
//! that answers with a run, which the caller holds and steps with the matching `Continue…`
//! command, doing other work in between (this is what keeps the daemon responsive). A run borrowed by a `Continue…` command is the reason `Command` has a lifetime;
//! the commands a transport carries own everything (`Command<'static>`).
//!
//! Errors: a command refused for what it asks ([`QueryRefused`], a body that holds no article)
//! is the requester's problem and the engine goes on; a failure of the engine's storage
//! ([`EngineError`]) is the caller's signal to stop.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::prepare::ReadRules;
use super::{
    Backfill, BackfillRun, BackfillStep, Engine, EngineError, FileDone, FileOutcome, IngestReport,
    IngestRun, QueryChanges, QueryId, RetryingFile, RETRY_BATCH,
};
use crate::config::{
    check_query_name, persist, shown_name, ConfigError, OnDelete, QueryNameError, QuerySpec,
};
use crate::extract::{ExtractError, Extractor};
use crate::ledger::FileNotes;
use crate::query::QueryError;

/// What the engine is asked to do.
#[derive(Debug)]
pub enum Command<'run> {
    /// Take a file that is ready: decided at once (`Reply::Taken(Some(..))`: one of lookout's
    /// own files, a type it does not read), or handed to a worker, to be applied by
    /// [`Command::StepFiles`] after the files taken before it (`Reply::Taken(None)`). Waits for
    /// room first (applying the earliest files) when as many files as the intake holds are
    /// taken already.
    TakeFile { path: PathBuf },
    /// Apply what the workers prepared, in the order the files were taken: for at least one
    /// part and until `budget` is spent, waiting up to `wait` for the first file's next part
    /// when it has none. Replies with the files applied whole; each is recorded (its progress
    /// pending the next commit).
    StepFiles {
        budget: Duration,
        wait: Option<Duration>,
    },
    /// A whole file at once, and the files taken before it (`lookout ingest`, the files left
    /// at shutdown).
    ProcessFile { path: PathBuf },
    /// The files whose failed read is due to be tried again (a bounded batch, soonest first).
    DueRetries,
    /// Take again a file whose read failed (applied like a new file by `StepFiles`).
    RetryFile { path: PathBuf },
    /// Quarantine a file whose processing met a bug (a panic the caller contained), with the
    /// panic's message, so that `lookout status` lists it; the same bytes are reported once.
    QuarantineAfterBug { path: PathBuf, panic: String },
    /// Read a body of articles handed over directly (`POST /documents`): `format_hint` is a
    /// file name whose extension picks the reader (`.json`, `.jsonl`). Refused when it holds no
    /// article.
    StartIngest { format_hint: String, body: Vec<u8> },
    /// Match and index the next documents of a posted body (at least one, until `budget` is
    /// spent), like a dropped file's, under the location `api:{id}`.
    ContinueIngest {
        run: &'run mut IngestRun,
        budget: Duration,
    },
    /// Commit a posted body's documents (durable when this returns) and report them.
    FinishIngest { run: IngestRun },
    /// Save a query in the file that defines it (a new one in the first queries file) and run
    /// it from now on, keeping its id if it existed.
    PutQuery {
        name: String,
        text: String,
        webhooks: Option<Vec<String>>,
    },
    /// Remove a saved query from its file and from what runs.
    DeleteQuery { name: String },
    /// Run exactly these saved queries from now on (a configuration reload): unchanged ones keep
    /// their id and compiled form; those that do not parse are kept as invalid.
    ReplaceQueries { specs: Vec<QuerySpec> },
    /// Start a backfill of the saved query `name` (commits first, so that the batch is
    /// searched): the documents a search for it returns now each get an alert marked
    /// `backfill`, raised once like any other. `None` if no such query runs.
    StartBackfill { name: String },
    /// Raise the alerts of the next `slice` documents of a backfill; stops early when the query
    /// was changed or deleted meanwhile (the alerts raised so far stand).
    ContinueBackfill {
        run: &'run mut BackfillRun,
        slice: usize,
    },
    /// Commit a backfill's alerts (durable when this returns) and report what it found.
    FinishBackfill { run: BackfillRun },
    /// What happens to deleted files' documents, and the largest file read (a reload).
    SetFileRules {
        on_delete: OnDelete,
        max_file_size: u64,
    },
    /// How files are read from now on (a reload of `[json]`).
    SetExtractor { extractor: Extractor },
    /// The webhooks a saved query may name, and where new saved queries go (a reload).
    SetQueryTargets {
        webhooks: Vec<String>,
        new_queries_file: PathBuf,
    },
    /// Process every quarantined file that is still there once more (the rules that refused
    /// it changed); the same refusal is not reported again.
    RecheckQuarantine,
    /// Compare the ledger with the watch folders and forget the files that are gone.
    Reconcile,
    /// Commit if a batch is due (timer or size).
    Tick,
    /// Commit only if the batch is full or the commit is twice overdue.
    TickIfOverdue,
    /// Make the index durable, then the alert sinks, then record the progress in the ledger.
    Commit,
    /// What the engine holds for the status report.
    Status,
}

/// What a command did.
#[derive(Debug)]
pub enum Reply {
    /// Nothing to report.
    Done,
    /// A file taken: decided at once (`Some`), or handed to a worker.
    Taken(Option<FileOutcome>),
    /// The files applied whole, in the order taken.
    FilesDone(Vec<FileDone>),
    File(FileOutcome),
    Paths(Vec<PathBuf>),
    Ingest(IngestRun),
    IngestMore(bool),
    Ingested(IngestReport),
    QuerySaved {
        id: QueryId,
        created: bool,
        changes: QueryChanges,
    },
    QueryDeleted {
        changes: QueryChanges,
    },
    QueriesReplaced(QueryChanges),
    BackfillStarted(Option<BackfillRun>),
    BackfillStep(BackfillStep),
    Backfilled(Backfill),
    /// How many files a reconcile found gone, or a re-check looked at.
    Count(usize),
    Status(EngineStatus),
}

/// What the engine holds, for the status report (the rest is read from the index, the ledger
/// and the configuration).
#[derive(Debug, Clone, Default)]
pub struct EngineStatus {
    pub active_queries: usize,
    pub invalid_queries: usize,
    /// Index changes not yet committed.
    pub uncommitted: usize,
    pub retrying: Vec<RetryingFile>,
    /// The files read with warnings and the quarantined files, with the batches not yet in
    /// the ledger applied.
    pub notes: FileNotes,
}

/// Why a change of the saved queries was refused (the running queries stay as they were).
#[derive(Debug, thiserror::Error)]
pub enum QueryRefused {
    #[error("invalid query: {0}")]
    InvalidQuery(QueryError),
    #[error("the query name {name} is refused: {error}")]
    InvalidName { name: String, error: QueryNameError },
    #[error("no saved query is named '{0}'")]
    NoSuchQuery(String),
    #[error("the webhook '{0}' is not configured")]
    UnknownWebhook(String),
    #[error("cannot save the query: {0}")]
    Persist(#[from] ConfigError),
}

/// Why a command did not do what it asked.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The saved-query change is refused; nothing changed.
    #[error(transparent)]
    Query(#[from] QueryRefused),
    /// A posted body holds no article.
    #[error(transparent)]
    InvalidDocument(ExtractError),
    /// The engine's storage failed (or answered what its caller cannot take): the caller
    /// stops.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl CommandError {
    /// The storage failure, if this is one (the caller stops), else the requester's error.
    pub fn into_fatal(self) -> Result<CommandError, EngineError> {
        match self {
            CommandError::Engine(e) => Err(e),
            other => Ok(other),
        }
    }

    /// For a command that refuses nothing (commits, files, backfill steps): the failure. A
    /// refusal there would be a bug; it is reported as such, not panicked on.
    pub fn into_engine_error(self) -> EngineError {
        match self {
            CommandError::Engine(e) => e,
            CommandError::Query(_) | CommandError::InvalidDocument(_) => {
                EngineError::UnexpectedReply {
                    wanted: "an answer",
                    got: "a refusal",
                }
            }
        }
    }
}

impl Reply {
    fn kind(&self) -> &'static str {
        match self {
            Reply::Done => "Done",
            Reply::Taken(_) => "Taken",
            Reply::FilesDone(_) => "FilesDone",
            Reply::File(_) => "File",
            Reply::Paths(_) => "Paths",
            Reply::Ingest(_) => "Ingest",
            Reply::IngestMore(_) => "IngestMore",
            Reply::Ingested(_) => "Ingested",
            Reply::QuerySaved { .. } => "QuerySaved",
            Reply::QueryDeleted { .. } => "QueryDeleted",
            Reply::QueriesReplaced(_) => "QueriesReplaced",
            Reply::BackfillStarted(_) => "BackfillStarted",
            Reply::BackfillStep(_) => "BackfillStep",
            Reply::Backfilled(_) => "Backfilled",
            Reply::Count(_) => "Count",
            Reply::Status(_) => "Status",
        }
    }

    fn unexpected<T>(self, wanted: &'static str) -> Result<T, CommandError> {
        Err(EngineError::UnexpectedReply {
            wanted,
            got: self.kind(),
        }
        .into())
    }
}

/// Typed accessors for the replies, so that a caller that sent a command takes its reply as
/// the type it is.
macro_rules! reply_as {
    ($($fn:ident => $variant:ident($t:ty)),* $(,)?) => {
        impl Reply {
            $(
                pub fn $fn(self) -> Result<$t, CommandError> {
                    match self {
                        Reply::$variant(value) => Ok(value),
                        other => other.unexpected(stringify!($variant)),
                    }
                }
            )*
        }
    };
}

reply_as! {
    taken => Taken(Option<FileOutcome>),
    files_done => FilesDone(Vec<FileDone>),
    file => File(FileOutcome),
    paths => Paths(Vec<PathBuf>),
    ingest => Ingest(IngestRun),
    ingest_more => IngestMore(bool),
    ingested => Ingested(IngestReport),
    queries_replaced => QueriesReplaced(QueryChanges),
    backfill_started => BackfillStarted(Option<BackfillRun>),
    backfill_step => BackfillStep(BackfillStep),
    backfilled => Backfilled(Backfill),
    count => Count(usize),
    status => Status(EngineStatus),
}

impl Reply {
    /// The reply of `PutQuery`: the query's id, whether it is new, what changed.
    pub fn query_saved(self) -> Result<(QueryId, bool, QueryChanges), CommandError> {
        match self {
            Reply::QuerySaved {
                id,
                created,
                changes,
            } => Ok((id, created, changes)),
            other => other.unexpected("QuerySaved"),
        }
    }

    /// The reply of `DeleteQuery`: what changed.
    pub fn query_deleted(self) -> Result<QueryChanges, CommandError> {
        match self {
            Reply::QueryDeleted { changes } => Ok(changes),
            other => other.unexpected("QueryDeleted"),
        }
    }

    /// The reply of a command that reports nothing.
    pub fn done(self) -> Result<(), CommandError> {
        match self {
            Reply::Done => Ok(()),
            other => other.unexpected("Done"),
        }
    }
}

impl Engine {
    /// Apply one command.
    pub fn execute(&mut self, command: Command<'_>) -> Result<Reply, CommandError> {
        let reply = self.run_command(command);
        // The command's alerts go out as it ends (see `AlertSinks::flush`), whatever it gave.
        // A sink that fails is the engine's end: that error wins over the command's own.
        self.sinks.flush().map_err(EngineError::from)?;
        reply
    }

    fn run_command(&mut self, command: Command<'_>) -> Result<Reply, CommandError> {
        Ok(match command {
            Command::TakeFile { path } => Reply::Taken(self.take_file(&path)?),
            Command::StepFiles { budget, wait } => Reply::FilesDone(self.step_files(budget, wait)?),
            Command::ProcessFile { path } => Reply::File(self.process_file(&path)?),
            Command::DueRetries => {
                Reply::Paths(self.retries.due(std::time::Instant::now(), RETRY_BATCH))
            }
            Command::RetryFile { path } => {
                self.retry_file(&path)?;
                Reply::Done
            }
            Command::QuarantineAfterBug { path, panic } => {
                Reply::File(self.quarantine_after_bug(&path, panic)?)
            }
            Command::StartIngest { format_hint, body } => Reply::Ingest(
                self.start_ingest(&format_hint, &body)
                    .map_err(CommandError::InvalidDocument)?,
            ),
            Command::ContinueIngest { run, budget } => {
                Reply::IngestMore(self.continue_ingest(run, budget)?)
            }
            Command::FinishIngest { run } => Reply::Ingested(self.finish_ingest(run)?),
            Command::PutQuery {
                name,
                text,
                webhooks,
            } => {
                let (id, created, changes) = self.put_query(name, text, webhooks)?;
                Reply::QuerySaved {
                    id,
                    created,
                    changes,
                }
            }
            Command::DeleteQuery { name } => Reply::QueryDeleted {
                changes: self.delete_query(&name)?,
            },
            Command::ReplaceQueries { specs } => {
                let changes = self.queries.replace_all(specs);
                self.refile(&changes);
                Reply::QueriesReplaced(changes)
            }
            Command::StartBackfill { name } => Reply::BackfillStarted(self.start_backfill(&name)?),
            Command::ContinueBackfill { run, slice } => {
                Reply::BackfillStep(self.continue_backfill(run, slice)?)
            }
            Command::FinishBackfill { run } => Reply::Backfilled(self.finish_backfill(run)?),
            Command::SetFileRules {
                on_delete,
                max_file_size,
            } => {
                self.on_delete = on_delete;
                self.read_rules = Arc::new(ReadRules {
                    max_file_size,
                    ..ReadRules::clone(&self.read_rules)
                });
                Reply::Done
            }
            Command::SetExtractor { extractor } => {
                self.read_rules = Arc::new(ReadRules {
                    extractor,
                    ..ReadRules::clone(&self.read_rules)
                });
                Reply::Done
            }
            Command::SetQueryTargets {
                webhooks,
                new_queries_file,
            } => {
                self.webhooks = webhooks;
                self.new_queries_file = new_queries_file;
                Reply::Done
            }
            Command::RecheckQuarantine => Reply::Count(self.recheck_quarantine()?),
            Command::Reconcile => Reply::Count(self.reconcile()?),
            Command::Tick => {
                self.tick()?;
                Reply::Done
            }
            Command::TickIfOverdue => {
                self.tick_if_overdue()?;
                Reply::Done
            }
            Command::Commit => {
                self.commit()?;
                Reply::Done
            }
            Command::Status => Reply::Status(EngineStatus {
                active_queries: self.queries.active(),
                invalid_queries: self.queries.invalid(),
                uncommitted: self.uncommitted_changes(),
                retrying: self.retrying(),
                notes: self.file_notes()?,
            }),
        })
    }

    /// Validate, compile, persist and run a saved query (see [`Command::PutQuery`]).
    fn put_query(
        &mut self,
        name: String,
        text: String,
        webhooks: Option<Vec<String>>,
    ) -> Result<(QueryId, bool, QueryChanges), CommandError> {
        check_query_name(&name).map_err(|error| QueryRefused::InvalidName {
            name: shown_name(&name),
            error,
        })?;
        // Tests inject a bug here for query texts holding the marker (FAILPOINTS=daemon::put_query=panic).
        fail::fail_point!(
            "daemon::put_query",
            text.contains("lookout-failpoint"),
            |_| Err(QueryRefused::NoSuchQuery(name.clone()).into())
        );
        if let Some(unknown) = webhooks
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .find(|w| !self.webhooks.contains(w))
        {
            return Err(QueryRefused::UnknownWebhook(unknown.clone()).into());
        }
        let file = self
            .queries
            .file_of(&name)
            .map_or_else(|| self.new_queries_file.clone(), Path::to_path_buf);
        // Its `duplicates`, `digest` and `at_most` keys stay in its file as they were (saving
        // changes the text and the webhooks only).
        let (duplicates, delivery) = self
            .queries
            .by_name(&name)
            .map(|(_, entry)| (entry.spec.duplicates, entry.spec.delivery.clone()))
            .unwrap_or_default();
        let spec = QuerySpec {
            name: name.as_str().into(),
            text: text.into(),
            webhooks,
            duplicates,
            delivery,
            file: file.into(),
            line: None,
        };
        crate::query::parse_with_limits(&spec.text, self.queries.limits())
            .map_err(QueryRefused::InvalidQuery)?;
        persist::save_query(&spec.file, &name, &spec.text, spec.webhooks.as_deref())
            .map_err(QueryRefused::Persist)?;
        let mut changes = QueryChanges::default();
        let (id, created) = self.queries.put(spec, &mut changes);
        self.refile(&changes);
        tracing::info!(query = %name, created, "saved query saved through the API");
        Ok((id, created, changes))
    }

    /// Remove a saved query from its file and from what runs (see [`Command::DeleteQuery`]).
    fn delete_query(&mut self, name: &str) -> Result<QueryChanges, CommandError> {
        let file = self
            .queries
            .file_of(name)
            .map(Path::to_path_buf)
            .ok_or_else(|| QueryRefused::NoSuchQuery(name.to_string()))?;
        persist::remove_query(&file, name).map_err(QueryRefused::Persist)?;
        let mut changes = QueryChanges::default();
        self.queries.remove(name, &mut changes);
        self.refile(&changes);
        tracing::info!(query = %name, file = %file.display(), "saved query deleted through the API");
        Ok(changes)
    }
}
