//! Service endpoints: `/status` (the daemon's report), `/healthz` (liveness, no token needed),
//! `/metrics` (Prometheus) and `/openapi.json` (this API, generated from the code).

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::views::StatusReport;
use super::AppState;

/// What the daemon is doing: documents, queries, queues, the last commit, quarantined files,
/// and each webhook's health.
#[utoipa::path(
    get,
    operation_id = "status",
    path = "/status",
    tag = "service",
    responses(
        (status = 200, description = "The status report", body = StatusReport),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 503, description = "The daemon is stopping", body = ErrorBody),
    ),
    security(("bearer" = []), ())
)]
pub(super) async fn status(State(state): State<AppState>) -> Result<Json<StatusReport>, ApiError> {
    Ok(Json(state.control.status().await?))
}

/// Liveness.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
}

/// Whether the daemon is up (never needs the token).
#[utoipa::path(
    get,
    operation_id = "healthz",
    path = "/healthz",
    tag = "service",
    responses((status = 200, description = "Up", body = Health)),
    security(())
)]
pub(super) async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// Prometheus metrics (text exposition format).
#[utoipa::path(
    get,
    operation_id = "metrics",
    path = "/metrics",
    tag = "service",
    responses(
        (status = 200, description = "Counters, gauges and histograms", content_type = "text/plain", body = String),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
    ),
    security(("bearer" = []), ())
)]
pub(super) async fn metrics(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> impl IntoResponse {
    state
        .metrics
        .set_queue_depth("requests", state.control.depth());
    // OpenMetrics when the scraper asks for it (Prometheus does), else the 0.0.4 text format.
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let (content_type, body) = state.metrics.scrape(accept);
    ([(header::CONTENT_TYPE, content_type)], body)
}

/// This API's OpenAPI document.
#[utoipa::path(
    get,
    operation_id = "openapi",
    path = "/openapi.json",
    tag = "service",
    responses(
        (status = 200, description = "The OpenAPI document", content_type = "application/json", body = Object),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
    ),
    security(("bearer" = []), ())
)]
pub(super) async fn openapi(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        state.openapi.as_ref().clone(),
    )
}
