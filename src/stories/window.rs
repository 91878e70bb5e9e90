//! The documents copies are looked for among: the most recent `capacity` fingerprinted
//! documents, in an LSH index (the signature cut into bands of [`BAND_ROWS`] hashes; two
//! documents are candidates when one band is equal), each candidate verified on the whole
//! fingerprint. Bounded: past its capacity the oldest document leaves (and with it its bands).
//!
//! Deterministic: the same documents added in the same order answer every lookup the same way,
//! and the verdict on two documents does not depend on which came first (see
//! [`Fingerprint::same_story`]).

use std::collections::VecDeque;
use std::sync::Arc;

use foldhash::{HashMap, HashMapExt};

use xxhash_rust::xxh3::xxh3_64_with_seed;

use super::fingerprint::Fingerprint;
use crate::document::DocId;

/// Hashes per LSH band. Two per band, 32 bands: documents whose shingle sets have a Jaccard
/// similarity of 0.3 are candidates with probability 1 - (1 - 0.3²)³² ≈ 95%, of 0.4 with
/// 99.6% (a copy that drops or adds a paragraph of a short story can be that low in Jaccard and
/// still high in overlap), while two unrelated stories (Jaccard about 0.02) meet in some band
/// about once in 80 and are then told apart by the whole fingerprint.
pub const BAND_ROWS: usize = 2;
#[cfg(test)]
const BANDS: usize = super::fingerprint::SIGNATURE_LEN / BAND_ROWS;

/// A band holds at most this many members, the latest: a flood of copies of one story (or of
/// articles sharing a band by chance) would otherwise make every lookup and every eviction
/// walk them all, and the flood quadratic. The latest copies of a story stand for it (each
/// points at its story, and the copy records at its first alerts).
pub const BAND_CAPACITY: usize = 32;

/// A lookup answers at most this many documents, the most similar: enough to find the story's
/// alerts through its copies, and a bound on what the writer checks per document.
pub const MAX_SIMILAR: usize = 16;

/// A document in the window.
#[derive(Debug, Clone)]
struct Member {
    doc: DocId,
    /// The first document of its story (itself when it had no earlier copy).
    story: DocId,
    fingerprint: Arc<Fingerprint>,
    /// Its place in arrival order (the ledger keeps it), for ties and eviction.
    seq: u64,
}

/// A document of the window that is a copy of the one looked up.
#[derive(Debug, Clone, PartialEq)]
pub struct Similar {
    pub doc: DocId,
    pub story: DocId,
    /// The estimated overlap of the shingles.
    pub overlap: f64,
}

/// The window of recent documents (see the module's comment).
#[derive(Debug)]
pub struct StoryWindow {
    capacity: usize,
    threshold: f64,
    members: HashMap<u32, Member>,
    by_doc: HashMap<DocId, u32>,
    /// Band key → the members holding it, oldest first.
    bands: HashMap<u64, Vec<u32>>,
    /// Slots in arrival order, oldest first.
    order: VecDeque<u32>,
    next_slot: u32,
    free_slots: Vec<u32>,
}

fn band_keys(fingerprint: &Fingerprint) -> impl Iterator<Item = u64> + '_ {
    fingerprint
        .signature()
        .chunks_exact(BAND_ROWS)
        .enumerate()
        .map(|(band, rows)| {
            let mut bytes = [0u8; 4 * BAND_ROWS];
            for (i, h) in rows.iter().enumerate() {
                bytes[4 * i..4 * i + 4].copy_from_slice(&h.to_le_bytes());
            }
            xxh3_64_with_seed(&bytes, band as u64)
        })
}

