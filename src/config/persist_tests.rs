//! Property tests of `save_query` and `remove_query` (`persist.rs`) against a model: for
//! valid and arbitrary names (the name rules refuse all but letters, digits, `-`, `_`, `.`) and
//! arbitrary texts (unicode, quotes, `"""`, backslashes, `#`, `=`, brackets, white space at
//! either end, control characters, line breaks) and for a config.toml with comments,
//! other keys, `[[queries]]` tables (before or around the `[[webhooks]]` tables) or an inline
//! `queries = [...]` array, or a TSV queries file (`\n` or `\r\n`):
//!
//! - a save is refused with `ConfigError::Invalid` (under the expected key) exactly when the
//!   format cannot hold the name, text or webhooks (`refusal`), and the file is left as it was;
//!   otherwise the outcome is the model's and the file loads (`Config::load`, or
//!   `load_queries_file` for TSV) with the model's queries: that one added at the end or updated
//!   in place, every other one and their order unchanged;
//! - every comment outside the queries is still there once, each query's comment is still
//!   beside that query, a commented-out key ending a table still follows that table's keys, and
//!   the config's other keys are unchanged;
//! - saving the same query again is `Unchanged` and writes nothing;
//! - removing it takes exactly that query, and a second removal finds nothing;
//! - adding a query the file did not hold then removing it gives the original bytes back (up to
//!   a line ending after a last line that had none, and an inline array's white space);
//! - any sequence of saves and removes keeps the file loadable and equal to the model, and
//!   leaves no temporary file.

use std::fs;
use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::{load_queries_file, remove_query, save_query, Config, ConfigError, SaveOutcome};

/// A saved query as the model holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    name: String,
    text: String,
    webhooks: Option<Vec<String>>,
}

/// The webhooks the config defines (the second name needs escaping in TOML).
const HOOKS: [&str; 2] = ["slack", "ops \"ü\" \\ #"];

/// Pieces that stress TOML and TSV encodings: quotes of both kinds and their triples,
/// backslashes and escape look-alikes, comment and key syntax, brackets, line breaks, control
/// characters, unicode white space and a byte-order mark.
const PIECES: &[&str] = &[
    " ",
    "  ",
    "'",
    "''",
    "'''",
    "\"",
    "\"\"",
    "\"\"\"",
    "\\",
    "\\\\",
    "\\n",
    "\\u0041",
    "#",
    "# c",
    "=",
    "a = 1",
    "[",
    "]",
    "[[queries]]",
    "[x]",
    "{",
    "}",
    ",",
    "\n",
    "\r\n",
    "\r",
    "\n\n",
    "\t",
    "\u{0}",
    "\u{7}",
    "\u{1b}",
    "\u{7f}",
    "\u{85}",
    "\u{a0}",
    "\u{2028}",
    "\u{feff}",
    "é",
    "日本",
    "🦀",
    "AND",
    "OR",
    "NOT",
    "\"a b\"~2",
    "name = 'x'",
    "alpha",
];

fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(PIECES).prop_map(str::to_string),
        2 => "[a-zA-Z0-9]{1,6}",
        1 => any::<char>().prop_map(String::from),
    ]
}

/// Any text, tricky pieces favoured.
fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(piece(), 0..7).prop_map(|pieces| pieces.concat())
}

/// A name: usually one of a few valid ones (so that saves and removes meet), else one of the
/// kinds the name rules refuse, else arbitrary (nearly always refused).
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(&["a", "b", "q-1", "Q_2", "x.y", "0", "a1-b2.c3_d4"][..])
            .prop_map(str::to_string),
        2 => prop::sample::select(&[
            "q 1", "ünï", "#x", "x=y", "[z]", "\"q\"", "'q'", "a\\b", "'''", "\"\"\"",
            "🦀 crab", " a", "a ", "", "a\tb", "a\nb", "a/b", ".a", "-a", "check",
        ][..])
        .prop_map(str::to_string),
        1 => "[a-z][a-z0-9._-]{60,70}",
        1 => text(),
    ]
}

fn webhooks() -> impl Strategy<Value = Option<Vec<String>>> {
    prop_oneof![
        2 => Just(None),
        1 => prop::sample::subsequence(HOOKS.to_vec(), 0..=2)
            .prop_map(|hooks| Some(hooks.into_iter().map(str::to_string).collect())),
    ]
}

