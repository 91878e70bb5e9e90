//! Fuzz the phrase matcher, `lookout::query::positions`: Lucene's sloppy phrase over token
//! positions, which the matcher and the index share.
//!
//! The input describes a text of word ids (repeated, so that a short input makes a long text),
//! a phrase over those words (repeated words welcome) and a slop. Checks, besides "never
//! panics":
//! - on texts short enough for the plain definition (`positions::reference`, quadratic), the
//!   sweep finds the same matches and the same highlight windows;
//! - a time budget per input, linear in the phrase's length times its position lists: a slow
//!   input is a finding (the repeated-word comparison of issue 9 was quadratic in the text).
//!   The budget is CPU time of this thread (`cpu_clock.rs`), so a loaded machine does not
//!   make a fast input look slow.
#![no_main]

use std::time::Duration;

#[path = "cpu_clock.rs"]
mod cpu_clock;
use cpu_clock::CpuClock;

use libfuzzer_sys::fuzz_target;
use lookout::query::positions::{all_matches, phrase_matches, reference};

const BASE: Duration = Duration::from_millis(50);
/// Allowed per entry of the phrase's position lists (a repeated word counts once per use).
const PER_ENTRY: Duration = Duration::from_nanos(2_000);
/// Texts up to this many positions are also checked against the plain definition.
const ORACLE_MAX: usize = 600;

fuzz_target!(|data: &[u8]| {
    // [slop, words, repeat_hi, repeat_lo, phrase_len, phrase..., text...]
    let [slop, words, repeat_hi, repeat_lo, phrase_len, rest @ ..] = data else {
        return;
    };
    let words = usize::from(*words % 8) + 1;
    let phrase_len = usize::from(*phrase_len % 24) + 1;
    if rest.len() < phrase_len + 1 {
        return;
    }
    let (phrase, pattern) = rest.split_at(phrase_len);
    // Up to about 30,000 positions: long enough for quadratic work to blow the budget,
    // short enough to fuzz hundreds of inputs a second.
    let repeat = (usize::from(u16::from_be_bytes([*repeat_hi, *repeat_lo])) + 1)
        .min(30_000 / pattern.len());
    // Slops 0..=15 mostly, sometimes large.
    let slop = match slop {
        0..=239 => u32::from(slop % 16),
        big => u32::from(*big) * 1000,
    };
    let mut lists = vec![Vec::new(); words];
    let mut position = 0u32;
    for _ in 0..repeat {
        for &b in pattern {
            // Byte values past the vocabulary are gaps (other words).
            let word = usize::from(b % 12);
            if let Some(list) = lists.get_mut(word) {
                list.push(position);
            }
            position += 1;
        }
    }
    let positions: Vec<&[u32]> = phrase
        .iter()
        .map(|&b| lists[usize::from(b) % words].as_slice())
        .collect();
    let entries: usize = positions.iter().map(|p| p.len()).sum();

    let started = CpuClock::now();
    let matched = phrase_matches(&positions, slop);
    let windows: Vec<(u32, u32)> = all_matches(&positions, slop).collect();
    let took = started.elapsed();
    assert_eq!(matched, !windows.is_empty(), "phrase_matches and all_matches disagree");
    let budget = BASE + PER_ENTRY * (entries + phrase_len) as u32;
    assert!(
        took <= budget,
        "slow input: {phrase_len} words, {entries} positions, slop {slop} took {took:?} (budget {budget:?})"
    );
    if (position as usize) <= ORACLE_MAX {
        assert_eq!(matched, reference::phrase_matches(&positions, slop));
        let plain: Vec<(u32, u32)> = reference::all_matches(&positions, slop).collect();
        assert_eq!(windows, plain, "windows differ from the definition");
    }
});
