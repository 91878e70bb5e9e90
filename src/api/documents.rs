//! `POST /documents`: articles handed over directly, read by the same JSON reader as a dropped
//! `.json`/`.jsonl` file, then matched and indexed exactly like one. The answer comes after
//! the commit, so a 200 means the documents and their alerts are durable. `GET
//! /documents/{id}`: an indexed article's stored text, by the content id alerts and hits give.

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiBytes, ApiError, ApiPath, Code, ErrorBody};
use super::views::{IngestedView, WarningView};
use super::AppState;

/// One article, read exactly like an object in a dropped `.json` file: `title`, the text in
/// `body` (or `text`, or `content`), `date` (`YYYY-MM-DD`, RFC 3339 or RFC 2822), `source`,
/// `url`, `tags` (a list, or one comma-separated string); the daemon's `[json]` section can map
/// other keys. An article without a title or text under these keys is read from the common
/// aliases (`headline`; `articleBody`, `content_text`, `description`, `summary`;
/// `published_at`, `publishedAt`, `datePublished`, `date_published`, `pubDate`, `published`;
/// `publisher`, `site_name`; `link`; `keywords`, `categories`). A field of another type, or a
/// date lookout cannot read, is left out with a warning; other keys are ignored; an article
/// needs a title or a text.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default)]
#[allow(dead_code)] // documents the shape the JSON reader takes
pub struct Article {
    #[schema(value_type = Value)]
    pub title: serde_json::Value,
    #[schema(value_type = Value)]
    pub body: serde_json::Value,
    #[schema(value_type = Value)]
    pub date: serde_json::Value,
    #[schema(value_type = Value)]
    pub source: serde_json::Value,
    #[schema(value_type = Value)]
    pub url: serde_json::Value,
    #[schema(value_type = Value)]
    pub tags: serde_json::Value,
}

/// One article, or an array of them.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // documents the shape the JSON reader takes
pub enum Articles {
    One(Article),
    Many(Vec<Article>),
}

/// What was taken.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IngestAnswer {
    /// One entry per article with text, in order.
    pub documents: Vec<IngestedView>,
    /// Alerts raised, all documents together.
    pub alerts: usize,
    /// Records of the body that are not articles (not JSON, not an object, no title or text):
    /// skipped, each named in `warnings`. The others were taken.
    pub skipped_records: usize,
    /// What was skipped or left out (at most 10, in order).
    pub warnings: Vec<WarningView>,
    /// Warnings beyond those listed.
    pub more_warnings: usize,
}

/// Ingest articles, like dropping a JSON file into the watch folder.
#[utoipa::path(
    post,
    operation_id = "ingest_documents",
    path = "/documents",
    tag = "documents",
    request_body(
        description = "application/json: one article or an array; application/x-ndjson: one article per line",
        content(
            (Articles = "application/json"),
            (String = "application/x-ndjson"),
        ),
    ),
    responses(
        (status = 200, description = "Indexed, matched and committed", body = IngestAnswer),
        (status = 400, description = "Unreadable body", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Neither JSON nor JSON Lines", body = ErrorBody),
        (status = 422, description = "No article at all (invalid JSON, no text in any record); the message names the bad records", body = ErrorBody),
        (status = 503, description = "The daemon is stopping", body = ErrorBody),
    ),
    security(("bearer" = []), ())
)]
pub(super) async fn ingest(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> Result<Json<IngestAnswer>, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let format_hint = match content_type.as_str() {
        "application/json" => "documents.json",
        "application/x-ndjson" | "application/jsonl" | "application/jsonlines" => "documents.jsonl",
        _ => {
            return Err(ApiError::new(
                super::error::Code::UnsupportedMediaType,
                "send articles as application/json (one or an array) or application/x-ndjson",
            ))
        }
    };
    let batch = state.control.ingest(format_hint, body.to_vec()).await?;
    let alerts = batch.documents.iter().map(|d| d.alerts).sum();
    Ok(Json(IngestAnswer {
        documents: batch.documents,
        alerts,
        skipped_records: batch.skipped_records,
        warnings: batch.warnings,
        more_warnings: batch.more_warnings,
    }))
}

/// An indexed article as it is stored: its fields and where it was read from.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StoredDocument {
    /// The content id (64 hex digits), as alerts and hits name it.
    pub id: String,
    pub title: String,
    pub body: String,
    /// `YYYY-MM-DD`.
    pub date: Option<String>,
    pub source: Option<String>,
    pub url: Option<String>,
    pub tags: Vec<String>,
    /// Where it was read from (`path#part` for an article of a multi-article file).
    pub path: String,
}

/// An indexed article's text, by its content id.
#[utoipa::path(
    get,
    operation_id = "get_document",
    path = "/documents/{id}",
    tag = "documents",
    params(("id" = String, Path, description = "The content id: 64 lowercase hex digits")),
    responses(
        (status = 200, description = "The article as stored", body = StoredDocument),
        (status = 400, description = "Not a content id", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 404, description = "No indexed article has that id", body = ErrorBody),
    ),
    security(("bearer" = []), ())
)]
pub(super) async fn get(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<StoredDocument>, ApiError> {
    if id.len() != 64
        || !id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(ApiError::invalid_parameter(
            "a document id is 64 lowercase hex digits (the doc.id of an alert, the id of a hit)",
        ));
    }
    let index = state.index.clone();
    let doc_id = crate::document::DocId(id.clone());
    let stored = tokio::task::spawn_blocking(move || index.stored_document(&doc_id))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    let Some(document) = stored else {
        return Err(ApiError::new(
            Code::DocumentNotFound,
            format!("no indexed article has the id {id}"),
        ));
    };
    let mut path = document.path.display().to_string();
    if let Some(part) = document.part {
        path = format!("{path}#{part}");
    }
    Ok(Json(StoredDocument {
        id: document.id.0,
        title: document.title,
        body: document.body,
        date: document.date.map(|d| d.to_string()),
        source: document.source,
        url: document.url,
        tags: document.tags,
        path,
    }))
}
