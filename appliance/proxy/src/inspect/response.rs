//! Phase 4 of an inspected exchange: the response, passed through, held whole until decided,
//! streamed through the inspector (which alone decides which bytes reach the client), or relayed
//! after a protocol switch; and the digest of what the client received.

use aarmor_core::{HeaderList, ResponseHead, SyntheticResponse};
use aarmor_mediation::{Direction, ExchangeInspector, ResponsePlan, ResponseVerdict};
use bytes::{Bytes, BytesMut};
use pingora::proxy::Session;
use pingora::Result;

use crate::exchange::respond;
use crate::plane::Plane;

use super::{over_budget, too_large, Sent, UpstreamSession};

/// How the response phase ended.
// One per exchange, returned once: the size of the digest does not matter.
#[allow(clippy::large_enum_variant)]
pub(super) enum Handled {
    /// The connection switched protocols and was relayed to its end.
    Relayed(Result<()>),
    /// The response was answered (passed, held, streamed or refused), with what the client got.
    Answered {
        status: u16,
        result: Result<()>,
        digest: OutputDigest,
    },
}

/// Phase 4: the response, as the inspector plans it: passed through, held whole until decided,
/// streamed through the inspector, or relayed after a protocol switch.
pub(super) async fn handle_response(
    plane: &Plane,
    session: &mut Session,
    sent: Sent,
    inspector: &mut dyn ExchangeInspector,
    held: &mut crate::budget::Reservation,
) -> Handled {
    let Sent {
        client,
        peer,
        mut resp_header,
    } = sent;
    // Header values the client may not see (a brokered secret an upstream echoed) are replaced
    // before anything else reads them.
    if inspector.rewrites_response_headers() {
        rewrite_response_head(&mut resp_header, inspector);
    }
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
                inspector,
                &mut digest,
                held,
            )
            .await
        }
        ResponsePlan::Relay => {
            return Handled::Relayed(relay(plane, session, client, resp_header, inspector).await);
        }
        ResponsePlan::Stream => {
            stream_response(
                plane,
                session,
                client,
                &peer,
                resp_header,
                inspector,
                &mut digest,
            )
            .await
        }
    };
    Handled::Answered {
        status,
        result,
        digest,
    }
}

/// Asks the inspector about every header name and value of the response, and its reason
/// phrase: a name it flags drops the header, a value it replaces is replaced, a reason it flags
/// becomes the canonical one.
fn rewrite_response_head(
    resp_header: &mut pingora::http::ResponseHeader,
    inspector: &mut dyn ExchangeInspector,
) {
    let names: Vec<http::HeaderName> = resp_header.headers.keys().cloned().collect();
    for name in names {
        if inspector
            .response_header_value("", name.as_str().as_bytes())
            .is_some()
        {
            resp_header.remove_header(&name);
            continue;
        }
        let mut changed = false;
        let values: Vec<Vec<u8>> = resp_header
            .headers
            .get_all(&name)
            .iter()
            .map(
                |v| match inspector.response_header_value(name.as_str(), v.as_bytes()) {
                    Some(clean) => {
                        changed = true;
                        clean
                    }
                    None => v.as_bytes().to_vec(),
                },
            )
            .collect();
        if !changed {
            continue;
        }
        resp_header.remove_header(&name);
        for v in values {
            if let Ok(value) = http::HeaderValue::from_bytes(&v) {
                let _ = resp_header.append_header(name.clone(), value);
            }
        }
    }
    let reason = resp_header.get_reason_phrase().map(str::to_string);
    if let Some(reason) = reason {
        if inspector
            .response_header_value(":reason", reason.as_bytes())
            .is_some()
        {
            let _ = resp_header.set_reason_phrase(None);
        }
    }
}

/// The response body as the client received it, for the outcome record.
pub(super) struct OutputDigest {
    pub(super) ctx: ring::digest::Context,
    pub(super) bytes: u64,
    /// The body reached the client in full (not refused or cut).
    pub(super) complete: bool,
    /// A bounded copy of the body, and its bound, when the inspector wants one.
    pub(super) copy: Option<(Vec<u8>, usize)>,
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
    pub(super) fn add(&mut self, chunk: &[u8]) {
        self.ctx.update(chunk);
        self.bytes += chunk.len() as u64;
        if let Some((copy, limit)) = self.copy.as_mut() {
            let room = limit.saturating_sub(copy.len());
            copy.extend_from_slice(&chunk[..chunk.len().min(room)]);
        }
    }

    pub(super) fn finish(self) -> String {
        let d = self.ctx.finish();
        format!("sha256:{}", hex::encode(d.as_ref()))
    }
}

/// The response goes to the client untouched, streamed.
pub(super) async fn pass_response(
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
pub(super) async fn buffer_response(
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
pub(super) async fn stream_response(
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
pub(super) async fn relay(
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
pub(super) fn upstream_body_failed(plane: &crate::plane::Plane, e: &pingora::Error, during: &str) {
    plane
        .metrics
        .upstream_errors
        .with_label_values(&["body"])
        .inc();
    tracing::warn!(error = %e, "upstream failed mid-{during}");
}

/// Writes bytes the inspector released, counting them into the outcome digest.
pub(super) async fn send(
    session: &mut Session,
    digest: &mut OutputDigest,
    emit: Bytes,
) -> Result<()> {
    if !emit.is_empty() {
        digest.add(&emit);
        session.write_response_body(Some(emit), false).await?;
    }
    Ok(())
}

/// Lets the inspector decide what it holds, writing what each decision releases. `Ok(Err(_))`
/// is a refusal: the stream must be cut.
pub(super) async fn drain_pending(
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
pub(super) async fn cut_stream(
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

pub(super) async fn release(
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
