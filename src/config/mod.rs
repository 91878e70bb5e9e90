//! `config.toml`: where to watch, where the index and the alert log live, the saved queries
//! (inline or in TSV/TOML files the config names), the webhooks and the HTTP API (`api.rs`).
//! Unknown keys are refused; relative paths are relative to the config file; errors name the
//! file, the key and the problem. Saving queries back into their files is `persist.rs`; what a
//! hot reload changes, and noticing that the files changed, is `reload.rs`.

mod api;
pub mod hosts;
mod json;
pub mod persist;
#[cfg(test)]
mod persist_tests;
mod queries;
pub mod reload;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use api::{
    ApiConfig, API_TOKEN_ENV, DEFAULT_API_LISTEN, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_STREAMS,
    MIN_CONNECTIONS,
};
pub use json::JsonSection;
pub use persist::{remove_query, save_query, SaveOutcome};
pub use queries::{
    check_query_name, compile_queries, load_queries_file, parse_queries, shown_name,
    QueryNameError, QueryProblem, QuerySpec, SavedQuery, MAX_QUERY_NAME_CHARS, RESERVED_QUERY_NAME,
};
pub use reload::{diff, ConfigDiff, ConfigWatcher};

use crate::delivery::{Destination, Destinations};
use crate::email::EmailConfig;
use crate::query::QueryLimits;
use crate::webhooks::WebhookConfig;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot watch {path} for changes: {source}")]
    Watch {
        path: PathBuf,
        source: notify::Error,
    },
    #[error("{path}: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("{path}: {key}: {problem}")]
    Invalid {
        path: PathBuf,
        key: String,
        problem: String,
    },
}

/// One or several folders.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(PathBuf),
    Many(Vec<PathBuf>),
}

/// The file as written. Field docs are the user documentation of each key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    /// Folder(s) to watch for new articles (recursively). Default: `watch`.
    watch: Option<OneOrMany>,
    /// The tantivy index folder. Default: `index`.
    index: Option<PathBuf>,
    /// The JSON Lines alert log. Default: `alerts.jsonl`.
    alert_log: Option<PathBuf>,
    /// Where lookout keeps its durable progress (the ledger, webhook cursors). Default: `state`.
    state_dir: Option<PathBuf>,
    /// What happens to a deleted file's documents: `keep` them searchable (default) or
    /// `remove` them from the index.
    on_delete: Option<OnDelete>,
    /// Poll the watch folders every this many milliseconds instead of using file events
    /// (for network filesystems).
    poll_interval_ms: Option<u64>,
    /// Full rescan of the watch folders every this many seconds (events are hints). Default 60.
    rescan_interval_s: Option<u64>,
    /// A file being written in place (file events showed writes, and its writer has not closed
    /// it) is read anyway once it has not changed for this many seconds. Default 300.
    open_file_timeout_s: Option<u64>,
    /// Commit the index at least this often (milliseconds). Default 1000.
    commit_interval_ms: Option<u64>,
    /// Files larger than this (bytes) are skipped with an error. Default 20 MiB.
    max_file_size: Option<u64>,
    /// The most clauses a query may have: each term, phrase word, prefix and date or date
    /// range counts one, wherever it is (as Lucene counts them). Larger queries are refused
    /// with an error naming the column where the limit is passed, on every path that reads a
    /// query (saved queries, search, dry runs, checks, `lookout match`). Default 1024
    /// (Lucene's default); needs a restart to change.
    max_query_clauses: Option<usize>,
    /// Saved queries in separate files: TSV (`NAME<TAB>QUERY`) or TOML (`[[queries]]` tables).
    #[serde(default)]
    queries_files: Vec<PathBuf>,
    #[serde(default)]
    queries: Vec<QueryEntry>,
    #[serde(default)]
    webhooks: Vec<WebhookConfig>,
    /// E-mail destinations (`[[emails]]` tables; see `EmailConfig`).
    #[serde(default)]
    emails: Vec<EmailConfig>,
    /// The HTTP API (`[api]` table; see `ApiConfig`).
    #[serde(default)]
    api: ApiConfig,
    /// Which keys of JSON articles hold each field (`[json]` table; see `JsonSection`).
    #[serde(default)]
    json: JsonSection,
    /// How the engine runs (`[engine]` table).
    #[serde(default)]
    engine: EngineSection,
    /// Copies of a story (`[duplicates]` table).
    #[serde(default)]
    duplicates: DuplicatesSection,
}

