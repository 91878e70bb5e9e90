//! The HTTP API (axum), served by the daemon on `[api] listen` (127.0.0.1:7700 by default):
//! search, saved queries (with dry runs and backfills), document ingest, alerts (a page, or a
//! live Server-Sent Events stream), status, health and Prometheus metrics. The OpenAPI
//! document at `/openapi.json` is generated from the handlers' annotations here, so it cannot
//! drift from the code.
//!
//! Searches, alert reads and metrics are answered beside the pipeline; whatever changes state
//! (queries, documents) is queued to the daemon loop through [`crate::daemon::Control`].
//! With `[api] token` set, every endpoint but `/healthz` needs `Authorization: Bearer TOKEN`.

mod alerts;
pub mod client;
mod documents;
mod error;
pub mod queries;
mod search;
mod service;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use tokio::sync::watch;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use error::{ApiError, ErrorBody};
pub use search::{SearchHit, SearchResponse};

use crate::config::ApiConfig;
use crate::daemon::Control;
use crate::index::LookoutIndex;
use crate::metrics::Metrics;
use crate::query::QueryLimits;

/// The file in the state folder that holds the address the running daemon's API listens on
/// (the CLI reads it to talk to the daemon).
pub const ADDRESS_FILE: &str = "api.addr";

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr} for the API: {reason} (another lookout running? change [api] listen, or set [api] enabled = false)")]
    Bind {
        addr: SocketAddr,
        reason: std::io::Error,
    },
    #[error("the API would listen on {0}, which is not a loopback address, without a token: set [api] token or LOOKOUT_API_TOKEN")]
    NoToken(SocketAddr),
}

/// What the API needs from the daemon.
pub struct ApiContext {
    pub control: Control,
    pub index: Arc<LookoutIndex>,
    pub alert_log: PathBuf,
    /// Changes whenever alerts are written to the log.
    pub alerts_written: watch::Receiver<u64>,
    pub metrics: Metrics,
    pub api: ApiConfig,
    /// How large a query may be (`max_query_clauses`), for the queries requests carry.
    pub query_limits: QueryLimits,
    pub state_dir: PathBuf,
    /// Turns true when the daemon stops: the server stops taking requests, streams end.
    pub stop: watch::Receiver<bool>,
}

/// What every handler sees.
#[derive(Clone)]
struct AppState {
    control: Control,
    index: Arc<LookoutIndex>,
    alert_log: Arc<PathBuf>,
    alerts_written: watch::Receiver<u64>,
    metrics: Metrics,
    stop: watch::Receiver<bool>,
    /// blake3 of the token (compared in constant time), when one is required.
    token: Option<blake3::Hash>,
    openapi: Arc<String>,
    query_limits: QueryLimits,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "lookout",
        description = "Full-text search and alerting: saved queries over a stream of articles."
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "search", description = "Search the index"),
        (name = "queries", description = "Saved queries: list, check, add or change (with dry runs and backfills), delete"),
        (name = "documents", description = "Ingest articles"),
        (name = "alerts", description = "The alert log, paged or live"),
        (name = "service", description = "Status, health and metrics"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "Needed on every endpoint but /healthz when [api] token is set",
                    ))
                    .build(),
            ),
        );
    }
}

/// The routes and the OpenAPI document they generate.
fn routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(search::search))
        .routes(routes!(queries::list))
        .routes(routes!(queries::check))
        .routes(routes!(queries::get, queries::put, queries::delete))
        .routes(routes!(documents::ingest))
        .routes(routes!(alerts::list))
        .routes(routes!(alerts::stream))
        .routes(routes!(service::status))
        .routes(routes!(service::healthz))
        .routes(routes!(service::metrics))
        .routes(routes!(service::openapi))
        .split_for_parts()
}

/// The OpenAPI document, as served at `/openapi.json`.
pub fn openapi_json() -> String {
    routes().1.to_pretty_json().unwrap_or_default()
}

fn app(context: ApiContext) -> Router {
    let (router, openapi) = routes();
    let token = context
        .api
        .token
        .as_deref()
        .map(|t| blake3::hash(t.as_bytes()));
    let state = AppState {
        control: context.control,
        index: context.index,
        alert_log: Arc::new(context.alert_log),
        alerts_written: context.alerts_written,
        metrics: context.metrics,
        stop: context.stop,
        token,
        openapi: Arc::new(openapi.to_pretty_json().unwrap_or_default()),
        query_limits: context.query_limits,
    };
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_token,
        ))
        .layer(DefaultBodyLimit::max(context.api.max_body_bytes))
        .layer(axum::middleware::from_fn(log_request))
        .with_state(state)
}

/// A running API server.
pub struct Running {
    task: tokio::task::JoinHandle<()>,
    address_file: PathBuf,
    pub addr: SocketAddr,
}

impl Running {
    /// Wait for the server to stop (after the daemon's stop signal), at most `deadline`.
    pub async fn stopped(self, deadline: Duration) {
        let mut task = self.task;
        if tokio::time::timeout(deadline, &mut task).await.is_err() {
            task.abort();
            tracing::warn!("API requests still running at shutdown were cut off");
        }
        let _ = std::fs::remove_file(&self.address_file);
    }
}

/// Bind the listener and serve the API until the context's stop signal.
pub async fn start(context: ApiContext) -> Result<Running, StartError> {
    let wanted = context.api.listen;
    if !wanted.ip().is_loopback() && context.api.token.is_none() {
        return Err(StartError::NoToken(wanted));
    }
    let listener = tokio::net::TcpListener::bind(wanted)
        .await
        .map_err(|reason| StartError::Bind {
            addr: wanted,
            reason,
        })?;
    let addr = listener.local_addr().unwrap_or(wanted);
    let address_file = context.state_dir.join(ADDRESS_FILE);
    if let Err(e) = std::fs::create_dir_all(&context.state_dir)
        .and_then(|()| std::fs::write(&address_file, format!("{addr}\n")))
    {
        tracing::warn!(file = %address_file.display(), "cannot record the API address ({e}); the CLI will not find the daemon");
    }
    let mut stop = context.stop.clone();
    let app = app(context);
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|stopped| *stopped).await;
            })
            .await;
        if let Err(e) = served {
            tracing::error!("the API server stopped: {e}");
        }
    });
    tracing::info!(%addr, "API listening on http://{addr}");
    Ok(Running {
        task,
        address_file,
        addr,
    })
}

/// One DEBUG line per request (`RUST_LOG=lookout::api=debug`): method, path, status, time.
async fn log_request(request: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let response = next.run(request).await;
    tracing::debug!(
        %method,
        path,
        status = response.status().as_u16(),
        elapsed_us = started.elapsed().as_micros() as u64,
        "api request"
    );
    response
}

async fn require_token(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(expected) = state.token else {
        return next.run(request).await;
    };
    if request.uri().path() == "/healthz" {
        return next.run(request).await;
    }
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| blake3::hash(token.trim().as_bytes()));
    // blake3::Hash compares in constant time.
    if given == Some(expected) {
        return next.run(request).await;
    }
    let mut response = ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "this endpoint needs Authorization: Bearer TOKEN (the [api] token)",
    )
    .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    response
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint (see /openapi.json)",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method (see /openapi.json)",
    )
}
