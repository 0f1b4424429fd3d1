//! Reading a TLS ClientHello without consuming it, to learn the server name before deciding
//! whether to intercept or splice. Parsing is rustls's own (`rustls::server::Acceptor`).

/// Outcome of looking at the bytes buffered so far.
#[derive(Debug, PartialEq, Eq)]
pub enum HelloPeek {
    /// More bytes are needed.
    Incomplete,
    /// A complete ClientHello; the server name it carries, if any.
    Complete { server_name: Option<String> },
    /// Not a TLS ClientHello.
    NotTls(String),
}

/// Largest ClientHello we buffer while peeking.
pub const MAX_HELLO_BYTES: usize = 64 * 1024;

pub fn peek_client_hello(buf: &[u8]) -> HelloPeek {
    if buf.first().is_some_and(|b| *b != 0x16) {
        return HelloPeek::NotTls("first byte is not a TLS handshake record".into());
    }
    let mut acceptor = rustls::server::Acceptor::default();
    let mut rest = buf;
    while !rest.is_empty() {
        match acceptor.read_tls(&mut rest) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => return HelloPeek::NotTls(e.to_string()),
        }
    }
    match acceptor.accept() {
        Ok(None) => HelloPeek::Incomplete,
        Ok(Some(accepted)) => HelloPeek::Complete {
            server_name: accepted.client_hello().server_name().map(str::to_string),
        },
        Err((e, _alert)) => HelloPeek::NotTls(e.to_string()),
    }
}

/// Whether the first bytes of a stream look like an HTTP/1.x request line (`TOKEN SP`).
pub fn looks_like_http(buf: &[u8]) -> bool {
    let method_len = buf.iter().take_while(|b| b.is_ascii_uppercase()).count();
    (3..=10).contains(&method_len) && buf.get(method_len) == Some(&b' ')
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn client_hello(server_name: &str) -> Vec<u8> {
        let roots = rustls::RootCertStore::empty();
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let name = rustls::pki_types::ServerName::try_from(server_name.to_string()).unwrap();
        let mut conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
        let mut out = Vec::new();
        conn.write_tls(&mut out).unwrap();
        out
    }

    #[test]
    fn finds_sni_and_needs_whole_hello() {
        let hello = client_hello("api.example.test");
        assert_eq!(peek_client_hello(&hello[..10]), HelloPeek::Incomplete);
        assert_eq!(
            peek_client_hello(&hello),
            HelloPeek::Complete {
                server_name: Some("api.example.test".into())
            }
        );
    }

    #[test]
    fn ip_targets_send_no_sni() {
        let hello = client_hello("127.0.0.1");
        assert_eq!(
            peek_client_hello(&hello),
            HelloPeek::Complete { server_name: None }
        );
    }

    #[test]
    fn rejects_non_tls() {
        assert!(matches!(
            peek_client_hello(b"GET / HTTP/1.1\r\n"),
            HelloPeek::NotTls(_)
        ));
        assert!(matches!(
            peek_client_hello(b"\x16\x03\x01\x00\x05hello"),
            HelloPeek::NotTls(_)
        ));
        assert!(looks_like_http(b"GET / HTTP/1.1"));
        assert!(looks_like_http(b"OPTIONS * HTTP/1.1"));
        assert!(!looks_like_http(b"\x16\x03"));
        assert!(!looks_like_http(b"get / "));
    }
}
