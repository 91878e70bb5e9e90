//! API errors: every error answer is JSON, `{"error": {"code": ..., "message": ...}}`, with a
//! stable `code` that clients can branch on, and the query column for query errors. Every code
//! is in one table, [`Code`] (meilisearch's `Code` is the model): its HTTP status and its
//! stable name, used by every handler, the guard and the server. The extractors here turn
//! axum's own rejections (bad parameters, bodies too large, ...) into it.

use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::Serialize;
use utoipa::ToSchema;

use super::handle::RequestError;
use crate::engine::QueryRefused;
use crate::query::QueryError;

/// An error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable: `unauthorized`, `not_found`, `method_not_allowed`, `invalid_parameter`,
    /// `invalid_body`, `body_too_large`, `unsupported_media_type`, `invalid_query`,
    /// `invalid_query_name`, `query_not_found`, `document_not_found`, `unknown_webhook`, `invalid_document`,
    /// `cannot_save`, `backfill_interrupted`, `unavailable`, `internal`; refused before any
    /// endpoint runs:
    /// `bad_request` (not HTTP), `invalid_host`, `host_not_allowed`, `origin_not_allowed`,
    /// `uri_too_long`, `headers_too_large`, `request_timeout`, `too_many_connections`;
    /// `too_many_streams` (`/alerts/stream`).
    pub code: String,
    /// For people.
    pub message: String,
    /// For `invalid_query`: the 1-based column of the query text where the error is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
}

/// Every error the API answers: its HTTP status and its stable name (the `code` of the body).
macro_rules! codes {
    ($($variant:ident => ($status:ident, $name:literal)),* $(,)?) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Code {
            $($variant),*
        }

        impl Code {
            /// Every code, in the table's order.
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            pub const fn status(self) -> StatusCode {
                match self {
                    $(Code::$variant => StatusCode::$status),*
                }
            }

            /// The stable name clients branch on.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Code::$variant => $name),*
                }
            }
        }
    };
}

codes! {
    Unauthorized => (UNAUTHORIZED, "unauthorized"),
    NotFound => (NOT_FOUND, "not_found"),
    MethodNotAllowed => (METHOD_NOT_ALLOWED, "method_not_allowed"),
    InvalidParameter => (BAD_REQUEST, "invalid_parameter"),
    InvalidBody => (BAD_REQUEST, "invalid_body"),
    BodyTooLarge => (PAYLOAD_TOO_LARGE, "body_too_large"),
    UnsupportedMediaType => (UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
    InvalidQuery => (BAD_REQUEST, "invalid_query"),
    InvalidQueryName => (BAD_REQUEST, "invalid_query_name"),
    QueryNotFound => (NOT_FOUND, "query_not_found"),
    DocumentNotFound => (NOT_FOUND, "document_not_found"),
    UnknownWebhook => (UNPROCESSABLE_ENTITY, "unknown_webhook"),
    InvalidDocument => (UNPROCESSABLE_ENTITY, "invalid_document"),
    CannotSave => (UNPROCESSABLE_ENTITY, "cannot_save"),
    BackfillInterrupted => (CONFLICT, "backfill_interrupted"),
    Unavailable => (SERVICE_UNAVAILABLE, "unavailable"),
    Internal => (INTERNAL_SERVER_ERROR, "internal"),
    // Refused before any endpoint runs.
    BadRequest => (BAD_REQUEST, "bad_request"),
    InvalidHost => (BAD_REQUEST, "invalid_host"),
    HostNotAllowed => (MISDIRECTED_REQUEST, "host_not_allowed"),
    OriginNotAllowed => (FORBIDDEN, "origin_not_allowed"),
    UriTooLong => (URI_TOO_LONG, "uri_too_long"),
    HeadersTooLarge => (REQUEST_HEADER_FIELDS_TOO_LARGE, "headers_too_large"),
    RequestTimeout => (REQUEST_TIMEOUT, "request_timeout"),
    TooManyConnections => (SERVICE_UNAVAILABLE, "too_many_connections"),
    TooManyStreams => (SERVICE_UNAVAILABLE, "too_many_streams"),
}

#[derive(Debug)]
pub struct ApiError {
    pub code: Code,
    pub message: String,
    pub column: Option<usize>,
}

impl ApiError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            column: None,
        }
    }

    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(Code::InvalidParameter, message)
    }

    /// A saved query's name that breaks the name rules (`config::check_query_name`).
    pub fn invalid_query_name(message: impl Into<String>) -> Self {
        Self::new(Code::InvalidQueryName, message)
    }

    pub fn invalid_query(error: &QueryError) -> Self {
        ApiError {
            column: Some(error.column),
            ..Self::new(Code::InvalidQuery, format!("invalid query: {error}"))
        }
    }

    pub fn internal(message: impl std::fmt::Display) -> Self {
        tracing::error!("API request failed: {message}");
        Self::new(Code::Internal, message.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.name().to_string(),
                message: self.message,
                column: self.column,
            },
        };
        (self.code.status(), Json(body)).into_response()
    }
}