/// The `[engine]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EngineSection {
    /// How many threads read, extract, analyze and match articles in parallel (one writer
    /// applies what they find in order). Default: one per core. Needs a restart to change.
    workers: Option<usize>,
}

/// The `[duplicates]` table: near-copies of an article (wire copies: a new headline, a
/// paragraph dropped or added, a byline, a few words changed).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DuplicatesSection {
    /// What a saved query does with a copy of an article that already alerted for it:
    /// `alert` again (the default) or `suppress` (a copy record in the alert log instead). A
    /// saved query's own `duplicates` key wins.
    mode: Option<Duplicates>,
    /// How much of the shorter article's word shingles the other must share to be a copy,
    /// from 0.1 to 1. Default 0.5.
    threshold: Option<f64>,
    /// Copies are looked for among this many most recent articles. Default 50,000.
    window: Option<usize>,
}

/// What a saved query does with a near-copy of an article that already alerted for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Duplicates {
    /// Alert on it as on any article.
    #[default]
    Alert,
    /// Write a copy record pointing at the first alert instead of alerting.
    Suppress,
}

/// The `[duplicates]` settings, checked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DuplicatesConfig {
    pub mode: Duplicates,
    pub threshold: f64,
    pub window: usize,
}

pub const DEFAULT_DUPLICATES_THRESHOLD: f64 = 0.5;
pub const DEFAULT_DUPLICATES_WINDOW: usize = 50_000;
/// The lowest `[duplicates] threshold` taken.
pub const MIN_DUPLICATES_THRESHOLD: f64 = 0.1;
/// The largest `[duplicates] window` (about 600 bytes of memory per article).
pub const MAX_DUPLICATES_WINDOW: usize = 10_000_000;

impl Default for DuplicatesConfig {
    fn default() -> Self {
        DuplicatesConfig {
            mode: Duplicates::Alert,
            threshold: DEFAULT_DUPLICATES_THRESHOLD,
            window: DEFAULT_DUPLICATES_WINDOW,
        }
    }
}

/// The most `[engine] workers` taken.
pub const MAX_WORKERS: usize = 256;

/// A `[[queries]]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct QueryEntry {
    pub name: String,
    pub query: String,
    /// Names of the webhooks to notify; default: every webhook.
    pub webhooks: Option<Vec<String>>,
    /// What this query does with copies of an article that alerted for it (default: the
    /// `[duplicates] mode`).
    pub duplicates: Option<Duplicates>,
    /// Its own digest schedule over its destinations' (`"off"`: each alert alone).
    pub digest: Option<String>,
    /// Its own throttle over its destinations' (`"off"`: none).
    pub at_most: Option<String>,
}

/// What happens to the documents of a file deleted from the watch folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnDelete {
    #[default]
    Keep,
    Remove,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub watch: Vec<PathBuf>,
    pub index: PathBuf,
    pub alert_log: PathBuf,
    pub state_dir: PathBuf,
    pub on_delete: OnDelete,
    pub poll_interval: Option<Duration>,
    pub rescan_interval: Duration,
    /// A file written in place and never closed is read once unchanged this long.
    pub open_file_timeout: Duration,
    pub commit_interval: Duration,
    pub max_file_size: u64,
    /// How large a query may be (`max_query_clauses`).
    pub query_limits: QueryLimits,
    /// The `queries_files`, resolved, in the config's order.
    pub queries_files: Vec<PathBuf>,
    pub queries: Vec<QuerySpec>,
    pub webhooks: Vec<WebhookConfig>,
    /// The e-mail destinations (their credentials are environment variables' names).
    pub emails: Vec<EmailConfig>,
    /// The HTTP API; its token never shows in `Debug` output.
    pub api: ApiConfig,
    /// The keys JSON articles are read from (`[json]`).
    pub json: crate::extract::JsonKeys,
    /// The threads that prepare articles (`[engine] workers`; 0: one per core).
    pub workers: usize,
    /// Copies of a story (`[duplicates]`).
    pub duplicates: DuplicatesConfig,
}

