//! `/queries`: the saved queries. List and read them, check a query text, add or replace one
//! (persisted to the file the configuration names, applied at once; `dry_run` answers what it
//! would match without saving, `backfill` also alerts on the documents already indexed), and
//! delete one.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody};
use super::search::SearchHit;
use super::views::{QueryProblemView, QuerySaved, QueryView};
use super::AppState;
use crate::{config, query};

/// Hits a dry run shows.
const DRY_RUN_SAMPLE: usize = 10;

/// List the saved queries (the invalid ones too, with their error).
#[utoipa::path(
    get,
    operation_id = "list_queries",
    path = "/queries",
    tag = "queries",
    responses(
        (status = 200, description = "Every saved query, in configuration order", body = Vec<QueryView>),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 503, description = "The daemon is stopping", body = ErrorBody),
    ),
    security(("bearer" = []), ())
)]
pub(super) async fn list(State(state): State<AppState>) -> Result<Json<Vec<QueryView>>, ApiError> {
    Ok(Json(state.control.list_queries().await?))
}

/// One saved query.
#[utoipa::path(
    get,
    operation_id = "get_query",
    path = "/queries/{name}",
    tag = "queries",
    params(("name" = String, Path, description = "The saved query's name")),
    responses(
        (status = 200, description = "The saved query", body = QueryView),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 404, description = "No saved query has that name", body = ErrorBody),
        (status = 503, description = "The daemon is stopping", body = ErrorBody),
    ),
    security(("bearer" = []), ())
)]
pub(super) async fn get(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<QueryView>, ApiError> {
    state
        .control
        .list_queries()
        .await?
        .into_iter()
        .find(|q| q.name == name)
        .map(Json)
        .ok_or_else(|| {
            super::RequestError::from(crate::engine::QueryRefused::NoSuchQuery(name)).into()
        })
}

/// A saved query's new text.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryBody {
    /// The query, in lookout's query language.
    #[schema(example = "wheat AND export*", min_length = 1)]
    pub query: String,
    /// Webhooks to notify of its alerts (configured names); absent: every webhook.
    pub webhooks: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PutParams {
    /// Also alert on the documents already indexed that it matches (each alert marked
    /// `"backfill": true`, raised once).
    backfill: Option<bool>,
    /// Do not save: answer how many indexed documents it would match, with the first few.
    dry_run: Option<bool>,
}

/// What a dry run would match.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DryRun {
    /// Always true: nothing was saved.
    pub dry_run: bool,
    /// Indexed documents it matches.
    pub total: usize,
    /// The first few, best first.
    pub hits: Vec<SearchHit>,
    pub lints: Vec<QueryProblemView>,
}

/// The answer of `PUT /queries/{name}`: what was saved, or with `dry_run`, what would match.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum PutAnswer {
    Saved(Box<QuerySaved>),
    DryRun(DryRun),
}

/// Add or replace a saved query.
///
/// A name is 1 to 64 letters, digits, `-`, `_` and `.`, starting with a letter or digit, and
/// not `check`. The query is validated, saved to the file that defines it (a new query goes to the first
/// `queries_files` entry, or to the config file), and applied at once to every new document.
#[utoipa::path(
    put,
    operation_id = "put_query",
    path = "/queries/{name}",
    tag = "queries",
    params(("name" = String, Path, description = "The saved query's name"), PutParams),
    request_body = QueryBody,
    responses(
        (status = 200, description = "Replaced, or the dry run's answer", body = PutAnswer),
        (status = 201, description = "Created", body = PutAnswer),
        (status = 400, description = "Invalid name, query (with its column), body or parameter", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
        (status = 409, description = "With backfill: the query was changed or deleted while its backfill ran, or the daemon stopped (the alerts raised so far stand)", body = ErrorBody),
        (status = 422, description = "Unknown webhook, or the query cannot be saved", body = ErrorBody),
        (status = 503, description = "The daemon is stopping", body = ErrorBody),
    ),
    security(("bearer" = []), ())
)]
pub(super) async fn put(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(params): ApiQuery<PutParams>,
    ApiJson(body): ApiJson<QueryBody>,
) -> Result<Response, ApiError> {
    let backfill = params.backfill.unwrap_or(false);
    if let Err(error) = config::check_query_name(&name) {
        return Err(ApiError::invalid_query_name(format!(
            "the query name {} is refused: {error}",
            config::shown_name(&name)
        )));
    }
    if params.dry_run.unwrap_or(false) {
        if backfill {
            return Err(ApiError::invalid_parameter(
                "dry_run and backfill exclude each other",
            ));
        }
        let parsed = query::parse_with_limits(&body.query, state.query_limits)
            .map_err(|e| ApiError::invalid_query(&e))?;
        let index = state.index.clone();
        let results =
            tokio::task::spawn_blocking(move || index.search(&parsed.query, DRY_RUN_SAMPLE, 0))
                .await
                .map_err(ApiError::internal)?
                .map_err(ApiError::internal)?;
        let answer = DryRun {
            dry_run: true,
            total: results.total,
            hits: results.hits.iter().map(SearchHit::from).collect(),
            lints: lints(&parsed.lints),
        };
        return Ok(Json(PutAnswer::DryRun(answer)).into_response());
    }
    let saved = state
        .control
        .put_query(name, body.query, body.webhooks, backfill)
        .await?;
    let status = if saved.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(PutAnswer::Saved(Box::new(saved)))).into_response())
}

/// Delete a saved query (from the file that defines it, and from the running daemon).
#[utoipa::path(
    delete,
    operation_id = "delete_query",
    path = "/queries/{name}",
    tag = "queries",
    params(("name" = String, Path, description = "The saved query's name")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 404, description = "No saved query has that name", body = ErrorBody),
        (status = 422, description = "The file that defines it cannot be written", body = ErrorBody),
        (status = 503, description = "The daemon is stopping", body = ErrorBody),
    ),
    security(("bearer" = []), ())
)]
pub(super) async fn delete(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    state.control.delete_query(name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A query text to check.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckBody {
    #[schema(example = "a OR b AND c")]
    pub query: String,
}

/// Whether a query text is valid, and how it reads.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CheckAnswer {
    pub valid: bool,
    /// Why it is not valid, at which column.
    pub error: Option<QueryProblemView>,
    /// Warnings, at their columns.
    pub lints: Vec<QueryProblemView>,
    /// The query as lookout reads it, fully parenthesized, when valid.
    pub normalized: Option<String>,
}

/// Check a query text without saving it.
#[utoipa::path(
    post,
    operation_id = "check_query",
    path = "/queries/check",
    tag = "queries",
    request_body = CheckBody,
    responses(
        (status = 200, description = "The verdict (an invalid query is a verdict, not an error)", body = CheckAnswer),
        (status = 400, description = "Invalid body", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Body is not JSON", body = ErrorBody),
    ),
    security(("bearer" = []), ())
)]
pub(super) async fn check(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CheckBody>,
) -> Json<CheckAnswer> {
    Json(
        match query::parse_with_limits(&body.query, state.query_limits) {
            Ok(parsed) => CheckAnswer {
                valid: true,
                error: None,
                lints: lints(&parsed.lints),
                normalized: Some(parsed.query.to_string()),
            },
            Err(error) => CheckAnswer {
                valid: false,
                error: Some(QueryProblemView {
                    column: error.column,
                    message: error.message,
                }),
                lints: Vec::new(),
                normalized: None,
            },
        },
    )
}

fn lints(lints: &[query::Lint]) -> Vec<QueryProblemView> {
    lints.iter().map(QueryProblemView::from).collect()
}
