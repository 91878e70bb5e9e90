//! The HTTP API (axum), served by the daemon on `[api] listen` (127.0.0.1:7700 by default):
//! search, saved queries (with dry runs and backfills), document ingest, alerts (a page, or a
//! live Server-Sent Events stream), status, health and Prometheus metrics. The OpenAPI
//! document at `/openapi.json` is generated from the handlers' annotations here, so it cannot
//! drift from the code.
//!
//! Searches, alert reads and metrics are answered beside the engine; whatever changes state
//! (queries, documents) is queued to the engine's owner (the daemon loop) through an [`EngineHandle`].
//! Every request passes, in order: a panic catcher (a handler that panics answers a JSON 500
//! and the server goes on), the host and origin guard (`guard.rs`: no DNS rebinding, no
//! cross-site requests), the token (with `[api] token` set, every endpoint but `/healthz`
//! needs `Authorization: Bearer TOKEN`), the body limit, then the routes. The server itself
//! (`server.rs`: timeouts, a connection cap that sheds slow and idle connections first,
//! graceful shutdown) is hyper, driven here.

mod alert_schema;
mod alerts;
mod documents;
mod error;
mod guard;
mod handle;
pub mod open_files;
pub mod queries;
mod search;
mod server;
#[cfg(test)]
mod server_tests;
mod service;
pub mod views;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use tokio::sync::{watch, Semaphore};
use tokio_util::sync::CancellationToken;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use error::{ApiError, Code, ErrorBody};
pub use guard::MAX_URI_BYTES;
pub use handle::{ApiRequest, EngineHandle, RequestError};
pub use search::{CollapseSummary, SearchHit, SearchResponse};
pub use server::{ServerLimits, MAX_HEADERS, MAX_HEAD_BYTES};

use crate::atomic_file::{self, Durability};
use crate::config::hosts::is_loopback;
use crate::config::{ApiConfig, DEFAULT_MAX_STREAMS};
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
    pub control: EngineHandle,
    pub index: Arc<LookoutIndex>,
    pub alert_log: PathBuf,
    /// Changes whenever alerts are written to the log.
    pub alerts_written: watch::Receiver<u64>,
    pub metrics: Metrics,
    pub api: ApiConfig,
    /// How large a query may be (`max_query_clauses`), for the queries requests carry.
    pub query_limits: QueryLimits,
    pub state_dir: PathBuf,
    /// Cancelled when the daemon stops: the server stops taking requests, streams end.
    pub stop: CancellationToken,
}

/// What every handler sees.
#[derive(Clone)]
struct AppState {
    control: EngineHandle,
    index: Arc<LookoutIndex>,
    alert_log: Arc<PathBuf>,
    alerts_written: watch::Receiver<u64>,
    metrics: Metrics,
    stop: CancellationToken,
    /// blake3 of the token (compared in constant time), when one is required.
    token: Option<blake3::Hash>,
    openapi: Arc<String>,
    /// One permit per live alert stream.
    streams: Arc<Semaphore>,
    query_limits: QueryLimits,
    /// The state folder: collapsed searches read the ledger's stories there.
    state_dir: Arc<PathBuf>,
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

/// The answers any request may get before or beside its endpoint: refused by the host or
/// origin guard, a head or body too large or too slow, a handler that failed, no room.
struct CommonAnswers;

impl utoipa::Modify for CommonAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{RefOr, Response, ResponseBuilder};
        let error = |description: &str| -> RefOr<Response> {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content(
                        "application/json",
                        utoipa::openapi::ContentBuilder::new()
                            .schema(Some(utoipa::openapi::Ref::from_schema_name("ErrorBody")))
                            .build(),
                    )
                    .build(),
            )
        };
        let common = [
            ("400", "Not valid HTTP, or no readable Host header (invalid_host, bad_request), or an invalid parameter"),
            ("403", "Sent by a web page of another origin (origin_not_allowed)"),
            ("408", "The request head or body did not arrive in time (request_timeout)"),
            ("414", "The request target is longer than 16 KiB (uri_too_long)"),
            ("421", "Addressed to a host this API does not answer to (host_not_allowed)"),
            ("431", "The request line and headers are over 32 KiB or 100 fields (headers_too_large)"),
            ("500", "The request failed inside lookout (internal); the daemon goes on"),
            ("503", "No connection or stream free, or the daemon is stopping (too_many_connections, too_many_streams, unavailable)"),
        ];
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
                &mut item.head,
                &mut item.options,
            ];
            for operation in operations.into_iter().flatten() {
                for (status, description) in common {
                    operation
                        .responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| error(description));
                }
            }
        }
    }
}

/// The routes and the OpenAPI document they generate.
fn routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(search::search))
        .routes(routes!(queries::list))
        .routes(routes!(queries::check))
        .routes(routes!(queries::get, queries::put, queries::delete))
        .routes(routes!(documents::ingest))
        .routes(routes!(documents::get))
        .routes(routes!(alerts::list))
        .routes(routes!(alerts::stream))
        .routes(routes!(service::status))
        .routes(routes!(service::healthz))
        .routes(routes!(service::metrics))
        .routes(routes!(service::openapi))
        .split_for_parts();
    // After the routes are in: every operation gets the answers any request may get.
    utoipa::Modify::modify(&CommonAnswers, &mut openapi);
    (router, openapi)
}

/// The OpenAPI document, as served at `/openapi.json`.
pub fn openapi_json() -> String {
    routes().1.to_pretty_json().unwrap_or_default()
}