pub const DEFAULT_MAX_FILE_SIZE: u64 = 20 * 1024 * 1024;
/// The default of `open_file_timeout_s`.
pub const DEFAULT_OPEN_FILE_TIMEOUT: Duration = Duration::from_secs(300);

impl Config {
    /// Read and check the config file, taking the API token from `LOOKOUT_API_TOKEN` when that
    /// is set and not empty.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Self::load_with_env_token(path, std::env::var_os(API_TOKEN_ENV))
    }

    /// `load`, with the value of `LOOKOUT_API_TOKEN` given (tests do not touch the process's
    /// environment).
    fn load_with_env_token(
        path: &Path,
        env_token: Option<std::ffi::OsString>,
    ) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        // Absolute, so that every path derived from it is too (the watcher reports absolute
        // paths; the ledger compares them with the watch folders).
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let mut config = Self::parse(&path, &text)?;
        let invalid = |(key, problem): api::ApiProblem| ConfigError::Invalid {
            path: path.clone(),
            key: key.into(),
            problem,
        };
        config.api.apply_env_token(env_token).map_err(invalid)?;
        config.api.check().map_err(invalid)?;
        Ok(config)
    }

    /// Parse a config's text; `path` is where it lives (relative paths are relative to it).
    /// The `[api]` section is taken as written: `load` applies the environment and checks it.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let config = Self::parse_nested(path, text, &mut Vec::new())?;
        config.check_webhook_references()?;
        Ok(config)
    }

    /// Parse without checking the webhooks the queries name: a TOML queries file is parsed
    /// like a config, but its queries name the webhooks of the config that includes it.
    /// `including` holds the files being parsed around this one (to refuse a cycle).
    fn parse_nested(
        path: &Path,
        text: &str,
        including: &mut Vec<PathBuf>,
    ) -> Result<Config, ConfigError> {
        let mut file: ConfigFile = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let resolve = |p: PathBuf| if p.is_absolute() { p } else { base.join(p) };
        let invalid = |key: &str, problem: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            key: key.to_string(),
            problem,
        };

        let watch = match file.watch {
            None => vec![PathBuf::from("watch")],
            Some(OneOrMany::One(p)) => vec![p],
            Some(OneOrMany::Many(ps)) => ps,
        };
        if watch.is_empty() {
            return Err(invalid("watch", "name at least one folder".into()));
        }
        let queries_files: Vec<PathBuf> = file.queries_files.into_iter().map(resolve).collect();
        let mut queries = queries::from_entries(file.queries, path)?;
        including.push(canonical(path));
        for file_path in &queries_files {
            if including.contains(&canonical(file_path)) {
                return Err(invalid(
                    "queries_files",
                    format!("{} includes itself (a cycle)", file_path.display()),
                ));
            }
            queries.extend(queries::load_queries_file_in(file_path, including)?);
        }
        including.pop();
        queries::check_names(&queries)
            .map_err(|problem| invalid("queries", problem.to_string()))?;

        // A certificate file is found beside the config, like the folders.
        for email in &mut file.emails {
            email.ca_file = email.ca_file.take().map(resolve);
        }
        let mut names = std::collections::HashSet::new();
        let destinations = (file.webhooks.iter().cloned().map(Destination::Webhook))
            .map(|d| ("webhooks", d))
            .chain(
                file.emails
                    .iter()
                    .cloned()
                    .map(|e| ("emails", Destination::Email(e))),
            );
        for (key, destination) in destinations {
            if !names.insert(destination.name().to_owned()) {
                return Err(invalid(
                    key,
                    format!(
                        "the destination name '{}' is used twice (webhooks and e-mail destinations share names)",
                        destination.name()
                    ),
                ));
            }
            destination
                .validate()
                .map_err(|e| invalid(key, e.to_string()))?;
        }
        let json = file
            .json
            .keys()
            .map_err(|(key, problem)| invalid(&key, problem))?;
        // Absolute and without `.` components (`watch = "."`), as the watcher reports paths.
        let watch: Vec<PathBuf> = watch
            .into_iter()
            .map(resolve)
            .map(|p| std::path::absolute(&p).unwrap_or(p))
            .collect();
        let index = resolve(file.index.unwrap_or_else(|| "index".into()));
        let state_dir = resolve(file.state_dir.unwrap_or_else(|| "state".into()));
        for folder in &watch {
            for (key, own) in [("index", &index), ("state_dir", &state_dir)] {
                if folder.starts_with(own) {
                    return Err(invalid(
                        "watch",
                        format!(
                            "the watch folder {} is inside lookout's {key} folder {}; watch another folder",
                            folder.display(),
                            own.display()
                        ),
                    ));
                }
            }
        }
        let query_limits = match file.max_query_clauses {
            None => QueryLimits::default(),
            Some(0) => {
                return Err(invalid(
                    "max_query_clauses",
                    "must be at least 1 (the default is 1024)".into(),
                ))
            }
            Some(max_clauses) => QueryLimits { max_clauses },
        };
        let workers = match file.engine.workers {
            None => 0,
            Some(n @ 1..=MAX_WORKERS) => n,
            Some(n) => {
                return Err(invalid(
                    "engine.workers",
                    format!(
                        "{n} is not between 1 and {MAX_WORKERS} (leave it out for one per core)"
                    ),
                ))
            }
        };
        let duplicates = DuplicatesConfig {
            mode: file.duplicates.mode.unwrap_or_default(),
            threshold: match file.duplicates.threshold {
                None => DEFAULT_DUPLICATES_THRESHOLD,
                Some(t) if (MIN_DUPLICATES_THRESHOLD..=1.0).contains(&t) => t,
                Some(t) => {
                    return Err(invalid(
                        "duplicates.threshold",
                        format!("{t} is not between {MIN_DUPLICATES_THRESHOLD} and 1 (the default is {DEFAULT_DUPLICATES_THRESHOLD}; below {MIN_DUPLICATES_THRESHOLD}, articles sharing a sentence would be taken as copies)"),
                    ))
                }
            },
            window: match file.duplicates.window {
                None => DEFAULT_DUPLICATES_WINDOW,
                Some(n) if n <= MAX_DUPLICATES_WINDOW => n,
                Some(n) => {
                    return Err(invalid(
                        "duplicates.window",
                        format!("{n} is more than {MAX_DUPLICATES_WINDOW} articles"),
                    ))
                }
            },
        };
        Ok(Config {
            path: path.to_path_buf(),
            watch,
            index,
            alert_log: resolve(file.alert_log.unwrap_or_else(|| "alerts.jsonl".into())),
            state_dir,
            on_delete: file.on_delete.unwrap_or_default(),
            poll_interval: file.poll_interval_ms.map(Duration::from_millis),
            rescan_interval: Duration::from_secs(file.rescan_interval_s.unwrap_or(60).max(1)),
            open_file_timeout: file
                .open_file_timeout_s
                .map_or(DEFAULT_OPEN_FILE_TIMEOUT, |s| Duration::from_secs(s.max(1))),
            commit_interval: Duration::from_millis(file.commit_interval_ms.unwrap_or(1000).max(10)),
            max_file_size: file.max_file_size.unwrap_or(DEFAULT_MAX_FILE_SIZE),
            query_limits,
            queries_files,
            queries,
            webhooks: file.webhooks,
            emails: file.emails,
            api: file.api,
            json,
            workers,
            duplicates,
        })
    }
}

