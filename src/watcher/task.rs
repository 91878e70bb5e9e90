//! Owns the background task and all watcher state: files waiting to be ready (`pending`:
//! settling, or being written and waiting for their close), what was already sent (`sent`),
//! the health and identity of each root, what could not be read, and the scan / rescan
//! schedule. notify events only say where to look; every decision is made from a fresh `stat`
//! or scan.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{self, Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind, RenameMode};

use super::backend::{Backend, RawEvent, Signals};
use super::identity::FolderIdentity;
use super::ignore::OwnFiles;
use super::is_ignored;
use super::scan::{self, FolderScan, PathState, Stamp};
use super::{ReadyFile, ReadyReason};
use crate::lock::lock;

/// How often pending files are checked (at most; less if the quiet period is shorter).
const CHECK_INTERVAL: Duration = Duration::from_millis(50);
/// How often the roots are checked for having vanished or come back.
const ROOT_CHECK_INTERVAL: Duration = Duration::from_millis(500);
/// Rescans caused by watcher errors run at most this often (a poll watcher on a flaky share
/// can report errors on every poll).
const ERROR_RESCAN_GAP: Duration = Duration::from_secs(2);
/// Rescans caused by lost events run at most this often: during a burst that overflows the
/// queue, one rescan after another would only slow the catching up. The need is remembered.
const OVERFLOW_RESCAN_GAP: Duration = Duration::from_millis(250);
/// Most events handled in one batch.
const EVENT_BATCH: usize = 4096;
/// The first rescan after something could not be read comes this soon; each further one
/// waits twice as long, up to the rescan interval.
const UNREADABLE_RESCAN_FIRST: Duration = Duration::from_secs(1);
/// Most entries that could not be read kept for reporting each only once.
const UNREADABLE_REMEMBERED: usize = 10_000;

/// The task's configuration.
pub(super) struct Settings {
    pub roots: Vec<PathBuf>,
    pub quiet_period: Duration,
    pub rescan_interval: Duration,
    pub open_file_timeout: Duration,
    /// The backend reports closes of written files (inotify).
    pub close_events: bool,
    pub own_files: OwnFiles,
}

/// The task must end: stop was asked, or nobody receives ready files any more.
struct Stopped;

type Flow = Result<(), Stopped>;

/// A watched root.
struct Root {
    path: PathBuf,
    /// False while the folder is gone (reported once; it is re-watched when it comes back).
    present: bool,
    /// Which folder was watched (a share unmounted from its mount point, or a folder renamed
    /// away and re-created, is another one: re-watched and rescanned).
    identity: Option<FolderIdentity>,
}

/// A file that is not ready yet.
struct Pending {
    seen: Stamp,
    /// When it last changed (or was first seen).
    armed_at: Instant,
    reason: ReadyReason,
    /// File events showed a writer at work: ready on its close or a rename, not when it goes
    /// quiet (unless unchanged for the open-file timeout).
    writing: bool,
}

/// Why a folder is scanned, which decides how its files become ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScanPurpose {
    /// Startup: files settle, then go out as `InitialScan`.
    Initial,
    /// Full rescan or a root that came back: files settle, then go out as `Rescan`.
    Rescan,
    /// A folder created inside a root: its files settle, then go out as `Settled`.
    NewFolder,
    /// A folder renamed into a root: its files go out at once as `RenamedIn`.
    MovedFolder,
}

/// What the events of one batch say about one path (later events override earlier ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Last {
    Changed,
    Closed,
    RenamedIn,
    Gone,
}

#[derive(Debug, Clone, Copy)]
struct Hint {
    last: Last,
    /// A create event was seen (a folder created: scan it; an empty file created: a writer
    /// has it open).
    created: bool,
    /// A rename-in was seen (a folder moved in: its files are complete).
    renamed_in: bool,
    /// Data was written since the last close seen in this batch.
    wrote: bool,
    /// Some of these events were queued before events were lost (a close may be missing).
    before_loss: bool,
}

/// What one event says about a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    Created,
    Wrote,
    Changed,
    Closed,
    RenamedIn,
    Gone,
}

