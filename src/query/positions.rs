//! What a phrase means over token positions, in one place for the matcher and the index.
//!
//! Lucene's semantics: the i-th phrase term at position `p_i` sits at "phrase position"
//! `p_i - i`; the phrase matches when the spread `max(p_i - i) - min(p_i - i)` is at most the
//! slop, with repeated terms at distinct positions. Slop 0 is the exact phrase; a swap of two
//! words costs 2.
//!
//! Said with an anchor `a`: the phrase matches at `a` when each term i can take a position in
//! `[a + i, a + i + slop]`, repeated terms at distinct positions. The greedy choice (each term
//! its smallest free position, in phrase order) is optimal, and its choices only grow with `a`.
//! So one sweep finds every match: each term keeps a cursor into its positions that only moves
//! forward, and the anchor jumps straight to the next value that can match. The work is
//! `O((m + N) log m)` for a phrase of m terms whose position lists hold N entries in all
//! (a repeated word counts its list once per repetition), whatever the words and the slop.
//! [`reference`] keeps the plain definition (quadratic) as the oracle of the tests.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// `positions[i]` are the sorted positions of the i-th phrase term in one field.
pub fn phrase_matches(positions: &[&[u32]], slop: u32) -> bool {
    if positions.is_empty() || positions.iter().any(|p| p.is_empty()) {
        return false;
    }
    if slop == 0 {
        return exact_match(positions);
    }
    Sweep::new(positions, slop, false).is_some_and(|mut sweep| sweep.next_feasible().is_some())
}

/// The first window `[start, end]` (token positions) where the phrase matches, if any.
pub fn first_match(positions: &[&[u32]], slop: u32) -> Option<(u32, u32)> {
    all_matches(positions, slop).next()
}

/// Every window where the phrase matches, ordered by their anchor (for highlighting): at each
/// anchor the greedy window, skipping windows that overlap the one before.
pub fn all_matches<'a>(
    positions: &'a [&'a [u32]],
    slop: u32,
) -> impl Iterator<Item = (u32, u32)> + 'a {
    let mut sweep = if positions.is_empty() || positions.iter().any(|p| p.is_empty()) {
        None
    } else {
        Sweep::new(positions, slop, true)
    };
    let mut last_end: Option<u32> = None;
    std::iter::from_fn(move || {
        let sweep = sweep.as_mut()?;
        loop {
            let (start, end) = sweep.next_feasible()?;
            match last_end {
                // Overlapping windows found from neighbouring anchors are one match. Every
                // anchor up to the start cursor's own phrase position keeps that cursor (the
                // first of its word), so the window keeps starting there: skip past it.
                Some(last) if start <= last => sweep.skip_start(),
                _ => {
                    last_end = Some(end);
                    // An anchor in between whose window starts after `end` has the same
                    // window as `end + 2 - m`: jump there.
                    sweep.after_window(end);
                    return Some((start, end));
                }
            }
        }
    })
}

/// Exact phrase: drive by the rarest term, check the others rarest first.
fn exact_match(positions: &[&[u32]]) -> bool {
    let mut order: Vec<usize> = (0..positions.len()).collect();
    order.sort_by_key(|&i| positions[i].len());
    let (&driver, rest) = match order.split_first() {
        Some(split) => split,
        None => return false,
    };
    positions[driver].iter().any(|&p| {
        let start = i64::from(p) - driver as i64;
        start >= 0
            && rest.iter().all(|&i| {
                u32::try_from(start + i as i64)
                    .is_ok_and(|want| positions[i].binary_search(&want).is_ok())
            })
    })
}

/// The sweep over anchors (see the module documentation).
struct Sweep<'a> {
    lists: &'a [&'a [u32]],
    slop: i64,
    /// The current anchor.
    anchor: i64,
    /// Per term: index of its cursor in its list.
    at: Vec<usize>,
    /// Per term: the previous / next term of the phrase with the same positions (the same
    /// word), whose positions must differ from this one's.
    prev_same: Vec<Option<usize>>,
    next_same: Vec<Option<usize>>,
    /// Phrase positions `p_i - i` of the cursors, smallest first (stale entries skipped).
    by_phrase_position: BinaryHeap<Reverse<(i64, usize)>>,
    /// Positions of the cursors, smallest first (only kept for windows).
    by_position: Option<BinaryHeap<Reverse<(u32, usize)>>>,
    /// The largest phrase position and the largest position of any cursor (cursors only move
    /// forward, so these only grow).
    max_phrase_position: i64,
    max_position: u32,
}

