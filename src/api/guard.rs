//! Which requests the API answers at all, before the token and the routes: a request target no
//! longer than [`MAX_URI_BYTES`], addressed to this API's own host, and not sent by a web page
//! of another origin. Together they close DNS rebinding (a page of `attacker.example` whose
//! name now resolves to 127.0.0.1 sends `Host: attacker.example`) and cross-site requests (a
//! page of any origin, `http://localhost:3000` included, posting to the API).
//!
//! - **Host.** The `Host` header, and the authority of an absolute-form target
//!   (`GET http://host/ HTTP/1.1`), must each be `localhost`, a loopback address, the listen
//!   address (any IP address when listening on `0.0.0.0` or `[::]`: no DNS answer can put an IP
//!   literal in `Host`), or match `[api] allowed_hosts`. Names compare without regard to case
//!   or one trailing dot; the port is not compared (it is no part of a rebinding), except for an
//!   `allowed_hosts` entry that names one. An HTTP/1.1 request without `Host`, or with two, is
//!   refused (400); an HTTP/1.0 request without one is taken as addressed to the listen address.
//!   Refused: 421 `host_not_allowed`.
//! - **Origin.** A request that carries `Origin` (browsers send it on cross-origin requests
//!   and on every POST, PUT, DELETE) must come from the API's own origin: the scheme `http` or
//!   `https`, the host and the port of the request's `Host` (so `http://localhost:3000` is not
//!   `localhost:7700`), or a host of `allowed_hosts`. `Origin: null` (sandboxed frames, files)
//!   is refused. A browser's `Sec-Fetch-Site: cross-site` or `same-site` is refused too,
//!   except on a GET or HEAD the user navigated to (`Sec-Fetch-Mode: navigate`). Refused: 403
//!   `origin_not_allowed`. No CORS header is ever sent, so no other origin can read an answer.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, Uri, Version};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::{ApiError, Code};
use crate::config::hosts::{is_unspecified, parse_authority, AllowedHost, Authority, Host};

/// The longest request target (path and query) answered; a longer one gets 414.
pub const MAX_URI_BYTES: usize = 16 * 1024;
/// At most this much of a refused value is repeated in an error message.
const SHOWN: usize = 100;

/// The hosts this API answers to.
#[derive(Debug, Clone)]
pub struct HostGuard {
    listen: SocketAddr,
    allowed: Arc<Vec<AllowedHost>>,
}

impl HostGuard {
    pub fn new(listen: SocketAddr, allowed: Vec<AllowedHost>) -> HostGuard {
        HostGuard {
            listen,
            allowed: Arc::new(allowed),
        }
    }

    /// Whether a request to `authority` is one to this API.
    fn host_allowed(&self, authority: &Authority) -> bool {
        if authority.host.is_loopback() || self.allowed.iter().any(|a| a.matches(authority)) {
            return true;
        }
        match authority.host {
            Host::Ip(ip) => {
                let listen = self.listen.ip().to_canonical();
                ip.to_canonical() == listen || is_unspecified(listen)
            }
            Host::Name(_) => false,
        }
    }

    /// Admit the request, or the error that refuses it.
    pub fn admit(
        &self,
        method: &Method,
        uri: &Uri,
        version: Version,
        headers: &HeaderMap,
    ) -> Result<(), ApiError> {
        let target = uri.path_and_query().map_or(0, |p| p.as_str().len());
        if target > MAX_URI_BYTES {
            return Err(ApiError::new(
                Code::UriTooLong,
                format!("the request target is {target} bytes; at most {MAX_URI_BYTES} are read"),
            ));
        }
        let host = self.request_host(uri, version, headers)?;
        self.check_origin(method, &host, headers)
    }

    /// The host the request is addressed to, if it is this API.
    fn request_host(
        &self,
        uri: &Uri,
        version: Version,
        headers: &HeaderMap,
    ) -> Result<Authority, ApiError> {
        let mut values = headers.get_all(header::HOST).iter();
        let host = match (values.next(), values.next()) {
            (Some(_), Some(_)) => return Err(invalid_host("the request has two Host headers")),
            (Some(value), None) => Some(self.allowed_authority(value.as_bytes(), "Host")?),
            (None, _) if version <= Version::HTTP_10 => None,
            (None, _) => {
                return Err(invalid_host(
                    "an HTTP/1.1 request must say which host it is for (Host header)",
                ))
            }
        };
        // An absolute-form target names the host itself (and takes precedence over Host).
        let target = match uri.authority() {
            Some(authority) => {
                Some(self.allowed_authority(authority.as_str().as_bytes(), "the request target")?)
            }
            None => None,
        };
        Ok(target.or(host).unwrap_or(Authority {
            host: Host::Ip(self.listen.ip().to_canonical()),
            port: Some(self.listen.port()),
        }))
    }

