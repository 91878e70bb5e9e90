//! The tantivy index in `index/`: opening it (read-write for the daemon and `ingest`, read-only
//! for `search`), adding documents with batched commits, and searching it with a query AST.

mod compile;
mod phrase;
pub mod schema;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tantivy::collector::{Count, DocSetCollector, TopDocs};
use tantivy::directory::error::LockError;
use tantivy::directory::MmapDirectory;
use tantivy::schema::Term;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, TantivyError};

pub use compile::compile;
use schema::{build_schema, from_tantivy, to_tantivy, Fields};

use crate::analysis::{text_analyzer, Analyzer, ANALYZER_NAME};
use crate::document::{DocId, Document};
use crate::matcher::{summarize, DocAnalysis, MatchSummary, TermStats};
use crate::query::{Query, Scope};

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("no index at {0}: start the daemon (lookout run) or ingest files (lookout ingest PATH) first")]
    Missing(PathBuf),
    #[error("the index at {0} is in use by another lookout process (a running daemon?); drop files into its watch folder instead, or stop it first")]
    Locked(PathBuf),
    #[error("the index at {path} was built with a different schema; move it away to rebuild it")]
    SchemaMismatch { path: PathBuf },
    #[error("cannot create the index folder {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("index at {path}: {source}")]
    Tantivy { path: PathBuf, source: TantivyError },
}

/// Pages that end within this many hits are counted and collected in one pass; longer ones
/// are counted first (a collector reserves room for `offset + limit` hits per segment).
pub const ONE_PASS_WINDOW: usize = 10_000;

/// An open index.
pub struct LookoutIndex {
    path: PathBuf,
    index: Index,
    fields: Fields,
    reader: IndexReader,
}

impl LookoutIndex {
    /// Open the index at `path`, creating it if needed (for the daemon and `ingest`).
    pub fn open_or_create(path: &Path) -> Result<LookoutIndex, IndexError> {
        std::fs::create_dir_all(path).map_err(|source| IndexError::CreateDir {
            path: path.to_path_buf(),
            source,
        })?;
        let (schema, _) = build_schema();
        let dir = MmapDirectory::open(path).map_err(|e| IndexError::Tantivy {
            path: path.to_path_buf(),
            source: e.into(),
        })?;
        let index = Index::open_or_create(dir, schema).map_err(|e| match e {
            TantivyError::SchemaError(_) => IndexError::SchemaMismatch {
                path: path.to_path_buf(),
            },
            source => IndexError::Tantivy {
                path: path.to_path_buf(),
                source,
            },
        })?;
        Self::from_index(path, index)
    }

