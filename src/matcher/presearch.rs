//! The presearcher: percolation that does not run every saved query against every document.
//!
//! Each query is indexed under the terms it *requires* (Lucene Monitor's presearcher, with
//! Elasticsearch's term extraction): a document can only match a query if it holds one of them.
//! - a term requires itself; a phrase its rarest word; a prefix its fixed part;
//! - a conjunction requires one of its required clauses: the one whose terms select the fewest
//!   documents by the term statistics (not the longest word, which Lucene Monitor picks);
//! - a disjunction requires any of its branches' terms;
//! - exclusions require nothing; a query with nothing extractable (a date range alone) goes to an
//!   always-check bucket.
//!
//! A document gathers the candidate queries of its distinct terms (and of every prefix of them
//! that some query uses), then each candidate is verified exactly: by its compiled [`Program`],
//! which means what `eval::matches` says (a property test holds them equal). Candidates are a
//! superset of the matches, so the result equals brute force.

use rustc_hash::{FxHashMap, FxHashSet};

use super::analysis::DocAnalysis;
use super::program::{Program, ResolvedDoc, TermDict, TermId};
use super::stats::{StatsView, TermStats};
use super::{numbered, Percolator, QueryId};
use crate::query::{Occur, Query, SharedQuery, TextField};

/// What a document must contain for a query to have a chance.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    Term(String),
    Prefix(String),
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Key::Term(term) => f.write_str(term),
            Key::Prefix(prefix) => write!(f, "{prefix}*"),
        }
    }
}

/// How the presearcher indexes one query.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// Candidate for documents holding any of these keys; `selectivity` is the estimated share
    /// of documents that hold one (0 without statistics). `confirm`: the keys of a second
    /// required clause, checked before verifying (a document without any of them cannot match).
    Prefiltered {
        keys: Vec<Key>,
        confirm: Vec<Key>,
        selectivity: f64,
    },
    /// Verified against every document.
    AlwaysCheck,
}

/// A requirement and its estimated cost (documents it selects).
struct Requirement {
    keys: Vec<Key>,
    cost: f64,
}

/// The plan for a query under the given statistics.
pub fn plan(query: &Query, stats: &TermStats) -> Plan {
    plan_in(query, &stats.view())
}

/// [`plan`] under statistics already settled and read-locked.
fn plan_in(query: &Query, stats: &StatsView) -> Plan {
    match requirement(query, stats) {
        Some(req) => Plan::Prefiltered {
            selectivity: if stats.docs() > 0 {
                (req.cost / stats.docs() as f64).min(1.0)
            } else {
                0.0
            },
            confirm: second_requirement(query, stats, &req.keys),
            keys: req.keys,
        },
        None => Plan::AlwaysCheck,
    }
}

/// For a conjunction: the keys of the cheapest required clause other than the one indexed.
fn second_requirement(query: &Query, stats: &StatsView, indexed: &[Key]) -> Vec<Key> {
    let Query::Bool(clauses) = query else {
        return Vec::new();
    };
    clauses
        .iter()
        .filter(|c| c.occur == Occur::Must)
        .filter_map(|c| requirement(&c.query, stats))
        .filter(|r| r.keys != indexed)
        .min_by(|a, b| a.cost.total_cmp(&b.cost))
        .map(|r| r.keys)
        .unwrap_or_default()
}

/// Cost of a key: the documents it selects, plus small tie-breakers so that without statistics
/// fewer keys and longer words win.
fn key_cost(key: &Key, stats: &StatsView) -> f64 {
    match key {
        Key::Term(term) => stats.doc_freq(term) as f64 + 0.01 - 0.0001 * term.len().min(50) as f64,
        Key::Prefix(prefix) => {
            stats.prefix_doc_freq(prefix) as f64 + 0.02 - 0.0001 * prefix.len().min(50) as f64
        }
    }
}

