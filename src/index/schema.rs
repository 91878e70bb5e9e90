//! The tantivy schema: which document fields are indexed (with positions, for phrases), which
//! are stored (to show hits and re-analyze them for snippets), and how a `Document` maps in and
//! out of it.

use std::path::PathBuf;

use chrono::NaiveDate;
use tantivy::schema::{
    DateOptions, Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions,
    Value, STORED, STRING,
};
use tantivy::{DateTime, TantivyDocument};

use crate::analysis::ANALYZER_NAME;
use crate::document::{is_indexable_date, DocId, Document};
use crate::query::TextField;

/// The fields of the schema, by role.
#[derive(Debug, Clone)]
pub struct Fields {
    pub id: Field,
    pub text: [Field; TextField::ALL.len()],
    pub date: Field,
    pub path: Field,
    pub part: Field,
}

impl Fields {
    pub fn text(&self, field: TextField) -> Field {
        self.text[field.slot()]
    }
}

pub fn build_schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let analyzed = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(ANALYZER_NAME)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
        .set_stored();
    let id = builder.add_text_field("id", STRING | STORED);
    let text = TextField::ALL.map(|field| builder.add_text_field(field.name(), analyzed.clone()));
    // Indexed, not fast: tantivy's fast-field range scan panics (debug) or mis-seeks when an
    // exclusion seeks it backwards; the inverted-index range has no such trap.
    let date = builder.add_date_field("date", DateOptions::default().set_indexed().set_stored());
    let path = builder.add_text_field("path", STRING | STORED);
    let part = builder.add_u64_field("part", NumericOptions::default().set_stored());
    (
        builder.build(),
        Fields {
            id,
            text,
            date,
            path,
            part,
        },
    )
}

/// A day as the index stores it (midnight UTC), or `None` outside
/// [`crate::document::FIRST_DATE`]..=[`crate::document::LAST_DATE`] (tantivy's `DateTime` is
/// nanoseconds in an `i64`: converting further days would overflow).
pub fn date_to_tantivy(date: NaiveDate) -> Option<DateTime> {
    if !is_indexable_date(date) {
        return None;
    }
    let seconds = date.and_hms_opt(0, 0, 0)?.and_utc().timestamp();
    Some(DateTime::from_timestamp_nanos(
        seconds.checked_mul(1_000_000_000)?,
    ))
}

fn date_from_tantivy(date: DateTime) -> Option<NaiveDate> {
    chrono::DateTime::from_timestamp(date.into_timestamp_secs(), 0).map(|dt| dt.date_naive())
}

pub fn to_tantivy(doc: &Document, fields: &Fields) -> TantivyDocument {
    let mut out = TantivyDocument::default();
    out.add_text(fields.id, &doc.id.0);
    for field in TextField::ALL {
        let text = crate::matcher::analysis::field_text(doc, field);
        if !text.is_empty() {
            out.add_text(fields.text(field), &text);
        }
    }
    // A date the index cannot hold is left out, as the matcher leaves it out (a `Document`
    // from `into_document` never has one).
    if let Some(date) = doc.date.and_then(date_to_tantivy) {
        out.add_date(fields.date, date);
    }
    out.add_text(fields.path, doc.path.to_string_lossy());
    if let Some(part) = doc.part {
        out.add_u64(fields.part, part as u64);
    }
    out
}

pub fn from_tantivy(stored: &TantivyDocument, fields: &Fields) -> Document {
    let text = |field: Field| {
        stored
            .get_first(field)
            .and_then(|v| v.as_str().map(str::to_string))
    };
    Document {
        id: DocId(text(fields.id).unwrap_or_default()),
        title: text(fields.text(TextField::Title)).unwrap_or_default(),
        body: text(fields.text(TextField::Body)).unwrap_or_default(),
        date: stored
            .get_first(fields.date)
            .and_then(|v| v.as_datetime())
            .and_then(date_from_tantivy),
        source: text(fields.text(TextField::Source)),
        url: text(fields.text(TextField::Url)),
        tags: text(fields.text(TextField::Tags))
            .map(|t| t.lines().map(str::to_string).collect())
            .unwrap_or_default(),
        path: PathBuf::from(text(fields.path).unwrap_or_default()),
        part: stored
            .get_first(fields.part)
            .and_then(|v| v.as_u64())
            .and_then(|p| usize::try_from(p).ok()),
    }
}
