//! The tantivy index in `index/`: opening it (read-write for the daemon and `ingest`, read-only
//! for `search`), adding documents with batched commits, and searching it with a query AST.

mod compile;
mod phrase;
pub mod schema;

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use tantivy::collector::{Count, DocSetCollector, TopDocs};
use tantivy::directory::error::LockError;
use tantivy::directory::MmapDirectory;
use tantivy::schema::{Term, Value};
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
    #[error("cannot start the index writer's thread for {path}: {source}")]
    Thread {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the index writer of {0} stopped (an earlier error or a bug); restart lookout")]
    WriterGone(PathBuf),
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
    pub fn writer(&self) -> Result<DocWriter, IndexError> {
        let writer = self
            .index
            .writer_with_num_threads::<TantivyDocument>(1, 64_000_000)
            .map_err(|e| match e {
                TantivyError::LockFailure(LockError::LockBusy, _) => {
                    IndexError::Locked(self.path.clone())
                }
                source => self.err(source),
            })?;
        DocWriter::start(
            self.path.clone(),
            self.fields.clone(),
            writer,
            self.reader.clone(),
        )
    }

    /// Load the newest commit (the daemon commits while `search` runs).
    pub fn reload(&self) -> Result<(), IndexError> {
        self.reader.reload().map_err(|e| self.err(e))
    }

    /// Whether a live document with this content id is committed. (Not the term's document
    /// frequency: that counts the deleted documents a segment still holds until it is merged.)
    pub fn contains(&self, id: &DocId) -> Result<bool, IndexError> {
        // Per segment, the term dictionary first (a new document's id is in none), then its
        // postings against the segment's deletes; no query, weight or scorer is built (the
        // engine asks for every document it meets).
        let searcher = self.reader.searcher();
        let term = Term::from_field_text(self.fields.id, &id.0);
        for segment in searcher.segment_readers() {
            let inverted = segment
                .inverted_index(self.fields.id)
                .map_err(|e| self.err(e))?;
            let Some(mut postings) = inverted
                .read_postings(&term, tantivy::schema::IndexRecordOption::Basic)
                .map_err(|e| self.err(e.into()))?
            else {
                continue;
            };
            let mut doc = tantivy::DocSet::doc(&postings);
            while doc != tantivy::TERMINATED {
                if segment
                    .alive_bitset()
                    .is_none_or(|alive| alive.is_alive(doc))
                {
                    return Ok(true);
                }
                doc = tantivy::DocSet::advance(&mut postings);
            }
        }
        Ok(false)
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
            hits.push(
                load_hit(
                    &searcher,
                    &self.fields,
                    query,
                    score,
                    address,
                    &mut analyzer,
                )
                .map_err(|e| self.err(e))?,
            );
        }
        Ok(SearchResults { total, hits })
    }

    /// The best `max` hits of `query` (ranked as [`LookoutIndex::search`] ranks them) by
    /// their content ids, and the number of documents it matches, in one snapshot of the
    /// index that stays readable for [`Ranked::hits`] (search's collapse groups them by story,
    /// then loads and summarizes only the page it shows).
    pub fn ranked(&self, query: &Query, max: usize) -> Result<Ranked, IndexError> {
        let searcher = self.reader.searcher();
        let compiled = compile(query, &self.fields);
        let (total, top) = if max == 0 {
            let total = searcher
                .search(&compiled, &Count)
                .map_err(|e| self.err(e))?;
            (total, Vec::new())
        } else {
            searcher
                .search(
                    &compiled,
                    &(Count, TopDocs::with_limit(max).order_by_score()),
                )
                .map_err(|e| self.err(e))?
        };
        // The ids read in address order (the doc store's blocks each decompressed once), put
        // back in rank order.
        let mut by_address: Vec<usize> = (0..top.len()).collect();
        by_address.sort_by_key(|&rank| top[rank].1);
        let mut ids = vec![DocId(String::new()); top.len()];
        for rank in by_address {
            let stored: TantivyDocument = searcher.doc(top[rank].1).map_err(|e| self.err(e))?;
            ids[rank] = stored
                .get_first(self.fields.id)
                .and_then(|v| v.as_str())
                .map(|id| DocId(id.to_string()))
                .unwrap_or_else(|| DocId(String::new()));
        }
        Ok(Ranked {
            path: self.path.clone(),
            fields: self.fields.clone(),
            searcher,
            total,
            top,
            ids,
        })
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

/// A query's best hits in one snapshot of the index (see [`LookoutIndex::ranked`]).
pub struct Ranked {
    path: PathBuf,
    fields: Fields,
    searcher: tantivy::Searcher,
    total: usize,
    top: Vec<(f32, tantivy::DocAddress)>,
    ids: Vec<DocId>,
}

impl Ranked {
    /// Every document the query matches, not only the hits held.
    pub fn total(&self) -> usize {
        self.total
    }

    /// The content ids of the hits held, best first.
    pub fn ids(&self) -> &[DocId] {
        &self.ids
    }

    /// The hits at these ranks (of `0..ids().len()`; others are left out), loaded and
    /// summarized for `query` (the query they were ranked for).
    pub fn hits(
        &self,
        query: &Query,
        ranks: impl IntoIterator<Item = usize>,
    ) -> Result<Vec<Hit>, IndexError> {
        let mut analyzer = Analyzer::default();
        ranks
            .into_iter()
            .filter_map(|rank| self.top.get(rank))
            .map(|&(score, address)| {
                load_hit(
                    &self.searcher,
                    &self.fields,
                    query,
                    score,
                    address,
                    &mut analyzer,
                )
                .map_err(|source| IndexError::Tantivy {
                    path: self.path.clone(),
                    source,
                })
            })
            .collect()
    }
}

/// A hit as search shows it: the stored document and its match summary for `query`.
fn load_hit(
    searcher: &tantivy::Searcher,
    fields: &Fields,
    query: &Query,
    score: f32,
    address: tantivy::DocAddress,
    analyzer: &mut Analyzer,
) -> Result<Hit, TantivyError> {
    let stored: TantivyDocument = searcher.doc(address)?;
    let document = from_tantivy(&stored, fields);
    let analysis = DocAnalysis::new(&document, analyzer);
    let summary = summarize(query, &document, &analysis);
    Ok(Hit {
        score,
        document,
        summary,
    })
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

/// The index writer, on a thread of its own: documents added and deleted go to it in order,
/// and a commit runs there while the caller goes on adding (the next batch). `then`, given with
/// each commit, runs on that thread once the commit is durable and visible to searchers (the
/// engine makes its alert log durable and records its progress there), so the caller never
/// waits for a commit unless it asks to.
pub struct DocWriter {
    path: PathBuf,
    fields: Fields,
    ops: Option<mpsc::SyncSender<WriterOp>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Changes since the last commit was started.
    pending: usize,
}

/// What runs on the index thread once a commit is done (or failed).
pub type AfterCommit = Box<dyn FnOnce(Result<(), IndexError>) + Send>;

enum WriterOp {
    Add(TantivyDocument),
    Delete(Term),
    Commit(AfterCommit),
}

/// Changes queued for the index thread before `add` waits (a commit in progress holds them).
const QUEUED_CHANGES: usize = 65_536;

impl DocWriter {
    fn start(
        path: PathBuf,
        fields: Fields,
        writer: IndexWriter,
        reader: IndexReader,
    ) -> Result<DocWriter, IndexError> {
        let (ops, queue) = mpsc::sync_channel(QUEUED_CHANGES);
        let thread_path = path.clone();
        let thread = std::thread::Builder::new()
            .name("lookout-index".into())
            .spawn(move || index_thread(thread_path, writer, reader, queue))
            .map_err(|source| IndexError::Thread {
                path: path.clone(),
                source,
            })?;
        Ok(DocWriter {
            path,
            fields,
            ops: Some(ops),
            thread: Some(thread),
            pending: 0,
        })
    }

    fn send(&self, op: WriterOp) -> Result<(), IndexError> {
        let sent = self.ops.as_ref().map(|ops| ops.send(op));
        match sent {
            Some(Ok(())) => Ok(()),
            _ => Err(IndexError::WriterGone(self.path.clone())),
        }
    }

    pub fn add(&mut self, doc: &Document) -> Result<(), IndexError> {
        self.send(WriterOp::Add(to_tantivy(doc, &self.fields)))?;
        self.pending += 1;
        Ok(())
    }

    /// Remove a document (by content id) at the next commit.
    pub fn delete(&mut self, id: &DocId) -> Result<(), IndexError> {
        self.send(WriterOp::Delete(Term::from_field_text(
            self.fields.id,
            &id.0,
        )))?;
        self.pending += 1;
        Ok(())
    }

    /// Changes since the last commit was started.
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// Commit what was added and deleted so far, on the index thread; `then` runs there once
    /// the commit is durable and searchers see it (or with the error).
    pub fn start_commit(&mut self, then: AfterCommit) -> Result<(), IndexError> {
        self.send(WriterOp::Commit(then))?;
        self.pending = 0;
        Ok(())
    }

    /// Commit and wait until the changes are durable and searchers see them.
    pub fn commit(&mut self) -> Result<(), IndexError> {
        let (done, result) = mpsc::channel();
        self.start_commit(Box::new(move |committed| {
            let _ = done.send(committed);
        }))?;
        result
            .recv()
            .unwrap_or_else(|_| Err(IndexError::WriterGone(self.path.clone())))
    }
}

impl Drop for DocWriter {
    fn drop(&mut self) {
        // The thread ends when the queue closes (uncommitted changes are dropped, as a crash
        // would); waiting for it releases the index's writer lock before this returns.
        drop(self.ops.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn index_thread(
    path: PathBuf,
    mut writer: IndexWriter,
    reader: IndexReader,
    queue: mpsc::Receiver<WriterOp>,
) {
    crate::background::lower_this_thread();
    let err = |source| IndexError::Tantivy {
        path: path.clone(),
        source,
    };
    // The first failure to add or delete is reported by the next commit.
    let mut failed: Option<IndexError> = None;
    for op in queue {
        match op {
            WriterOp::Add(document) => {
                if let Err(e) = writer.add_document(document) {
                    failed.get_or_insert(err(e));
                }
            }
            WriterOp::Delete(term) => {
                writer.delete_term(term);
            }
            WriterOp::Commit(then) => {
                let result = match failed.take() {
                    Some(error) => Err(error),
                    None => writer
                        .commit()
                        .map(|_| ())
                        .and_then(|()| reader.reload())
                        .map_err(err),
                };
                then(result);
            }
        }
    }
}
