//! Owns `WatchError`: everything that can stop `FolderWatcher::start`, each naming the path
//! (or the missing runtime) involved.

use std::io;
use std::path::PathBuf;

/// Why a [`FolderWatcher`](super::FolderWatcher) could not be started.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// `start` was called outside a tokio runtime (it spawns its background task there).
    #[error("the folder watcher must be started from within a tokio runtime")]
    NoRuntime,
    /// `WatchOptions::roots` was empty.
    #[error("no watch folder configured")]
    NoRoots,
    /// A root does not exist.
    #[error("watch folder {} does not exist", path.display())]
    RootMissing { path: PathBuf },
    /// A root exists but is not a directory.
    #[error("watch folder {} is not a directory", path.display())]
    NotADirectory { path: PathBuf },
    /// A root could not be inspected (permissions, I/O error, unusable path).
    #[error("cannot read watch folder {}: {source}", path.display())]
    RootUnreadable {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The notify backend could not be created.
    #[error("cannot create the file watcher: {source}")]
    Backend {
        #[source]
        source: notify::Error,
    },
    /// The notify backend refused to watch a root (e.g. the inotify watch limit was reached).
    #[error("cannot watch folder {}: {source}", path.display())]
    Watch {
        path: PathBuf,
        #[source]
        source: notify::Error,
    },
}
