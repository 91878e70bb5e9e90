//! Saved queries compiled for verification: each query becomes a short run of numbers in one
//! allocation, its words numbered in a dictionary that every query of the presearcher shares
//! ([`TermDict`]). A document is resolved against that dictionary once ([`ResolvedDoc`]: which
//! of the dictionary's words it holds, where); verifying a candidate then reads one block of
//! memory and compares numbers, where walking the AST hashed and compared each of the query's
//! strings, spread over the heap, once per field.
//!
//! A node means what `eval::matches` says its query means, clause for clause; a property test
//! holds the two equal on random queries and documents, and the brute-force engine, the index
//! and the differential checks against Lucene keep the AST's semantics as the reference.

use rustc_hash::FxHashMap;

use super::analysis::DocAnalysis;
use crate::query::positions;
use chrono::Datelike;

use crate::query::{Occur, Query, Scope, TextField};

/// A word's number in a [`TermDict`].
pub type TermId = u32;

/// The words of the filed queries, numbered. Each use of a word holds it; a number is freed, and
/// reused, once no use holds its word, so adding and removing queries does not grow it.
#[derive(Debug, Default)]
pub struct TermDict {
    ids: FxHashMap<Box<str>, TermId>,
    /// Per id: its word (`None`: a free number) and the uses holding it.
    entries: Vec<(Option<Box<str>>, u32)>,
    free: Vec<TermId>,
}

impl TermDict {
    /// A dictionary of the given words, each held by that many uses (numbered in the order
    /// given).
    pub fn from_uses<'w>(uses: impl IntoIterator<Item = (&'w str, u32)>) -> TermDict {
        let mut dict = TermDict::default();
        for (word, count) in uses {
            if count == 0 || dict.ids.contains_key(word) {
                continue;
            }
            let id = as_u32(dict.entries.len());
            dict.entries.push((Some(word.into()), count));
            dict.ids.insert(word.into(), id);
        }
        dict
    }

    /// The number of `word`, taking one use of it.
    pub fn acquire(&mut self, word: &str) -> TermId {
        if let Some(&id) = self.ids.get(word) {
            // Saturated, a word stays held for good: never freed while in use.
            let uses = &mut self.entries[id as usize].1;
            *uses = uses.saturating_add(1);
            return id;
        }
        let id = match self.free.pop() {
            Some(id) => id,
            None => {
                self.entries.push((None, 0));
                u32::try_from(self.entries.len() - 1).unwrap_or(TermId::MAX)
            }
        };
        if let Some(entry) = self.entries.get_mut(id as usize) {
            *entry = (Some(word.into()), 1);
        }
        self.ids.insert(word.into(), id);
        id
    }

    /// Give back one use of `id`.
    pub fn release(&mut self, id: TermId) {
        let Some(entry) = self.entries.get_mut(id as usize) else {
            return;
        };
        if entry.1 == 0 || entry.1 == u32::MAX {
            return; // free, or saturated: held for good
        }
        entry.1 -= 1;
        if entry.1 == 0 {
            if let Some(word) = entry.0.take() {
                self.ids.remove(&word);
            }
            self.free.push(id);
        }
    }

    pub fn get(&self, word: &str) -> Option<TermId> {
        self.ids.get(word).copied()
    }

    /// The word numbered `id`, while some use holds it.
    pub fn word(&self, id: TermId) -> Option<&str> {
        self.entries.get(id as usize)?.0.as_deref()
    }

    /// How many uses hold `word` (0: none).
    pub fn uses(&self, word: &str) -> u32 {
        self.get(word)
            .and_then(|id| self.entries.get(id as usize))
            .map_or(0, |entry| entry.1)
    }

    /// Words in use.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// One past the highest number handed out: the size of tables indexed by [`TermId`].
    pub fn id_bound(&self) -> usize {
        self.entries.len()
    }

    pub fn shrink_to_fit(&mut self) {
        self.ids.shrink_to_fit();
        self.entries.shrink_to_fit();
    }
}

/// Fields as bits, by `TextField::slot`.
type FieldMask = u8;

