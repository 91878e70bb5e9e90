//! Backfills under way. `PUT /queries/{name}?backfill=true` saves the query at once, then its
//! backfill (alerts on the documents already indexed that the query matches) runs in slices of
//! [`BACKFILL_SLICE`] documents, taking turns with files and requests, so that a backfill over a
//! million documents never stalls ingest, `/status` or other requests. The request is answered
//! when its backfill is done.

use std::collections::VecDeque;

use tokio::sync::oneshot;

use super::requests::fatal;
use super::Daemon;
use crate::api::views::{BackfillView, QuerySaved};
use crate::api::RequestError;
use crate::contain::contain;
use crate::engine::{
    BackfillRun, BackfillStep, Command, CommandError, EngineError, BACKFILL_SLICE,
};

/// One backfill under way and the request waiting for it.
pub(super) struct BackfillJob {
    run: BackfillRun,
    saved: QuerySaved,
    reply: oneshot::Sender<Result<QuerySaved, RequestError>>,
}

/// The backfills under way, taking turns.
pub(super) type Backfills = VecDeque<BackfillJob>;

impl Daemon {
    /// Start the backfill of a query just saved; `reply` is answered when it is done.
    pub(super) fn start_backfill(
        &mut self,
        saved: QuerySaved,
        reply: oneshot::Sender<Result<QuerySaved, RequestError>>,
    ) -> Result<(), EngineError> {
        let name = saved.query.name.clone();
        let started = contain(|| {
            self.engine
                .execute(Command::StartBackfill { name })
                .and_then(|reply| reply.backfill_started())
        })
        .map_err(|panic| RequestError::Bug {
            during: "starting a backfill",
            panic: panic.message,
        })
        .and_then(|started| started.map_err(RequestError::from));
        match fatal(started)? {
            Ok(Some(run)) => self.backfills.push_back(BackfillJob { run, saved, reply }),
            Ok(None) => {
                // Not running (a query that does not parse is refused before this).
                let _ = reply.send(Ok(saved));
            }
            Err(error) => {
                let _ = reply.send(Err(error));
            }
        }
        Ok(())
    }

    pub(super) fn has_backfills(&self) -> bool {
        !self.backfills.is_empty()
    }

    /// One slice of the first backfill; then it goes to the back of the line.
    pub(super) fn step_backfill(&mut self) -> Result<(), EngineError> {
        let Some(mut job) = self.backfills.pop_front() else {
            return Ok(());
        };
        let step = contain(|| {
            // Tests make slices slow here (FAILPOINTS=daemon::backfill_slice=sleep(250)).
            fail::fail_point!("daemon::backfill_slice");
            self.engine
                .execute(Command::ContinueBackfill {
                    run: &mut job.run,
                    slice: BACKFILL_SLICE,
                })
                .and_then(|reply| reply.backfill_step())
        });
        match step {
            Ok(Ok(BackfillStep::More)) => self.backfills.push_back(job),
            Ok(Ok(BackfillStep::Done)) => self.finish_backfill(job, None)?,
            Ok(Ok(BackfillStep::QueryChanged)) => {
                self.finish_backfill(job, Some("the query was changed or deleted meanwhile"))?
            }
            Ok(Err(error)) => match error.into_fatal() {
                Err(error) => {
                    let _ = job.reply.send(Err(RequestError::Bug {
                        during: "backfilling",
                        panic: format!("the backfill stopped: {error}"),
                    }));
                    return Err(error);
                }
                Ok(other) => {
                    let _ = job.reply.send(Err(other.into()));
                }
            },
            Err(panic) => {
                tracing::error!(query = %job.run.name(), "bug during a backfill ({panic}): it stopped; the daemon goes on");
                let _ = job.reply.send(Err(RequestError::Bug {
                    during: "backfilling",
                    panic: panic.message,
                }));
            }
        }
        Ok(())
    }

    /// Commit a backfill's alerts and answer its request (`stopped`: why it ended early).
    fn finish_backfill(
        &mut self,
        job: BackfillJob,
        stopped: Option<&'static str>,
    ) -> Result<(), EngineError> {
        let BackfillJob {
            run,
            mut saved,
            reply,
        } = job;
        let name = run.name().to_string();
        let done = run.done();
        let outcome = self
            .engine
            .execute(Command::FinishBackfill { run })
            .and_then(|reply| reply.backfilled())
            .map_err(CommandError::into_engine_error)?;
        let answer = match stopped {
            None => {
                saved.backfill = Some(BackfillView {
                    matched: outcome.matched,
                    alerts: outcome.alerts,
                });
                Ok(saved)
            }
            Some(why) => Err(RequestError::BackfillInterrupted {
                name,
                why,
                done,
                matched: outcome.matched,
                alerts: outcome.alerts,
            }),
        };
        let _ = reply.send(answer);
        Ok(())
    }

    /// At shutdown: the backfills under way stop; what they raised is committed and their
    /// requests are told.
    pub(super) fn stop_backfills(&mut self) -> Result<(), EngineError> {
        while let Some(job) = self.backfills.pop_front() {
            self.finish_backfill(job, Some("the daemon is stopping"))?;
        }
        Ok(())
    }
}
