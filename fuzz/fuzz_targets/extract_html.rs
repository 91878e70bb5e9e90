//! Fuzz the `.html` extractor: `lookout::extract::extract` on arbitrary bytes under a fixed
//! `.html` file name. Any panic (or a very slow input) is a bug; errors are fine.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = lookout::extract::extract(Path::new("fuzz.html"), data);
});
