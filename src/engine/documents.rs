//! One document: skipped when its content is already indexed (a rename moves where it is
//! shown), else its matches (prepared by a worker, or here) turned into new alerts pushed into
//! the sinks (once per saved query and content, and per saved query and location), and added to
//! the index; and where documents are shown when the files holding them go away (`leave`,
//! `reconcile`).

use std::path::Path;
use std::sync::Arc;

use chrono::Utc;

use super::prepare::{summaries, PreparedDocument};
use super::read::{is_gone, read_bytes, SkipReason};
use super::roots::WatchFolders;
use super::{Engine, EngineError, QueryId};
use crate::alerts::{self, Alert, AlertDoc, AlertQuery, Matched};
use crate::config::{Duplicates, OnDelete};
use crate::document::{DocId, Document};
use crate::ledger::{AlertRow, CopyRow, StoryRow};
use crate::lock;
use crate::matcher::{DocAnalysis, MatchSummary};
use crate::stories::{Fingerprint, Similar};

impl Engine {
    /// Match and index one document here (a posted body's). `None` when its content is
    /// already indexed; otherwise the number of alerts it raised.
    pub(super) fn process_document(
        &mut self,
        document: Document,
    ) -> Result<Option<usize>, EngineError> {
        if self.is_known(&document)? {
            return Ok(None);
        }
        let prepared = PreparedDocument::prepare(
            document,
            &self.matching,
            &mut self.analyzer,
            self.read_rules.fingerprints,
        );
        self.apply_new_document(prepared).map(Some)
    }

    /// Apply a document a worker prepared: `None` when its content is already indexed;
    /// otherwise the number of alerts it raised.
    pub(super) fn apply_document(
        &mut self,
        prepared: PreparedDocument,
    ) -> Result<Option<usize>, EngineError> {
        if self.is_known(&prepared.document)? {
            // Indexed, but its story may not be recorded: a crash after the index commit and
            // before the ledger's (or it left the window since).
            if let Some(fingerprint) = prepared.fingerprint {
                self.place_in_story(&prepared.document.id, fingerprint);
            }
            return Ok(None);
        }
        self.apply_new_document(prepared).map(Some)
    }

    /// Find the stories `fingerprint` is a copy of (most similar first), then add the
    /// document to the window, in the story of the most similar one (or a story of its own),
    /// for the ledger too.
    fn place_in_story(&mut self, doc: &DocId, fingerprint: Fingerprint) -> Vec<Similar> {
        if self.duplicates.window == 0 {
            return Vec::new(); // copies are not looked for
        }
        if self.stories.contains(doc) {
            // Placed already (a rename, or from the alert log's tail after a crash): not
            // placed twice.
            return self.stories.similar_to_member(doc);
        }
        let similar = self.stories.similar(&fingerprint);
        let story = similar
            .first()
            .map_or_else(|| doc.clone(), |s| s.story.clone());
        let seq = self.next_story_seq;
        self.next_story_seq += 1;
        let fingerprint = Arc::new(fingerprint);
        self.pending.stories.push(StoryRow {
            doc: doc.clone(),
            story: story.clone(),
            fingerprint: Arc::clone(&fingerprint),
            seq,
        });
        self.stories.insert(doc.clone(), story, fingerprint, seq);
        similar
    }

    /// Place in their stories the documents of the alert log's tail that the ledger caught up
    /// with at start-up (a crash came before their commit): their alerts are known again, so
    /// their stories must be too before any new copy comes, or a copy arriving before they are
    /// read again would alert anew. Each is read back from its file (`path` or `path#part`); a
    /// file gone or changed meanwhile is left (it is processed as it is now).
    pub(super) fn place_tail_stories(&mut self, tail: Vec<(DocId, String)>) {
        let mut placed = 0usize;
        for (id, location) in tail {
            if self.stories.contains(&id) {
                continue;
            }
            let path = match location.rsplit_once('#') {
                Some((path, part))
                    if part.bytes().all(|b| b.is_ascii_digit())
                        && !Path::new(&location).exists() =>
                {
                    path.to_string()
                }
                _ => location.clone(),
            };
            let Ok(documents) = self.read_documents(Path::new(&path)) else {
                continue;
            };
            let Some(document) = documents.into_iter().find(|d| d.id == id) else {
                continue;
            };
            let analysis = DocAnalysis::new(&document, &mut self.analyzer);
            if let Some(fingerprint) = super::prepare::fingerprint(&analysis) {
                self.place_in_story(&id, fingerprint);
                placed += 1;
            }
        }
        if placed > 0 {
            tracing::info!(
                documents = placed,
                "stories of the alert log's tail placed again"
            );
        }
    }

