//! File descriptors: the process's open-file limit, raised at start-up to its hard maximum
//! (systemd starts services at a soft 1,024), and the share of it the API's connections may
//! take, so that the watcher, the index, the ledger and the logs always have descriptors left.

use crate::config::MIN_CONNECTIONS;

/// The API holds at most this many connections by default, however high the limit.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Descriptors kept for everything but the API: a quarter of the limit, at most this many.
const MAX_RESERVE: u64 = 256;

/// Raise the soft `RLIMIT_NOFILE` to the hard one (Linux caps it at `fs.nr_open`, so an
/// unlimited hard limit is tried as 2^20). The soft limit in force afterwards; `None` when it
/// is unlimited or cannot be read.
#[cfg(unix)]
pub fn raise_open_files_limit() -> Option<u64> {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    let wanted = limit.maximum.unwrap_or(1 << 20);
    if limit.current.is_some_and(|current| current < wanted) {
        let raised = Rlimit {
            current: Some(wanted),
            maximum: limit.maximum,
        };
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            tracing::debug!("cannot raise the open-file limit to {wanted}: {e}");
        }
    }
    getrlimit(Resource::Nofile).current
}

#[cfg(not(unix))]
pub fn raise_open_files_limit() -> Option<u64> {
    None
}

/// The connections the API may hold under an open-file limit of `soft` (`None`: unlimited):
/// the limit less a reserve of a quarter of it (at most 256), at most 1,024.
pub fn connections_for(soft: Option<u64>) -> usize {
    let Some(soft) = soft else {
        return DEFAULT_MAX_CONNECTIONS;
    };
    let reserve = (soft / 4).min(MAX_RESERVE);
    let budget = usize::try_from(soft.saturating_sub(reserve)).unwrap_or(usize::MAX);
    budget.clamp(MIN_CONNECTIONS, DEFAULT_MAX_CONNECTIONS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_leave_a_reserve() {
        assert_eq!(connections_for(Some(1024)), 768);
        assert_eq!(connections_for(Some(256)), 192);
        assert_eq!(connections_for(Some(20_000)), 1024);
        assert_eq!(connections_for(Some(1_000_000)), 1024);
        assert_eq!(connections_for(None), 1024);
        assert_eq!(connections_for(Some(4)), MIN_CONNECTIONS);
    }

    #[cfg(unix)]
    #[test]
    fn the_soft_limit_is_raised_to_the_hard_one() {
        let hard = rustix::process::getrlimit(rustix::process::Resource::Nofile).maximum;
        let soft = raise_open_files_limit();
        match hard {
            Some(hard) => assert_eq!(soft, Some(hard)),
            None => assert!(soft.is_some_and(|s| s >= 1024) || soft.is_none()),
        }
    }
}