impl Hint {
    fn new() -> Hint {
        Hint {
            last: Last::Changed,
            created: false,
            renamed_in: false,
            wrote: false,
            before_loss: false,
        }
    }

    fn apply(&mut self, seen: Seen) {
        match seen {
            Seen::Gone => {
                *self = Hint {
                    last: Last::Gone,
                    before_loss: self.before_loss,
                    ..Hint::new()
                }
            }
            Seen::RenamedIn => {
                self.last = Last::RenamedIn;
                self.renamed_in = true;
            }
            Seen::Closed => {
                self.last = Last::Closed;
                self.wrote = false;
            }
            Seen::Created => {
                self.last = Last::Changed;
                self.created = true;
            }
            Seen::Wrote => {
                self.last = Last::Changed;
                self.wrote = true;
            }
            Seen::Changed => self.last = Last::Changed,
        }
    }
}

/// The hints of one batch, in the order paths were first seen.
#[derive(Default)]
struct Hints {
    order: Vec<PathBuf>,
    by_path: HashMap<PathBuf, Hint>,
}

impl Hints {
    fn add(&mut self, path: &Path, seen: Seen, trusted: bool) {
        if let Some(hint) = self.by_path.get_mut(path) {
            hint.apply(seen);
            hint.before_loss |= !trusted;
            return;
        }
        let mut hint = Hint::new();
        hint.apply(seen);
        hint.before_loss = !trusted;
        self.order.push(path.to_path_buf());
        self.by_path.insert(path.to_path_buf(), hint);
    }
}

pub(super) struct Task {
    roots: Vec<Root>,
    quiet_period: Duration,
    rescan_interval: Option<Duration>,
    open_file_timeout: Duration,
    close_events: bool,
    own_files: Arc<OwnFiles>,
    backend: Arc<Mutex<Backend>>,
    events: mpsc::Receiver<RawEvent>,
    events_open: bool,
    signals: Arc<Signals>,
    ready_tx: mpsc::Sender<ReadyFile>,
    shutdown: CancellationToken,
    pending: HashMap<PathBuf, Pending>,
    sent: HashMap<PathBuf, Stamp>,
    /// Events were lost (our queue or the kernel's overflowed): a rescan is owed.
    lost_events: bool,
    /// How many of the next events received were queued before events were lost: the writes
    /// they show may have been followed by a close that was lost, so they do not make a file
    /// wait for its close.
    events_before_loss: usize,
    /// A watcher error asked for a (throttled) rescan.
    rescan_after_error: bool,
    /// Folders created or moved in, to be scanned once more when their watch surely exists
    /// (notify adds it from its own thread, possibly after our first scan of the folder).
    folder_rescans: Vec<(PathBuf, Instant)>,
    /// Entries that could not be read at the last look (reported once each), and when to
    /// look again with a full rescan (backoff doubling up to the rescan interval).
    unreadable: HashSet<PathBuf>,
    unreadable_rescan: Option<(Instant, Duration)>,
    last_full_scan: Instant,
    next_root_check: Instant,
    next_pending_check: Instant,
}

impl Task {
    pub(super) fn new(
        settings: Settings,
        backend: Backend,
        events: mpsc::Receiver<RawEvent>,
        signals: Arc<Signals>,
        ready_tx: mpsc::Sender<ReadyFile>,
        shutdown: CancellationToken,
    ) -> Task {
        let now = Instant::now();
        Task {
            roots: settings
                .roots
                .into_iter()
                .map(|path| {
                    // A root missing at start (see `await_missing_roots`) is watched when it
                    // appears.
                    let identity = scan::root_identity(&path);
                    Root {
                        present: identity.is_some(),
                        identity,
                        path,
                    }
                })
                .collect(),
            quiet_period: settings.quiet_period,
            rescan_interval: Some(settings.rescan_interval).filter(|d| !d.is_zero()),
            open_file_timeout: settings.open_file_timeout.max(settings.quiet_period),
            close_events: settings.close_events,
            own_files: Arc::new(settings.own_files),
            backend: Arc::new(Mutex::new(backend)),
            events,
            events_open: true,
            signals,
            ready_tx,
            shutdown,
            pending: HashMap::new(),
            sent: HashMap::new(),
            lost_events: false,
            events_before_loss: 0,
            rescan_after_error: false,
            folder_rescans: Vec::new(),
            unreadable: HashSet::new(),
            unreadable_rescan: None,
            last_full_scan: now,
            next_root_check: now + ROOT_CHECK_INTERVAL,
            next_pending_check: now,
        }
    }