fn mask_of(scope: &Scope) -> FieldMask {
    scope
        .fields()
        .iter()
        .fold(0, |mask, field| mask | 1 << field.slot())
}

fn fields_in(mask: FieldMask) -> impl Iterator<Item = TextField> {
    TextField::ALL
        .into_iter()
        .filter(move |field| mask & 1 << field.slot() != 0)
}

// A program is a run of `u32`s, the query in pre-order. Each node opens with a head word: its
// operation (bits 0-3), how it takes part in the `Bool` it is a clause of (bits 4-5; unused at
// the root) and its fields (bits 8-15). Then, by operation:
/// `[head, word]`.
const TERM: u32 = 0;
/// `[head, slop, n, word × n]`.
const PHRASE: u32 = 1;
/// `[head, word]`: the prefix's text is the word's, in the dictionary.
const PREFIX: u32 = 2;
/// `[head, first, last]`: the range's indexable days (`DateRange::indexable_days`) as days
/// from the Common Era, `first > last` when it holds none.
const DATE: u32 = 3;
/// `[head, end]`: its clauses follow, up to `end`.
const BOOL: u32 = 4;

const MUST: u32 = 0;
const SHOULD: u32 = 1;
const MUST_NOT: u32 = 2;

fn head(op: u32, occur: Occur, fields: FieldMask) -> u32 {
    let occur = match occur {
        Occur::Must => MUST,
        Occur::Should => SHOULD,
        Occur::MustNot => MUST_NOT,
    };
    op | occur << 4 | u32::from(fields) << 8
}

fn op_of(head: u32) -> u32 {
    head & 0xf
}

fn occur_of(head: u32) -> u32 {
    (head >> 4) & 0x3
}

fn fields_of(head: u32) -> FieldMask {
    ((head >> 8) & 0xff) as FieldMask
}

fn as_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// One saved query, compiled against a [`TermDict`]: one allocation, a few words long.
#[derive(Debug, Clone, Default)]
pub struct Program {
    code: Box<[u32]>,
}

impl Program {
    /// Compile `query`, taking a use in `dict` of each of its words (give them back with
    /// [`Program::release`]).
    pub fn compile(query: &Query, dict: &mut TermDict) -> Program {
        Program::compile_with(query, &mut |word| dict.acquire(word))
    }

    /// Compile `query`, numbering each use of a word with `number` (as [`TermDict::acquire`]
    /// would, or by looking it up in a dictionary built beforehand).
    pub fn compile_with<'q>(
        query: &'q Query,
        number: &mut impl FnMut(&'q str) -> TermId,
    ) -> Program {
        let mut code = Vec::with_capacity(16);
        Program::compile_into(query, &mut code, number);
        Program { code: code.into() }
    }

    /// Compile `query` into `code`, replacing what it held (a buffer reused across queries).
    pub fn compile_into<'q>(
        query: &'q Query,
        code: &mut Vec<u32>,
        number: &mut impl FnMut(&'q str) -> TermId,
    ) {
        code.clear();
        push(query, Occur::Must, number, code);
    }

    /// Give back the program's uses of its words.
    pub fn release(&self, dict: &mut TermDict) {
        let mut at = 0;
        while at < self.code.len() {
            let op = op_of(self.word(at));
            match op {
                TERM | PREFIX => dict.release(self.word(at + 1)),
                PHRASE => {
                    for i in 0..self.word(at + 2) as usize {
                        dict.release(self.word(at + 3 + i));
                    }
                }
                _ => {}
            }
            // Into a `Bool`'s clauses, past any other node.
            at = if op == BOOL { at + 2 } else { self.next(at) };
        }
    }

    /// Whether the query matches the document: `eval::matches` on the query it was compiled
    /// from.
    pub fn matches(&self, doc: &ResolvedDoc<'_>) -> bool {
        !self.code.is_empty() && self.eval(0, doc)
    }

    fn word(&self, at: usize) -> u32 {
        self.code.get(at).copied().unwrap_or(0)
    }

