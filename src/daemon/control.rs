//! Requests to the running daemon (from the HTTP API): saved-query changes, documents to
//! ingest, the status report. They are queued to the daemon loop, which owns the pipeline and
//! the running configuration, and answered there between two files, so that every change to
//! the queries, the index and the alert log happens in one place and in order.

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use utoipa::ToSchema;

use super::status::StatusReport;
use super::Daemon;
use std::collections::HashMap;

use crate::config::{
    check_query_name, compile_queries, persist, shown_name, ConfigError, QueryNameError,
    QueryProblem, QuerySpec, SavedQuery,
};
use crate::extract::{ExtractWarning, Warnings};
use crate::pipeline::{IngestReport, Ingested, PipelineError};
use crate::query::{self, QueryError};

/// Why a request was refused.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("invalid query: {0}")]
    InvalidQuery(QueryError),
    #[error("the query name {name} is refused: {error}")]
    InvalidName { name: String, error: QueryNameError },
    #[error("no saved query is named '{0}'")]
    NoSuchQuery(String),
    #[error("the webhook '{0}' is not configured")]
    UnknownWebhook(String),
    #[error(transparent)]
    InvalidDocument(crate::extract::ExtractError),
    #[error("cannot save the query: {0}")]
    Persist(#[from] ConfigError),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error("the daemon is shutting down")]
    Stopped,
    /// A request failed in a way that does not stop the daemon (e.g. reading the status).
    #[error("{0}")]
    Internal(String),
    /// The query was changed or deleted while its backfill ran, or the daemon stopped: the
    /// backfill stopped early (the alerts raised so far stand; a new backfill raises the rest).
    #[error("the backfill of '{name}' stopped early: {why}; {alerts} alert(s) were raised for {done} of the {matched} matching documents; run the backfill again to finish it")]
    BackfillInterrupted {
        name: String,
        why: &'static str,
        done: usize,
        matched: usize,
        alerts: usize,
    },
    /// A bug (a panic) met while answering; the daemon contained it and goes on.
    #[error("internal error while {during} (a bug in lookout): {panic}")]
    Bug {
        during: &'static str,
        panic: super::contain::Panicked,
    },
}

/// A saved query as the daemon runs it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct QueryView {
    pub name: String,
    /// The query text, as written.
    pub query: String,
    /// Webhooks notified of its alerts; absent: every webhook.
    pub webhooks: Option<Vec<String>>,
    /// The file it is saved in.
    pub file: String,
    /// `active`, or `invalid` when it does not parse (then it is left out).
    pub status: String,
    /// Why it does not parse, for an invalid query.
    pub error: Option<QueryProblemView>,
    /// Warnings about how the query reads (operator precedence, costly prefixes, ...).
    pub lints: Vec<QueryProblemView>,
}

impl QueryView {
    /// The view of `spec`, given the queries that compiled and those that did not.
    pub fn of(spec: &QuerySpec, problems: &[QueryProblem], running: &[SavedQuery]) -> QueryView {
        let error = problems
            .iter()
            .find(|p| p.spec.name == spec.name)
            .map(|p| QueryProblemView {
                column: p.error.column,
                message: p.error.message.clone(),
            });
        let lints = running
            .iter()
            .find(|q| q.name == spec.name)
            .map(|q| q.lints.iter().map(QueryProblemView::from).collect())
            .unwrap_or_default();
        QueryView {
            name: spec.name.clone(),
            query: spec.text.clone(),
            webhooks: spec.webhooks.clone(),
            file: spec.file.display().to_string(),
            status: if error.is_some() { "invalid" } else { "active" }.into(),
            error,
            lints,
        }
    }
}

/// A parse error or a warning, at a 1-based column of the query text.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct QueryProblemView {
    pub column: usize,
    pub message: String,
}

impl From<&query::Lint> for QueryProblemView {
    fn from(lint: &query::Lint) -> Self {
        QueryProblemView {
            column: lint.column,
            message: lint.message.clone(),
        }
    }
}

/// What `PUT /queries/{name}` did.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct QuerySaved {
    pub query: QueryView,
    /// True when the query is new, false when it replaced one of the same name.
    pub created: bool,
    /// With `backfill=true`: documents already indexed that it matches, and the alerts raised
    /// for them now (those that never alerted before).
    pub backfill: Option<BackfillView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BackfillView {
    pub matched: usize,
    pub alerts: usize,
}