/// How the file holds its queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// config.toml, `[[queries]]` tables before the `[[webhooks]]` tables.
    Tables,
    /// config.toml, `[[queries]]` tables split around the `[[webhooks]]` tables.
    TablesAroundWebhooks,
    /// config.toml, `queries = [ {...}, ... ]` one inline table a line.
    InlineArray,
    /// queries.tsv with `\n` (or `\r\n`) line endings.
    Tsv { crlf: bool },
}

impl Layout {
    fn is_tsv(self) -> bool {
        matches!(self, Layout::Tsv { .. })
    }
}

fn layout() -> impl Strategy<Value = Layout> {
    prop_oneof![
        Just(Layout::Tables),
        Just(Layout::TablesAroundWebhooks),
        Just(Layout::InlineArray),
        any::<bool>().prop_map(|crlf| Layout::Tsv { crlf }),
    ]
}

/// What `save_query` must refuse, and under which key: the rules `persist.rs` documents.
fn refusal(tsv: bool, name: &str, text: &str, webhooks: Option<&[String]>) -> Option<&'static str> {
    if super::check_query_name(name).is_err() {
        Some("name")
    } else if tsv && text.contains(['\n', '\r']) {
        Some("query")
    } else if tsv && webhooks.is_some() {
        Some("webhooks")
    } else {
        None
    }
}

/// A TOML basic string, written here rather than by toml_edit (the code under test).
fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() && c != '\t' => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn toml_array(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|s| toml_str(s)).collect();
    format!("[{}]", items.join(", "))
}

/// The comment written inside the table (or beside the line) of the `i`-th query.
fn query_comment(i: usize) -> String {
    format!("# about query {i}")
}

/// The end of the ops webhook's table: a commented-out key, which must stay in that table
/// (no query table may come between them).
const OPS_END: &str = "timeout_ms = 500\n# max_attempts = 3\n";

/// Comments outside every query: none of them may ever be lost.
const TOML_COMMENTS: &[&str] = &[
    "# lookout config",
    "# the drop folder",
    "# Saved queries",
    "# the webhooks",
    "# the slack hook",
    "# last words",
];
const TSV_COMMENTS: &[&str] = &["# saved queries", "# last words"];

/// The file's text for `entries` (names valid and unique; TSV entries one line, no webhooks).
fn render(layout: Layout, entries: &[Entry]) -> String {
    let table = |i: usize, e: &Entry| {
        let mut t = format!(
            "[[queries]]\n{}\nname = {}\nquery = {}   # text of {i}\n",
            query_comment(i),
            toml_str(&e.name),
            toml_str(&e.text)
        );
        if let Some(hooks) = &e.webhooks {
            t.push_str(&format!("webhooks = {}\n", toml_array(hooks)));
        }
        t.push('\n');
        t
    };
    let hooks = format!(
        "# the webhooks\n[[webhooks]]\n# the slack hook\nname = {}\nurl = 'http://127.0.0.1:9/'\n\n\
         [[webhooks]]\nname = {}\nurl = 'http://127.0.0.1:9/ops'\n{OPS_END}\n",
        toml_str(HOOKS[0]),
        toml_str(HOOKS[1])
    );
    let head =
        "# lookout config\nwatch = 'watch'   # the drop folder\ncommit_interval_ms = 250\n\n";
    match layout {
        Layout::Tables => {
            let mut out = format!("{head}# Saved queries\n");
            for (i, e) in entries.iter().enumerate() {
                out.push_str(&table(i, e));
            }
            format!("{out}{hooks}# last words\n")
        }
        Layout::TablesAroundWebhooks => {
            let mut out = format!("{head}# Saved queries\n");
            let half = entries.len() / 2;
            for (i, e) in entries.iter().enumerate().take(half) {
                out.push_str(&table(i, e));
            }
            out.push_str(&hooks);
            for (i, e) in entries.iter().enumerate().skip(half) {
                out.push_str(&table(i, e));
            }
            format!("{out}# last words\n")
        }
        Layout::InlineArray => {
            let mut out = format!("{head}# Saved queries\nqueries = [\n");
            for (i, e) in entries.iter().enumerate() {
                let hooks = match &e.webhooks {
                    Some(h) => format!(", webhooks = {}", toml_array(h)),
                    None => String::new(),
                };
                out.push_str(&format!(
                    "  {{ name = {}, query = {}{hooks} }},   {}\n",
                    toml_str(&e.name),
                    toml_str(&e.text),
                    query_comment(i)
                ));
            }
            format!("{out}]\n\n{hooks}# last words\n")
        }
        Layout::Tsv { crlf } => {
            let nl = if crlf { "\r\n" } else { "\n" };
            let mut out = format!("# saved queries{nl}{nl}");
            for (i, e) in entries.iter().enumerate() {
                out.push_str(&format!(
                    "{}{nl}{}\t{}{nl}",
                    query_comment(i),
                    e.name,
                    e.text
                ));
            }
            // No line ending after the last line.
            format!("{out}# last words")
        }
    }
}

