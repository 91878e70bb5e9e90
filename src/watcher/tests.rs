//! Owns the watcher's end-to-end tests: real files in temporary folders, real notify
//! backends (inotify and the poll watcher), real timing.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{sleep, timeout, Instant};

use super::{FolderWatcher, ReadyFile, ReadyReason, WatchError, WatchOptions};

/// Longer than the quiet period plus a check tick: what "nothing more will come" waits.
const SETTLE: Duration = Duration::from_millis(800);
/// The most any expected file may take to show up.
const DEADLINE: Duration = Duration::from_secs(8);

fn options(root: &Path) -> WatchOptions {
    WatchOptions {
        roots: vec![root.to_path_buf()],
        ..WatchOptions::default()
    }
}

fn start(options: WatchOptions) -> (FolderWatcher, mpsc::Receiver<ReadyFile>) {
    let (tx, rx) = mpsc::channel(64);
    let watcher = FolderWatcher::start(options, tx).expect("watcher starts");
    (watcher, rx)
}

/// Receive until `done` says so (or the deadline passes), then keep listening for `SETTLE`
/// to catch duplicates. Returns everything received.
async fn collect_until(
    rx: &mut mpsc::Receiver<ReadyFile>,
    done: impl Fn(&[ReadyFile]) -> bool,
) -> Vec<ReadyFile> {
    let mut got = Vec::new();
    let deadline = Instant::now() + DEADLINE;
    while !done(&got) {
        match timeout(
            deadline.saturating_duration_since(Instant::now()),
            rx.recv(),
        )
        .await
        {
            Ok(Some(file)) => got.push(file),
            Ok(None) | Err(_) => break,
        }
    }
    got.extend(drain_for(rx, SETTLE).await);
    got
}

/// Everything received during `window`.
async fn drain_for(rx: &mut mpsc::Receiver<ReadyFile>, window: Duration) -> Vec<ReadyFile> {
    let mut got = Vec::new();
    let deadline = Instant::now() + window;
    while let Ok(Some(file)) = timeout(
        deadline.saturating_duration_since(Instant::now()),
        rx.recv(),
    )
    .await
    {
        got.push(file);
    }
    got
}

fn has_paths(paths: &[PathBuf]) -> impl Fn(&[ReadyFile]) -> bool + '_ {
    move |got: &[ReadyFile]| paths.iter().all(|p| got.iter().any(|f| &f.path == p))
}

