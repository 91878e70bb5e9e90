//! Test helpers shared by the alert log's and the webhooks' tests: sample alerts.

use chrono::{NaiveDate, TimeZone, Utc};

use crate::alerts::record::{alert_id, Alert, AlertDoc, AlertQuery, Matched};

/// A distinct, realistic alert for each `n`.
pub fn alert(n: usize) -> Alert {
    let doc_id = format!("{n:064x}");
    Alert {
        alert_id: alert_id("rust-news", &doc_id),
        at: Utc.with_ymd_and_hms(2026, 11, 29, 10, 2, 3).unwrap()
            + chrono::Duration::milliseconds(n as i64),
        query: AlertQuery {
            name: "rust-news".into(),
            text: "rust AND release".into(),
        },
        doc: std::sync::Arc::new(AlertDoc {
            id: doc_id,
            path: "inbox/a.md".into(),
            title: "Rust 1.95 released".into(),
            date: NaiveDate::from_ymd_opt(2024, 3, 28),
            source: Some("blog".into()),
            url: Some(format!("https://example.com/{n}")),
        }),
        matched: Matched {
            terms: vec!["rust".into(), "release".into()],
            snippet: "…the <b>Rust</b> team is happy to announce…".into(),
        },
        backfill: false,
        copy_of: None,
    }
}