impl<'a> Sweep<'a> {
    /// A sweep at the first anchor, or `None` when some term can never be placed.
    fn new(lists: &'a [&'a [u32]], slop: u32, windows: bool) -> Option<Sweep<'a>> {
        let m = lists.len();
        let (prev_same, next_same) = same_words(lists);
        let mut anchor = i64::MAX;
        for (i, ps) in lists.iter().enumerate() {
            anchor = anchor.min(i64::from(*ps.first()?) - i as i64);
        }
        if lists.is_empty() {
            return None;
        }
        let mut sweep = Sweep {
            lists,
            slop: i64::from(slop),
            anchor,
            at: vec![0; m],
            prev_same,
            next_same,
            by_phrase_position: BinaryHeap::with_capacity(2 * m),
            by_position: windows.then(|| BinaryHeap::with_capacity(2 * m)),
            max_phrase_position: i64::MIN,
            max_position: 0,
        };
        // The greedy choice at the first anchor, in phrase order.
        for i in 0..m {
            let floor = sweep.floor(i);
            sweep.place(i, floor)?;
        }
        Some(sweep)
    }

    fn position(&self, i: usize) -> u32 {
        self.lists[i][self.at[i]]
    }

    fn phrase_position(&self, i: usize) -> i64 {
        i64::from(self.position(i)) - i as i64
    }

    /// The smallest position term i may take at the current anchor.
    fn floor(&self, i: usize) -> i64 {
        let own = self.anchor + i as i64;
        match self.prev_same[i] {
            Some(j) => own.max(i64::from(self.position(j)) + 1),
            None => own,
        }
    }

    /// Move term i's cursor to its first position at or after `floor` (never backwards).
    fn place(&mut self, i: usize, floor: i64) -> Option<()> {
        let list = self.lists[i];
        let floor = u32::try_from(floor.max(0)).ok()?;
        let from = self.at[i];
        let at = from + list.get(from..)?.partition_point(|&p| p < floor);
        let position = *list.get(at)?;
        self.at[i] = at;
        let phrase_position = i64::from(position) - i as i64;
        self.by_phrase_position.push(Reverse((phrase_position, i)));
        if let Some(heap) = &mut self.by_position {
            heap.push(Reverse((position, i)));
        }
        self.max_phrase_position = self.max_phrase_position.max(phrase_position);
        self.max_position = self.max_position.max(position);
        let entries = self
            .by_position
            .as_ref()
            .map_or(0, BinaryHeap::len)
            .max(self.by_phrase_position.len());
        if entries > 4 * self.lists.len() + 64 {
            self.compact();
        }
        Some(())
    }

    /// Drop the stale heap entries (each move pushes one), so the heaps stay O(m).
    fn compact(&mut self) {
        let m = self.lists.len();
        self.by_phrase_position = (0..m)
            .map(|i| Reverse((self.phrase_position(i), i)))
            .collect();
        if self.by_position.is_some() {
            self.by_position = Some((0..m).map(|i| Reverse((self.position(i), i))).collect());
        }
    }

    /// Move term i to its greedy place at the current anchor, then the later terms of the
    /// same word that it now collides with.
    fn advance(&mut self, i: usize) -> Option<()> {
        let floor = self.floor(i);
        self.place(i, floor)?;
        let mut current = i;
        while let Some(next) = self.next_same[current] {
            if self.position(next) > self.position(current) {
                break;
            }
            let floor = self.floor(next);
            self.place(next, floor)?;
            current = next;
        }
        Some(())
    }

    /// Bring every cursor to the greedy choice at the current anchor: the cursors whose phrase
    /// position fell below the anchor move (the others keep their place, as greedy would).
    fn settle(&mut self) -> Option<()> {
        while let Some(&Reverse((phrase_position, i))) = self.by_phrase_position.peek() {
            if phrase_position >= self.anchor {
                break;
            }
            self.by_phrase_position.pop();
            if phrase_position != self.phrase_position(i) {
                continue; // stale: that cursor moved on since
            }
            self.advance(i)?;
        }
        Some(())
    }

    /// From the current anchor on, the first anchor where the phrase matches: its window.
    fn next_feasible(&mut self) -> Option<(u32, u32)> {
        loop {
            self.settle()?;
            if self.max_phrase_position <= self.anchor + self.slop {
                return Some((self.min_position(), self.max_position));
            }
            // Every anchor below `max - slop` keeps that phrase position out of reach.
            self.anchor = self.max_phrase_position - self.slop;
        }
    }

    /// The smallest position of any cursor (windows only; 0 otherwise).
    fn min_position(&mut self) -> u32 {
        let Some(heap) = &mut self.by_position else {
            return 0;
        };
        while let Some(&Reverse((position, i))) = heap.peek() {
            if position == self.lists[i][self.at[i]] {
                return position;
            }
            heap.pop();
        }
        0
    }

    /// The window at the current anchor overlaps the last one: move to the first anchor that
    /// moves the cursor the window starts at.
    fn skip_start(&mut self) {
        let start = self.min_position();
        let holder = self
            .by_position
            .as_ref()
            .and_then(|heap| heap.peek())
            .map(|&Reverse((_, i))| i);
        let next = match holder {
            Some(i) if self.position(i) == start => self.phrase_position(i) + 1,
            _ => self.anchor + 1,
        };
        self.anchor = next.max(self.anchor + 1);
    }

    /// A window ending at `end` was reported: go on from the first anchor whose window can
    /// start after it.
    fn after_window(&mut self, end: u32) {
        let m = self.lists.len() as i64;
        self.anchor = (self.anchor + 1).max(i64::from(end) + 2 - m);
    }
}

