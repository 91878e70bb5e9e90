//! Host names as the API meets them: the authority of a request (`Host`, an absolute-form target,
//! an `Origin`), normalized once (lowercase, one trailing dot dropped, IPv6 in brackets), and the
//! `[api] allowed_hosts` patterns they are matched against. What counts as loopback is decided
//! here, once, for the config check and the server alike ([`is_loopback`]).

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

use serde::Deserialize;

/// Loopback, IPv4-mapped IPv6 included (`::ffff:127.0.0.1` is 127.0.0.1): the one definition the
/// config check and the API server share.
pub fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// The unspecified address (`0.0.0.0`, `::`, `::ffff:0.0.0.0`): listening on every interface.
pub fn is_unspecified(ip: IpAddr) -> bool {
    ip.to_canonical().is_unspecified()
}

/// A host, normalized: an IP literal (IPv4-mapped IPv6 made IPv4), or a DNS name in lowercase
/// without its trailing dot.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    Ip(IpAddr),
    Name(String),
}

impl Host {
    /// `localhost` (the only name every resolver and browser keeps on loopback), or a loopback
    /// IP literal.
    pub fn is_loopback(&self) -> bool {
        match self {
            Host::Ip(ip) => is_loopback(*ip),
            Host::Name(name) => name == "localhost",
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            Host::Ip(ip) => write!(f, "{ip}"),
            Host::Name(name) => f.write_str(name),
        }
    }
}

/// A host and its port, if one was given: what a `Host` header or an origin names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authority {
    pub host: Host,
    pub port: Option<u16>,
}

impl fmt::Display for Authority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(port) => write!(f, "{}:{port}", self.host),
            None => write!(f, "{}", self.host),
        }
    }
}

/// Why a host cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    #[error("it is empty")]
    Empty,
    #[error("the port is not a number from 1 to 65535")]
    BadPort,
    #[error("an IPv6 address must be in brackets, as in [::1]")]
    BadIpv6,
    #[error("a host name is letters, digits, '-' and '_' in dot-separated labels of 1 to 63 characters, 253 at most")]
    BadName,
}

/// Read `text` as `host[:port]`: a DNS name, an IPv4 address or an IPv6 address in brackets.
/// Names are lowercased and lose one trailing dot (`LOCALHOST.` is `localhost`); nothing else
/// is rewritten, so `127.0.0.1.attacker.example` stays a name and `127.1` is no address.
pub fn parse_authority(text: &str) -> Result<Authority, HostError> {
    if text.is_empty() {
        return Err(HostError::Empty);
    }
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (inside, after) = rest.split_once(']').ok_or(HostError::BadIpv6)?;
        let ip: Ipv6Addr = inside.parse().map_err(|_| HostError::BadIpv6)?;
        let port = match after {
            "" => None,
            _ => Some(parse_port(
                after.strip_prefix(':').ok_or(HostError::BadPort)?,
            )?),
        };
        (Host::Ip(IpAddr::V6(ip).to_canonical()), port)
    } else {
        let (host, port) = match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(parse_port(port)?)),
            None => (text, None),
        };
        (parse_host(host)?, port)
    };
    Ok(Authority { host, port })
}

fn parse_port(text: &str) -> Result<u16, HostError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HostError::BadPort);
    }
    match text.parse::<u16>() {
        Ok(0) | Err(_) => Err(HostError::BadPort),
        Ok(port) => Ok(port),
    }
}

