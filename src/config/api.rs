//! The `[api]` section: whether the HTTP API runs, where it listens, the host names it answers
//! to, the token its clients present, the largest request body it reads and how many
//! connections and event streams it holds. The token may come from the environment, and never
//! shows in `Debug` output.

use std::ffi::OsString;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use serde::Deserialize;

use super::hosts::{is_loopback, AllowedHost};

/// The environment variable whose value, when set and not empty, replaces `[api] token`.
pub const API_TOKEN_ENV: &str = "LOOKOUT_API_TOKEN";
/// Where the API listens by default: loopback only.
pub const DEFAULT_API_LISTEN: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 7700));
/// The largest request body read by default.
pub const DEFAULT_MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// Live alert streams (`/alerts/stream`) held at once by default.
pub const DEFAULT_MAX_STREAMS: usize = 32;
/// The fewest connections `max_connections` may allow.
pub const MIN_CONNECTIONS: usize = 8;

/// The `[api]` table: the HTTP API that adds, changes and deletes saved queries at run time.
/// Field docs are the user documentation of each key.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    /// Run the HTTP API. Default: `true`.
    pub enabled: bool,
    /// Address and port to listen on: `"127.0.0.1:7700"` (the default), `"[::1]:7700"`, ...
    /// An address that is not loopback requires a `token`.
    pub listen: std::net::SocketAddr,
    /// Host names the API answers to besides its listen address, `localhost` and loopback
    /// addresses (for a reverse proxy or a name on the network): `"lookout.example"` (any
    /// port), `"lookout.example:8443"` (that port only), `"*.corp.example"` (any name below
    /// corp.example). A request whose `Host` is none of these is refused (421), so that no
    /// web page can reach the API through DNS rebinding. Default: none.
    pub allowed_hosts: Vec<AllowedHost>,
    /// The secret every API request must present. The environment variable
    /// `LOOKOUT_API_TOKEN`, when set and not empty, takes precedence over this key. Printable
    /// ASCII without spaces (it travels in an HTTP header). Default: none, which is allowed only
    /// on a loopback address.
    pub token: Option<String>,
    /// The largest request body accepted, in bytes. Default: 8 MiB.
    pub max_body_bytes: usize,
    /// Connections held open at once. When they are all taken, the one that has waited longest
    /// on its client (idle, or sending its request slowly) is closed for the newcomer; when
    /// every one has a request being answered, the newcomer gets a 503. Default: from the
    /// open-file limit (raised to its hard maximum at start-up): a quarter of it (at most 256)
    /// is kept for the watcher, the index and the logs, the rest serves up to 1,024.
    pub max_connections: Option<usize>,
    /// Live alert streams (`GET /alerts/stream`) held at once; one more is answered 503.
    /// Default: 32 (at most a quarter of the connections).
    pub max_streams: Option<usize>,
}

impl Default for ApiConfig {
    fn default() -> ApiConfig {
        ApiConfig {
            enabled: true,
            listen: DEFAULT_API_LISTEN,
            allowed_hosts: Vec::new(),
            token: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_connections: None,
            max_streams: None,
        }
    }
}

/// Shows whether there is a token, never the token.
impl fmt::Debug for ApiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiConfig")
            .field("enabled", &self.enabled)
            .field("listen", &self.listen)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_connections", &self.max_connections)
            .field("max_streams", &self.max_streams)
            .finish()
    }
}

