//! Exchanges the mediator asked to see in full: aarmor reads the whole request body before any
//! byte goes upstream, drives the upstream exchange itself over pingora's pooled connector, and
//! (when asked) holds the whole response until the mediator has seen it.

use aarmor_core::{HeaderList, ResponseHead, SyntheticResponse};
use aarmor_engine::{BodyVerdict, Exchange, Inspection, ResponseVerdict};
use bytes::{Bytes, BytesMut};
use pingora::proxy::Session;
use pingora::Result;

use crate::http_engine::{
    prepare_upstream_request, respond, respond_to_error, AarmorHttp, RequestCtx,
};

fn too_large(what: &str, limit: usize) -> SyntheticResponse {
    SyntheticResponse::problem(
        413,
        "inspection-limit",
        "Refused: body too large to inspect",
        &format!("the {what} exceeds proxy.max_inspect_body_bytes ({limit} bytes) and cannot be mediated"),
    )
}

pub async fn run(
    http: &AarmorHttp,
    session: &mut Session,
    ctx: &mut RequestCtx,
    exchange: Exchange,
    inspection: Inspection,
) -> Result<()> {
    let plane = &http.plane;
    let limit = plane.proxy.max_inspect_body_bytes;

    // 1. The whole request body, bounded.
    let mut body = BytesMut::new();
    loop {
        match session.read_request_body().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > limit {
                    return respond(session, &too_large("request body", limit)).await;
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
    let mut body = body.freeze();
    if inspection.request_body {
        match plane
            .mediate(
                "request body",
                plane.mediator.on_request_body(&exchange, &body),
            )
            .await
        {
            Err(refusal) => return respond(session, &refusal).await,
            Ok(BodyVerdict::Forward) => {}
            Ok(BodyVerdict::Replace(new_body)) => body = new_body,
            Ok(BodyVerdict::Respond(resp)) => return respond(session, &resp).await,
        }
    }

    // 2. Send it upstream.
    let Some(route) = ctx.route.clone() else {
        return respond(
            session,
            &SyntheticResponse::problem(500, "internal", "Internal proxy error", "no route"),
        )
        .await;
    };
    let peer = http.peer_for(&route);
    let mut upstream_req = session.req_header().clone();
    prepare_upstream_request(&mut upstream_req, ctx)?;
    upstream_req.remove_header("transfer-encoding");
    if !body.is_empty() || upstream_req.headers.contains_key("content-length") {
        upstream_req.insert_header("content-length", body.len().to_string())?;
    }
    let (mut client, _reused) = match plane.connector.get_http_session(&peer).await {
        Ok(s) => s,
        Err(e) => {
            plane
                .metrics
                .upstream_errors
                .with_label_values(&["connect"])
                .inc();
            tracing::warn!(upstream = %peer, error = %e, "cannot connect to upstream");
            return respond_to_error(session, &e).await;
        }
    };
    let sent = async {
        client.write_request_header(Box::new(upstream_req)).await?;
        if !body.is_empty() {
            client.write_request_body(body.clone(), true).await?;
        }
        client.finish_request_body().await?;
        client.read_response_header().await
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

    // 3a. Stream the response straight through.
    if !inspection.response {
        session
            .write_response_header(Box::new(resp_header), false)
            .await?;
        loop {
            match client.read_response_body().await {
                Ok(Some(chunk)) => session.write_response_body(Some(chunk), false).await?,
                Ok(None) => break,
                Err(e) => {
                    plane
                        .metrics
                        .upstream_errors
                        .with_label_values(&["body"])
                        .inc();
                    tracing::warn!(error = %e, "upstream failed mid-response");
                    session.set_keepalive(None);
                    return Ok(());
                }
            }
        }
        session.write_response_body(None, true).await?;
        release(http, client, &peer).await;
        return Ok(());
    }

    // 3b. Hold the whole response for the mediator.
    let mut resp_body = BytesMut::new();
    loop {
        match client.read_response_body().await {
            Ok(Some(chunk)) => {
                if resp_body.len() + chunk.len() > limit {
                    return respond(session, &too_large("response body", limit)).await;
                }
                resp_body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => {
                plane
                    .metrics
                    .upstream_errors
                    .with_label_values(&["body"])
                    .inc();
                tracing::warn!(error = %e, "upstream failed mid-response");
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
    let mut headers = HeaderList::default();
    for (n, v) in resp_header.headers.iter() {
        headers.push(n.as_str(), v.as_bytes());
    }
    let head = ResponseHead {
        status: resp_header.status.as_u16(),
        headers,
    };
    match plane
        .mediate(
            "response",
            plane.mediator.on_response(&exchange, &head, &resp_body),
        )
        .await
    {
        Err(refusal) => return respond(session, &refusal).await,
        Ok(ResponseVerdict::Forward) => {}
        Ok(ResponseVerdict::Replace(b)) => resp_body = b,
        Ok(ResponseVerdict::Respond(resp)) => return respond(session, &resp).await,
    }
    release(http, client, &peer).await;
    let mut out = resp_header;
    out.remove_header("transfer-encoding");
    out.insert_header("content-length", resp_body.len().to_string())?;
    session.write_response_header(Box::new(out), false).await?;
    session.write_response_body(Some(resp_body), true).await?;
    Ok(())
}

async fn release(
    http: &AarmorHttp,
    mut client: pingora::protocols::http::client::HttpSession,
    peer: &pingora::upstreams::peer::HttpPeer,
) {
    if client.response_done() {
        let idle = std::time::Duration::from_secs(http.plane.upstream.idle_timeout_s);
        http.plane
            .connector
            .release_http_session(client, peer, Some(idle))
            .await;
    } else {
        client.shutdown().await;
    }
}
