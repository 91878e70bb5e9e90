//! Term statistics: in how many documents each term occurs. The presearcher uses them to
//! index each saved query under the terms that select the fewest documents. They come from the
//! index (what the daemon has seen) or from the documents at hand (`lookout match`).

use std::collections::BTreeMap;

use super::analysis::DocAnalysis;

/// Document frequencies of terms, over `docs` documents.
#[derive(Debug, Clone, Default)]
pub struct TermStats {
    docs: u64,
    df: BTreeMap<String, u64>,
}

impl TermStats {
    /// No statistics: every term looks equally rare (plans then prefer fewer, longer terms).
    pub fn empty() -> TermStats {
        TermStats::default()
    }

    /// Count one more document: each distinct term once.
    pub fn add_document(&mut self, analysis: &DocAnalysis) {
        self.docs += 1;
        let mut seen: Vec<&str> = analysis.distinct_terms().collect();
        seen.sort_unstable();
        seen.dedup();
        for term in seen {
            match self.df.get_mut(term) {
                Some(n) => *n += 1,
                None => {
                    self.df.insert(term.to_string(), 1);
                }
            }
        }
    }

    /// Add a term's frequency directly (from an index's term dictionary).
    pub fn add_term(&mut self, term: &str, doc_freq: u64) {
        *self.df.entry(term.to_string()).or_insert(0) += doc_freq;
    }

    pub fn set_docs(&mut self, docs: u64) {
        self.docs = docs;
    }

    /// Number of documents counted.
    pub fn docs(&self) -> u64 {
        self.docs
    }

    /// Number of distinct terms.
    pub fn terms(&self) -> usize {
        self.df.len()
    }

    pub fn doc_freq(&self, term: &str) -> u64 {
        self.df.get(term).copied().unwrap_or(0)
    }

    /// An upper bound of the documents holding a term that starts with `prefix`.
    pub fn prefix_doc_freq(&self, prefix: &str) -> u64 {
        let sum: u64 = self
            .df
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|(term, _)| term.starts_with(prefix))
            .map(|(_, n)| *n)
            .sum();
        if self.docs > 0 {
            sum.min(self.docs)
        } else {
            sum
        }
    }
}
