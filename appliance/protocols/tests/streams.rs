//! Streaming gates against realistic streams: text passes at once, tool calls are held until
//! complete and decided, and the rewritten stream is what the SDK would accumulate.

use aarmor_protocols::gate::{EventProcessor, StreamGate};
use aarmor_protocols::llm::anthropic::MessagesStream;
use aarmor_protocols::llm::openai_chat::ChatStream;
use aarmor_protocols::llm::openai_responses::ResponsesStream;
use aarmor_protocols::llm::Rendered;
use aarmor_protocols::meta::default_meta_tools;
use aarmor_protocols::sse::SseSplitter;
use serde_json::{json, Value};

fn sse(events: &[(Option<&str>, Value)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in events {
        if let Some(n) = name {
            out.extend_from_slice(format!("event: {n}\n").as_bytes());
        }
        out.extend_from_slice(format!("data: {data}\n\n").as_bytes());
    }
    out
}

/// Runs a stream through a gate in `chunk`-byte pieces, deciding each call with `decide`.
/// Returns the emitted bytes and the tool names that were asked about, in order.
fn run(
    processor: Box<dyn EventProcessor>,
    stream: &[u8],
    chunk: usize,
    decide: impl Fn(&str) -> Rendered,
) -> (Vec<u8>, Vec<String>) {
    let mut gate = StreamGate::new(processor, 1 << 20);
    let mut out = Vec::new();
    let mut asked = Vec::new();
    let mut handle = |mut o: aarmor_protocols::gate::GateOutput, gate: &mut StreamGate| loop {
        out.extend_from_slice(&o.emit);
        if o.pending.is_empty() {
            break;
        }
        let outcomes = o.pending.iter().map(|d| {
            asked.push(d.tool.clone());
            decide(&d.tool)
        });
        o = gate.resolve(outcomes.collect()).unwrap();
    };
    for piece in stream.chunks(chunk.max(1)) {
        let o = gate.push(piece).unwrap();
        handle(o, &mut gate);
    }
    let o = gate.finish().unwrap();
    handle(o, &mut gate);
    (out, asked)
}

fn events(bytes: &[u8]) -> Vec<Value> {
    let mut s = SseSplitter::new(1 << 20);
    s.push(bytes)
        .unwrap()
        .into_iter()
        .filter(|e| e.data != "[DONE]")
        .map(|e| serde_json::from_str(&e.data).unwrap())
        .collect()
}

fn chat_stream() -> Vec<u8> {
    let base = json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m"});
    let chunk = |choice: Value| {
        let mut c = base.clone();
        c["choices"] = json!([choice]);
        (None, c)
    };
    let mut ev = vec![
        chunk(
            json!({"index": 0, "delta": {"role": "assistant", "content": "Let me "}, "finish_reason": null}),
        ),
        chunk(json!({"index": 0, "delta": {"content": "check."}, "finish_reason": null})),
        chunk(
            json!({"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}, "finish_reason": null}),
        ),
        chunk(
            json!({"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\":"}}]}, "finish_reason": null}),
        ),
        chunk(
            json!({"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "\"Oslo\"}"}}]}, "finish_reason": null}),
        ),
        chunk(
            json!({"index": 0, "delta": {"tool_calls": [{"index": 1, "id": "call_b", "type": "function", "function": {"name": "delete_repo", "arguments": "{\"repo\":"}}]}, "finish_reason": null}),
        ),
        chunk(
            json!({"index": 0, "delta": {"tool_calls": [{"index": 1, "function": {"arguments": "\"x\"}"}}]}, "finish_reason": null}),
        ),
        chunk(
            json!({"index": 0, "delta": {"tool_calls": [{"index": 2, "id": "call_c", "type": "function", "function": {"name": "send_mail", "arguments": "{}"}}]}, "finish_reason": null}),
        ),
        chunk(json!({"index": 0, "delta": {}, "finish_reason": "tool_calls"})),
    ];
    let mut usage = base.clone();
    usage["choices"] = json!([]);
    usage["usage"] = json!({"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3});
    ev.push((None, usage));
    let mut bytes = sse(&ev);
    bytes.extend_from_slice(b"data: [DONE]\n\n");
    bytes
}

/// What the OpenAI SDK's accumulator would build from the chunks.
fn accumulate_chat(bytes: &[u8]) -> (String, Vec<(String, String, String)>, String) {
    let mut text = String::new();
    let mut calls: Vec<(String, String, String)> = Vec::new();
    let mut finish = String::new();
    for c in events(bytes) {
        for ch in c["choices"].as_array().unwrap() {
            if let Some(t) = ch["delta"]["content"].as_str() {
                text.push_str(t);
            }
            for tc in ch["delta"]["tool_calls"].as_array().into_iter().flatten() {
                let i = tc["index"].as_u64().unwrap() as usize;
                if calls.len() <= i {
                    assert_eq!(calls.len(), i, "tool call indices must be contiguous");
                    calls.push(Default::default());
                }
                if let Some(id) = tc["id"].as_str() {
                    calls[i].0 = id.into();
                }
                calls[i]
                    .1
                    .push_str(tc["function"]["name"].as_str().unwrap_or_default());
                calls[i]
                    .2
                    .push_str(tc["function"]["arguments"].as_str().unwrap_or_default());
            }
            if let Some(f) = ch["finish_reason"].as_str() {
                finish = f.into();
            }
        }
    }
    (text, calls, finish)
}

#[test]
fn chat_stream_withholds_denied_call_whatever_the_chunking() {
    let stream = chat_stream();
    for chunk in [1, 7, 64, stream.len()] {
        let (out, asked) = run(
            Box::new(ChatStream::new(default_meta_tools())),
            &stream,
            chunk,
            |tool| {
                if tool == "delete_repo" {
                    Rendered::Blocked("blocked delete_repo".into())
                } else {
                    Rendered::Keep
                }
            },
        );
        assert_eq!(asked, ["get_weather", "delete_repo", "send_mail"]);
        let (text, calls, finish) = accumulate_chat(&out);
        assert!(text.starts_with("Let me check."), "{text}");
        assert!(text.contains("blocked delete_repo"));
        assert_eq!(calls.len(), 2);
        assert_eq!(
            calls[0],
            (
                "call_a".into(),
                "get_weather".into(),
                "{\"city\":\"Oslo\"}".into()
            )
        );
        assert_eq!(calls[1].1, "send_mail");
        assert_eq!(finish, "tool_calls");
        assert!(
            !String::from_utf8_lossy(&out).contains("delete_repo\""),
            "no byte of the denied call"
        );
        assert!(out.ends_with(b"data: [DONE]\n\n"));
        assert!(String::from_utf8_lossy(&out).contains("\"usage\""));
    }
}

#[test]
fn chat_stream_all_denied_finishes_with_stop_and_modify_rewrites() {
    let stream = chat_stream();
    let (out, _) = run(Box::new(ChatStream::new(vec![])), &stream, 13, |_| {
        Rendered::Blocked("no".into())
    });
    let (_, calls, finish) = accumulate_chat(&out);
    assert!(calls.is_empty());
    assert_eq!(finish, "stop");
    let (out, _) = run(Box::new(ChatStream::new(vec![])), &stream, 13, |tool| {
        if tool == "get_weather" {
            let mut m = serde_json::Map::new();
            m.insert("city".into(), json!("Bergen"));
            Rendered::Arguments(m)
        } else {
            Rendered::Keep
        }
    });
    let (_, calls, _) = accumulate_chat(&out);
    assert_eq!(calls[0].2, "{\"city\":\"Bergen\"}");
    assert_eq!(calls.len(), 3);
}

#[test]
fn text_is_emitted_before_any_decision() {
    let stream = chat_stream();
    let mut gate = StreamGate::new(Box::new(ChatStream::new(vec![])), 1 << 20);
    let o = gate.push(&stream).unwrap();
    let text = String::from_utf8_lossy(&o.emit);
    assert!(text.contains("Let me ") && text.contains("check."));
    assert!(!text.contains("get_weather"), "calls are held");
    assert_eq!(o.pending.len(), 1);
    assert!(gate.is_waiting());
}

fn anthropic_stream() -> Vec<u8> {
    sse(&[
        (
            Some("message_start"),
            json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": "claude", "stop_reason": null, "usage": {"input_tokens": 1, "output_tokens": 1}}}),
        ),
        (
            Some("content_block_start"),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        (
            Some("content_block_delta"),
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Deleting."}}),
        ),
        (
            Some("content_block_stop"),
            json!({"type": "content_block_stop", "index": 0}),
        ),
        (
            Some("content_block_start"),
            json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "rm_rf", "input": {}}}),
        ),
        (Some("ping"), json!({"type": "ping"})),
        (
            Some("content_block_delta"),
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"path\": "}}),
        ),
        (
            Some("content_block_delta"),
            json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "\"/\"}"}}),
        ),
        (
            Some("content_block_stop"),
            json!({"type": "content_block_stop", "index": 1}),
        ),
        (
            Some("message_delta"),
            json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": 9}}),
        ),
        (Some("message_stop"), json!({"type": "message_stop"})),
    ])
}

