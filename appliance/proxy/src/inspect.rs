//! Exchanges the mediator asked to inspect: aarmor reads the whole request body before any byte
//! goes upstream, drives the upstream exchange itself over pingora's pooled connector, and
//! handles the response as the inspector planned: passed through, held whole until decided, or
//! streamed through the inspector, which alone decides which bytes reach the client.

use aarmor_core::{HeaderList, ResponseHead, SyntheticResponse};
use aarmor_mediation::{
    BodyVerdict, Direction, ExchangeInspector, ExchangeOutcome, ResponsePlan, ResponseVerdict,
};
use bytes::{Bytes, BytesMut};
use pingora::proxy::Session;
use pingora::Result;

use crate::exchange::{prepare_upstream_request, respond, respond_to_error, RequestCtx};
use crate::plane::Plane;

fn too_large(what: &str, limit: usize) -> SyntheticResponse {
    SyntheticResponse::problem(
        413,
        "inspection-limit",
        "Refused: body too large to inspect",
        &format!("the {what} exceeds proxy.max_inspect_body_bytes ({limit} bytes) and cannot be mediated"),
    )
}

fn over_budget(e: &crate::budget::OverBudget) -> SyntheticResponse {
    let mut r = SyntheticResponse::problem(
        e.status(),
        "inspection-budget",
        "Refused: too many bytes held for inspection",
        &format!("{e}; retry later"),
    );
    r.headers.push(("retry-after".into(), "1".into()));
    r
}

/// Whose share of the inspection budget an exchange counts against: the proxy credential's
/// principal, else the client's address.
fn budget_key(ctx: &RequestCtx) -> String {
    ctx.facts
        .as_ref()
        .map(|f| match &f.credential {
            Some(c) => format!("credential:{}", c.principal()),
            None => f
                .client_addr
                .map(|a| a.ip().to_string())
                .unwrap_or_else(|| "unknown".into()),
        })
        .unwrap_or_else(|| "unknown".into())
}

fn undecodable(e: &crate::decode::DecodeError) -> SyntheticResponse {
    SyntheticResponse::problem(
        415,
        "uninspectable-request",
        "Refused: the request body cannot be inspected",
        &format!("{e}; an encoded body aarmor cannot read is not forwarded"),
    )
}

