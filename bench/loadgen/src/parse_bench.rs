//! Per-message cost of the protocol layer, without network: what mediation adds per request
//! before any policy runs.

use std::time::{Duration, Instant};

use aarmor_protocols::gate::StreamGate;
use aarmor_protocols::llm::openai_chat::{self, ChatStream};
use aarmor_protocols::llm::Rendered;
use aarmor_protocols::mcp;
use aarmor_protocols::meta::default_meta_tools;
use aarmor_protocols::sql::{self, SqlDialect, SqlText};

fn chat_request() -> Vec<u8> {
    let mut messages = vec![
        serde_json::json!({"role": "system", "content": "You are a careful assistant with access to tools."}),
    ];
    for i in 0..19 {
        let role = if i % 2 == 0 { "user" } else { "assistant" };
        messages.push(serde_json::json!({"role": role, "content": format!("message {i}: {}", "lorem ipsum dolor sit amet ".repeat(8))}));
    }
    serde_json::to_vec(&serde_json::json!({"model": "gpt-4o", "messages": messages, "tools": [
        {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}
    ]}))
    .unwrap_or_default()
}

fn chat_stream() -> Vec<u8> {
    let mut body = Vec::new();
    let mut w = |s: String| body.extend_from_slice(format!("data: {s}\n\n").as_bytes());
    let c = |delta: &str, finish: &str| {
        format!(
            r#"{{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{{"index":0,"delta":{delta},"finish_reason":{finish}}}]}}"#
        )
    };
    w(c(r#"{"role":"assistant","content":""}"#, "null"));
    for i in 0..20 {
        w(c(&format!(r#"{{"content":"token{i} "}}"#), "null"));
    }
    for i in 0..3 {
        w(c(
            &format!(
                r#"{{"tool_calls":[{{"index":{i},"id":"call_{i}","type":"function","function":{{"name":"get_weather","arguments":""}}}}]}}"#
            ),
            "null",
        ));
        for piece in [r#"{\"ci"#, r#"ty\": \"O"#, r#"slo\"}"#] {
            w(c(
                &format!(
                    r#"{{"tool_calls":[{{"index":{i},"function":{{"arguments":"{piece}"}}}}]}}"#
                ),
                "null",
            ));
        }
    }
    w(c("{}", r#""tool_calls""#));
    w("[DONE]".into());
    body
}

fn measure(name: &str, iterations: usize, mut f: impl FnMut()) {
    for _ in 0..iterations.min(1000) {
        f();
    }
    let mut times: Vec<Duration> = (0..iterations)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    let pct = |p: f64| {
        times[((times.len() as f64 * p) as usize).min(times.len() - 1)].as_nanos() as f64 / 1000.0
    };
    println!(
        "parse/{name}\tn={iterations}\tp50_us={:.1}\tp99_us={:.1}",
        pct(0.5),
        pct(0.99)
    );
}

pub fn run(iterations: usize) {
    let metas = default_meta_tools();
    let request = chat_request();
    measure("chat_request_20_messages", iterations, || {
        let v: serde_json::Value = serde_json::from_slice(&request).unwrap_or_default();
        std::hint::black_box(openai_chat::observe_request(&v));
    });
    let stream = chat_stream();
    measure("chat_stream_3_tool_calls", iterations, || {
        let mut gate = StreamGate::new(Box::new(ChatStream::new(metas.clone())), 1 << 20);
        let mut out = gate.push(&stream).unwrap_or_default();
        loop {
            if out.pending.is_empty() {
                break;
            }
            let n = out.pending.len();
            out = gate.resolve(vec![Rendered::Keep; n]).unwrap_or_default();
        }
        std::hint::black_box(gate.finish().ok());
    });
    let call = br#"{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"search_files","arguments":{"query":"quarterly report","limit":20,"path":"/shared/finance"}}}"#;
    measure("mcp_tools_call", iterations, || {
        if let Some(req) = mcp::parse_request(call) {
            std::hint::black_box(mcp::calls(&req, "files", &metas));
        }
    });
    let text = SqlText {
        sql: "SELECT customer_id, sum(amount) FROM orders o JOIN customers c ON o.customer_id = c.id WHERE o.created_at > now() - INTERVAL 7 DAY GROUP BY customer_id ORDER BY 2 DESC LIMIT 10".into(),
        params: None,
    };
    measure("sql_statement", iterations, || {
        std::hint::black_box(sql::draft(SqlDialect::Clickhouse, "warehouse", &text));
    });
}
