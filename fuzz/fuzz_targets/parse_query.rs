//! Fuzz the query parser, `lookout::query::parse`.
//!
//! Besides "never panics", checks two properties on every UTF-8 input:
//! - round trip: when `parse` succeeds, the query printed back (`Display`) parses again, to the
//!   same `query` (lints may differ);
//! - an error's column is a 1-based char column within the text, or just past its end
//!   (`1..=chars + 1`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use lookout::query::parse;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse(text) {
        Ok(parsed) => {
            let printed = parsed.query.to_string();
            match parse(&printed) {
                Ok(again) => assert_eq!(
                    again.query, parsed.query,
                    "round trip changed the query: {text:?} printed as {printed:?}"
                ),
                Err(e) => panic!(
                    "round trip failed: {text:?} printed as {printed:?}, which does not parse: {e}"
                ),
            }
        }
        Err(e) => {
            let chars = text.chars().count();
            assert!(
                (1..=chars + 1).contains(&e.column),
                "error column {} outside 1..={} for {text:?}: {e}",
                e.column,
                chars + 1
            );
        }
    }
});
