//! Saved queries: where each comes from (the config, a TSV or TOML file), what a name may be,
//! and compiling them with the query parser. A query that does not parse is reported with its
//! origin and column, and left out; the others keep working. A name that breaks the rules
//! ([`check_query_name`]), or one defined twice, refuses the file, like any other error in it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{ConfigError, QueryEntry};
use crate::delivery::digest::{PolicyOverride, OFF};
use crate::query::{self, Lint, Query, QueryError, QueryLimits};

/// A saved query as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuerySpec {
    pub name: Arc<str>,
    pub text: Arc<str>,
    /// Webhooks to notify; `None`: every webhook.
    pub webhooks: Option<Vec<String>>,
    /// What it does with copies of an article that alerted for it; `None`: the
    /// `[duplicates] mode`.
    pub duplicates: Option<super::Duplicates>,
    /// Its own `digest` and `at_most`, over those of each destination it goes to.
    pub delivery: PolicyOverride,
    /// The file that holds it (the config file itself for an inline `[[queries]]` table, else
    /// the queries file): where a change to it is saved. The queries of one file share it.
    pub file: Arc<Path>,
    /// Its line in a TSV file (from 1); `None` in a TOML file.
    pub line: Option<u32>,
}

impl QuerySpec {
    /// Where its alerts go and how, for delivery.
    pub fn route(&self) -> crate::delivery::QueryRoute {
        crate::delivery::QueryRoute {
            query: self.name.to_string(),
            destinations: self.webhooks.clone(),
            policy: self.delivery.clone(),
        }
    }

    /// True if `other` delivers the same way: same destinations, same `digest` and `at_most`.
    pub fn routes_like(&self, other: &QuerySpec) -> bool {
        self.webhooks == other.webhooks && self.delivery == other.delivery
    }

    /// Where it was defined, for messages: `config.toml` or `queries.tsv:12`.
    pub fn origin(&self) -> Origin<'_> {
        Origin(self)
    }
}

/// Where a saved query was defined, as messages show it ([`QuerySpec::origin`]).
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a>(&'a QuerySpec);

impl std::fmt::Display for Origin<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.line {
            Some(line) => write!(f, "{}:{line}", self.0.file.display()),
            None => write!(f, "{}", self.0.file.display()),
        }
    }
}

/// A saved query ready to run.
#[derive(Debug, Clone)]
pub struct SavedQuery {
    pub name: String,
    pub text: String,
    pub query: Query,
    pub webhooks: Option<Vec<String>>,
    pub lints: Vec<Lint>,
}

/// A saved query that does not parse.
#[derive(Debug, Clone)]
pub struct QueryProblem {
    pub spec: QuerySpec,
    pub error: QueryError,
}

impl std::fmt::Display for QueryProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: saved query '{}': {}",
            self.spec.origin(),
            self.spec.name,
            self.error
        )
    }
}

pub(crate) fn from_entries(
    entries: Vec<QueryEntry>,
    path: &Path,
) -> Result<Vec<QuerySpec>, ConfigError> {
    let file: Arc<Path> = path.into();
    entries
        .into_iter()
        .map(|e| {
            let delivery = PolicyOverride::parse(e.digest.as_deref(), e.at_most.as_deref())
                .map_err(|(setting, problem)| ConfigError::Invalid {
                    path: path.to_path_buf(),
                    key: "queries".into(),
                    problem: format!(
                        "query '{}': {setting}: {problem}; \"{OFF}\" turns its destinations' {setting} off for this query",
                        e.name
                    ),
                })?;
            Ok(QuerySpec {
                name: e.name.into(),
                text: e.query.into(),
                webhooks: e.webhooks,
                duplicates: e.duplicates,
                delivery,
                file: Arc::clone(&file),
                line: None,
            })
        })
        .collect()
}

/// The longest query name, in characters.
pub const MAX_QUERY_NAME_CHARS: usize = 64;

/// The name `POST /queries/check` takes: no saved query may have it.
pub const RESERVED_QUERY_NAME: &str = "check";

/// Why a saved query's name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryNameError {
    #[error("a saved query needs a name")]
    Empty,
    #[error("a query name is at most {MAX_QUERY_NAME_CHARS} characters; this one has {0}")]
    TooLong(usize),
    #[error("{character:?} (character {at}) is not allowed in a query name: use letters, digits, '-', '_' and '.', starting with a letter or digit")]
    Character { character: char, at: usize },
    #[error("'{RESERVED_QUERY_NAME}' is reserved (POST /queries/check checks a query text): choose another name")]
    Reserved,
}

/// A query name is 1 to 64 ASCII letters, digits, `-`, `_` and `.`, starting with a letter or a
/// digit, and not `check`. So it needs no quoting in a URL path, a TSV line or a TOML key, the
/// alert id `q:NAME/d:ID` reads back unambiguously, and an alert line stays small.
pub fn check_query_name(name: &str) -> Result<(), QueryNameError> {
    let mut chars = 0;
    for (i, character) in name.chars().enumerate() {
        chars += 1;
        let allowed =
            character.is_ascii_alphanumeric() || (i > 0 && matches!(character, '-' | '_' | '.'));
        if !allowed {
            return Err(QueryNameError::Character {
                character,
                at: i + 1,
            });
        }
    }
    if chars == 0 {
        return Err(QueryNameError::Empty);
    }
    if chars > MAX_QUERY_NAME_CHARS {
        return Err(QueryNameError::TooLong(chars));
    }
    if name == RESERVED_QUERY_NAME {
        return Err(QueryNameError::Reserved);
    }
    Ok(())
}