    /// The index just past the node at `at` and everything under it.
    fn next(&self, at: usize) -> usize {
        let end = match op_of(self.word(at)) {
            TERM | PREFIX => at + 2,
            PHRASE => at + 3 + self.word(at + 2) as usize,
            DATE => at + 3,
            _ => self.word(at + 1) as usize,
        };
        end.clamp(at + 1, self.code.len().max(at + 1))
    }

    fn eval(&self, at: usize, doc: &ResolvedDoc<'_>) -> bool {
        let head = self.word(at);
        let fields = fields_of(head);
        match op_of(head) {
            TERM => doc.fields_holding(self.word(at + 1)) & fields != 0,
            PHRASE => {
                let slop = self.word(at + 1);
                let n = self.word(at + 2) as usize;
                let words = self.code.get(at + 3..at + 3 + n).unwrap_or(&[]);
                fields_in(fields).any(|field| doc.phrase_in(field, words, slop))
            }
            PREFIX => doc.dict.word(self.word(at + 1)).is_some_and(|prefix| {
                fields_in(fields).any(|field| doc.analysis.field(field).has_prefix(prefix))
            }),
            DATE => {
                let (first, last) = (self.word(at + 1) as i32, self.word(at + 2) as i32);
                doc.analysis.date.is_some_and(|date| {
                    let day = date.num_days_from_ce();
                    first <= day && day <= last
                })
            }
            BOOL => {
                let end = self.next(at);
                let mut has_must = false;
                let mut has_should = false;
                let mut any_should = false;
                let mut clause = at + 2;
                while clause < end {
                    match occur_of(self.word(clause)) {
                        MUST => {
                            has_must = true;
                            if !self.eval(clause, doc) {
                                return false;
                            }
                        }
                        MUST_NOT => {
                            if self.eval(clause, doc) {
                                return false;
                            }
                        }
                        _ => {
                            has_should = true;
                            any_should = any_should || self.eval(clause, doc);
                        }
                    }
                    clause = self.next(clause);
                }
                // As `eval::matches` (and Lucene): beside a required clause, optional clauses
                // only score; a group of exclusions alone matches nothing.
                has_must || (has_should && any_should)
            }
            _ => false,
        }
    }
}

fn push<'q>(
    query: &'q Query,
    occur: Occur,
    number: &mut impl FnMut(&'q str) -> TermId,
    code: &mut Vec<u32>,
) {
    match query {
        Query::Term { scope, term } => {
            code.extend([head(TERM, occur, mask_of(scope)), number(term)]);
        }
        Query::Phrase { scope, terms, slop } => {
            code.extend([
                head(PHRASE, occur, mask_of(scope)),
                *slop,
                as_u32(terms.len()),
            ]);
            for term in terms {
                code.push(number(term));
            }
        }
        Query::Prefix { scope, prefix } => {
            code.extend([head(PREFIX, occur, mask_of(scope)), number(prefix)]);
        }
        Query::DateRange(range) => {
            let (first, last) = range.indexable_days().map_or((1, 0), |(first, last)| {
                (first.num_days_from_ce(), last.num_days_from_ce())
            });
            code.extend([head(DATE, occur, 0), first as u32, last as u32]);
        }
        Query::Bool(clauses) => {
            let at = code.len();
            code.extend([head(BOOL, occur, 0), 0]);
            for clause in clauses {
                push(&clause.query, clause.occur, number, code);
            }
            code[at + 1] = as_u32(code.len());
        }
    }
}

/// Where a document holds one of the dictionary's words.
#[derive(Debug, Clone, Copy)]
struct Found {
    fields: FieldMask,
    /// Per field slot: the word's index among that field's terms (meaningful where `fields`
    /// has the field's bit).
    index: [u32; TextField::ALL.len()],
}

/// A document resolved against a [`TermDict`]: the dictionary's words it holds, by number.
pub struct ResolvedDoc<'a> {
    analysis: &'a DocAnalysis,
    dict: &'a TermDict,
    found: FxHashMap<TermId, Found>,
}

