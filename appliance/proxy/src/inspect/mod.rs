//! Exchanges the mediator asked to inspect: aarmor reads the whole request body before any byte
//! goes upstream, drives the upstream exchange itself over pingora's pooled connector, and
//! handles the response as the inspector planned: passed through, held whole until decided, or
//! streamed through the inspector, which alone decides which bytes reach the client.

use aarmor_core::SyntheticResponse;
use aarmor_mediation::{BodyVerdict, ExchangeInspector, ExchangeOutcome};
use bytes::{Bytes, BytesMut};
use pingora::proxy::Session;
use pingora::Result;

use crate::exchange::{prepare_upstream_request, respond, respond_to_error, RequestCtx};
use crate::plane::Plane;

mod response;

use response::{handle_response, Handled, OutputDigest};

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

/// An inspected exchange, in the phases pingora gives a proxied one: read the request body,
/// decide on it, send it upstream, handle the response as the inspector planned, and report
/// the outcome. A phase that answers the client itself (a refusal, an upstream failure) ends the
/// exchange: it returns `None`.
///
/// Why this path exists beside pingora's phases: pingora streams a request body to the upstream
/// as it arrives, and a decision must come before any byte of it leaves. Here the body is held
/// (bounded, and counted against the inspection budget) until the inspector has decided, and
/// the upstream exchange is driven over pingora's own connector.
pub async fn run(
    plane: &Plane,
    session: &mut Session,
    ctx: &mut RequestCtx,
    mut inspector: Box<dyn ExchangeInspector>,
) -> Result<()> {
    // Everything held for inspection counts against the budget until the exchange ends.
    let mut held = plane.budget.reserve(budget_key(ctx));
    let Some(body) = read_request_body(plane, session, inspector.as_mut(), &mut held).await? else {
        return Ok(());
    };
    let decoded = body.decoded;
    let Some(body) = decide_request(plane, session, ctx, inspector.as_mut(), body.bytes).await?
    else {
        return Ok(());
    };
    let Some(sent) = send_upstream(plane, session, ctx, body, decoded).await? else {
        return Ok(());
    };
    let handled = handle_response(plane, session, sent, inspector.as_mut(), &mut held).await;
    match handled {
        Handled::Relayed(result) => result,
        Handled::Answered {
            status,
            result,
            digest,
        } => {
            if result.is_ok() && digest.complete {
                report_outcome(inspector.as_mut(), ctx, status, digest).await;
            }
            result
        }
    }
}

/// A request body read whole, decoded when it was sent with a `Content-Encoding`.
struct RequestBody {
    bytes: Bytes,
    /// It was decoded: it goes upstream decoded, without its `Content-Encoding`.
    decoded: bool,
}

/// Phase 1: the whole request body, bounded by `proxy.max_inspect_body_bytes` and the
/// inspection budget, decoded. A client that waits for `100 Continue` before it sends its body
/// is told to go on by aarmor, which is the one reading it (HTTP/1.1; pingora's HTTP/2 server
/// sends no interim responses, so such a client sends after its own wait).
async fn read_request_body(
    plane: &Plane,
    session: &mut Session,
    inspector: &mut dyn ExchangeInspector,
    held: &mut crate::budget::Reservation,
) -> Result<Option<RequestBody>> {
    let limit = plane.proxy.max_inspect_body_bytes;
    if expects_continue(session.req_header()) {
        if let Err(e) = session.write_continue_response().await {
            tracing::info!(error = %e, "client went away before 100 Continue");
            return Ok(None);
        }
    }
    let mut body = BytesMut::new();
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
                    respond(session, &refusal).await?;
                    return Ok(None);
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
                    respond(session, &refusal).await?;
                    return Ok(None);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => {
                tracing::info!(error = %e, "client failed while sending the request body");
                return Ok(None);
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
    if codings.is_empty() || body.is_empty() {
        return Ok(Some(RequestBody {
            bytes: body.freeze(),
            decoded: false,
        }));
    }
    let refusal = match crate::decode::decode(&codings, &body, limit) {
        Ok(plain) => match held.grow(plain.len()) {
            Ok(()) => {
                return Ok(Some(RequestBody {
                    bytes: Bytes::from(plain),
                    decoded: true,
                }))
            }
            Err(over) => {
                inspector
                    .on_request_refused(over_budget(&over), &over.to_string())
                    .await
            }
        },
        Err(e @ crate::decode::DecodeError::TooLarge { .. }) => {
            inspector
                .on_request_refused(too_large("decoded request body", limit), &e.to_string())
                .await
        }
        Err(e) => {
            tracing::info!(error = %e, "refused a request body that cannot be decoded");
            inspector
                .on_request_refused(undecodable(&e), &e.to_string())
                .await
        }
    };
    respond(session, &refusal).await?;
    Ok(None)
}

/// Phase 2: the inspector decides on the body (within the mediation budget). What it edits
/// (body, path, headers) is what goes upstream; a refusal answers the client.
async fn decide_request(
    plane: &Plane,
    session: &mut Session,
    ctx: &mut RequestCtx,
    inspector: &mut dyn ExchangeInspector,
    mut body: Bytes,
) -> Result<Option<Bytes>> {
    let budget = plane.inspect_budget();
    let mut new_path = None;
    match plane
        .mediate("request body", budget, inspector.on_request_body(&body))
        .await
    {
        Err(refusal) => {
            respond(session, &refusal).await?;
            return Ok(None);
        }
        Ok(BodyVerdict::Forward) => {}
        Ok(BodyVerdict::Edit(edit)) => {
            if let Some(b) = edit.body {
                body = b;
            }
            new_path = edit.path;
        }
        Ok(BodyVerdict::Respond(resp)) => {
            respond(session, &resp).await?;
            return Ok(None);
        }
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
    Ok(Some(body))
}

/// An upstream exchange whose request is sent and whose final response head has arrived.
struct Sent {
    client: UpstreamSession,
    peer: pingora::upstreams::peer::HttpPeer,
    resp_header: pingora::http::ResponseHeader,
}

/// Phase 3: the decided request goes upstream (HTTP/1.1, with its body and a `Content-Length`),
/// to each of the host's addresses in turn while connecting fails; the final response head is
/// read. An upstream failure answers the client with the problem that describes it.
async fn send_upstream(
    plane: &Plane,
    session: &mut Session,
    ctx: &RequestCtx,
    body: Bytes,
    decoded: bool,
) -> Result<Option<Sent>> {
    let Some(mut route) = ctx.route.clone() else {
        let problem =
            SyntheticResponse::problem(500, "internal", "Internal proxy error", "no route");
        respond(session, &problem).await?;
        return Ok(None);
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
                respond_to_error(session, &e).await?;
                return Ok(None);
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
        respond_to_error(session, &e).await?;
        return Ok(None);
    }
    let Some(resp_header) = client.response_header().cloned() else {
        let problem = SyntheticResponse::problem(
            502,
            "upstream-error",
            "Upstream failed",
            "no response header",
        );
        respond(session, &problem).await?;
        return Ok(None);
    };
    Ok(Some(Sent {
        client,
        peer,
        resp_header,
    }))
}

/// Phase 5: what the executed action returned, as the client received it in full, for its
/// outcome record.
async fn report_outcome(
    inspector: &mut dyn ExchangeInspector,
    ctx: &RequestCtx,
    status: u16,
    mut digest: OutputDigest,
) {
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
