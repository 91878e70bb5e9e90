//! Fuzz the analyzer, `lookout::analysis::Analyzer::default().tokens`.
//!
//! Checks on every UTF-8 input: each token's text is non-empty; its byte offsets lie on char
//! boundaries of the input with `start < end`; offsets increase from token to token (a token
//! starts at or after the previous one's end); positions are 0, 1, 2, ... (one per token).
#![no_main]

use libfuzzer_sys::fuzz_target;
use lookout::analysis::Analyzer;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let tokens = Analyzer::default().tokens(text);
    let mut previous_end = 0;
    for (i, token) in tokens.iter().enumerate() {
        assert!(!token.text.is_empty(), "empty token {token:?} in {text:?}");
        assert!(
            token.start < token.end && token.end <= text.len(),
            "bad offsets {token:?} in {text:?}"
        );
        assert!(
            text.is_char_boundary(token.start) && text.is_char_boundary(token.end),
            "offsets not on char boundaries {token:?} in {text:?}"
        );
        assert!(
            token.start >= previous_end,
            "token {token:?} starts before the previous token's end {previous_end} in {text:?}"
        );
        assert_eq!(
            token.position as usize, i,
            "position of token {token:?} is not its index {i} in {text:?}"
        );
        previous_end = token.end;
    }
});
