//! How many bytes aarmor holds for inspection at once, in all and per client: bodies it must
//! read whole before deciding are held in memory, and without a bound a client (or many) could
//! exhaust the appliance. Past a bound the exchange is refused (429 for a client over its share,
//! 503 when the appliance is), never forwarded unread.
//!
//! Invariant: every byte counted by a [`Reservation`] is given back when it drops, so the
//! totals only ever hold what live exchanges hold.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Which bound was hit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OverBudget {
    #[error("this client already holds {held} bytes under inspection (proxy.max_inspect_client_bytes = {limit})")]
    Client { held: usize, limit: usize },
    #[error("aarmor already holds {held} bytes under inspection (proxy.max_inspect_total_bytes = {limit})")]
    Total { held: usize, limit: usize },
}

impl OverBudget {
    /// The status the client gets.
    pub fn status(&self) -> u16 {
        match self {
            Self::Client { .. } => 429,
            Self::Total { .. } => 503,
        }
    }
}

#[derive(Debug, Default)]
struct Held {
    total: usize,
    by_client: HashMap<String, usize>,
}

#[derive(Debug)]
pub struct InspectBudget {
    total_limit: usize,
    client_limit: usize,
    held: Mutex<Held>,
}

impl InspectBudget {
    pub fn new(total_limit: usize, client_limit: usize) -> Arc<Self> {
        Arc::new(Self {
            total_limit,
            client_limit,
            held: Mutex::new(Held::default()),
        })
    }

    /// An empty reservation for `client`, grown as bytes arrive.
    pub fn reserve(self: &Arc<Self>, client: String) -> Reservation {
        Reservation {
            budget: self.clone(),
            client,
            bytes: 0,
        }
    }

    /// Bytes held now, in all.
    pub fn held(&self) -> usize {
        self.held.lock().map(|h| h.total).unwrap_or(0)
    }

    fn take(&self, client: &str, bytes: usize) -> Result<(), OverBudget> {
        let mut h = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let mine = h.by_client.get(client).copied().unwrap_or(0);
        if mine + bytes > self.client_limit {
            return Err(OverBudget::Client {
                held: mine,
                limit: self.client_limit,
            });
        }
        if h.total + bytes > self.total_limit {
            return Err(OverBudget::Total {
                held: h.total,
                limit: self.total_limit,
            });
        }
        h.total += bytes;
        *h.by_client.entry(client.to_string()).or_insert(0) += bytes;
        Ok(())
    }

    fn give_back(&self, client: &str, bytes: usize) {
        let mut h = self.held.lock().unwrap_or_else(|p| p.into_inner());
        h.total = h.total.saturating_sub(bytes);
        if let Some(mine) = h.by_client.get_mut(client) {
            *mine = mine.saturating_sub(bytes);
            if *mine == 0 {
                h.by_client.remove(client);
            }
        }
    }
}

/// Bytes one exchange holds; given back when dropped.
#[derive(Debug)]
pub struct Reservation {
    budget: Arc<InspectBudget>,
    client: String,
    bytes: usize,
}

impl Reservation {
    /// Counts `more` bytes held, or says which bound they would break (nothing is counted then).
    pub fn grow(&mut self, more: usize) -> Result<(), OverBudget> {
        self.budget.take(&self.client, more)?;
        self.bytes += more;
        Ok(())
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.give_back(&self.client, self.bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_hold_per_client_and_in_all_and_drops_give_back() {
        let b = InspectBudget::new(100, 60);
        let mut a = b.reserve("a".into());
        a.grow(50).unwrap();
        assert!(matches!(
            a.grow(20),
            Err(OverBudget::Client { held: 50, .. })
        ));
        let mut c = b.reserve("c".into());
        c.grow(50).unwrap();
        assert!(matches!(
            c.grow(10),
            Err(OverBudget::Total { held: 100, .. })
        ));
        assert_eq!(b.held(), 100);
        drop(a);
        assert_eq!(b.held(), 50);
        c.grow(10).unwrap();
        drop(c);
        assert_eq!(b.held(), 0);
    }
}