impl From<RequestError> for ApiError {
    fn from(error: RequestError) -> Self {
        let message = error.to_string();
        match error {
            RequestError::Query(refused) => match refused {
                QueryRefused::InvalidQuery(e) => ApiError::invalid_query(&e),
                QueryRefused::InvalidName { .. } => ApiError::new(Code::InvalidQueryName, message),
                QueryRefused::NoSuchQuery(_) => ApiError::new(Code::QueryNotFound, message),
                QueryRefused::UnknownWebhook(_) => ApiError::new(Code::UnknownWebhook, message),
                QueryRefused::Persist(_) => ApiError::new(Code::CannotSave, message),
            },
            RequestError::InvalidDocument(_) => ApiError::new(Code::InvalidDocument, message),
            RequestError::Stopped => ApiError::new(Code::Unavailable, message),
            RequestError::Engine(e) => ApiError::internal(e),
            RequestError::Bug { .. } => ApiError::internal(message),
            RequestError::BackfillInterrupted { .. } => {
                ApiError::new(Code::BackfillInterrupted, message)
            }
        }
    }
}

/// Query-string parameters, refused as JSON errors.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e: QueryRejection| ApiError::invalid_parameter(e.body_text()))
    }
}

/// Path parameters, refused as JSON errors (e.g. a percent-encoded segment that is not UTF-8).
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|e: PathRejection| match e.status() {
                StatusCode::INTERNAL_SERVER_ERROR => ApiError::internal(e.body_text()),
                _ => ApiError::invalid_parameter(e.body_text()),
            })
    }
}

/// A JSON body, refused as JSON errors.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let deadline = body_deadline(&request);
        within(deadline, Json::<T>::from_request(request, state))
            .await?
            .map(|j| ApiJson(j.0))
            .map_err(|e: JsonRejection| match e.status() {
                StatusCode::PAYLOAD_TOO_LARGE => body_too_large(),
                StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(
                    Code::UnsupportedMediaType,
                    "send the body as JSON with Content-Type: application/json",
                ),
                _ => ApiError::new(Code::InvalidBody, e.body_text()),
            })
    }
}

/// A raw body, refused as JSON errors.
pub struct ApiBytes(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for ApiBytes {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let deadline = body_deadline(&request);
        within(deadline, axum::body::Bytes::from_request(request, state))
            .await?
            .map(ApiBytes)
            .map_err(|e: BytesRejection| match e.status() {
                StatusCode::PAYLOAD_TOO_LARGE => body_too_large(),
                _ => ApiError::new(Code::InvalidBody, e.body_text()),
            })
    }
}

/// When the server wants the request's body in by (none outside the server, e.g. in tests).
fn body_deadline(request: &Request) -> Option<tokio::time::Instant> {
    request
        .extensions()
        .get::<super::server::BodyDeadline>()
        .map(|deadline| deadline.0)
}

/// Read a body before `deadline`, else a 408.
async fn within<T>(
    deadline: Option<tokio::time::Instant>,
    read: impl std::future::Future<Output = T>,
) -> Result<T, ApiError> {
    let Some(deadline) = deadline else {
        return Ok(read.await);
    };
    tokio::time::timeout_at(deadline, read).await.map_err(|_| {
        ApiError::new(
            Code::RequestTimeout,
            format!(
                "the request body did not arrive within {} s of its head",
                super::server::ServerLimits::BODY_TIMEOUT.as_secs()
            ),
        )
    })
}

fn body_too_large() -> ApiError {
    ApiError::new(
        Code::BodyTooLarge,
        "the request body is larger than [api] max_body_bytes",
    )
}