/// One document taken by `POST /documents`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IngestedView {
    pub id: String,
    /// Where alerts and search show it: `api:{id}`.
    pub path: String,
    /// False when the same content was already indexed (it raises no alert again).
    pub new: bool,
    /// Alerts it raised.
    pub alerts: usize,
}

/// What `POST /documents` took: the documents, and the records it skipped or the values it
/// left out.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IngestedBatch {
    /// One entry per article with text, in order.
    pub documents: Vec<IngestedView>,
    /// Records of the body that were not articles (not JSON, not an object, no text): skipped.
    pub skipped_records: usize,
    /// The first warnings (at most 10), in order.
    pub warnings: Vec<WarningView>,
    /// Warnings beyond those listed.
    pub more_warnings: usize,
}

/// A record skipped, or a value left out.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WarningView {
    /// Where: `line 3` (JSON Lines) or `element 2` (a JSON array); absent for a single article.
    pub record: Option<String>,
    /// True when the record was skipped (not indexed); false when only a value was left out.
    pub skipped: bool,
    /// What is wrong.
    pub message: String,
}

impl From<&ExtractWarning> for WarningView {
    fn from(warning: &ExtractWarning) -> Self {
        WarningView {
            record: warning.record.map(|r| r.to_string()),
            skipped: warning.problem.skips_record(),
            message: warning.problem.to_string(),
        }
    }
}

impl IngestedBatch {
    pub(super) fn of(report: IngestReport) -> Self {
        let warnings: &Warnings = &report.warnings;
        IngestedBatch {
            skipped_records: warnings.skipped_records(),
            warnings: warnings.detailed().iter().map(WarningView::from).collect(),
            more_warnings: warnings.total() - warnings.detailed().len(),
            documents: report
                .documents
                .into_iter()
                .map(IngestedView::from)
                .collect(),
        }
    }
}

impl From<Ingested> for IngestedView {
    fn from(ingested: Ingested) -> Self {
        IngestedView {
            id: ingested.id.0,
            path: ingested.location,
            new: ingested.new,
            alerts: ingested.alerts,
        }
    }
}

pub(super) enum Request {
    ListQueries {
        reply: oneshot::Sender<Result<Vec<QueryView>, ControlError>>,
    },
    PutQuery {
        name: String,
        text: String,
        webhooks: Option<Vec<String>>,
        backfill: bool,
        reply: oneshot::Sender<Result<QuerySaved, ControlError>>,
    },
    DeleteQuery {
        name: String,
        reply: oneshot::Sender<Result<(), ControlError>>,
    },
    Ingest {
        format_hint: &'static str,
        body: Vec<u8>,
        reply: oneshot::Sender<Result<IngestedBatch, ControlError>>,
    },
    Status {
        reply: oneshot::Sender<Result<StatusReport, ControlError>>,
    },
}

/// A handle to queue requests to the daemon loop. Cheap to clone.
#[derive(Clone)]
pub struct Control {
    tx: mpsc::Sender<Request>,
}

/// Requests waiting at most this many; more wait for room.
pub(super) const QUEUE: usize = 256;

impl Control {
    pub(super) fn channel() -> (Control, mpsc::Receiver<Request>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        (Control { tx }, rx)
    }

