//! Tests of the Chat Completions format: legacy function calls, tool results naming their call,
//! and what a request shows of roles and tools.

use super::*;

#[test]
fn legacy_function_call_denied_and_kept() {
    let resp = json!({"choices": [{"index": 0, "finish_reason": "function_call", "message": {
        "role": "assistant", "content": null,
        "function_call": {"name": "send_email", "arguments": "{\"to\": \"all@corp\"}"}}}]});
    let calls = response_calls(&resp, &[]);
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].tool, "send_email");
    assert_eq!(calls[0].parameters["to"], "all@corp");
    let mut denied = resp.clone();
    apply_to_response(&mut denied, &[Rendered::Blocked("no mail".into())]);
    assert!(denied.pointer("/choices/0/message/function_call").is_none());
    assert_eq!(denied["choices"][0]["finish_reason"], "stop");
    assert_eq!(denied["choices"][0]["message"]["content"], "no mail");
    let mut kept = resp.clone();
    apply_to_response(&mut kept, &[Rendered::Keep]);
    assert_eq!(kept, resp);
}

#[test]
fn a_tool_result_carries_the_call_it_answers() {
    let req = json!({"messages": [
        {"role": "user", "content": "digest #support"},
        {"role": "assistant", "content": null, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "read_channel", "arguments": "{\"channel\": \"support\"}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "3 messages"},
        {"role": "tool", "tool_call_id": "c9", "content": "orphan"}
    ]});
    let results: Vec<Observed> = observe_request(&req)
        .into_iter()
        .filter(|o| o.kind == ObservationKind::ToolResult)
        .collect();
    let call = results[0].call.as_ref().expect("linked by tool_call_id");
    assert_eq!(call.name, "read_channel");
    assert_eq!(call.arguments, json!({"channel": "support"}));
    assert!(results[1].call.is_none(), "no call has that id");
}

#[test]
fn observes_roles_and_tools() {
    let req = json!({"messages": [
        {"role": "system", "content": "be careful"},
        {"role": "user", "content": [{"type": "text", "text": "delete my test data"}]},
        {"role": "tool", "content": "3 rows"}
    ], "tools": [{"type": "function", "function": {"name": "x"}}]});
    let kinds: Vec<ObservationKind> = observe_request(&req).into_iter().map(|o| o.kind).collect();
    assert_eq!(
        kinds,
        [
            ObservationKind::SystemPrompt,
            ObservationKind::UserMessage,
            ObservationKind::ToolResult,
            ObservationKind::ToolDeclarations
        ]
    );
}
