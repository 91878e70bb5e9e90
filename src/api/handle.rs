//! How the API reaches the engine: an [`EngineHandle`] queues an [`ApiRequest`] (with its reply
//! channel) to whoever owns the engine, the daemon loop, which answers it between two slices
//! of work, so that every change to the queries, the index and the alert log happens in one
//! place and in order. The API knows only this handle, never the daemon.

use tokio::sync::{mpsc, oneshot};

use super::views::{IngestedBatch, QuerySaved, QueryView, StatusReport};
use crate::engine::{EngineError, QueryRefused};
use crate::extract::ExtractError;

/// Why a request was not answered as asked.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The saved-query change is refused (name, text, webhooks, file); nothing changed.
    #[error(transparent)]
    Query(#[from] QueryRefused),
    /// A posted body holds no article.
    #[error(transparent)]
    InvalidDocument(ExtractError),
    /// The engine's storage failed (the daemon stops).
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("the daemon is shutting down")]
    Stopped,
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
    Bug { during: &'static str, panic: String },
}

/// A request to the engine's owner, with where its answer goes.
pub enum ApiRequest {
    ListQueries {
        reply: oneshot::Sender<Result<Vec<QueryView>, RequestError>>,
    },
    PutQuery {
        name: String,
        text: String,
        webhooks: Option<Vec<String>>,
        backfill: bool,
        reply: oneshot::Sender<Result<QuerySaved, RequestError>>,
    },
    DeleteQuery {
        name: String,
        reply: oneshot::Sender<Result<(), RequestError>>,
    },
    Ingest {
        format_hint: &'static str,
        body: Vec<u8>,
        reply: oneshot::Sender<Result<IngestedBatch, RequestError>>,
    },
    Status {
        reply: oneshot::Sender<Result<StatusReport, RequestError>>,
    },
}

/// A handle to queue requests to the engine's owner. Cheap to clone.
#[derive(Clone)]
pub struct EngineHandle {
    tx: mpsc::Sender<ApiRequest>,
}

/// Requests waiting at most this many; more wait for room.
pub const QUEUE: usize = 256;

impl EngineHandle {
    /// A handle, and the receiving end its owner serves.
    pub fn channel() -> (EngineHandle, mpsc::Receiver<ApiRequest>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        (EngineHandle { tx }, rx)
    }

    /// Requests waiting to be answered.
    pub fn depth(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    async fn ask<T>(&self, request: impl FnOnce(oneshot::Sender<T>) -> ApiRequest) -> Option<T> {
        let (reply, answer) = oneshot::channel();
        self.tx.send(request(reply)).await.ok()?;
        answer.await.ok()
    }

    pub async fn list_queries(&self) -> Result<Vec<QueryView>, RequestError> {
        self.ask(|reply| ApiRequest::ListQueries { reply })
            .await
            .unwrap_or(Err(RequestError::Stopped))
    }

    pub async fn put_query(
        &self,
        name: String,
        text: String,
        webhooks: Option<Vec<String>>,
        backfill: bool,
    ) -> Result<QuerySaved, RequestError> {
        self.ask(|reply| ApiRequest::PutQuery {
            name,
            text,
            webhooks,
            backfill,
            reply,
        })
        .await
        .unwrap_or(Err(RequestError::Stopped))
    }

    pub async fn delete_query(&self, name: String) -> Result<(), RequestError> {
        self.ask(|reply| ApiRequest::DeleteQuery { name, reply })
            .await
            .unwrap_or(Err(RequestError::Stopped))
    }

    /// Ingest a body of articles: `format_hint` is `documents.json` or `documents.jsonl`.
    pub async fn ingest(
        &self,
        format_hint: &'static str,
        body: Vec<u8>,
    ) -> Result<IngestedBatch, RequestError> {
        self.ask(|reply| ApiRequest::Ingest {
            format_hint,
            body,
            reply,
        })
        .await
        .unwrap_or(Err(RequestError::Stopped))
    }

    pub async fn status(&self) -> Result<StatusReport, RequestError> {
        self.ask(|reply| ApiRequest::Status { reply })
            .await
            .unwrap_or(Err(RequestError::Stopped))
    }
}