impl Config {
    /// Every webhook a query names (whichever file it is in) must be configured here.
    fn check_webhook_references(&self) -> Result<(), ConfigError> {
        for query in &self.queries {
            for hook in query.webhooks.iter().flatten() {
                if !self.is_destination(hook) {
                    return Err(ConfigError::Invalid {
                        path: self.path.clone(),
                        key: "queries".into(),
                        problem: format!(
                            "query '{}' ({}) names the destination '{hook}', which is not configured (no webhook or e-mail destination has that name)",
                            query.name,
                            query.origin()
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// The saved query named `name`.
    pub fn query_spec(&self, name: &str) -> Option<&QuerySpec> {
        self.queries.iter().find(|q| &*q.name == name)
    }

    /// Where a new saved query goes: the first of `queries_files`, else the config file itself.
    pub fn file_for_new_queries(&self) -> &Path {
        self.queries_files.first().unwrap_or(&self.path)
    }

    /// Where the saved query `name` is saved: the file that defines it, or, for a new one,
    /// [`Config::file_for_new_queries`].
    pub fn file_for_query(&self, name: &str) -> PathBuf {
        match self.query_spec(name) {
            Some(spec) => spec.file.to_path_buf(),
            None => self.file_for_new_queries().to_path_buf(),
        }
    }

    /// The first of `names` that is not a configured destination (webhook or e-mail).
    pub fn unknown_webhook<'a>(&self, names: &'a [String]) -> Option<&'a str> {
        names
            .iter()
            .find(|name| !self.is_destination(name))
            .map(String::as_str)
    }

    /// True if a webhook or an e-mail destination is named `name`.
    pub fn is_destination(&self, name: &str) -> bool {
        self.webhooks.iter().any(|w| w.name == name) || self.emails.iter().any(|e| e.name == name)
    }

    /// Every destination: the webhooks and the e-mail destinations.
    pub fn destinations(&self) -> Destinations {
        Destinations {
            webhooks: self.webhooks.clone(),
            emails: self.emails.clone(),
        }
    }

    /// The files whose change calls for a reload: the config file, then its `queries_files`.
    pub fn watched_files(&self) -> Vec<PathBuf> {
        let mut files = vec![self.path.clone()];
        // A TOML queries file may name queries files of its own: their queries say where.
        for file in &self.queries_files {
            if !files.contains(file) {
                files.push(file.clone());
            }
        }
        // The queries of one file share its path: compared once per run of them.
        let mut last: Option<&std::sync::Arc<Path>> = None;
        for query in &self.queries {
            if last.is_some_and(|last| std::sync::Arc::ptr_eq(last, &query.file)) {
                continue;
            }
            last = Some(&query.file);
            if !files.iter().any(|f| **f == *query.file) {
                files.push(query.file.to_path_buf());
            }
        }
        files
    }

    /// lookout's own files (index, state, alert log and what sits beside it, configuration and
    /// queries files): never read as articles, even inside a watch folder.
    pub fn own_files(&self) -> crate::watcher::OwnFiles {
        let mut own = crate::watcher::OwnFiles::default();
        own.add_folder(&self.index);
        own.add_folder(&self.state_dir);
        own.add_file_and_siblings(&self.alert_log);
        for file in self.watched_files() {
            own.add_file(&file);
        }
        own
    }

    /// Which webhooks get the alerts of which saved query (every webhook for a query that
    /// names none).
    pub fn webhook_routes(&self) -> crate::delivery::Routes {
        let names = self.destinations().names();
        let routes: Vec<crate::delivery::QueryRoute> =
            self.queries.iter().map(QuerySpec::route).collect();
        crate::delivery::Routes::new(&routes, &names)
    }
}

/// Read only the saved queries of a TOML file in the config's format (`[[queries]]` tables and
/// `queries_files`), ignoring nothing: the file must still be a valid config. The webhooks its
/// queries name are checked by the config that includes it.
pub(crate) fn queries_of_toml(
    path: &Path,
    text: &str,
    including: &mut Vec<PathBuf>,
) -> Result<Vec<QuerySpec>, ConfigError> {
    Ok(Config::parse_nested(path, text, including)?.queries)
}

/// `path` with symbolic links and `..` resolved when it exists (to recognize a file named two
/// ways), else as it is.
fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_relative_paths() {
        let config = Config::parse(
            Path::new("/srv/lookout/config.toml"),
            "[[queries]]\nname = \"niger\"\nquery = 'Niger AND \"security agreement\"'\n",
        )
        .unwrap();
        assert_eq!(config.watch, vec![PathBuf::from("/srv/lookout/watch")]);
        assert_eq!(config.index, PathBuf::from("/srv/lookout/index"));
        assert_eq!(config.alert_log, PathBuf::from("/srv/lookout/alerts.jsonl"));
        assert_eq!(config.queries.len(), 1);
        assert_eq!(
            config.queries[0].origin().to_string(),
            "/srv/lookout/config.toml"
        );
    }

    #[test]
    fn watch_dot_is_the_config_folder_and_own_files_are_known() {
        let config = Config::parse(Path::new("/srv/lookout/config.toml"), "watch = '.'\n").unwrap();
        assert_eq!(config.watch, vec![PathBuf::from("/srv/lookout")]);
        let own = config.own_files();
        assert!(own.contains(Path::new("/srv/lookout/index/meta.json")));
        assert!(own.contains(Path::new("/srv/lookout/state/ledger.sqlite")));
        assert!(own.contains(Path::new("/srv/lookout/alerts.jsonl")));
        assert!(own.contains(Path::new("/srv/lookout/config.toml")));
        assert!(!own.contains(Path::new("/srv/lookout/article.txt")));
        assert_eq!(config.open_file_timeout, DEFAULT_OPEN_FILE_TIMEOUT);
    }

    #[test]
    fn a_watch_folder_inside_the_index_or_state_folder_is_refused() {
        for (text, key) in [
            ("watch = 'index'\n", "index"),
            ("watch = 'state/inbox'\n", "state_dir"),
            ("watch = 'box'\nstate_dir = 'box'\n", "state_dir"),
        ] {
            let err = Config::parse(Path::new("/srv/lookout/config.toml"), text)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("watch") && err.contains(&format!("lookout's {key} folder")),
                "{text}: {err}"
            );
        }
    }

    #[test]
    fn unknown_keys_are_refused_with_their_name() {
        let err = Config::parse(Path::new("c.toml"), "watch = 'w'\nindx = 'i'\n").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("c.toml: "), "{text}");
        assert!(text.contains("unknown field `indx`"), "{text}");
        assert!(text.contains("line 2"), "{text}");
    }

    #[test]
    fn duplicate_names_and_unknown_webhooks_are_refused() {
        let twice = "[[queries]]\nname='a'\nquery='x'\n[[queries]]\nname='a'\nquery='y'\n";
        let err = Config::parse(Path::new("c.toml"), twice)
            .unwrap_err()
            .to_string();
        assert!(err.contains("'a'") && err.contains("twice"), "{err}");
        let hook = "[[queries]]\nname='a'\nquery='x'\nwebhooks=['nope']\n";
        let err = Config::parse(Path::new("c.toml"), hook)
            .unwrap_err()
            .to_string();
        assert!(err.contains("destination 'nope'"), "{err}");
    }

    #[test]
    fn bad_destinations_are_refused_naming_the_table_and_the_setting() {
        let cases = [
            ("[[webhooks]]\nname='d'\nurl='http://127.0.0.1:9/'\ndigest='soon'\n", "digest: 'soon' is not a schedule"),
            ("[[webhooks]]\nname='d'\nurl='http://127.0.0.1:9/'\nat_most='10'\n", "at_most: '10' is not a rate"),
            ("[[webhooks]]\nname='d'\nurl='http://127.0.0.1:9/'\nformat='template'\n", "needs a template"),
            ("[[webhooks]]\nname='d'\nurl='http://127.0.0.1:9/'\nformat='template'\ntemplate='{{ x'\n", "does not compile"),
            ("[[webhooks]]\nname='d'\nurl='http://127.0.0.1:9/'\nheaders={ webhook-id='x' }\n", "set by lookout itself"),
            ("[[webhooks]]\nname='d'\nurl='http://127.0.0.1:9/'\nformat='teams'\n", "unknown variant"),
            ("[[emails]]\nname='m'\nsmtp_host='smtp.example.org'\nfrom='nobody'\nto=['a@example.org']\n", "from 'nobody'"),
            ("[[emails]]\nname='m'\nsmtp_host='smtp.example.org'\nfrom='a@example.org'\nto=['a@example.org']\ndigest='daily at 8 Europe/Berlin'\n", "not a time of day"),
            ("[[webhooks]]\nname='d'\nurl='http://127.0.0.1:9/'\n[[emails]]\nname='d'\nsmtp_host='h'\nfrom='a@example.org'\nto=['a@example.org']\n", "used twice"),
            ("[[emails]]\nname='m'\nsmtp_host='h'\nfrom='a@example.org'\nto=['a@example.org']\nca_file='no-such.pem'\n", "cannot read ca_file no-such.pem"),
            ("[[emails]]\nname='m'\nsmtp_host='h'\nfrom='a@example.org'\nto=['a@example.org']\ntls='none'\nca_file='x.pem'\n", "ca_file is for a TLS connection"),
            ("[[emails]]\nname='m'\nsmtp_host='h'\nfrom='a@example.org'\nto=['a@example.org']\nca_file='Cargo.toml'\n", "holds no PEM certificate"),
        ];
        for (text, expected) in cases {
            let err = Config::parse(Path::new("c.toml"), text)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(expected) && err.contains("c.toml"),
                "{text}: {err}"
            );
        }
        let ok = "[[emails]]\nname='m'\nsmtp_host='smtp.example.org'\nfrom='a@example.org'\nto=['a@example.org']\nat_most='10/h'\n[[queries]]\nname='q'\nquery='x'\nwebhooks=['m']\n";
        let config = Config::parse(Path::new("c.toml"), ok).unwrap();
        assert_eq!(config.destinations().names(), ["m"]);
    }

    #[test]
    fn a_query_has_its_own_digest_and_at_most_or_a_clear_error() {
        let query = |settings: &str| format!("[[queries]]\nname='q'\nquery='x'\n{settings}\n");
        for (settings, expected) in [
            (
                "digest='soon'",
                "query 'q': digest: 'soon' is not a schedule",
            ),
            ("at_most='10'", "query 'q': at_most: '10' is not a rate"),
            ("at_most='0/h'", "the count must be from 1"),
            ("digest='daily at 25:00'", "not a time of day"),
            ("digest=''", "digest: '' is not a schedule"),
            ("digest='32d'", "'32d' is longer than 31 days"),
        ] {
            let err = Config::parse(Path::new("c.toml"), &query(settings))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(expected) && err.contains("c.toml") && err.contains("\"off\""),
                "{settings}: {err}"
            );
        }
        let config = Config::parse(
            Path::new("c.toml"),
            &query("digest='daily at 08:00 Europe/Berlin'\nat_most='off'"),
        )
        .unwrap();
        let own = &config.queries[0].delivery;
        assert_eq!(own.at_most, Some(None));
        assert_eq!(
            own.digest,
            Some(Some("daily at 08:00 Europe/Berlin".parse().unwrap()))
        );
        // A TOML queries file takes them too, and a change to them is a change of the query.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(dir.path().join("q.toml"), query("at_most='5/h'")).unwrap();
        std::fs::write(&path, "queries_files = ['q.toml']\n").unwrap();
        let before = Config::load(&path).unwrap();
        assert_eq!(
            before.queries[0].delivery.at_most,
            Some(Some("5/h".parse().unwrap()))
        );
        std::fs::write(dir.path().join("q.toml"), query("at_most='6/h'")).unwrap();
        let after = Config::load(&path).unwrap();
        assert_eq!(reload::diff(&before, &after).changed.len(), 1);
    }