/// What `query` requires, in one pass over it (each clause is planned once; keys are merged
/// with a hash set, so a wide disjunction costs its size).
fn requirement(query: &Query, stats: &StatsView) -> Option<Requirement> {
    let single = |key: Key| {
        let cost = key_cost(&key, stats);
        Some(Requirement {
            keys: vec![key],
            cost,
        })
    };
    match query {
        Query::Term { term, .. } => single(Key::Term(term.clone())),
        Query::Phrase { terms, .. } => {
            let rarest = terms
                .iter()
                .map(|t| {
                    let key = Key::Term(t.clone());
                    (key_cost(&key, stats), key)
                })
                .min_by(|a, b| a.0.total_cmp(&b.0))?;
            single(rarest.1)
        }
        Query::Prefix { prefix, .. } => single(Key::Prefix(prefix.clone())),
        Query::DateRange(_) => None,
        Query::Bool(clauses) => {
            let has_must = clauses.iter().any(|c| c.occur == Occur::Must);
            if has_must {
                // Any one required clause will do: take the cheapest.
                clauses
                    .iter()
                    .filter(|c| c.occur == Occur::Must)
                    .filter_map(|c| requirement(&c.query, stats))
                    .min_by(|a, b| a.cost.total_cmp(&b.cost))
            } else {
                // One of the optional clauses must match: every branch is needed.
                let mut keys = Vec::new();
                let mut seen = FxHashSet::default();
                let mut cost = 0.0;
                for clause in clauses.iter().filter(|c| c.occur == Occur::Should) {
                    let branch = requirement(&clause.query, stats)?;
                    cost += branch.cost;
                    for key in branch.keys {
                        if seen.insert(key.clone()) {
                            keys.push(key);
                        }
                    }
                }
                (!keys.is_empty()).then_some(Requirement { keys, cost })
            }
        }
    }
}

/// Counts of how the queries are indexed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PresearchSummary {
    pub queries: usize,
    pub prefiltered: usize,
    pub always_check: usize,
    pub term_keys: usize,
    pub prefix_keys: usize,
}

/// A [`Key`] with its word numbered in the presearcher's dictionary.
enum Probe {
    Term(TermId),
    Prefix(Box<str>),
}

/// One query filed in the presearcher.
struct Filed {
    query: SharedQuery,
    /// The query compiled for verification.
    program: Program,
    /// The keys it is indexed under; `None`: in the always-check bucket.
    keys: Option<Box<[Probe]>>,
    /// The keys of a second required clause (empty: none).
    confirm: Box<[Probe]>,
}

impl Filed {
    fn new(query: SharedQuery, compiled: Compiled) -> Filed {
        let Compiled {
            program,
            keys,
            confirm,
        } = compiled;
        Filed {
            query,
            program,
            keys,
            confirm,
        }
    }
}

/// A query and its plan with their words numbered: what filing it holds.
struct Compiled {
    program: Program,
    keys: Option<Box<[Probe]>>,
    confirm: Box<[Probe]>,
}

impl Compiled {
    /// Call `each` on every use of a word that [`Compiled::new`] numbers, in its order
    /// (compiling into `scratch`, which is left empty).
    fn count_uses<'q>(
        query: &'q Query,
        plan: &'q Plan,
        scratch: &mut Vec<u32>,
        each: &mut impl FnMut(&'q str),
    ) {
        Program::compile_into(query, scratch, &mut |word| {
            each(word);
            0
        });
        scratch.clear();
        if let Plan::Prefiltered { keys, confirm, .. } = plan {
            for key in keys.iter().chain(confirm) {
                if let Key::Term(term) = key {
                    each(term);
                }
            }
        }
    }

    /// Number each use of a word with `number`: the query's own words, then its keys'.
    fn new<'q>(
        query: &'q Query,
        plan: &'q Plan,
        number: &mut impl FnMut(&'q str) -> TermId,
    ) -> Compiled {
        let program = Program::compile_with(query, number);
        let mut probes = |keys: &'q [Key]| -> Box<[Probe]> {
            keys.iter()
                .map(|key| match key {
                    Key::Term(term) => Probe::Term(number(term)),
                    Key::Prefix(prefix) => Probe::Prefix(prefix.as_str().into()),
                })
                .collect()
        };
        match plan {
            Plan::AlwaysCheck => Compiled {
                program,
                keys: None,
                confirm: Box::default(),
            },
            Plan::Prefiltered { keys, confirm, .. } => Compiled {
                program,
                keys: Some(probes(keys)),
                confirm: probes(confirm),
            },
        }
    }
}