    /// Open an existing index for searching only.
    pub fn open_read_only(path: &Path) -> Result<LookoutIndex, IndexError> {
        if !path.join("meta.json").exists() {
            return Err(IndexError::Missing(path.to_path_buf()));
        }
        let index = Index::open_in_dir(path).map_err(|source| IndexError::Tantivy {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_index(path, index)
    }

    fn from_index(path: &Path, index: Index) -> Result<LookoutIndex, IndexError> {
        let (schema, fields) = build_schema();
        if index.schema() != schema {
            return Err(IndexError::SchemaMismatch {
                path: path.to_path_buf(),
            });
        }
        index.tokenizers().register(ANALYZER_NAME, text_analyzer());
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(|source| IndexError::Tantivy {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(LookoutIndex {
            path: path.to_path_buf(),
            index,
            fields,
            reader,
        })
    }

    fn err(&self, source: TantivyError) -> IndexError {
        IndexError::Tantivy {
            path: self.path.clone(),
            source,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Take the index's single writer lock.
    pub fn writer(
        &self,
        commit_every: Duration,
        commit_docs: usize,
    ) -> Result<DocWriter, IndexError> {
        let writer = self
            .index
            .writer_with_num_threads::<TantivyDocument>(1, 64_000_000)
            .map_err(|e| match e {
                TantivyError::LockFailure(LockError::LockBusy, _) => {
                    IndexError::Locked(self.path.clone())
                }
                source => self.err(source),
            })?;
        Ok(DocWriter {
            path: self.path.clone(),
            fields: self.fields.clone(),
            reader: self.reader.clone(),
            writer,
            pending: 0,
            last_commit: Instant::now(),
            commit_every,
            commit_docs,
        })
    }

    /// Load the newest commit (the daemon commits while `search` runs).
    pub fn reload(&self) -> Result<(), IndexError> {
        self.reader.reload().map_err(|e| self.err(e))
    }

    /// Whether a live document with this content id is committed. (Not the term's document
    /// frequency: that counts the deleted documents a segment still holds until it is merged.)
    pub fn contains(&self, id: &DocId) -> Result<bool, IndexError> {
        let searcher = self.reader.searcher();
        let term = Term::from_field_text(self.fields.id, &id.0);
        let query = tantivy::query::TermQuery::new(term, tantivy::schema::IndexRecordOption::Basic);
        searcher
            .search(&query, &Count)
            .map(|n| n > 0)
            .map_err(|e| self.err(e))
    }

    /// The committed document with this content id, as stored (its path is where hits show it).
    pub fn stored_document(&self, id: &DocId) -> Result<Option<Document>, IndexError> {
        let searcher = self.reader.searcher();
        let term = Term::from_field_text(self.fields.id, &id.0);
        let query = tantivy::query::TermQuery::new(term, tantivy::schema::IndexRecordOption::Basic);
        let top = searcher
            .search(&query, &TopDocs::with_limit(1).order_by_score())
            .map_err(|e| self.err(e))?;
        let Some((_, address)) = top.into_iter().next() else {
            return Ok(None);
        };
        let stored: TantivyDocument = searcher.doc(address).map_err(|e| self.err(e))?;
        Ok(Some(from_tantivy(&stored, &self.fields)))
    }

    /// Document frequencies of the title and body terms, for the presearcher's plans.
    pub fn term_stats(&self) -> Result<TermStats, IndexError> {
        let searcher = self.reader.searcher();
        let mut stats = TermStats::empty();
        stats.set_docs(searcher.num_docs());
        for segment in searcher.segment_readers() {
            for field in Scope::DEFAULT_FIELDS {
                let inverted = segment
                    .inverted_index(self.fields.text(field))
                    .map_err(|e| self.err(e))?;
                let mut terms = inverted.terms().stream().map_err(|e| self.err(e.into()))?;
                while terms.advance() {
                    if let Ok(term) = std::str::from_utf8(terms.key()) {
                        stats.add_term(term, u64::from(terms.value().doc_freq));
                    }
                }
            }
        }
        Ok(stats)
    }

    /// Number of committed documents.
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Ranked hits `offset..offset + limit` for `query` (fewer when fewer match), with
    /// snippets cut by the matcher, and the number of documents it matches. Any `limit` and
    /// `offset` are safe: a page past [`ONE_PASS_WINDOW`] is collected after counting the
    /// matches, so that no collector reserves room for more hits than there are.
    pub fn search(
        &self,
        query: &Query,
        limit: usize,
        offset: usize,
    ) -> Result<SearchResults, IndexError> {
        let searcher = self.reader.searcher();
        let compiled = compile(query, &self.fields);
        let top_docs = |limit: usize| {
            TopDocs::with_limit(limit)
                .and_offset(offset)
                .order_by_score()
        };
        let (total, top) = if limit == 0 {
            let total = searcher
                .search(&compiled, &Count)
                .map_err(|e| self.err(e))?;
            (total, Vec::new())
        } else if offset.saturating_add(limit) <= ONE_PASS_WINDOW {
            searcher
                .search(&compiled, &(Count, top_docs(limit)))
                .map_err(|e| self.err(e))?
        } else {
            let total = searcher
                .search(&compiled, &Count)
                .map_err(|e| self.err(e))?;
            match total.checked_sub(offset) {
                Some(rest) if rest > 0 => {
                    let top = searcher
                        .search(&compiled, &top_docs(limit.min(rest)))
                        .map_err(|e| self.err(e))?;
                    (total, top)
                }
                _ => (total, Vec::new()),
            }
        };
        let mut analyzer = Analyzer::default();
        let mut hits = Vec::with_capacity(top.len());
        for (score, address) in top.into_iter().take(limit) {
            let stored: TantivyDocument = searcher.doc(address).map_err(|e| self.err(e))?;
            let document = from_tantivy(&stored, &self.fields);
            let analysis = DocAnalysis::new(&document, &mut analyzer);
            let summary = summarize(query, &document, &analysis);
            hits.push(Hit {
                score,
                document,
                summary,
            });
        }
        Ok(SearchResults { total, hits })
    }

    /// How many live documents `query` matches (deleted ones are not counted).
    pub fn count(&self, query: &Query) -> Result<usize, IndexError> {
        let searcher = self.reader.searcher();
        searcher
            .search(&compile(query, &self.fields), &Count)
            .map_err(|e| self.err(e))
    }

    /// Every document `query` matches (what a search for it returns, all pages), in index
    /// order.
    pub fn matching_documents(&self, query: &Query) -> Result<Vec<Document>, IndexError> {
        let matching = self.matching(query)?;
        matching.documents(0..matching.len())
    }

    /// The documents `query` matches now (what a search for it returns, all pages), to be read
    /// a slice at a time: the snapshot they come from stays readable while the index goes on
    /// changing, and only their addresses are held meanwhile.
    pub fn matching(&self, query: &Query) -> Result<Matching, IndexError> {
        let searcher = self.reader.searcher();
        let compiled = compile(query, &self.fields);
        let mut addresses: Vec<_> = searcher
            .search(&compiled, &DocSetCollector)
            .map_err(|e| self.err(e))?
            .into_iter()
            .collect();
        addresses.sort();
        Ok(Matching {
            path: self.path.clone(),
            fields: self.fields.clone(),
            searcher,
            addresses,
        })
    }

    /// Bytes the index takes on disk.
    pub fn size_bytes(&self) -> u64 {
        walkdir::WalkDir::new(&self.path)
            .into_iter()
            .filter_map(Result::ok)
            .filter_map(|e| e.metadata().ok())
            .filter(|m| m.is_file())
            .map(|m| m.len())
            .sum()
    }
}

/// The documents a query matched in one snapshot of the index (see [`LookoutIndex::matching`]).
pub struct Matching {
    path: PathBuf,
    fields: Fields,
    searcher: tantivy::Searcher,
    addresses: Vec<tantivy::DocAddress>,
}

impl Matching {
    /// How many documents matched.
    pub fn len(&self) -> usize {
        self.addresses.len()
    }

    pub fn is_empty(&self) -> bool {
        self.addresses.is_empty()
    }

    /// The matched documents in `range` (of `0..len()`, clamped), in index order.
    pub fn documents(&self, range: std::ops::Range<usize>) -> Result<Vec<Document>, IndexError> {
        let end = range.end.min(self.addresses.len());
        let start = range.start.min(end);
        self.addresses[start..end]
            .iter()
            .map(|&address| {
                let stored: TantivyDocument =
                    self.searcher
                        .doc(address)
                        .map_err(|source| IndexError::Tantivy {
                            path: self.path.clone(),
                            source,
                        })?;
                Ok(from_tantivy(&stored, &self.fields))
            })
            .collect()
    }
}

/// One search result.
#[derive(Debug, Clone)]
pub struct Hit {
    pub score: f32,
    pub document: Document,
    pub summary: MatchSummary,
}

#[derive(Debug, Clone)]
pub struct SearchResults {
    /// Every matching document, not just the page returned.
    pub total: usize,
    pub hits: Vec<Hit>,
}

/// The index writer with batched commits: on a timer or after a number of documents.
pub struct DocWriter {
    path: PathBuf,
    fields: Fields,
    reader: IndexReader,
    writer: IndexWriter,
    pending: usize,
    last_commit: Instant,
    commit_every: Duration,
    commit_docs: usize,
}

impl DocWriter {
    fn err(&self, source: TantivyError) -> IndexError {
        IndexError::Tantivy {
            path: self.path.clone(),
            source,
        }
    }

    pub fn add(&mut self, doc: &Document) -> Result<(), IndexError> {
        self.writer
            .add_document(to_tantivy(doc, &self.fields))
            .map_err(|e| self.err(e))?;
        self.pending += 1;
        Ok(())
    }

    /// Remove a document (by content id) at the next commit.
    pub fn delete(&mut self, id: &DocId) {
        self.writer
            .delete_term(Term::from_field_text(self.fields.id, &id.0));
        self.pending += 1;
    }

    /// Documents added since the last commit.
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// Commit if the batch is big enough or old enough. Returns whether it committed.
    pub fn maybe_commit(&mut self) -> Result<bool, IndexError> {
        if self.pending > 0
            && (self.pending >= self.commit_docs || self.last_commit.elapsed() >= self.commit_every)
        {
            self.commit()?;
            return Ok(true);
        }
        Ok(false)
    }

    /// When the next timed commit is due, if documents are pending.
    pub fn next_commit_in(&self) -> Option<Duration> {
        (self.pending > 0).then(|| self.commit_every.saturating_sub(self.last_commit.elapsed()))
    }

    /// Make everything added durable and visible to searchers.
    pub fn commit(&mut self) -> Result<(), IndexError> {
        if self.pending > 0 {
            self.writer.commit().map_err(|e| self.err(e))?;
            self.reader.reload().map_err(|e| self.err(e))?;
            tracing::debug!(documents = self.pending, "index commit");
        }
        self.pending = 0;
        self.last_commit = Instant::now();
        Ok(())
    }
}
