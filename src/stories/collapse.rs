//! Search hits collapsed by story: one group per story among a ranked list of hits, its
//! representative the best-ranked of its members, and a page over the groups. Pure: the
//! caller gives the hits' documents in rank order and the story each one belongs to (a
//! document without a known story is its own story: its story id is its own id).

use std::collections::HashMap;
use std::ops::Range;

use crate::document::DocId;

/// One story among the hits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoryGroup {
    /// The story's id (the DocId of its first document).
    pub story: DocId,
    /// The rank (index in the hits given) of its best-ranked member: the hit shown for it.
    pub representative: usize,
    /// How many of the hits given belong to it, its representative included (at least 1).
    pub members: usize,
}

impl StoryGroup {
    /// The other hits of its story: the copies shown as "+N copies".
    pub fn copies(&self) -> usize {
        self.members - 1
    }
}

/// Group `hits` (documents in rank order, best first) by story, in the order of each story's
/// best-ranked member. `story_of` holds the story of the documents that have a known one; any
/// other document is a story of its own. A document listed twice counts once.
pub fn group_by_story(hits: &[DocId], story_of: &HashMap<DocId, DocId>) -> Vec<StoryGroup> {
    let mut groups: Vec<StoryGroup> = Vec::new();
    let mut slot_of: HashMap<&DocId, usize> = HashMap::with_capacity(hits.len());
    let mut seen: std::collections::HashSet<&DocId> =
        std::collections::HashSet::with_capacity(hits.len());
    for (rank, doc) in hits.iter().enumerate() {
        if !seen.insert(doc) {
            continue;
        }
        let story = story_of.get(doc).unwrap_or(doc);
        match slot_of.get(story) {
            Some(&slot) => groups[slot].members += 1,
            None => {
                slot_of.insert(story, groups.len());
                groups.push(StoryGroup {
                    story: story.clone(),
                    representative: rank,
                    members: 1,
                });
            }
        }
    }
    groups
}

/// The groups `offset..offset + limit` of `groups` groups, clamped (empty past the end).
pub fn page(groups: usize, offset: usize, limit: usize) -> Range<usize> {
    let start = offset.min(groups);
    let end = start.saturating_add(limit).min(groups);
    start..end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> DocId {
        DocId(s.to_string())
    }

    fn stories(pairs: &[(&str, &str)]) -> HashMap<DocId, DocId> {
        pairs.iter().map(|(d, s)| (id(d), id(s))).collect()
    }

    fn hits(ids: &[&str]) -> Vec<DocId> {
        ids.iter().map(|s| id(s)).collect()
    }

    #[test]
    fn copies_join_their_story_at_its_best_ranked_member() {
        // a is the original; b and d are its copies; c is distinct. d outranks a.
        let known = stories(&[("a", "a"), ("b", "a"), ("d", "a"), ("c", "c")]);
        let groups = group_by_story(&hits(&["d", "c", "a", "b"]), &known);
        assert_eq!(
            groups,
            vec![
                StoryGroup {
                    story: id("a"),
                    representative: 0,
                    members: 3
                },
                StoryGroup {
                    story: id("c"),
                    representative: 1,
                    members: 1
                },
            ]
        );
        assert_eq!(groups[0].copies(), 2);
        assert_eq!(groups[1].copies(), 0);
    }

    #[test]
    fn documents_without_a_story_row_are_their_own_story() {
        // x has no row; the original o's row was pruned, its copy y still points at it.
        let known = stories(&[("y", "o")]);
        let groups = group_by_story(&hits(&["x", "o", "y", "z"]), &known);
        let shown: Vec<(&str, usize, usize)> = groups
            .iter()
            .map(|g| (g.story.0.as_str(), g.representative, g.members))
            .collect();
        assert_eq!(shown, [("x", 0, 1), ("o", 1, 2), ("z", 3, 1)]);
    }

    #[test]
    fn ties_keep_the_ranked_order() {
        // Equal scores arrive in the order the index ranked them: the first one represents.
        let known = stories(&[("p", "s"), ("q", "s"), ("r", "s")]);
        let groups = group_by_story(&hits(&["q", "p", "r"]), &known);
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].representative, 0);
        assert_eq!(groups[0].members, 3);
        let groups = group_by_story(&hits(&["r", "q", "p"]), &known);
        assert_eq!(groups[0].representative, 0);
    }

    #[test]
    fn a_document_listed_twice_counts_once() {
        let known = stories(&[("b", "a")]);
        let groups = group_by_story(&hits(&["a", "b", "b", "a"]), &known);
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].members, 2);
    }

    #[test]
    fn no_hits_no_groups() {
        assert!(group_by_story(&[], &HashMap::new()).is_empty());
        assert_eq!(page(0, 0, 10), 0..0);
    }

    #[test]
    fn pages_are_over_groups_and_clamped() {
        assert_eq!(page(5, 0, 2), 0..2);
        assert_eq!(page(5, 2, 2), 2..4);
        assert_eq!(page(5, 4, 2), 4..5);
        assert_eq!(page(5, 5, 2), 5..5);
        assert_eq!(page(5, 100, 2), 5..5);
        assert_eq!(page(5, 1, 0), 1..1);
        assert_eq!(page(5, 1, usize::MAX), 1..5);
        assert_eq!(page(5, usize::MAX, usize::MAX), 5..5);
    }

    proptest::proptest! {
        /// Every hit is in exactly one group; groups are ordered by their representative; a
        /// group's representative is its best-ranked member.
        #[test]
        fn groups_partition_the_hits(
            docs in proptest::collection::vec(0u8..40, 0..60),
            rows in proptest::collection::vec((0u8..40, 0u8..10), 0..40),
        ) {
            let hits: Vec<DocId> = {
                let mut seen = std::collections::HashSet::new();
                docs.iter().filter(|d| seen.insert(**d)).map(|d| id(&format!("d{d}"))).collect()
            };
            let known: HashMap<DocId, DocId> = rows
                .iter()
                .map(|(d, s)| (id(&format!("d{d}")), id(&format!("s{s}"))))
                .collect();
            let groups = group_by_story(&hits, &known);
            let total: usize = groups.iter().map(|g| g.members).sum();
            proptest::prop_assert_eq!(total, hits.len());
            for pair in groups.windows(2) {
                proptest::prop_assert!(pair[0].representative < pair[1].representative);
            }
            for group in &groups {
                let story_of = |d: &DocId| known.get(d).unwrap_or(d).clone();
                let first = hits.iter().position(|d| story_of(d) == group.story);
                proptest::prop_assert_eq!(first, Some(group.representative));
                let members = hits.iter().filter(|d| story_of(d) == group.story).count();
                proptest::prop_assert_eq!(members, group.members);
            }
        }
    }
}