pub struct Presearcher {
    /// By [`QueryId`] slot; `None`: a free slot.
    filed: Vec<Option<Filed>>,
    /// Queries filed (slots in use).
    len: usize,
    /// Every word of the filed queries (their keys, their clauses), numbered.
    dict: TermDict,
    /// By word number: the queries indexed under that word.
    by_term: Vec<Vec<u32>>,
    by_prefix: FxHashMap<Box<str>, Vec<u32>>,
    /// Distinct prefix lengths in bytes, ascending: the only prefixes of a document term worth
    /// looking up (a length no query uses any more only costs a lookup).
    prefix_lengths: Vec<usize>,
    always: Vec<u32>,
}

impl Presearcher {
    /// Queries numbered `0..n`.
    pub fn new(queries: Vec<Query>, stats: &TermStats) -> Presearcher {
        Presearcher::with_ids(numbered(queries), stats)
    }

    /// Queries filed under the given ids.
    pub fn with_ids(
        queries: impl IntoIterator<Item = (QueryId, SharedQuery)>,
        stats: &TermStats,
    ) -> Presearcher {
        let queries = queries.into_iter();
        let mut presearcher = Presearcher {
            filed: Vec::with_capacity(queries.size_hint().0),
            len: 0,
            dict: TermDict::default(),
            by_term: Vec::new(),
            by_prefix: FxHashMap::default(),
            prefix_lengths: Vec::new(),
            always: Vec::new(),
        };
        // Plans are made on every core of the current rayon pool, then filed in order.
        let queries: Vec<(QueryId, SharedQuery)> = queries.collect();
        let plans: Vec<Plan> = {
            use rayon::prelude::*;
            drop(stats.view()); // settled once, before the threads share it
            queries
                .par_iter()
                .with_min_len(256)
                .map_init(|| stats.view(), |view, (_, query)| plan_in(query, view))
                .collect()
        };
        // Filed on every core when the ids are 0..n in order (a QuerySet's, `numbered`'s): the
        // words of every query are counted and numbered once, then every query is compiled
        // against the finished dictionary straight into its slot. Other ids are filed one by
        // one.
        let dense = queries
            .iter()
            .enumerate()
            .all(|(i, (id, _))| id.slot() == i);
        if dense {
            use rayon::prelude::*;
            let uses = queries
                .par_iter()
                .zip(plans.par_iter())
                .with_min_len(256)
                .fold(
                    || (FxHashMap::<&str, u32>::default(), Vec::new()),
                    |(mut uses, mut scratch), ((_, query), plan)| {
                        Compiled::count_uses(query, plan, &mut scratch, &mut |word| {
                            let count = uses.entry(word).or_insert(0);
                            *count = count.saturating_add(1);
                        });
                        (uses, scratch)
                    },
                )
                .map(|(uses, _)| uses)
                .reduce(FxHashMap::default, |mut a, mut b| {
                    if a.len() < b.len() {
                        std::mem::swap(&mut a, &mut b);
                    }
                    for (word, count) in b {
                        let sum = a.entry(word).or_insert(0);
                        *sum = sum.saturating_add(count);
                    }
                    a
                });
            presearcher.dict = TermDict::from_uses(uses);
            let dict = &presearcher.dict;
            // Each plan is dropped once its query is compiled: the memory of a million
            // plans' keys is reused by the programs rather than held beside them.
            presearcher.filed.par_extend(
                queries
                    .into_par_iter()
                    .zip(plans.into_par_iter())
                    .with_min_len(256)
                    .map(|((_, query), plan)| {
                        // Every word was counted above, so each is found (the property test
                        // below holds the uses equal to filing one by one). Were one not, its
                        // number would be one no word has: the query would miss that word, and
                        // `add_keys` files nothing under it.
                        let compiled = Compiled::new(&query, &plan, &mut |word| {
                            let number = dict.get(word);
                            debug_assert!(number.is_some(), "{word} was not counted");
                            number.unwrap_or(TermId::MAX)
                        });
                        Some(Filed::new(query, compiled))
                    }),
            );
            presearcher.len = presearcher.filed.len();
            for slot in 0..presearcher.filed.len() {
                let keys = presearcher.filed[slot].as_mut().and_then(|f| f.keys.take());
                presearcher.add_keys(slot as u32, keys.as_deref());
                if let Some(filed) = presearcher.filed[slot].as_mut() {
                    filed.keys = keys;
                }
            }
        } else {
            for ((id, query), plan) in queries.into_iter().zip(plans) {
                presearcher.file(id, query, plan);
            }
        }
        presearcher.by_term.shrink_to_fit();
        presearcher.by_prefix.shrink_to_fit();
        presearcher.dict.shrink_to_fit();
        presearcher
    }