/// A host without port or brackets.
fn parse_host(text: &str) -> Result<Host, HostError> {
    if text.contains(':') {
        return Err(HostError::BadIpv6);
    }
    let name = text.strip_suffix('.').unwrap_or(text);
    if name.is_empty() {
        return Err(HostError::Empty);
    }
    // Only the dotted-quad form is an address; `127.1`, `0x7f.0.0.1` and `2130706433` are not
    // (browsers rewrite those to the dotted quad before they send them).
    if let Ok(ip) = name.parse::<std::net::Ipv4Addr>() {
        return Ok(Host::Ip(IpAddr::V4(ip)));
    }
    let valid_label = |label: &str| {
        (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if name.len() > 253 || !name.split('.').all(valid_label) {
        return Err(HostError::BadName);
    }
    Ok(Host::Name(name.to_ascii_lowercase()))
}

/// One entry of `[api] allowed_hosts`: a host name or IP literal the API also answers to, with
/// or without a port. `lookout.example` matches that name on any port, `lookout.example:8443`
/// only on that port, `*.corp.example` any name below `corp.example` (not `corp.example`
/// itself). Names compare without regard to case or a trailing dot.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct AllowedHost {
    host: Host,
    port: Option<u16>,
    /// `*.` in front: any name below `host`.
    subdomains: bool,
    written: String,
}

/// Why an `allowed_hosts` entry is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllowedHostError {
    #[error("'*' would let any web page drive the API through DNS rebinding: list the host names instead (`*.example.com` for every name below example.com)")]
    Everything,
    #[error("'{0}': a wildcard goes only before a domain name, as in *.example.com")]
    WildcardOnAddress(String),
    #[error("'{entry}': {problem}")]
    Invalid { entry: String, problem: HostError },
}

impl TryFrom<String> for AllowedHost {
    type Error = AllowedHostError;

    fn try_from(entry: String) -> Result<AllowedHost, AllowedHostError> {
        let trimmed = entry.trim();
        if trimmed == "*" {
            return Err(AllowedHostError::Everything);
        }
        let (subdomains, rest) = match trimmed.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, trimmed),
        };
        let authority = parse_authority(rest).map_err(|problem| AllowedHostError::Invalid {
            entry: entry.clone(),
            problem,
        })?;
        if subdomains && matches!(authority.host, Host::Ip(_)) {
            return Err(AllowedHostError::WildcardOnAddress(entry));
        }
        Ok(AllowedHost {
            host: authority.host,
            port: authority.port,
            subdomains,
            written: trimmed.to_string(),
        })
    }
}

impl fmt::Display for AllowedHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written)
    }
}

