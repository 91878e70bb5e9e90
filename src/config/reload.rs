//! Hot reload of the configuration: what differs between the running config and the one just
//! read (`diff`: what can be applied live, what needs a restart), noticing that the config
//! file or a queries file changed (`ConfigWatcher`), and which files a configuration names
//! even when it does not load (`files_named`), so that a refused edit is tried again when the
//! file it needs appears.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use notify::event::{AccessKind, AccessMode, ModifyKind};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::mpsc::Sender;

use super::{Config, ConfigError, QuerySpec};
use crate::lock::lock;

/// What changed between two configs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigDiff {
    /// Queries whose name is new, in the new config's order.
    pub added: Vec<QuerySpec>,
    /// Queries whose text or webhooks changed (as they are now), in the new config's order.
    pub changed: Vec<QuerySpec>,
    /// Names of the queries that are gone, in the old config's order.
    pub removed: Vec<String>,
    /// The `[[webhooks]]` differ (added, removed or any setting changed).
    pub webhooks_changed: bool,
    /// The config keys that changed but only take effect after a restart (`watch`, `index`,
    /// `alert_log`, `state_dir`, `poll_interval_ms`, `rescan_interval_s`,
    /// `open_file_timeout_s`, `commit_interval_ms`, `api`).
    pub needs_restart: Vec<&'static str>,
}

impl ConfigDiff {
    /// Some query was added, changed or removed.
    pub fn queries_changed(&self) -> bool {
        !(self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty())
    }
}

/// Compare the running config with a new one. Queries compare by name (a query that only moved
/// to another file is not changed). Queries, webhooks, `on_delete`, `max_file_size` and
/// `[json]` can be applied live (the last three are simply taken from `new`); every other
/// difference is listed in `needs_restart`.
pub fn diff(old: &Config, new: &Config) -> ConfigDiff {
    let old_queries: HashMap<&str, &QuerySpec> =
        old.queries.iter().map(|q| (&*q.name, q)).collect();
    let new_names: std::collections::HashSet<&str> = new.queries.iter().map(|q| &*q.name).collect();
    let mut out = ConfigDiff::default();
    for query in &new.queries {
        match old_queries.get(&*query.name) {
            None => out.added.push(query.clone()),
            Some(before)
                if before.text != query.text
                    || before.duplicates != query.duplicates
                    || !before.routes_like(query) =>
            {
                out.changed.push(query.clone())
            }
            Some(_) => {}
        }
    }
    out.removed = old
        .queries
        .iter()
        .filter(|q| !new_names.contains(&*q.name))
        .map(|q| q.name.to_string())
        .collect();
    out.webhooks_changed = old.webhooks != new.webhooks || old.emails != new.emails;
    let restart = [
        ("watch", old.watch != new.watch),
        ("index", old.index != new.index),
        ("alert_log", old.alert_log != new.alert_log),
        ("state_dir", old.state_dir != new.state_dir),
        ("poll_interval_ms", old.poll_interval != new.poll_interval),
        (
            "rescan_interval_s",
            old.rescan_interval != new.rescan_interval,
        ),
        (
            "open_file_timeout_s",
            old.open_file_timeout != new.open_file_timeout,
        ),
        (
            "commit_interval_ms",
            old.commit_interval != new.commit_interval,
        ),
        ("api", old.api != new.api),
        ("max_query_clauses", old.query_limits != new.query_limits),
        ("engine.workers", old.workers != new.workers),
        ("duplicates", old.duplicates != new.duplicates),
    ];
    out.needs_restart = restart
        .into_iter()
        .filter_map(|(key, differs)| differs.then_some(key))
        .collect();
    out
}