    /// Requests waiting for the daemon loop.
    pub fn depth(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    async fn ask<T>(&self, request: impl FnOnce(oneshot::Sender<T>) -> Request) -> Option<T> {
        let (reply, answer) = oneshot::channel();
        self.tx.send(request(reply)).await.ok()?;
        answer.await.ok()
    }

    pub async fn list_queries(&self) -> Result<Vec<QueryView>, ControlError> {
        self.ask(|reply| Request::ListQueries { reply })
            .await
            .unwrap_or(Err(ControlError::Stopped))
    }

    pub async fn put_query(
        &self,
        name: String,
        text: String,
        webhooks: Option<Vec<String>>,
        backfill: bool,
    ) -> Result<QuerySaved, ControlError> {
        self.ask(|reply| Request::PutQuery {
            name,
            text,
            webhooks,
            backfill,
            reply,
        })
        .await
        .unwrap_or(Err(ControlError::Stopped))
    }

    pub async fn delete_query(&self, name: String) -> Result<(), ControlError> {
        self.ask(|reply| Request::DeleteQuery { name, reply })
            .await
            .unwrap_or(Err(ControlError::Stopped))
    }

    /// Ingest a body of articles: `format_hint` is `documents.json` or `documents.jsonl`.
    pub async fn ingest(
        &self,
        format_hint: &'static str,
        body: Vec<u8>,
    ) -> Result<IngestedBatch, ControlError> {
        self.ask(|reply| Request::Ingest {
            format_hint,
            body,
            reply,
        })
        .await
        .unwrap_or(Err(ControlError::Stopped))
    }

    pub async fn status(&self) -> Result<StatusReport, ControlError> {
        self.ask(|reply| Request::Status { reply })
            .await
            .unwrap_or(Err(ControlError::Stopped))
    }
}

impl Daemon {
    /// Answer one request. Only a failure of the pipeline itself (index, ledger, alert log) is
    /// an error here, and it stops the daemon, as it would for a file.
    pub(super) fn answer(&mut self, request: Request) -> Result<(), PipelineError> {
        match request {
            Request::ListQueries { reply } => {
                let views = self.contained("listing the saved queries", |d| Ok(d.query_views()));
                let _ = reply.send(fatal(views)?);
            }
            Request::PutQuery {
                name,
                text,
                webhooks,
                backfill,
                reply,
            } => {
                let result =
                    self.contained("saving a query", |d| d.put_query(name, text, webhooks));
                match fatal(result)? {
                    // The answer comes when the backfill is done; the loop runs it in slices.
                    Ok(saved) if backfill => self.start_backfill(saved, reply)?,
                    answer => {
                        let _ = reply.send(answer);
                    }
                }
            }
            Request::DeleteQuery { name, reply } => {
                let result = self.contained("deleting a query", |d| d.delete_query(&name));
                let _ = reply.send(fatal(result)?);
            }
            Request::Ingest {
                format_hint,
                body,
                reply,
            } => self.start_post(format_hint, &body, reply),
            Request::Status { reply } => {
                let report = self.contained("reading the status", |d| {
                    d.status()
                        .map_err(|e| ControlError::Internal(format!("cannot read the status: {e}")))
                });
                let _ = reply.send(fatal(report)?);
            }
        }
        Ok(())
    }

    /// Run one request's work; a bug met on the way (a panic) answers an internal error
    /// instead of ending the daemon.
    fn contained<T>(
        &mut self,
        during: &'static str,
        work: impl FnOnce(&mut Self) -> Result<T, ControlError>,
    ) -> Result<T, ControlError> {
        match super::contain::contain(|| work(self)) {
            Ok(result) => result,
            Err(panic) => {
                tracing::error!(
                    "bug while {during} ({panic}): the request failed; the daemon goes on"
                );
                Err(ControlError::Bug { during, panic })
            }
        }
    }

    /// Every configured saved query, the invalid ones included, in configuration order.
    pub(super) fn query_views(&self) -> Vec<QueryView> {
        self.config
            .queries
            .iter()
            .map(|spec| self.query_view(spec))
            .collect()
    }

    fn query_view(&self, spec: &QuerySpec) -> QueryView {
        QueryView::of(spec, &self.problems, self.pipeline.queries())
    }

