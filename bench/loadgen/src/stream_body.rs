//! The streaming LLM scenario: the origin's chat-completion SSE stream (text, then three tool
//! calls whose arguments arrive in pieces) and the client that times its first and last byte.

use std::time::Instant;

use anyhow::{bail, Result};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The request body the load generator sends.
pub const CHAT_REQUEST: &str = r#"{"model":"gpt-bench","stream":true,"messages":[{"role":"user","content":"weather in three cities"}],"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]}"#;

fn event(data: &str) -> Vec<u8> {
    let payload = format!("data: {data}\n\n");
    let mut out = format!("{:x}\r\n", payload.len()).into_bytes();
    out.extend_from_slice(payload.as_bytes());
    out.extend_from_slice(b"\r\n");
    out
}

fn chunk(delta: &str, finish: &str) -> Vec<u8> {
    event(&format!(
        r#"{{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"gpt-bench","choices":[{{"index":0,"delta":{delta},"finish_reason":{finish}}}]}}"#
    ))
}

/// 20 text deltas, 3 tool calls (4 argument pieces each), the finish chunk and `[DONE]`; every
/// event is written and flushed on its own, as a model server does.
pub async fn write_chat_stream<S: AsyncWrite + Unpin>(s: &mut S) -> Result<()> {
    s.write_all(
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n",
    )
    .await?;
    s.write_all(&chunk(r#"{"role":"assistant","content":""}"#, "null"))
        .await?;
    s.flush().await?;
    for i in 0..20 {
        s.write_all(&chunk(&format!(r#"{{"content":"token{i} "}}"#), "null"))
            .await?;
        s.flush().await?;
    }
    for (i, city) in ["Oslo", "Bergen", "Tromso"].iter().enumerate() {
        s.write_all(&chunk(
            &format!(r#"{{"tool_calls":[{{"index":{i},"id":"call_{i}","type":"function","function":{{"name":"get_weather","arguments":""}}}}]}}"#),
            "null",
        ))
        .await?;
        // The arguments' JSON text, cut in four pieces, each piece a JSON string of its own
        // (every event is valid JSON, as a model server sends it).
        let args = format!(r#"{{"city": "{city}", "unit": "c"}}"#);
        let pieces = [&args[..5], &args[5..12], &args[12..20], &args[20..]];
        for piece in pieces {
            let piece = serde_json::to_string(piece)?;
            s.write_all(&chunk(
                &format!(
                    r#"{{"tool_calls":[{{"index":{i},"function":{{"arguments":{piece}}}}}]}}"#
                ),
                "null",
            ))
            .await?;
        }
        s.flush().await?;
    }
    s.write_all(&chunk("{}", r#""tool_calls""#)).await?;
    s.write_all(&event("[DONE]")).await?;
    s.write_all(b"0\r\n\r\n").await?;
    s.flush().await?;
    Ok(())
}

/// Sends the request and reads the chunked response to its end; returns when the first body
/// byte arrived.
pub async fn request_stream<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    req: &[u8],
    buf: &mut Vec<u8>,
    chunk: &mut [u8],
) -> Result<Instant> {
    s.write_all(req).await?;
    buf.clear();
    let mut first_body_byte = None;
    let mut body_start = None;
    loop {
        let n = s.read(chunk).await?;
        if n == 0 {
            bail!("connection closed mid-stream");
        }
        buf.extend_from_slice(&chunk[..n]);
        if body_start.is_none() {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut resp = httparse::Response::new(&mut headers);
            if let httparse::Status::Complete(head) = resp.parse(buf)? {
                if resp.code != Some(200) {
                    bail!("status {:?}", resp.code);
                }
                body_start = Some(head);
            }
        }
        if let Some(start) = body_start {
            if first_body_byte.is_none() && buf.len() > start {
                first_body_byte = Some(Instant::now());
            }
            if buf.len() >= start + 5 && buf.ends_with(b"0\r\n\r\n") {
                let done = buf[start..].windows(6).any(|w| w == b"[DONE]");
                if done {
                    return Ok(first_body_byte.unwrap_or_else(Instant::now));
                }
            }
        }
    }
}
