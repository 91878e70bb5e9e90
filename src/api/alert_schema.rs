//! The OpenAPI schema of the alert record (`crate::alerts::Alert`), which the API serves as it is
//! in the alert log. The record itself knows nothing of the API; these shadow types only describe
//! it (`#[schema(as = ...)]` keeps the names `Alert`, `AlertQuery`, `AlertDoc` and `Matched`),
//! and are never built. Their fields and serde attributes mirror the record's field for field:
//! `the_shadows_name_every_field_of_the_record` below fails when the two part.

use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

/// One alert: saved query `query` matched document `doc`.
#[derive(Serialize, ToSchema)]
#[schema(as = Alert)]
#[allow(dead_code)] // Only its schema is used.
pub struct AlertSchema {
    /// `"q:{query name}/d:{doc id}"`, see [`alert_id`]. Also the webhook message id.
    pub alert_id: String,
    /// When the match was found; written as RFC 3339 UTC with milliseconds,
    /// e.g. `"2026-11-29T10:02:03.120Z"`.
    #[schema(value_type = String, format = DateTime)]
    pub at: String,
    pub query: AlertQuerySchema,
    pub doc: AlertDocSchema,
    pub matched: MatchedSchema,
    /// True for an alert raised on a document that was already indexed when the query was
    /// added (`PUT /queries/{name}?backfill=true`); left out when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub backfill: bool,
    /// Set on a copy record: the document is a near-copy of one that already alerted for this
    /// query (`duplicates = "suppress"`), and this is that first alert's id. Copy records are
    /// not delivered to webhooks. Left out on alerts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_of: Option<String>,
}

/// The saved query that matched.
#[derive(Serialize, ToSchema)]
#[schema(as = AlertQuery)]
#[allow(dead_code)] // Only its schema is used.
pub struct AlertQuerySchema {
    pub name: String,
    pub text: String,
}

/// The document that matched.
#[derive(Serialize, ToSchema)]
#[schema(as = AlertDoc)]
#[allow(dead_code)] // Only its schema is used.
pub struct AlertDocSchema {
    pub id: String,
    pub path: String,
    pub title: String,
    /// Written as `"2024-03-28"`; left out when unknown.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub date: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub url: Option<String>,
}

/// What in the document matched.
#[derive(Serialize, ToSchema)]
#[schema(as = Matched)]
#[allow(dead_code)] // Only its schema is used.
pub struct MatchedSchema {
    pub terms: Vec<String>,
    pub snippet: String,
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use utoipa::openapi::{RefOr, Schema};
    use utoipa::PartialSchema;

    use super::*;
    use crate::alerts::{Alert, AlertDoc, AlertQuery, Matched};

    /// A new field in the record is a compile error here, until its shadow has it too.
    #[allow(dead_code)]
    fn every_field_is_shadowed(alert: Alert) {
        let Alert {
            alert_id: _,
            at: _,
            query: AlertQuery { name: _, text: _ },
            doc,
            matched: Matched {
                terms: _,
                snippet: _,
            },
            backfill: _,
            copy_of: _,
        } = alert;
        let AlertDoc {
            id: _,
            path: _,
            title: _,
            date: _,
            source: _,
            url: _,
        } = &*doc;
    }

    fn properties<T: PartialSchema>() -> BTreeSet<String> {
        match T::schema() {
            RefOr::T(Schema::Object(object)) => object.properties.keys().cloned().collect(),
            _ => panic!("not an object schema"),
        }
    }

    fn keys(value: &serde_json::Value) -> BTreeSet<String> {
        value
            .as_object()
            .expect("an object")
            .keys()
            .cloned()
            .collect()
    }

    #[test]
    fn the_shadows_name_every_field_of_the_record() {
        let mut alert = crate::alerts::test_support::alert(0);
        alert.backfill = true;
        alert.copy_of = Some("q:rust-news/d:first".into());
        let json = serde_json::to_value(&alert).unwrap();
        assert_eq!(properties::<AlertSchema>(), keys(&json));
        assert_eq!(properties::<AlertQuerySchema>(), keys(&json["query"]));
        assert_eq!(properties::<AlertDocSchema>(), keys(&json["doc"]));
        assert_eq!(properties::<MatchedSchema>(), keys(&json["matched"]));
    }
}