/// The queries the file holds at the start: valid names, unique; TSV ones on one line.
fn base(layout: Layout) -> impl Strategy<Value = Vec<Entry>> {
    prop::collection::vec((name(), text(), webhooks()), 0..5).prop_map(move |raw| {
        let mut entries: Vec<Entry> = Vec::new();
        for (name, text, webhooks) in raw {
            let (text, webhooks) = if layout.is_tsv() {
                (text.replace(['\n', '\r'], " "), None)
            } else {
                (text, webhooks)
            };
            if refusal(layout.is_tsv(), &name, &text, webhooks.as_deref()).is_none()
                && !entries.iter().any(|e| e.name == name)
            {
                entries.push(Entry {
                    name,
                    text,
                    webhooks,
                });
            }
        }
        entries
    })
}

/// A folder with the file laid out for `entries`.
struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
    layout: Layout,
    /// The config's keys other than queries, as loaded at the start.
    other_keys: Option<String>,
}

impl Fixture {
    fn new(layout: Layout, entries: &[Entry]) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let file = if layout.is_tsv() {
            "queries.tsv"
        } else {
            "config.toml"
        };
        let path = dir.path().join(file);
        fs::write(&path, render(layout, entries)).unwrap();
        let mut fixture = Fixture {
            _dir: dir,
            path,
            layout,
            other_keys: None,
        };
        fixture.other_keys = fixture.other_keys();
        fixture
    }

    fn bytes(&self) -> Vec<u8> {
        fs::read(&self.path).unwrap()
    }

    fn tsv(&self) -> bool {
        self.layout.is_tsv()
    }

    /// The queries the file holds, in order; the case fails if the file does not load.
    fn load(&self) -> Result<Vec<Entry>, TestCaseError> {
        let specs = if self.tsv() {
            load_queries_file(&self.path)
        } else {
            Config::load(&self.path).map(|c| c.queries)
        };
        let specs = specs.map_err(|e| {
            let text = String::from_utf8_lossy(&self.bytes()).into_owned();
            TestCaseError::fail(format!("the file no longer loads: {e}\n{text}"))
        })?;
        Ok(specs
            .into_iter()
            .map(|s| Entry {
                name: s.name.to_string(),
                text: s.text.to_string(),
                webhooks: s.webhooks,
            })
            .collect())
    }

    fn other_keys(&self) -> Option<String> {
        if self.tsv() {
            return None;
        }
        let c = Config::load(&self.path).ok()?;
        Some(format!(
            "{:?} {:?} {:?} {:?} {:?}",
            c.watch, c.index, c.commit_interval, c.queries_files, c.webhooks
        ))
    }

    /// Every comment outside the queries is there once, and so is the comment of each query
    /// in `kept` (indexes into `entries`, the starting queries), still beside that query; in a
    /// TSV file, comment lines are never removed. The other keys are as they were.
    fn check_kept(&self, entries: &[Entry], kept: &[usize]) -> Result<(), TestCaseError> {
        let text = String::from_utf8(self.bytes()).unwrap();
        let once = |comment: &str| text.matches(comment).count() == 1;
        let (comments, kept) = if self.tsv() {
            (TSV_COMMENTS, (0..entries.len()).collect())
        } else {
            (TOML_COMMENTS, kept.to_vec())
        };
        for comment in comments {
            prop_assert!(once(comment), "{:?} not there once:\n{}", comment, text);
        }
        for i in kept {
            // (At most 5 queries: "# about query 1" is no prefix of another.)
            let comment = match self.layout {
                Layout::Tsv { .. } => query_comment(i),
                _ => format!("{}\n", query_comment(i)),
            };
            prop_assert!(once(&comment), "{:?} not there once:\n{}", comment, text);
            let name = toml_str(&entries[i].name);
            let beside = match self.layout {
                Layout::Tsv { .. } => true,
                // Inside the table, above its name.
                Layout::Tables | Layout::TablesAroundWebhooks => {
                    text.contains(&format!("{comment}name = {name}\n"))
                }
                // At the end of its line: the first query comment after its name.
                Layout::InlineArray => text
                    .find(&format!("{{ name = {name},"))
                    .and_then(|at| text[at..].find("# about query ").map(|c| at + c))
                    .is_some_and(|at| text[at..].starts_with(&comment)),
            };
            prop_assert!(
                beside,
                "{:?} is no longer beside its query:\n{}",
                comment,
                text
            );
        }
        if !self.tsv() {
            prop_assert!(
                text.contains(OPS_END),
                "a table came between a key and the comment after it:\n{}",
                text
            );
        }
        prop_assert_eq!(self.other_keys(), self.other_keys.clone());
        Ok(())
    }
}