fn app(context: ApiContext, listen: SocketAddr, max_streams: usize) -> Router {
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
        streams: Arc::new(Semaphore::new(max_streams)),
        query_limits: context.query_limits,
        state_dir: Arc::new(context.state_dir.clone()),
    };
    let routes = router
        // The desk's page, a client of the routes above.
        .merge(crate::web::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_token,
        ))
        .layer(DefaultBodyLimit::max(context.api.max_body_bytes))
        .with_state(state);
    guarded(
        routes,
        guard::HostGuard::new(listen, context.api.allowed_hosts.clone()),
    )
}

/// What runs before any route: the panic catcher (outermost), the request log, the host and
/// origin guard.
fn guarded(routes: Router, guard: guard::HostGuard) -> Router {
    routes
        .layer(axum::middleware::from_fn_with_state(guard, guard::admit))
        .layer(axum::middleware::from_fn(log_request))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panicked))
}

/// A handler panicked: log it, answer a JSON 500; the server goes on.
fn panicked(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into());
    tracing::error!("an API request panicked: {what}");
    ApiError::new(
        Code::Internal,
        "the request failed inside lookout (see the daemon's log); the daemon goes on",
    )
    .into_response()
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

/// How many connections and streams the API holds: `[api] max_connections` (or what the
/// open-file limit allows, after raising it), at most what the limit allows; `[api]
/// max_streams` (or 32), at most half (by default a quarter) of the connections.
fn connection_limits(api: &ApiConfig) -> (usize, usize) {
    let soft = open_files::raise_open_files_limit();
    let budget = open_files::connections_for(soft);
    let connections = match api.max_connections {
        Some(wanted) if wanted > budget && soft.is_some() => {
            tracing::warn!(
                "[api] max_connections = {wanted} is more than the open-file limit ({}) leaves \
                 beside the watcher, the index and the logs: {budget} are held",
                soft.unwrap_or_default()
            );
            budget
        }
        Some(wanted) => wanted,
        None => budget,
    };
    let streams = match api.max_streams {
        Some(wanted) => wanted.min(connections / 2).max(1),
        None => DEFAULT_MAX_STREAMS.min(connections / 4).max(1),
    };
    (connections, streams)
}

/// Connections the kernel queues for the API before it accepts them (the kernel caps it at
/// `net.core.somaxconn`): deep enough that a burst of connections does not drop a client's
/// SYN (which costs it a second).
const LISTEN_BACKLOG: u32 = 4096;

fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Bind the listener and serve the API until the context's stop signal.
pub async fn start(context: ApiContext) -> Result<Running, StartError> {
    let wanted = context.api.listen;
    if !is_loopback(wanted.ip()) && context.api.token.is_none() {
        return Err(StartError::NoToken(wanted));
    }
    let (max_connections, max_streams) = connection_limits(&context.api);
    let listener = bind(wanted).map_err(|reason| StartError::Bind {
        addr: wanted,
        reason,
    })?;
    let addr = listener.local_addr().unwrap_or(wanted);
    let address_file = context.state_dir.join(ADDRESS_FILE);
    // Replaced atomically, so that a reader never sees it half written (no fsync: a stale
    // address after a power loss is only a daemon the CLI does not find).
    let contents = format!("{addr}\n");
    if let Err(e) = std::fs::create_dir_all(&context.state_dir).and_then(|()| {
        atomic_file::write(&address_file, contents.as_bytes(), Durability::ProcessCrash)
    }) {
        tracing::warn!(file = %address_file.display(), "cannot record the API address ({e}); the CLI will not find the daemon");
    }
    let stop = context.stop.clone();
    let app = app(context, addr, max_streams);
    let limits = ServerLimits::with_max_connections(max_connections);
    let task = tokio::spawn(server::serve(listener, app, limits, stop));
    tracing::info!(%addr, max_connections, max_streams, "API listening on http://{addr}");
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
    // The page's files hold no data: the page asks for the token and sends it on each call.
    if request.uri().path() == "/healthz" || crate::web::is_page_file(request.uri().path()) {
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
        Code::Unauthorized,
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
    ApiError::new(Code::NotFound, "no such endpoint (see /openapi.json)")
}

async fn method_not_allowed(uri: axum::http::Uri) -> ApiError {
    let message = if uri.path() == "/queries/check" {
        // `check` is the one name no saved query may have.
        "/queries/check only takes POST (it checks a query text); 'check' is reserved and is no saved query's name"
    } else {
        "this endpoint does not take that method (see /openapi.json)"
    };
    ApiError::new(Code::MethodNotAllowed, message)
}

#[cfg(test)]
mod tests {
    /// The answers the guard, the server and the panic catcher give on any endpoint are in
    /// the OpenAPI document of every operation, as JSON errors.
    #[test]
    fn every_operation_documents_the_answers_any_request_may_get() {
        let openapi: serde_json::Value = serde_json::from_str(&super::openapi_json()).unwrap();
        let paths = openapi["paths"].as_object().unwrap();
        assert!(paths.len() >= 10, "{paths:?}");
        for (path, item) in paths {
            for (method, operation) in item.as_object().unwrap() {
                for status in ["400", "403", "408", "414", "421", "431", "500", "503"] {
                    let answer = &operation["responses"][status];
                    assert_eq!(
                        answer["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ErrorBody",
                        "{method} {path} {status}: {answer}"
                    );
                }
            }
        }
    }
}
