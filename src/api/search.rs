//! `GET /search`: ranked hits for a query in lookout's language, with highlighted snippets.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ApiQuery, ErrorBody};
use super::AppState;
use crate::index::Hit;
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
    /// Hits to skip first (default 0).
    #[param(minimum = 0, maximum = 100000)]
    offset: Option<usize>,
}

/// A page of hits.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SearchResponse {
    /// Every matching document, not just this page.
    pub total: usize,
    pub hits: Vec<SearchHit>,
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
    let results = tokio::task::spawn_blocking(move || index.search(&parsed.query, limit, offset))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    Ok(Json(SearchResponse {
        total: results.total,
        hits: results.hits.iter().map(SearchHit::from).collect(),
    }))
}