    /// Save a query and run it from now on (its backfill, if asked for, is started by the
    /// caller).
    fn put_query(
        &mut self,
        name: String,
        text: String,
        webhooks: Option<Vec<String>>,
    ) -> Result<QuerySaved, ControlError> {
        check_query_name(&name).map_err(|error| ControlError::InvalidName {
            name: shown_name(&name),
            error,
        })?;
        // Tests inject a bug here for query texts holding the marker (FAILPOINTS=daemon::put_query=panic).
        fail::fail_point!(
            "daemon::put_query",
            text.contains("lookout-failpoint"),
            |_| Err(ControlError::NoSuchQuery(name.clone()))
        );
        if let Some(unknown) = self
            .config
            .unknown_webhook(webhooks.as_deref().unwrap_or(&[]))
        {
            return Err(ControlError::UnknownWebhook(unknown.to_string()));
        }
        let file = self.config.file_for_query(&name);
        let spec = QuerySpec {
            name: name.clone(),
            text,
            webhooks,
            origin: file.display().to_string(),
            file,
        };
        let (mut compiled, mut invalid) =
            compile_queries(std::slice::from_ref(&spec), self.config.query_limits);
        if let Some(problem) = invalid.pop() {
            return Err(ControlError::InvalidQuery(problem.error));
        }
        let Some(saved) = compiled.pop() else {
            return Err(ControlError::NoSuchQuery(name));
        };
        persist::save_query(&spec.file, &name, &spec.text, spec.webhooks.as_deref())?;
        let routes_before = self.routes_key();
        let created = match self.config.queries.iter_mut().find(|q| q.name == name) {
            Some(existing) => {
                *existing = spec;
                false
            }
            None => {
                self.config.queries.push(spec);
                true
            }
        };
        tracing::info!(query = %name, created, "saved query saved through the API");
        self.problems.retain(|p| p.spec.name != name);
        self.pipeline.upsert_query(saved);
        self.after_query_change(routes_before);
        let view = self
            .config
            .query_spec(&name)
            .map(|spec| self.query_view(spec))
            .ok_or_else(|| ControlError::NoSuchQuery(name.clone()))?;
        Ok(QuerySaved {
            query: view,
            created,
            backfill: None,
        })
    }

    fn delete_query(&mut self, name: &str) -> Result<(), ControlError> {
        let spec = self
            .config
            .query_spec(name)
            .cloned()
            .ok_or_else(|| ControlError::NoSuchQuery(name.to_string()))?;
        persist::remove_query(&spec.file, name)?;
        let routes_before = self.routes_key();
        self.config.queries.retain(|q| q.name != name);
        self.problems.retain(|p| p.spec.name != name);
        self.pipeline.remove_query(name);
        self.after_query_change(routes_before);
        tracing::info!(query = %name, file = %spec.file.display(), "saved query deleted through the API");
        Ok(())
    }

    /// Run `specs` from now on (a config reload): the queries whose text and webhooks did not
    /// change keep their compiled form; the others are compiled (those that do not parse are
    /// left out, as problems); the pipeline gets the list.
    pub(super) fn apply_queries(&mut self, specs: Vec<QuerySpec>) {
        let routes_before = self.routes_key();
        let running: HashMap<&str, &SavedQuery> = self
            .pipeline
            .queries()
            .iter()
            .map(|q| (q.name.as_str(), q))
            .collect();
        let mut queries = Vec::with_capacity(specs.len());
        let mut fresh = Vec::new();
        for spec in &specs {
            match running.get(spec.name.as_str()) {
                Some(q) if q.text == spec.text && q.webhooks == spec.webhooks => {
                    queries.push((*q).clone())
                }
                _ => fresh.push(spec.clone()),
            }
        }
        let (compiled, problems) = compile_queries(&fresh, self.config.query_limits);
        queries.extend(compiled);
        self.config.queries = specs;
        self.problems = problems;
        self.pipeline.set_queries(queries);
        self.after_query_change(routes_before);
    }

    fn after_query_change(&mut self, routes_before: Vec<(String, Vec<String>)>) {
        // The files now hold what runs: their change signal is not a reason to reload.
        self.config_files = super::reload::fingerprint(&self.config.watched_files());
        self.metrics.set_saved_queries(self.pipeline.query_count());
        if self.routes_key() != routes_before {
            self.restart_delivery = true;
        }
    }

    /// What webhook routing depends on: the queries that name webhooks.
    fn routes_key(&self) -> Vec<(String, Vec<String>)> {
        let mut key: Vec<(String, Vec<String>)> = self
            .config
            .queries
            .iter()
            .filter_map(|q| q.webhooks.clone().map(|w| (q.name.clone(), w)))
            .collect();
        key.sort();
        key
    }
}

/// Split a request's result: pipeline failures are the daemon's own (they stop it), the rest
/// is the requester's answer.
pub(super) fn fatal<T>(
    result: Result<T, ControlError>,
) -> Result<Result<T, ControlError>, PipelineError> {
    match result {
        Err(ControlError::Pipeline(e)) => Err(e),
        other => Ok(other),
    }
}