fn count_by_path(got: &[ReadyFile]) -> HashMap<PathBuf, usize> {
    let mut counts = HashMap::new();
    for file in got {
        *counts.entry(file.path.clone()).or_insert(0) += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_present_before_start_are_emitted_by_the_initial_scan() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a = dir.path().join("a.txt");
    let b = dir.path().join("sub/deeper/b.md");
    let empty = dir.path().join("empty.txt");
    fs::create_dir_all(dir.path().join("sub/deeper")).expect("mkdir");
    fs::write(&a, "alpha").expect("write");
    fs::write(&b, "bravo!").expect("write");
    fs::write(&empty, "").expect("write");

    let (watcher, mut rx) = start(options(dir.path()));
    let expected = [a.clone(), b.clone(), empty.clone()];
    let got = collect_until(&mut rx, has_paths(&expected)).await;
    watcher.stop().await;

    assert_eq!(got.len(), 3, "{got:?}");
    for (path, size) in [(&a, 5), (&b, 6), (&empty, 0)] {
        let file = got.iter().find(|f| &f.path == path).expect("emitted");
        assert_eq!(file.size, size);
        assert_eq!(file.reason, ReadyReason::InitialScan);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_then_rename_in_is_emitted_once_with_final_size() {
    let dir = tempfile::tempdir().expect("tempdir");
    let outside = tempfile::tempdir().expect("tempdir");
    let (watcher, mut rx) = start(options(dir.path()));

    // Written outside the folder, then renamed in.
    let staged = outside.path().join("staged.txt");
    fs::write(&staged, vec![b'x'; 4000]).expect("write");
    let from_outside = dir.path().join("from-outside.txt");
    fs::rename(&staged, &from_outside).expect("rename");

    // Written under an ignored temporary name inside the folder, then renamed.
    let partial = dir.path().join("inside.txt.part");
    {
        let mut file = fs::File::create(&partial).expect("create");
        for _ in 0..5 {
            file.write_all(&[b'y'; 1000]).expect("write");
        }
    }
    let from_inside = dir.path().join("inside.txt");
    fs::rename(&partial, &from_inside).expect("rename");

    let expected = [from_outside.clone(), from_inside.clone()];
    let got = collect_until(&mut rx, has_paths(&expected)).await;
    watcher.stop().await;

    assert_eq!(got.len(), 2, "{got:?}");
    let outside_file = got
        .iter()
        .find(|f| f.path == from_outside)
        .expect("emitted");
    assert_eq!(outside_file.size, 4000);
    assert_eq!(outside_file.reason, ReadyReason::RenamedIn);
    let inside_file = got.iter().find(|f| f.path == from_inside).expect("emitted");
    assert_eq!(inside_file.size, 5000);
    assert_eq!(inside_file.reason, ReadyReason::RenamedIn);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_write_is_emitted_once_when_closed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (watcher, mut rx) = start(options(dir.path()));
    // Let the (empty) initial scan finish so nothing but events can see the file.
    sleep(Duration::from_millis(100)).await;

    let path = dir.path().join("note.txt");
    fs::write(&path, "hello").expect("write");
    let empty = dir.path().join("empty.txt");
    drop(fs::File::create(&empty).expect("create"));

    let expected = [path.clone(), empty.clone()];
    let got = collect_until(&mut rx, has_paths(&expected)).await;
    watcher.stop().await;

    assert_eq!(got.len(), 2, "{got:?}");
    let note = got.iter().find(|f| f.path == path).expect("emitted");
    assert_eq!(note.size, 5);
    assert_eq!(note.reason, ReadyReason::ClosedAfterWrite);
    let empty_file = got.iter().find(|f| f.path == empty).expect("emitted");
    assert_eq!(empty_file.size, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_writer_is_emitted_once_when_complete() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (watcher, mut rx) = start(options(dir.path()));
    let path = dir.path().join("slow.log");

    let writer_path = path.clone();
    let writer = tokio::task::spawn_blocking(move || {
        let mut file = fs::File::create(&writer_path).expect("create");
        for _ in 0..10 {
            file.write_all(&[b'z'; 1000]).expect("write");
            file.flush().expect("flush");
            std::thread::sleep(Duration::from_millis(100));
        }
        // Closed here, when `file` drops.
    });

    // Nothing partial may come out while the file is being written. (The emission for the
    // close may race the writer task's completion, so it can land here too.)
    let mut got = Vec::new();
    let mut writer = std::pin::pin!(writer);
    loop {
        tokio::select! {
            biased;
            done = &mut writer => { done.expect("writer"); break; }
            Some(file) = rx.recv() => got.push(file),
        }
    }
    assert!(
        got.iter().all(|f| f.size == 10_000),
        "emitted while partial: {got:?}"
    );

    let finished = got.len();
    got.extend(collect_until(&mut rx, |more| finished + more.len() >= 1).await);
    watcher.stop().await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].size, 10_000);
    assert_eq!(got[0].reason, ReadyReason::ClosedAfterWrite);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_files_copied_in_at_once_are_each_emitted_once() {
    let source = tempfile::tempdir().expect("tempdir");
    let dir = tempfile::tempdir().expect("tempdir");
    // Ten sources of different sizes, each copied in 100 times under its own name.
    for k in 0..10 {
        fs::write(
            source.path().join(format!("src-{k}")),
            vec![b'a'; 100 * k + 1],
        )
        .expect("write");
    }
    let name = |i: usize| format!("article-{i:04}.txt");
    let expected: Vec<PathBuf> = (0..1000).map(|i| dir.path().join(name(i))).collect();

    let (tx, mut rx) = mpsc::channel(16);
    let watcher = FolderWatcher::start(options(dir.path()), tx).expect("start");
    let from = source.path().to_path_buf();
    let to = dir.path().to_path_buf();
    tokio::task::spawn_blocking(move || {
        for i in 0..1000 {
            fs::copy(from.join(format!("src-{}", i % 10)), to.join(name(i))).expect("copy");
        }
    })
    .await
    .expect("copier");

    // (A duplicate could end the wait early; the settle window then still catches stragglers.)
    let got = collect_until(&mut rx, |got| got.len() >= 1000).await;
    watcher.stop().await;

    let counts = count_by_path(&got);
    assert_eq!(counts.len(), 1000, "distinct files emitted");
    assert!(
        counts.values().all(|&n| n == 1),
        "duplicates: {:?}",
        counts.iter().filter(|(_, &n)| n > 1).collect::<Vec<_>>()
    );
    for path in &expected {
        assert!(counts.contains_key(path), "missing {}", path.display());
    }
    for file in &got {
        let expected_size = fs::metadata(&file.path).expect("exists").len();
        assert_eq!(file.size, expected_size, "{}", file.path.display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overflowing_event_queue_loses_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (tx, mut rx) = mpsc::channel(16);
    // A queue of 4 events overflows at once; the rescans must still find every file.
    let watcher = FolderWatcher::start_with_queue(options(dir.path()), tx, 4).expect("start");
    let root = dir.path().to_path_buf();
    tokio::task::spawn_blocking(move || {
        for i in 0..500 {
            let sub = root.join(format!("d{}", i % 7));
            fs::create_dir_all(&sub).expect("mkdir");
            fs::write(sub.join(format!("f{i}.txt")), format!("file {i}")).expect("write");
        }
    })
    .await
    .expect("writer");

    let got = collect_until(&mut rx, |got| got.len() >= 500).await;
    watcher.stop().await;
    let counts = count_by_path(&got);
    assert_eq!(counts.len(), 500, "distinct files emitted");
    assert!(counts.values().all(|&n| n == 1), "duplicates emitted");
}

const IGNORED_NAMES: [&str; 9] = [
    ".hidden",
    "notes.txt~",
    "download.tmp",
    "movie.part",
    "x.swp",
    "big.iso.crdownload",
    "4913",
    ".git/config",
    "sub/.cache/cached.txt",
];

fn write_ignored(root: &Path) {
    for name in IGNORED_NAMES {
        let path = root.join(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("mkdir");
        }
        fs::write(path, "ignore me").expect("write");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hidden_and_temporary_names_are_ignored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let before = dir.path().join("before");
    let after = dir.path().join("after");
    fs::create_dir(&before).expect("mkdir");
    write_ignored(&before);
    let visible_before = before.join("visible.txt");
    fs::write(&visible_before, "keep").expect("write");

    let (watcher, mut rx) = start(options(dir.path()));
    sleep(Duration::from_millis(100)).await;
    fs::create_dir(&after).expect("mkdir");
    write_ignored(&after);
    let visible_after = after.join("sub/visible.txt");
    fs::write(&visible_after, "keep").expect("write");

    let expected = [visible_before.clone(), visible_after.clone()];
    let got = collect_until(&mut rx, has_paths(&expected)).await;
    watcher.request_rescan();
    let more = drain_for(&mut rx, SETTLE).await;
    watcher.stop().await;

    let paths: Vec<&PathBuf> = got.iter().map(|f| &f.path).collect();
    assert_eq!(paths.len(), 2, "{got:?}");
    assert!(paths.contains(&&visible_before) && paths.contains(&&visible_after));
    assert!(more.is_empty(), "rescan re-emitted: {more:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folders_created_or_moved_in_later_are_watched_and_their_files_emitted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let outside = tempfile::tempdir().expect("tempdir");
    let (watcher, mut rx) = start(options(dir.path()));
    sleep(Duration::from_millis(100)).await;

    // Created in place, files written at once (before the new watch may be in place).
    let deep = dir.path().join("new/deeper/deepest");
    fs::create_dir_all(&deep).expect("mkdir");
    let created = [
        dir.path().join("new/one.txt"),
        dir.path().join("new/deeper/two.txt"),
        deep.join("three.txt"),
    ];
    for path in &created {
        fs::write(path, "created").expect("write");
    }

    // Built outside, then moved in whole.
    let staged = outside.path().join("batch");
    fs::create_dir_all(staged.join("inner")).expect("mkdir");
    fs::write(staged.join("a.txt"), "a").expect("write");
    fs::write(staged.join("inner/b.txt"), "bb").expect("write");
    fs::write(staged.join(".hidden"), "no").expect("write");
    fs::rename(&staged, dir.path().join("batch")).expect("move in");
    let moved = [
        dir.path().join("batch/a.txt"),
        dir.path().join("batch/inner/b.txt"),
    ];

    // A file written into the moved-in folder afterwards: the new folder is watched.
    sleep(Duration::from_millis(300)).await;
    let later = dir.path().join("batch/inner/later.txt");
    fs::write(&later, "later").expect("write");

    let mut expected: Vec<PathBuf> = created.to_vec();
    expected.extend(moved.iter().cloned());
    expected.push(later.clone());
    let got = collect_until(&mut rx, has_paths(&expected)).await;
    watcher.stop().await;

    let counts = count_by_path(&got);
    assert_eq!(counts.len(), expected.len(), "{got:?}");
    assert!(counts.values().all(|&n| n == 1), "{got:?}");
    for path in &moved {
        let file = got.iter().find(|f| &f.path == path).expect("emitted");
        assert_eq!(file.reason, ReadyReason::RenamedIn, "{}", path.display());
    }
    let later_file = got.iter().find(|f| f.path == later).expect("emitted");
    assert_eq!(later_file.reason, ReadyReason::ClosedAfterWrite);
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symlinks_are_not_followed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let outside = tempfile::tempdir().expect("tempdir");
    fs::write(outside.path().join("secret.txt"), "outside").expect("write");
    std::os::unix::fs::symlink(outside.path(), dir.path().join("link-dir")).expect("symlink");
    std::os::unix::fs::symlink(
        outside.path().join("secret.txt"),
        dir.path().join("link-file.txt"),
    )
    .expect("symlink");
    let real = dir.path().join("real.txt");
    fs::write(&real, "inside").expect("write");

    let (watcher, mut rx) = start(options(dir.path()));
    let got = collect_until(&mut rx, has_paths(std::slice::from_ref(&real))).await;
    // Changes behind the links are not seen either.
    fs::write(outside.path().join("new.txt"), "outside").expect("write");
    let more = drain_for(&mut rx, SETTLE).await;
    watcher.stop().await;

    assert_eq!(got.len(), 1, "{got:?}");
    assert!(more.is_empty(), "{more:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_rescan_skips_unchanged_files_and_finds_changed_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let same = dir.path().join("same.txt");
    let changed = dir.path().join("changed.txt");
    fs::write(&same, "unchanged").expect("write");
    fs::write(&changed, "v1").expect("write");

    // A poll watcher that never polls: the only way to see the change is a rescan.
    let mut opts = options(dir.path());
    opts.poll_interval = Some(Duration::from_secs(3600));
    let (watcher, mut rx) = start(opts);
    let got = collect_until(&mut rx, |got| got.len() >= 2).await;
    assert_eq!(got.len(), 2, "{got:?}");

    fs::write(&changed, "version two").expect("write");
    let unnoticed = drain_for(&mut rx, SETTLE).await;
    assert!(
        unnoticed.is_empty(),
        "change should go unnoticed: {unnoticed:?}"
    );

    watcher.request_rescan();
    let got = collect_until(&mut rx, |got| !got.is_empty()).await;
    watcher.stop().await;
    assert_eq!(
        got,
        vec![ReadyFile {
            path: changed,
            size: 11,
            reason: ReadyReason::Rescan
        }]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_watcher_mode_works() {
    let dir = tempfile::tempdir().expect("tempdir");
    let before = dir.path().join("before.txt");
    fs::write(&before, "before").expect("write");
    let mut opts = options(dir.path());
    opts.poll_interval = Some(Duration::from_millis(100));
    let (watcher, mut rx) = start(opts);
    let got = collect_until(&mut rx, |got| !got.is_empty()).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].reason, ReadyReason::InitialScan);

    let sub = dir.path().join("sub");
    fs::create_dir(&sub).expect("mkdir");
    let after = sub.join("after.txt");
    fs::write(&after, "after!").expect("write");
    let renamed = dir.path().join("renamed.txt");
    fs::write(dir.path().join("renamed.tmp"), "renamed").expect("write");
    fs::rename(dir.path().join("renamed.tmp"), &renamed).expect("rename");

    let expected = [after.clone(), renamed.clone()];
    let got = collect_until(&mut rx, has_paths(&expected)).await;
    watcher.stop().await;
    assert_eq!(got.len(), 2, "{got:?}");
    let after_file = got.iter().find(|f| f.path == after).expect("emitted");
    assert_eq!(after_file.size, 6);
    let renamed_file = got.iter().find(|f| f.path == renamed).expect("emitted");
    assert_eq!(renamed_file.size, 7);
}

/// Collects formatted log lines (for asserting that an error was reported).
#[derive(Clone, Default)]
struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        crate::lock::lock(&self.0).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogCapture {
    fn text(&self) -> String {
        let bytes = crate::lock::lock(&self.0).clone();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

async fn deleted_root_is_reported_and_watched_again(poll: bool) {
    let logs = LogCapture::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    // The test runs on a current-thread runtime, so the watcher task logs on this thread.
    let _guard = tracing::subscriber::set_default(subscriber);

    let parent = tempfile::tempdir().expect("tempdir");
    let root = parent.path().join("inbox");
    fs::create_dir(&root).expect("mkdir");
    let old = root.join("old.txt");
    fs::write(&old, "old").expect("write");
    let mut opts = options(&root);
    if poll {
        opts.poll_interval = Some(Duration::from_millis(100));
    }
    let (watcher, mut rx) = start(opts);
    let got = collect_until(&mut rx, |got| !got.is_empty()).await;
    assert_eq!(got.len(), 1, "{got:?}");

    fs::remove_dir_all(&root).expect("remove root");
    let deadline = Instant::now() + DEADLINE;
    while !logs.text().contains("vanished") && Instant::now() < deadline {
        sleep(Duration::from_millis(50)).await;
    }
    let text = logs.text();
    assert!(
        text.lines()
            .any(|l| l.contains("ERROR") && l.contains("vanished")),
        "{text}"
    );

    fs::create_dir(&root).expect("recreate root");
    let fresh = root.join("fresh.txt");
    fs::write(&fresh, "fresh").expect("write");
    let got = collect_until(&mut rx, has_paths(std::slice::from_ref(&fresh))).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].size, 5);

    // And the new folder is watched: a later file arrives through events.
    sleep(Duration::from_millis(100)).await;
    let later = root.join("later.txt");
    fs::write(&later, "later").expect("write");
    let got = collect_until(&mut rx, has_paths(std::slice::from_ref(&later))).await;
    watcher.stop().await;
    assert_eq!(got.len(), 1, "{got:?}");
    if !poll {
        assert_eq!(got[0].reason, ReadyReason::ClosedAfterWrite);
    }
    assert!(logs.text().contains("is back"), "{}", logs.text());
}

#[tokio::test(flavor = "current_thread")]
async fn deleted_root_is_reported_and_watched_again_native() {
    deleted_root_is_reported_and_watched_again(false).await;
}

#[tokio::test(flavor = "current_thread")]
async fn deleted_root_is_reported_and_watched_again_polling() {
    deleted_root_is_reported_and_watched_again(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_fails_clearly_for_bad_roots() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nope");
    let (tx, _rx) = mpsc::channel(1);
    let err = FolderWatcher::start(options(&missing), tx.clone())
        .err()
        .expect("missing root fails");
    assert!(matches!(err, WatchError::RootMissing { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&missing.display().to_string()),
        "{err}"
    );

    let file = dir.path().join("file.txt");
    fs::write(&file, "x").expect("write");
    let err = FolderWatcher::start(options(&file), tx.clone())
        .err()
        .expect("file root fails");
    assert!(matches!(err, WatchError::NotADirectory { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&file.display().to_string()),
        "{err}"
    );

    let err = FolderWatcher::start(WatchOptions::default(), tx)
        .err()
        .expect("no roots fails");
    assert!(matches!(err, WatchError::NoRoots), "{err:?}");
}

#[test]
fn start_outside_a_runtime_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (tx, _rx) = mpsc::channel(1);
    let err = FolderWatcher::start(options(dir.path()), tx)
        .err()
        .expect("fails without runtime");
    assert!(matches!(err, WatchError::NoRuntime), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_returns_even_when_nobody_reads() {
    let dir = tempfile::tempdir().expect("tempdir");
    for i in 0..20 {
        fs::write(dir.path().join(format!("{i}.txt")), "x").expect("write");
    }
    let (tx, _rx) = mpsc::channel(1);
    let watcher = FolderWatcher::start(options(dir.path()), tx).expect("start");
    sleep(Duration::from_millis(600)).await; // blocked on a full channel by now
    timeout(Duration::from_secs(2), watcher.stop())
        .await
        .expect("stop does not hang");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_pausing_longer_than_the_quiet_period_is_emitted_only_when_closed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (watcher, mut rx) = start(options(dir.path()));
    sleep(Duration::from_millis(100)).await;
    let path = dir.path().join("pausing.txt");
    let writer_path = path.clone();
    let writer = tokio::task::spawn_blocking(move || {
        let mut file = fs::File::create(&writer_path).expect("create");
        for _ in 0..3 {
            file.write_all(&[b'p'; 100]).expect("write");
            file.flush().expect("flush");
            // Three times the quiet period, and more than a check tick beyond it.
            std::thread::sleep(Duration::from_millis(750));
        }
        file.write_all(&[b'q'; 100]).expect("write");
    });
    let mut got = Vec::new();
    let mut writer = std::pin::pin!(writer);
    loop {
        tokio::select! {
            biased;
            done = &mut writer => { done.expect("writer"); break; }
            Some(file) = rx.recv() => got.push(file),
        }
    }
    assert!(
        got.iter().all(|f| f.size == 400),
        "emitted while open: {got:?}"
    );
    let finished = got.len();
    got.extend(collect_until(&mut rx, |more| finished + more.len() >= 1).await);
    watcher.stop().await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].size, 400);
    assert_eq!(got[0].reason, ReadyReason::ClosedAfterWrite);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_never_closed_is_emitted_after_the_open_file_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut opts = options(dir.path());
    opts.open_file_timeout = Duration::from_secs(1);
    let (watcher, mut rx) = start(opts);
    sleep(Duration::from_millis(100)).await;
    let path = dir.path().join("held.txt");
    let mut file = fs::File::create(&path).expect("create");
    file.write_all(b"held open").expect("write");
    file.flush().expect("flush");
    let started = Instant::now();
    let got = collect_until(&mut rx, |got| !got.is_empty()).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].reason, ReadyReason::OpenTimeout);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    // The close of the unchanged file sends nothing more.
    drop(file);
    let more = drain_for(&mut rx, SETTLE).await;
    watcher.stop().await;
    assert!(more.is_empty(), "{more:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_waiting_for_its_close_settles_when_events_were_lost() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (tx, mut rx) = mpsc::channel(1024);
    // A queue of 8 events: the burst below overflows it, and the close events of the file
    // held open could be among those lost; it must not wait for the open-file timeout.
    let watcher = FolderWatcher::start_with_queue(options(dir.path()), tx, 8).expect("start");
    sleep(Duration::from_millis(100)).await;
    let held = dir.path().join("held.txt");
    let mut file = fs::File::create(&held).expect("create");
    file.write_all(b"held").expect("write");
    file.flush().expect("flush");
    sleep(Duration::from_millis(100)).await;
    let root = dir.path().to_path_buf();
    tokio::task::spawn_blocking(move || {
        for i in 0..1000 {
            fs::write(root.join(format!("burst-{i}.txt")), "x").expect("write");
        }
    })
    .await
    .expect("burst");
    let got = collect_until(&mut rx, has_paths(std::slice::from_ref(&held))).await;
    drop(file);
    watcher.stop().await;
    assert!(got.iter().any(|f| f.path == held), "{got:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_root_replaced_by_another_folder_is_watched_anew() {
    let parent = tempfile::tempdir().expect("tempdir");
    let root = parent.path().join("inbox");
    fs::create_dir(&root).expect("mkdir");
    fs::write(root.join("old.txt"), "old").expect("write");
    let (watcher, mut rx) = start(options(&root));
    let got = collect_until(&mut rx, |got| !got.is_empty()).await;
    assert_eq!(got.len(), 1, "{got:?}");

    // Renamed away, and another folder takes its name.
    fs::rename(&root, parent.path().join("away")).expect("rename");
    fs::create_dir(&root).expect("mkdir");
    sleep(Duration::from_millis(1200)).await;
    let fresh = root.join("fresh.txt");
    fs::write(&fresh, "fresh").expect("write");
    let got = collect_until(&mut rx, has_paths(std::slice::from_ref(&fresh))).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        got[0].reason,
        ReadyReason::ClosedAfterWrite,
        "not watched: {got:?}"
    );

    // The first folder comes back: its file is sent again (its content decides what is new).
    fs::remove_dir_all(&root).expect("rm");
    fs::rename(parent.path().join("away"), &root).expect("rename back");
    let old = root.join("old.txt");
    let got = collect_until(&mut rx, has_paths(std::slice::from_ref(&old))).await;
    watcher.stop().await;
    assert_eq!(got.len(), 1, "{got:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookouts_own_files_are_never_emitted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    fs::create_dir_all(root.join("index")).expect("mkdir");
    fs::write(root.join("index/meta.json"), "{}").expect("write");
    fs::write(root.join("alerts.jsonl"), "{}\n").expect("write");
    let article = root.join("article.txt");
    fs::write(&article, "article").expect("write");
    let mut opts = options(root);
    opts.own_files.add_folder(&root.join("index"));
    opts.own_files.add_folder(&root.join("state"));
    opts.own_files
        .add_file_and_siblings(&root.join("alerts.jsonl"));
    let (watcher, mut rx) = start(opts);
    let got = collect_until(&mut rx, |got| !got.is_empty()).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].path, article);
    // Written while watched: the index, a new state folder, the log and a rotation of it.
    fs::write(root.join("index/segment.json"), "{}").expect("write");
    fs::create_dir_all(root.join("state/webhooks")).expect("mkdir");
    fs::write(root.join("state/webhooks/a.cursor"), "1").expect("write");
    fs::write(root.join("alerts.jsonl"), "{}\n{}\n").expect("write");
    fs::write(root.join("alerts.jsonl.1"), "{}\n").expect("write");
    watcher.request_rescan();
    let more = drain_for(&mut rx, SETTLE).await;
    watcher.stop().await;
    assert!(more.is_empty(), "{more:?}");
}
