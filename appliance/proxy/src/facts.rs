//! Side table carrying per-connection facts from the front end to the HTTP engine.
//!
//! pingora gives `ProxyHttp` no per-connection context that works for both HTTP/1 and HTTP/2,
//! so facts are keyed by the kernel socket cookie (unique for the life of the host) and removed
//! when the connection ends (the registration guard drops).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aarmor_core::ConnectionFacts;

#[derive(Debug, Default)]
pub struct FactsTable {
    map: Mutex<HashMap<u64, Arc<ConnectionFacts>>>,
}

/// Removes the entry when dropped.
pub struct Registration {
    table: Arc<FactsTable>,
    cookie: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Ok(mut map) = self.table.map.lock() {
            map.remove(&self.cookie);
        }
    }
}

impl FactsTable {
    pub fn register(self: &Arc<Self>, cookie: u64, facts: ConnectionFacts) -> Registration {
        if let Ok(mut map) = self.map.lock() {
            map.insert(cookie, Arc::new(facts));
        }
        Registration {
            table: self.clone(),
            cookie,
        }
    }

    pub fn get(&self, cookie: u64) -> Option<Arc<ConnectionFacts>> {
        self.map.lock().ok()?.get(&cookie).cloned()
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

    #[test]
    fn entries_live_as_long_as_the_registration() {
        let table = Arc::new(FactsTable::default());
        let facts = ConnectionFacts {
            client_addr: None,
            mode: ConnectionMode::ForwardHttp,
            target: None,
            sni: None,
            credential: None,
            client_cert: None,
        };
        let reg = table.register(42, facts);
        assert_eq!(table.get(42).unwrap().mode, ConnectionMode::ForwardHttp);
        drop(reg);
        assert!(table.get(42).is_none());
        assert!(table.is_empty());
    }
}