/// For each term, the previous and the next term of the phrase with the same position list.
/// Lists of different words are disjoint (one token per position), so equal lists are the same
/// word; candidates are found by sorting on (first position, length), contents compared only
/// between candidates.
fn same_words(lists: &[&[u32]]) -> (Vec<Option<usize>>, Vec<Option<usize>>) {
    let m = lists.len();
    let mut prev_same = vec![None; m];
    let mut next_same = vec![None; m];
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by_key(|&i| (lists[i].first().copied(), lists[i].len(), i));
    let mut run_start = 0;
    while run_start < order.len() {
        let key = |i: usize| (lists[i].first().copied(), lists[i].len());
        let mut run_end = run_start + 1;
        while run_end < order.len() && key(order[run_end]) == key(order[run_start]) {
            run_end += 1;
        }
        // Within a run (ascending phrase order), link each term to the last earlier one with
        // equal contents.
        let run = &order[run_start..run_end];
        for (k, &i) in run.iter().enumerate() {
            if let Some(&j) = run[..k].iter().rev().find(|&&j| lists[j] == lists[i]) {
                prev_same[i] = Some(j);
                next_same[j] = Some(i);
            }
        }
        run_start = run_end;
    }
    (prev_same, next_same)
}

/// The plain definition, quadratic in the worst case: the oracle of the tests and of the fuzz
/// target that checks the sweep. Not for production use.
#[doc(hidden)]
pub mod reference {
    /// Whether the phrase matches: tries every anchor any term reaches.
    pub fn phrase_matches(positions: &[&[u32]], slop: u32) -> bool {
        all_matches(positions, slop).next().is_some()
    }

