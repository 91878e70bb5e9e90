//! Owns the notify side: builds the native (inotify/FSEvents/...) or polling watcher and
//! forwards its events into a bounded queue. The notify thread never blocks: when the queue
//! is full the event is dropped and an overflow flag asks the task for a full rescan instead.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use notify::{Config, PollWatcher, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, Notify};

/// One message from notify: an event or an error.
pub(super) type RawEvent = notify::Result<notify::Event>;

/// Flags shared between the notify callback, the `FolderWatcher` handle and the task.
#[derive(Debug, Default)]
pub(super) struct Signals {
    /// The event queue overflowed: events were lost, a full rescan is needed.
    pub overflow: AtomicBool,
    /// `request_rescan` was called.
    pub rescan: AtomicBool,
    /// Wakes the task when one of the flags above is set.
    pub wake: Notify,
}

impl Signals {
    pub(super) fn raise(&self, flag: &AtomicBool) {
        flag.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }

    pub(super) fn take(flag: &AtomicBool) -> bool {
        flag.swap(false, Ordering::SeqCst)
    }
}

/// The notify watcher, whichever kind was asked for.
pub(super) struct Backend {
    watcher: Box<dyn Watcher + Send>,
}

/// The shortest poll interval accepted (a zero interval would spin).
const MIN_POLL_INTERVAL: Duration = Duration::from_millis(10);

impl Backend {
    /// Build the watcher; its events go to `events`. `poll_interval: Some(_)` selects
    /// notify's `PollWatcher` (for network filesystems), `None` the platform's native API.
    pub(super) fn new(
        poll_interval: Option<Duration>,
        events: mpsc::Sender<RawEvent>,
        signals: Arc<Signals>,
    ) -> notify::Result<Backend> {
        let handler = move |event: RawEvent| match events.try_send(event) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => signals.raise(&signals.overflow),
            Err(TrySendError::Closed(_)) => {}
        };
        let config = Config::default().with_follow_symlinks(false);
        let watcher: Box<dyn Watcher + Send> = match poll_interval {
            Some(interval) => Box::new(PollWatcher::new(
                handler,
                config.with_poll_interval(interval.max(MIN_POLL_INTERVAL)),
            )?),
            None => Box::new(RecommendedWatcher::new(handler, config)?),
        };
        Ok(Backend { watcher })
    }

    /// Watch `root` and everything below it (folders created later included).
    pub(super) fn watch(&mut self, root: &Path) -> notify::Result<()> {
        self.watcher.watch(root, RecursiveMode::Recursive)
    }

    /// Stop watching `root` (errors such as "not watched" are the caller's to ignore).
    pub(super) fn unwatch(&mut self, root: &Path) -> notify::Result<()> {
        self.watcher.unwatch(root)
    }
}