#[test]
fn anthropic_denied_tool_use_becomes_text_block_at_same_index() {
    let (out, asked) = run(
        Box::new(MessagesStream::new(vec![])),
        &anthropic_stream(),
        5,
        |_| Rendered::Blocked("blocked".into()),
    );
    assert_eq!(asked, ["rm_rf"]);
    let evs = events(&out);
    let starts: Vec<&Value> = evs
        .iter()
        .filter(|e| e["type"] == "content_block_start")
        .collect();
    assert_eq!(starts.len(), 2);
    assert_eq!(starts[1]["index"], 1);
    assert_eq!(starts[1]["content_block"]["type"], "text");
    let stop = evs.iter().find(|e| e["type"] == "message_delta").unwrap();
    assert_eq!(stop["delta"]["stop_reason"], "end_turn");
    assert!(
        !String::from_utf8_lossy(&out).contains("tool_use\""),
        "no tool_use block reaches the client"
    );
}

#[test]
fn anthropic_allowed_tool_use_arrives_whole() {
    let (out, _) = run(
        Box::new(MessagesStream::new(vec![])),
        &anthropic_stream(),
        3,
        |_| Rendered::Keep,
    );
    let evs = events(&out);
    let json: String = evs
        .iter()
        .filter(|e| e["type"] == "content_block_delta" && e["index"] == 1)
        .map(|e| e["delta"]["partial_json"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&json).unwrap(),
        json!({"path": "/"})
    );
    let stop = evs.iter().find(|e| e["type"] == "message_delta").unwrap();
    assert_eq!(stop["delta"]["stop_reason"], "tool_use");
    assert_eq!(evs.last().unwrap()["type"], "message_stop");
}