/// The model after a save: updated in place, or added at the end.
fn model_save(model: &mut Vec<Entry>, entry: Entry) -> SaveOutcome {
    match model.iter_mut().find(|e| e.name == entry.name) {
        Some(e) if *e == entry => SaveOutcome::Unchanged,
        Some(e) => {
            *e = entry;
            SaveOutcome::Updated
        }
        None => {
            model.push(entry);
            SaveOutcome::Added
        }
    }
}

/// Save through `persist` and through the model; check the outcome, the refusals, and that
/// the file then loads as the model.
fn save_both(
    fx: &Fixture,
    model: &mut Vec<Entry>,
    name: &str,
    text: &str,
    webhooks: Option<&[String]>,
) -> Result<Option<SaveOutcome>, TestCaseError> {
    let before = fx.bytes();
    let got = save_query(&fx.path, name, text, webhooks);
    match refusal(fx.tsv(), name, text, webhooks) {
        Some(expected_key) => {
            match &got {
                Err(ConfigError::Invalid { key, .. }) => {
                    prop_assert_eq!(key.as_str(), expected_key)
                }
                other => prop_assert!(
                    false,
                    "expected a refusal ({}), got {:?}",
                    expected_key,
                    other
                ),
            }
            prop_assert!(fx.bytes() == before, "a refused save changed the file");
            Ok(None)
        }
        None => {
            let got = got.map_err(|e| {
                TestCaseError::fail(format!(
                    "save_query({name:?}, {text:?}, {webhooks:?}) failed: {e}\n{}",
                    String::from_utf8_lossy(&before)
                ))
            })?;
            let expected = model_save(
                model,
                Entry {
                    name: name.to_string(),
                    text: text.to_string(),
                    webhooks: webhooks.map(<[String]>::to_vec),
                },
            );
            prop_assert_eq!(got, expected);
            if got == SaveOutcome::Unchanged {
                prop_assert!(fx.bytes() == before, "an unchanged save wrote");
            }
            prop_assert_eq!(&fx.load()?, model);
            Ok(Some(got))
        }
    }
}

fn remove_both(fx: &Fixture, model: &mut Vec<Entry>, name: &str) -> Result<(), TestCaseError> {
    let before = fx.bytes();
    let removed = remove_query(&fx.path, name)
        .map_err(|e| TestCaseError::fail(format!("remove_query({name:?}) failed: {e}")))?;
    let position = model.iter().position(|e| e.name == name);
    prop_assert_eq!(removed, position.is_some());
    match position {
        Some(i) => {
            model.remove(i);
        }
        None => prop_assert!(fx.bytes() == before, "removing nothing wrote"),
    }
    prop_assert_eq!(&fx.load()?, model);
    Ok(())
}

fn case() -> impl Strategy<Value = (Layout, Vec<Entry>, String, String, Option<Vec<String>>)> {
    layout().prop_flat_map(|layout| {
        let hooks = if layout.is_tsv() {
            // Mostly none (a TSV file cannot hold them), so that most saves go through.
            prop_oneof![4 => Just(None), 1 => webhooks()].boxed()
        } else {
            webhooks().boxed()
        };
        (Just(layout), base(layout), name(), text(), hooks)
    })
}

#[derive(Debug, Clone)]
enum Op {
    Save(String, String, Option<Vec<String>>),
    Remove(String),
}

