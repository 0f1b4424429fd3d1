//! A minimal HTTP/1.1 client for aarmor's own outbound calls (approval webhooks, archive
//! uploads): one request per connection over TCP or TLS (rustls), the status read back with
//! httparse. Never used on the data path.

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    request: &[u8],
) -> std::io::Result<u16> {
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
            Ok(httparse::Status::Complete(_)) => return Ok(resp.code.unwrap_or(0)),
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
        None => exchange(tcp, &request).await,
        Some(config) => {
            let name = rustls::pki_types::ServerName::try_from(bare_host.to_string())
                .map_err(|e| std::io::Error::other(format!("server name: {e}")))?;
            let tls = tokio_rustls::TlsConnector::from(config.clone())
                .connect(name, tcp)
                .await?;
            exchange(tls, &request).await
        }
    }
}