fn responses_stream() -> Vec<u8> {
    let call = json!({"id": "fc_1", "type": "function_call", "status": "in_progress", "call_id": "call_1", "name": "drop_db", "arguments": ""});
    let mut done = call.clone();
    done["status"] = json!("completed");
    done["arguments"] = json!("{\"db\":\"prod\"}");
    let evs: Vec<(Option<&str>, Value)> = vec![
        (
            Some("response.created"),
            json!({"type": "response.created", "sequence_number": 0, "response": {"id": "resp_1", "output": []}}),
        ),
        (
            Some("response.output_item.added"),
            json!({"type": "response.output_item.added", "sequence_number": 1, "output_index": 0, "item": call}),
        ),
        (
            Some("response.function_call_arguments.delta"),
            json!({"type": "response.function_call_arguments.delta", "sequence_number": 2, "item_id": "fc_1", "output_index": 0, "delta": "{\"db\":"}),
        ),
        (
            Some("response.function_call_arguments.delta"),
            json!({"type": "response.function_call_arguments.delta", "sequence_number": 3, "item_id": "fc_1", "output_index": 0, "delta": "\"prod\"}"}),
        ),
        (
            Some("response.function_call_arguments.done"),
            json!({"type": "response.function_call_arguments.done", "sequence_number": 4, "item_id": "fc_1", "output_index": 0, "arguments": "{\"db\":\"prod\"}"}),
        ),
        (
            Some("response.output_item.done"),
            json!({"type": "response.output_item.done", "sequence_number": 5, "output_index": 0, "item": done.clone()}),
        ),
        (
            Some("response.completed"),
            json!({"type": "response.completed", "sequence_number": 6, "response": {"id": "resp_1", "status": "completed", "output": [done]}}),
        ),
    ];
    sse(&evs)
}

