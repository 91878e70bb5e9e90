//! `GET /search`: ranked hits for a query in lookout's language, with highlighted snippets;
//! with `collapse=true`, one hit per story (copies of an article folded into its best-ranked
//! one, with their count), read beside the daemon: the shared index reader and a read-only
//! connection to the ledger (`engine::search_collapsed`).

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ApiQuery, ErrorBody};
use super::AppState;
use crate::engine::{search_collapsed, CollapsedHit, COLLAPSE_HITS};
use crate::index::Hit;
use crate::ledger::{Ledger, LedgerError};
use crate::query;

/// At most this many hits a page.
pub const MAX_LIMIT: usize = 1000;
/// Pages start at most this deep.
pub const MAX_OFFSET: usize = 100_000;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// The query, e.g. `Niger AND "security agreement"`.
    #[param(example = "crude AND \"oil prices\"", min_length = 1)]
    q: String,
    /// Hits to return (default 10).
    #[param(minimum = 0, maximum = 1000)]
    limit: Option<usize>,
    /// Hits to skip first (default 0); with `collapse`, stories.
    #[param(minimum = 0, maximum = 100000)]
    offset: Option<usize>,
    /// One hit per story (`true` or `false`, default `false`): the best 10,000 hits are
    /// grouped by story, each story shown by its best-ranked hit with `copies`, and `limit`
    /// and `offset` count stories.
    collapse: Option<bool>,
}

/// A page of hits.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SearchResponse {
    /// Every matching document, not just this page.
    pub total: usize,
    /// With `collapse=true`: the stories the hits were grouped into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collapse: Option<CollapseSummary>,
    pub hits: Vec<SearchHit>,
}

/// How a collapsed search grouped its hits.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CollapseSummary {
    /// The stories among the hits grouped (what `offset` and `limit` page over).
    pub stories: usize,
    /// The hits grouped: the best 10,000 of `total` at most.
    pub grouped: usize,
    /// Whether the query matched more than 10,000 documents: then only the best 10,000 were
    /// grouped, and a story ranked past them, or a copy, is not counted.
    pub capped: bool,
}

/// One hit.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SearchHit {
    pub score: f32,
    /// The document's content id.
    pub id: String,
    pub title: String,
    /// Where it came from (`path`, `path#part` for multi-article files, `api:{id}`).
    pub path: String,
    /// `YYYY-MM-DD`, when known.
    pub date: Option<String>,
    pub source: Option<String>,
    pub url: Option<String>,
    /// The query's terms and phrases found in the document.
    pub terms: Vec<String>,
    /// A passage of the text with the matches in `<b>…</b>` (HTML-escaped otherwise).
    pub snippet: String,
    /// With `collapse=true`: the story's id (the content id of its first document; the hit's
    /// own id when it is a story of its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub story: Option<String>,
    /// With `collapse=true`: the story's other documents among the hits grouped (the copies
    /// that match the query too; copies that do not match, or ranked past the best 10,000,
    /// are not counted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copies: Option<usize>,
}

impl From<&Hit> for SearchHit {
    fn from(hit: &Hit) -> Self {
        let doc = &hit.document;
        SearchHit {
            score: hit.score,
            id: doc.id.0.clone(),
            title: doc.title.clone(),
            path: doc.location(),
            date: doc.date.map(|d| d.to_string()),
            source: doc.source.clone(),
            url: doc.url.clone(),
            terms: hit.summary.terms.clone(),
            snippet: hit.summary.snippet.clone(),
            story: None,
            copies: None,
        }
    }
}

impl From<&CollapsedHit> for SearchHit {
    fn from(collapsed: &CollapsedHit) -> Self {
        SearchHit {
            story: Some(collapsed.story.0.clone()),
            copies: Some(collapsed.copies),
            ..SearchHit::from(&collapsed.hit)
        }
    }
}

/// Search the index.
#[utoipa::path(
    get,
    operation_id = "search",
    path = "/search",
    tag = "search",
    params(SearchParams),
    responses(
        (status = 200, description = "Ranked hits", body = SearchResponse),
        (status = 400, description = "Invalid query or parameter", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
    ),
    security(("bearer" = []), ())
)]
pub(super) async fn search(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> Result<Json<SearchResponse>, ApiError> {
    let limit = params.limit.unwrap_or(10);
    let offset = params.offset.unwrap_or(0);
    if limit > MAX_LIMIT {
        return Err(ApiError::invalid_parameter(format!(
            "limit is at most {MAX_LIMIT}"
        )));
    }
    if offset > MAX_OFFSET {
        return Err(ApiError::invalid_parameter(format!(
            "offset is at most {MAX_OFFSET}"
        )));
    }
    let parsed = query::parse_with_limits(&params.q, state.query_limits)
        .map_err(|e| ApiError::invalid_query(&e))?;
    let index = state.index.clone();
    if params.collapse == Some(true) {
        let state_dir = state.state_dir.clone();
        return tokio::task::spawn_blocking(move || {
            // A connection of its own, read-only, per request: under WAL it reads the last
            // committed transaction while the daemon writes, and takes no lock the writer
            // waits for (the engine's connections stay the engine's).
            let ledger = match Ledger::open_read_only(&state_dir) {
                Ok(ledger) => Some(ledger),
                Err(LedgerError::Missing(_)) => None,
                Err(e) => return Err(ApiError::internal(e)),
            };
            let results = search_collapsed(&index, ledger.as_ref(), &parsed.query, limit, offset)
                .map_err(ApiError::internal)?;
            Ok(Json(SearchResponse {
                total: results.total,
                collapse: Some(CollapseSummary {
                    stories: results.stories,
                    grouped: results.grouped,
                    capped: results.capped(),
                }),
                hits: results.hits.iter().map(SearchHit::from).collect(),
            }))
        })
        .await
        .map_err(ApiError::internal)?;
    }
    let results = tokio::task::spawn_blocking(move || index.search(&parsed.query, limit, offset))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    Ok(Json(SearchResponse {
        total: results.total,
        collapse: None,
        hits: results.hits.iter().map(SearchHit::from).collect(),
    }))
}

// The cap the parameter's and the fields' docs name.
const _: () = assert!(COLLAPSE_HITS == 10_000);
