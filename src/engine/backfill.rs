//! Backfills: alerts on the documents already indexed that a saved query matches, exactly the
//! documents a search for it returns (one index snapshot), through the same dedup as live
//! alerts (marked `backfill`), [`BACKFILL_SLICE`] documents per step.

use super::{Engine, EngineError, QueryId};
use crate::matcher::{summarize, DocAnalysis};

/// What a backfill found: documents the query matches, and the alerts newly raised.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backfill {
    pub matched: usize,
    pub alerts: usize,
}

/// A backfill under way (see [`Command::StartBackfill`](super::Command::StartBackfill)).
pub struct BackfillRun {
    id: QueryId,
    name: String,
    /// The query as it was when the backfill started.
    query: crate::query::Query,
    matching: crate::index::Matching,
    /// The next matched document to alert on.
    next: usize,
    /// What it found so far.
    pub outcome: Backfill,
}

impl std::fmt::Debug for BackfillRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackfillRun")
            .field("query", &self.name)
            .field("next", &self.next)
            .field("matched", &self.outcome.matched)
            .finish_non_exhaustive()
    }
}

impl BackfillRun {
    /// The saved query being backfilled.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many of the matched documents it has been through.
    pub fn done(&self) -> usize {
        self.next
    }
}

/// Where a backfill is after one slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackfillStep {
    More,
    Done,
    /// The query was changed or deleted while its backfill ran: it stopped.
    QueryChanged,
}

/// Documents a backfill alerts on in one slice: the daemon answers requests and takes files in
/// between, so a backfill of a million documents does not stall it.
pub const BACKFILL_SLICE: usize = 256;

impl Engine {
    /// Start a backfill of the saved query `name`: the documents a search for it returns now
    /// (so that a backfill alerts exactly where search finds) will each get an alert marked
    /// `backfill`, raised once like any other (a second backfill raises none). Commits first,
    /// so that the documents still in the batch are searched. `None` if no such query runs.
    pub(super) fn start_backfill(
        &mut self,
        name: &str,
    ) -> Result<Option<BackfillRun>, EngineError> {
        let Some((id, query)) = self
            .queries
            .by_name(name)
            .and_then(|(id, entry)| entry.query().map(|q| (id, q.clone())))
        else {
            return Ok(None);
        };
        self.commit()?;
        let matching = self.index.matching(&query)?;
        Ok(Some(BackfillRun {
            id,
            name: name.to_string(),
            outcome: Backfill {
                matched: matching.len(),
                alerts: 0,
            },
            query,
            matching,
            next: 0,
        }))
    }

    /// Raise the alerts of the next `slice` documents of a backfill. Stops early when the
    /// query was changed or deleted meanwhile (the alerts raised so far stand).
    pub(super) fn continue_backfill(
        &mut self,
        run: &mut BackfillRun,
        slice: usize,
    ) -> Result<BackfillStep, EngineError> {
        let unchanged = self
            .queries
            .get(run.id)
            .is_some_and(|e| *e.spec.name == *run.name && e.query() == Some(&run.query));
        if !unchanged {
            return Ok(BackfillStep::QueryChanged);
        }
        let documents = run.matching.documents(run.next..run.next + slice.max(1))?;
        run.next += documents.len();
        for document in &documents {
            let analysis = DocAnalysis::new(document, &mut self.analyzer);
            let summary = summarize(&run.query, document, &analysis);
            let similar = self.copies_known_of(&document.id);
            let raised = self.raise_alerts(document, vec![(run.id, summary)], true, &similar)?;
            run.outcome.alerts += raised;
            self.stats.alerts += raised as u64;
        }
        Ok(if run.next >= run.matching.len() {
            BackfillStep::Done
        } else {
            BackfillStep::More
        })
    }

    /// Commit a backfill's alerts (durable when this returns) and report what it found.
    pub(super) fn finish_backfill(&mut self, run: BackfillRun) -> Result<Backfill, EngineError> {
        self.commit()?;
        tracing::info!(query = %run.name, matched = run.outcome.matched, alerts = run.outcome.alerts, "backfill done");
        Ok(run.outcome)
    }
}
