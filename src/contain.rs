//! Containing bugs: a panic met while processing one file or answering one request must not end
//! the daemon (the engine contains its workers' and its writer's panics per file; the daemon
//! its requests'). [`contain`] runs one unit of work and turns a panic into a [`Panicked`] value the
//! caller reports (the file is quarantined with the reason, the request answers an internal
//! error); [`install_panic_hook`] sends the panic's message and location to the log, so that
//! it reaches wherever the daemon's logs go (JSON logs included) instead of bare stderr.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// A panic caught while doing one unit of work: a bug in lookout or in a library it calls.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Panicked {
    /// The panic's message (`panicked at` location excepted: the hook logged it).
    pub message: String,
}

/// Run `work`; a panic inside it comes back as `Err(Panicked)` instead of unwinding further.
///
/// The state `work` touched may be half-updated when it panics; callers keep to units of work
/// whose half-done state is harmless (a file's progress is only recorded once it is complete,
/// and alert ids keep a retried document from alerting twice).
pub fn contain<T>(work: impl FnOnce() -> T) -> Result<T, Panicked> {
    catch_unwind(AssertUnwindSafe(work)).map_err(|payload| Panicked {
        message: payload_message(payload.as_ref()),
    })
}

/// The message a panic carried (its payload, if text).
pub fn payload_message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_string()
    }
}

/// Log every panic (thread, location, message; a backtrace with `RUST_BACKTRACE=1`) as an
/// ERROR event. The daemon then reports what the panic cost (a file quarantined, a request
/// answered 500) and goes on.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let message = payload_message(info.payload());
        let backtrace = std::backtrace::Backtrace::capture();
        let backtrace = match backtrace.status() {
            std::backtrace::BacktraceStatus::Captured => format!("\n{backtrace}"),
            _ => String::new(),
        };
        tracing::error!(
            thread = thread.name().unwrap_or("unnamed"),
            location,
            "bug: a panic: {message} (please report it; lookout contains it and goes on){backtrace}"
        );
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_its_message_and_work_that_returns_is_untouched() {
        assert_eq!(contain(|| 7), Ok(7));
        let caught = contain(|| -> u32 { panic!("boom at {}", 3) });
        assert_eq!(caught.unwrap_err().message, "boom at 3");
        let caught = contain(|| -> u32 { std::panic::panic_any(5u8) });
        assert_eq!(caught.unwrap_err().message, "a panic without a message");
        let mut state = vec![1];
        let caught = contain(|| {
            state.push(2);
            let index = state.len() + 10;
            state[index]
        });
        assert!(caught.is_err());
        assert_eq!(state, [1, 2]);
    }
}