/// A name as messages show it: escaped, and cut after the longest valid length (a 40,000
/// character name is not repeated whole in a log line).
pub fn shown_name(name: &str) -> String {
    let mut shown: String = name.chars().take(MAX_QUERY_NAME_CHARS).collect();
    if shown.len() < name.len() {
        shown.push('…');
    }
    format!("{shown:?}")
}

/// Why a set of saved queries cannot be loaded together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryNamesError {
    #[error("{origin}: the saved query name {name} is refused: {error}")]
    Invalid {
        origin: String,
        name: String,
        error: QueryNameError,
    },
    #[error("the query name '{name}' is defined twice: in {first} and in {second}")]
    Twice {
        name: String,
        first: String,
        second: String,
    },
}

/// Every name valid, none defined twice.
pub(crate) fn check_names(specs: &[QuerySpec]) -> Result<(), QueryNamesError> {
    let mut seen: rustc_hash::FxHashMap<&str, &QuerySpec> = Default::default();
    seen.reserve(specs.len());
    for spec in specs {
        check_query_name(&spec.name).map_err(|error| QueryNamesError::Invalid {
            origin: spec.origin().to_string(),
            name: shown_name(&spec.name),
            error,
        })?;
        if let Some(first) = seen.insert(&spec.name, spec) {
            return Err(QueryNamesError::Twice {
                name: spec.name.to_string(),
                first: first.origin().to_string(),
                second: spec.origin().to_string(),
            });
        }
    }
    Ok(())
}

/// Load a queries file: `.toml` in the config's format, anything else as TSV
/// (`NAME<TAB>QUERY` a line; blank lines and lines starting with `#` are skipped).
pub fn load_queries_file(path: &Path) -> Result<Vec<QuerySpec>, ConfigError> {
    load_queries_file_in(path, &mut Vec::new())
}

/// `load_queries_file` for a file included by the files in `including` (a TOML file may
/// include others).
pub(crate) fn load_queries_file_in(
    path: &Path,
    including: &mut Vec<PathBuf>,
) -> Result<Vec<QuerySpec>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("toml"))
    {
        return super::queries_of_toml(path, &text, including);
    }
    parse_tsv(path, &text)
}

/// The saved queries of a TSV file's text (a leading UTF-8 byte-order mark, which some editors
/// write, is not part of the first name).
pub(crate) fn parse_tsv(path: &Path, text: &str) -> Result<Vec<QuerySpec>, ConfigError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let file: Arc<Path> = path.into();
    let mut specs = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, query)) = line.split_once('\t') else {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                key: format!("line {}", i + 1),
                problem: "expected NAME<TAB>QUERY (no tab found)".into(),
            });
        };
        specs.push(QuerySpec {
            name: name.trim().into(),
            text: query.into(),
            webhooks: None,
            duplicates: None,
            delivery: PolicyOverride::default(),
            file: Arc::clone(&file),
            line: Some(u32::try_from(i + 1).unwrap_or(u32::MAX)),
        });
    }
    check_names(&specs).map_err(|problem| ConfigError::Invalid {
        path: path.to_path_buf(),
        key: "queries".into(),
        problem: problem.to_string(),
    })?;
    Ok(specs)
}

/// Parse every saved query within `limits`; the ones that fail come back as problems.
pub fn compile_queries(
    specs: &[QuerySpec],
    limits: QueryLimits,
) -> (Vec<SavedQuery>, Vec<QueryProblem>) {
    let mut good = Vec::with_capacity(specs.len());
    let mut bad = Vec::new();
    for (spec, parsed) in specs.iter().zip(parse_queries(specs, limits)) {
        match parsed {
            Ok(parsed) => good.push(SavedQuery {
                name: spec.name.to_string(),
                text: spec.text.to_string(),
                query: parsed.query,
                webhooks: spec.webhooks.clone(),
                lints: parsed.lints,
            }),
            Err(error) => bad.push(QueryProblem {
                spec: spec.clone(),
                error,
            }),
        }
    }
    (good, bad)
}