    /// The task body: initial scan, then events, ticks and signals until stopped.
    pub(super) async fn run(mut self) {
        if self.run_inner().await.is_err() {
            debug!("folder watcher task stopping");
        }
        // Dropping `self` drops the notify watcher, which stops its thread.
    }

    async fn run_inner(&mut self) -> Flow {
        self.full_scan(ScanPurpose::Initial).await?;
        let tick = CHECK_INTERVAL
            .min(self.quiet_period)
            .max(Duration::from_millis(5));
        let mut ticker = time::interval(tick);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut batch = Vec::with_capacity(EVENT_BATCH);
        loop {
            tokio::select! {
                biased;
                () = self.shutdown.cancelled() => return Err(Stopped),
                received = self.events.recv_many(&mut batch, EVENT_BATCH), if self.events_open => {
                    if received == 0 {
                        error!("file watcher stopped sending events; relying on rescans only");
                        self.events_open = false;
                        self.close_events = false;
                        self.events_lost();
                    } else {
                        let events = std::mem::take(&mut batch);
                        self.handle_events(events).await?;
                    }
                }
                _ = self.signals.wake.notified() => {}
                _ = ticker.tick() => {}
            }
            self.housekeeping().await?;
        }
    }

    /// Everything time- or flag-driven: root checks, rescans, settling pending files.
    async fn housekeeping(&mut self) -> Flow {
        let now = Instant::now();
        if now >= self.next_root_check {
            self.next_root_check = now + ROOT_CHECK_INTERVAL;
            self.check_roots().await?;
        }

        let mut why = None;
        if Signals::take(&self.signals.overflow) {
            self.events_lost();
            self.events_before_loss = self.events.len();
        }
        if self.lost_events && now >= self.last_full_scan + OVERFLOW_RESCAN_GAP {
            warn!("file events were lost (queue overflow); rescanning");
            why = Some("lost events");
        }
        if Signals::take(&self.signals.rescan) {
            why = Some("rescan requested");
        }
        if self.rescan_after_error && now >= self.last_full_scan + ERROR_RESCAN_GAP {
            why = Some("watcher error");
        }
        if self.unreadable_rescan.is_some_and(|(at, _)| now >= at) {
            why = Some("entries that could not be read");
        }
        if let Some(interval) = self.rescan_interval {
            if now >= self.last_full_scan + interval {
                why = Some("rescan timer");
            }
        }
        if let Some(why) = why {
            debug!(why, "full rescan");
            self.full_scan(ScanPurpose::Rescan).await?;
        }

        let now = Instant::now();
        if self.folder_rescans.iter().any(|(_, due)| now >= *due) {
            let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.folder_rescans)
                .into_iter()
                .partition(|(_, due)| now >= *due);
            self.folder_rescans = later;
            let folders = due
                .into_iter()
                .map(|(folder, _)| (folder, ScanPurpose::NewFolder))
                .collect();
            self.scan_new_folders(folders, false).await?;
        }