    /// File query `id` under `keys` (`None`: the always-check bucket). Each list of ids stays
    /// sorted, so that taking a query out is a binary search.
    fn add_keys(&mut self, id: u32, keys: Option<&[Probe]>) {
        let Some(keys) = keys else {
            insert_sorted(&mut self.always, id);
            return;
        };
        for key in keys {
            match key {
                Probe::Term(word) => {
                    let word = *word as usize;
                    if word >= self.dict.id_bound() {
                        continue; // a number the dictionary never handed out
                    }
                    if self.by_term.len() <= word {
                        self.by_term.resize_with(word + 1, Vec::new);
                    }
                    insert_sorted(&mut self.by_term[word], id);
                }
                Probe::Prefix(p) => {
                    insert_sorted(ids_under(&mut self.by_prefix, p), id);
                    if let Err(at) = self.prefix_lengths.binary_search(&p.len()) {
                        self.prefix_lengths.insert(at, p.len());
                    }
                }
            }
        }
    }

    /// Take query `id` out from under `keys`, and give back their words.
    fn remove_keys(&mut self, id: u32, keys: Option<&[Probe]>) {
        let Some(keys) = keys else {
            remove_sorted(&mut self.always, id);
            return;
        };
        for key in keys {
            match key {
                Probe::Term(word) => {
                    if let Some(ids) = self.by_term.get_mut(*word as usize) {
                        remove_sorted(ids, id);
                        if ids.is_empty() {
                            *ids = Vec::new();
                        }
                    }
                }
                Probe::Prefix(p) => {
                    if let Some(ids) = self.by_prefix.get_mut(&**p) {
                        remove_sorted(ids, id);
                        if ids.is_empty() {
                            self.by_prefix.remove(&**p);
                        }
                    }
                }
            }
        }
    }

    /// Give back the words of probes.
    fn release(&mut self, probes: &[Probe]) {
        for probe in probes {
            if let Probe::Term(word) = probe {
                self.dict.release(*word);
            }
        }
    }

    /// File query `id` by `plan` (replacing what was filed under `id`).
    fn file(&mut self, id: QueryId, query: SharedQuery, plan: Plan) {
        self.remove(id);
        let dict = &mut self.dict;
        let compiled = Compiled::new(&query, &plan, &mut |word| dict.acquire(word));
        self.file_compiled(id, query, compiled);
    }

    /// File a compiled query under `id`, a free slot.
    fn file_compiled(&mut self, id: QueryId, query: SharedQuery, compiled: Compiled) {
        self.add_keys(id.slot() as u32, compiled.keys.as_deref());
        if self.filed.len() <= id.slot() {
            self.filed.resize_with(id.slot() + 1, || None);
        }
        self.filed[id.slot()] = Some(Filed::new(query, compiled));
        self.len += 1;
    }

    pub fn summary(&self) -> PresearchSummary {
        PresearchSummary {
            queries: self.len,
            prefiltered: self.len - self.always.len(),
            always_check: self.always.len(),
            term_keys: self.by_term.iter().filter(|ids| !ids.is_empty()).count(),
            prefix_keys: self.by_prefix.len(),
        }
    }

