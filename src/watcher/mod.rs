//! Folder watching: owns the public API that turns watched folders into a stream of complete
//! files (`ReadyFile`), losing none. File events are hints; a scan is the truth.
//!
//! Layout: `backend` (notify → bounded queue), `task` (the one tokio task that owns all
//! state), `scan` (blocking walks and stats), `ignore` (hidden / temporary names, lookout's
//! own files), `identity` (which folder a root is), `error` (`WatchError`).
//!
//! How it works: the notify watcher is registered first, then the background task scans every
//! root. A file becomes ready when it is renamed into a folder, or closed after writing
//! (inotify `CLOSE_WRITE`). A file that file events show being written is *not* ready when it
//! goes quiet: its writer may only be pausing; it waits for its close (or a rename), and is read
//! anyway once unchanged for `open_file_timeout` (a writer that never closes). Where there
//! are no close events (the poll watcher, files found by a scan without events, after events
//! were lost), a file is ready when its size and mtime stopped changing for `quiet_period`.
//! A full rescan runs on queue overflow, on a watcher error, on a timer, on request, and (with
//! a backoff) while some entry cannot be read. A root that vanished or was replaced by another
//! folder (an unmounted share) is re-watched and rescanned when it is back. Every ready file
//! is sent with back-pressure (`Sender::send().await`), at most once per (path, size, mtime).

mod backend;
mod error;
mod identity;
mod ignore;
mod scan;
mod task;
#[cfg(test)]
mod tests;

use std::fs;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, DropGuard};
use tracing::{error, info};

use backend::{Backend, Signals};
pub use error::WatchError;
pub use identity::FolderIdentity;
pub use ignore::{is_ignored, OwnFiles};

/// How many notify events may wait for the task before the queue counts as overflowed
/// (which costs a full rescan, never a lost file).
const EVENT_QUEUE_CAPACITY: usize = 65_536;

/// What to watch and how.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// Folders to watch recursively. Each must exist when the watcher starts, unless
    /// `await_missing_roots`.
    pub roots: Vec<PathBuf>,
    /// A file whose size and mtime stayed unchanged this long is ready (default 250 ms).
    pub quiet_period: Duration,
    /// Full rescan on a timer (default 60 s); `Duration::ZERO` turns the timer off.
    pub rescan_interval: Duration,
    /// `Some(interval)` uses notify's `PollWatcher` (for network filesystems) instead of the
    /// native API; intervals below 10 ms are raised to 10 ms.
    pub poll_interval: Option<Duration>,
    /// A file that events show being written, and whose writer has not closed it, is sent
    /// anyway once unchanged this long (default 300 s).
    pub open_file_timeout: Duration,
    /// Paths never sent nor walked into (lookout's own files, when a root holds them).
    pub own_files: OwnFiles,
    /// A root missing at start is reported and watched once it appears (a share not mounted
    /// yet), instead of failing the start.
    pub await_missing_roots: bool,
}

impl Default for WatchOptions {
    fn default() -> WatchOptions {
        WatchOptions {
            roots: Vec::new(),
            quiet_period: Duration::from_millis(250),
            rescan_interval: Duration::from_secs(60),
            poll_interval: None,
            open_file_timeout: Duration::from_secs(300),
            own_files: OwnFiles::default(),
            await_missing_roots: false,
        }
    }
}

/// A complete file, ready to be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadyFile {
    /// The file's path: the root as configured (made absolute, symlinks not resolved)
    /// joined with the file's path below it.
    pub path: PathBuf,
    /// Its size in bytes when it was found ready (0 for empty files, which are emitted too).
    pub size: u64,
    /// Why it is considered complete.
    pub reason: ReadyReason,
}

/// Why a file was judged complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReadyReason {
    /// Found by the scan made when the watcher started (and unchanged for the quiet period).
    InitialScan,
    /// Found new or changed by a later full scan (timer, request, overflow, error, a root
    /// that came back), and unchanged for the quiet period.
    Rescan,
    /// Renamed into the folder, alone or inside a folder that was moved in.
    RenamedIn,
    /// Closed by a writer (inotify `CLOSE_WRITE`).
    ClosedAfterWrite,
    /// Its size and mtime stopped changing for the quiet period (also files found in a
    /// newly created folder), where no close event is to be expected.
    Settled,
    /// Written (file events said so) and never closed, but unchanged for the open-file
    /// timeout: read as it is.
    OpenTimeout,
}