/// A problem with the `[api]` section: the key and what is wrong.
pub(crate) type ApiProblem = (&'static str, String);

impl ApiConfig {
    /// Take the token from the value of `LOOKOUT_API_TOKEN` when it is set and not empty.
    pub(crate) fn apply_env_token(&mut self, value: Option<OsString>) -> Result<(), ApiProblem> {
        let Some(value) = value.filter(|v| !v.is_empty()) else {
            return Ok(());
        };
        match value.into_string() {
            Ok(token) => {
                self.token = Some(token);
                Ok(())
            }
            Err(_) => Err((
                "api.token",
                format!("the environment variable {API_TOKEN_ENV} is not valid UTF-8"),
            )),
        }
    }

    /// Refuse an empty or unprintable token, a zero body limit, connection and stream limits
    /// that leave nothing to serve, and an API open beyond this machine without a token.
    pub(crate) fn check(&self) -> Result<(), ApiProblem> {
        if let Some(token) = &self.token {
            if token.is_empty() {
                return Err((
                    "api.token",
                    format!("the token is empty: remove the key or give a token (or set {API_TOKEN_ENV})"),
                ));
            }
            if !token.bytes().all(|b| b.is_ascii_graphic()) {
                return Err((
                    "api.token",
                    "the token must be printable ASCII without spaces (it travels in an HTTP header)"
                        .into(),
                ));
            }
        }
        if self.max_body_bytes == 0 {
            return Err(("api.max_body_bytes", "must be at least 1".into()));
        }
        if let Some(max) = self.max_connections {
            if max < MIN_CONNECTIONS {
                return Err((
                    "api.max_connections",
                    format!("must be at least {MIN_CONNECTIONS}"),
                ));
            }
        }
        if let Some(streams) = self.max_streams {
            if streams == 0 {
                return Err(("api.max_streams", "must be at least 1".into()));
            }
            if let Some(max) = self.max_connections.filter(|max| streams > max / 2) {
                return Err((
                    "api.max_streams",
                    format!("must be at most half of api.max_connections ({max}), so that streams cannot take every connection"),
                ));
            }
        }
        if self.enabled && self.token.is_none() && !is_loopback(self.listen.ip()) {
            return Err((
                "api.listen",
                format!(
                    "{} is not a loopback address, and without a token anyone who reaches it \
                     could change the saved queries: set [api] token (or {API_TOKEN_ENV}), or \
                     listen on 127.0.0.1 or [::1]",
                    self.listen
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::{Config, ConfigError};
    use super::*;

    /// Write `text` as a config file and load it with `env` as `LOOKOUT_API_TOKEN`.
    fn load(text: &str, env: Option<&str>) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, text).unwrap();
        Config::load_with_env_token(&path, env.map(OsString::from))
    }

    fn problem(text: &str, env: Option<&str>) -> String {
        load(text, env).unwrap_err().to_string()
    }

    #[test]
    fn defaults() {
        let config = Config::parse(Path::new("/c/config.toml"), "").unwrap();
        assert_eq!(config.api, ApiConfig::default());
        assert!(config.api.enabled);
        assert_eq!(config.api.listen.to_string(), "127.0.0.1:7700");
        assert_eq!(config.api.token, None);
        assert_eq!(config.api.max_body_bytes, 8 * 1024 * 1024);
        assert!(load("", None).is_ok());
    }

    #[test]
    fn keys_are_read_and_unknown_keys_refused() {
        let config = load(
            "[api]\nenabled = false\nlisten = '[::1]:8080'\ntoken = 'abc'\nmax_body_bytes = 1024\n",
            None,
        )
        .unwrap();
        assert!(!config.api.enabled);
        assert_eq!(config.api.listen.to_string(), "[::1]:8080");
        assert_eq!(config.api.token.as_deref(), Some("abc"));
        assert_eq!(config.api.max_body_bytes, 1024);

        let err = problem("[api]\nlisten = '127.0.0.1:7700'\ntokn = 'x'\n", None);
        assert!(err.contains("unknown field `tokn`"), "{err}");
        let err = problem("[api]\nlisten = 'localhost'\n", None);
        assert!(err.contains("listen") || err.contains("line 2"), "{err}");
    }

    #[test]
    fn the_environment_token_wins_when_set_and_not_empty() {
        let config = load("[api]\ntoken = 'from-file'\n", Some("from-env")).unwrap();
        assert_eq!(config.api.token.as_deref(), Some("from-env"));
        let config = load("[api]\ntoken = 'from-file'\n", Some("")).unwrap();
        assert_eq!(config.api.token.as_deref(), Some("from-file"));
        let config = load("", Some("from-env")).unwrap();
        assert_eq!(config.api.token.as_deref(), Some("from-env"));
    }

    #[test]
    fn bad_tokens_and_limits_are_refused() {
        let err = problem("[api]\ntoken = ''\n", None);
        assert!(err.contains("api.token") && err.contains("empty"), "{err}");
        let err = problem("[api]\ntoken = 'a b'\n", None);
        assert!(
            err.contains("api.token") && err.contains("printable"),
            "{err}"
        );
        let err = problem("", Some("tab\there"));
        assert!(err.contains("api.token"), "{err}");
        let err = problem("[api]\nmax_body_bytes = 0\n", None);
        assert!(err.contains("api.max_body_bytes"), "{err}");
    }

    #[test]
    fn beyond_loopback_a_token_is_required() {
        for listen in ["0.0.0.0:7700", "192.168.1.2:7700", "[::]:7700"] {
            let text = format!("[api]\nlisten = '{listen}'\n");
            let err = problem(&text, None);
            assert!(
                err.contains("api.listen") && err.contains("not a loopback address"),
                "{err}"
            );
            assert!(load(&format!("{text}token = 'secret'\n"), None).is_ok());
            assert!(load(&text, Some("secret")).is_ok());
            assert!(load(&format!("{text}enabled = false\n"), None).is_ok());
        }
        for listen in [
            "127.0.0.1:1",
            "127.9.9.9:7700",
            "[::1]:7700",
            "[::ffff:127.0.0.1]:7700",
        ] {
            assert!(
                load(&format!("[api]\nlisten = '{listen}'\n"), None).is_ok(),
                "{listen}"
            );
        }
    }

    #[test]
    fn allowed_hosts_and_connection_limits_are_read_and_checked() {
        let config = load(
            "[api]\nallowed_hosts = ['Lookout.Example', '*.corp.example', 'ops.example:8443']\nmax_connections = 100\nmax_streams = 10\n",
            None,
        )
        .unwrap();
        let shown: Vec<String> = config
            .api
            .allowed_hosts
            .iter()
            .map(|h| h.to_string())
            .collect();
        assert_eq!(
            shown,
            ["Lookout.Example", "*.corp.example", "ops.example:8443"]
        );
        assert_eq!(config.api.max_connections, Some(100));
        assert_eq!(config.api.max_streams, Some(10));
        assert_eq!(ApiConfig::default().allowed_hosts, Vec::new());

        let err = problem("[api]\nallowed_hosts = ['*']\n", None);
        assert!(
            err.contains("allowed_hosts") || err.contains("line 2"),
            "{err}"
        );
        assert!(err.contains("DNS rebinding"), "{err}");
        let err = problem("[api]\nallowed_hosts = ['http://x.example/']\n", None);
        assert!(err.contains("http://x.example/"), "{err}");
        let err = problem("[api]\nmax_connections = 2\n", None);
        assert!(err.contains("api.max_connections"), "{err}");
        let err = problem("[api]\nmax_streams = 0\n", None);
        assert!(err.contains("api.max_streams"), "{err}");
        let err = problem("[api]\nmax_connections = 10\nmax_streams = 6\n", None);
        assert!(
            err.contains("api.max_streams") && err.contains("half"),
            "{err}"
        );
    }

    /// One definition of loopback: what the config lets through without a token is what the
    /// server starts on (`api::start` asks the same function).
    #[test]
    fn the_config_and_the_server_agree_on_loopback() {
        for listen in ["[::ffff:127.0.0.1]:7700", "127.0.0.1:7700", "[::1]:7700"] {
            let config = load(&format!("[api]\nlisten = '{listen}'\n"), None).unwrap();
            assert!(
                super::super::hosts::is_loopback(config.api.listen.ip()),
                "{listen}"
            );
        }
        for listen in ["[::ffff:10.0.0.1]:7700", "[::ffff:0.0.0.0]:7700"] {
            assert!(
                load(&format!("[api]\nlisten = '{listen}'\n"), None).is_err(),
                "{listen}"
            );
        }
    }

    #[test]
    fn the_token_never_shows_in_debug_output() {
        let config = load("[api]\ntoken = 'hunter2-secret'\n", None).unwrap();
        let shown = format!("{config:?} {:?} {:#?}", config.api, config);
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }
}