    fn allowed_authority(&self, value: &[u8], what: &str) -> Result<Authority, ApiError> {
        let text =
            std::str::from_utf8(value).map_err(|_| invalid_host(format!("{what} is not text")))?;
        let authority = parse_authority(text.trim()).map_err(|problem| {
            invalid_host(format!("{what} {} cannot be read: {problem}", shown(text)))
        })?;
        if !self.host_allowed(&authority) {
            return Err(ApiError::new(
                Code::HostNotAllowed,
                format!(
                    "this API answers to localhost, loopback addresses, its listen address and [api] allowed_hosts; {what} {} is none of them (if it is a name of this machine, add it to [api] allowed_hosts)",
                    shown(text)
                ),
            ));
        }
        Ok(authority)
    }

    fn check_origin(
        &self,
        method: &Method,
        host: &Authority,
        headers: &HeaderMap,
    ) -> Result<(), ApiError> {
        if let Some(origin) = headers.get(header::ORIGIN) {
            let text = origin.to_str().unwrap_or("");
            if !self.origin_allowed(text, host) {
                return Err(origin_not_allowed(format!(
                    "requests from web pages of other origins are refused (Origin: {})",
                    shown(text)
                )));
            }
        }
        let site = headers
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase);
        if let Some(site @ ("cross-site" | "same-site")) = site.as_deref() {
            let navigation = matches!(*method, Method::GET | Method::HEAD)
                && headers
                    .get("sec-fetch-mode")
                    .is_some_and(|mode| mode.as_bytes().eq_ignore_ascii_case(b"navigate"));
            if !navigation {
                return Err(origin_not_allowed(format!(
                    "requests from web pages of other origins are refused (Sec-Fetch-Site: {site})"
                )));
            }
        }
        Ok(())
    }

    /// `origin` is the API's own: same host and port as the request, or an allowed host.
    fn origin_allowed(&self, origin: &str, host: &Authority) -> bool {
        let Some((scheme, rest)) = origin.split_once("://") else {
            return false; // `null`, or not an origin
        };
        let default_port = match scheme.to_ascii_lowercase().as_str() {
            "http" => 80,
            "https" => 443,
            _ => return false,
        };
        let Ok(origin) = parse_authority(rest) else {
            return false;
        };
        let same = origin.host == host.host
            && origin.port.unwrap_or(default_port) == host.port.unwrap_or(default_port);
        same || self.allowed.iter().any(|a| a.matches(&origin))
    }
}

fn invalid_host(message: impl Into<String>) -> ApiError {
    ApiError::new(Code::InvalidHost, message)
}

fn origin_not_allowed(message: String) -> ApiError {
    ApiError::new(Code::OriginNotAllowed, message)
}

/// A refused value, quoted and cut short.
fn shown(text: &str) -> String {
    let mut shown: String = text.chars().take(SHOWN).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    format!("{shown:?}")
}

