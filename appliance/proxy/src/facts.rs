//! Side table carrying per-connection facts from the front end to the HTTP engine.
//!
//! pingora gives `ProxyHttp` no per-connection context that works for both HTTP/1 and HTTP/2,
//! so facts are keyed by the connection's [`SocketDigest`]: pingora creates exactly one per
//! accepted socket and every HTTP session on that connection (each HTTP/1 request, each HTTP/2
//! stream, through TLS or not) carries a clone of the same `Arc`. The key is that `Arc`'s
//! address, which costs no system call per request (the kernel socket cookie would).
//!
//! Invariant: an entry holds its own clone of the digest `Arc`, so the address cannot be freed
//! and handed to another connection while the entry exists; the entry is removed when the
//! [`Registration`] guard drops, after the connection is served.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aarmor_core::ConnectionFacts;
use pingora::protocols::SocketDigest;

/// Identity of a connection: the address of its shared socket digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct ConnectionKey(usize);

impl ConnectionKey {
    fn of(digest: &Arc<SocketDigest>) -> Self {
        ConnectionKey(Arc::as_ptr(digest) as usize)
    }
}

#[derive(Debug)]
struct Entry {
    /// Keeps the key's address alive (see the module invariant).
    _digest: Arc<SocketDigest>,
    facts: Arc<ConnectionFacts>,
}

#[derive(Debug, Default)]
pub struct FactsTable {
    map: Mutex<HashMap<ConnectionKey, Entry>>,
}

/// Removes the entry when dropped.
pub struct Registration {
    table: Arc<FactsTable>,
    key: ConnectionKey,
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Ok(mut map) = self.table.map.lock() {
            map.remove(&self.key);
        }
    }
}

impl FactsTable {
    /// Records `facts` for the connection whose socket digest is `digest`, until the returned
    /// guard drops.
    pub fn register(
        self: &Arc<Self>,
        digest: &Arc<SocketDigest>,
        facts: ConnectionFacts,
    ) -> Registration {
        let key = ConnectionKey::of(digest);
        if let Ok(mut map) = self.map.lock() {
            map.insert(
                key,
                Entry {
                    _digest: digest.clone(),
                    facts: Arc::new(facts),
                },
            );
        }
        Registration {
            table: self.clone(),
            key,
        }
    }

    /// The facts of the connection a session runs on.
    pub fn get(&self, digest: &Arc<SocketDigest>) -> Option<Arc<ConnectionFacts>> {
        self.map
            .lock()
            .ok()?
            .get(&ConnectionKey::of(digest))
            .map(|e| e.facts.clone())
    }

    pub fn len(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use aarmor_core::ConnectionMode;

    use super::*;

    fn facts(mode: ConnectionMode) -> ConnectionFacts {
        ConnectionFacts {
            client_addr: None,
            mode,
            target: None,
            sni: None,
            credential: None,
            client_cert: None,
        }
    }

    #[test]
    fn entries_live_as_long_as_the_registration() {
        let table = Arc::new(FactsTable::default());
        let digest = Arc::new(SocketDigest::from_raw_fd(0));
        let reg = table.register(&digest, facts(ConnectionMode::ForwardHttp));
        assert_eq!(
            table.get(&digest.clone()).unwrap().mode,
            ConnectionMode::ForwardHttp
        );
        drop(reg);
        assert!(table.get(&digest).is_none());
        assert!(table.is_empty());
    }

    #[test]
    fn connections_are_told_apart_by_their_digest_not_its_contents() {
        let table = Arc::new(FactsTable::default());
        let (a, b) = (
            Arc::new(SocketDigest::from_raw_fd(0)),
            Arc::new(SocketDigest::from_raw_fd(0)),
        );
        let _ra = table.register(&a, facts(ConnectionMode::ForwardHttp));
        let _rb = table.register(&b, facts(ConnectionMode::TransparentTls));
        assert_eq!(table.get(&a).unwrap().mode, ConnectionMode::ForwardHttp);
        assert_eq!(table.get(&b).unwrap().mode, ConnectionMode::TransparentTls);
    }

    #[test]
    fn a_registered_digest_stays_allocated_after_its_stream_drops() {
        let table = Arc::new(FactsTable::default());
        let digest = Arc::new(SocketDigest::from_raw_fd(0));
        let _reg = table.register(&digest, facts(ConnectionMode::ForwardHttp));
        assert_eq!(Arc::strong_count(&digest), 2);
    }
}
