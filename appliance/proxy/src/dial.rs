//! Which of a host's addresses aarmor dials, in what order: all of them, one after the other
//! while connecting fails, an address that just failed last (a name that answers on one address
//! family only, such as `localhost` served on 127.0.0.1 while it also resolves to `::1`, costs
//! one failed attempt a minute, not a refused request).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use pingora::{Error, ErrorType};

/// How long a failed address goes last.
const REMEMBER: Duration = Duration::from_secs(60);
/// Failed addresses remembered at most (the memory is cleared when full).
const MAX_REMEMBERED: usize = 4096;

/// Addresses a connection to which failed recently.
#[derive(Default)]
pub struct DialMemory {
    failed: Mutex<HashMap<SocketAddr, Instant>>,
}

impl DialMemory {
    /// `addrs` in dialling order: the resolver's order, except that addresses that failed in
    /// the last minute go last (in the resolver's order among themselves).
    pub fn order(&self, addrs: Vec<SocketAddr>) -> Vec<SocketAddr> {
        let Ok(failed) = self.failed.lock() else {
            return addrs;
        };
        let recently_failed =
            |a: &SocketAddr| failed.get(a).is_some_and(|at| at.elapsed() < REMEMBER);
        let (mut good, bad): (Vec<_>, Vec<_>) =
            addrs.into_iter().partition(|a| !recently_failed(a));
        good.extend(bad);
        good
    }

    /// A connection to `addr` could not be made.
    pub fn failed(&self, addr: SocketAddr) {
        if let Ok(mut failed) = self.failed.lock() {
            if failed.len() >= MAX_REMEMBERED {
                failed.clear();
            }
            failed.insert(addr, Instant::now());
        }
    }
}

/// Whether `e` means no connection was made (so no byte of the request left, and another
/// address of the host may be tried).
pub fn is_connect_failure(e: &Error) -> bool {
    matches!(
        e.etype(),
        ErrorType::ConnectRefused
            | ErrorType::ConnectNoRoute
            | ErrorType::ConnectTimedout
            | ErrorType::ConnectError
            | ErrorType::SocketError
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn recently_failed_addresses_go_last_in_resolver_order() {
        let memory = DialMemory::default();
        let resolved = vec![addr("[::1]:80"), addr("127.0.0.1:80"), addr("[::2]:80")];
        assert_eq!(memory.order(resolved.clone()), resolved);
        memory.failed(addr("[::1]:80"));
        memory.failed(addr("127.0.0.1:80"));
        assert_eq!(
            memory.order(resolved),
            vec![addr("[::2]:80"), addr("[::1]:80"), addr("127.0.0.1:80")]
        );
        // Another port of the same address is another destination.
        assert_eq!(
            memory.order(vec![addr("[::1]:81"), addr("[::2]:81")]),
            vec![addr("[::1]:81"), addr("[::2]:81")]
        );
    }

    #[test]
    fn only_failures_to_connect_allow_another_address() {
        assert!(is_connect_failure(&Error::new(ErrorType::ConnectRefused)));
        assert!(is_connect_failure(&Error::new(ErrorType::ConnectTimedout)));
        assert!(!is_connect_failure(&Error::new(
            ErrorType::TLSHandshakeFailure
        )));
        assert!(!is_connect_failure(&Error::new(ErrorType::InvalidCert)));
    }
}