    /// Every window, as [`super::all_matches`] defines them.
    pub fn all_matches<'a>(
        positions: &'a [&'a [u32]],
        slop: u32,
    ) -> impl Iterator<Item = (u32, u32)> + 'a {
        let empty = positions.is_empty() || positions.iter().any(|p| p.is_empty());
        let mut anchors: Vec<i64> = if empty {
            Vec::new()
        } else {
            positions
                .iter()
                .enumerate()
                .flat_map(|(i, ps)| ps.iter().map(move |&p| i64::from(p) - i as i64))
                .collect()
        };
        anchors.sort_unstable();
        anchors.dedup();
        let mut last_end = None;
        anchors.into_iter().filter_map(move |anchor| {
            let window = window_at(positions, anchor, i64::from(slop))?;
            if last_end.is_some_and(|end| window.0 <= end) {
                return None;
            }
            last_end = Some(window.1);
            Some(window)
        })
    }

    /// Greedy placement at one anchor: each term its smallest position in
    /// `[anchor + i, anchor + i + slop]` after the earlier terms with equal positions.
    fn window_at(positions: &[&[u32]], anchor: i64, slop: i64) -> Option<(u32, u32)> {
        let mut chosen = vec![0u32; positions.len()];
        for (i, ps) in positions.iter().enumerate() {
            let low = anchor + i as i64;
            let mut floor = low;
            for (j, earlier) in positions[..i].iter().enumerate() {
                if *earlier == *ps {
                    floor = floor.max(i64::from(chosen[j]) + 1);
                }
            }
            let floor = u32::try_from(floor.max(0)).ok()?;
            let p = *ps.get(ps.partition_point(|&p| p < floor))?;
            if i64::from(p) > low + slop {
                return None;
            }
            chosen[i] = p;
        }
        Some((*chosen.iter().min()?, *chosen.iter().max()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn m(positions: &[&[u32]], slop: u32) -> bool {
        let fast = phrase_matches(positions, slop);
        assert_eq!(fast, reference::phrase_matches(positions, slop));
        fast
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

    #[test]
    fn a_repeated_word_on_a_long_text_is_one_sweep() {
        // Issue 9: "bank bank"~1 against "the bank said" repeated: bank every 3 positions.
        let bank: Vec<u32> = (0..200_000).map(|k| 3 * k + 1).collect();
        let lists: [&[u32]; 2] = [&bank, &bank];
        assert!(!phrase_matches(&lists, 1));
        assert!(phrase_matches(&lists, 2));
        assert_eq!(all_matches(&lists, 1).count(), 0);
        // Slop 2: windows (1,4), then (7,10), ... each pair once.
        let windows: Vec<_> = all_matches(&lists, 2).take(3).collect();
        assert_eq!(windows, vec![(1, 4), (7, 10), (13, 16)]);
    }

    /// Lists of up to `terms` words over positions 0..span, one word per position; the phrase
    /// picks words by index (so words repeat).
    fn arb_phrase() -> impl Strategy<Value = (Vec<Vec<u32>>, Vec<usize>, u32)> {
        (1usize..5, 4u32..40).prop_flat_map(|(words, span)| {
            (
                prop::collection::vec(0..words, span as usize),
                prop::collection::vec(0..words, 1..6),
                prop_oneof![Just(0u32), 0u32..6, Just(40u32)],
            )
                .prop_map(move |(text, phrase, slop)| {
                    let mut lists = vec![Vec::new(); words];
                    for (position, &word) in text.iter().enumerate() {
                        lists[word].push(position as u32);
                    }
                    (lists, phrase, slop)
                })
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]
        /// The sweep finds exactly the matches and windows of the plain definition.
        #[test]
        fn sweep_equals_the_definition((lists, phrase, slop) in arb_phrase()) {
            let positions: Vec<&[u32]> = phrase.iter().map(|&w| lists[w].as_slice()).collect();
            prop_assert_eq!(
                phrase_matches(&positions, slop),
                reference::phrase_matches(&positions, slop)
            );
            let fast: Vec<_> = all_matches(&positions, slop).collect();
            let plain: Vec<_> = reference::all_matches(&positions, slop).collect();
            prop_assert_eq!(fast, plain);
            // Separate but equal buffers (as the index reads them) mean the same word.
            let copies: Vec<Vec<u32>> = positions.iter().map(|p| p.to_vec()).collect();
            let copied: Vec<&[u32]> = copies.iter().map(Vec::as_slice).collect();
            prop_assert_eq!(
                phrase_matches(&copied, slop),
                phrase_matches(&positions, slop)
            );
        }
    }
}
