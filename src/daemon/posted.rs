//! Bodies of articles posted to `POST /documents`, processed a slice at a time like a file of
//! many articles: the request is answered once its documents are matched, indexed and
//! committed, and files and other requests go on meanwhile.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::sync::oneshot;

use super::Daemon;
use crate::api::views::IngestedBatch;
use crate::api::RequestError;
use crate::contain::contain;
use crate::engine::{Command, CommandError, EngineError, IngestRun};

/// The work a posted body's slice does before anything else is looked at.
const POST_SLICE: Duration = Duration::from_millis(20);

/// One posted body under way and the request waiting for it.
pub(super) struct PostJob {
    run: IngestRun,
    reply: oneshot::Sender<Result<IngestedBatch, RequestError>>,
}

/// The posted bodies under way, in the order they came.
pub(super) type Posts = VecDeque<PostJob>;

impl Daemon {
    /// Take a posted body: refused at once when it holds no article, else processed by
    /// `step_post`.
    pub(super) fn start_post(
        &mut self,
        format_hint: &str,
        body: Vec<u8>,
        reply: oneshot::Sender<Result<IngestedBatch, RequestError>>,
    ) {
        let started = contain(|| {
            self.engine
                .execute(Command::StartIngest {
                    format_hint: format_hint.to_string(),
                    body,
                })
                .and_then(|reply| reply.ingest())
        });
        match started {
            Ok(Ok(run)) => self.posts.push_back(PostJob { run, reply }),
            Ok(Err(refused)) => {
                let _ = reply.send(Err(refused.into()));
            }
            Err(panic) => {
                tracing::error!("bug while reading posted documents ({panic}): the request failed; the daemon goes on");
                let _ = reply.send(Err(RequestError::Bug {
                    during: "reading posted documents",
                    panic: panic.message,
                }));
            }
        }
    }

    pub(super) fn has_posts(&self) -> bool {
        !self.posts.is_empty()
    }

    /// One slice of the first posted body; answered when its last document is committed.
    pub(super) fn step_post(&mut self) -> Result<(), EngineError> {
        let Some(mut job) = self.posts.pop_front() else {
            return Ok(());
        };
        let step = contain(|| {
            self.engine
                .execute(Command::ContinueIngest {
                    run: &mut job.run,
                    budget: POST_SLICE,
                })
                .and_then(|reply| reply.ingest_more())
        });
        match step {
            Ok(Ok(true)) => self.posts.push_front(job),
            Ok(Ok(false)) => {
                let report = self
                    .engine
                    .execute(Command::FinishIngest { run: job.run })
                    .and_then(|reply| reply.ingested())
                    .map_err(CommandError::into_engine_error)?;
                let _ = job.reply.send(Ok(IngestedBatch::of(report)));
            }
            Ok(Err(error)) => {
                let error = error.into_engine_error();
                let _ = job.reply.send(Err(RequestError::Bug {
                    during: "ingesting posted documents",
                    panic: format!("the documents were not all taken: {error}"),
                }));
                return Err(error);
            }
            Err(panic) => {
                tracing::error!("bug while ingesting posted documents ({panic}): the request failed; the daemon goes on");
                let _ = job.reply.send(Err(RequestError::Bug {
                    during: "ingesting posted documents",
                    panic: panic.message,
                }));
            }
        }
        Ok(())
    }

    /// At shutdown: the bodies under way are finished (they were accepted) and answered.
    pub(super) fn finish_posts(&mut self) -> Result<(), EngineError> {
        while self.has_posts() {
            self.step_post()?;
        }
        Ok(())
    }
}