impl StoryWindow {
    /// An empty window of at most `capacity` documents (0: copies are not looked for), judging
    /// copies at `threshold` (an overlap from 0 to 1).
    pub fn new(capacity: usize, threshold: f64) -> StoryWindow {
        StoryWindow {
            capacity,
            threshold,
            members: HashMap::new(),
            by_doc: HashMap::new(),
            bands: HashMap::new(),
            order: VecDeque::new(),
            next_slot: 0,
            free_slots: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn contains(&self, doc: &DocId) -> bool {
        self.by_doc.contains_key(doc)
    }

    /// The documents of the window this fingerprint is a copy of: most similar first, then
    /// the earliest; at most [`MAX_SIMILAR`].
    pub fn similar(&self, fingerprint: &Fingerprint) -> Vec<Similar> {
        let mut candidates: Vec<u32> = band_keys(fingerprint)
            .filter_map(|key| self.bands.get(&key))
            .flatten()
            .copied()
            .collect();
        candidates.sort_unstable();
        candidates.dedup();
        let mut found: Vec<(f64, u64, Similar)> = candidates
            .into_iter()
            .filter_map(|slot| {
                let member = self.members.get(&slot)?;
                let overlap = fingerprint.same_story(&member.fingerprint, self.threshold)?;
                Some((
                    overlap,
                    member.seq,
                    Similar {
                        doc: member.doc.clone(),
                        story: member.story.clone(),
                        overlap,
                    },
                ))
            })
            .collect();
        found.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        found
            .into_iter()
            .take(MAX_SIMILAR)
            .map(|(_, _, s)| s)
            .collect()
    }

    /// The other documents of the window a member is a copy of (as [`StoryWindow::similar`]);
    /// none for a document not in the window.
    pub fn similar_to_member(&self, doc: &DocId) -> Vec<Similar> {
        let Some(member) = self.by_doc.get(doc).and_then(|slot| self.members.get(slot)) else {
            return Vec::new();
        };
        let mut similar = self.similar(&member.fingerprint);
        similar.retain(|s| s.doc != *doc);
        similar
    }

    /// Add a document (of arrival `seq`, later than every member's) with its story; the
    /// oldest member leaves when the window is full. A document already there is left as it
    /// is.
    pub fn insert(&mut self, doc: DocId, story: DocId, fingerprint: Arc<Fingerprint>, seq: u64) {
        if self.capacity == 0 || self.by_doc.contains_key(&doc) {
            return;
        }
        while self.members.len() >= self.capacity {
            let Some(oldest) = self.order.front().copied() else {
                break;
            };
            self.remove_slot(oldest);
        }
        let slot = self.free_slots.pop().unwrap_or_else(|| {
            self.next_slot += 1;
            self.next_slot - 1
        });
        for key in band_keys(&fingerprint) {
            let band = self.bands.entry(key).or_default();
            if band.len() >= BAND_CAPACITY {
                band.remove(0);
            }
            band.push(slot);
        }
        self.by_doc.insert(doc.clone(), slot);
        self.order.push_back(slot);
        self.members.insert(
            slot,
            Member {
                doc,
                story,
                fingerprint,
                seq,
            },
        );
    }

    /// Whether two documents of the window are copies of one story (false when either is not
    /// in the window).
    pub fn are_copies(&self, a: &DocId, b: &DocId) -> bool {
        let member = |doc: &DocId| self.by_doc.get(doc).and_then(|slot| self.members.get(slot));
        match (member(a), member(b)) {
            (Some(a), Some(b)) => a
                .fingerprint
                .same_story(&b.fingerprint, self.threshold)
                .is_some(),
            _ => false,
        }
    }

    /// Take a document out (it was removed from the index).
    pub fn remove(&mut self, doc: &DocId) {
        if let Some(&slot) = self.by_doc.get(doc) {
            self.remove_slot(slot);
        }
    }

    fn remove_slot(&mut self, slot: u32) {
        let Some(member) = self.members.remove(&slot) else {
            return;
        };
        for key in band_keys(&member.fingerprint) {
            if let Some(slots) = self.bands.get_mut(&key) {
                slots.retain(|&s| s != slot);
                if slots.is_empty() {
                    self.bands.remove(&key);
                }
            }
        }
        self.by_doc.remove(&member.doc);
        if self.order.front() == Some(&slot) {
            self.order.pop_front();
        } else {
            self.order.retain(|&s| s != slot);
        }
        self.free_slots.push(slot);
    }

    /// The oldest arrival still in the window.
    #[cfg(test)]
    fn oldest_seq(&self) -> Option<u64> {
        let slot = self.order.front()?;
        self.members.get(slot).map(|m| m.seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(n: usize) -> DocId {
        DocId(format!("{n:064x}"))
    }

    /// A story of 40 words: story `s`'s words, with word `i` of the text set to `edit[i]`.
    fn story(s: usize, edits: &[(usize, &str)]) -> Arc<Fingerprint> {
        let mut words: Vec<String> = (0..40).map(|i| format!("s{s}w{i}")).collect();
        for &(i, w) in edits {
            words[i] = w.to_string();
        }
        Arc::new(Fingerprint::of_tokens(words.iter().map(String::as_str)).unwrap())
    }

    #[test]
    fn a_copy_finds_its_story_and_another_story_finds_nothing() {
        let mut window = StoryWindow::new(100, 0.5);
        window.insert(doc(1), doc(1), story(1, &[]), 1);
        window.insert(doc(2), doc(2), story(2, &[]), 2);
        let copy = story(1, &[(5, "changed"), (20, "edited")]);
        let found = window.similar(&copy);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].doc, doc(1));
        assert!(window.similar(&story(3, &[])).is_empty());
    }

    #[test]
    fn the_oldest_leaves_when_the_window_is_full_and_removed_ones_are_gone() {
        let mut window = StoryWindow::new(2, 0.5);
        for n in 1..=3 {
            window.insert(doc(n), doc(n), story(n, &[]), n as u64);
        }
        assert_eq!(window.len(), 2);
        assert!(!window.contains(&doc(1)));
        assert!(window.similar(&story(1, &[])).is_empty());
        assert_eq!(window.oldest_seq(), Some(2));
        window.remove(&doc(3));
        assert!(window.similar(&story(3, &[])).is_empty());
        assert_eq!(window.len(), 1);
        // Slots are reused and the bands of a removed member do not linger.
        for n in 4..50 {
            window.insert(doc(n), doc(n), story(n, &[]), n as u64);
        }
        assert_eq!(window.len(), 2);
        assert!(window.bands.len() <= 2 * BANDS);
    }

    #[test]
    fn copies_are_answered_most_similar_first_then_earliest() {
        let mut window = StoryWindow::new(100, 0.5);
        window.insert(
            doc(1),
            doc(1),
            story(1, &[(3, "x"), (9, "y"), (30, "z")]),
            1,
        );
        window.insert(doc(2), doc(1), story(1, &[]), 2);
        window.insert(doc(3), doc(1), story(1, &[]), 3);
        let found = window.similar(&story(1, &[]));
        let order: Vec<DocId> = found.iter().map(|s| s.doc.clone()).collect();
        assert_eq!(order, vec![doc(2), doc(3), doc(1)]);
        assert!(found.iter().all(|s| s.story == doc(1)));
    }

    #[test]
    fn a_flood_of_copies_keeps_every_band_bounded_and_copies_found() {
        let mut window = StoryWindow::new(5_000, 0.5);
        for n in 0..5_000usize {
            // Each a copy of story 1 with one word of its own.
            let edit = format!("edit{n}");
            window.insert(
                doc(n),
                doc(0),
                story(1, &[(n % 40, edit.as_str())]),
                n as u64,
            );
        }
        assert!(window.bands.values().all(|b| b.len() <= BAND_CAPACITY));
        let found = window.similar(&story(1, &[]));
        assert!(!found.is_empty() && found.len() <= MAX_SIMILAR);
        assert!(found.iter().all(|s| s.story == doc(0)));
        // Evicting them all leaves no band behind.
        for n in 5_000..10_000usize {
            window.insert(doc(n), doc(n), story(n, &[]), n as u64);
        }
        assert_eq!(window.len(), 5_000);
        assert!(window.bands.len() <= 5_000 * BANDS);
        assert!(window.similar(&story(1, &[])).is_empty());
    }

    #[test]
    fn a_window_of_no_documents_holds_none() {
        let mut window = StoryWindow::new(0, 0.5);
        window.insert(doc(1), doc(1), story(1, &[]), 1);
        assert!(window.is_empty());
    }
}
