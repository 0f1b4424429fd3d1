//! The pingora `ProxyHttp` implementation that every decrypted (or plain) client stream is fed
//! to: it routes each request, calls the mediator before anything reaches the upstream, and
//! turns upstream failures into problem responses that name the reason.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aarmor_core::{ConnectionFacts, ConnectionMode, HeaderList, RequestHead, SyntheticResponse};
use aarmor_mediation::{Exchange, HeadVerdict};
use async_trait::async_trait;
use pingora::http::RequestHeader;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use pingora::upstreams::peer::HttpPeer;
use pingora::{Error, ErrorSource, ErrorType, Result};

use crate::exchange::{
    classify_error, mode_label, prepare_upstream_request, respond, RequestCtx, UpstreamRoute,
};
use crate::host_names::{HostNames, NamedAddress};
use crate::plane::Plane;

pub struct AarmorHttp {
    pub plane: Arc<Plane>,
}

/// Split `host[:port]`, with `default_port` when none is given.
fn split_host_port(authority: &str, default_port: u16) -> Option<(String, u16)> {
    crate::upstream::parse_authority(authority)
        .map(|(host, port)| (host, port.unwrap_or(default_port)))
}

/// Why a request's view cannot be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewError {
    /// The target cannot be read (400).
    BadTarget(String),
    /// The request names another host than the one its connection reaches (421): policy must
    /// judge the host the bytes go to, and that is the only one a request may name.
    Misdirected(String),
}

/// The host a request names in its `Host` header or HTTP/2 `:authority`, canonical; `None`
/// when it names none. A malformed one is an error.
fn named_host(req: &RequestHeader, default_port: u16) -> Result<Option<String>, ViewError> {
    let mut named = None;
    let authority = req.uri.authority().map(|a| a.as_str().to_string());
    let hosts: Vec<String> = req
        .headers
        .get_all("host")
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .chain(authority)
        .collect();
    for h in hosts {
        let (host, _) = split_host_port(&h, default_port)
            .ok_or_else(|| ViewError::BadTarget(format!("invalid Host {h:?}")))?;
        let host =
            aarmor_core::host::canonical(&host).map_err(|e| ViewError::BadTarget(e.to_string()))?;
        match &named {
            Some(first) if first != &host => {
                return Err(ViewError::Misdirected(format!(
                    "the request names two hosts ({first} and {host})"
                )))
            }
            _ => named = Some(host),
        }
    }
    Ok(named)
}

/// Build the mediator's view of the request and where it must be routed.
///
/// Invariant: the host policy sees is the host the connection reaches: the URL's host for an
/// absolute-form request, the TLS server name the upstream must prove for intercepted TLS (else
/// the CONNECT host or the destination address), the CONNECT host for plain HTTP in a tunnel.
/// A request whose `Host` or `:authority` names another host is refused ([`ViewError::Misdirected`]),
/// so that no virtual host behind an address can be reached under another name. (Plain HTTP
/// redirected transparently is the exception the README states: it proves nothing, so policy
/// sees the `Host` it names.)
pub fn request_view(
    req: &RequestHeader,
    facts: &ConnectionFacts,
    has_body: bool,
    host_names: &HostNames,
) -> std::result::Result<(RequestHead, Option<String>), ViewError> {
    let (mut head, origin_form) = view(req, facts, has_body)?;
    // An address a configured host resolves to is that host (see `host_names`).
    match host_names.lookup(&head.host) {
        Some(NamedAddress::One(name)) => head.host = name,
        Some(NamedAddress::Ambiguous(names)) => {
            return Err(ViewError::Misdirected(format!(
                "{} is the address of several configured hosts ({}): name the one you mean",
                head.host,
                names.join(", ")
            )))
        }
        None => {}
    }
    Ok((head, origin_form))
}

