//! Term statistics: in how many documents each term occurs. The presearcher uses them to
//! index each saved query under the terms that select the fewest documents. They come from the
//! index (what the daemon has seen) or from the documents at hand (`lookout match`).
//!
//! Counting goes into a map; a lookup first merges it into the terms in order with running
//! totals of their frequencies, so that a term's frequency is a binary search and a prefix's is
//! two (the terms with a prefix are contiguous), however many terms share the prefix.

use std::sync::RwLock;

use super::analysis::DocAnalysis;

/// Document frequencies of terms, over `docs` documents.
#[derive(Debug, Default)]
pub struct TermStats {
    docs: u64,
    /// Behind a read-write lock: lookups share it (plans are made on every core); the first
    /// lookup after new counts merges them, once, under the write lock.
    table: RwLock<Table>,
}

#[derive(Debug, Clone)]
struct Table {
    /// Counted since the last lookup.
    /// (A hash map seeded at random, as the terms come from documents: counting a document is
    /// one lookup per distinct term; the merge sorts.)
    pending: foldhash::HashMap<String, u64>,
    /// For lookups: terms ascending, and `totals[i]` the sum of the frequencies of the terms
    /// before `terms[i]` (one more entry than terms).
    terms: Vec<Box<str>>,
    totals: Vec<u64>,
}

impl Default for Table {
    fn default() -> Self {
        Table {
            pending: foldhash::HashMap::default(),
            terms: Vec::new(),
            totals: vec![0],
        }
    }
}

impl Table {
    /// Merge what was counted since the last lookup into the lookup arrays.
    fn settle(&mut self) -> (&[Box<str>], &[u64]) {
        if !self.pending.is_empty() {
            let pending = std::mem::take(&mut self.pending);
            let old_terms = std::mem::take(&mut self.terms);
            let old_totals = std::mem::take(&mut self.totals);
            let old = old_terms
                .into_iter()
                .zip(old_totals.windows(2).map(|pair| pair[1] - pair[0]));
            let mut merged: Vec<(Box<str>, u64)> = Vec::with_capacity(old.len() + pending.len());
            let mut old = old.peekable();
            let mut pending: Vec<(String, u64)> = pending.into_iter().collect();
            pending.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            let mut new = pending
                .into_iter()
                .map(|(t, n)| (t.into_boxed_str(), n))
                .peekable();
            loop {
                let next = match (old.peek(), new.peek()) {
                    (Some(a), Some(b)) if a.0 == b.0 => {
                        let (term, n) = old.next().unwrap_or_default();
                        let (_, m) = new.next().unwrap_or_default();
                        (term, n.saturating_add(m))
                    }
                    (Some(a), Some(b)) if a.0 < b.0 => old.next().unwrap_or_default(),
                    (Some(_), None) => old.next().unwrap_or_default(),
                    (_, Some(_)) => new.next().unwrap_or_default(),
                    (None, None) => break,
                };
                merged.push(next);
            }
            self.totals.reserve(merged.len() + 1);
            self.totals.push(0);
            let mut total = 0u64;
            for (term, n) in merged {
                self.terms.push(term);
                total = total.saturating_add(n);
                self.totals.push(total);
            }
        }
        (&self.terms, &self.totals)
    }
}

impl Clone for TermStats {
    fn clone(&self) -> Self {
        TermStats {
            docs: self.docs,
            table: RwLock::new(crate::lock::read(&self.table).clone()),
        }
    }
}

impl TermStats {
    /// No statistics: every term looks equally rare (plans then prefer fewer, longer terms).
    pub fn empty() -> TermStats {
        TermStats::default()
    }

