//! `/alerts`: the alert log, as a page (`GET /alerts`) or live (`GET /alerts/stream`, Server-Sent
//! Events). Both read the log itself, the source of truth, beside the engine. Each event's id
//! is the byte offset just past its line in the log, so a client that reconnects with
//! `Last-Event-ID` resumes exactly after the last alert it saw.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Json;
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::alert_schema::AlertSchema;
use super::error::{ApiError, ApiQuery, ErrorBody};
use super::AppState;
use crate::alerts::{self, Alert};

/// At most this many alerts a page.
const MAX_LIMIT: usize = 10_000;
/// The stream looks at the log at least this often (it is also woken by every new alert).
const STREAM_POLL: Duration = Duration::from_secs(1);

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertsParams {
    /// Only this saved query's alerts.
    query: Option<String>,
    /// Only alerts at or after this time: RFC 3339 (`2026-11-29T10:00:00Z`) or a date.
    #[param(example = "2026-11-29", min_length = 10)]
    since: Option<String>,
    /// At most this many, the most recent (default 100).
    #[param(minimum = 1, maximum = 10000)]
    limit: Option<usize>,
    /// Only alerts older than this position: the `older` of the previous page.
    #[param(minimum = 0)]
    before: Option<u64>,
}

/// A page of alerts, oldest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AlertsPage {
    #[schema(value_type = Vec<AlertSchema>)]
    pub alerts: Vec<Alert>,
    /// When older alerts may pass the filters too: pass it as `before` for the previous page.
    pub older: Option<u64>,
}

/// The most recent alerts, filtered, a page at a time.
///
/// The log is read from its end, so a page costs the alerts it reads, however long the log.
#[utoipa::path(
    get,
    path = "/alerts",
    operation_id = "list_alerts",
    tag = "alerts",
    params(AlertsParams),
    responses(
        (status = 200, description = "The last `limit` alerts that pass the filters, oldest first", body = AlertsPage),
        (status = 400, description = "Invalid parameter", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
    ),
    security(("bearer" = []), ())
)]
pub(super) async fn list(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<AlertsParams>,
) -> Result<Json<AlertsPage>, ApiError> {
    let limit = params.limit.unwrap_or(100);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid_parameter(format!(
            "limit is between 1 and {MAX_LIMIT}"
        )));
    }
    if params.before.is_some_and(|b| b > i64::MAX as u64) {
        return Err(ApiError::invalid_parameter(
            "before is a position in the alert log (an `older` value)",
        ));
    }
    let since = params
        .since
        .as_deref()
        .map(alerts::parse_since)
        .transpose()
        .map_err(ApiError::invalid_parameter)?;
    let path = state.alert_log.clone();
    let page = tokio::task::spawn_blocking(move || -> Result<AlertsPage, ApiError> {
        let mut alerts = Vec::with_capacity(limit.min(1024));
        let mut older = None;
        for item in alerts::read_backwards(&path, params.before).map_err(ApiError::internal)? {
            let (offset, alert) = item.map_err(ApiError::internal)?;
            // The log is in time order: nothing older passes `since`.
            if since.is_some_and(|since| alert.at < since) {
                break;
            }
            if params
                .query
                .as_ref()
                .is_some_and(|q| **q != *alert.query.name)
            {
                continue;
            }
            if alerts.len() == limit {
                older = alerts.last().map(|(start, _): &(u64, Alert)| *start);
                break;
            }
            alerts.push((offset, alert));
        }
        Ok(AlertsPage {
            alerts: alerts.into_iter().rev().map(|(_, a)| a).collect(),
            older,
        })
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(Json(page))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamParams {
    /// Only this saved query's alerts.
    query: Option<String>,
}

/// New alerts as they are written, as Server-Sent Events.
///
/// Each event is `event: alert`, `id:` the alert's position in the log, `data:` the alert as
/// JSON. Without `Last-Event-ID` the stream starts with the next alert; with it, right after
/// that one (alerts written while the client was away come first). At most `[api] max_streams`
/// streams run at once; one more is answered 503 `too_many_streams`.
#[utoipa::path(
    get,
    operation_id = "stream_alerts",
    path = "/alerts/stream",
    tag = "alerts",
    params(
        StreamParams,
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event id"),
    ),
    responses(
        (status = 200, description = "An endless stream of `alert` events", content_type = "text/event-stream", body = String),
        (status = 400, description = "Invalid parameter", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 503, description = "Every stream is taken ([api] max_streams): too_many_streams", body = ErrorBody),
    ),
    security(("bearer" = []), ())
)]
pub(super) async fn stream(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<StreamParams>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let log_len = std::fs::metadata(state.alert_log.as_ref())
        .map(|m| m.len())
        .unwrap_or(0);
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.trim().parse::<u64>().map_err(|_| {
                ApiError::invalid_parameter("Last-Event-ID is an event id this stream sent")
            })
        })
        .transpose()?;
    // An id past the end of the log belongs to a log since rotated: start the new one.
    let from = match resume {
        Some(offset) if offset <= log_len => offset,
        Some(_) => 0,
        None => log_len,
    };
    let permit = state.streams.clone().try_acquire_owned().map_err(|_| {
        ApiError::new(
            super::error::Code::TooManyStreams,
            "every alert stream is taken ([api] max_streams); try again later",
        )
    })?;
    let follower = alerts::follow(state.alert_log.as_ref(), from);
    let stream = futures_util::stream::unfold(
        StreamState {
            follower,
            ready: VecDeque::new(),
            written: state.alerts_written.clone(),
            stop: state.stop.clone(),
            query: params.query,
            _permit: permit,
        },
        next_event,
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

struct StreamState {
    follower: alerts::AlertFollower,
    ready: VecDeque<(u64, Alert)>,
    written: tokio::sync::watch::Receiver<u64>,
    stop: tokio_util::sync::CancellationToken,
    query: Option<String>,
    /// Held while the stream runs: one of `[api] max_streams`.
    _permit: tokio::sync::OwnedSemaphorePermit,
}

/// The next event: an alert already read, or wait for the log to grow (or the daemon to stop,
/// which ends the stream).
async fn next_event(mut state: StreamState) -> Option<(Result<Event, Infallible>, StreamState)> {
    loop {
        if state.stop.is_cancelled() {
            return None;
        }
        if let Some((offset, alert)) = state.ready.pop_front() {
            let event = Event::default()
                .event("alert")
                .id(offset.to_string())
                .data(alert.to_json_line());
            return Some((Ok(event), state));
        }
        match tokio::task::block_in_place(|| state.follower.poll_positioned()) {
            Ok(alerts) => state.ready.extend(
                alerts
                    .into_iter()
                    .filter(|(_, a)| state.query.as_ref().is_none_or(|q| **q == *a.query.name)),
            ),
            Err(e) => tracing::warn!("alert stream: cannot read the alert log: {e}"),
        }
        if !state.ready.is_empty() {
            continue;
        }
        tokio::select! {
            changed = state.written.changed() => {
                if changed.is_err() {
                    // The engine is gone (the daemon is stopping): only the timer is left.
                    tokio::time::sleep(STREAM_POLL).await;
                }
            }
            () = state.stop.cancelled() => return None,
            _ = tokio::time::sleep(STREAM_POLL) => {}
        }
    }
}
