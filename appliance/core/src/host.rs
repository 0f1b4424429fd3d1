//! Host names as policy compares them: one spelling per host.
//!
//! Invariant: every host name that reaches policy, classification or a receipt went through
//! [`canonical`] once, at the edge (the data plane), so `API.Example.com.`, `api.example.com` and
//! `[::ffff:10.0.0.7]` / `10.0.0.7` are each one name, and names that a resolver would read as a
//! number in a form other than the plain one (`0x7f.1`, `2130706433`) never get that far.

use std::net::{IpAddr, Ipv6Addr};

/// Why a host name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    /// Nothing is left once brackets, surrounding spaces and trailing dots are removed.
    #[error("empty host name")]
    Empty,
    /// A character other than ASCII letters, digits, `-`, `.` and `_`; holds the host as given.
    #[error("host {0:?} contains characters a host name cannot have")]
    BadCharacters(String),
    /// Every label is a number (`0x7f.1`, `2130706433`) a resolver would read as an address;
    /// holds the host as given.
    #[error("host {0:?} is a number in a form resolvers read differently (write the address as a.b.c.d)")]
    AmbiguousNumber(String),
}

/// The canonical spelling of a host: lower case, no trailing dot, IP addresses in their plain
/// form (an IPv4 address mapped into IPv6 as IPv4; IPv6 without brackets).
pub fn canonical(host: &str) -> Result<String, HostError> {
    let h = host.trim();
    let h = h
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(h);
    if let Ok(ip) = h.parse::<IpAddr>() {
        return Ok(canonical_ip(ip).to_string());
    }
    let h = h.trim_end_matches('.');
    if h.is_empty() {
        return Err(HostError::Empty);
    }
    if !h
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
    {
        return Err(HostError::BadCharacters(host.to_string()));
    }
    if numeric_looking(h) {
        return Err(HostError::AmbiguousNumber(host.to_string()));
    }
    Ok(h.to_ascii_lowercase())
}

/// An IP address as policy sees it (IPv4-mapped IPv6 addresses as IPv4).
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// True when every label is a number the classic resolver grammar accepts (decimal, octal with
/// a leading 0, hex with 0x): `inet_aton` would turn the name into an address.
fn numeric_looking(h: &str) -> bool {
    h.split('.').all(|label| {
        let digits = label
            .strip_prefix("0x")
            .or_else(|| label.strip_prefix("0X"));
        match digits {
            Some(hex) => hex.bytes().all(|b| b.is_ascii_hexdigit()),
            None => !label.is_empty() && label.bytes().all(|b| b.is_ascii_digit()),
        }
    })
}

/// Whether `host` is named by `pattern`: the name itself, or, for `*.domain`, any name under
/// `domain` (not `domain` itself). ASCII case and a trailing dot on `host` are ignored.
pub fn matches_pattern(pattern: &str, host: &str) -> bool {
    let host = host.trim_end_matches('.').as_bytes();
    match pattern.strip_prefix("*.") {
        Some(domain) => {
            let domain = domain.as_bytes();
            host.len() > domain.len()
                && host[host.len() - domain.len() - 1] == b'.'
                && host[host.len() - domain.len()..].eq_ignore_ascii_case(domain)
        }
        None => host.eq_ignore_ascii_case(pattern.as_bytes()),
    }
}

/// Whether a canonical host is an IP address.
pub fn is_ip(host: &str) -> bool {
    host.parse::<IpAddr>().is_ok()
}

/// Addresses that are not the internet and that an agent has no business reaching through an
/// egress proxy unless configured: link-local (cloud metadata services live there:
/// 169.254.169.254, fd00:ec2::254), the unspecified address, and multicast.
pub fn is_link_local_or_special(ip: IpAddr) -> bool {
    match canonical_ip(ip) {
        IpAddr::V4(v4) => {
            v4.is_link_local() || v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast()
        }
        IpAddr::V6(v6) => {
            is_v6_link_local(&v6)
                || v6.is_unspecified()
                || v6.is_multicast()
                || v6 == AWS_METADATA_V6
        }
    }
}

/// The IPv6 address of the AWS instance metadata service (a unique local address).
const AWS_METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);

fn is_v6_link_local(v6: &Ipv6Addr) -> bool {
    (v6.segments()[0] & 0xffc0) == 0xfe80
}

#[cfg(test)]
mod tests {

    #[test]
    fn patterns_name_a_host_or_the_names_under_a_domain() {
        assert!(matches_pattern("api.example.com", "API.example.com."));
        assert!(matches_pattern("*.example.com", "a.b.example.com"));
        assert!(matches_pattern("*.Example.com", "a.example.COM"));
        assert!(!matches_pattern("*.example.com", "example.com"));
        assert!(!matches_pattern("*.example.com", "badexample.com"));
        assert!(!matches_pattern(
            "api.example.com",
            "api.example.com.evil.test"
        ));
        assert!(!matches_pattern("*.example.com", "é.example.co"));
    }

    use super::*;

    #[test]
    fn one_spelling_per_host() {
        for (given, want) in [
            ("API.Example.com.", "api.example.com"),
            ("api.example.com", "api.example.com"),
            ("webhook.site..", "webhook.site"),
            ("[::ffff:10.0.0.7]", "10.0.0.7"),
            ("::ffff:10.0.0.7", "10.0.0.7"),
            ("[2001:DB8::1]", "2001:db8::1"),
            ("127.0.0.1", "127.0.0.1"),
            ("bad.cafe", "bad.cafe"),
            ("under_score.test", "under_score.test"),
        ] {
            assert_eq!(canonical(given).as_deref(), Ok(want), "{given}");
        }
    }

    #[test]
    fn numbers_resolvers_read_otherwise_and_junk_are_refused() {
        for n in ["2130706433", "0x7f.1", "127.1", "0177.0.0.1", "0x7f000001"] {
            assert!(
                matches!(canonical(n), Err(HostError::AmbiguousNumber(_))),
                "{n}"
            );
        }
        for bad in ["", ".", "a b", "evil.com/x", "x%2e.com", "ex\u{e4}mple.com"] {
            assert!(canonical(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn metadata_and_link_local_addresses_are_special() {
        for ip in [
            "169.254.169.254",
            "fe80::1",
            "fd00:ec2::254",
            "0.0.0.0",
            "::ffff:169.254.169.254",
        ] {
            assert!(is_link_local_or_special(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["127.0.0.1", "10.0.0.1", "8.8.8.8", "2001:db8::1"] {
            assert!(!is_link_local_or_special(ip.parse().unwrap()), "{ip}");
        }
    }
}