/// The files a configuration file names, read leniently: the file itself, then its
/// `queries_files` (resolved against its folder), then the files that those written in TOML
/// name, and so on (each once). Unlike [`Config::load`] it never fails and checks nothing
/// else: it says what a configuration that was refused needs, missing files included, so that
/// the daemon watches them and tries again when they appear.
pub fn files_named(config: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = Vec::new();
    let mut pending = vec![config.to_path_buf()];
    while let Some(file) = pending.pop() {
        if files.contains(&file) {
            continue;
        }
        files.push(file.clone());
        let toml = file == config
            || file
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
        if !toml {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let Ok(table) = toml::from_str::<toml::Table>(&text) else {
            continue;
        };
        let Some(toml::Value::Array(named)) = table.get("queries_files") else {
            continue;
        };
        let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
        // Reversed onto the stack, so that they are visited in the order written.
        for name in named.iter().rev().filter_map(toml::Value::as_str) {
            let path = PathBuf::from(name);
            pending.push(if path.is_absolute() {
                path
            } else {
                base.join(path)
            });
        }
    }
    files
}

/// How long the watched files must stay quiet before a change is signalled (an editor's save
/// or a burst of API writes is one reload).
const QUIET: Duration = Duration::from_millis(300);
/// How often the files' length, modification time and identity are compared, for changes
/// whose events were missed (network filesystems, a watched symbolic link, ...).
const POLL: Duration = Duration::from_secs(2);

/// Watches the config file and the queries files, and sends one `()` on its channel after
/// each change (a burst of changes is one signal, sent once they have been quiet for 300 ms).
///
/// The parent folders are watched, not the files: an atomic save replaces a file by a rename,
/// and a watch on the file itself would be lost with the old file. Events for other names in
/// those folders are ignored, and so are reads. Every 2 s the files' length, modification time
/// and identity are also compared, for changes whose events were missed. Stops when dropped.
pub struct ConfigWatcher {
    /// `None` when only the periodic comparison runs (tests).
    watcher: Option<RecommendedWatcher>,
    /// The folders watched, each once.
    dirs: Vec<PathBuf>,
    /// The files, shared with the notify callback (which filters on them) and the thread.
    watched: Arc<Mutex<Watched>>,
    control: std_mpsc::Sender<Message>,
    thread: Option<JoinHandle<()>>,
}

/// What the watcher's thread is told.
enum Message {
    /// An event for a watched file (or an error or overflow: something may have changed).
    Changed,
    Stop,
}

/// The files watched (absolute) and their stamps when last signalled or first watched.
#[derive(Debug)]
struct Watched {
    files: Vec<PathBuf>,
    stamps: HashMap<PathBuf, Stamp>,
}

impl Watched {
    /// Watch `files`; a file watched already keeps its stamp, a new one is stamped now (so that
    /// a change made right after this call is seen).
    fn set(&mut self, files: Vec<PathBuf>) {
        self.stamps.retain(|file, _| files.contains(file));
        for file in &files {
            if !self.stamps.contains_key(file) {
                self.stamps.insert(file.clone(), stamp(file));
            }
        }
        self.files = files;
    }
}

impl ConfigWatcher {
    /// Watch `files` (typically `Config::watched_files`); signals go to `tx`. Fails if a
    /// parent folder cannot be watched (a folder that does not exist yet is only compared
    /// periodically).
    pub fn start(files: Vec<PathBuf>, tx: Sender<()>) -> Result<ConfigWatcher, ConfigError> {
        Self::start_with(files, tx, true)
    }

    fn start_with(
        files: Vec<PathBuf>,
        tx: Sender<()>,
        events: bool,
    ) -> Result<ConfigWatcher, ConfigError> {
        let files = absolute_all(files);
        // Where a failure to start is reported.
        let first = files.first().cloned().unwrap_or_default();
        let dirs = parent_dirs(&files);
        let mut watched = Watched {
            files: Vec::new(),
            stamps: HashMap::new(),
        };
        watched.set(files);
        let watched = Arc::new(Mutex::new(watched));
        let (control, inbox) = std_mpsc::channel();
        let watcher = if events {
            let (watched, control) = (Arc::clone(&watched), control.clone());
            let handler = move |event: notify::Result<notify::Event>| {
                if is_relevant(&event, &lock(&watched).files) {
                    let _ = control.send(Message::Changed);
                }
            };
            let watcher =
                RecommendedWatcher::new(handler, notify::Config::default()).map_err(|source| {
                    ConfigError::Watch {
                        path: first.clone(),
                        source,
                    }
                })?;
            Some(watcher)
        } else {
            None
        };
        let thread_watched = Arc::clone(&watched);
        let thread = std::thread::Builder::new()
            .name("config-watcher".into())
            .spawn(move || run(thread_watched, inbox, tx))
            .map_err(|e| ConfigError::Watch {
                path: first,
                source: notify::Error::io(e),
            })?;
        let mut this = ConfigWatcher {
            watcher,
            dirs: Vec::new(),
            watched,
            control,
            thread: Some(thread),
        };
        this.watch_dirs(dirs)?;
        Ok(this)
    }

    /// Watch these files from now on (after a reload changed `queries_files`, or what a refused
    /// configuration names). The list is replaced even if a folder cannot be watched (the
    /// periodic comparison still covers its files); the first such error is returned. Folders
    /// that did not exist when last asked are tried again.
    pub fn set_files(&mut self, files: Vec<PathBuf>) -> Result<(), ConfigError> {
        let files = absolute_all(files);
        let wanted = parent_dirs(&files);
        lock(&self.watched).set(files);
        self.watch_dirs(wanted)
    }

    /// The files watched.
    pub fn files(&self) -> Vec<PathBuf> {
        lock(&self.watched).files.clone()
    }

    /// Watch the folders in `wanted` that are not watched yet, stop watching the others.
    fn watch_dirs(&mut self, wanted: Vec<PathBuf>) -> Result<(), ConfigError> {
        let Some(watcher) = self.watcher.as_mut() else {
            self.dirs = wanted;
            return Ok(());
        };
        for dir in self.dirs.iter().filter(|d| !wanted.contains(d)) {
            let _ = watcher.unwatch(dir);
        }
        let mut first_error = None;
        let mut watched = Vec::new();
        for dir in wanted {
            if self.dirs.contains(&dir) {
                watched.push(dir);
                continue;
            }
            if !dir.is_dir() {
                // Not there (yet): the periodic comparison sees its files appear, and the
                // folder is watched by the next `set_files` once it exists.
                continue;
            }
            match watcher.watch(&dir, RecursiveMode::NonRecursive) {
                Ok(()) => watched.push(dir),
                Err(source) => {
                    first_error.get_or_insert(ConfigError::Watch { path: dir, source });
                }
            }
        }
        self.dirs = watched;
        first_error.map_or(Ok(()), Err)
    }
}

impl Drop for ConfigWatcher {
    fn drop(&mut self) {
        // No more events, then the thread stops (it wakes on the message at once).
        self.watcher = None;
        let _ = self.control.send(Message::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl std::fmt::Debug for ConfigWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigWatcher")
            .field("files", &lock(&self.watched).files)
            .field("dirs", &self.dirs)
            .finish()
    }
}

fn absolute_all(files: Vec<PathBuf>) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::with_capacity(files.len());
    for file in files {
        let file = std::path::absolute(&file).unwrap_or(file);
        if !out.contains(&file) {
            out.push(file);
        }
    }
    out
}

fn parent_dirs(files: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    for file in files {
        if let Some(dir) = file.parent() {
            if !dirs.iter().any(|d| d == dir) {
                dirs.push(dir.to_path_buf());
            }
        }
    }
    dirs
}

/// An event that may mean a watched file changed: anything naming one of them except reads
/// and metadata changes (our own reload reads the file; `touch` is caught by the periodic
/// comparison). An error or an overflow may hide anything, so it counts.
fn is_relevant(event: &notify::Result<notify::Event>, files: &[PathBuf]) -> bool {
    let event = match event {
        Err(_) => return true,
        Ok(event) if event.need_rescan() => return true,
        Ok(event) => event,
    };
    let content = match event.kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) | EventKind::Modify(ModifyKind::Metadata(_)) => false,
        _ => true,
    };
    content && event.paths.iter().any(|p| files.contains(p))
}

