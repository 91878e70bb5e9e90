//! Copies of a story: the near-duplicate detection that lets a saved query alert once per
//! story instead of once per wire copy. A document's [`Fingerprint`] (MinHash of its body's word
//! shingles) is made beside its analysis by a worker; the one writer looks it up in the
//! [`StoryWindow`] of recent documents (LSH bands, then the whole fingerprint) and decides, in
//! order, which story it belongs to. The engine turns that into alerts or copy records
//! (`engine/documents.rs`); the ledger keeps each document's fingerprint and story. Search
//! collapses its hits by story with [`group_by_story`] (`collapse.rs`).

mod collapse;
mod fingerprint;
mod window;

pub use collapse::{group_by_story, page as story_page, StoryGroup};
pub use fingerprint::{
    hash_token, Fingerprint, HashedToken, FINGERPRINT_VERSION, MAX_STORED_LEN, MIN_SHINGLES,
};
pub use window::{Similar, StoryWindow, BAND_CAPACITY, BAND_ROWS, MAX_SIMILAR};