    /// The queries worth verifying for this document, ascending, without duplicates.
    pub fn candidates(&self, doc: &DocAnalysis) -> Vec<u32> {
        self.resolve(doc).1
    }

    /// The document resolved against the dictionary, and its candidates: the queries filed
    /// under its terms, under their prefixes, and in the always-check bucket (one lookup of
    /// each distinct term of each field serves both).
    fn resolve<'a>(&'a self, doc: &'a DocAnalysis) -> (ResolvedDoc<'a>, Vec<u32>) {
        let mut resolved = ResolvedDoc::new(doc, &self.dict);
        let mut out = self.always.clone();
        for field in TextField::ALL {
            for (i, term) in doc.field(field).terms().enumerate() {
                if let Some(word) = self.dict.get(term) {
                    resolved.found(word, field, i);
                    if let Some(ids) = self.by_term.get(word as usize) {
                        out.extend_from_slice(ids);
                    }
                }
                for &len in &self.prefix_lengths {
                    if len > term.len() {
                        break;
                    }
                    if !term.is_char_boundary(len) {
                        continue;
                    }
                    if let Some(ids) = self.by_prefix.get(&term[..len]) {
                        out.extend_from_slice(ids);
                    }
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        (resolved, out)
    }
}

/// The ids filed under `key` (a new, empty list if none is; the key's text is copied only then).
fn ids_under<'a>(map: &'a mut FxHashMap<Box<str>, Vec<u32>>, key: &str) -> &'a mut Vec<u32> {
    if !map.contains_key(key) {
        map.insert(key.into(), Vec::new());
    }
    map.get_mut(key).expect("inserted above")
}

fn insert_sorted(ids: &mut Vec<u32>, id: u32) {
    if let Err(at) = ids.binary_search(&id) {
        ids.insert(at, id);
    }
}

fn remove_sorted(ids: &mut Vec<u32>, id: u32) {
    if let Ok(at) = ids.binary_search(&id) {
        ids.remove(at);
    }
}

/// Whether some field of the document holds the probe's key.
fn doc_has(doc: &ResolvedDoc<'_>, probe: &Probe) -> bool {
    match probe {
        Probe::Term(word) => doc.holds(*word),
        Probe::Prefix(prefix) => TextField::ALL
            .iter()
            .any(|f| doc.analysis().field(*f).has_prefix(prefix)),
    }
}

impl Percolator for Presearcher {
    fn percolate(&self, doc: &DocAnalysis) -> Vec<QueryId> {
        let (resolved, candidates) = self.resolve(doc);
        candidates
            .into_iter()
            .filter(|&id| {
                let Some(Some(filed)) = self.filed.get(id as usize) else {
                    return false;
                };
                (filed.confirm.is_empty() || filed.confirm.iter().any(|p| doc_has(&resolved, p)))
                    && filed.program.matches(&resolved)
            })
            .map(QueryId::new)
            .collect()
    }

    fn len(&self) -> usize {
        self.len
    }

    fn query(&self, id: QueryId) -> Option<&Query> {
        self.filed.get(id.slot())?.as_ref().map(|f| &*f.query)
    }

    fn set(&mut self, id: QueryId, query: SharedQuery, stats: &TermStats) {
        let plan = plan(&query, stats);
        self.file(id, query, plan);
    }