#[test]
fn responses_denied_call_becomes_message_and_snapshot_matches() {
    let (out, asked) = run(
        Box::new(ResponsesStream::new(vec![])),
        &responses_stream(),
        11,
        |_| Rendered::Blocked("blocked drop_db".into()),
    );
    assert_eq!(asked, ["drop_db"]);
    let evs = events(&out);
    let seqs: Vec<u64> = evs
        .iter()
        .map(|e| e["sequence_number"].as_u64().unwrap())
        .collect();
    assert_eq!(
        seqs,
        (0..seqs.len() as u64).collect::<Vec<_>>(),
        "sequence numbers stay contiguous"
    );
    let completed = evs.last().unwrap();
    assert_eq!(completed["type"], "response.completed");
    assert_eq!(completed["response"]["output"][0]["type"], "message");
    assert_eq!(
        completed["response"]["output"][0]["content"][0]["text"],
        "blocked drop_db"
    );
    assert!(!String::from_utf8_lossy(&out).contains("function_call\""));
}

#[test]
fn responses_allowed_call_is_reemitted_whole() {
    let (out, _) = run(
        Box::new(ResponsesStream::new(vec![])),
        &responses_stream(),
        4,
        |_| Rendered::Keep,
    );
    let evs = events(&out);
    let done = evs
        .iter()
        .find(|e| e["type"] == "response.output_item.done")
        .unwrap();
    assert_eq!(done["item"]["arguments"], "{\"db\":\"prod\"}");
    assert_eq!(
        evs.last().unwrap()["response"]["output"][0]["type"],
        "function_call"
    );
}

#[test]
fn truncated_stream_still_decides_open_calls() {
    let stream = chat_stream();
    let cut = &stream[..stream.len() / 2];
    let (out, asked) = run(Box::new(ChatStream::new(vec![])), cut, 9, |_| {
        Rendered::Blocked("no".into())
    });
    assert!(
        !asked.is_empty(),
        "open calls at the end of a truncated stream are mediated"
    );
    let (_, calls, _) = accumulate_chat(&out);
    assert!(calls.is_empty());
}

/// A gate that asks about every item the client would run: the drafts it produced.
fn drafts_of(
    processor: Box<dyn EventProcessor>,
    stream: &[u8],
) -> Vec<aarmor_protocols::ActionDraft> {
    let mut gate = StreamGate::new(processor, 1 << 20);
    let mut drafts = Vec::new();
    let mut take = |mut o: aarmor_protocols::gate::GateOutput, gate: &mut StreamGate| loop {
        if o.pending.is_empty() {
            break;
        }
        let n = o.pending.len();
        drafts.append(&mut o.pending);
        o = gate
            .resolve(vec![Rendered::Blocked("no".into()); n])
            .unwrap();
    };
    let o = gate.push(stream).unwrap();
    take(o, &mut gate);
    let o = gate.finish().unwrap();
    take(o, &mut gate);
    drafts
}

/// Every item of the Responses API the client runs is an action, whatever its type: a local
/// shell command meets the shell rules, an unknown `*_call` is refused by the engine.
#[test]
fn responses_items_the_client_runs_are_all_actions() {
    let items = [
        json!({"type": "local_shell_call", "id": "ls_1", "call_id": "c1", "status": "completed",
               "action": {"type": "exec", "command": ["rm", "-rf", "/"], "env": {}}}),
        json!({"type": "custom_tool_call", "id": "ct_1", "call_id": "c2", "name": "code_exec", "input": "rm -rf /"}),
        json!({"type": "apply_patch_call", "id": "ap_1", "call_id": "c3", "operation": {"type": "delete_file", "path": "/etc/passwd"}}),
        json!({"type": "teleport_call", "id": "tp_1", "call_id": "c4", "where": "prod"}),
        json!({"type": "web_search_call", "id": "ws_1", "status": "completed"}),
    ];
    let mut ev = Vec::new();
    for (i, item) in items.iter().enumerate() {
        ev.push((
            None,
            json!({"type": "response.output_item.added", "output_index": i, "item": item}),
        ));
        ev.push((
            None,
            json!({"type": "response.output_item.done", "output_index": i, "item": item}),
        ));
    }
    let drafts = drafts_of(Box::new(ResponsesStream::new(vec![])), &sse(&ev));
    let tools: Vec<&str> = drafts.iter().map(|d| d.tool.as_str()).collect();
    assert_eq!(
        tools,
        ["local_shell", "code_exec", "apply_patch", "teleport_call"],
        "server-side items are content"
    );
    assert_eq!(drafts[0].parameters["command"], json!(["rm", "-rf", "/"]));
    assert_eq!(drafts[1].parameters["input"], "rm -rf /");
    assert_eq!(drafts[2].parameters["path"], "/etc/passwd");
    assert!(matches!(
        &drafts[3].risk_signals[..],
        [aarmor_core::RiskSignal::UninspectableCall { item_type }] if item_type == "teleport_call"
    ));
    // The same items, not streamed.
    let resp = json!({"output": items});
    let calls = aarmor_protocols::llm::openai_responses::response_calls(&resp, &[]);
    assert_eq!(calls.len(), 4);
}

