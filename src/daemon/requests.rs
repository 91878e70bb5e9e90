//! Answering the API's requests ([`ApiRequest`], queued through the API's `EngineHandle`) on
//! the daemon loop, between two slices of work: each becomes engine commands, and the engine's
//! typed replies become the API's views. A bug met while answering (a panic) answers an
//! internal error and the daemon goes on; only a failure of the engine's storage stops it.

use super::Daemon;
use crate::api::views::{QuerySaved, QueryView};
use crate::api::{ApiRequest, RequestError};
use crate::contain::contain;
use crate::engine::{Command, CommandError, EngineError, QueryChanges, QueryRefused};

impl Daemon {
    /// Answer one request. Only a failure of the engine itself (index, ledger, alert log) is
    /// an error here, and it stops the daemon, as it would for a file.
    pub(super) fn answer(&mut self, request: ApiRequest) -> Result<(), EngineError> {
        match request {
            ApiRequest::ListQueries { reply } => {
                let views = self.contained("listing the saved queries", |d| {
                    Ok(QueryView::all(d.engine.queries()))
                });
                let _ = reply.send(fatal(views)?);
            }
            ApiRequest::PutQuery {
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
            ApiRequest::DeleteQuery { name, reply } => {
                let result = self.contained("deleting a query", |d| {
                    let changes = d
                        .engine
                        .execute(Command::DeleteQuery { name })?
                        .query_deleted()?;
                    d.queries_changed(&changes);
                    Ok(())
                });
                let _ = reply.send(fatal(result)?);
            }
            ApiRequest::Ingest {
                format_hint,
                body,
                reply,
            } => self.start_post(format_hint, body, reply),
            ApiRequest::Status { reply } => {
                let report = self.contained("reading the status", |d| Ok(d.status()?));
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
        work: impl FnOnce(&mut Self) -> Result<T, RequestError>,
    ) -> Result<T, RequestError> {
        match contain(|| work(self)) {
            Ok(result) => result,
            Err(panic) => {
                tracing::error!(
                    "bug while {during} ({panic}): the request failed; the daemon goes on"
                );
                Err(RequestError::Bug {
                    during,
                    panic: panic.message,
                })
            }
        }
    }

    /// Save a query and run it from now on (its backfill, if asked for, is started by the
    /// caller).
    fn put_query(
        &mut self,
        name: String,
        text: String,
        webhooks: Option<Vec<String>>,
    ) -> Result<QuerySaved, RequestError> {
        let shown = name.clone();
        let (id, created, changes) = self
            .engine
            .execute(Command::PutQuery {
                name,
                text,
                webhooks,
            })?
            .query_saved()?;
        self.queries_changed(&changes);
        let entry = self
            .engine
            .queries()
            .get(id)
            .ok_or(RequestError::Query(QueryRefused::NoSuchQuery(shown)))?;
        Ok(QuerySaved {
            query: QueryView::of(entry),
            created,
            backfill: None,
        })
    }

    /// After the saved queries changed (the API, a reload): the files now hold what runs, so
    /// their change signal is not a reason to reload; webhook routes follow the queries.
    pub(super) fn queries_changed(&mut self, changes: &QueryChanges) {
        self.config_files = super::reload::fingerprint(&self.watched_files());
        if changes.routes_changed {
            self.restart_delivery = true;
        }
    }
}

impl From<CommandError> for RequestError {
    fn from(error: CommandError) -> Self {
        match error {
            CommandError::Query(refused) => RequestError::Query(refused),
            CommandError::InvalidDocument(e) => RequestError::InvalidDocument(e),
            CommandError::Engine(e) => RequestError::Engine(e),
        }
    }
}

/// Split a request's result: engine failures are the daemon's own (they stop it), the rest
/// is the requester's answer.
pub(super) fn fatal<T>(
    result: Result<T, RequestError>,
) -> Result<Result<T, RequestError>, EngineError> {
    match result {
        Err(RequestError::Engine(e)) => Err(e),
        other => Ok(other),
    }
}