pub async fn run(
    plane: &Plane,
    session: &mut Session,
    ctx: &mut RequestCtx,
    mut inspector: Box<dyn ExchangeInspector>,
) -> Result<()> {
    let limit = plane.proxy.max_inspect_body_bytes;

    // 1. The whole request body, bounded. A client that waits for `100 Continue` before it sends
    //    its body is told to go on by aarmor, which is the one reading it (HTTP/1.1; pingora's
    //    HTTP/2 server sends no interim responses, so such a client sends after its own wait).
    if expects_continue(session.req_header()) {
        if let Err(e) = session.write_continue_response().await {
            tracing::info!(error = %e, "client went away before 100 Continue");
            return Ok(());
        }
    }
    let mut body = BytesMut::new();
    // Everything held here counts against the inspection budget until the exchange ends.
    let mut held = plane.budget.reserve(budget_key(ctx));
    loop {
        match session.read_request_body().await {
            Ok(Some(chunk)) => {
                if let Err(over) = held.grow(chunk.len()) {
                    plane
                        .metrics
                        .client_errors
                        .with_label_values(&["inspection_budget"])
                        .inc();
                    let refusal = inspector
                        .on_request_refused(over_budget(&over), &over.to_string())
                        .await;
                    return respond(session, &refusal).await;
                }
                if body.len() + chunk.len() > limit {
                    let refusal = inspector
                        .on_request_refused(
                            too_large("request body", limit),
                            &format!(
                                "the body exceeds proxy.max_inspect_body_bytes ({limit} bytes)"
                            ),
                        )
                        .await;
                    return respond(session, &refusal).await;
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => {
                tracing::info!(error = %e, "client failed while sending the request body");
                return Ok(());
            }
        }
    }
    // A body sent with a Content-Encoding is judged, and forwarded, decoded: mediation must see
    // what the upstream will act on. One that cannot be decoded is refused, never passed unseen.
    // Every Content-Encoding header counts: several are one list, in order (RFC 9110, 5.3).
    let codings: Vec<String> = session
        .req_header()
        .headers
        .get_all(http::header::CONTENT_ENCODING)
        .iter()
        .flat_map(|v| crate::decode::codings(&String::from_utf8_lossy(v.as_bytes())))
        .collect();
    let decoded = !codings.is_empty() && !body.is_empty();
    let mut body = if decoded {
        match crate::decode::decode(&codings, &body, limit) {
            Ok(plain) => {
                if let Err(over) = held.grow(plain.len()) {
                    let refusal = inspector
                        .on_request_refused(over_budget(&over), &over.to_string())
                        .await;
                    return respond(session, &refusal).await;
                }
                Bytes::from(plain)
            }
            Err(e @ crate::decode::DecodeError::TooLarge { .. }) => {
                let refusal = inspector
                    .on_request_refused(too_large("decoded request body", limit), &e.to_string())
                    .await;
                return respond(session, &refusal).await;
            }
            Err(e) => {
                tracing::info!(error = %e, "refused a request body that cannot be decoded");
                let refusal = inspector
                    .on_request_refused(undecodable(&e), &e.to_string())
                    .await;
                return respond(session, &refusal).await;
            }
        }
    } else {
        body.freeze()
    };
    let budget = plane.inspect_budget();
    let mut new_path = None;
    match plane
        .mediate("request body", budget, inspector.on_request_body(&body))
        .await
    {
        Err(refusal) => return respond(session, &refusal).await,
        Ok(BodyVerdict::Forward) => {}
        Ok(BodyVerdict::Edit(edit)) => {
            if let Some(b) = edit.body {
                body = b;
            }
            new_path = edit.path;
        }
        Ok(BodyVerdict::Respond(resp)) => return respond(session, &resp).await,
    }
    if let Some(rw) = inspector.header_rewrite() {
        let mut merged = ctx.rewrite.take().unwrap_or_default();
        merged.set.extend(rw.set);
        merged.remove.extend(rw.remove);
        ctx.rewrite = Some(merged);
    }
    if let Some(path) = new_path {
        ctx.origin_form = Some(path);
    }

    // 2. Send it upstream.
    let Some(mut route) = ctx.route.clone() else {
        return respond(
            session,
            &SyntheticResponse::problem(500, "internal", "Internal proxy error", "no route"),
        )
        .await;
    };
    let mut upstream_req = session.req_header().clone();
    to_http11(&mut upstream_req)?;
    prepare_upstream_request(&mut upstream_req, ctx)?;
    upstream_req.remove_header("transfer-encoding");
    // The body goes with the head: there is nothing left to wait for.
    upstream_req.remove_header("expect");
    if decoded {
        upstream_req.remove_header("content-encoding");
    }
    if !body.is_empty() || upstream_req.headers.contains_key("content-length") {
        upstream_req.insert_header("content-length", body.len().to_string())?;
    }
    // Each of the host's addresses in turn, while connecting fails (nothing was sent yet).
    let (mut client, peer) = loop {
        let peer = route.peer(&plane.upstream);
        match plane.connector.get_http_session(&peer).await {
            Ok((client, _reused)) => break (client, peer),
            Err(e) => {
                let unreachable = crate::dial::is_connect_failure(&e);
                if unreachable {
                    plane.dial.failed(route.addr);
                }
                if unreachable && route.next_address() {
                    tracing::info!(upstream = %peer, error = %e, next = %route.addr, "upstream address unreachable; trying the host's next address");
                    continue;
                }
                plane
                    .metrics
                    .upstream_errors
                    .with_label_values(&["connect"])
                    .inc();
                tracing::warn!(upstream = %peer, error = %e, "cannot connect to upstream");
                return respond_to_error(session, &e).await;
            }
        }
    };
    let sent = async {
        client.write_request_header(Box::new(upstream_req)).await?;
        if !body.is_empty() {
            client.write_request_body(body.clone(), true).await?;
        }
        client.finish_request_body().await?;
        read_final_response_header(&mut client).await
    }
    .await;
    if let Err(e) = sent {
        plane
            .metrics
            .upstream_errors
            .with_label_values(&["exchange"])
            .inc();
        tracing::warn!(upstream = %peer, error = %e, "upstream exchange failed");
        return respond_to_error(session, &e).await;
    }
    let Some(resp_header) = client.response_header().cloned() else {
        return respond(
            session,
            &SyntheticResponse::problem(
                502,
                "upstream-error",
                "Upstream failed",
                "no response header",
            ),
        )
        .await;
    };

    let mut headers = HeaderList::default();
    for (n, v) in resp_header.headers.iter() {
        headers.push(n.as_str(), v.as_bytes());
    }
    let head = ResponseHead {
        status: resp_header.status.as_u16(),
        headers,
    };
    let status = head.status;
    let plan = inspector.response_plan(&head);
    let mut digest = OutputDigest {
        copy: inspector
            .response_copy_limit()
            .map(|limit| (Vec::new(), limit)),
        ..OutputDigest::default()
    };
    let result = match plan {
        ResponsePlan::Pass => {
            pass_response(plane, session, client, &peer, resp_header, &mut digest).await
        }
        ResponsePlan::Buffer => {
            buffer_response(
                plane,
                session,
                client,
                &peer,
                resp_header,
                head,
                inspector.as_mut(),
                &mut digest,
                &mut held,
            )
            .await
        }
        ResponsePlan::Relay => {
            return relay(plane, session, client, resp_header, inspector.as_mut()).await;
        }
        ResponsePlan::Stream => {
            stream_response(
                plane,
                session,
                client,
                &peer,
                resp_header,
                inspector.as_mut(),
                &mut digest,
            )
            .await
        }
    };
    if result.is_ok() && digest.complete {
        let body_bytes = digest.bytes;
        let body_copy = digest.copy.take().map(|(c, _)| Bytes::from(c));
        inspector
            .on_outcome(ExchangeOutcome {
                status,
                body_sha256: digest.finish(),
                body_bytes,
                duration_ms: ctx.started.elapsed().as_millis() as u64,
                body_copy,
            })
            .await;
    }
    result
}

/// The response body as the client received it, for the outcome record.
struct OutputDigest {
    ctx: ring::digest::Context,
    bytes: u64,
    /// The body reached the client in full (not refused or cut).
    complete: bool,
    /// A bounded copy of the body, and its bound, when the inspector wants one.
    copy: Option<(Vec<u8>, usize)>,
}

impl Default for OutputDigest {
    fn default() -> Self {
        Self {
            ctx: ring::digest::Context::new(&ring::digest::SHA256),
            bytes: 0,
            complete: false,
            copy: None,
        }
    }
}

impl OutputDigest {
    fn add(&mut self, chunk: &[u8]) {
        self.ctx.update(chunk);
        self.bytes += chunk.len() as u64;
        if let Some((copy, limit)) = self.copy.as_mut() {
            let room = limit.saturating_sub(copy.len());
            copy.extend_from_slice(&chunk[..chunk.len().min(room)]);
        }
    }

    fn finish(self) -> String {
        let d = self.ctx.finish();
        format!("sha256:{}", hex::encode(d.as_ref()))
    }
}

type UpstreamSession = pingora::protocols::http::client::HttpSession;

/// Whether the client waits for `100 Continue` before it sends the body (RFC 9110, 10.1.1).
fn expects_continue(req: &pingora::http::RequestHeader) -> bool {
    req.version == http::Version::HTTP_11
        && req
            .headers
            .get(http::header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}

/// Interim (1xx) responses an upstream may send before its answer, at most.
const MAX_INTERIM_RESPONSES: usize = 16;

/// Reads the upstream's response header, passing over interim responses (`100 Continue`,
/// `103 Early Hints`, which a server may send unasked): the answer is the first final one.
async fn read_final_response_header(client: &mut UpstreamSession) -> Result<()> {
    for _ in 0..MAX_INTERIM_RESPONSES {
        client.read_response_header().await?;
        let interim = client
            .response_header()
            .is_some_and(|h| h.status.is_informational() && h.status != 101);
        if !interim {
            return Ok(());
        }
    }
    Err(pingora::Error::explain(
        pingora::ErrorType::InvalidHTTPHeader,
        "the upstream sent only interim (1xx) responses",
    ))
}

/// Upstream exchanges aarmor drives itself are HTTP/1.1: a request that arrived over HTTP/2
/// gets a `Host` from its `:authority` and an origin-form target.
fn to_http11(req: &mut pingora::http::RequestHeader) -> Result<()> {
    if req.version == http::Version::HTTP_2 {
        if !req.headers.contains_key("host") {
            if let Some(authority) = req.uri.authority().map(|a| a.as_str().to_string()) {
                req.insert_header("host", authority)?;
            }
        }
        let target = req
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        let uri: http::Uri = target.parse().map_err(|e| {
            pingora::Error::because(pingora::ErrorType::InvalidHTTPHeader, "request target", e)
        })?;
        req.set_uri(uri);
    }
    req.set_version(http::Version::HTTP_11);
    Ok(())
}

/// The response goes to the client untouched, streamed.
async fn pass_response(
    plane: &Plane,
    session: &mut Session,
    mut client: UpstreamSession,
    peer: &pingora::upstreams::peer::HttpPeer,
    resp_header: pingora::http::ResponseHeader,
    digest: &mut OutputDigest,
) -> Result<()> {
    session
        .write_response_header(Box::new(resp_header), false)
        .await?;
    loop {
        match client.read_response_body().await {
            Ok(Some(chunk)) => {
                digest.add(&chunk);
                session.write_response_body(Some(chunk), false).await?
            }
            Ok(None) => break,
            Err(e) => {
                upstream_body_failed(plane, &e, "response");
                session.set_keepalive(None);
                return Ok(());
            }
        }
    }
    session.write_response_body(None, true).await?;
    digest.complete = true;
    release(plane, client, peer).await;
    Ok(())
}

/// The whole response is held (bounded) until the inspector has decided.
#[allow(clippy::too_many_arguments)]
async fn buffer_response(
    plane: &Plane,
    session: &mut Session,
    mut client: UpstreamSession,
    peer: &pingora::upstreams::peer::HttpPeer,
    resp_header: pingora::http::ResponseHeader,
    head: ResponseHead,
    inspector: &mut dyn ExchangeInspector,
    digest: &mut OutputDigest,
    held: &mut crate::budget::Reservation,
) -> Result<()> {
    let limit = plane.proxy.max_inspect_body_bytes;
    let mut resp_body = BytesMut::new();
    loop {
        match client.read_response_body().await {
            Ok(Some(chunk)) => {
                if let Err(over) = held.grow(chunk.len()) {
                    return respond(session, &over_budget(&over)).await;
                }
                if resp_body.len() + chunk.len() > limit {
                    return respond(session, &too_large("response body", limit)).await;
                }
                resp_body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => {
                upstream_body_failed(plane, &e, "response");
                return respond(
                    session,
                    &SyntheticResponse::problem(
                        502,
                        "upstream-error",
                        "Upstream failed mid-response",
                        &e.to_string(),
                    ),
                )
                .await;
            }
        }
    }
    let mut resp_body: Bytes = resp_body.freeze();
    match plane
        .mediate(
            "response",
            plane.inspect_budget(),
            inspector.on_response(&head, &resp_body),
        )
        .await
    {
        Err(refusal) => return respond(session, &refusal).await,
        Ok(ResponseVerdict::Forward) => {}
        Ok(ResponseVerdict::Replace(b)) => resp_body = b,
        Ok(ResponseVerdict::Respond(resp)) => return respond(session, &resp).await,
    }
    release(plane, client, peer).await;
    let mut out = resp_header;
    out.remove_header("transfer-encoding");
    out.insert_header("content-length", resp_body.len().to_string())?;
    digest.add(&resp_body);
    session.write_response_header(Box::new(out), false).await?;
    session.write_response_body(Some(resp_body), true).await?;
    digest.complete = true;
    Ok(())
}

/// The response streams through the inspector: only what it returns reaches the client. After
/// the head is sent, a failure can no longer become an error response: the client connection is
/// cut, so a client never mistakes a truncated stream for a complete one.
async fn stream_response(
    plane: &Plane,
    session: &mut Session,
    mut client: UpstreamSession,
    peer: &pingora::upstreams::peer::HttpPeer,
    resp_header: pingora::http::ResponseHeader,
    inspector: &mut dyn ExchangeInspector,
    digest: &mut OutputDigest,
) -> Result<()> {
    let budget = plane.inspect_budget();
    let mut out = resp_header;
    // The inspector may change the length of the body.
    out.remove_header("content-length");
    session.write_response_header(Box::new(out), false).await?;
    loop {
        match client.read_response_body().await {
            Ok(Some(chunk)) => {
                match plane
                    .mediate(
                        "response stream",
                        budget,
                        inspector.on_response_chunk(&chunk),
                    )
                    .await
                {
                    Ok(emit) => send(session, digest, emit).await?,
                    Err(refusal) => return cut_stream(session, client, &refusal).await,
                }
                if let Err(refusal) =
                    drain_pending(plane, session, inspector, budget, digest).await?
                {
                    return cut_stream(session, client, &refusal).await;
                }
            }
            Ok(None) => break,
            Err(e) => {
                upstream_body_failed(plane, &e, "stream");
                break;
            }
        }
    }
    match plane
        .mediate("response stream end", budget, inspector.on_response_end())
        .await
    {
        Ok(emit) => send(session, digest, emit).await?,
        Err(refusal) => return cut_stream(session, client, &refusal).await,
    }
    if let Err(refusal) = drain_pending(plane, session, inspector, budget, digest).await? {
        return cut_stream(session, client, &refusal).await;
    }
    session.write_response_body(None, true).await?;
    digest.complete = true;
    release(plane, client, peer).await;
    Ok(())
}

/// An upgraded connection (101), relayed both ways through the inspector until either side
/// closes: only what the inspector returns reaches each side. A mediation failure cuts it.
async fn relay(
    plane: &Plane,
    session: &mut Session,
    mut client: UpstreamSession,
    resp_header: pingora::http::ResponseHeader,
    inspector: &mut dyn ExchangeInspector,
) -> Result<()> {
    session.set_keepalive(None);
    session
        .write_response_header(Box::new(resp_header), false)
        .await?;
    if let pingora::protocols::http::client::HttpSession::H1(h1) = &mut client {
        // The request's body writer passes bytes through from now on.
        h1.maybe_upgrade_body_writer();
    }
    let budget = plane.inspect_budget();
    // Bounded by the two peers: it ends when either closes or fails, or a decision cuts it.
    loop {
        let (from, read) = tokio::select! {
            r = session.read_request_body() => (Direction::ToUpstream, r),
            r = client.read_response_body() => (Direction::ToClient, r),
        };
        let bytes = match read {
            Ok(Some(b)) => b,
            Ok(None) => break,
            Err(e) => {
                tracing::debug!(error = %e, ?from, "upgraded connection ended");
                break;
            }
        };
        let out = match plane
            .mediate(
                "upgraded connection",
                budget,
                inspector.on_upgraded(from, &bytes),
            )
            .await
        {
            Ok(out) => out,
            Err(refusal) => {
                tracing::warn!(detail = %String::from_utf8_lossy(&refusal.body), "cutting the upgraded connection (fail closed)");
                break;
            }
        };
        if !out.to_upstream.is_empty()
            && client
                .write_request_body(out.to_upstream, false)
                .await
                .is_err()
        {
            break;
        }
        if !out.to_client.is_empty()
            && session
                .write_response_body(Some(out.to_client), false)
                .await
                .is_err()
        {
            break;
        }
        if out.close {
            break;
        }
    }
    client.shutdown().await;
    Ok(())
}

/// Counts and logs an upstream that failed while sending its body.
fn upstream_body_failed(plane: &crate::plane::Plane, e: &pingora::Error, during: &str) {
    plane
        .metrics
        .upstream_errors
        .with_label_values(&["body"])
        .inc();
    tracing::warn!(error = %e, "upstream failed mid-{during}");
}

/// Writes bytes the inspector released, counting them into the outcome digest.
async fn send(session: &mut Session, digest: &mut OutputDigest, emit: Bytes) -> Result<()> {
    if !emit.is_empty() {
        digest.add(&emit);
        session.write_response_body(Some(emit), false).await?;
    }
    Ok(())
}

/// Lets the inspector decide what it holds, writing what each decision releases. `Ok(Err(_))`
/// is a refusal: the stream must be cut.
async fn drain_pending(
    plane: &crate::plane::Plane,
    session: &mut Session,
    inspector: &mut dyn ExchangeInspector,
    budget: std::time::Duration,
    digest: &mut OutputDigest,
) -> Result<std::result::Result<(), SyntheticResponse>> {
    loop {
        match plane
            .mediate("response stream", budget, inspector.on_response_pending())
            .await
        {
            Ok(Some(emit)) => send(session, digest, emit).await?,
            Ok(None) => return Ok(Ok(())),
            Err(refusal) => return Ok(Err(refusal)),
        }
    }
}

/// Cuts a stream whose mediation failed: the client never mistakes it for a complete one.
async fn cut_stream(
    session: &mut Session,
    mut client: UpstreamSession,
    refusal: &SyntheticResponse,
) -> Result<()> {
    tracing::warn!(detail = %String::from_utf8_lossy(&refusal.body), "cutting the response stream (fail closed)");
    session.set_keepalive(None);
    client.shutdown().await;
    Err(pingora::Error::explain(
        pingora::ErrorType::InternalError,
        "mediation of the response stream failed",
    ))
}

async fn release(
    plane: &Plane,
    mut client: UpstreamSession,
    peer: &pingora::upstreams::peer::HttpPeer,
) {
    if client.response_done() {
        let idle = std::time::Duration::from_secs(plane.upstream.idle_timeout_s);
        plane
            .connector
            .release_http_session(client, peer, Some(idle))
            .await;
    } else {
        client.shutdown().await;
    }
}