/// A running watch over one or more folders. Dropping it stops the background task without
/// waiting for it; [`FolderWatcher::stop`] waits.
pub struct FolderWatcher {
    /// Stops the task; dropping it does too.
    shutdown: DropGuard,
    signals: Arc<Signals>,
    task: JoinHandle<()>,
}

impl FolderWatcher {
    /// Starts watching (watch first, then the initial scan). Ready files arrive on `ready_tx`,
    /// each at most once per (path, size, mtime) seen (so rescans do not re-send unchanged
    /// files; a file whose size or mtime changed is sent again). Returns once the watch is
    /// established: an error if a root does not exist or cannot be watched (naming the root),
    /// or if called outside a tokio runtime.
    ///
    /// Registering the watch is synchronous (for inotify it adds one watch per folder).
    pub fn start(
        options: WatchOptions,
        ready_tx: mpsc::Sender<ReadyFile>,
    ) -> Result<FolderWatcher, WatchError> {
        FolderWatcher::start_with_queue(options, ready_tx, EVENT_QUEUE_CAPACITY)
    }

    /// `start` with a chosen event queue size (tests use a tiny one to force overflows).
    fn start_with_queue(
        options: WatchOptions,
        ready_tx: mpsc::Sender<ReadyFile>,
        queue_capacity: usize,
    ) -> Result<FolderWatcher, WatchError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| WatchError::NoRuntime)?;
        if options.roots.is_empty() {
            return Err(WatchError::NoRoots);
        }
        let mut roots: Vec<PathBuf> = Vec::with_capacity(options.roots.len());
        for root in &options.roots {
            let root = match check_root(root) {
                Ok(root) => root,
                Err(WatchError::RootMissing { path }) if options.await_missing_roots => {
                    error!(root = %path.display(), "the watch folder is missing; it is watched as soon as it is back (its documents are kept)");
                    path
                }
                Err(error) => return Err(error),
            };
            if !roots.contains(&root) {
                roots.push(root);
            }
        }

        let signals = Arc::new(Signals::default());
        let (event_tx, event_rx) = mpsc::channel(queue_capacity.max(1));
        let mut backend = Backend::new(options.poll_interval, event_tx, Arc::clone(&signals))
            .map_err(|source| WatchError::Backend { source })?;
        for root in roots.iter().filter(|root| root.is_dir()) {
            backend.watch(root).map_err(|source| WatchError::Watch {
                path: root.clone(),
                source,
            })?;
            info!(root = %root.display(), "watching folder");
        }

        let shutdown = CancellationToken::new();
        // inotify reports the close of a written file; the poll watcher and other platforms'
        // APIs do not, so there a file is ready when it settles.
        let close_events = options.poll_interval.is_none() && cfg!(target_os = "linux");
        let own_files = options.own_files.for_roots(&roots);
        let state = task::Task::new(
            task::Settings {
                roots,
                quiet_period: options.quiet_period,
                rescan_interval: options.rescan_interval,
                open_file_timeout: options.open_file_timeout,
                close_events,
                own_files,
            },
            backend,
            event_rx,
            Arc::clone(&signals),
            ready_tx,
            shutdown.clone(),
        );
        let task = runtime.spawn(state.run());
        Ok(FolderWatcher {
            shutdown: shutdown.drop_guard(),
            signals,
            task,
        })
    }

    /// Stop watching and wait for the background task to end. A file that was being handed
    /// over when `stop` was called may not be delivered.
    pub async fn stop(self) {
        drop(self.shutdown);
        if let Err(err) = self.task.await {
            error!(error = %err, "folder watcher task failed");
        }
    }

    /// Ask for a full rescan now (e.g. after a downstream hiccup). Unchanged files already
    /// sent are not sent again.
    pub fn request_rescan(&self) {
        self.signals.raise(&self.signals.rescan);
    }
}

/// Make a root absolute (without resolving symlinks) and check it is an existing folder.
fn check_root(root: &std::path::Path) -> Result<PathBuf, WatchError> {
    let absolute = std::path::absolute(root).map_err(|source| WatchError::RootUnreadable {
        path: root.to_path_buf(),
        source,
    })?;
    match fs::metadata(&absolute) {
        Ok(meta) if meta.is_dir() => Ok(absolute),
        Ok(_) => Err(WatchError::NotADirectory { path: absolute }),
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            Err(WatchError::RootMissing { path: absolute })
        }
        Err(source) => Err(WatchError::RootUnreadable {
            path: absolute,
            source,
        }),
    }
}
