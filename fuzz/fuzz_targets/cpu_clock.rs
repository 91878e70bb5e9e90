//! The time budgets of the slow-input targets measure the CPU time of the fuzzing thread, not
//! the wall clock: a machine loaded by other work (builds, other fuzzers) stretches wall time
//! and made fast inputs look slow, while the CPU time an input costs is its own.

use std::time::Duration;

use rustix::time::{clock_gettime, ClockId};

/// A point on the calling thread's CPU clock.
pub struct CpuClock(Duration);

impl CpuClock {
    pub fn now() -> CpuClock {
        let spec = clock_gettime(ClockId::ThreadCPUTime);
        let nanos = u32::try_from(spec.tv_nsec).unwrap_or(0);
        CpuClock(Duration::new(u64::try_from(spec.tv_sec).unwrap_or(0), nanos))
    }

    /// The CPU time this thread spent since `self`.
    pub fn elapsed(&self) -> Duration {
        CpuClock::now().0.saturating_sub(self.0)
    }
}
