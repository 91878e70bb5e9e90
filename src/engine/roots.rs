//! Owns the health of the watch folders as deletions see it, so that a folder that vanished, was
//! replaced by another one (an unmounted share leaves its empty mount point behind; a folder
//! renamed away and re-created) or was emptied all at once is never taken for the deletion of
//! every file it held. Deletions under such a folder are held until it is back; a folder that
//! is another one but holds most of the files lookout knows there is accepted as the folder.
//!
//! A folder's identity (device and inode) is kept in the ledger's `meta` table, so a share that
//! is not mounted when lookout starts is recognized too.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::read::is_gone;
use crate::ledger::{Ledger, LedgerError};
use crate::watcher::{is_ignored, FolderIdentity};

/// The `meta` key prefix under which a watch folder's identity is kept.
const IDENTITY_KEY: &str = "watch_folder_identity:";
/// How many of the files known under a folder are looked for to decide that a folder with
/// another identity is the same folder (holding most of them: moved to another disk) or a
/// replacement (holding few or none: an empty mount point, even with a file dropped in it).
const SAMPLE: usize = 64;
/// A folder found empty while the ledger knows at least this many files there is taken as
/// emptied all at once (an unmount), not as the deletion of its last file.
const EMPTIED_MIN_KNOWN: usize = 2;

/// Why deletions under a watch folder are held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hold {
    Missing,
    Unreadable { error: String },
    Replaced,
    Emptied,
}

impl Hold {
    /// The one-word state `lookout status` shows.
    pub fn state(&self) -> &'static str {
        match self {
            Hold::Missing => "missing",
            Hold::Unreadable { .. } => "unreadable",
            Hold::Replaced => "replaced",
            Hold::Emptied => "emptied",
        }
    }
}

impl std::fmt::Display for Hold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Hold::Missing => f.write_str("is missing"),
            Hold::Unreadable { error } => write!(f, "cannot be read ({error})"),
            Hold::Replaced => f.write_str(
                "is another folder now (its device or inode changed: an unmounted share, or a \
                 folder re-created under its name) and most of the files lookout processed there \
                 are not in it",
            ),
            Hold::Emptied => f.write_str(
                "is empty while lookout processed files there (an unmounted share?); if it was \
                 emptied on purpose, deletions resume once a file is in it again",
            ),
        }
    }
}

/// A watch folder as `lookout status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchFolderHealth {
    pub path: String,
    /// `ok`, or why deletions there are held: `missing`, `unreadable`, `replaced`, `emptied`.
    pub state: String,
    /// What is wrong, in words, when something is.
    pub detail: Option<String>,
}

/// What a look at one watch folder found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The folder is there and is the one lookout knows (or, if it is another one, it holds
    /// most of the files lookout knows there, or lookout knows none): deletions are real.
    Sound(FolderIdentity),
    Held(Hold),
}

fn identity_key(folder: &Path) -> String {
    format!("{IDENTITY_KEY}{}", folder.display())
}

/// The identity accepted for `folder` the last time it was sound.
pub fn accepted_identity(
    ledger: &Ledger,
    folder: &Path,
) -> Result<Option<FolderIdentity>, LedgerError> {
    Ok(ledger
        .meta(&identity_key(folder))?
        .as_deref()
        .and_then(FolderIdentity::parse))
}

/// Look at `folder` now, against the identity accepted before and the files the ledger knows
/// under it. Reads only (the folder's metadata, its top-level names, a few known files).
pub fn judge(
    folder: &Path,
    accepted: Option<FolderIdentity>,
    ledger: &Ledger,
) -> Result<Verdict, LedgerError> {
    let identity = match FolderIdentity::of_folder(folder) {
        Ok(Some(identity)) => identity,
        Ok(None) => return Ok(Verdict::Held(Hold::Missing)),
        Err(error) => {
            return Ok(Verdict::Held(Hold::Unreadable {
                error: error.to_string(),
            }))
        }
    };
    let known = ledger.files_under(folder, SAMPLE)?;
    if accepted.is_some_and(|accepted| accepted != identity) && !known.is_empty() {
        let present = known
            .iter()
            .filter(|path| !is_gone(Path::new(path)))
            .count();
        if present * 2 < known.len() {
            return Ok(Verdict::Held(Hold::Replaced));
        }
    }
    if known.len() >= EMPTIED_MIN_KNOWN {
        match holds_nothing(folder) {
            Ok(true) => return Ok(Verdict::Held(Hold::Emptied)),
            Ok(false) => {}
            Err(error) => {
                return Ok(Verdict::Held(Hold::Unreadable {
                    error: error.to_string(),
                }))
            }
        }
    }
    Ok(Verdict::Sound(identity))
}

