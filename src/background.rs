//! Background threads give way to the path from a dropped file to its alert. The index thread
//! (and the tantivy threads it starts: segment indexing and serialization at each commit) and
//! the re-plan thread run at a lower priority than the workers and the writer, so that on a
//! busy machine a commit or a re-plan delays the next commit, not the next alert. Nothing
//! waits on them unboundedly: the writer's queue to the index thread is bounded.

/// The nice value background threads take (0 is the default; 19 the lowest). Mild: under a
/// long burst a commit still gets about a third of a core's share against each busy thread.
pub const BACKGROUND_NICE: i32 = 5;

/// Lower the calling thread's priority to [`BACKGROUND_NICE`] (on Linux the nice value is per
/// thread, and the threads this one starts inherit it). Where it cannot be lowered, the thread
/// runs as it was: this is an optimisation, never an error.
pub fn lower_this_thread() {
    #[cfg(target_os = "linux")]
    {
        let current = rustix::process::getpriority_process(None).unwrap_or(0);
        if current < BACKGROUND_NICE {
            if let Err(e) = rustix::process::setpriority_process(None, BACKGROUND_NICE) {
                tracing::debug!("cannot lower a background thread's priority: {e}");
            }
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #[test]
    fn a_background_thread_is_lowered_and_the_others_are_not() {
        let before = rustix::process::getpriority_process(None).unwrap();
        let lowered = std::thread::spawn(|| {
            super::lower_this_thread();
            let child = std::thread::spawn(|| rustix::process::getpriority_process(None).unwrap());
            (
                rustix::process::getpriority_process(None).unwrap(),
                child.join().unwrap(),
            )
        })
        .join()
        .unwrap();
        assert_eq!(
            lowered,
            (
                super::BACKGROUND_NICE.max(before),
                super::BACKGROUND_NICE.max(before)
            )
        );
        assert_eq!(rustix::process::getpriority_process(None).unwrap(), before);
    }
}
