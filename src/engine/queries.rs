//! The saved queries the engine runs, each under a stable [`QueryId`]: its spec as written
//! (name, text, webhooks, the file that holds it), and either its compiled form or why it does
//! not parse ([`crate::config::QueryProblem`]). This is the one copy: the percolator files the compiled
//! queries under the same ids and answers with them, alerts, webhook routes, `GET /queries`
//! and the status read the entries here.
//!
//! Ids are dense slots; a removed query's slot goes to a free list and is given to the next
//! new query, so the tables indexed by id stay as long as the most queries ever held at once.
//! A query changed in place keeps its id.

use std::path::Path;
use std::sync::Arc;

use crate::config::{parse_queries, QuerySpec};
use crate::matcher::QueryId;
use crate::query::{self, Lint, Query, QueryError, QueryLimits, SharedQuery};

/// A saved query: what it says, and whether it runs.
#[derive(Debug, Clone)]
pub struct QueryEntry {
    pub spec: QuerySpec,
    pub state: QueryState,
}

/// Whether a saved query runs.
#[derive(Debug, Clone)]
pub enum QueryState {
    /// Compiled and filed in the percolator; `lints` warn about how it reads.
    Active {
        query: SharedQuery,
        lints: Vec<Lint>,
    },
    /// It does not parse: left out (listed as invalid, with the error).
    Invalid(QueryError),
}

impl QueryEntry {
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// The compiled query, when it runs.
    pub fn query(&self) -> Option<&Query> {
        self.shared_query().map(|q| &**q)
    }

    /// The compiled query, as the percolator holds it too.
    pub fn shared_query(&self) -> Option<&SharedQuery> {
        match &self.state {
            QueryState::Active { query, .. } => Some(query),
            QueryState::Invalid(_) => None,
        }
    }

    pub fn lints(&self) -> &[Lint] {
        match &self.state {
            QueryState::Active { lints, .. } => lints,
            QueryState::Invalid(_) => &[],
        }
    }

    pub fn error(&self) -> Option<&QueryError> {
        match &self.state {
            QueryState::Invalid(error) => Some(error),
            QueryState::Active { .. } => None,
        }
    }

    fn compiled(spec: QuerySpec, limits: QueryLimits) -> QueryEntry {
        let parsed = query::parse_with_limits(&spec.text, limits);
        QueryEntry::parsed(spec, parsed)
    }

    fn parsed(spec: QuerySpec, parsed: Result<query::Parsed, QueryError>) -> QueryEntry {
        let state = match parsed {
            Ok(parsed) => QueryState::Active {
                query: parsed.query.into(),
                lints: parsed.lints,
            },
            Err(error) => QueryState::Invalid(error),
        };
        QueryEntry { spec, state }
    }
}

/// What a change of the query set did to the percolator: queries filed (new or with a new
/// meaning) and withdrawn, by id.
#[derive(Debug, Default)]
pub struct QueryChanges {
    pub filed: Vec<QueryId>,
    pub withdrawn: Vec<QueryId>,
    /// Whether the webhook routes changed (a query naming webhooks added, changed, removed).
    pub routes_changed: bool,
}