    /// The statistics for lookups: what was counted since the last lookup is merged first
    /// (once, under the write lock); then many lookups share one read lock (plans are made on
    /// every core).
    pub fn view(&self) -> StatsView<'_> {
        // A panic elsewhere cannot leave the table half-changed: every change is one step.
        if !crate::lock::read(&self.table).pending.is_empty() {
            crate::lock::write(&self.table).settle();
        }
        StatsView {
            docs: self.docs,
            table: crate::lock::read(&self.table),
        }
    }

    fn table_mut(&mut self) -> &mut Table {
        self.table
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Count one more document: each distinct term once.
    pub fn add_document(&mut self, analysis: &DocAnalysis) {
        self.docs += 1;
        let mut seen: Vec<&str> = analysis.distinct_terms().collect();
        seen.sort_unstable();
        seen.dedup();
        let map = &mut self.table_mut().pending;
        for term in seen {
            match map.get_mut(term) {
                Some(n) => *n += 1,
                None => {
                    map.insert(term.to_string(), 1);
                }
            }
        }
    }

    /// Add a term's frequency directly (from an index's term dictionary).
    pub fn add_term(&mut self, term: &str, doc_freq: u64) {
        let map = &mut self.table_mut().pending;
        match map.get_mut(term) {
            Some(n) => *n = n.saturating_add(doc_freq),
            None => {
                map.insert(term.to_string(), doc_freq);
            }
        }
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
        self.view().table.terms.len()
    }

    pub fn doc_freq(&self, term: &str) -> u64 {
        self.view().doc_freq(term)
    }

    /// An upper bound of the documents holding a term that starts with `prefix`.
    pub fn prefix_doc_freq(&self, prefix: &str) -> u64 {
        self.view().prefix_doc_freq(prefix)
    }
}

/// Settled statistics, read-locked for a run of lookups ([`TermStats::view`]).
pub struct StatsView<'a> {
    docs: u64,
    table: std::sync::RwLockReadGuard<'a, Table>,
}

impl StatsView<'_> {
    /// Number of documents counted.
    pub fn docs(&self) -> u64 {
        self.docs
    }

    pub fn doc_freq(&self, term: &str) -> u64 {
        let Table { terms, totals, .. } = &*self.table;
        match terms.binary_search_by(|t| (**t).cmp(term)) {
            Ok(i) => totals[i + 1] - totals[i],
            Err(_) => 0,
        }
    }

    /// An upper bound of the documents holding a term that starts with `prefix`.
    pub fn prefix_doc_freq(&self, prefix: &str) -> u64 {
        let Table { terms, totals, .. } = &*self.table;
        let from = terms.partition_point(|t| **t < *prefix);
        let to = from + terms[from..].partition_point(|t| t.starts_with(prefix));
        let sum = totals[to] - totals[from];
        if self.docs > 0 {
            sum.min(self.docs)
        } else {
            sum
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frequencies_of_terms_and_prefixes() {
        let mut stats = TermStats::empty();
        for (term, n) in [
            ("bank", 3),
            ("banker", 2),
            ("bar", 1),
            ("ban", 4),
            ("oil", 7),
        ] {
            stats.add_term(term, n);
        }
        stats.set_docs(100);
        assert_eq!(stats.doc_freq("bank"), 3);
        assert_eq!(stats.doc_freq("banks"), 0);
        assert_eq!(stats.prefix_doc_freq("ban"), 9);
        assert_eq!(stats.prefix_doc_freq("ba"), 10);
        assert_eq!(stats.prefix_doc_freq("bank"), 5);
        assert_eq!(stats.prefix_doc_freq("o"), 7);
        assert_eq!(stats.prefix_doc_freq("z"), 0);
        assert_eq!(stats.prefix_doc_freq(""), 17);
        // Counting again after lookups thaws and refreezes.
        stats.add_term("bank", 1);
        stats.add_term("zoo", 2);
        assert_eq!(stats.doc_freq("bank"), 4);
        assert_eq!(stats.prefix_doc_freq("ban"), 10);
        assert_eq!(stats.prefix_doc_freq("z"), 2);
        assert_eq!(stats.terms(), 6);
        // A prefix's total never exceeds the documents.
        stats.set_docs(5);
        assert_eq!(stats.prefix_doc_freq("b"), 5);
        assert_eq!(stats.clone().doc_freq("oil"), 7);
    }
}
