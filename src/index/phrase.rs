//! A tantivy query for phrases with Lucene's slop semantics. tantivy's own `PhraseQuery` slop
//! counts distances differently (no transpositions), so lookout intersects the postings itself
//! and checks positions with `query::positions`, the same function the matcher uses.

use tantivy::postings::{Postings, SegmentPostings};
use tantivy::query::{EmptyScorer, EnableScoring, Explanation, Query, Scorer, Weight};
use tantivy::schema::{IndexRecordOption, Term};
use tantivy::{DocId, DocSet, Score, SegmentReader, TantivyError, TERMINATED};

use crate::query::positions;

/// Documents where `terms` (in one field) occur as a phrase within `slop`.
#[derive(Debug, Clone)]
pub struct PositionsPhraseQuery {
    terms: Vec<Term>,
    slop: u32,
}

impl PositionsPhraseQuery {
    pub fn new(terms: Vec<Term>, slop: u32) -> Self {
        PositionsPhraseQuery { terms, slop }
    }
}

impl Query for PositionsPhraseQuery {
    fn weight(&self, _scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(PositionsPhraseWeight {
            terms: self.terms.clone(),
            slop: self.slop,
        }))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a Term, bool)) {
        for term in &self.terms {
            visitor(term, true);
        }
    }
}

struct PositionsPhraseWeight {
    terms: Vec<Term>,
    slop: u32,
}

impl Weight for PositionsPhraseWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let Some(first) = self.terms.first() else {
            return Ok(Box::new(EmptyScorer));
        };
        let inverted = reader.inverted_index(first.field())?;
        let mut postings = Vec::with_capacity(self.terms.len());
        for term in &self.terms {
            match inverted.read_postings(term, IndexRecordOption::WithFreqsAndPositions)? {
                Some(p) => postings.push(p),
                None => return Ok(Box::new(EmptyScorer)),
            }
        }
        Ok(Box::new(PositionsPhraseScorer::new(
            postings, self.slop, boost,
        )))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let mut scorer = self.scorer(reader, 1.0)?;
        if scorer.seek(doc) != doc {
            return Err(TantivyError::InvalidArgument(format!(
                "document {doc} does not match"
            )));
        }
        Ok(Explanation::new(
            "phrase (lookout positions)",
            scorer.score(),
        ))
    }
}

struct PositionsPhraseScorer {
    postings: Vec<SegmentPostings>,
    buffers: Vec<Vec<u32>>,
    slop: u32,
    boost: Score,
    doc: DocId,
}

impl PositionsPhraseScorer {
    fn new(postings: Vec<SegmentPostings>, slop: u32, boost: Score) -> Self {
        let buffers = vec![Vec::new(); postings.len()];
        let mut scorer = PositionsPhraseScorer {
            postings,
            buffers,
            slop,
            boost,
            doc: TERMINATED,
        };
        let start = scorer.postings[0].doc();
        scorer.doc = scorer.settle(start);
        scorer
    }

    /// The first document at or after `candidate` where every term occurs and the positions
    /// match.
    fn settle(&mut self, mut candidate: DocId) -> DocId {
        'candidates: loop {
            if candidate == TERMINATED {
                return TERMINATED;
            }
            for postings in &mut self.postings {
                let doc = if postings.doc() < candidate {
                    postings.seek(candidate)
                } else {
                    postings.doc()
                };
                if doc != candidate {
                    candidate = doc;
                    continue 'candidates;
                }
            }
            for (postings, buffer) in self.postings.iter_mut().zip(&mut self.buffers) {
                buffer.clear();
                postings.positions(buffer);
            }
            let lists: Vec<&[u32]> = self.buffers.iter().map(Vec::as_slice).collect();
            if positions::phrase_matches(&lists, self.slop) {
                return candidate;
            }
            candidate = self.postings[0].advance();
        }
    }
}

impl DocSet for PositionsPhraseScorer {
    fn advance(&mut self) -> DocId {
        if self.doc == TERMINATED {
            return TERMINATED;
        }
        let next = self.postings[0].advance();
        self.doc = self.settle(next);
        self.doc
    }

    fn seek(&mut self, target: DocId) -> DocId {
        if self.doc == TERMINATED || self.doc >= target {
            return self.doc;
        }
        let next = self.postings[0].seek(target);
        self.doc = self.settle(next);
        self.doc
    }

    fn doc(&self) -> DocId {
        self.doc
    }

    fn size_hint(&self) -> u32 {
        self.postings
            .iter()
            .map(|p| p.size_hint())
            .min()
            .unwrap_or(0)
    }
}

impl Scorer for PositionsPhraseScorer {
    fn score(&mut self) -> Score {
        self.boost
    }
}
