//! Arbitrary bytes never panic any parser or gate.

use aarmor_core::{HeaderList, RequestHead};
use aarmor_protocols::classify::{classify_body, classify_head, ProtocolConfig};
use aarmor_protocols::gate::StreamGate;
use aarmor_protocols::llm::anthropic::{self, MessagesStream};
use aarmor_protocols::llm::openai_chat::{self, ChatStream};
use aarmor_protocols::llm::openai_responses::{self, ResponsesStream};
use aarmor_protocols::llm::Rendered;
use aarmor_protocols::{mcp, rest, sql};
use proptest::prelude::*;

fn drive(mut gate: StreamGate, bytes: &[u8], split: usize) {
    let (a, b) = bytes.split_at(split.min(bytes.len()));
    for piece in [a, b] {
        let mut o = gate.push(piece).unwrap_or_default();
        while !o.pending.is_empty() {
            let n = o.pending.len();
            o = gate
                .resolve(vec![Rendered::Blocked("x".into()); n])
                .unwrap();
        }
    }
    let mut o = gate.finish().unwrap_or_default();
    while !o.pending.is_empty() {
        let n = o.pending.len();
        o = gate.resolve(vec![Rendered::Keep; n]).unwrap();
    }
}

/// Bytes that look a little like SSE with JSON, to reach deeper code than pure noise.
fn sse_like() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            Just(b"data: ".to_vec()),
            Just(b"event: content_block_start\n".to_vec()),
            Just(b"\n\n".to_vec()),
            Just(b"{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"function\":{\"name\":\"a\",\"arguments\":\"{".to_vec()),
            Just(b"{\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"name\":\"x\"}}".to_vec()),
            Just(b"{\"type\":\"response.output_item.added\",\"output_index\":0,\"item\":{\"type\":\"function_call\",\"id\":\"f\"}}".to_vec()),
            Just(b"{\"type\":\"content_block_stop\",\"index\":1}".to_vec()),
            Just(b"{\"type\":\"response.output_item.done\",\"output_index\":0}".to_vec()),
            Just(b"\"finish_reason\":\"tool_calls\"}]}".to_vec()),
            Just(b"[DONE]".to_vec()),
            prop::collection::vec(any::<u8>(), 0..8),
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn gates_never_panic(bytes in prop_oneof![sse_like(), prop::collection::vec(any::<u8>(), 0..512)], split in 0usize..600) {
        drive(StreamGate::new(Box::new(ChatStream::new(vec![])), 4096), &bytes, split);
        drive(StreamGate::new(Box::new(MessagesStream::new(vec![])), 4096), &bytes, split);
        drive(StreamGate::new(Box::new(ResponsesStream::new(vec![])), 4096), &bytes, split);
    }

    #[test]
    fn body_parsers_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512), text in ".{0,200}") {
        if let Some(req) = mcp::parse_request(&bytes) {
            let _ = mcp::calls(&req, "s", &[]);
            let _ = mcp::refusal_body(&req, &[(0, "r".into(), None)]);
        }
        let _ = mcp::observe_response(&bytes, true);
        let _ = mcp::observe_response(&bytes, false);
        for d in [sql::SqlDialect::Clickhouse, sql::SqlDialect::PostgresHttp, sql::SqlDialect::Snowflake, sql::SqlDialect::Datasette] {
            let _ = sql::extract(d, "POST", &format!("/?query={text}&sql={text}"), &bytes);
            let _ = sql::draft(d, "t", &sql::SqlText { sql: text.clone(), params: None });
        }
        for ct in ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=b"] {
            if let Ok((d, f)) = rest::draft("POST", "h", &format!("/{text}?{text}"), Some(ct), &bytes, &[]) {
                let _ = rest::render_body(f, &d.parameters);
            }
        }
        // Arbitrary parts inside a well-formed frame.
        let framed = [b"--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\n".as_slice(), &bytes, b"\r\n--b--\r\n"].concat();
        let _ = rest::draft("POST", "h", "/", Some("multipart/form-data; boundary=b"), &framed, &[]);
        if let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&bytes) {
            let _ = openai_chat::response_calls(&v, &[]);
            openai_chat::apply_to_response(&mut v, &[Rendered::Blocked("x".into())]);
            let _ = anthropic::response_calls(&v, &[]);
            anthropic::apply_to_response(&mut v, &[Rendered::Blocked("x".into())]);
            let _ = openai_responses::response_calls(&v, &[]);
            openai_responses::apply_to_response(&mut v, &[Rendered::Keep]);
            let _ = openai_chat::observe_request(&v);
            let _ = anthropic::observe_request(&v);
            let _ = openai_responses::observe_request(&v);
        }
        let mut headers = HeaderList::default();
        headers.push("content-type", "application/json");
        let head = RequestHead { method: "POST".into(), scheme: "https", host: "h".into(), port: 443, path: format!("/{text}"), headers, has_body: true };
        let _ = classify_head(&head, &ProtocolConfig::default(), false);
        let _ = classify_body(&head, &bytes);
    }
}