        let now = Instant::now();
        if now >= self.next_pending_check {
            self.next_pending_check = now + CHECK_INTERVAL.min(self.quiet_period);
            self.check_pending().await?;
        }
        Ok(())
    }

    // ---- events -------------------------------------------------------------------------

    async fn handle_events(&mut self, events: Vec<RawEvent>) -> Flow {
        if Signals::take(&self.signals.overflow) {
            // Dropped from our queue: everything queued until now came before the loss.
            self.events_lost();
            self.events_before_loss = events.len() + self.events.len();
        }
        // Events before the kernel's loss marker (an overflow) came before the loss too.
        let last_loss = events.iter().rposition(|event| {
            event
                .as_ref()
                .is_ok_and(|e| e.need_rescan() || e.paths.is_empty())
        });
        let before_loss = self.events_before_loss;
        self.events_before_loss = before_loss.saturating_sub(events.len());
        let mut hints = Hints::default();
        for (position, event) in events.into_iter().enumerate() {
            let trusted = position >= before_loss && last_loss.is_none_or(|last| position > last);
            match event {
                Ok(event) => self.collect_hints(&event, &mut hints, trusted),
                Err(err) => self.on_watcher_error(&err),
            }
        }

        let mut to_stat = Vec::new();
        for path in hints.order {
            let Some(hint) = hints.by_path.get(&path).copied() else {
                continue;
            };
            let Some(root_index) = self.root_of(&path) else {
                continue;
            };
            if path == self.roots[root_index].path {
                // The root itself was deleted or moved away (inotify DELETE_SELF / MOVE_SELF,
                // or the poll watcher seeing it vanish).
                if hint.last == Last::Gone {
                    self.root_vanished(root_index).await;
                }
                continue;
            }
            if hint.last == Last::Gone {
                self.forget(&path);
            } else {
                to_stat.push((path, hint));
            }
        }
        if to_stat.is_empty() {
            return Ok(());
        }

        let paths: Vec<PathBuf> = to_stat.iter().map(|(path, _)| path.clone()).collect();
        let Some(states) = blocking(move || scan::stat_all(paths)).await else {
            return Ok(());
        };
        let mut folders = Vec::new();
        let mut unreadable = false;
        let now = Instant::now();
        for ((path, hint), (_, state)) in to_stat.into_iter().zip(states) {
            match state {
                PathState::File(stamp) => match hint.last {
                    Last::Closed => {
                        self.pending.remove(&path);
                        self.emit(path, stamp, ReadyReason::ClosedAfterWrite)
                            .await?;
                    }
                    Last::RenamedIn => {
                        self.pending.remove(&path);
                        self.emit(path, stamp, ReadyReason::RenamedIn).await?;
                    }
                    Last::Changed | Last::Gone => {
                        // Written, or created and still empty: a writer has it open.
                        let writing = self.close_events
                            && !hint.before_loss
                            && (hint.wrote || (hint.created && stamp.size == 0));
                        self.arm(path, stamp, now, writing);
                    }
                },
                PathState::Dir => {
                    if hint.renamed_in {
                        folders.push((path, ScanPurpose::MovedFolder));
                    } else if hint.created {
                        folders.push((path, ScanPurpose::NewFolder));
                    }
                }
                PathState::Unreadable => {
                    self.pending.remove(&path);
                    unreadable = true;
                }
                PathState::Other | PathState::Missing => {
                    self.pending.remove(&path);
                }
            }
        }
        if unreadable {
            self.look_again_later();
        }
        self.scan_new_folders(folders, true).await
    }

    /// Turn one notify event into per-path hints; `trusted` is false for an event queued
    /// before events were lost.
    fn collect_hints(&mut self, event: &notify::Event, hints: &mut Hints, trusted: bool) {
        if event.need_rescan() || event.paths.is_empty() {
            debug!(kind = ?event.kind, "watcher reported lost events; will rescan");
            self.events_lost();
        }
        let seen = match event.kind {
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => Seen::Closed,
            // Opens and read-only closes (including our readers') say nothing.
            EventKind::Access(_) => return,
            EventKind::Create(_) => Seen::Created,
            EventKind::Modify(ModifyKind::Name(RenameMode::From)) | EventKind::Remove(_) => {
                Seen::Gone
            }
            EventKind::Modify(ModifyKind::Name(RenameMode::Both)) => {
                if let [from, to] = event.paths.as_slice() {
                    hints.add(from, Seen::Gone, trusted);
                    hints.add(to, Seen::RenamedIn, trusted);
                }
                return;
            }
            // `To`, and renames some backends cannot pair (`Any`, `Other`): the stat decides
            // whether the path is the new name (there) or the old one (gone).
            EventKind::Modify(ModifyKind::Name(_)) => Seen::RenamedIn,
            // Data written: a writer is at work until it closes the file.
            EventKind::Modify(ModifyKind::Data(_)) => Seen::Wrote,
            EventKind::Modify(_) => Seen::Changed,
            // Unknown kinds: look, and scan it if it is a folder.
            EventKind::Any | EventKind::Other => Seen::Created,
        };
        for path in &event.paths {
            hints.add(path, seen, trusted);
        }
    }

    /// Events were lost (a queue overflowed, or the watcher stopped): a rescan is owed, and a
    /// close event may have been among those lost, so the files waiting for one fall back to
    /// the quiet period.
    fn events_lost(&mut self) {
        self.lost_events = true;
        let now = Instant::now();
        for pending in self.pending.values_mut().filter(|p| p.writing) {
            pending.writing = false;
            pending.armed_at = now;
        }
    }

    fn on_watcher_error(&mut self, err: &notify::Error) {
        let paths: Vec<String> = err.paths.iter().map(|p| p.display().to_string()).collect();
        match &err.kind {
            notify::ErrorKind::MaxFilesWatch => {
                error!(
                    error = %err,
                    "file watch limit reached (raise fs.inotify.max_user_watches); new folders \
                     may only be noticed by the periodic rescan"
                );
            }
            notify::ErrorKind::PathNotFound => {
                debug!(paths = ?paths, "watched path vanished");
                return;
            }
            notify::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::NotFound => {
                debug!(paths = ?paths, "watched path vanished");
                return;
            }
            _ => warn!(error = %err, paths = ?paths, "file watcher error; will rescan"),
        }
        self.rescan_after_error = true;
    }

    /// A file changed (or appeared): (re)start its quiet timer; `writing` when events show a
    /// writer at work (then it waits for the close).
    fn arm(&mut self, path: PathBuf, stamp: Stamp, now: Instant, writing: bool) {
        if let Some(pending) = self.pending.get_mut(&path) {
            pending.seen = stamp;
            pending.armed_at = now;
            pending.writing |= writing;
            return;
        }
        if !writing && self.sent.get(&path) == Some(&stamp) {
            return; // e.g. a chmod: nothing new to send
        }
        self.pending.insert(
            path,
            Pending {
                seen: stamp,
                armed_at: now,
                reason: ReadyReason::Settled,
                writing,
            },
        );
    }

    /// A path (file or folder) was deleted or moved away: drop what we knew about it.
    /// No deletion is emitted in this version.
    fn forget(&mut self, path: &Path) {
        let was_sent = self.sent.remove(path).is_some();
        let was_pending = self.pending.remove(path).is_some();
        if !was_sent && !was_pending {
            // Perhaps a folder: forget everything below it.
            self.sent.retain(|p, _| !p.starts_with(path));
            self.pending.retain(|p, _| !p.starts_with(path));
        }
    }

    /// Scan folders that were created or moved in (the watch on them may have come after
    /// their first files). Nested folders are covered by their outermost ancestor. With
    /// `again`, each is scheduled for one more scan after the quiet period.
    async fn scan_new_folders(
        &mut self,
        mut folders: Vec<(PathBuf, ScanPurpose)>,
        again: bool,
    ) -> Flow {
        // Sorted, an ancestor comes before the folders below it.
        folders.sort_by(|a, b| a.0.cmp(&b.0));
        let mut covered: HashSet<PathBuf> = HashSet::new();
        let mut kept: Vec<(PathBuf, ScanPurpose)> = Vec::new();
        for (folder, purpose) in folders {
            if folder.ancestors().any(|a| covered.contains(a)) {
                continue;
            }
            covered.insert(folder.clone());
            kept.push((folder, purpose));
        }
        for (folder, purpose) in kept {
            let Some(root_index) = self.root_of(&folder) else {
                continue;
            };
            let root = self.roots[root_index].path.clone();
            let walk_root = root.clone();
            let walk_folder = folder.clone();
            let own = Arc::clone(&self.own_files);
            let Some(mut found) =
                blocking(move || scan::scan_folder(&walk_root, &walk_folder, &own)).await
            else {
                continue;
            };
            debug!(folder = %folder.display(), files = found.files.len(), ?purpose, "scanned new folder");
            self.note_unreadable(std::mem::take(&mut found.errors), false);
            if again && !found.folder_missing {
                let due = Instant::now() + self.quiet_period;
                self.folder_rescans.push((folder, due));
            }
            self.take_scan(found, purpose).await?;
        }
        Ok(())
    }

    // ---- scans --------------------------------------------------------------------------

    /// Scan every present root.
    async fn full_scan(&mut self, purpose: ScanPurpose) -> Flow {
        self.rescan_after_error = false;
        self.lost_events = false;
        self.last_full_scan = Instant::now();
        let mut errors = Vec::new();
        for index in 0..self.roots.len() {
            if self.roots[index].present {
                errors.extend(self.scan_root(index, purpose).await?);
            }
        }
        self.note_unreadable(errors, true);
        Ok(())
    }

    /// Scan one root; returns the entries that could not be read.
    async fn scan_root(
        &mut self,
        index: usize,
        purpose: ScanPurpose,
    ) -> Result<Vec<(PathBuf, String)>, Stopped> {
        let root = self.roots[index].path.clone();
        let walk_root = root.clone();
        let own = Arc::clone(&self.own_files);
        let Some(mut found) =
            blocking(move || scan::scan_folder(&walk_root, &walk_root, &own)).await
        else {
            return Ok(Vec::new());
        };
        if found.folder_missing {
            self.root_vanished(index).await;
            return Ok(Vec::new());
        }
        let errors = std::mem::take(&mut found.errors);
        debug!(root = %root.display(), files = found.files.len(), errors = errors.len(), "scanned watch folder");
        // Forget sent files that are gone (their remove event may have been lost), so the
        // map does not grow forever. Nothing is emitted during the walk, so every entry
        // predates it.
        let seen: HashSet<&Path> = found.files.iter().map(|(p, _)| p.as_path()).collect();
        self.sent
            .retain(|path, _| !path.starts_with(&root) || seen.contains(path.as_path()));
        self.take_scan(found, purpose).await?;
        Ok(errors)
    }

    /// A path could not be looked at (a folder on its way cannot be searched for now): a
    /// rescan looks again, soon, then with the backoff of `note_unreadable`.
    fn look_again_later(&mut self) {
        if self.unreadable_rescan.is_none() {
            let gap = UNREADABLE_RESCAN_FIRST
                .min(self.rescan_interval.unwrap_or(Duration::from_secs(60)));
            self.unreadable_rescan = Some((Instant::now() + gap, gap));
        }
    }

    /// Entries that could not be read (a folder without permission, an I/O error): each is
    /// reported once while it stays unreadable, and a full rescan is scheduled with a backoff
    /// (1 s, doubling up to the rescan interval) until none is left. `complete` when the
    /// list covers every root (a full scan): entries not in it are readable again.
    fn note_unreadable(&mut self, errors: Vec<(PathBuf, String)>, complete: bool) {
        if complete {
            let now_readable = self
                .unreadable
                .iter()
                .filter(|p| !errors.iter().any(|(e, _)| e == *p))
                .count();
            if now_readable > 0 {
                info!(
                    entries = now_readable,
                    "entries of the watch folder that could not be read can be read again"
                );
            }
            self.unreadable
                .retain(|p| errors.iter().any(|(e, _)| e == p));
        }
        if errors.is_empty() {
            if complete {
                self.unreadable_rescan = None;
            }
            return;
        }
        for (path, error) in errors {
            if self.unreadable.contains(&path) {
                debug!(path = %path.display(), %error, "still cannot read entry of the watch folder");
                continue;
            }
            warn!(
                path = %path.display(),
                %error,
                "cannot read this entry of the watch folder; it is looked at again by rescans until it can be read"
            );
            if self.unreadable.len() < UNREADABLE_REMEMBERED {
                self.unreadable.insert(path);
            }
        }
        let cap = self.rescan_interval.unwrap_or(Duration::from_secs(60));
        let gap = match self.unreadable_rescan {
            // Already scheduled by an earlier failure since the last full scan.
            Some(scheduled) if !complete => {
                self.unreadable_rescan = Some(scheduled);
                return;
            }
            Some((_, gap)) => (gap * 2).min(cap),
            None => UNREADABLE_RESCAN_FIRST.min(cap),
        };
        self.unreadable_rescan = Some((Instant::now() + gap, gap));
    }

    /// Feed scan results into the state: unknown or changed files start settling (or, for a
    /// folder moved in, are ready at once); files already sent unchanged are skipped.
    async fn take_scan(&mut self, found: FolderScan, purpose: ScanPurpose) -> Flow {
        let reason = match purpose {
            ScanPurpose::Initial => ReadyReason::InitialScan,
            ScanPurpose::Rescan => ReadyReason::Rescan,
            ScanPurpose::NewFolder => ReadyReason::Settled,
            ScanPurpose::MovedFolder => ReadyReason::RenamedIn,
        };
        let now = Instant::now();
        for (path, stamp) in found.files {
            if self.sent.get(&path) == Some(&stamp) || self.pending.contains_key(&path) {
                continue;
            }
            if purpose == ScanPurpose::MovedFolder {
                self.emit(path, stamp, reason).await?;
            } else {
                self.pending.insert(
                    path,
                    Pending {
                        seen: stamp,
                        armed_at: now,
                        reason,
                        writing: false,
                    },
                );
            }
        }
        Ok(())
    }

    /// Files whose quiet period (or, for files being written, the open-file timeout) has
    /// passed: emit those still unchanged, re-arm the others.
    async fn check_pending(&mut self) -> Flow {
        let now = Instant::now();
        let (quiet, open_timeout) = (self.quiet_period, self.open_file_timeout);
        let due: Vec<PathBuf> = self
            .pending
            .iter()
            .filter(|(_, p)| {
                let wait = if p.writing { open_timeout } else { quiet };
                now.saturating_duration_since(p.armed_at) >= wait
            })
            .map(|(path, _)| path.clone())
            .collect();
        if due.is_empty() {
            return Ok(());
        }
        let Some(states) = blocking(move || scan::stat_all(due)).await else {
            return Ok(());
        };
        let now = Instant::now();
        let mut unreadable = false;
        for (path, state) in states {
            let Some(pending) = self.pending.get_mut(&path) else {
                continue;
            };
            match state {
                PathState::File(stamp) if stamp == pending.seen => {
                    let reason = if pending.writing {
                        warn!(
                            file = %path.display(),
                            "written but not closed, and unchanged for {} s: reading it as it is                              (a writer should close the file, or write it under a temporary name and rename it)",
                            self.open_file_timeout.as_secs()
                        );
                        ReadyReason::OpenTimeout
                    } else {
                        pending.reason
                    };
                    self.pending.remove(&path);
                    self.emit(path, stamp, reason).await?;
                }
                PathState::File(stamp) => {
                    pending.seen = stamp;
                    pending.armed_at = now;
                }
                PathState::Unreadable => {
                    self.pending.remove(&path);
                    unreadable = true;
                }
                PathState::Dir | PathState::Other | PathState::Missing => {
                    self.pending.remove(&path);
                }
            }
        }
        if unreadable {
            self.look_again_later();
        }
        Ok(())
    }

    // ---- roots --------------------------------------------------------------------------

    /// The root a path belongs to, if it is under a present root, not ignored and not one of
    /// lookout's own files.
    fn root_of(&self, path: &Path) -> Option<usize> {
        self.roots.iter().position(|root| {
            root.present
                && path
                    .strip_prefix(&root.path)
                    .is_ok_and(|relative| !is_ignored(relative))
                && !self.own_files.contains(path)
        })
    }

    /// Notice roots that vanished (including ones whose parent moved, which sends no event)
    /// or were replaced by another folder (a share unmounted from its mount point, a folder
    /// renamed away and re-created: the old watch sees nothing of the new folder), and
    /// re-watch and rescan roots that came back.
    async fn check_roots(&mut self) -> Flow {
        let paths: Vec<PathBuf> = self.roots.iter().map(|r| r.path.clone()).collect();
        let Some(identities) = blocking(move || {
            paths
                .iter()
                .map(|p| scan::root_identity(p))
                .collect::<Vec<Option<FolderIdentity>>>()
        })
        .await
        else {
            return Ok(());
        };
        for (index, identity) in identities.into_iter().enumerate() {
            let present = self.roots[index].present;
            match identity {
                None if present => self.root_vanished(index).await,
                None => {}
                Some(identity) if present && self.roots[index].identity != Some(identity) => {
                    info!(
                        root = %self.roots[index].path.display(),
                        "the watch folder is another folder now (an unmounted or remounted share, or a folder re-created under its name); watching it anew"
                    );
                    self.unwatch_root(index).await;
                    self.root_back(index, identity).await?;
                }
                Some(_) if present => {}
                Some(identity) => self.root_back(index, identity).await?,
            }
        }
        Ok(())
    }

    /// A root is there (again, or as another folder): watch it and rescan it, sending every
    /// file again (their content decides what is new; the folder may have changed while away).
    async fn root_back(&mut self, index: usize, identity: FolderIdentity) -> Flow {
        let path = self.roots[index].path.clone();
        let backend = Arc::clone(&self.backend);
        let watch_path = path.clone();
        let watched = blocking(move || lock(&backend).watch(&watch_path)).await;
        match watched {
            Some(Ok(())) => {
                if !self.roots[index].present {
                    info!(root = %path.display(), "watch folder is back; watching and rescanning it");
                }
                self.roots[index].present = true;
                self.roots[index].identity = Some(identity);
                self.sent.retain(|p, _| !p.starts_with(&path));
                self.pending.retain(|p, _| !p.starts_with(&path));
                let errors = self.scan_root(index, ScanPurpose::Rescan).await?;
                self.note_unreadable(errors, false);
            }
            Some(Err(err)) => {
                // Tried again at the next check.
                self.roots[index].present = false;
                debug!(root = %path.display(), error = %err, "watch folder is back but cannot be watched yet");
            }
            None => {}
        }
        Ok(())
    }

    /// A root is gone: report it (once), stop watching it, wait for it to come back. This is
    /// not a mass delete: nothing is emitted; when it is back, its files are all sent again
    /// and their content decides what is new.
    async fn root_vanished(&mut self, index: usize) {
        if !self.roots[index].present {
            return;
        }
        self.roots[index].present = false;
        let path = self.roots[index].path.clone();
        error!(
            root = %path.display(),
            "watch folder vanished; it will be watched again when it comes back"
        );
        self.pending.retain(|p, _| !p.starts_with(&path));
        self.unwatch_root(index).await;
    }

    /// Drop the notify watch of a root (it fails harmlessly when notify already dropped it,
    /// e.g. after inotify's `DELETE_SELF`).
    async fn unwatch_root(&mut self, index: usize) {
        let backend = Arc::clone(&self.backend);
        let unwatch_path = self.roots[index].path.clone();
        let _ = blocking(move || lock(&backend).unwatch(&unwatch_path)).await;
    }

    // ---- output -------------------------------------------------------------------------

    /// Send a ready file unless this exact version was already sent. Waits for room in the
    /// channel (back-pressure) but gives up when the watcher is stopped.
    async fn emit(&mut self, path: PathBuf, stamp: Stamp, reason: ReadyReason) -> Flow {
        if self.sent.get(&path) == Some(&stamp) {
            return Ok(());
        }
        // Tests inject a bug into the watcher here (FAILPOINTS=watcher::emit=1*panic).
        fail::fail_point!("watcher::emit");
        let file = ReadyFile {
            path: path.clone(),
            size: stamp.size,
            reason,
        };
        debug!(path = %path.display(), size = stamp.size, ?reason, "file ready");
        tokio::select! {
            biased;
            () = self.shutdown.cancelled() => return Err(Stopped),
            sent = self.ready_tx.send(file) => {
                if sent.is_err() {
                    debug!("ready-file receiver dropped");
                    return Err(Stopped);
                }
            }
        }
        self.sent.insert(path, stamp);
        Ok(())
    }
}

/// Run blocking filesystem work off the runtime's worker threads.
async fn blocking<T, F>(work: F) -> Option<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => Some(value),
        Err(err) => {
            error!(error = %err, "blocking filesystem task failed");
            None
        }
    }
}
