//! One request's state on its way through the data plane, and what aarmor writes to the client
//! itself: its own responses, and the problem that describes an upstream failure. Shared by the
//! pingora phases (`http_proxy`) and the inspected path (`inspect`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aarmor_core::{ConnectionFacts, ConnectionMode, SyntheticResponse};
use aarmor_mediation::HeaderRewrite;
use bytes::Bytes;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::proxy::Session;
use pingora::upstreams::peer::HttpPeer;
use pingora::{Error, ErrorSource, ErrorType, Result};

use crate::settings::UpstreamSettings;

/// Where one request goes.
#[derive(Debug, Clone)]
pub struct UpstreamRoute {
    pub addr: SocketAddr,
    /// The host's addresses left to dial, in order, should connecting to `addr` fail.
    pub alternates: Vec<SocketAddr>,
    pub tls: bool,
    /// Name verified against the upstream certificate (and sent as SNI).
    pub server_name: String,
    /// Host header to send, set only when the client sent none (HTTP/1.0, HTTP/2 clients).
    pub host_header: Option<String>,
}

impl UpstreamRoute {
    /// Moves on to the next address to dial; `false` when none is left.
    pub fn next_address(&mut self) -> bool {
        if self.alternates.is_empty() {
            return false;
        }
        self.addr = self.alternates.remove(0);
        true
    }
}

/// Per-request state.
pub struct RequestCtx {
    pub started: Instant,
    pub facts: Option<Arc<ConnectionFacts>>,
    pub route: Option<UpstreamRoute>,
    pub rewrite: Option<HeaderRewrite>,
    /// Origin-form target to send upstream when the client used absolute form.
    pub origin_form: Option<String>,
    pub exchange_id: u64,
}

impl UpstreamRoute {
    /// The pingora peer for this route, with the upstream timeouts.
    pub fn peer(&self, upstream: &UpstreamSettings) -> HttpPeer {
        let mut peer = HttpPeer::new(self.addr, self.tls, self.server_name.clone());
        let connect = Duration::from_millis(upstream.connect_timeout_ms);
        peer.options.connection_timeout = Some(connect);
        peer.options.total_connection_timeout = Some(connect);
        peer.options.read_timeout = Some(Duration::from_millis(upstream.read_timeout_ms));
        peer.options.write_timeout = Some(Duration::from_millis(upstream.read_timeout_ms));
        peer.options.idle_timeout = Some(Duration::from_secs(upstream.idle_timeout_s));
        peer
    }
}

pub fn mode_label(mode: ConnectionMode) -> &'static str {
    match mode {
        ConnectionMode::ConnectIntercepted => "connect_tls",
        ConnectionMode::ConnectPlain => "connect_plain",
        ConnectionMode::ForwardHttp => "forward_http",
        ConnectionMode::TransparentTls => "transparent_tls",
        ConnectionMode::TransparentHttp => "transparent_http",
    }
}

/// Write a response aarmor produced itself.
pub async fn respond(session: &mut Session, resp: &SyntheticResponse) -> Result<()> {
    let mut head = ResponseHeader::build(resp.status, Some(resp.headers.len() + 2))?;
    for (name, value) in &resp.headers {
        head.insert_header(name.clone(), value.as_str())?;
    }
    head.insert_header("content-length", resp.body.len().to_string())?;
    head.insert_header("x-aarmor", "1")?;
    // A request whose body was not read to its end (refused from its head, or cut short by a
    // limit) leaves the connection in an unknown place: it is closed after this answer. A
    // request read whole (an action refused after inspection) keeps the connection.
    let has_body = session.req_header().headers.contains_key("content-length")
        || session
            .req_header()
            .headers
            .contains_key("transfer-encoding");
    if has_body && !session.is_body_done() {
        session.set_keepalive(None);
    }
    session.write_response_header(Box::new(head), false).await?;
    session
        .write_response_body(Some(Bytes::from(resp.body.clone())), true)
        .await?;
    Ok(())
}

/// Header edits applied to every request sent upstream, whichever path sends it.
pub fn prepare_upstream_request(req: &mut RequestHeader, ctx: &RequestCtx) -> Result<()> {
    if let Some(path) = &ctx.origin_form {
        let uri: http::Uri = path
            .parse()
            .map_err(|e| Error::because(ErrorType::InvalidHTTPHeader, "origin-form target", e))?;
        req.set_uri(uri);
    }
    // Credentials for the proxy never travel further.
    req.remove_header("proxy-authorization");
    req.remove_header("proxy-connection");
    if let Some(host) = ctx.route.as_ref().and_then(|r| r.host_header.as_deref()) {
        if !req.headers.contains_key("host") {
            req.insert_header("host", host)?;
        }
    }
    if let Some(rw) = &ctx.rewrite {
        for name in &rw.remove {
            req.remove_header(name.as_str());
        }
        for (name, value) in &rw.set {
            req.insert_header(name.clone(), value.as_str())?;
        }
    }
    Ok(())
}

/// Map a proxying error to the status and problem the client receives.
pub fn classify_error(e: &Error) -> Option<SyntheticResponse> {
    use ErrorType::*;
    let detail = e.to_string();
    let (status, kind, title) = match e.etype() {
        HTTPStatus(code) => {
            return Some(SyntheticResponse::problem(
                *code,
                "http-status",
                "Request failed",
                &detail,
            ))
        }
        ConnectTimedout => (504, "upstream-unreachable", "Upstream connection timed out"),
        ConnectRefused | ConnectNoRoute | ConnectError | ConnectProxyFailure | SocketError
        | BindError => (502, "upstream-unreachable", "Upstream unreachable"),
        TLSHandshakeFailure | TLSHandshakeTimedout | InvalidCert | HandshakeError
        | TLSWantX509Lookup => (502, "upstream-tls", "Upstream TLS verification failed"),
        ReadTimedout | WriteTimedout if e.esource() == &ErrorSource::Upstream => {
            (504, "upstream-timeout", "Upstream timed out")
        }
        _ => match e.esource() {
            ErrorSource::Upstream => (502, "upstream-error", "Upstream failed"),
            ErrorSource::Downstream => match e.etype() {
                WriteError | ReadError | ConnectionClosed | ReadTimedout | WriteTimedout => {
                    return None
                }
                _ => (400, "bad-request", "Bad request"),
            },
            ErrorSource::Internal | ErrorSource::Unset => (500, "internal", "Internal proxy error"),
        },
    };
    Some(SyntheticResponse::problem(status, kind, title, &detail))
}

/// Answer the client with the problem that describes `e`; nothing when the client is gone.
pub async fn respond_to_error(session: &mut Session, e: &Error) -> Result<()> {
    match classify_error(e) {
        Some(problem) => respond(session, &problem).await,
        None => Ok(()),
    }
}
