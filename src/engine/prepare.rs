//! The parallel half of a file's work: a [`FileJob`] reads the file, hashes it, extracts its
//! documents, analyzes each one and percolates it against the saved queries, with the
//! summaries (matched terms, snippet) its alerts will carry. It touches no state of the
//! engine's but the shared [`LiveQueries`] (read-locked per document), so the intake's workers
//! run many at once (`intake.rs`); what it finds comes back as [`Part`]s, in order, which the
//! one writer applies (`files.rs`): dedup decisions, the alert log, the index and the ledger
//! stay ordered there.
//!
//! A job is a pure function of the file's bytes and of the query generation it read: whatever
//! changed meanwhile (the saved queries, the file's record) is checked again by the writer, which
//! percolates a document again when the queries changed since it was prepared.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use super::read::{read_bytes, ReadError, SkipReason};
use super::QueryId;
use crate::analysis::Analyzer;
use crate::document::Document;
use crate::extract::{Extraction, Extractor, Warnings};
use crate::lock;
use crate::matcher::{summarize, DocAnalysis, MatchSummary, Percolator};
use crate::query::TextField;
use crate::stories::Fingerprint;

/// The compiled saved queries as the workers see them: the percolator, and the generation of
/// the [`QuerySet`](super::QuerySet) it was filed from. The writer changes both at once, under
/// the write lock.
pub struct LiveQueries {
    pub(super) percolator: Box<dyn Percolator>,
    pub(super) generation: u64,
}

/// The matching shared by the writer and the workers.
pub(super) type SharedLiveQueries = Arc<RwLock<LiveQueries>>;

/// How files are read: the `[json]` keys and the largest file read (replaced whole on a reload;
/// a job keeps the rules it started with).
#[derive(Debug, Clone)]
pub(super) struct ReadRules {
    pub(super) extractor: Extractor,
    pub(super) max_file_size: u64,
    /// Whether documents get a fingerprint (copies are looked for: `[duplicates] window` > 0).
    pub(super) fingerprints: bool,
}

/// A prepared document's documents are handed over in parts of at most this many...
const PART_DOCUMENTS: usize = 256;
/// ...or of what was prepared in this long, so that the alerts of a file of many articles flow
/// while the rest of it is being prepared.
const PART_BUDGET: Duration = Duration::from_millis(20);

/// One file to prepare, as the writer took it.
pub struct FileJob {
    pub(super) path: PathBuf,
    /// The content hash the ledger held for this path when the file was taken: the same bytes
    /// are not extracted again (the writer checks again when it applies the answer).
    pub(super) previous_hash: Option<String>,
    pub(super) rules: Arc<ReadRules>,
    pub(super) matching: SharedLiveQueries,
}

/// What a job found, handed to the writer in order: one of the first five ends the file at
/// once; `Extracted` is followed by `Documents` parts holding that many documents (unless a
/// `Panicked` cuts it short).
#[derive(Debug)]
pub(super) enum Part {
    /// The file could not be read.
    ReadFailed(ReadError),
    /// The same bytes as the record the file was taken with: not extracted.
    Unchanged { content_hash: String },
    /// The bytes are not an article (what they say, or how large they are).
    Refused {
        content_hash: String,
        reason: SkipReason,
    },
    /// Read and extracted: `documents` documents follow.
    Extracted {
        content_hash: String,
        warnings: Warnings,
        documents: usize,
        /// When the file landed (its modification time), for the drop-to-alert latency.
        landed: Option<Instant>,
    },
    /// The next documents, in the file's order.
    Documents(Vec<PreparedDocument>),
    /// Preparing it met a bug (a panic, contained here): nothing more comes for this file.
    Panicked(String),
}

impl FileJob {
    /// Prepare the file, handing each part to `emit` as soon as it is ready. A panic on the way
    /// is contained and handed over as [`Part::Panicked`].
    pub(super) fn run(self, emit: &mut dyn FnMut(Part)) {
        let mut analyzer = Analyzer::default();
        let prepared = catch_unwind(AssertUnwindSafe(|| self.prepare(&mut analyzer, emit)));
        if let Err(payload) = prepared {
            emit(Part::Panicked(crate::contain::payload_message(
                payload.as_ref(),
            )));
        }
    }