/// True when `folder` has no entry but hidden or temporary names.
fn holds_nothing(folder: &Path) -> std::io::Result<bool> {
    for entry in std::fs::read_dir(folder)? {
        if !is_ignored(Path::new(&entry?.file_name())) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Every configured watch folder's health, read from the folders and the ledger.
pub fn health(folders: &[PathBuf], ledger: &Ledger) -> Result<Vec<WatchFolderHealth>, LedgerError> {
    folders
        .iter()
        .map(|folder| {
            let verdict = judge(folder, accepted_identity(ledger, folder)?, ledger)?;
            Ok(match verdict {
                Verdict::Sound(_) => WatchFolderHealth {
                    path: folder.display().to_string(),
                    state: "ok".into(),
                    detail: None,
                },
                Verdict::Held(hold) => WatchFolderHealth {
                    path: folder.display().to_string(),
                    state: hold.state().into(),
                    detail: Some(format!("{hold}; deletions there are held")),
                },
            })
        })
        .collect()
}

/// A watch folder found sound, with the identity it had then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoundFolder {
    pub path: PathBuf,
    pub identity: FolderIdentity,
}

struct Watched {
    path: PathBuf,
    hold: Option<Hold>,
}

/// The watch folders the reconcile works on, with what was last reported about each.
pub struct WatchFolders {
    folders: Vec<Watched>,
}

impl WatchFolders {
    pub fn new(paths: &[PathBuf]) -> WatchFolders {
        WatchFolders {
            folders: paths
                .iter()
                .map(|path| Watched {
                    path: path.clone(),
                    hold: None,
                })
                .collect(),
        }
    }

    /// The watch folders.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.folders.iter().map(|f| f.path.clone()).collect()
    }

    /// Judge every folder; report a folder whose deletions become held (once, until that
    /// changes) or released; record the identity of the sound ones. Returns the sound ones.
    pub fn assess(&mut self, ledger: &mut Ledger) -> Result<Vec<SoundFolder>, LedgerError> {
        let mut sound = Vec::new();
        for folder in &mut self.folders {
            let accepted = accepted_identity(ledger, &folder.path)?;
            match judge(&folder.path, accepted, ledger)? {
                Verdict::Sound(identity) => {
                    if folder.hold.take().is_some() {
                        tracing::info!(folder = %folder.path.display(), "the watch folder is back; deletions there are handled again");
                    }
                    if accepted != Some(identity) {
                        if accepted.is_some() {
                            tracing::info!(folder = %folder.path.display(), "the watch folder is another folder now, holding most of the files lookout knows there: it is taken as the watch folder");
                        }
                        ledger.set_meta(&identity_key(&folder.path), &identity.to_text())?;
                    }
                    sound.push(SoundFolder {
                        path: folder.path.clone(),
                        identity,
                    });
                }
                Verdict::Held(hold) => {
                    if folder.hold.as_ref() != Some(&hold) {
                        let path = folder.path.display();
                        match hold {
                            // The watcher reports a missing folder as an error already.
                            Hold::Missing => tracing::warn!(
                                "the watch folder {path} {hold}; deletions there are held until it is back (its documents stay searchable)"
                            ),
                            _ => tracing::error!(
                                "the watch folder {path} {hold}; deletions there are held until it is back (its documents stay searchable)"
                            ),
                        }
                        folder.hold = Some(hold);
                    }
                }
            }
        }
        Ok(sound)
    }

    /// The folders of `sound` that are still the same folders (a share can go away while the
    /// reconcile walks it).
    pub fn still_sound(sound: &[SoundFolder]) -> Vec<PathBuf> {
        sound
            .iter()
            .filter(|folder| {
                FolderIdentity::of_folder(&folder.path)
                    .ok()
                    .flatten()
                    .is_some_and(|now| now == folder.identity)
            })
            .map(|folder| folder.path.clone())
            .collect()
    }
}
