//! The addresses of the hosts configuration names (SQL endpoints, MCP servers, routes), so that
//! a request by address is judged as the named host it reaches.
//!
//! Without it, an agent that connects to `10.0.0.7` instead of `mcp.internal` turns
//! `files.delete_file` into `10.0.0.7.delete_file`, and SQL to a declared endpoint into REST:
//! rules keyed on the name never match. Names are resolved at start and every
//! [`REFRESH`] after; an address several configured names share is ambiguous, and a request
//! naming it by address is refused (the caller answers 421) rather than judged as any one of
//! them.

use std::collections::HashMap;
use std::net::{IpAddr, ToSocketAddrs};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// How often the configured names are resolved again.
pub const REFRESH: Duration = Duration::from_secs(60);

/// What an address is, for the configured names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamedAddress {
    /// The address of this configured host (canonical name).
    One(String),
    /// The address of several configured hosts.
    Ambiguous(Vec<String>),
}

#[derive(Debug, Default)]
pub struct HostNames {
    names: Vec<String>,
    by_address: RwLock<HashMap<IpAddr, NamedAddress>>,
}

impl HostNames {
    /// For these configured names (IP literals among them are skipped: they name themselves).
    pub fn new(names: Vec<String>) -> Arc<Self> {
        let names = names
            .into_iter()
            .filter_map(|n| aarmor_core::host::canonical(&n).ok())
            .filter(|n| !aarmor_core::host::is_ip(n))
            .collect();
        Arc::new(Self {
            names,
            by_address: RwLock::new(HashMap::new()),
        })
    }

    /// Resolves every name now (blocking), and again every [`REFRESH`] on a thread of its own
    /// while the returned value lives. Nothing to resolve: no thread.
    pub fn start(self: &Arc<Self>) {
        if self.names.is_empty() {
            return;
        }
        self.refresh();
        let weak = Arc::downgrade(self);
        let spawned = std::thread::Builder::new()
            .name("aarmor-host-names".into())
            .spawn(move || loop {
                std::thread::sleep(REFRESH);
                match weak.upgrade() {
                    Some(names) => names.refresh(),
                    None => return,
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start the thread that re-resolves configured host names");
        }
    }

    fn refresh(&self) {
        let resolved = self.names.iter().map(|name| {
            let addrs: Vec<IpAddr> = match (name.as_str(), 0u16).to_socket_addrs() {
                Ok(a) => a.map(|s| aarmor_core::host::canonical_ip(s.ip())).collect(),
                Err(e) => {
                    tracing::debug!(host = %name, error = %e, "configured host does not resolve");
                    Vec::new()
                }
            };
            (name.clone(), addrs)
        });
        self.set(resolved.collect());
    }

    /// Replaces the map with these resolutions (name ⇒ its addresses).
    pub fn set(&self, resolved: Vec<(String, Vec<IpAddr>)>) {
        let mut map: HashMap<IpAddr, NamedAddress> = HashMap::new();
        for (name, addrs) in resolved {
            for ip in addrs {
                let next = match map.remove(&ip) {
                    None => NamedAddress::One(name.clone()),
                    Some(NamedAddress::One(n)) if n == name => NamedAddress::One(n),
                    Some(NamedAddress::One(n)) => NamedAddress::Ambiguous(vec![n, name.clone()]),
                    Some(NamedAddress::Ambiguous(mut all)) => {
                        if !all.contains(&name) {
                            all.push(name.clone());
                        }
                        NamedAddress::Ambiguous(all)
                    }
                };
                map.insert(ip, next);
            }
        }
        if let Ok(mut m) = self.by_address.write() {
            *m = map;
        }
    }

    /// What a canonical host that is an IP address is to configuration, if anything.
    pub fn lookup(&self, host: &str) -> Option<NamedAddress> {
        let ip: IpAddr = host.parse().ok()?;
        self.by_address.read().ok()?.get(&ip).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_name_their_configured_host_unless_shared() {
        let names = HostNames::new(vec![
            "mcp.internal".into(),
            "CH.internal.".into(),
            "10.9.9.9".into(),
        ]);
        assert_eq!(names.names, ["mcp.internal", "ch.internal"]);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        names.set(vec![
            ("mcp.internal".into(), vec![ip("10.0.0.7"), ip("10.0.0.8")]),
            ("ch.internal".into(), vec![ip("10.0.0.8")]),
        ]);
        assert_eq!(
            names.lookup("10.0.0.7"),
            Some(NamedAddress::One("mcp.internal".into()))
        );
        assert!(
            matches!(names.lookup("10.0.0.8"), Some(NamedAddress::Ambiguous(v)) if v.len() == 2)
        );
        assert_eq!(names.lookup("10.0.0.9"), None);
        assert_eq!(
            names.lookup("mcp.internal"),
            None,
            "names are not addresses"
        );
    }

    #[test]
    fn localhost_resolves_to_loopback() {
        let names = HostNames::new(vec!["localhost".into()]);
        names.refresh();
        assert_eq!(
            names.lookup("127.0.0.1"),
            Some(NamedAddress::One("localhost".into()))
        );
    }
}