/// The middleware: refuse what [`HostGuard::admit`] refuses, before anything else runs.
pub async fn admit(State(guard): State<HostGuard>, request: Request, next: Next) -> Response {
    if let Err(error) = guard.admit(
        request.method(),
        request.uri(),
        request.version(),
        request.headers(),
    ) {
        return error.into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use proptest::prelude::*;

    use super::*;

    fn guard(listen: &str, allowed: &[&str]) -> HostGuard {
        HostGuard::new(
            listen.parse().unwrap(),
            allowed
                .iter()
                .map(|a| AllowedHost::try_from(a.to_string()).unwrap())
                .collect(),
        )
    }

    /// The code of the refusal of a request with these headers, or `None` when admitted.
    fn verdict(
        guard: &HostGuard,
        method: Method,
        target: &str,
        headers: &[(&str, &str)],
    ) -> Option<&'static str> {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(
                header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        let uri: Uri = target.parse().unwrap();
        guard
            .admit(&method, &uri, Version::HTTP_11, &map)
            .err()
            .map(|e| e.code.name())
    }

    fn host(guard: &HostGuard, host: &str) -> Option<&'static str> {
        verdict(guard, Method::GET, "/healthz", &[("host", host)])
    }

    #[test]
    fn loopback_listen_answers_only_loopback_hosts() {
        let g = guard("127.0.0.1:7700", &[]);
        for ok in [
            "127.0.0.1:7700",
            "localhost:7700",
            "LOCALHOST.:7700",
            "localhost",
            "[::1]:7700",
            "[::ffff:127.0.0.1]:7700",
            "127.0.0.2",
            "localhost:9999",
        ] {
            assert_eq!(host(&g, ok), None, "{ok}");
        }
        for foreign in [
            "attacker.example:7700",
            "attacker.example",
            "127.0.0.1.attacker.example:7700",
            "localhost.attacker.example",
            "10.0.0.1:7700",
            "[::2]:7700",
            "127.1:7700",
            "2130706433:7700",
        ] {
            assert_eq!(host(&g, foreign), Some("host_not_allowed"), "{foreign}");
        }
        for junk in ["", "localhost:0", "user@localhost", "::1", "a b"] {
            assert_eq!(host(&g, junk), Some("invalid_host"), "{junk:?}");
        }
    }

    #[test]
    fn absolute_targets_missing_and_doubled_hosts() {
        let g = guard("127.0.0.1:7700", &[]);
        let absolute =
            |target: &str| verdict(&g, Method::GET, target, &[("host", "127.0.0.1:7700")]);
        assert_eq!(
            absolute("http://attacker.example/healthz"),
            Some("host_not_allowed")
        );
        assert_eq!(absolute("http://127.0.0.1:7700/healthz"), None);
        assert_eq!(
            absolute("http://user@127.0.0.1/healthz"),
            Some("invalid_host")
        );
        assert_eq!(verdict(&g, Method::GET, "/", &[]), Some("invalid_host"));
        let two = [("host", "localhost"), ("host", "localhost")];
        assert_eq!(verdict(&g, Method::GET, "/", &two), Some("invalid_host"));
        // HTTP/1.0 without Host: addressed to the listen address.
        let uri: Uri = "/healthz".parse().unwrap();
        assert!(g
            .admit(&Method::GET, &uri, Version::HTTP_10, &HeaderMap::new())
            .is_ok());
    }

    #[test]
    fn unspecified_listen_answers_any_address_but_no_foreign_name() {
        let g = guard(
            "0.0.0.0:7700",
            &["lookout.example", "*.corp.example", "ops.example:8443"],
        );
        for ok in [
            "192.168.1.20:7700",
            "[2001:db8::1]:7700",
            "lookout.example",
            "LOOKOUT.example.:7700",
            "a.corp.example",
            "ops.example:8443",
        ] {
            assert_eq!(host(&g, ok), None, "{ok}");
        }
        for foreign in [
            "corp.example",
            "ops.example",
            "ops.example:80",
            "lookout.example.attacker.example",
        ] {
            assert_eq!(host(&g, foreign), Some("host_not_allowed"), "{foreign}");
        }
        let specific = guard("192.168.1.20:7700", &[]);
        assert_eq!(host(&specific, "192.168.1.20:7700"), None);
        assert_eq!(
            host(&specific, "192.168.1.21:7700"),
            Some("host_not_allowed")
        );
    }

    #[test]
    fn only_the_apis_own_origin_may_send_requests() {
        let g = guard("127.0.0.1:7700", &["lookout.example"]);
        let put = |host: &str, origin: &str| {
            verdict(
                &g,
                Method::PUT,
                "/queries/x",
                &[("host", host), ("origin", origin)],
            )
        };
        assert_eq!(put("127.0.0.1:7700", "http://127.0.0.1:7700"), None);
        assert_eq!(put("localhost:7700", "http://LOCALHOST:7700"), None);
        assert_eq!(put("lookout.example", "https://lookout.example"), None);
        assert_eq!(put("127.0.0.1:7700", "https://lookout.example"), None);
        for foreign in [
            "http://attacker.example",
            "http://attacker.example:7700",
            "null",
            "http://localhost:3000",
            "http://127.0.0.1:3000",
            "http://127.0.0.1",
            "file://",
            "chrome-extension://abc",
            "http://127.0.0.1:7700.attacker.example",
            "",
        ] {
            assert_eq!(
                put("127.0.0.1:7700", foreign),
                Some("origin_not_allowed"),
                "{foreign}"
            );
        }
        // A read from another origin is refused too (it holds a stream or runs a search).
        let get = [
            ("host", "127.0.0.1:7700"),
            ("origin", "http://attacker.example"),
        ];
        assert_eq!(
            verdict(&g, Method::GET, "/alerts/stream", &get),
            Some("origin_not_allowed")
        );
    }

    #[test]
    fn sec_fetch_site_refuses_other_sites_but_navigations() {
        let g = guard("127.0.0.1:7700", &[]);
        let request = |method: Method, site: &str, mode: &str| {
            verdict(
                &g,
                method,
                "/search?q=x",
                &[
                    ("host", "localhost:7700"),
                    ("sec-fetch-site", site),
                    ("sec-fetch-mode", mode),
                ],
            )
        };
        assert_eq!(
            request(Method::POST, "cross-site", "no-cors"),
            Some("origin_not_allowed")
        );
        assert_eq!(
            request(Method::POST, "same-site", "cors"),
            Some("origin_not_allowed")
        );
        assert_eq!(
            request(Method::GET, "cross-site", "no-cors"),
            Some("origin_not_allowed")
        );
        assert_eq!(
            request(Method::GET, "Cross-Site", "cors"),
            Some("origin_not_allowed")
        );
        assert_eq!(
            request(Method::POST, "cross-site", "navigate"),
            Some("origin_not_allowed")
        );
        assert_eq!(request(Method::GET, "cross-site", "navigate"), None);
        assert_eq!(request(Method::POST, "same-origin", "cors"), None);
        assert_eq!(request(Method::PUT, "none", "cors"), None);
    }

    #[test]
    fn long_targets_are_refused_as_414() {
        let g = guard("127.0.0.1:7700", &[]);
        let long = format!("/search?q={}", "a".repeat(MAX_URI_BYTES));
        assert_eq!(
            verdict(&g, Method::GET, &long, &[("host", "localhost")]),
            Some("uri_too_long")
        );
        let fits = format!("/search?q={}", "a".repeat(MAX_URI_BYTES - 20));
        assert_eq!(
            verdict(&g, Method::GET, &fits, &[("host", "localhost")]),
            None
        );
    }

    proptest! {
        /// The class: whatever DNS name a page has (its letters in any case, a trailing dot, any
        /// port, loopback-looking labels around it), the API refuses it unless it is
        /// `localhost` or allowed; and a page of any origin but the API's own is refused.
        #[test]
        fn no_foreign_name_or_origin_is_served(
            labels in proptest::collection::vec(
                prop_oneof!["[a-z0-9-]{1,12}", Just("localhost".to_string()), Just("127".to_string()), Just("0".to_string()), Just("1".to_string())],
                1..6),
            upper in any::<bool>(),
            dot in any::<bool>(),
            port in proptest::option::of(1u16..),
            method in prop_oneof![Just(Method::GET), Just(Method::POST), Just(Method::PUT), Just(Method::DELETE)],
        ) {
            let g = guard("127.0.0.1:7700", &["lookout.example"]);
            let name = labels.join(".");
            let mut text = if upper { name.to_ascii_uppercase() } else { name.clone() };
            if dot { text.push('.'); }
            if let Some(port) = port { text.push_str(&format!(":{port}")); }
            let served = verdict(&g, method.clone(), "/queries", &[("host", &text)]).is_none();
            let loopback_literal = name.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback());
            prop_assert_eq!(served, name == "localhost" || name == "lookout.example" || loopback_literal);
            let origin = format!("http://{text}");
            let from_page = verdict(&g, method, "/queries", &[("host", "127.0.0.1:7700"), ("origin", &origin)]).is_none();
            let own = (loopback_literal && name == "127.0.0.1" && port == Some(7700)) || name == "lookout.example";
            prop_assert_eq!(from_page, own, "{}", origin);
        }
    }
}