    /// The documents of a file processed before, read again here as they were read then (the
    /// configured `[json]` keys make the ids).
    fn read_documents(&self, path: &Path) -> Result<Vec<Document>, SkipReason> {
        let bytes = read_bytes(path, self.read_rules.max_file_size)?;
        Ok(self.read_rules.extractor.extract(path, &bytes)?.documents)
    }

    /// The documents of the window the indexed document `doc` is a copy of (a backfill's
    /// question: its story was placed when it was indexed).
    pub(super) fn copies_known_of(&self, doc: &DocId) -> Vec<Similar> {
        self.stories.similar_to_member(doc)
    }

    /// The alert for saved query `name` that `doc` is a copy of, found through the documents
    /// `similar` to it (most similar first): one of them that alerted for it, or holds a copy
    /// record for it whose alert is of a document `doc` is a copy of too. Only a copy of the
    /// alerting article itself is suppressed: copies do not chain (a short rewrite that shares
    /// a paragraph with two long stories does not make them one). `None`: no such alert.
    fn story_alert(
        &self,
        name: &str,
        doc: &DocId,
        similar: &[Similar],
    ) -> Result<Option<String>, EngineError> {
        for other in similar {
            let Some(origin) = self.alert_behind(name, &other.doc)? else {
                continue;
            };
            let origin_doc = DocId(alerts::doc_of_alert_id(&origin).to_string());
            if origin_doc == other.doc || self.stories.are_copies(doc, &origin_doc) {
                return Ok(Some(origin));
            }
        }
        Ok(None)
    }

    /// The alert of saved query `name` on `other`, or the one its copy record for `name`
    /// points at.
    fn alert_behind(&self, name: &str, other: &DocId) -> Result<Option<String>, EngineError> {
        let alert_id = alerts::alert_id(name, &other.0);
        let batches =
            std::iter::once(&self.raised).chain(self.committing.as_ref().map(|c| &c.raised));
        for raised in batches {
            if let Some(origin) = raised.origin(&alert_id) {
                return Ok(Some(origin));
            }
        }
        if let Some(original) = self.ledger.copy_of(&alert_id)? {
            return Ok(Some(original));
        }
        let (on_doc, _) = self.ledger.alerted(other, "")?;
        Ok(on_doc.iter().any(|q| q == name).then_some(alert_id))
    }

    /// Whether the document's content is already indexed (then, at most, where it is shown
    /// moves: a rename).
    fn is_known(&mut self, document: &Document) -> Result<bool, EngineError> {
        let indexed = self.uncommitted.contains_key(&document.id)
            || (!self.removed_docs.contains(&document.id) && self.index.contains(&document.id)?);
        if !indexed {
            return Ok(false);
        }
        self.stats.known_documents += 1;
        self.metrics.document_known();
        self.follow_rename(document)?;
        tracing::debug!(file = %document.location(), id = %document.id, "already indexed");
        Ok(true)
    }

