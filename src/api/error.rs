//! API errors: every error answer is JSON, `{"error": {"code": ..., "message": ...}}`, with a
//! stable `code` that clients can branch on, and the query column for query errors. The
//! extractors here turn axum's own rejections (bad parameters, bodies too large, ...) into it.

use axum::extract::rejection::{BytesRejection, JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::Serialize;
use utoipa::ToSchema;

use crate::daemon::ControlError;
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
    /// `query_not_found`, `unknown_webhook`, `invalid_document`, `cannot_save`,
    /// `backfill_interrupted`, `unavailable`, `internal`.
    pub code: String,
    /// For people.
    pub message: String,
    /// For `invalid_query`: the 1-based column of the query text where the error is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub column: Option<usize>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            column: None,
        }
    }

    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_parameter", message)
    }

    pub fn invalid_query(error: &QueryError) -> Self {
        ApiError {
            column: Some(error.column),
            ..Self::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                format!("invalid query: {error}"),
            )
        }
    }

    pub fn internal(message: impl std::fmt::Display) -> Self {
        tracing::error!("API request failed: {message}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            message.to_string(),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message,
                column: self.column,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<ControlError> for ApiError {
    fn from(error: ControlError) -> Self {
        let message = error.to_string();
        match error {
            ControlError::InvalidQuery(e) => ApiError::invalid_query(&e),
            ControlError::NoSuchQuery(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "query_not_found", message)
            }
            ControlError::UnknownWebhook(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "unknown_webhook", message)
            }
            ControlError::InvalidDocument(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_document",
                message,
            ),
            ControlError::Persist(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "cannot_save", message)
            }
            ControlError::Stopped => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
            }
            ControlError::Pipeline(e) => ApiError::internal(e),
            ControlError::Internal(message) => ApiError::internal(message),
            ControlError::Bug { .. } => ApiError::internal(message),
            ControlError::BackfillInterrupted { .. } => {
                ApiError::new(StatusCode::CONFLICT, "backfill_interrupted", message)
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

/// A JSON body, refused as JSON errors.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        Json::<T>::from_request(request, state)
            .await
            .map(|j| ApiJson(j.0))
            .map_err(|e: JsonRejection| match e.status() {
                StatusCode::PAYLOAD_TOO_LARGE => body_too_large(),
                StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "send the body as JSON with Content-Type: application/json",
                ),
                _ => ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", e.body_text()),
            })
    }
}

/// A raw body, refused as JSON errors.
pub struct ApiBytes(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for ApiBytes {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::body::Bytes::from_request(request, state)
            .await
            .map(ApiBytes)
            .map_err(|e: BytesRejection| match e.status() {
                StatusCode::PAYLOAD_TOO_LARGE => body_too_large(),
                _ => ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", e.body_text()),
            })
    }
}

fn body_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        "the request body is larger than [api] max_body_bytes",
    )
}