/// What the periodic comparison looks at: length, modification time and (on Unix) the inode,
/// so a replacement is seen even with the same length and a coarse clock. `None`: missing.
type Stamp = Option<(u64, Option<SystemTime>, u64)>;

fn stamp(file: &Path) -> Stamp {
    let meta = std::fs::metadata(file).ok()?;
    #[cfg(unix)]
    let identity = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let identity = 0;
    Some((meta.len(), meta.modified().ok(), identity))
}

/// The watcher's thread: coalesces events, compares stamps every `POLL`, signals on `tx`.
/// File metadata is read outside the lock (a slow filesystem must not hold up the callback).
fn run(watched: Arc<Mutex<Watched>>, inbox: std_mpsc::Receiver<Message>, tx: Sender<()>) {
    // When the last event of the current burst arrived.
    let mut pending: Option<Instant> = None;
    let mut next_poll = Instant::now() + POLL;
    loop {
        let deadline = pending.map_or(next_poll, |last| next_poll.min(last + QUIET));
        match inbox.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(Message::Changed) => pending = Some(Instant::now()),
            Ok(Message::Stop) | Err(std_mpsc::RecvTimeoutError::Disconnected) => return,
            Err(std_mpsc::RecvTimeoutError::Timeout) => {}
        }
        let now = Instant::now();
        if now >= next_poll {
            next_poll = now + POLL;
            let known: Vec<(PathBuf, Stamp)> = lock(&watched)
                .stamps
                .iter()
                .map(|(file, stamp)| (file.clone(), *stamp))
                .collect();
            if pending.is_none() && known.iter().any(|(file, old)| stamp(file) != *old) {
                pending = Some(now);
            }
        }
        if pending.is_some_and(|last| now >= last + QUIET) {
            pending = None;
            let files = lock(&watched).files.clone();
            let fresh: Vec<(PathBuf, Stamp)> = files
                .into_iter()
                .map(|file| {
                    let stamp = stamp(&file);
                    (file, stamp)
                })
                .collect();
            let mut watched = lock(&watched);
            for (file, stamp) in fresh {
                if let Some(old) = watched.stamps.get_mut(&file) {
                    *old = stamp;
                }
            }
            drop(watched);
            match tx.try_send(()) {
                // Full: a signal is already waiting, which covers this change too.
                Ok(()) | Err(TrySendError::Full(())) => {}
                Err(TrySendError::Closed(())) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        let hooks = "[[webhooks]]\nname = 'slack'\nurl = 'http://127.0.0.1:9/'\n";
        Config::parse(
            Path::new("/srv/lookout/config.toml"),
            &format!("{text}\n{hooks}"),
        )
        .unwrap()
    }

    fn names(specs: &[QuerySpec]) -> Vec<&str> {
        specs.iter().map(|q| &*q.name).collect()
    }

    #[test]
    fn diff_of_queries_by_name() {
        let old = config(
            "[[queries]]\nname='same'\nquery='a'\n\
             [[queries]]\nname='text'\nquery='b'\n\
             [[queries]]\nname='hooks'\nquery='c'\n\
             [[queries]]\nname='gone'\nquery='d'\n",
        );
        let new = config(
            "[[queries]]\nname='new'\nquery='e'\n\
             [[queries]]\nname='hooks'\nquery='c'\nwebhooks=['slack']\n\
             [[queries]]\nname='same'\nquery='a'\n\
             [[queries]]\nname='text'\nquery='b2'\n",
        );
        let d = diff(&old, &new);
        assert_eq!(names(&d.added), ["new"]);
        assert_eq!(names(&d.changed), ["hooks", "text"]);
        assert_eq!(&*d.changed[1].text, "b2");
        assert_eq!(d.removed, ["gone"]);
        assert!(!d.webhooks_changed && d.needs_restart.is_empty());
        assert!(d.queries_changed());
        assert_eq!(diff(&new, &new), ConfigDiff::default());
    }

    #[test]
    fn diff_of_settings() {
        let old = config("");
        let live =
            config("on_delete = 'remove'\nmax_file_size = 10\n[json]\ntitle = ['headline']\n");
        assert_eq!(diff(&old, &live), ConfigDiff::default());

        let mut hooks = old.clone();
        hooks.webhooks[0].max_attempts += 1;
        assert!(diff(&old, &hooks).webhooks_changed);

        let new = config(
            "watch = ['a', 'b']\nindex = 'i'\nalert_log = 'l'\nstate_dir = 's'\n\
             poll_interval_ms = 500\nrescan_interval_s = 5\nopen_file_timeout_s = 9\n\
             commit_interval_ms = 50\n[api]\nmax_body_bytes = 10\n",
        );
        let d = diff(&old, &new);
        assert_eq!(
            d.needs_restart,
            [
                "watch",
                "index",
                "alert_log",
                "state_dir",
                "poll_interval_ms",
                "rescan_interval_s",
                "open_file_timeout_s",
                "commit_interval_ms",
                "api"
            ]
        );
        assert!(!d.queries_changed() && !d.webhooks_changed);
    }

    /// The next signal within `wait`; `None` if there was none.
    async fn signal(rx: &mut tokio::sync::mpsc::Receiver<()>, wait: Duration) -> Option<()> {
        tokio::time::timeout(wait, rx.recv()).await.ok().flatten()
    }

    fn replace(file: &Path, text: &str) {
        let temp = file.with_file_name(".replace.tmp");
        std::fs::write(&temp, text).unwrap();
        std::fs::rename(&temp, file).unwrap();
    }

    #[tokio::test]
    async fn a_file_replaced_by_rename_is_signalled_once() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.toml");
        std::fs::write(&file, "a").unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let watcher = ConfigWatcher::start(vec![file.clone()], tx).unwrap();

        // Other names in the folder, and reading the file, are not changes.
        std::fs::write(dir.path().join("alerts.jsonl"), "x").unwrap();
        let _ = std::fs::read_to_string(&file).unwrap();
        assert_eq!(signal(&mut rx, Duration::from_millis(800)).await, None);

        replace(&file, "bb");
        assert_eq!(signal(&mut rx, Duration::from_secs(5)).await, Some(()));
        assert_eq!(signal(&mut rx, Duration::from_millis(800)).await, None);

        // A burst is one signal; the watch survived the rename.
        let burst = std::time::Instant::now();
        for i in 0..5 {
            replace(&file, &"c".repeat(i + 3));
            std::thread::sleep(Duration::from_millis(30));
        }
        let burst = burst.elapsed();
        assert_eq!(signal(&mut rx, Duration::from_secs(5)).await, Some(()));
        // Past the periodic comparison too: nothing more. That is the promise for changes less
        // than QUIET apart; on a machine so loaded that this burst of 150 ms took longer, its
        // changes may be QUIET apart and a second signal is then correct, so it is drained.
        if burst < QUIET {
            assert_eq!(signal(&mut rx, Duration::from_millis(2500)).await, None);
        } else {
            eprintln!("the burst took {burst:?} (a loaded machine): a second signal is allowed");
            let _ = signal(&mut rx, Duration::from_millis(2500)).await;
            assert_eq!(signal(&mut rx, Duration::from_millis(2500)).await, None);
        }

        drop(watcher);
        // The thread ended with its sender: the channel closes.
        let closed = tokio::time::timeout(Duration::from_secs(2), rx.recv()).await;
        assert_eq!(closed, Ok(None));
    }

    #[tokio::test]
    async fn set_files_moves_the_watch() {
        let dir = tempfile::tempdir().unwrap();
        let other_dir = tempfile::tempdir().unwrap();
        let first = dir.path().join("config.toml");
        let second = other_dir.path().join("queries.tsv");
        std::fs::write(&first, "a").unwrap();
        std::fs::write(&second, "a\tb\n").unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let mut watcher = ConfigWatcher::start(vec![first.clone()], tx).unwrap();
        watcher.set_files(vec![second.clone()]).unwrap();
        assert_eq!(watcher.files(), vec![second.clone()]);
        replace(&first, "changed");
        assert_eq!(signal(&mut rx, Duration::from_millis(2500)).await, None);
        std::fs::write(&second, "a\tc\n").unwrap();
        assert_eq!(signal(&mut rx, Duration::from_secs(5)).await, Some(()));
    }

    #[tokio::test]
    async fn without_events_the_periodic_comparison_signals() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("queries.tsv");
        std::fs::write(&file, "a\tb\n").unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let _watcher = ConfigWatcher::start_with(vec![file.clone()], tx, false).unwrap();
        replace(&file, "a\tc\n");
        assert_eq!(signal(&mut rx, Duration::from_secs(5)).await, Some(()));
        std::fs::remove_file(&file).unwrap();
        assert_eq!(signal(&mut rx, Duration::from_secs(5)).await, Some(()));
    }

    #[tokio::test]
    async fn a_file_in_a_folder_not_there_yet_is_signalled_when_it_appears() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.toml");
        std::fs::write(&config, "a").unwrap();
        let file = dir.path().join("later/queries.tsv");
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let _watcher = ConfigWatcher::start(vec![config, file.clone()], tx).unwrap();
        assert_eq!(signal(&mut rx, Duration::from_millis(500)).await, None);
        std::fs::create_dir(dir.path().join("later")).unwrap();
        std::fs::write(&file, "a\tb\n").unwrap();
        assert_eq!(signal(&mut rx, Duration::from_secs(5)).await, Some(()));
    }

    #[tokio::test]
    async fn a_missing_file_is_signalled_when_it_is_created() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.toml");
        std::fs::write(&config, "a").unwrap();
        let file = dir.path().join("queries.tsv");
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let _watcher = ConfigWatcher::start(vec![config, file.clone()], tx).unwrap();
        std::fs::write(&file, "a\tb\n").unwrap();
        // By its event (well before the periodic comparison would).
        assert_eq!(signal(&mut rx, Duration::from_millis(1500)).await, Some(()));
    }

    #[test]
    fn the_files_a_config_names_even_when_it_does_not_load() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.toml");
        std::fs::write(
            &config,
            "queries_files = ['missing.tsv', 'more.toml', '/abs/q.tsv']\nwatch = 12\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("more.toml"),
            "queries_files = ['sub/nested.tsv', 'more.toml', 'config.toml']\n",
        )
        .unwrap();
        assert_eq!(
            files_named(&config),
            vec![
                config.clone(),
                dir.path().join("missing.tsv"),
                dir.path().join("more.toml"),
                dir.path().join("sub/nested.tsv"),
                PathBuf::from("/abs/q.tsv"),
            ]
        );
        // Not TOML at all: only the file itself.
        std::fs::write(&config, "queries_files = [").unwrap();
        assert_eq!(files_named(&config), vec![config.clone()]);
        assert_eq!(
            files_named(&dir.path().join("absent.toml")),
            vec![dir.path().join("absent.toml")]
        );
    }
}