    /// The ordered half of a new document's work (the one writer's): its alerts, deduplicated
    /// against the ledger and this batch, pushed into the sinks, then the document added to the
    /// index. Matches prepared against another generation of the saved queries are computed
    /// again (an id may name another query now).
    pub(super) fn apply_new_document(
        &mut self,
        prepared: PreparedDocument,
    ) -> Result<usize, EngineError> {
        let PreparedDocument {
            document,
            mut matches,
            generation,
            fingerprint,
        } = prepared;
        if generation != self.queries.generation() {
            let analysis = DocAnalysis::new(&document, &mut self.analyzer);
            matches = summaries(&lock::read(&self.matching), &document, &analysis);
        }
        let similar = match fingerprint {
            Some(fingerprint) => self.place_in_story(&document.id, fingerprint),
            None => Vec::new(),
        };
        let raised = self.raise_alerts(&document, matches, false, &similar)?;
        self.writer.add(&document)?;
        self.removed_docs.remove(&document.id);
        self.uncommitted.insert(
            document.id.clone(),
            document.path.to_string_lossy().into_owned(),
        );
        self.stats.new_documents += 1;
        self.metrics.document_ingested();
        self.stats.alerts += raised as u64;
        tracing::debug!(file = %document.location(), id = %document.id, alerts = raised, "indexed");
        Ok(raised)
    }

    /// Write one alert for each of the saved queries `matches` (with their summaries) that
    /// never alerted on this document's content nor at its location: alert log first, then
    /// the tracing line, then a nudge to the webhooks, all of the document's alerts at once
    /// (with those of the documents applied just before: see [`super::AlertSinks`]). A query
    /// that suppresses duplicates writes a copy record instead when the document is a copy of
    /// one of `similar` whose story already alerted for it. Returns how many alerts were
    /// raised (copy records not counted).
    pub(super) fn raise_alerts(
        &mut self,
        document: &Document,
        matches: Vec<(QueryId, MatchSummary)>,
        backfill: bool,
        similar: &[Similar],
    ) -> Result<usize, EngineError> {
        if matches.is_empty() {
            // The alerts kept for the sinks may have waited long enough.
            self.sinks.alerts(Vec::new())?;
            return Ok(0);
        }
        let location: Arc<str> = document.location().into();
        // Usually neither this content nor this path ever alerted: only a crash before the
        // commit, a changed file or a backfill finds queries here.
        let (doc_alerted, path_alerted) = self.ledger.alerted(&document.id, &location)?;
        let mut raised = 0usize;
        let mut batch = Vec::with_capacity(matches.len());
        let at = Utc::now();
        // One copy of the document for all its alerts.
        let doc = Arc::new(AlertDoc {
            id: document.id.0.clone(),
            path: location.to_string(),
            title: document.title.clone(),
            date: document.date,
            source: document.source.clone(),
            url: document.url.clone(),
        });
        for (query_id, summary) in matches {
            let Some(entry) = self.queries.get(query_id) else {
                continue; // withdrawn meanwhile
            };
            if entry.query().is_none() {
                continue;
            }
            let name = &entry.spec.name;
            let alert_id = alerts::alert_id(name, &document.id.0);
            let path_query = (Arc::clone(&location), Arc::clone(name));
            let listed = |names: &[String]| names.iter().any(|n| **n == **name);
            if self.raised.contains(&alert_id, &path_query)
                || self
                    .committing
                    .as_ref()
                    .is_some_and(|c| c.raised.contains(&alert_id, &path_query))
                || listed(&doc_alerted)
                || listed(&path_alerted)
            {
                continue;
            }
            let copy_of = match entry.spec.duplicates.unwrap_or(self.duplicates.mode) {
                Duplicates::Suppress if !similar.is_empty() => {
                    self.story_alert(name, &document.id, similar)?
                }
                _ => None,
            };
            self.pending.alerts.push(AlertRow {
                alert_id: alert_id.clone(),
                path: Arc::clone(&location),
                query: Arc::clone(name),
            });
            match &copy_of {
                Some(original) => {
                    self.pending.copies.push(CopyRow {
                        alert_id: alert_id.clone(),
                        copy_of: original.clone(),
                    });
                    self.raised.insert_copy(alert_id.clone(), original.clone());
                    self.stats.copies += 1;
                }
                None => raised += 1,
            }
            let alert = Alert {
                alert_id: alert_id.clone(),
                at,
                query: AlertQuery {
                    name: Arc::clone(name),
                    text: Arc::clone(&entry.spec.text),
                },
                doc: Arc::clone(&doc),
                matched: Matched {
                    terms: summary.terms,
                    snippet: summary.snippet,
                },
                backfill,
                copy_of,
            };
            self.raised.insert(alert_id, path_query);
            batch.push(alert);
        }
        // Out with the other alerts of the last moment (one write to the alert log, one nudge).
        self.sinks.alerts(batch)?;
        Ok(raised)
    }