    fn prepare(&self, analyzer: &mut Analyzer, emit: &mut dyn FnMut(Part)) {
        let bytes = match read_bytes(&self.path, self.rules.max_file_size) {
            Ok(bytes) => bytes,
            Err(error) => return emit(Part::ReadFailed(error)),
        };
        let content_hash = blake3::hash(&bytes).to_hex().to_string();
        if self.previous_hash.as_deref() == Some(content_hash.as_str()) {
            return emit(Part::Unchanged { content_hash });
        }
        let landed = landed_ago(&self.path);
        let Extraction {
            documents,
            warnings,
        } = match self.rules.extractor.extract(&self.path, &bytes) {
            Ok(extraction) => extraction,
            Err(error) => {
                return emit(Part::Refused {
                    content_hash,
                    reason: error.into(),
                })
            }
        };
        drop(bytes);
        emit(Part::Extracted {
            content_hash,
            warnings,
            documents: documents.len(),
            landed,
        });
        let mut part = Vec::new();
        let mut part_started = Instant::now();
        for document in documents {
            part.push(PreparedDocument::prepare(
                document,
                &self.matching,
                analyzer,
                self.rules.fingerprints,
            ));
            if part.len() >= PART_DOCUMENTS || part_started.elapsed() >= PART_BUDGET {
                emit(Part::Documents(std::mem::take(&mut part)));
                part_started = Instant::now();
            }
        }
        if !part.is_empty() {
            emit(Part::Documents(part));
        }
    }
}

/// A new document's pure half: analyzed once and percolated against the saved queries of one
/// generation, with the summary of each match (its alert's matched terms and snippet). The
/// analysis is not kept: the writer analyzes again only if the queries changed meanwhile.
#[derive(Debug)]
pub struct PreparedDocument {
    pub(super) document: Document,
    /// The queries it matches, ascending, each with its summary.
    pub(super) matches: Vec<(QueryId, MatchSummary)>,
    /// The [`QuerySet`](super::QuerySet) generation the matches were computed on.
    pub(super) generation: u64,
    /// Its body's fingerprint, for finding the story it is a copy of (`None`: too short).
    pub(super) fingerprint: Option<Fingerprint>,
}

impl PreparedDocument {
    pub(super) fn prepare(
        document: Document,
        matching: &RwLock<LiveQueries>,
        analyzer: &mut Analyzer,
        fingerprints: bool,
    ) -> PreparedDocument {
        document_failpoint(&document);
        let analysis = DocAnalysis::new(&document, analyzer);
        let matching = lock::read(matching);
        let matches = summaries(&matching, &document, &analysis);
        let generation = matching.generation;
        drop(matching);
        PreparedDocument {
            document,
            matches,
            generation,
            fingerprint: fingerprints.then(|| fingerprint(&analysis)).flatten(),
        }
    }
}

/// The fingerprint of a document's body, from its analysis (the analyzer's tokens).
pub(super) fn fingerprint(analysis: &DocAnalysis) -> Option<Fingerprint> {
    let tokens = analysis
        .field(TextField::Body)
        .map_tokens_in_order(crate::stories::hash_token);
    Fingerprint::of_hashed_tokens(tokens)
}

/// The queries of `matching` that `document` matches, each with its summary.
pub(super) fn summaries(
    matching: &LiveQueries,
    document: &Document,
    analysis: &DocAnalysis,
) -> Vec<(QueryId, MatchSummary)> {
    let percolator = matching.percolator.as_ref();
    percolator
        .percolate(analysis)
        .into_iter()
        .filter_map(|id| {
            let query = percolator.query(id)?;
            Some((id, summarize(query, document, analysis)))
        })
        .collect()
}

/// Tests inject a bug (or a delay) here for documents holding the marker
/// (`FAILPOINTS=pipeline::document=panic`).
#[cfg_attr(not(feature = "failpoints"), allow(unused_variables))]
fn document_failpoint(document: &Document) {
    fail::fail_point!(
        "pipeline::document",
        document.body.contains("lookout-failpoint"),
        |_| {}
    );
}

/// When the file at `path` landed, from its modification time (within the last hour).
fn landed_ago(path: &std::path::Path) -> Option<Instant> {
    let modified = std::fs::metadata(path).ok()?.modified().ok()?;
    let age = SystemTime::now().duration_since(modified).ok()?;
    (age < Duration::from_secs(3600)).then(|| Instant::now() - age)
}
