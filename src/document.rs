//! The one `Document` type that flows through lookout: extraction produces it, the matcher and
//! the index consume it, alerts describe it. Its `id` is a hash of its content, so the same
//! article dropped twice (or renamed) is one document.

use std::path::PathBuf;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The first day a document's date can be. The index keeps a date as nanoseconds since 1970
/// in an `i64` (tantivy's `DateTime`), which reaches from 1677-09-21T00:12:43 to
/// 2262-04-11T23:47:16 UTC, and dates are indexed at midnight UTC: the first and last whole
/// days in it are the range. [`DocumentFields::into_document`] drops a date outside it (the
/// document then has no date), so that the matcher and the index always agree.
pub const FIRST_DATE: NaiveDate = match NaiveDate::from_ymd_opt(1677, 9, 22) {
    Some(date) => date,
    None => panic!("1677-09-22 is a date"),
};

/// The last day a document's date can be (see [`FIRST_DATE`]).
pub const LAST_DATE: NaiveDate = match NaiveDate::from_ymd_opt(2262, 4, 11) {
    Some(date) => date,
    None => panic!("2262-04-11 is a date"),
};

/// Whether a document can carry this date: between [`FIRST_DATE`] and [`LAST_DATE`]. An
/// extractor that finds another date may warn, naming the field: the document is kept
/// without a date.
pub fn is_indexable_date(date: NaiveDate) -> bool {
    (FIRST_DATE..=LAST_DATE).contains(&date)
}

/// A document's content hash: blake3 of its normalized fields, as 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DocId(pub String);

impl std::fmt::Display for DocId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One article, whatever file format it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    /// Content hash of title, body, date, source, url and tags (not of the path).
    pub id: DocId,
    /// Empty when the source has none.
    pub title: String,
    pub body: String,
    pub date: Option<NaiveDate>,
    pub source: Option<String>,
    pub url: Option<String>,
    pub tags: Vec<String>,
    /// The file the document came from.
    pub path: PathBuf,
    /// For files that hold several articles (a JSON array, JSON Lines): the article's 1-based
    /// position in the file (the line number for JSON Lines). `None` for one-article files.
    pub part: Option<usize>,
}

/// The fields of a document before it gets its id; what an extractor fills in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DocumentFields {
    pub title: String,
    pub body: String,
    pub date: Option<NaiveDate>,
    pub source: Option<String>,
    pub url: Option<String>,
    pub tags: Vec<String>,
}

impl DocumentFields {
    /// True when there is no text to index at all.
    pub fn is_blank(&self) -> bool {
        self.title.trim().is_empty() && self.body.trim().is_empty()
    }

    /// Seal the fields into a `Document` with its content id. A date the index cannot hold
    /// (see [`FIRST_DATE`]) is dropped first: the document is what gets indexed and matched.
    pub fn into_document(mut self, path: PathBuf, part: Option<usize>) -> Document {
        self.date = self.date.filter(|date| is_indexable_date(*date));
        let id = content_id(&self);
        Document {
            id,
            title: self.title,
            body: self.body,
            date: self.date,
            source: self.source,
            url: self.url,
            tags: self.tags,
            path,
            part,
        }
    }
}

/// blake3 over the normalized fields, each length-prefixed so that no two different documents
/// hash the same bytes. Whitespace runs are collapsed so that re-wrapping a text is not a new
/// article.
fn content_id(fields: &DocumentFields) -> DocId {
    let mut hasher = blake3::Hasher::new();
    let mut put = |name: &str, value: &str| {
        let normalized = value.split_whitespace().collect::<Vec<_>>().join(" ");
        hasher.update(name.as_bytes());
        hasher.update(&(normalized.len() as u64).to_le_bytes());
        hasher.update(normalized.as_bytes());
    };
    put("title", &fields.title);
    put("body", &fields.body);
    put(
        "date",
        &fields.date.map(|d| d.to_string()).unwrap_or_default(),
    );
    put("source", fields.source.as_deref().unwrap_or(""));
    put("url", fields.url.as_deref().unwrap_or(""));
    put("tags", &fields.tags.join("\u{1f}"));
    DocId(hasher.finalize().to_hex().to_string())
}

impl Document {
    /// `path` or `path#part`: how users see where a document came from.
    pub fn location(&self) -> String {
        match self.part {
            Some(part) => format!("{}#{}", self.path.display(), part),
            None => self.path.display().to_string(),
        }
    }

    /// The file name (with `#part` for multi-article files), as `lookout match` prints it.
    pub fn file_name(&self) -> String {
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.path.display().to_string());
        match self.part {
            Some(part) => format!("{name}#{part}"),
            None => name,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_content_same_id_whatever_the_path() {
        let fields = DocumentFields {
            title: "Niger".into(),
            body: "The junta  ended\nthe pact.".into(),
            ..Default::default()
        };
        let a = fields.clone().into_document("a.txt".into(), None);
        let mut rewrapped = fields.clone();
        rewrapped.body = "The junta ended the pact.".into();
        let b = rewrapped.into_document("b/c.txt".into(), None);
        assert_eq!(a.id, b.id);
        let mut other = fields;
        other.title = "Mali".into();
        assert_ne!(a.id, other.into_document("a.txt".into(), None).id);
    }

    #[test]
    fn dates_the_index_cannot_hold_are_dropped() {
        let with = |date: Option<NaiveDate>| {
            DocumentFields {
                body: "oil".into(),
                date,
                ..Default::default()
            }
            .into_document("a.txt".into(), None)
        };
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d);
        for kept in [Some(FIRST_DATE), Some(LAST_DATE), day(2024, 3, 28), None] {
            assert_eq!(with(kept).date, kept);
        }
        for dropped in [
            day(1, 1, 1),
            day(1677, 9, 21),
            day(2262, 4, 12),
            day(9999, 12, 31),
            Some(NaiveDate::MIN),
            Some(NaiveDate::MAX),
        ] {
            let doc = with(dropped);
            assert_eq!(doc.date, None, "{dropped:?}");
            assert_eq!(doc.id, with(None).id, "the id is the id of what is indexed");
        }
    }

    #[test]
    fn the_date_range_is_exactly_what_nanoseconds_in_an_i64_hold() {
        let midnight_nanos = |d: NaiveDate| {
            d.and_hms_opt(0, 0, 0)
                .and_then(|t| t.and_utc().timestamp().checked_mul(1_000_000_000))
        };
        assert!(midnight_nanos(FIRST_DATE).is_some());
        assert!(midnight_nanos(LAST_DATE).is_some());
        assert!(midnight_nanos(FIRST_DATE.pred_opt().unwrap()).is_none());
        assert!(midnight_nanos(LAST_DATE.succ_opt().unwrap()).is_none());
    }

    #[test]
    fn fields_do_not_bleed_into_each_other() {
        let a = DocumentFields {
            title: "ab".into(),
            body: "c".into(),
            ..Default::default()
        };
        let b = DocumentFields {
            title: "a".into(),
            body: "bc".into(),
            ..Default::default()
        };
        assert_ne!(
            a.into_document("x".into(), None).id,
            b.into_document("x".into(), None).id
        );
    }
}