impl QueryChanges {
    pub fn len(&self) -> usize {
        self.filed.len() + self.withdrawn.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The saved queries, by id and by name, in configuration order.
#[derive(Debug, Default)]
pub struct QuerySet {
    slots: Vec<Option<QueryEntry>>,
    free: Vec<QueryId>,
    /// (Seeded at random: names come from the API too.)
    by_name: foldhash::HashMap<Arc<str>, QueryId>,
    /// Configuration order (listings, the specs handed back to the configuration).
    order: Vec<QueryId>,
    limits: QueryLimits,
    active: usize,
    /// Moves on at every change: matches computed on another generation may name other
    /// queries under the same ids.
    generation: u64,
}

impl QuerySet {
    /// Compile `specs` (those that do not parse are kept as invalid entries).
    pub fn compile(specs: Vec<QuerySpec>, limits: QueryLimits) -> QuerySet {
        let mut set = QuerySet {
            limits,
            ..QuerySet::default()
        };
        let parsed = parse_queries(&specs, limits);
        set.slots.reserve(specs.len());
        set.order.reserve(specs.len());
        set.by_name.reserve(specs.len());
        for (spec, parsed) in specs.into_iter().zip(parsed) {
            set.insert(QueryEntry::parsed(spec, parsed));
        }
        set
    }

    pub fn limits(&self) -> QueryLimits {
        self.limits
    }

    /// The number of changes so far (see [`QuerySet::replace_all`], [`QuerySet::put`],
    /// [`QuerySet::remove`]).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn get(&self, id: QueryId) -> Option<&QueryEntry> {
        self.slots.get(id.slot()).and_then(Option::as_ref)
    }

    pub fn id_of(&self, name: &str) -> Option<QueryId> {
        self.by_name.get(name).copied()
    }

    pub fn by_name(&self, name: &str) -> Option<(QueryId, &QueryEntry)> {
        let id = self.id_of(name)?;
        self.get(id).map(|entry| (id, entry))
    }

    /// Every entry, in configuration order.
    pub fn iter(&self) -> impl Iterator<Item = (QueryId, &QueryEntry)> {
        self.order
            .iter()
            .filter_map(|&id| self.get(id).map(|entry| (id, entry)))
    }

    /// The queries that run, with their ids (what the percolator is built from).
    pub fn compiled(&self) -> impl Iterator<Item = (QueryId, &SharedQuery)> {
        self.iter()
            .filter_map(|(id, entry)| entry.shared_query().map(|q| (id, q)))
    }

    /// Saved queries that run.
    pub fn active(&self) -> usize {
        self.active
    }

    /// Saved queries that do not parse.
    pub fn invalid(&self) -> usize {
        self.order.len() - self.active
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The specs, in configuration order (what a configuration holding these queries lists).
    pub fn specs(&self) -> Vec<QuerySpec> {
        self.iter().map(|(_, entry)| entry.spec.clone()).collect()
    }

    /// The file that holds the query `name`, if there is one.
    pub fn file_of(&self, name: &str) -> Option<&Path> {
        self.by_name(name).map(|(_, entry)| &*entry.spec.file)
    }

    /// Each query's name and the webhooks it names (`None`: every webhook): what webhook
    /// delivery routes by.
    pub fn routes(&self) -> Vec<crate::delivery::QueryRoute> {
        self.iter().map(|(_, entry)| entry.spec.route()).collect()
    }

    /// Compile `spec` and put it in place of the query of the same name (keeping its id), or
    /// add it. Returns its id and whether it is new.
    pub fn put(&mut self, spec: QuerySpec, changes: &mut QueryChanges) -> (QueryId, bool) {
        self.generation += 1;
        let entry = QueryEntry::compiled(spec, self.limits);
        self.put_entry(entry, changes)
    }

    /// Remove the query `name`; its id is free for the next new query.
    pub fn remove(&mut self, name: &str, changes: &mut QueryChanges) -> Option<QueryEntry> {
        self.generation += 1;
        let id = self.by_name.remove(name)?;
        let entry = self.slots.get_mut(id.slot()).and_then(Option::take)?;
        self.order.retain(|&other| other != id);
        self.free.push(id);
        if entry.query().is_some() {
            self.active -= 1;
            changes.withdrawn.push(id);
        }
        changes.routes_changed |= entry.spec.webhooks.is_some() || !entry.spec.delivery.is_empty();
        Some(entry)
    }

    /// Run exactly `specs` from now on (a configuration reload), in their order: a query
    /// whose text and webhooks did not change keeps its id and compiled form; the others are
    /// compiled; the ones not listed are removed.
    pub fn replace_all(&mut self, specs: Vec<QuerySpec>) -> QueryChanges {
        self.generation += 1;
        let mut changes = QueryChanges::default();
        let wanted: std::collections::HashSet<&str> = specs.iter().map(|s| &*s.name).collect();
        let gone: Vec<Arc<str>> = self
            .iter()
            .filter(|(_, e)| !wanted.contains(e.name()))
            .map(|(_, e)| e.spec.name.clone())
            .collect();
        for name in gone {
            self.remove(&name, &mut changes);
        }
        let mut order = Vec::with_capacity(specs.len());
        for spec in specs {
            let id = match self.by_name(&spec.name) {
                Some((id, entry)) if entry.spec.text == spec.text => {
                    changes.routes_changed |= !entry.spec.routes_like(&spec);
                    let entry = self.slots[id.slot()].as_mut();
                    if let Some(entry) = entry {
                        entry.spec = spec;
                    }
                    id
                }
                _ => self.put(spec, &mut changes).0,
            };
            order.push(id);
        }
        self.order = order;
        changes
    }

    fn put_entry(&mut self, entry: QueryEntry, changes: &mut QueryChanges) -> (QueryId, bool) {
        if let Some(id) = self.id_of(entry.name()) {
            let Some(old) = self.slots[id.slot()].replace(entry) else {
                return (id, false);
            };
            let new = self.slots[id.slot()].as_ref();
            let (before, after) = (old.query(), new.and_then(QueryEntry::query));
            match (before, after) {
                (Some(a), Some(b)) if a == b => {}
                (_, Some(_)) => changes.filed.push(id),
                (Some(_), None) => changes.withdrawn.push(id),
                (None, None) => {}
            }
            self.active =
                self.active + usize::from(after.is_some()) - usize::from(before.is_some());
            changes.routes_changed |= new.is_some_and(|n| !n.spec.routes_like(&old.spec));
            return (id, false);
        }
        changes.routes_changed |= entry.spec.webhooks.is_some() || !entry.spec.delivery.is_empty();
        let runs = entry.query().is_some();
        let id = self.insert(entry);
        if runs {
            changes.filed.push(id);
        }
        (id, true)
    }

    fn insert(&mut self, entry: QueryEntry) -> QueryId {
        let id = match self.free.pop() {
            Some(id) => id,
            None => {
                self.slots.push(None);
                QueryId::new((self.slots.len() - 1) as u32)
            }
        };
        if entry.query().is_some() {
            self.active += 1;
        }
        self.by_name.insert(Arc::clone(&entry.spec.name), id);
        self.order.push(id);
        self.slots[id.slot()] = Some(entry);
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, text: &str) -> QuerySpec {
        QuerySpec {
            name: name.into(),
            text: text.into(),
            webhooks: None,
            duplicates: None,
            delivery: Default::default(),
            file: std::path::Path::new("test").into(),
            line: None,
        }
    }

    #[test]
    fn ids_are_stable_and_freed_slots_reused() {
        let mut set = QuerySet::compile(
            vec![spec("a", "niger"), spec("b", "(("), spec("c", "mali")],
            QueryLimits::default(),
        );
        assert_eq!((set.active(), set.invalid()), (2, 1));
        let c = set.id_of("c").unwrap();
        let mut changes = QueryChanges::default();
        set.remove("a", &mut changes);
        assert_eq!(changes.withdrawn.len(), 1);
        assert_eq!(
            set.id_of("c"),
            Some(c),
            "removing a query renumbers no other"
        );
        let (d, created) = set.put(spec("d", "army"), &mut changes);
        assert!(created);
        assert_eq!(d, QueryId::new(0), "the freed slot is reused");
        assert_eq!(changes.filed, vec![d]);
        let names: Vec<&str> = set.iter().map(|(_, e)| e.name()).collect();
        assert_eq!(names, ["b", "c", "d"]);
        // Fixing the invalid query files it under its id.
        let b = set.id_of("b").unwrap();
        let mut changes = QueryChanges::default();
        set.put(spec("b", "junta"), &mut changes);
        assert_eq!(changes.filed, vec![b]);
        assert_eq!((set.active(), set.invalid()), (3, 0));
    }

    #[test]
    fn replace_all_keeps_unchanged_queries() {
        let mut set = QuerySet::compile(
            vec![spec("a", "niger"), spec("b", "mali")],
            QueryLimits::default(),
        );
        let b = set.id_of("b").unwrap();
        let changes = set.replace_all(vec![spec("b", "mali"), spec("c", "coup")]);
        assert_eq!(set.id_of("b"), Some(b));
        assert_eq!(changes.withdrawn.len(), 1);
        assert_eq!(changes.filed.len(), 1);
        let names: Vec<&str> = set.iter().map(|(_, e)| e.name()).collect();
        assert_eq!(names, ["b", "c"]);
    }
}