fn view(
    req: &RequestHeader,
    facts: &ConnectionFacts,
    has_body: bool,
) -> std::result::Result<(RequestHead, Option<String>), ViewError> {
    let mut headers = HeaderList::default();
    for (name, value) in req.headers.iter() {
        headers.push(name.as_str(), value.as_bytes());
    }
    let method = req.method.as_str().to_string();
    let canonical =
        |h: &str| aarmor_core::host::canonical(h).map_err(|e| ViewError::BadTarget(e.to_string()));
    match facts.mode {
        ConnectionMode::ForwardHttp => {
            let raw = std::str::from_utf8(req.raw_path())
                .map_err(|_| ViewError::BadTarget("request target is not UTF-8".to_string()))?;
            let uri: http::Uri = raw.parse().map_err(|e| {
                ViewError::BadTarget(format!("invalid absolute-form target {raw:?}: {e}"))
            })?;
            if uri.scheme_str() != Some("http") {
                return Err(ViewError::BadTarget(format!("expected an absolute http:// URL on the proxy port (https goes through CONNECT), got {raw:?}")));
            }
            let authority = uri
                .authority()
                .ok_or_else(|| ViewError::BadTarget(format!("no host in {raw:?}")))?;
            let (host, port) = split_host_port(authority.as_str(), 80)
                .ok_or_else(|| ViewError::BadTarget(format!("invalid host in {raw:?}")))?;
            let host = canonical(&host)?;
            let mut named_hosts = req.headers.get_all("host").iter();
            if let Some(h) = named_hosts.next() {
                let h = String::from_utf8_lossy(h.as_bytes());
                let named = split_host_port(&h, port)
                    .ok_or_else(|| ViewError::BadTarget(format!("invalid Host {h:?}")))?;
                if canonical(&named.0)? != host || named_hosts.next().is_some() {
                    return Err(ViewError::Misdirected(format!(
                        "the request is for {host} but its Host header names {h}"
                    )));
                }
            }
            let path = uri
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| "/".into());
            let head = RequestHead {
                method,
                scheme: "http",
                host,
                port,
                path: path.clone(),
                headers,
                has_body,
            };
            Ok((head, Some(path)))
        }
        mode => {
            let target = facts
                .target
                .as_ref()
                .ok_or_else(|| ViewError::BadTarget("connection has no target".to_string()))?;
            let path = if req.uri.scheme().is_some() || req.uri.authority().is_some() {
                req.uri
                    .path_and_query()
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_else(|| "/".into())
            } else {
                String::from_utf8_lossy(req.raw_path()).into_owned()
            };
            let named = named_host(req, target.port)?;
            let host = match mode {
                ConnectionMode::TransparentHttp => match named {
                    Some(h) => h,
                    None => canonical(&target.host)?,
                },
                _ => {
                    // The name the upstream proves (SNI), else the one the client connected to.
                    let host = match &facts.sni {
                        Some(sni) if mode.is_tls() => canonical(sni)?,
                        _ => canonical(&target.host)?,
                    };
                    if let Some(named) = named.filter(|n| n != &host) {
                        return Err(ViewError::Misdirected(format!(
                            "the connection reaches {host} but the request names {named}"
                        )));
                    }
                    host
                }
            };
            let scheme = if mode.is_tls() { "https" } else { "http" };
            Ok((
                RequestHead {
                    method,
                    scheme,
                    host,
                    port: target.port,
                    path,
                    headers,
                    has_body,
                },
                None,
            ))
        }
    }
}

impl AarmorHttp {
    /// Compute the route; `Err` is the problem response to send.
    async fn route(
        &self,
        facts: &ConnectionFacts,
        head: &RequestHead,
    ) -> std::result::Result<UpstreamRoute, SyntheticResponse> {
        let host_header = match head.headers.get("host") {
            Some(_) => None,
            None if (head.scheme == "https" && head.port == 443)
                || (head.scheme == "http" && head.port == 80) =>
            {
                Some(head.host.clone())
            }
            None if head.host.contains(':') => Some(format!("[{}]:{}", head.host, head.port)),
            None => Some(format!("{}:{}", head.host, head.port)),
        };
        match (&facts.target, facts.mode) {
            (Some(target), mode) if mode != ConnectionMode::ForwardHttp => {
                let (addr, alternates) = self.dial_order(target.addr, &target.alternates);
                Ok(UpstreamRoute {
                    addr,
                    alternates,
                    tls: mode.is_tls(),
                    // The upstream must prove the name policy judged: the client's server name,
                    // else the host it connected to (canonical, see `request_view`).
                    server_name: head.host.clone(),
                    host_header,
                })
            }
            _ => {
                let deadline = Duration::from_millis(self.plane.upstream.connect_timeout_ms);
                match crate::upstream::resolve(&head.host, head.port, deadline).await {
                    Ok(addrs) => {
                        let refused = self
                            .plane
                            .refuse_destinations(
                                facts.client_addr,
                                facts.credential.as_ref(),
                                &head.host,
                                &addrs,
                            )
                            .await;
                        let (first, rest) = match addrs.split_first() {
                            Some((first, rest)) => (*first, rest),
                            None => {
                                return Err(SyntheticResponse::problem(
                                    502,
                                    "upstream-dns",
                                    "Upstream host could not be resolved",
                                    &format!("{} resolved to no address", head.host),
                                ))
                            }
                        };
                        let (addr, alternates) = self.dial_order(first, rest);
                        match refused {
                            Some(refusal) => Err(refusal),
                            None => Ok(UpstreamRoute {
                                addr,
                                alternates,
                                tls: false,
                                server_name: head.host.clone(),
                                host_header,
                            }),
                        }
                    }
                    Err(reason) => {
                        self.plane
                            .metrics
                            .upstream_errors
                            .with_label_values(&["dns"])
                            .inc();
                        Err(SyntheticResponse::problem(
                            502,
                            "upstream-dns",
                            "Upstream host could not be resolved",
                            &reason,
                        ))
                    }
                }
            }
        }
    }

