//! A document analyzed once for matching: per field, each term's positions, and each
//! position's byte range (for highlighting). Every saved query is verified against this.

use std::hash::BuildHasher;
use std::sync::LazyLock;

use chrono::NaiveDate;
use foldhash::{HashMap, HashMapExt};

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

/// One field's analysis, in a few flat arrays (a document's analysis is held by the thousand
/// while `lookout match` counts its statistics, and made for every document the daemon sees).
#[derive(Debug, Default, Clone)]
pub struct FieldTerms {
    /// The distinct terms' text, one after the other, sorted by term.
    text: String,
    /// Per distinct term, in that order: where its text ends in `text` and where its
    /// positions end in `positions` (each starts where the previous term's ends). Lookups are
    /// binary searches and a prefix is a contiguous range.
    ends: Vec<(u32, u32)>,
    /// Every token's position, grouped by term in term order, ascending within a term.
    positions: Vec<u32>,
    /// Hash of a term → its index in `ends`, for O(1) exact lookups; `COLLISION` when two of
    /// this field's terms share a hash (then a binary search decides).
    by_hash: HashMap<u64, u32>,
    /// position → byte range in the field's text.
    spans: Vec<(u32, u32)>,
}

impl FieldTerms {
    fn analyze(analyzer: &mut Analyzer, text: &str) -> FieldTerms {
        // Number the distinct terms as the tokens come, then sort the distinct terms only and
        // lay their positions out by term: O(tokens + terms log terms).
        let mut numbered: HashMap<Box<str>, u32> = HashMap::new();
        let mut tokens: Vec<(u32, u32)> = Vec::new();
        let mut spans = Vec::new();
        analyzer.for_each_token(text, |token| {
            let next = numbered.len() as u32;
            let number = match numbered.get(token.text.as_str()) {
                Some(&number) => number,
                None => {
                    numbered.insert(token.text.as_str().into(), next);
                    next
                }
            };
            tokens.push((number, token.position));
            spans.push((clamp(token.start), clamp(token.end)));
        });
        let mut distinct: Vec<(Box<str>, u32)> = numbered.into_iter().collect();
        distinct.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        // rank[number]: the term's index in sorted order; counts, then ends, of positions.
        let mut rank = vec![0u32; distinct.len()];
        for (i, (_, number)) in distinct.iter().enumerate() {
            rank[*number as usize] = i as u32;
        }
        let mut counts = vec![0u32; distinct.len()];
        for &(number, _) in &tokens {
            counts[rank[number as usize] as usize] += 1;
        }
        let mut fill: Vec<u32> = Vec::with_capacity(distinct.len());
        let mut total = 0u32;
        for count in &counts {
            fill.push(total);
            total += count;
        }
        let mut positions = vec![0u32; tokens.len()];
        for &(number, position) in &tokens {
            let slot = &mut fill[rank[number as usize] as usize];
            positions[*slot as usize] = position;
            *slot += 1;
        }
        // After the fill, fill[i] is where term i's positions end.
        let mut arena = String::with_capacity(distinct.iter().map(|(t, _)| t.len()).sum());
        let mut ends = Vec::with_capacity(distinct.len());
        let mut by_hash = HashMap::with_capacity(distinct.len());
        for (i, (term, _)) in distinct.iter().enumerate() {
            arena.push_str(term);
            ends.push((clamp(arena.len()), fill[i]));
            let index = u32::try_from(i).unwrap_or(COLLISION);
            by_hash
                .entry(hash_term(term))
                .and_modify(|slot| *slot = COLLISION)
                .or_insert(index);
        }
        FieldTerms {
            text: arena,
            ends,
            positions,
            by_hash,
            spans,
        }
    }

    /// The distinct terms, as many as there are.
    fn len(&self) -> usize {
        self.ends.len()
    }

    /// Term `i` (in sorted order).
    fn term(&self, i: usize) -> &str {
        let start = if i == 0 {
            0
        } else {
            self.ends[i - 1].0 as usize
        };
        &self.text[start..self.ends[i].0 as usize]
    }

    /// The positions of term `i`.
    pub(crate) fn positions_of(&self, i: usize) -> &[u32] {
        let start = if i == 0 {
            0
        } else {
            self.ends[i - 1].1 as usize
        };
        &self.positions[start..self.ends[i].1 as usize]
    }

    /// The index of `term` among the sorted terms (a binary search).
    fn search(&self, term: &str) -> Result<usize, usize> {
        let (mut low, mut high) = (0, self.len());
        while low < high {
            let mid = low + (high - low) / 2;
            match self.term(mid).cmp(term) {
                std::cmp::Ordering::Less => low = mid + 1,
                std::cmp::Ordering::Greater => high = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(low)
    }

    pub fn positions(&self, term: &str) -> Option<&[u32]> {
        if self.ends.is_empty() {
            return None;
        }
        match self.by_hash.get(&hash_term(term)) {
            None => None,
            Some(&COLLISION) => self.search(term).ok().map(|i| self.positions_of(i)),
            Some(&i) => {
                let i = i as usize;
                (self.term(i) == term).then(|| self.positions_of(i))
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
        let start = self.search(prefix).unwrap_or_else(|at| at);
        (start..self.len())
            .map(|i| (self.term(i), i))
            .take_while(move |(t, _)| t.starts_with(prefix))
            .map(|(t, i)| (t, self.positions_of(i)))
    }

    /// Whether some term starts with `prefix`.
    pub fn has_prefix(&self, prefix: &str) -> bool {
        self.with_prefix(prefix).next().is_some()
    }

    /// Every distinct term, sorted.
    pub fn terms(&self) -> impl Iterator<Item = &str> {
        (0..self.len()).map(|i| self.term(i))
    }

    /// `each(term)` of the field's tokens in the order of the text, computed once per
    /// distinct term.
    pub fn map_tokens_in_order<'a, T: Copy>(
        &'a self,
        mut each: impl FnMut(&'a str) -> T,
    ) -> Vec<T> {
        let mut by_position: Vec<Option<T>> = vec![None; self.spans.len()];
        for i in 0..self.len() {
            let value = each(self.term(i));
            for &position in self.positions_of(i) {
                if let Some(slot) = by_position.get_mut(position as usize) {
                    *slot = Some(value);
                }
            }
        }
        by_position.into_iter().flatten().collect()
    }

    /// The byte range in the field's text of the token at `position`.
    pub fn span(&self, position: u32) -> Option<(usize, usize)> {
        self.spans
            .get(position as usize)
            .map(|&(start, end)| (start as usize, end as usize))
    }
}

/// Offsets and counts within a field fit in 32 bits (files are at most `max_file_size`, far
/// below 4 GiB); saturated if one ever did not.
fn clamp(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
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
            // As the index: a date it cannot hold is no date (`into_document` drops them).
            date: doc.date.filter(|date| is_indexable_date(*date)),
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The tokens in the order of the text, rebuilt from the per-term positions, are the
        /// analyzer's tokens (what a fingerprint is made of: the same with or without an
        /// analysis at hand).
        #[test]
        fn tokens_in_order_are_the_analyzers_tokens(text in "[a-cA-CéÉ0-9 .,\n-]{0,200}") {
            let mut analyzer = Analyzer::default();
            let field = FieldTerms::analyze(&mut analyzer, &text);
            let expected = analyzer.terms(&text);
            let rebuilt: Vec<String> = field
                .map_tokens_in_order(|t| t)
                .into_iter()
                .map(str::to_string)
                .collect();
            prop_assert_eq!(rebuilt, expected);
        }
    }
}
