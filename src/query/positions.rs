//! What a phrase means over token positions, in one place for the matcher and the index.
//!
//! Lucene's semantics: the i-th phrase term at position `p_i` sits at "phrase position"
//! `p_i - i`; the phrase matches when the spread `max(p_i - i) - min(p_i - i)` is at most the
//! slop, with repeated terms at distinct positions. Slop 0 is the exact phrase; a swap of two
//! words costs 2.

/// `positions[i]` are the sorted positions of the i-th phrase term in one field.
pub fn phrase_matches(positions: &[&[u32]], slop: u32) -> bool {
    if positions.is_empty() || positions.iter().any(|p| p.is_empty()) {
        return false;
    }
    if slop == 0 {
        // Exact: term i at p + i for some position p of the first term.
        return positions[0].iter().any(|&p| {
            positions[1..].iter().enumerate().all(|(i, ps)| {
                p.checked_add(i as u32 + 1)
                    .is_some_and(|want| ps.binary_search(&want).is_ok())
            })
        });
    }
    // Any anchor a phrase position reaches; trying one twice is harmless.
    positions.iter().enumerate().any(|(i, ps)| {
        ps.iter()
            .any(|&p| window_at(positions, i64::from(p) - i as i64, i64::from(slop)).is_some())
    })
}

/// The first window `[start, end]` (token positions) where the phrase matches, if any.
pub fn first_match(positions: &[&[u32]], slop: u32) -> Option<(u32, u32)> {
    all_matches(positions, slop).next()
}

/// Every window where the phrase matches, ordered by their anchor (for highlighting).
pub fn all_matches<'a>(
    positions: &'a [&'a [u32]],
    slop: u32,
) -> impl Iterator<Item = (u32, u32)> + 'a {
    let empty = positions.is_empty() || positions.iter().any(|p| p.is_empty());
    // Candidate anchors: every phrase position `p - i` any term reaches, ascending.
    let mut anchors: Vec<i64> = if empty {
        Vec::new()
    } else if slop == 0 {
        positions[0].iter().map(|&p| i64::from(p)).collect()
    } else {
        let mut all: Vec<i64> = positions
            .iter()
            .enumerate()
            .flat_map(|(i, ps)| ps.iter().map(move |&p| i64::from(p) - i as i64))
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    };
    if empty {
        anchors.clear();
    }
    let mut last_end = None;
    anchors.into_iter().filter_map(move |anchor| {
        let window = window_at(positions, anchor, i64::from(slop))?;
        // Overlapping windows found from neighbouring anchors are one match.
        if last_end.is_some_and(|end| window.0 <= end) {
            return None;
        }
        last_end = Some(window.1);
        Some(window)
    })
}

/// Pick, for each term i, a position in `[anchor + i, anchor + i + slop]`, repeated terms at
/// distinct positions (greedy, smallest first: the intervals of one term are ordered, so greedy
/// is optimal). Returns the span of the chosen positions.
fn window_at(positions: &[&[u32]], anchor: i64, slop: i64) -> Option<(u32, u32)> {
    const INLINE: usize = 16;
    let mut inline = [0u32; INLINE];
    let mut spilled = Vec::new();
    let chosen: &mut [u32] = if positions.len() <= INLINE {
        &mut inline[..positions.len()]
    } else {
        spilled.resize(positions.len(), 0);
        &mut spilled
    };
    for (i, ps) in positions.iter().enumerate() {
        let low = anchor + i as i64;
        let high = low + slop;
        // Distinct from earlier picks of the same term: later picks of a term come after.
        let mut floor = low;
        for (j, earlier) in positions[..i].iter().enumerate() {
            if *earlier == *ps {
                floor = floor.max(i64::from(chosen[j]) + 1);
            }
        }
        let floor = u32::try_from(floor.max(0)).ok()?;
        let idx = ps.partition_point(|&p| p < floor);
        let p = *ps.get(idx)?;
        if i64::from(p) > high {
            return None;
        }
        chosen[i] = p;
    }
    let start = *chosen.iter().min()?;
    let end = *chosen.iter().max()?;
    Some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(positions: &[&[u32]], slop: u32) -> bool {
        phrase_matches(positions, slop)
    }

    #[test]
    fn exact_phrase_needs_consecutive_positions() {
        assert!(m(&[&[3], &[4]], 0));
        assert!(!m(&[&[3], &[5]], 0));
        assert!(!m(&[&[4], &[3]], 0));
        assert!(m(&[&[1, 7], &[2, 9], &[3, 10]], 0));
    }

    #[test]
    fn slop_counts_moves_and_a_swap_costs_two() {
        // "a b"~1 matches "a x b"
        assert!(m(&[&[0], &[2]], 1));
        assert!(!m(&[&[0], &[3]], 1));
        // "a b" against "b a": a at 1, b at 0
        assert!(!m(&[&[1], &[0]], 1));
        assert!(m(&[&[1], &[0]], 2));
        // three terms: "a b c"~2 against "a x b x c"? a0 b2 c4 -> 0,1,2 -> spread 2
        assert!(m(&[&[0], &[2], &[4]], 2));
        assert!(!m(&[&[0], &[2], &[4]], 1));
    }

    #[test]
    fn repeated_terms_need_distinct_positions() {
        // "a a" against a single "a": no match whatever the slop.
        let a: &[u32] = &[5];
        assert!(!m(&[a, a], 10));
        let a2: &[u32] = &[5, 7];
        assert!(m(&[a2, a2], 1));
        assert!(!m(&[a2, a2], 0));
    }

    #[test]
    fn missing_term_never_matches() {
        assert!(!m(&[&[1], &[]], 5));
        assert!(!m(&[], 0));
    }
}
