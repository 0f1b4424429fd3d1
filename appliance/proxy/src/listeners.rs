//! What the listeners share: the TCP stream a listener accepted, and the table of connections
//! the TLS proxy listener relays to the explicit listener (who the real client is).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;

use aarmor_core::ClientCertificate;
use pingora::protocols::l4::stream::Stream as L4Stream;
use pingora::protocols::{GetSocketDigest, Stream};

/// The real client of a relayed connection and the certificate it presented.
pub type RelayedClient = (Option<SocketAddr>, Option<ClientCertificate>);

/// What a relayed connection really is, keyed by the relay socket's local address.
#[derive(Debug, Default)]
pub struct Relayed {
    map: Mutex<HashMap<SocketAddr, RelayedClient>>,
}

/// Removes the entry when the relay ends.
pub struct RelayRegistration<'a> {
    table: &'a Relayed,
    local: SocketAddr,
}

impl Drop for RelayRegistration<'_> {
    fn drop(&mut self) {
        if let Ok(mut map) = self.table.map.lock() {
            map.remove(&self.local);
        }
    }
}

impl Relayed {
    pub fn register(
        &self,
        local: SocketAddr,
        client: Option<SocketAddr>,
        cert: Option<ClientCertificate>,
    ) -> RelayRegistration<'_> {
        if let Ok(mut map) = self.map.lock() {
            map.insert(local, (client, cert));
        }
        RelayRegistration { table: self, local }
    }

    /// The real client and certificate behind a peer that is one of our live relay sockets
    /// (exact address and port: no other socket can hold them while the relay lives).
    pub fn lookup(&self, peer: SocketAddr) -> Option<RelayedClient> {
        self.map.lock().ok()?.get(&peer).cloned()
    }
}

/// The TCP stream a listener accepted, and the client's address.
pub(crate) fn accepted(stream: Stream) -> Option<(L4Stream, Option<SocketAddr>)> {
    let l4 = match stream.into_any().downcast::<L4Stream>() {
        Ok(s) => *s,
        Err(_) => {
            tracing::error!("listener handed over a stream that is not TCP");
            return None;
        }
    };
    let peer = l4
        .get_socket_digest()
        .and_then(|d| d.peer_addr().and_then(|a| a.as_inet().copied()));
    Some((l4, peer))
}