impl AllowedHost {
    /// Whether a request's authority is this entry's.
    pub fn matches(&self, authority: &Authority) -> bool {
        if self.port.is_some() && self.port != authority.port {
            return false;
        }
        match (&self.host, &authority.host) {
            (Host::Name(pattern), Host::Name(name)) if self.subdomains => name
                .strip_suffix(pattern.as_str())
                .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
            (pattern, host) => pattern == host,
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn authority(text: &str) -> Authority {
        parse_authority(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn allowed(text: &str) -> AllowedHost {
        AllowedHost::try_from(text.to_string()).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn authorities_are_normalized_once() {
        assert_eq!(authority("LOCALHOST.:7700").to_string(), "localhost:7700");
        assert!(authority("LocalHost").host.is_loopback());
        assert!(authority("localhost.").host.is_loopback());
        assert!(authority("127.0.0.1:7700").host.is_loopback());
        assert!(authority("127.9.9.9").host.is_loopback());
        assert!(authority("[::1]:7700").host.is_loopback());
        let mapped = authority("[::ffff:127.0.0.1]:7700");
        assert!(mapped.host.is_loopback());
        assert_eq!(mapped.to_string(), "127.0.0.1:7700");
        for foreign in [
            "attacker.example:7700",
            "127.0.0.1.attacker.example",
            "localhost.attacker.example",
            "attacker-localhost",
            "localhost..",
            "127.1",
            "2130706433",
            "0x7f.0.0.1",
            "[::2]",
        ] {
            let host = parse_authority(foreign).map(|a| a.host.is_loopback());
            assert_ne!(host, Ok(true), "{foreign}");
        }
        for junk in [
            "",
            ":7700",
            "localhost:",
            "localhost:0",
            "localhost:65536",
            "localhost:+80",
            "::1",
            "[::1",
            "[::1]7700",
            "[127.0.0.1]",
            "a b",
            "a/b",
            "user@localhost",
            "local%68ost",
            "..",
            ".",
        ] {
            assert!(parse_authority(junk).is_err(), "{junk}");
        }
    }

    #[test]
    fn loopback_is_decided_once() {
        for ip in ["127.0.0.1", "127.255.0.1", "::1", "::ffff:127.0.0.1"] {
            assert!(is_loopback(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["0.0.0.0", "::", "10.0.0.1", "::ffff:10.0.0.1", "::2"] {
            assert!(!is_loopback(ip.parse().unwrap()), "{ip}");
        }
        assert!(is_unspecified("::ffff:0.0.0.0".parse().unwrap()));
    }

    #[test]
    fn allowed_hosts_match_names_ports_and_wildcards() {
        let name = allowed("Lookout.Example.");
        assert!(name.matches(&authority("lookout.example")));
        assert!(name.matches(&authority("LOOKOUT.EXAMPLE.:8443")));
        assert!(!name.matches(&authority("www.lookout.example")));
        assert!(!name.matches(&authority("lookout.example.attacker.example")));
        let port = allowed("lookout.example:8443");
        assert!(port.matches(&authority("lookout.example:8443")));
        assert!(!port.matches(&authority("lookout.example")));
        assert!(!port.matches(&authority("lookout.example:80")));
        let wildcard = allowed("*.corp.example");
        assert!(wildcard.matches(&authority("a.corp.example")));
        assert!(wildcard.matches(&authority("a.b.corp.example:1")));
        assert!(!wildcard.matches(&authority("corp.example")));
        assert!(!wildcard.matches(&authority("evilcorp.example")));
        assert!(!wildcard.matches(&authority("a.corp.example.attacker.example")));
        let ip = allowed("[2001:db8::1]:7700");
        assert!(ip.matches(&authority("[2001:db8::1]:7700")));
        assert!(!ip.matches(&authority("[2001:db8::2]:7700")));

        for bad in [
            "*",
            "*.10.0.0.1",
            "a b",
            "http://lookout.example",
            "x:0",
            "",
        ] {
            assert!(AllowedHost::try_from(bad.to_string()).is_err(), "{bad}");
        }
        assert!(AllowedHost::try_from("*".to_string())
            .unwrap_err()
            .to_string()
            .contains("DNS rebinding"));
    }

    proptest! {
        /// Whatever a page's DNS name is, it is not loopback unless it is `localhost`; and every
        /// spelling of `localhost` (case, one trailing dot, any port) is.
        #[test]
        fn only_localhost_names_are_loopback(
            labels in proptest::collection::vec("[a-zA-Z0-9_-]{1,20}", 1..5),
            port in proptest::option::of(1u16..),
            dot in any::<bool>(),
        ) {
            let name = labels.join(".");
            let text = format!("{name}{}{}", if dot { "." } else { "" },
                port.map(|p| format!(":{p}")).unwrap_or_default());
            let parsed = parse_authority(&text).unwrap();
            prop_assert_eq!(parsed.port, port);
            prop_assert_eq!(parsed.host.is_loopback(), name.eq_ignore_ascii_case("localhost"));
        }

        /// An exact entry matches its own name in any case, and no other name.
        #[test]
        fn an_entry_matches_its_name_only(
            entry in "[a-z][a-z0-9-]{0,10}(\\.[a-z][a-z0-9-]{0,10}){0,3}",
            other in "[a-z][a-z0-9-]{0,10}(\\.[a-z][a-z0-9-]{0,10}){0,3}",
        ) {
            let pattern = allowed(&entry);
            prop_assert!(pattern.matches(&authority(&entry.to_ascii_uppercase())));
            prop_assert_eq!(pattern.matches(&authority(&other)), entry == other);
            let suffixed = format!("{entry}.attacker.example");
            prop_assert!(!pattern.matches(&authority(&suffixed)));
        }
    }
}
