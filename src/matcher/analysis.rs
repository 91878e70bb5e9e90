//! A document analyzed once for matching: per field, each term's positions, and each
//! position's byte range (for highlighting). Every saved query is verified against this.

use std::hash::BuildHasher;
use std::sync::LazyLock;

use chrono::NaiveDate;
use foldhash::{HashMap, HashMapExt, HashSet};

use crate::analysis::Analyzer;
use crate::document::{is_indexable_date, Document};
use crate::query::TextField;

const COLLISION: u32 = u32::MAX;

/// Terms come from the documents, so every table keyed by them hashes with a seed chosen at
/// random for the process (foldhash): no document can be crafted to pile its terms into one
/// bucket and make its analysis quadratic.
static TERM_HASH: LazyLock<foldhash::fast::RandomState> = LazyLock::new(Default::default);

fn hash_term(term: &str) -> u64 {
    TERM_HASH.hash_one(term)
}

/// One field's analysis.
#[derive(Debug, Default, Clone)]
pub struct FieldTerms {
    /// Each distinct term with its positions (ascending), sorted by term: lookups are binary
    /// searches and a prefix is a contiguous range.
    terms: Vec<(Box<str>, Vec<u32>)>,
    /// Hash of a term → its index in `terms`, for O(1) exact lookups; `COLLISION` when two of
    /// this field's terms share a hash (then a binary search decides).
    by_hash: HashMap<u64, u32>,
    /// position → byte range in the field's text.
    pub spans: Vec<(usize, usize)>,
}

impl FieldTerms {
    fn analyze(analyzer: &mut Analyzer, text: &str) -> FieldTerms {
        // Group positions by term as the tokens come (positions ascend within a term), then
        // sort the distinct terms only: O(tokens + terms log terms), one allocation per term.
        let mut grouped: HashMap<Box<str>, Vec<u32>> = HashMap::new();
        let mut spans = Vec::new();
        analyzer.for_each_token(text, |token| {
            match grouped.get_mut(token.text.as_str()) {
                Some(positions) => positions.push(token.position),
                None => {
                    grouped.insert(token.text.as_str().into(), vec![token.position]);
                }
            }
            spans.push((token.start, token.end));
        });
        let mut terms: Vec<(Box<str>, Vec<u32>)> = grouped.into_iter().collect();
        terms.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut by_hash = HashMap::with_capacity(terms.len());
        for (i, (term, _)) in terms.iter().enumerate() {
            let index = u32::try_from(i).unwrap_or(COLLISION);
            by_hash
                .entry(hash_term(term))
                .and_modify(|slot| *slot = COLLISION)
                .or_insert(index);
        }
        FieldTerms {
            terms,
            by_hash,
            spans,
        }
    }

    pub fn positions(&self, term: &str) -> Option<&[u32]> {
        if self.terms.is_empty() {
            return None;
        }
        match self.by_hash.get(&hash_term(term)) {
            None => None,
            Some(&COLLISION) => self
                .terms
                .binary_search_by(|(t, _)| (**t).cmp(term))
                .ok()
                .map(|i| self.terms[i].1.as_slice()),
            Some(&i) => {
                let (t, positions) = &self.terms[i as usize];
                (**t == *term).then_some(positions.as_slice())
            }
        }
    }

    pub fn contains(&self, term: &str) -> bool {
        self.positions(term).is_some()
    }

    /// The terms starting with `prefix`, with their positions.
    pub fn with_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a [u32])> + 'a {
        let start = self.terms.partition_point(|(t, _)| &**t < prefix);
        self.terms[start..]
            .iter()
            .take_while(move |(t, _)| t.starts_with(prefix))
            .map(|(t, ps)| (&**t, ps.as_slice()))
    }

    /// Whether some term starts with `prefix`.
    pub fn has_prefix(&self, prefix: &str) -> bool {
        self.with_prefix(prefix).next().is_some()
    }

    /// Every distinct term, sorted.
    pub fn terms(&self) -> impl Iterator<Item = &str> {
        self.terms.iter().map(|(t, _)| &**t)
    }
}

/// A document ready to be matched.
#[derive(Debug, Clone)]
pub struct DocAnalysis {
    fields: [FieldTerms; TextField::ALL.len()],
    /// Hashes of every term in any field: a fast "certainly absent" test (a collision only
    /// answers "maybe present").
    any_field: HashSet<u64>,
    pub date: Option<NaiveDate>,
}

impl DocAnalysis {
    pub fn new(doc: &Document, analyzer: &mut Analyzer) -> DocAnalysis {
        let fields =
            TextField::ALL.map(|field| FieldTerms::analyze(analyzer, &field_text(doc, field)));
        let any_field = fields
            .iter()
            .flat_map(|f| f.by_hash.keys().copied())
            .collect();
        DocAnalysis {
            fields,
            any_field,
            // As the index: a date it cannot hold is no date (`into_document` drops them).
            date: doc.date.filter(|date| is_indexable_date(*date)),
        }
    }

    /// False when no field holds `term`; true when some field may (hash test).
    pub fn may_contain(&self, term: &str) -> bool {
        self.any_field.contains(&hash_term(term))
    }

    pub fn field(&self, field: TextField) -> &FieldTerms {
        &self.fields[field.slot()]
    }

    /// Every distinct term of the document, in any field.
    pub fn distinct_terms(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().flat_map(FieldTerms::terms)
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
