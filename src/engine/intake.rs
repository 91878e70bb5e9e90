//! The files taken and not yet applied, in the order they were taken, and the bounded pool of
//! workers that prepares them (`prepare.rs`). The writer (the engine's caller) takes a file
//! with [`Command::TakeFile`](super::Command::TakeFile); a worker reads, extracts, analyzes and
//! percolates it; its parts come back over a channel in any order across files, and
//! [`Command::StepFiles`](super::Command::StepFiles) applies them in the order the files were
//! taken (`files.rs`), so that what must be ordered (dedup, the alert log, the index, the
//! ledger) is decided by one thread, as if the files had been processed one after the other.
//!
//! Bounded: at most `capacity` files are taken at once (twice the workers, so that they stay
//! busy while the writer applies), each at most `max_file_size` bytes; a taker waits for room.
//! Whoever waits for parts (the daemon's loop) is woken by the [`Wake`] callback given at open.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::files::FileRun;
use super::prepare::{FileJob, Part};

/// Called (from a worker thread) each time a part is ready.
pub type Wake = Arc<dyn Fn() + Send + Sync>;

/// Why the pool of workers could not be started.
#[derive(Debug, thiserror::Error)]
#[error("cannot start the {workers} worker threads: {source}")]
pub struct WorkersError {
    workers: usize,
    #[source]
    source: rayon::ThreadPoolBuildError,
}

/// A file taken: its parts as they arrive, and how far the writer got.
pub(super) struct Taken {
    seq: u64,
    pub(super) path: PathBuf,
    pub(super) taken_at: Instant,
    pub(super) parts: VecDeque<Part>,
    pub(super) state: TakenState,
}

impl Taken {
    /// Whether the writer can go on with this file now, without waiting for a worker.
    fn has_work(&self) -> bool {
        !self.parts.is_empty()
            || match &self.state {
                TakenState::Running(run) => run.has_work(),
                TakenState::Waiting | TakenState::Skipping => false,
            }
    }
}

/// How far the writer is with a taken file.
pub(super) enum TakenState {
    /// No part applied yet.
    Waiting,
    /// Extracted: its documents are being applied.
    Running(Box<FileRun>),
    /// Decided already (the same bytes were recorded meanwhile): the remaining parts are dropped.
    Skipping,
}

pub(super) struct Intake {
    pool: rayon::ThreadPool,
    sender: mpsc::Sender<(u64, Part)>,
    receiver: mpsc::Receiver<(u64, Part)>,
    wake: Wake,
    next_seq: u64,
    files: VecDeque<Taken>,
    capacity: usize,
    /// When the last file was handed to a worker.
    last_submitted: Option<Instant>,
}

impl Intake {
    /// A pool of `workers` threads (at least one).
    pub(super) fn start(workers: usize, wake: Wake) -> Result<Intake, WorkersError> {
        let workers = workers.max(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(workers)
            .thread_name(|i| format!("lookout-worker-{i}"))
            .build()
            .map_err(|source| WorkersError { workers, source })?;
        let (sender, receiver) = mpsc::channel();
        Ok(Intake {
            pool,
            sender,
            receiver,
            wake,
            next_seq: 0,
            files: VecDeque::new(),
            capacity: 2 * workers,
            last_submitted: None,
        })
    }

    /// Whether another file may be taken now.
    pub(super) fn has_room(&self) -> bool {
        self.files.len() < self.capacity
    }

    /// Files taken and not yet applied whole.
    pub(super) fn len(&self) -> usize {
        self.files.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Hand `job` to a worker; its parts are applied after those of every file taken before.
    /// How long since the last file was handed to a worker (`None`: none ever was).
    pub(super) fn idle_for(&self) -> Option<Duration> {
        self.last_submitted.map(|at| at.elapsed())
    }

    pub(super) fn submit(&mut self, job: FileJob) {
        self.last_submitted = Some(Instant::now());
        let seq = self.next_seq;
        self.next_seq += 1;
        self.files.push_back(Taken {
            seq,
            path: job.path.clone(),
            taken_at: Instant::now(),
            parts: VecDeque::new(),
            state: TakenState::Waiting,
        });
        let sender = self.sender.clone();
        let wake = Arc::clone(&self.wake);
        self.pool.spawn(move || {
            job.run(&mut |part| {
                // The receiver goes only with the engine: then nobody wants the part.
                if sender.send((seq, part)).is_ok() {
                    wake();
                }
            });
        });
    }

    /// File the parts that arrived; with `wait`, wait that long for one if the first file has
    /// none to apply.
    pub(super) fn receive(&mut self, wait: Option<Duration>) {
        if let Some(wait) = wait {
            if self.files.front().is_some_and(|f| !f.has_work()) {
                if let Ok((seq, part)) = self.receiver.recv_timeout(wait) {
                    self.file_part(seq, part);
                }
            }
        }
        while let Ok((seq, part)) = self.receiver.try_recv() {
            self.file_part(seq, part);
        }
    }

    fn file_part(&mut self, seq: u64, part: Part) {
        // The parts of a file that left already (decided before its last part came) are
        // dropped.
        if let Ok(at) = self.files.binary_search_by_key(&seq, |f| f.seq) {
            self.files[at].parts.push_back(part);
        }
    }

    /// Whether the first file has something to apply (after [`Intake::receive`]): parts, or
    /// documents prepared and not yet applied (its last part came already, and a slice did not
    /// apply them all), or it is done and only waits to be recorded.
    pub(super) fn ready(&self) -> bool {
        self.files.front().is_some_and(Taken::has_work)
    }

    /// The first file, for the writer to apply; put back with [`Intake::put_back`] if it is
    /// not done. (Parts are not received meanwhile.)
    pub(super) fn pop(&mut self) -> Option<Taken> {
        self.files.pop_front()
    }

    pub(super) fn put_back(&mut self, taken: Taken) {
        self.files.push_front(taken);
    }
}