fn ops(tsv: bool) -> impl Strategy<Value = Vec<Op>> {
    let hooks = if tsv {
        prop_oneof![6 => Just(None), 1 => webhooks()].boxed()
    } else {
        webhooks().boxed()
    };
    let op = prop_oneof![
        3 => (name(), text(), hooks).prop_map(|(n, t, h)| Op::Save(n, t, h)),
        1 => name().prop_map(Op::Remove),
    ];
    prop::collection::vec(op, 1..12)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn save_resave_and_remove_one_query((layout, entries, name, text, hooks) in case()) {
        let fx = Fixture::new(layout, &entries);
        let original = fx.bytes();
        let mut model = fx.load()?;
        prop_assert_eq!(&model, &entries);
        let all: Vec<usize> = (0..entries.len()).collect();

        let Some(outcome) = save_both(&fx, &mut model, &name, &text, hooks.as_deref())? else {
            return Ok(());
        };
        fx.check_kept(&entries, &all)?;

        // The same save again: nothing to do, nothing written.
        let saved = fx.bytes();
        prop_assert_eq!(save_query(&fx.path, &name, &text, hooks.as_deref()).ok(), Some(SaveOutcome::Unchanged));
        prop_assert!(fx.bytes() == saved, "a second identical save wrote");

        remove_both(&fx, &mut model, &name)?;
        let kept: Vec<usize> = all.iter().copied().filter(|&i| entries[i].name != name).collect();
        fx.check_kept(&entries, &kept)?;
        if outcome == SaveOutcome::Added && layout != Layout::InlineArray {
            // Added then removed: the file as it was, byte for byte (but for a line ending
            // after a last line that had none; an inline array's white space may change).
            let now = fx.bytes();
            let ended = [&original[..], if layout == (Layout::Tsv { crlf: true }) { b"\r\n" } else { b"\n" }].concat();
            prop_assert!(
                now == original || (!original.ends_with(b"\n") && now == ended),
                "add then remove changed the file:\n{}\n---- was ----\n{}",
                String::from_utf8_lossy(&now),
                String::from_utf8_lossy(&original)
            );
        }
        // Nothing left to remove.
        let before = fx.bytes();
        prop_assert_eq!(remove_query(&fx.path, &name).ok(), Some(false));
        prop_assert!(fx.bytes() == before);
    }

    #[test]
    fn sequences_of_saves_and_removes_follow_the_model(
        (layout, entries, ops) in layout().prop_flat_map(|l| (Just(l), base(l), ops(l.is_tsv())))
    ) {
        let fx = Fixture::new(layout, &entries);
        let mut model = fx.load()?;
        for op in &ops {
            match op {
                Op::Save(name, text, hooks) => {
                    save_both(&fx, &mut model, name, text, hooks.as_deref())?;
                }
                Op::Remove(name) => remove_both(&fx, &mut model, name)?,
            }
        }
        // The comments outside the queries and the other keys survived it all.
        let kept: Vec<usize> = (0..entries.len())
            .filter(|&i| ops.iter().all(|op| !matches!(op, Op::Remove(n) if *n == entries[i].name)))
            .collect();
        fx.check_kept(&entries, &kept)?;
        for leftover in fs::read_dir(fx.path.parent().unwrap_or(Path::new("."))).unwrap() {
            let leftover = leftover.unwrap().file_name();
            prop_assert!(!leftover.to_string_lossy().ends_with(".tmp"), "left {:?}", leftover);
        }
    }
}

/// Saving a query's text keeps the settings the save does not carry (`duplicates`, `digest`,
/// `at_most`) in its table as they were.
#[test]
fn a_save_keeps_the_querys_other_settings() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    fs::write(
        &path,
        "[[queries]]\nname = 'q'\nquery = 'old'\nduplicates = 'suppress'\ndigest = '1h' # hourly\nat_most = 'off'\n",
    )
    .unwrap();
    save_query(&path, "q", "new AND text", None).unwrap();
    let config = Config::load(&path).unwrap();
    let spec = config.query_spec("q").unwrap();
    assert_eq!(&*spec.text, "new AND text");
    assert_eq!(spec.duplicates, Some(super::Duplicates::Suppress));
    assert_eq!(spec.delivery.digest, Some(Some("1h".parse().unwrap())));
    assert_eq!(spec.delivery.at_most, Some(None));
    assert!(fs::read_to_string(&path).unwrap().contains("# hourly"));
}
