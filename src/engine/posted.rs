//! Bodies of articles handed over directly (`POST /documents`): read by the same extractor as
//! files, then each document matched and indexed exactly like one from a dropped file, under
//! the location `api:{id}`, a slice at a time; the body's documents are committed before its
//! report is given.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{Engine, EngineError};
use crate::document::{DocId, Document};
use crate::extract::{ExtractError, Extraction, Warnings};

/// A body of articles being matched and indexed a slice at a time (see
/// [`Command::StartIngest`](super::Command::StartIngest)).
#[derive(Debug)]
pub struct IngestRun {
    documents: std::vec::IntoIter<Document>,
    outcomes: Vec<Ingested>,
    warnings: Warnings,
}

/// What a posted body gave: the documents, and the warnings about the records it
/// skipped or the values it left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestReport {
    pub documents: Vec<Ingested>,
    pub warnings: Warnings,
}

/// One document of a posted body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingested {
    pub id: DocId,
    pub location: String,
    /// False when the same content was already indexed (then it raises no alert).
    pub new: bool,
    pub alerts: usize,
}

impl Engine {
    /// Read a body of articles handed over directly, to be matched and indexed a slice at a
    /// time (`continue_ingest`, then `finish_ingest`), like a file of many articles. Refused
    /// when it holds no article.
    pub(super) fn start_ingest(
        &mut self,
        format_hint: &str,
        bytes: &[u8],
    ) -> Result<IngestRun, ExtractError> {
        match self
            .read_rules
            .extractor
            .extract(Path::new(format_hint), bytes)
        {
            Ok(Extraction {
                documents,
                warnings,
            }) => Ok(IngestRun {
                outcomes: Vec::with_capacity(documents.len()),
                documents: documents.into_iter(),
                warnings,
            }),
            Err(e) => {
                // A refused request body, not a file: counted apart from failed files.
                self.metrics.api_documents_rejected();
                Err(e)
            }
        }
    }

    /// Match and index the next documents of a body, for at least one document and until
    /// `budget` is spent. False when every document is done.
    pub(super) fn continue_ingest(
        &mut self,
        run: &mut IngestRun,
        budget: Duration,
    ) -> Result<bool, EngineError> {
        let started = Instant::now();
        for mut document in run.documents.by_ref() {
            document.path = PathBuf::from(format!("api:{}", document.id));
            document.part = None;
            let id = document.id.clone();
            let location = document.location();
            let result = self.process_document(document)?;
            run.outcomes.push(Ingested {
                id,
                location,
                new: result.is_some(),
                alerts: result.unwrap_or(0),
            });
            if started.elapsed() >= budget {
                break;
            }
        }
        Ok(run.documents.len() > 0)
    }

    /// Commit a body's documents (durable when this returns) and report them.
    pub(super) fn finish_ingest(&mut self, run: IngestRun) -> Result<IngestReport, EngineError> {
        self.commit()?;
        Ok(IngestReport {
            documents: run.outcomes,
            warnings: run.warnings,
        })
    }
}