    fn remove(&mut self, id: QueryId) {
        let Some(filed) = self.filed.get_mut(id.slot()).and_then(Option::take) else {
            return;
        };
        self.remove_keys(id.slot() as u32, filed.keys.as_deref());
        self.release(filed.keys.as_deref().unwrap_or(&[]));
        self.release(&filed.confirm);
        filed.program.release(&mut self.dict);
        self.len -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::Analyzer;
    use crate::document::DocumentFields;
    use crate::query::parse;

    fn analysis(title: &str, body: &str) -> DocAnalysis {
        let doc = DocumentFields {
            title: title.into(),
            body: body.into(),
            ..Default::default()
        }
        .into_document("x.txt".into(), None);
        DocAnalysis::new(&doc, &mut Analyzer::default())
    }

    fn stats(docs: &[&str]) -> TermStats {
        let mut stats = TermStats::empty();
        for body in docs {
            stats.add_document(&analysis("", body));
        }
        stats
    }

    fn keys(text: &str, stats: &TermStats) -> Plan {
        plan(&parse(text).unwrap().query, stats)
    }

    fn terms(list: &[&str]) -> Vec<Key> {
        list.iter().map(|t| Key::Term(t.to_string())).collect()
    }

    #[test]
    fn conjunctions_take_the_rarest_clause() {
        let s = stats(&[
            "the niger junta",
            "the mali junta",
            "the army",
            "the niger army",
        ]);
        let Plan::Prefiltered { keys: k, .. } = keys("the AND junta AND niger", &s) else {
            panic!()
        };
        assert!(k == terms(&["niger"]) || k == terms(&["junta"]), "{k:?}");
        let Plan::Prefiltered { keys: k, .. } = keys("the AND \"mali junta\"", &s) else {
            panic!()
        };
        assert_eq!(k, terms(&["mali"]));
        // A disjunction of two rare words beats one common word.
        let Plan::Prefiltered { keys: k, .. } = keys("the AND (mali OR army)", &s) else {
            panic!()
        };
        assert_eq!(k, terms(&["mali", "army"]));
    }

    #[test]
    fn disjunctions_need_every_branch_and_exclusions_nothing() {
        let s = TermStats::empty();
        assert_eq!(
            keys("niger OR \"security pact\" OR secur*", &s),
            Plan::Prefiltered {
                keys: vec![
                    Key::Term("niger".into()),
                    Key::Term("security".into()),
                    Key::Prefix("secur".into())
                ],
                confirm: vec![],
                selectivity: 0.0
            }
        );
        let Plan::Prefiltered { keys: k, .. } = keys("niger AND NOT mali", &s) else {
            panic!()
        };
        assert_eq!(k, terms(&["niger"]));
        assert_eq!(
            keys("date:[2024-01-01 TO 2024-12-31]", &s),
            Plan::AlwaysCheck
        );
        assert_eq!(
            keys("niger OR date:[2024-01-01 TO 2024-12-31]", &s),
            Plan::AlwaysCheck
        );
        let Plan::Prefiltered { keys: k, .. } =
            keys("niger AND date:[2024-01-01 TO 2024-12-31]", &s)
        else {
            panic!()
        };
        assert_eq!(k, terms(&["niger"]));
    }

    #[test]
    fn candidates_come_from_terms_prefixes_and_the_always_bucket() {
        let queries: Vec<Query> = [
            "niger",
            "secur*",
            "mali AND junta",
            "date:[* TO 2030-01-01]",
            "\"united states\"",
        ]
        .iter()
        .map(|t| parse(t).unwrap().query)
        .collect();
        let p = Presearcher::new(queries, &TermStats::empty());
        assert_eq!(p.summary().always_check, 1);
        let doc = analysis("Niger", "security forces of the United States");
        let c = p.candidates(&doc);
        assert!(
            c.contains(&0) && c.contains(&1) && c.contains(&3) && c.contains(&4),
            "{c:?}"
        );
        assert!(!c.contains(&2));
        assert_eq!(p.percolate(&doc), [0, 1, 4].map(QueryId::new).to_vec());
    }

    const POOL: [&str; 12] = [
        "niger",
        "secur*",
        "mali AND junta",
        "date:[* TO 2030-01-01]",
        "\"united states\"",
        "niger OR mali",
        "se*",
        "forces AND NOT army",
        "title:niger",
        "junta OR date:[2024-01-01 TO 2024-12-31]",
        "\"security forces\"~2 AND states",
        "army",
    ];

    const DOCS: [(&str, &str); 5] = [
        ("Niger", "security forces of the United States"),
        ("", "the mali junta and the army"),
        ("Mali", "junta forces secure the capital"),
        ("", "nothing here"),
        ("Niger army", "security and forces in the states"),
    ];

    proptest::proptest! {
        /// Filing many queries at once (on every core, counting their words first) holds the
        /// same uses of each word as filing them one by one, and withdrawing them all gives
        /// every use back.
        #[test]
        fn filing_at_once_holds_the_uses_filing_one_by_one_does(
            picks in proptest::collection::vec(0usize..POOL.len(), 0..300)
        ) {
            let stats = stats(&DOCS.map(|(_, body)| body));
            let queries: Vec<Query> = picks.iter().map(|&i| parse(POOL[i]).unwrap().query).collect();
            let mut bulk = Presearcher::new(queries.clone(), &stats);
            let mut one_by_one = Presearcher::with_ids(Vec::new(), &stats);
            for (id, query) in numbered(queries) {
                one_by_one.set(id, query, &stats);
            }
            let words: FxHashSet<&str> = POOL.iter().flat_map(|q| q.split(|c: char| !c.is_alphanumeric())).collect();
            for word in words {
                proptest::prop_assert_eq!(bulk.dict.uses(word), one_by_one.dict.uses(word), "{}", word);
            }
            proptest::prop_assert_eq!(bulk.summary(), one_by_one.summary());
            for (title, body) in DOCS {
                let doc = analysis(title, body);
                proptest::prop_assert_eq!(bulk.percolate(&doc), one_by_one.percolate(&doc));
            }
            for slot in 0..picks.len() {
                bulk.remove(QueryId::new(slot as u32));
            }
            proptest::prop_assert!(bulk.dict.is_empty());
            proptest::prop_assert!(bulk.by_term.iter().all(Vec::is_empty));
            proptest::prop_assert!(bulk.always.is_empty() && bulk.by_prefix.is_empty());
        }

        /// Queries set, replaced and removed one at a time percolate exactly like a presearcher
        /// built from the final list (and like brute force).
        #[test]
        fn updates_in_place_equal_a_rebuild(
            ops in proptest::collection::vec((0u8..3, 0usize..16, 0usize..POOL.len()), 0..40)
        ) {
            let stats = stats(&DOCS.map(|(_, body)| body));
            let query = |i: usize| parse(POOL[i]).unwrap().query;
            let mut model: Vec<Option<Query>> = (0..4).map(|i| Some(query(i))).collect();
            let mut p = Presearcher::new(model.iter().flatten().cloned().collect(), &stats);
            for (op, at, pick) in ops {
                match op {
                    0 => {
                        // A free slot is reused first, as the engine's QuerySet does.
                        let slot = model.iter().position(Option::is_none).unwrap_or(model.len());
                        p.set(QueryId::new(slot as u32), query(pick).into(), &stats);
                        if slot == model.len() {
                            model.push(None);
                        }
                        model[slot] = Some(query(pick));
                    }
                    1 if !model.is_empty() => {
                        let at = at % model.len();
                        p.set(QueryId::new(at as u32), query(pick).into(), &stats);
                        model[at] = Some(query(pick));
                    }
                    2 if !model.is_empty() => {
                        let at = at % model.len();
                        p.remove(QueryId::new(at as u32));
                        model[at] = None;
                    }
                    _ => {}
                }
            }
            let live = || {
                model
                    .iter()
                    .enumerate()
                    .filter_map(|(i, q)| q.clone().map(|q| (QueryId::new(i as u32), q.into())))
            };
            let rebuilt = Presearcher::with_ids(live(), &stats);
            let brute = super::super::Engine::Brute.build_with_ids(live(), &stats);
            proptest::prop_assert_eq!(p.len(), model.iter().flatten().count());
            // Words of removed or replaced queries are given back: the dictionary holds the
            // live queries' words only, whatever the churn.
            proptest::prop_assert_eq!(p.dict.len(), rebuilt.dict.len());
            proptest::prop_assert_eq!(p.summary(), rebuilt.summary());
            for (title, body) in DOCS {
                let doc = analysis(title, body);
                proptest::prop_assert_eq!(p.percolate(&doc), rebuilt.percolate(&doc));
                proptest::prop_assert_eq!(p.percolate(&doc), brute.percolate(&doc));
            }
        }
    }
}