/// Parse each saved query's text, on every core of the current rayon pool; the results come in
/// the specs' order.
pub fn parse_queries(
    specs: &[QuerySpec],
    limits: QueryLimits,
) -> Vec<Result<query::Parsed, QueryError>> {
    use rayon::prelude::*;
    specs
        .par_iter()
        .with_min_len(256)
        .map(|spec| query::parse_with_limits(&spec.text, limits))
        .collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn names_are_short_plain_and_not_reserved() {
        for good in ["oil", "niger-security", "Q_2", "x.y", "0", &"a".repeat(64)] {
            assert_eq!(check_query_name(good), Ok(()), "{good}");
        }
        assert_eq!(check_query_name(""), Err(QueryNameError::Empty));
        assert_eq!(
            check_query_name(&"a".repeat(40_000)),
            Err(QueryNameError::TooLong(40_000))
        );
        assert_eq!(
            check_query_name(&"a".repeat(65)),
            Err(QueryNameError::TooLong(65))
        );
        assert_eq!(check_query_name("check"), Err(QueryNameError::Reserved));
        assert_eq!(check_query_name("Check"), Ok(()));
        for (bad, character, at) in [
            ("a/b", '/', 2),
            ("oil prices", ' ', 4),
            ("a\tb", '\t', 2),
            ("a\u{0}", '\u{0}', 2),
            (".hidden", '.', 1),
            ("..", '.', 1),
            ("-x", '-', 1),
            ("é", 'é', 1),
            ("\u{feff}oil", '\u{feff}', 1),
            ("a%2Fb", '%', 2),
            ("q:1", ':', 2),
        ] {
            assert_eq!(
                check_query_name(bad),
                Err(QueryNameError::Character { character, at }),
                "{bad:?}"
            );
        }
        let message = check_query_name("oil prices").unwrap_err().to_string();
        assert!(message.contains("' ' (character 4)"), "{message}");
        // A long name is not repeated whole.
        assert_eq!(shown_name(&"a".repeat(40_000)).len(), 64 + "\"…\"".len());
    }

    #[test]
    fn every_file_format_refuses_a_bad_name_naming_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let tsv = dir.path().join("q.tsv");
        std::fs::write(&tsv, "oil\toil\noil prices\toil AND prices\n").unwrap();
        let err = load_queries_file(&tsv).unwrap_err().to_string();
        assert!(
            err.contains("q.tsv:2") && err.contains("\"oil prices\"") && err.contains("' '"),
            "{err}"
        );
        let toml = dir.path().join("q.toml");
        std::fs::write(&toml, "[[queries]]\nname = 'a/b'\nquery = 'x'\n").unwrap();
        let err = load_queries_file(&toml).unwrap_err().to_string();
        assert!(err.contains("\"a/b\"") && err.contains("'/'"), "{err}");
        std::fs::write(&tsv, format!("{}\tx\n", "n".repeat(40_000))).unwrap();
        let err = load_queries_file(&tsv).unwrap_err().to_string();
        assert!(err.len() < 600 && err.contains("40000"), "{err}");
        std::fs::write(&tsv, "check\tx\n").unwrap();
        let err = load_queries_file(&tsv).unwrap_err().to_string();
        assert!(err.contains("reserved"), "{err}");
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_first_name() {
        let dir = tempfile::tempdir().unwrap();
        let tsv = dir.path().join("q.tsv");
        std::fs::write(&tsv, "\u{feff}oil\tcrude AND oil\r\ngas\tgas\r\n").unwrap();
        let specs = load_queries_file(&tsv).unwrap();
        let names: Vec<&str> = specs.iter().map(|s| &*s.name).collect();
        assert_eq!(names, ["oil", "gas"]);
        assert_eq!(&*specs[0].text, "crude AND oil");
        // A comment first line with a mark stays a comment.
        std::fs::write(&tsv, "\u{feff}# saved\noil\toil\n").unwrap();
        assert_eq!(load_queries_file(&tsv).unwrap().len(), 1);
        // And in a TOML queries file.
        let toml = dir.path().join("q.toml");
        std::fs::write(&toml, "\u{feff}[[queries]]\nname = 'oil'\nquery = 'oil'\n").unwrap();
        assert_eq!(&*load_queries_file(&toml).unwrap()[0].name, "oil");
    }

    proptest! {
        /// The class: any name is either refused, or it fits every place a name goes: one URL
        /// path segment as it is, a TSV line's first field, and the alert id `q:NAME/d:ID`,
        /// which splits back into exactly that name; and it is short.
        #[test]
        fn an_accepted_name_is_unambiguous_everywhere(name in prop_oneof![
            "[a-zA-Z0-9._-]{0,70}",
            ".{0,80}",
            "[a-z]{1,8}[ /:\t#%?&=+]{1,2}[a-z]{1,8}",
        ]) {
            if check_query_name(&name).is_ok() {
                prop_assert!((1..=MAX_QUERY_NAME_CHARS).contains(&name.len()));
                prop_assert!(name != RESERVED_QUERY_NAME);
                // A URL path segment with nothing to escape, and never `.` or `..`.
                prop_assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)));
                prop_assert!(name != "." && name != "..");
                // The alert id reads back.
                let id = format!("q:{name}/d:0123abcd");
                let (q, d) = id.split_once('/').unwrap();
                prop_assert_eq!(q.strip_prefix("q:"), Some(name.as_str()));
                prop_assert_eq!(d, "d:0123abcd");
                // A TSV line reads back.
                let specs = parse_tsv(Path::new("q.tsv"), &format!("{name}\tx\n")).unwrap();
                prop_assert_eq!(&*specs[0].name, name.as_str());
            }
        }
    }
}
