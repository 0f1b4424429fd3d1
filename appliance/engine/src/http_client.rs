//! A minimal HTTP/1.1 client for aarmor's own outbound calls (approval webhooks, archive
//! uploads, OAuth2 token requests): one request per connection over TCP or TLS (rustls), the
//! status (and, when asked, a bounded body) read back with httparse. Never used on the data
//! path.

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest response body [`send_for_body`] reads.
const MAX_BODY: usize = 256 * 1024;

/// Sends `request`; reads the status, and the body when `with_body` (framed by
/// `Content-Length`, or by the connection's end: the request says `connection: close`).
async fn exchange_body<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    request: &[u8],
    with_body: bool,
) -> std::io::Result<(u16, Vec<u8>)> {
    stream.write_all(request).await?;
    stream.flush().await?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::other("connection closed before a response"));
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut resp = httparse::Response::new(&mut headers);
        match resp.parse(&buf) {
            Ok(httparse::Status::Complete(head_len)) => {
                let status = resp.code.unwrap_or(0);
                if !with_body {
                    return Ok((status, Vec::new()));
                }
                let chunked = resp.headers.iter().any(|h| {
                    h.name.eq_ignore_ascii_case("transfer-encoding")
                        && !String::from_utf8_lossy(h.value)
                            .trim()
                            .eq_ignore_ascii_case("identity")
                });
                if chunked {
                    return Err(std::io::Error::other("chunked responses are not read"));
                }
                let length = resp
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .and_then(|h| std::str::from_utf8(h.value).ok())
                    .and_then(|v| v.trim().parse::<usize>().ok());
                let mut body = buf[head_len..].to_vec();
                loop {
                    if length.is_some_and(|l| body.len() >= l) {
                        body.truncate(length.unwrap_or(0));
                        return Ok((status, body));
                    }
                    if body.len() > MAX_BODY {
                        return Err(std::io::Error::other("response body too large"));
                    }
                    let n = stream.read(&mut chunk).await?;
                    if n == 0 {
                        return match length {
                            Some(_) => Err(std::io::Error::other("response body cut short")),
                            None => Ok((status, body)),
                        };
                    }
                    body.extend_from_slice(&chunk[..n]);
                }
            }
            Ok(httparse::Status::Partial) if buf.len() < 64 * 1024 => continue,
            Ok(httparse::Status::Partial) => {
                return Err(std::io::Error::other("response head too large"))
            }
            Err(e) => return Err(std::io::Error::other(format!("malformed response: {e}"))),
        }
    }
}

/// Sends one request to `url` (over TLS with `tls`) and returns the response's status.
pub async fn send(
    url: &http::Uri,
    tls: Option<&Arc<rustls::ClientConfig>>,
    method: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> std::io::Result<u16> {
    send_inner(url, tls, method, headers, body, false)
        .await
        .map(|(s, _)| s)
}

/// [`send`], returning the response body too (at most 256 KiB; not chunked).
pub async fn send_for_body(
    url: &http::Uri,
    tls: Option<&Arc<rustls::ClientConfig>>,
    method: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> std::io::Result<(u16, Vec<u8>)> {
    send_inner(url, tls, method, headers, body, true).await
}

async fn send_inner(
    url: &http::Uri,
    tls: Option<&Arc<rustls::ClientConfig>>,
    method: &str,
    headers: &[(&str, String)],
    body: &[u8],
    with_body: bool,
) -> std::io::Result<(u16, Vec<u8>)> {
    let host = url.host().unwrap_or_default();
    let port = url
        .port_u16()
        .unwrap_or(if tls.is_some() { 443 } else { 80 });
    let path = url.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {}\r\nuser-agent: aarmor/{}\r\ncontent-length: {}\r\nconnection: close\r\n",
        url.authority().map(|a| a.as_str()).unwrap_or(host),
        env!("CARGO_PKG_VERSION"),
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut request = head.into_bytes();
    request.extend_from_slice(body);
    let bare_host = host.trim_matches(|c| c == '[' || c == ']');
    let tcp = tokio::net::TcpStream::connect((bare_host, port)).await?;
    match tls {
        None => exchange_body(tcp, &request, with_body).await,
        Some(config) => {
            let name = rustls::pki_types::ServerName::try_from(bare_host.to_string())
                .map_err(|e| std::io::Error::other(format!("server name: {e}")))?;
            let tls = tokio_rustls::TlsConnector::from(config.clone())
                .connect(name, tcp)
                .await?;
            exchange_body(tls, &request, with_body).await
        }
    }
}