    /// `addr` and `alternates` in the order to dial them (see [`crate::dial`]).
    fn dial_order(
        &self,
        addr: SocketAddr,
        alternates: &[SocketAddr],
    ) -> (SocketAddr, Vec<SocketAddr>) {
        if alternates.is_empty() {
            return (addr, Vec::new());
        }
        let mut ordered = self.plane.dial.order(
            std::iter::once(addr)
                .chain(alternates.iter().copied())
                .collect(),
        );
        let first = ordered.remove(0);
        (first, ordered)
    }
}

#[async_trait]
impl ProxyHttp for AarmorHttp {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> Self::CTX {
        RequestCtx {
            started: Instant::now(),
            facts: None,
            route: None,
            rewrite: None,
            origin_form: None,
            exchange_id: 0,
        }
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut Self::CTX) -> Result<bool> {
        ctx.started = Instant::now();
        let facts = session
            .digest()
            .and_then(|d| d.socket_digest.as_ref())
            .and_then(|s| self.plane.facts.get(s));
        let Some(facts) = facts else {
            tracing::error!("no connection facts for this stream; refusing");
            respond(
                session,
                &SyntheticResponse::problem(
                    500,
                    "internal",
                    "Internal proxy error",
                    "connection facts missing",
                ),
            )
            .await?;
            return Ok(true);
        };
        session.set_keepalive(Some(self.plane.proxy.client_keepalive_s));
        // HTTP/1.1 clients may pipeline: requests already sent behind this one are served in
        // order on the same connection, each mediated on its own (RFC 9112, 9.3.2).
        session.set_pipelining_enabled(true);
        self.plane
            .metrics
            .requests
            .with_label_values(&[mode_label(facts.mode)])
            .inc();
        ctx.facts = Some(facts.clone());

        // Whether a body follows, from the framing: HTTP/2 requests need no Content-Length.
        let has_body = !session.is_body_empty();
        let view = request_view(
            session.req_header(),
            &facts,
            has_body,
            &self.plane.host_names,
        );
        let (head, origin_form) = match view {
            Ok(v) => v,
            Err(ViewError::BadTarget(reason)) => {
                self.plane
                    .metrics
                    .client_errors
                    .with_label_values(&["bad_target"])
                    .inc();
                tracing::warn!(%reason, "bad request target");
                respond(
                    session,
                    &SyntheticResponse::problem(400, "bad-request", "Bad request target", &reason),
                )
                .await?;
                return Ok(true);
            }
            Err(ViewError::Misdirected(reason)) => {
                self.plane
                    .metrics
                    .client_errors
                    .with_label_values(&["misdirected"])
                    .inc();
                tracing::warn!(%reason, "request names another host than its connection reaches");
                respond(
                    session,
                    &SyntheticResponse::problem(
                        421,
                        "misdirected-request",
                        "Misdirected request",
                        &reason,
                    ),
                )
                .await?;
                return Ok(true);
            }
        };
        ctx.origin_form = origin_form;
        // Plain HTTP redirected transparently proves nothing about its `Host`: policy judges the
        // name only when it resolves to the address the bytes go to, else the address itself.
        let mut head = head;
        if facts.mode == ConnectionMode::TransparentHttp {
            if let Some(target) = &facts.target {
                let ip = aarmor_core::host::canonical_ip(target.addr.ip());
                if head.host != ip.to_string() && !self.plane.resolves_to(&head.host, ip).await {
                    tracing::info!(host = %head.host, %ip, "plain HTTP Host does not resolve to the destination; judged by address");
                    head.host = ip.to_string();
                }
            }
        }
        match self.route(&facts, &head).await {
            Ok(route) => ctx.route = Some(route),
            Err(problem) => {
                respond(session, &problem).await?;
                return Ok(true);
            }
        }
        ctx.exchange_id = self.plane.next_exchange_id();
        let exchange = Exchange {
            id: ctx.exchange_id,
            connection: facts,
            request: head,
        };
        let verdict = self
            .plane
            .mediate(
                "request head",
                self.plane.head_budget(),
                self.plane.mediator.on_request_head(&exchange),
            )
            .await;
        match verdict {
            Err(refusal) => {
                respond(session, &refusal).await?;
                Ok(true)
            }
            Ok(HeadVerdict::Forward) => Ok(false),
            Ok(HeadVerdict::Rewrite(rw)) => {
                ctx.rewrite = Some(rw);
                Ok(false)
            }
            Ok(HeadVerdict::Respond(resp)) => {
                respond(session, &resp).await?;
                Ok(true)
            }
            Ok(HeadVerdict::Inspect(inspector)) => {
                crate::inspect::run(&self.plane, session, ctx, inspector).await?;
                Ok(true)
            }
        }
    }

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        ctx: &mut Self::CTX,
    ) -> Result<Box<HttpPeer>> {
        let route = ctx
            .route
            .as_ref()
            .ok_or_else(|| Error::explain(ErrorType::InternalError, "request has no route"))?;
        Ok(Box::new(route.peer(&self.plane.upstream)))
    }

    async fn upstream_request_filter(
        &self,
        _session: &mut Session,
        upstream_request: &mut RequestHeader,
        ctx: &mut Self::CTX,
    ) -> Result<()> {
        prepare_upstream_request(upstream_request, ctx)
    }

    fn fail_to_connect(
        &self,
        _session: &mut Session,
        peer: &HttpPeer,
        ctx: &mut Self::CTX,
        mut e: Box<Error>,
    ) -> Box<Error> {
        if crate::dial::is_connect_failure(&e) {
            if let Some(route) = ctx.route.as_mut() {
                self.plane.dial.failed(route.addr);
                if route.next_address() {
                    // Nothing was sent: pingora asks `upstream_peer` again, for the next one.
                    tracing::info!(upstream = %peer, error = %e, next = %route.addr, "upstream address unreachable; trying the host's next address");
                    e.set_retry(true);
                    return e;
                }
            }
        }
        let kind = if matches!(
            e.etype(),
            ErrorType::TLSHandshakeFailure
                | ErrorType::InvalidCert
                | ErrorType::HandshakeError
                | ErrorType::TLSHandshakeTimedout
        ) {
            "tls"
        } else {
            "connect"
        };
        self.plane
            .metrics
            .upstream_errors
            .with_label_values(&[kind])
            .inc();
        tracing::warn!(upstream = %peer, error = %e, "cannot connect to upstream");
        e
    }

    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        _ctx: &mut Self::CTX,
    ) -> FailToProxy {
        let problem = classify_error(e);
        let code = problem.as_ref().map(|p| p.status).unwrap_or(0);
        if e.esource() == &ErrorSource::Downstream {
            self.plane
                .metrics
                .client_errors
                .with_label_values(&["protocol"])
                .inc();
        }
        if let Some(problem) = problem {
            if session.response_written().is_none() {
                if let Err(write_err) = respond(session, &problem).await {
                    tracing::debug!(error = %write_err, "cannot send the error response");
                }
            }
        }
        FailToProxy {
            error_code: code,
            can_reuse_downstream: false,
        }
    }

    async fn logging(&self, session: &mut Session, e: Option<&Error>, ctx: &mut Self::CTX) {
        let elapsed = ctx.started.elapsed();
        self.plane
            .metrics
            .request_duration
            .observe(elapsed.as_secs_f64());
        let status = session
            .response_written()
            .map(|r| r.status.as_u16())
            .unwrap_or(0);
        let req = session.req_header();
        match e {
            Some(err) => {
                tracing::info!(exchange = ctx.exchange_id, method = %req.method, uri = %req.uri, status, error = %err, elapsed_us = elapsed.as_micros() as u64, "request failed")
            }
            None => {
                tracing::debug!(exchange = ctx.exchange_id, method = %req.method, uri = %req.uri, status, elapsed_us = elapsed.as_micros() as u64, "request done")
            }
        }
    }
}
