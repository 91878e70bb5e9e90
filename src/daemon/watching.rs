//! The folder watcher under supervision. The watcher's task only ends when it is stopped; if it
//! ends otherwise (a bug: a panic in it), the daemon must not take the closed channel for a
//! shutdown, nor stop noticing files: [`Watching`] logs it, waits a capped, growing delay and
//! starts a new watcher, whose first scan finds every file (the ledger skips the ones already
//! processed, so nothing is lost or doubled).

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::watcher::{FolderWatcher, ReadyFile, WatchError, WatchOptions};

/// Ready files the watcher may queue ahead of the engine.
const READY_QUEUE: usize = 1024;
/// The first delay before a restart; it doubles with each restart, up to `MAX_DELAY`.
const FIRST_DELAY: Duration = Duration::from_secs(1);
const MAX_DELAY: Duration = Duration::from_secs(60);
/// A watcher that ran this long without failing starts the delays from the first again.
const HEALTHY_AFTER: Duration = Duration::from_secs(600);

pub(super) struct Watching {
    options: WatchOptions,
    running: Option<(FolderWatcher, mpsc::Receiver<ReadyFile>)>,
    /// Restarts since the watcher last ran `HEALTHY_AFTER` without failing.
    restarts: u32,
    started_at: Instant,
    /// When the next restart is tried (while no watcher runs).
    restart_at: Instant,
}

impl Watching {
    /// Start watching (see [`FolderWatcher::start`]).
    pub(super) fn start(options: WatchOptions) -> Result<Watching, WatchError> {
        let running = spawn(&options)?;
        Ok(Watching {
            options,
            running: Some(running),
            restarts: 0,
            started_at: Instant::now(),
            restart_at: Instant::now(),
        })
    }

    /// The next ready file. Waits while the watcher is being restarted. Cancel-safe (a
    /// `select!` may drop it at any await).
    pub(super) async fn next(&mut self) -> ReadyFile {
        loop {
            if let Some((_, ready)) = &mut self.running {
                if let Some(file) = ready.recv().await {
                    return file;
                }
                self.failed();
                continue;
            }
            tokio::time::sleep_until(self.restart_at).await;
            match spawn(&self.options) {
                Ok(running) => {
                    tracing::info!("the folder watcher is running again; it rescans the folders");
                    self.running = Some(running);
                    self.started_at = Instant::now();
                }
                Err(e) => {
                    let delay = self.next_delay();
                    tracing::error!(
                        "cannot restart the folder watcher: {e}; trying again in {delay:?}"
                    );
                    self.restart_at = Instant::now() + delay;
                }
            }
        }
    }

    /// The watcher's task ended without being stopped: schedule a new one.
    fn failed(&mut self) {
        self.running = None;
        if self.started_at.elapsed() >= HEALTHY_AFTER {
            self.restarts = 0;
        }
        let delay = self.next_delay();
        tracing::error!(
            "the folder watcher stopped unexpectedly (a bug; see the error above); restarting it \
             in {delay:?}; files that arrive meanwhile are found by its first scan"
        );
        self.restart_at = Instant::now() + delay;
    }

    fn next_delay(&mut self) -> Duration {
        let delay = FIRST_DELAY
            .saturating_mul(1 << self.restarts.min(6))
            .min(MAX_DELAY);
        self.restarts = self.restarts.saturating_add(1);
        delay
    }

    /// Files found ready and not yet taken.
    pub(super) fn queued(&self) -> usize {
        self.running.as_ref().map_or(0, |(_, ready)| ready.len())
    }

    /// Stop watching; the files already found ready are handed back, to be processed.
    pub(super) async fn stop(self) -> Vec<ReadyFile> {
        let Some((watcher, mut ready)) = self.running else {
            return Vec::new();
        };
        watcher.stop().await;
        let mut left = Vec::new();
        while let Ok(file) = ready.try_recv() {
            left.push(file);
        }
        left
    }
}

fn spawn(options: &WatchOptions) -> Result<(FolderWatcher, mpsc::Receiver<ReadyFile>), WatchError> {
    let (ready_tx, ready_rx) = mpsc::channel(READY_QUEUE);
    let watcher = FolderWatcher::start(options.clone(), ready_tx)?;
    Ok((watcher, ready_rx))
}
