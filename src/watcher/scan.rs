//! Owns the blocking filesystem reads: walking a folder (walkdir, symlinks never followed,
//! ignored names pruned) and stat'ing single paths. Everything here blocks; the watcher task
//! calls it through `spawn_blocking`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use tracing::debug;
use walkdir::WalkDir;

use super::identity::FolderIdentity;
use super::ignore::{is_ignored_name, OwnFiles};

/// What identifies one version of a file: its size and modification time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stamp {
    pub size: u64,
    pub mtime: Option<SystemTime>,
}

impl Stamp {
    fn of(meta: &fs::Metadata) -> Stamp {
        Stamp {
            size: meta.len(),
            mtime: meta.modified().ok(),
        }
    }
}

/// What a path is right now (symlinks are not followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PathState {
    File(Stamp),
    Dir,
    /// A symlink, fifo, socket or device.
    Other,
    /// It could not be looked at (a folder on its path cannot be searched, an I/O error): it
    /// may be there, so a rescan must look again later.
    Unreadable,
    Missing,
}

/// `lstat` one path.
pub(super) fn stat(path: &Path) -> PathState {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() => PathState::File(Stamp::of(&meta)),
        Ok(meta) if meta.is_dir() => PathState::Dir,
        Ok(_) => PathState::Other,
        Err(err)
            if matches!(
                err.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            PathState::Missing
        }
        Err(err) => {
            debug!(path = %path.display(), error = %err, "cannot stat path");
            PathState::Unreadable
        }
    }
}

/// `lstat` many paths at once.
pub(super) fn stat_all(paths: Vec<PathBuf>) -> Vec<(PathBuf, PathState)> {
    paths
        .into_iter()
        .map(|path| {
            let state = stat(&path);
            (path, state)
        })
        .collect()
}

/// Which folder the watch folder is now, if it is there (the root may be a symlink to a
/// folder: it is followed). An error counts as not there.
pub(super) fn root_identity(root: &Path) -> Option<FolderIdentity> {
    FolderIdentity::of_folder(root).ok().flatten()
}

/// The regular files found under one folder.
#[derive(Debug, Default)]
pub(super) struct FolderScan {
    pub files: Vec<(PathBuf, Stamp)>,
    /// The folder itself was not there (or not a folder) when the walk started.
    pub folder_missing: bool,
    /// Entries that could not be read, with the error; their files may be missing from
    /// `files`. (The task reports them, once each.)
    pub errors: Vec<(PathBuf, String)>,
}

/// Walk `folder` (the root itself or a folder below it) and list its regular files.
/// Symlinks are never followed (except a root that is itself a symlink) and are not listed;
/// hidden / temporary names and lookout's own files are pruned, folders included. The caller
/// checks that `folder`'s own path below `root` is not ignored.
pub(super) fn scan_folder(root: &Path, folder: &Path, own: &OwnFiles) -> FolderScan {
    let mut scan = FolderScan::default();
    let folder_meta = if folder == root {
        fs::metadata(folder)
    } else {
        fs::symlink_metadata(folder)
    };
    if !folder_meta.map(|meta| meta.is_dir()).unwrap_or(false) {
        scan.folder_missing = true;
        return scan;
    }
    let walker = WalkDir::new(folder)
        .follow_links(false)
        .into_iter()
        .filter_entry(|entry| {
            entry.depth() == 0
                || !(is_ignored_name(entry.file_name()) || own.contains(entry.path()))
        });
    for entry in walker {
        match entry {
            Ok(entry) => {
                if !entry.file_type().is_file() {
                    continue;
                }
                match entry.metadata() {
                    Ok(meta) => scan.files.push((entry.into_path(), Stamp::of(&meta))),
                    Err(err) => note_walk_error(&mut scan, &err),
                }
            }
            Err(err) => note_walk_error(&mut scan, &err),
        }
    }
    scan
}

fn note_walk_error(scan: &mut FolderScan, err: &walkdir::Error) {
    let path = err.path().map(Path::to_path_buf).unwrap_or_default();
    let vanished = err
        .io_error()
        .is_some_and(|io| io.kind() == io::ErrorKind::NotFound);
    if vanished {
        // Deleted between listing and reading: not an error, just churn.
        debug!(path = %path.display(), "entry vanished during scan");
    } else {
        let error = match err.io_error() {
            Some(io) => io.to_string(),
            None => err.to_string(),
        };
        scan.errors.push((path, error));
    }
}
