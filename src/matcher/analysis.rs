//! A document analyzed once for matching: per field, each term's positions, and each
//! position's byte range (for highlighting). Every saved query is verified against this.

use std::collections::HashMap;

use chrono::NaiveDate;

use crate::analysis::Analyzer;
use crate::document::Document;
use crate::query::TextField;

/// One field's analysis.
#[derive(Debug, Default, Clone)]
pub struct FieldTerms {
    /// term → its positions, ascending.
    pub postings: HashMap<String, Vec<u32>>,
    /// position → byte range in the field's text.
    pub spans: Vec<(usize, usize)>,
}

impl FieldTerms {
    fn analyze(analyzer: &mut Analyzer, text: &str) -> FieldTerms {
        let mut field = FieldTerms::default();
        analyzer.for_each_token(text, |token| {
            match field.postings.get_mut(token.text.as_str()) {
                Some(positions) => positions.push(token.position),
                None => {
                    field
                        .postings
                        .insert(token.text.clone(), vec![token.position]);
                }
            }
            field.spans.push((token.start, token.end));
        });
        field
    }

    pub fn positions(&self, term: &str) -> Option<&[u32]> {
        self.postings.get(term).map(Vec::as_slice)
    }

    pub fn contains(&self, term: &str) -> bool {
        self.postings.contains_key(term)
    }
}

/// A document ready to be matched.
#[derive(Debug, Clone)]
pub struct DocAnalysis {
    fields: [FieldTerms; TextField::ALL.len()],
    pub date: Option<NaiveDate>,
}

impl DocAnalysis {
    pub fn new(doc: &Document, analyzer: &mut Analyzer) -> DocAnalysis {
        let fields =
            TextField::ALL.map(|field| FieldTerms::analyze(analyzer, &field_text(doc, field)));
        DocAnalysis {
            fields,
            date: doc.date,
        }
    }

    pub fn field(&self, field: TextField) -> &FieldTerms {
        &self.fields[field.slot()]
    }

    /// Every distinct term of the document, in any field.
    pub fn distinct_terms(&self) -> impl Iterator<Item = &str> {
        self.fields
            .iter()
            .flat_map(|f| f.postings.keys().map(String::as_str))
    }
}

/// The text of a field as it is indexed: tags are one value per line.
pub fn field_text(doc: &Document, field: TextField) -> std::borrow::Cow<'_, str> {
    match field {
        TextField::Title => doc.title.as_str().into(),
        TextField::Body => doc.body.as_str().into(),
        TextField::Source => doc.source.as_deref().unwrap_or("").into(),
        TextField::Url => doc.url.as_deref().unwrap_or("").into(),
        TextField::Tags => doc.tags.join("\n").into(),
    }
}