    #[test]
    fn a_destination_takes_off_as_a_query_does() {
        let config = Config::parse(
            Path::new("c.toml"),
            "[[webhooks]]\nname='w'\nurl='http://127.0.0.1:9/'\ndigest='off'\nat_most='OFF'\n",
        )
        .unwrap();
        let webhook = config.destinations().webhooks[0].clone();
        let policy = crate::delivery::Destination::Webhook(webhook)
            .policy()
            .unwrap();
        assert_eq!((policy.digest, policy.at_most), (None, None));
        let err = Config::parse(
            Path::new("c.toml"),
            "[[webhooks]]\nname='w'\nurl='http://127.0.0.1:9/'\ndigest='offf'\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("'offf' is not a schedule"), "{err}");
    }

    #[test]
    fn each_query_knows_its_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("q.tsv"), "tsv\tbeta\n").unwrap();
        std::fs::write(dir.path().join("more.tsv"), "more\tgamma\n").unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(
            &path,
            "queries_files = ['q.tsv', 'more.tsv']\n[[queries]]\nname = 'inline'\nquery = 'alpha'\n",
        )
        .unwrap();
        let config = Config::load(&path).unwrap();
        let inline = config.query_spec("inline").unwrap();
        assert_eq!(*inline.file, *path);
        assert_eq!(
            *config.query_spec("tsv").unwrap().file,
            *dir.path().join("q.tsv")
        );
        assert_eq!(&*config.query_spec("tsv").unwrap().text, "beta");
        assert!(config.query_spec("nope").is_none());
        assert_eq!(config.file_for_new_queries(), dir.path().join("q.tsv"));
        assert_eq!(
            config.watched_files(),
            vec![
                path.clone(),
                dir.path().join("q.tsv"),
                dir.path().join("more.tsv")
            ]
        );