    /// A known document under a new path: when the path the index shows it at no longer holds
    /// it (a rename, or that file was deleted or changed), the index entry moves here. No alert
    /// either way.
    pub(super) fn follow_rename(&mut self, document: &Document) -> Result<(), EngineError> {
        let here = document.path.to_string_lossy();
        let Some(shown) = self.shown_at(&document.id)? else {
            return Ok(());
        };
        if shown == here || self.still_holds(&shown, &document.id)? {
            return Ok(());
        }
        self.show_at(document)?;
        tracing::info!(from = %shown, to = %document.location(), "renamed");
        Ok(())
    }

    /// Where the index shows a document (its stored path), counting this batch's additions.
    pub(super) fn shown_at(&self, id: &DocId) -> Result<Option<String>, EngineError> {
        if let Some(path) = self.uncommitted.get(id) {
            return Ok(Some(path.clone()));
        }
        Ok(self
            .index
            .stored_document(id)?
            .map(|d| d.path.to_string_lossy().into_owned()))
    }

    /// Whether the file at `path` still holds the document: its last processed content held
    /// it, it is not being forgotten, and it is not gone.
    pub(super) fn still_holds(&self, path: &str, id: &DocId) -> Result<bool, EngineError> {
        let listed = match self.pending_files.get(path) {
            Some(record) => record.docs.contains(id),
            None if self.removed_files.contains(path) => false,
            None => self
                .ledger
                .file(path)?
                .is_some_and(|record| record.docs.contains(id)),
        };
        Ok(listed && !is_gone(Path::new(path)))
    }

    /// Replace the index entry of `document`'s id with `document` (its path and part).
    pub(super) fn show_at(&mut self, document: &Document) -> Result<(), EngineError> {
        self.writer.delete(&document.id)?;
        self.writer.add(document)?;
        self.uncommitted.insert(
            document.id.clone(),
            document.path.to_string_lossy().into_owned(),
        );
        Ok(())
    }

    /// The paths other than `except` that still hold the document.
    pub(super) fn holders(&self, id: &DocId, except: &str) -> Result<Vec<String>, EngineError> {
        let mut candidates: Vec<String> = self
            .pending_files
            .values()
            .filter(|f| f.path != except && f.docs.contains(id))
            .map(|f| f.path.clone())
            .collect();
        for path in self.ledger.paths_of(id, except)? {
            if !candidates.contains(&path) {
                candidates.push(path);
            }
        }
        let mut holders = Vec::with_capacity(candidates.len());
        for path in candidates {
            if self.still_holds(&path, id)? {
                holders.push(path);
            }
        }
        Ok(holders)
    }

    /// The file at `leaving` no longer holds these documents (it was deleted, or changed).
    /// Each one another file still holds is shown there if the index showed it at `leaving`;
    /// each one no file holds is removed from the index when `remove_orphans`.
    pub(super) fn leave(
        &mut self,
        ids: &[DocId],
        leaving: &str,
        remove_orphans: bool,
    ) -> Result<(), EngineError> {
        let mut moves: Vec<(String, Vec<DocId>)> = Vec::new();
        for id in ids {
            let holders = self.holders(id, leaving)?;
            let Some(holder) = holders.into_iter().next() else {
                if remove_orphans {
                    self.stories.remove(id);
                    self.pending.removed_stories.push(id.clone());
                    self.writer.delete(id)?;
                    self.uncommitted.remove(id);
                    self.removed_docs.insert(id.clone());
                    self.stats.removed_documents += 1;
                }
                continue;
            };
            if self.shown_at(id)?.as_deref() != Some(leaving) {
                continue;
            }
            match moves.iter_mut().find(|(path, _)| *path == holder) {
                Some((_, ids)) => ids.push(id.clone()),
                None => moves.push((holder, vec![id.clone()])),
            }
        }
        // Each holder is read once, however many of its documents move.
        for (holder, ids) in moves {
            let documents = match self.read_documents(Path::new(&holder)) {
                Ok(documents) => documents,
                Err(error) => {
                    tracing::debug!(file = %holder, "cannot show documents at this file: {error}");
                    continue;
                }
            };
            for document in documents.iter().filter(|d| ids.contains(&d.id)) {
                if self.uncommitted.get(&document.id).map(String::as_str) == Some(&holder) {
                    continue; // a file holding the same article twice
                }
                self.show_at(document)?;
                tracing::info!(from = %leaving, to = %document.location(), "document now shown at another file that holds it");
            }
        }
        Ok(())
    }

