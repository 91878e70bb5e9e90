//! Fuzz the `.jsonl` extractor: `lookout::extract::extract` on arbitrary bytes under a fixed
//! `.jsonl` file name. Any panic (or a very slow input) is a bug; errors are fine, but every
//! message is one line and the warnings stay bounded.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use lookout::extract::warning::MAX_DETAILED_WARNINGS;

fuzz_target!(|data: &[u8]| {
    match lookout::extract::extract(Path::new("fuzz.jsonl"), data) {
        Ok(found) => {
            assert!(!found.documents.is_empty());
            assert!(found.warnings.detailed().len() <= MAX_DETAILED_WARNINGS);
            assert!(!found.warnings.summary().contains('\n'));
        }
        Err(e) => assert!(!e.to_string().contains('\n'), "{e}"),
    }
});