impl<'a> ResolvedDoc<'a> {
    /// Nothing found yet: record each word with [`ResolvedDoc::found`].
    pub fn new(analysis: &'a DocAnalysis, dict: &'a TermDict) -> ResolvedDoc<'a> {
        ResolvedDoc {
            analysis,
            dict,
            found: FxHashMap::default(),
        }
    }

    /// Resolve every term of the document against `dict`.
    pub fn resolve(analysis: &'a DocAnalysis, dict: &'a TermDict) -> ResolvedDoc<'a> {
        let mut doc = ResolvedDoc::new(analysis, dict);
        for field in TextField::ALL {
            for (i, term) in analysis.field(field).terms().enumerate() {
                if let Some(word) = dict.get(term) {
                    doc.found(word, field, i);
                }
            }
        }
        doc
    }

    /// Record that `field`'s term number `index` is the dictionary's `word`.
    pub fn found(&mut self, word: TermId, field: TextField, index: usize) {
        let entry = self.found.entry(word).or_insert(Found {
            fields: 0,
            index: [0; TextField::ALL.len()],
        });
        entry.fields |= 1 << field.slot();
        entry.index[field.slot()] = as_u32(index);
    }

    pub fn analysis(&self) -> &'a DocAnalysis {
        self.analysis
    }

    /// The fields that hold `word`, as bits.
    fn fields_holding(&self, word: TermId) -> FieldMask {
        self.found.get(&word).map_or(0, |found| found.fields)
    }

    /// Whether some field holds `word` (exactly: every term was looked up).
    pub fn holds(&self, word: TermId) -> bool {
        self.fields_holding(word) != 0
    }

    fn positions(&self, word: TermId, field: TextField) -> Option<&'a [u32]> {
        let found = self.found.get(&word)?;
        (found.fields & 1 << field.slot() != 0).then(|| {
            self.analysis
                .field(field)
                .positions_of(found.index[field.slot()] as usize)
        })
    }

    /// `eval`'s `phrase_in_field` over word numbers (no allocation up to 16 words).
    fn phrase_in(&self, field: TextField, words: &[TermId], slop: u32) -> bool {
        const INLINE: usize = 16;
        if words.len() > INLINE {
            let lists: Option<Vec<&[u32]>> = words
                .iter()
                .map(|&word| self.positions(word, field))
                .collect();
            return lists.is_some_and(|lists| positions::phrase_matches(&lists, slop));
        }
        let mut lists: [&[u32]; INLINE] = [&[]; INLINE];
        for (slot, &word) in lists.iter_mut().zip(words) {
            match self.positions(word, field) {
                Some(positions) => *slot = positions,
                None => return false,
            }
        }
        positions::phrase_matches(&lists[..words.len()], slop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::Analyzer;
    use crate::document::DocumentFields;
    use crate::matcher::eval;
    use crate::query::parse;
    use proptest::prelude::*;

    /// The documents' words, and the queries': most queries then match some documents.
    const WORDS: [&str; 8] = [
        "niger", "mali", "junta", "security", "secure", "army", "states", "united",
    ];
    const PREFIXES: [&str; 5] = ["se", "secur", "jun", "niger", "u"];
    const DATES: [&str; 8] = [
        "date:[2016-01-01 TO 2017-12-31]",
        "date:{2015-06-01 TO *]",
        "date:[* TO 2016-03-01}",
        "date:[2030-01-01 TO *]",
        "date:[* TO *]",
        // Beyond the days a document can carry (FIRST_DATE, LAST_DATE).
        "date:[1000-01-01 TO 1600-01-01]",
        "date:[1500-01-01 TO 2016-01-01]",
        "date:{2016-06-01 TO 9999-12-31]",
    ];

    fn arb_text() -> impl Strategy<Value = String> {
        proptest::collection::vec(proptest::sample::select(WORDS.to_vec()), 0..12)
            .prop_map(|words| words.join(" "))
    }

    fn arb_leaf() -> impl Strategy<Value = String> {
        let word = || proptest::sample::select(WORDS.to_vec());
        let scope =
            proptest::sample::select(vec!["", "title:", "body:", "tags:", "source:", "url:"]);
        prop_oneof![
            (scope.clone(), word()).prop_map(|(s, w)| format!("{s}{w}")),
            (
                scope.clone(),
                proptest::collection::vec(word(), 2..4),
                0u32..4
            )
                .prop_map(|(s, words, slop)| format!("{s}\"{}\"~{slop}", words.join(" "))),
            (scope, proptest::sample::select(PREFIXES.to_vec()))
                .prop_map(|(s, p)| format!("{s}{p}*")),
            proptest::sample::select(DATES.to_vec()).prop_map(String::from),
            // Longer than the 16 words verified without allocating.
            (word(), 16usize..20, 0u32..3)
                .prop_map(|(w, n, slop)| format!("\"{}\"~{slop}", vec![w; n].join(" "))),
        ]
    }

    fn arb_query() -> impl Strategy<Value = String> {
        arb_leaf().prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} AND {b})")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} OR {b})")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} AND NOT {b})")),
                (inner.clone(), inner.clone(), inner.clone())
                    .prop_map(|(a, b, c)| format!("({a} OR {b} -{c})")),
                (inner.clone(), inner).prop_map(|(a, b)| format!("({a} OR -{b})")),
            ]
        })
    }

    fn arb_doc() -> impl Strategy<Value = DocumentFields> {
        // Sometimes one word many times over, for the long phrases.
        let body = prop_oneof![
            3 => arb_text(),
            1 => (proptest::sample::select(WORDS.to_vec()), 14usize..24)
                .prop_map(|(w, n)| vec![w; n].join(" ")),
        ];
        (
            arb_text(),
            body,
            arb_text(),
            arb_text(),
            arb_text(),
            proptest::option::of(0u64..1500),
        )
            .prop_map(|(title, body, tags, source, url, day)| DocumentFields {
                title,
                body,
                url: Some(url),
                tags: tags
                    .split(' ')
                    .filter(|t| !t.is_empty())
                    .map(String::from)
                    .collect(),
                source: Some(source),
                date: day.and_then(|day| {
                    chrono::NaiveDate::from_ymd_opt(2015, 1, 1)?
                        .checked_add_days(chrono::Days::new(day))
                }),
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]
        /// A compiled query matches exactly the documents its AST matches (`eval::matches`),
        /// also beside other queries sharing the dictionary, and giving the words back leaves
        /// the dictionary empty.
        #[test]
        fn a_program_matches_what_its_query_matches(
            texts in proptest::collection::vec(arb_query(), 1..4),
            docs in proptest::collection::vec(arb_doc(), 1..6),
        ) {
            let queries: Vec<_> =
                texts.iter().filter_map(|t| parse(t).ok().map(|p| (t, p.query))).collect();
            let mut dict = TermDict::default();
            let programs: Vec<Program> =
                queries.iter().map(|(_, q)| Program::compile(q, &mut dict)).collect();
            let mut analyzer = Analyzer::default();
            for fields in docs {
                let doc = fields.clone().into_document("x.txt".into(), None);
                let analysis = DocAnalysis::new(&doc, &mut analyzer);
                let resolved = ResolvedDoc::resolve(&analysis, &dict);
                for ((text, query), program) in queries.iter().zip(&programs) {
                    prop_assert_eq!(
                        program.matches(&resolved),
                        eval::matches(query, &analysis),
                        "{} on {:?}", text, fields
                    );
                }
            }
            for program in &programs {
                program.release(&mut dict);
            }
            prop_assert!(dict.is_empty());
        }
    }

    #[test]
    fn numbers_are_reused_once_no_query_holds_them() {
        let mut dict = TermDict::default();
        let a = Program::compile(
            &parse("niger AND \"niger junta\"").unwrap().query,
            &mut dict,
        );
        assert_eq!(dict.len(), 2);
        let b = Program::compile(&parse("mali").unwrap().query, &mut dict);
        a.release(&mut dict);
        assert_eq!(dict.len(), 1);
        let c = Program::compile(&parse("army OR forces").unwrap().query, &mut dict);
        assert_eq!(dict.id_bound(), 3);
        b.release(&mut dict);
        c.release(&mut dict);
        assert!(dict.is_empty());
    }
}