    /// Compare the ledger with the watch folders: files that are gone are forgotten (their
    /// documents kept, or removed with `on_delete = "remove"`; either way shown at another
    /// file that still holds them). Deletions under a watch folder that is missing, replaced
    /// or emptied all at once are held until it is back: a vanished folder is not a mass
    /// delete. Only a definite "not found" is a deletion (a file behind a folder that cannot
    /// be searched for a moment is not gone).
    pub(super) fn reconcile(&mut self) -> Result<usize, EngineError> {
        let sound = self.watch_folders.assess(&mut self.ledger)?;
        let folders = self.watch_folders.paths();
        let watched = |path: &Path| folders.iter().any(|f| path.starts_with(f));
        let mut gone_paths = Vec::new();
        for path in self.ledger.file_paths()? {
            let p = Path::new(&path);
            if !sound.iter().any(|f| p.starts_with(&f.path)) {
                continue; // under a held folder, or outside the watch folders (`ingest`)
            }
            if self.pending_files.contains_key(&path)
                || self.removed_files.contains(&path)
                || !is_gone(p)
            {
                continue;
            }
            gone_paths.push(path);
        }
        // Quarantined files that are gone leave the quarantine; ignored ones are forgotten.
        let mut released = Vec::new();
        for q in self.ledger.all_quarantined()? {
            let p = Path::new(&q.path);
            let held = watched(p) && !sound.iter().any(|f| p.starts_with(&f.path));
            let noted = self.pending.released.contains(&q.path)
                || self
                    .committing_notes()
                    .is_some_and(|c| c.released.contains(&q.path));
            if !held && is_gone(p) && !noted {
                released.push(q.path);
            }
        }
        let mut unignored = Vec::new();
        for path in self.ledger.ignored_paths()? {
            let p = Path::new(&path);
            let held = watched(p) && !sound.iter().any(|f| p.starts_with(&f.path));
            let noted = self.pending.unignored.contains(&path)
                || self
                    .committing_notes()
                    .is_some_and(|c| c.unignored.contains(&path));
            if !held && is_gone(p) && !noted {
                unignored.push(path);
            }
        }
        // A folder that went away during the walk: its files are not gone, it is.
        let still = WatchFolders::still_sound(&sound);
        let under_still = |path: &str| still.iter().any(|f| Path::new(path).starts_with(f));
        gone_paths.retain(|p| under_still(p));
        released.retain(|p| under_still(p) || !watched(Path::new(p)));
        unignored.retain(|p| under_still(p) || !watched(Path::new(p)));
        self.pending.released.extend(released);
        self.pending.unignored.extend(unignored);

        let gone = gone_paths.len();
        for path in gone_paths {
            if let Some(record) = self.ledger.file(&path)? {
                self.leave(&record.docs, &path, self.on_delete == OnDelete::Remove)?;
            }
            self.retries.remove(Path::new(&path));
            tracing::info!(file = %path, on_delete = ?self.on_delete, "file deleted");
            self.removed_files.insert(path.clone());
            self.pending.removed_files.push(path);
        }
        Ok(gone)
    }
}