/// Chat Completions `custom` tool calls are judged on their input; an unknown call type is an
/// action too (refused by the engine), streamed or not.
#[test]
fn chat_custom_and_unknown_call_types_are_actions() {
    let resp = json!({"choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "tool_calls": [
        {"id": "c1", "type": "custom", "custom": {"name": "shell", "input": "rm -rf /"}},
        {"id": "c2", "type": "hologram", "hologram": {"name": "x"}}
    ]}}]});
    let calls = aarmor_protocols::llm::openai_chat::response_calls(&resp, &[]);
    assert_eq!(calls[0].tool, "shell");
    assert_eq!(calls[0].parameters["input"], "rm -rf /");
    assert!(calls[1].risk_signals.iter().any(|s| s.refuses()));
    let base = json!({"id": "c", "object": "chat.completion.chunk", "model": "m"});
    let chunk = |choice: Value| {
        let mut c = base.clone();
        c["choices"] = json!([choice]);
        (None, c)
    };
    let ev = vec![
        chunk(
            json!({"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "c1", "type": "custom", "custom": {"name": "shell", "input": "rm -rf"}}]}}),
        ),
        chunk(
            json!({"index": 0, "delta": {"tool_calls": [{"index": 0, "custom": {"input": " /"}}]}}),
        ),
        chunk(json!({"index": 0, "delta": {}, "finish_reason": "tool_calls"})),
    ];
    let drafts = drafts_of(Box::new(ChatStream::new(vec![])), &sse(&ev));
    assert_eq!(drafts.len(), 1);
    assert_eq!(drafts[0].parameters["input"], "rm -rf /");
}

/// An Anthropic block of a type aarmor does not know is held and decided like a tool use.
#[test]
fn anthropic_unknown_blocks_are_actions() {
    let ev = vec![
        (
            Some("content_block_start"),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "server_tool_use", "id": "s", "name": "web_search", "input": {}}}),
        ),
        (
            Some("content_block_stop"),
            json!({"type": "content_block_stop", "index": 0}),
        ),
        (
            Some("content_block_start"),
            json!({"type": "content_block_start", "index": 1, "content_block": {"type": "robot_arm", "id": "r", "move": "left"}}),
        ),
        (
            Some("content_block_stop"),
            json!({"type": "content_block_stop", "index": 1}),
        ),
    ];
    let drafts = drafts_of(Box::new(MessagesStream::new(vec![])), &sse(&ev));
    assert_eq!(drafts.len(), 1);
    assert_eq!(drafts[0].tool, "robot_arm");
    assert!(drafts[0].risk_signals.iter().any(|s| s.refuses()));
}

/// An event the gate cannot read the way the client will is an error (the stream is cut),
/// never passed on unread; events without data are comments and pass.
#[test]
fn unreadable_events_cut_the_stream() {
    let processors: [fn() -> Box<dyn EventProcessor>; 3] = [
        || Box::new(ResponsesStream::new(vec![])),
        || Box::new(ChatStream::new(vec![])),
        || Box::new(MessagesStream::new(vec![])),
    ];
    for make in processors {
        for bad in [
            &b"data: 42\n\n"[..],
            b"data: {\"x\": NaN}\n\n",
            b"data: [1,2]\n\n",
            b"data: not json\n\n",
        ] {
            let mut gate = StreamGate::new(make(), 1 << 20);
            assert!(gate.push(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        let mut gate = StreamGate::new(make(), 1 << 20);
        let out = gate.push(b": keep-alive\n\n").unwrap();
        assert_eq!(out.emit, b": keep-alive\n\n");
    }
}
