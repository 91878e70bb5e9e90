//! Search collapsed by story (`lookout search --collapse`, `GET /search?collapse=true`): the
//! best [`COLLAPSE_HITS`] hits of the query, ranked as search ranks them, grouped by the story
//! the ledger's `stories` table gives each one (a document without a row is its own story),
//! one hit shown per story (its best-ranked member) with the number of its other members
//! among those hits, and a page over the stories. It reads beside the engine: the index
//! snapshot it is given and a ledger connection of the caller's (read-only beside a running
//! daemon), never the engine's own state.

use crate::document::DocId;
use crate::index::{Hit, IndexError, LookoutIndex};
use crate::ledger::{Ledger, LedgerError};
use crate::query::Query;
use crate::stories::{group_by_story, story_page};

/// The hits grouped by a collapsed search: the best this many (a query matching more is
/// grouped over these only, and the results say so).
pub const COLLAPSE_HITS: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum CollapseError {
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// One story's hit.
#[derive(Debug, Clone)]
pub struct CollapsedHit {
    /// Its best-ranked member among the hits grouped.
    pub hit: Hit,
    /// The story's id (the DocId of its first document; the hit's own when it has no row).
    pub story: DocId,
    /// The story's other documents among the hits grouped (that match the query).
    pub copies: usize,
}

/// A page of stories.
#[derive(Debug, Clone)]
pub struct CollapsedResults {
    /// Every document the query matches.
    pub total: usize,
    /// The hits grouped: `total`, or [`COLLAPSE_HITS`] when it matches more.
    pub grouped: usize,
    /// The stories among the hits grouped.
    pub stories: usize,
    /// The stories `offset..offset + limit`, best first.
    pub hits: Vec<CollapsedHit>,
}

impl CollapsedResults {
    /// Whether the query matched more documents than were grouped (then `stories` counts
    /// the stories among the best [`COLLAPSE_HITS`] only, and a story's `copies` may miss
    /// members ranked further).
    pub fn capped(&self) -> bool {
        self.total > self.grouped
    }
}

/// The stories `offset..offset + limit` among the best [`COLLAPSE_HITS`] hits of `query`.
/// Without a ledger (`None`), every hit is its own story.
pub fn search_collapsed(
    index: &LookoutIndex,
    ledger: Option<&Ledger>,
    query: &Query,
    limit: usize,
    offset: usize,
) -> Result<CollapsedResults, CollapseError> {
    let ranked = index.ranked(query, COLLAPSE_HITS)?;
    let story_of = match ledger {
        Some(ledger) => ledger.stories_of(ranked.ids())?,
        None => Default::default(),
    };
    let groups = group_by_story(ranked.ids(), &story_of);
    let page = &groups[story_page(groups.len(), offset, limit)];
    let hits = ranked.hits(query, page.iter().map(|g| g.representative))?;
    Ok(CollapsedResults {
        total: ranked.total(),
        grouped: ranked.ids().len(),
        stories: groups.len(),
        hits: hits
            .into_iter()
            .zip(page)
            .map(|(hit, group)| CollapsedHit {
                hit,
                story: group.story.clone(),
                copies: group.copies(),
            })
            .collect(),
    })
}
