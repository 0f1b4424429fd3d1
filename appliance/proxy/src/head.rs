//! Reading and parsing the first request head a client sends on the explicit listener, before
//! pingora takes over: bounded in size and time.

use std::time::Duration;

use aarmor_core::ProxyCredential;
use base64::Engine as _;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Why the first head could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HeadError {
    #[error("client closed the connection before sending a request")]
    Closed,
    #[error("request head larger than {0} bytes")]
    TooLarge(usize),
    #[error("client did not send a complete request head within {0:?}")]
    Timeout(Duration),
    #[error("malformed request head: {0}")]
    Malformed(String),
    #[error("read error: {0}")]
    Io(String),
}

/// The parts of the first request that the front end needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstHead {
    pub method: String,
    /// Request target as sent: `host:port` for CONNECT, absolute or origin form otherwise.
    pub target: String,
    pub proxy_authorization: Option<String>,
    /// Bytes of the head; anything after it in the buffer belongs to the next layer.
    pub len: usize,
}

const MAX_HEADERS: usize = 128;

/// Parse `buf` as a request head. `Ok(None)` means more bytes are needed.
pub fn parse_head(buf: &[u8]) -> Result<Option<FirstHead>, HeadError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf) {
        Ok(httparse::Status::Partial) => Ok(None),
        Ok(httparse::Status::Complete(len)) => {
            let method = req.method.unwrap_or_default().to_string();
            let target = req.path.unwrap_or_default().to_string();
            let proxy_authorization = req
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("proxy-authorization"))
                .map(|h| String::from_utf8_lossy(h.value).into_owned());
            Ok(Some(FirstHead {
                method,
                target,
                proxy_authorization,
                len,
            }))
        }
        Err(httparse::Error::TooManyHeaders) => Err(HeadError::Malformed(format!(
            "more than {MAX_HEADERS} headers"
        ))),
        Err(e) => Err(HeadError::Malformed(e.to_string())),
    }
}

/// Read until a complete head is buffered. Returns the head and every byte read (the head and
/// whatever followed it).
pub async fn read_first_head<S: AsyncRead + Unpin>(
    stream: &mut S,
    max_bytes: usize,
    deadline: Duration,
) -> Result<(FirstHead, Vec<u8>), HeadError> {
    let mut buf = Vec::with_capacity(1024);
    let read = async {
        let mut chunk = [0u8; 4096];
        loop {
            let n = stream
                .read(&mut chunk)
                .await
                .map_err(|e| HeadError::Io(e.to_string()))?;
            if n == 0 {
                return Err(if buf.is_empty() {
                    HeadError::Closed
                } else {
                    HeadError::Malformed("connection closed mid-head".into())
                });
            }
            buf.extend_from_slice(&chunk[..n]);
            if let Some(head) = parse_head(&buf)? {
                return Ok(head);
            }
            if buf.len() > max_bytes {
                return Err(HeadError::TooLarge(max_bytes));
            }
        }
    };
    let head = tokio::time::timeout(deadline, read)
        .await
        .map_err(|_| HeadError::Timeout(deadline))??;
    if head.len > max_bytes {
        return Err(HeadError::TooLarge(max_bytes));
    }
    Ok((head, buf))
}

/// Parse a `Proxy-Authorization` value. `None` when the scheme is unknown or the value malformed.
pub fn parse_proxy_authorization(value: &str) -> Option<ProxyCredential> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (user, password) = text.split_once(':')?;
        if user.is_empty() {
            return None;
        }
        Some(ProxyCredential::Basic {
            user: user.to_string(),
            password: password.to_string(),
        })
    } else if scheme.eq_ignore_ascii_case("bearer") && !rest.is_empty() {
        Some(ProxyCredential::Bearer {
            token: rest.to_string(),
        })
    } else {
        None
    }
}

/// A minimal HTTP/1.1 response written by the front end itself (before pingora owns the stream).
pub fn raw_response(
    status: u16,
    reason: &str,
    extra_headers: &[(&str, &str)],
    content_type: &str,
    body: &[u8],
) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} {reason}\r\n");
    for (n, v) in extra_headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str(&format!(
        "content-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    ));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_connect_with_auth_and_keeps_trailing_bytes() {
        let raw = b"CONNECT api.test:443 HTTP/1.1\r\nHost: api.test:443\r\nProxy-Authorization: Basic YWdlbnQ6cHc=\r\n\r\n\x16\x03\x01";
        let head = parse_head(raw).unwrap().unwrap();
        assert_eq!(head.method, "CONNECT");
        assert_eq!(head.target, "api.test:443");
        assert_eq!(head.len, raw.len() - 3);
        let cred = parse_proxy_authorization(head.proxy_authorization.as_deref().unwrap()).unwrap();
        assert_eq!(
            cred,
            ProxyCredential::Basic {
                user: "agent".into(),
                password: "pw".into()
            }
        );
    }

    #[test]
    fn partial_and_garbage() {
        assert_eq!(
            parse_head(b"GET http://x/ HTTP/1.1\r\nHost: x\r\n").unwrap(),
            None
        );
        assert!(matches!(
            parse_head(b"\x16\x03\x01\x02\x00garbage\r\n\r\n"),
            Err(HeadError::Malformed(_))
        ));
    }

    #[test]
    fn proxy_authorization_forms() {
        assert_eq!(
            parse_proxy_authorization("Bearer abc"),
            Some(ProxyCredential::Bearer {
                token: "abc".into()
            })
        );
        assert_eq!(parse_proxy_authorization("bearer "), None);
        assert_eq!(parse_proxy_authorization("Basic !!!"), None);
        assert_eq!(
            parse_proxy_authorization("Basic Om5vdXNlcg=="),
            None,
            "empty user"
        );
        assert_eq!(parse_proxy_authorization("Digest x"), None);
    }

    #[tokio::test]
    async fn read_limits_size_and_time() {
        let (mut client, mut server) = tokio::io::duplex(1 << 20);
        use tokio::io::AsyncWriteExt;
        client.write_all(&vec![b'a'; 9000]).await.unwrap();
        let err = read_first_head(&mut server, 8192, Duration::from_secs(5))
            .await
            .unwrap_err();
        assert_eq!(err, HeadError::TooLarge(8192));

        let (mut client, mut server) = tokio::io::duplex(1024);
        client.write_all(b"CONNECT a:1 HTTP/1.1\r\n").await.unwrap();
        let err = read_first_head(&mut server, 8192, Duration::from_millis(50))
            .await
            .unwrap_err();
        assert!(matches!(err, HeadError::Timeout(_)));
        drop(client);

        let (mut client, mut server) = tokio::io::duplex(1024);
        client
            .write_all(b"CONNECT a:1 HTTP/1.1\r\n\r\nextra")
            .await
            .unwrap();
        let (head, buf) = read_first_head(&mut server, 8192, Duration::from_secs(1))
            .await
            .unwrap();
        assert_eq!(&buf[head.len..], b"extra");
    }
}