        std::fs::write(&path, "[[queries]]\nname = 'inline'\nquery = 'alpha'\n").unwrap();
        let config = Config::load(&path).unwrap();
        assert_eq!(config.file_for_new_queries(), path);
        assert_eq!(config.watched_files(), vec![path]);
    }

    #[test]
    fn queries_in_a_toml_file_name_the_configs_webhooks() {
        let dir = tempfile::tempdir().unwrap();
        let queries = dir.path().join("queries.toml");
        std::fs::write(
            &queries,
            "[[queries]]\nname = 'q'\nquery = 'x'\nwebhooks = ['slack']\n",
        )
        .unwrap();
        let path = dir.path().join("config.toml");
        let hook = "[[webhooks]]\nname = 'slack'\nurl = 'http://127.0.0.1:9/'\n";
        std::fs::write(&path, format!("queries_files = ['queries.toml']\n{hook}")).unwrap();
        let config = Config::load(&path).unwrap();
        assert_eq!(
            config.query_spec("q").unwrap().webhooks,
            Some(vec!["slack".to_string()])
        );
        assert_eq!(*config.query_spec("q").unwrap().file, *queries);

        std::fs::write(&path, "queries_files = ['queries.toml']\n").unwrap();
        let err = Config::load(&path).unwrap_err().to_string();
        assert!(err.contains("destination 'slack'"), "{err}");
    }

    #[test]
    fn a_queries_file_that_includes_itself_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "queries_files = ['sub/../config.toml']\n").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let err = Config::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("queries_files") && err.contains("cycle"),
            "{err}"
        );

        let other = dir.path().join("other.toml");
        std::fs::write(&other, "queries_files = ['config.toml']\n").unwrap();
        std::fs::write(&path, "queries_files = ['other.toml']\n").unwrap();
        let err = Config::load(&path).unwrap_err().to_string();
        assert!(err.contains("cycle"), "{err}");
    }
}
