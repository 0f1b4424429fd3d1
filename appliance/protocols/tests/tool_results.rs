//! A tool result in an LLM request carries the call it answers (matched by id), in every dialect.

use aarmor_core::ObservationKind;
use aarmor_protocols::llm::{anthropic, openai_responses};
use aarmor_protocols::Observed;
use serde_json::json;

fn results(observed: Vec<Observed>) -> Vec<Observed> {
    observed
        .into_iter()
        .filter(|o| o.kind == ObservationKind::ToolResult)
        .collect()
}

#[test]
fn anthropic_tool_result_names_its_tool_use() {
    let req = json!({"model": "claude", "max_tokens": 100, "messages": [
        {"role": "user", "content": "list the Finance folder"},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Listing."},
            {"type": "tool_use", "id": "toolu_1", "name": "list_files", "input": {"folder": "Finance"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "ledger.xlsx"},
            {"type": "tool_result", "tool_use_id": "toolu_x", "content": "orphan"}]}
    ]});
    let r = results(anthropic::observe_request(&req));
    assert_eq!(r.len(), 2);
    let call = r[0].call.as_ref().expect("linked by tool_use_id");
    assert_eq!(call.name, "list_files");
    assert_eq!(call.arguments, json!({"folder": "Finance"}));
    assert!(r[1].call.is_none());
}

#[test]
fn responses_function_call_output_names_its_function_call() {
    let req = json!({"model": "gpt", "input": [
        {"role": "user", "content": "list the Finance folder"},
        {"type": "function_call", "call_id": "call_1", "name": "list_files", "arguments": "{\"folder\": \"Finance\"}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "ledger.xlsx"},
        {"type": "function_call", "call_id": "call_2", "name": "run", "arguments": "not json"},
        {"type": "function_call_output", "call_id": "call_2", "output": "ok"}
    ]});
    let r = results(openai_responses::observe_request(&req));
    assert_eq!(r.len(), 2);
    let call = r[0].call.as_ref().expect("linked by call_id");
    assert_eq!(call.name, "list_files");
    assert_eq!(call.arguments, json!({"folder": "Finance"}));
    assert_eq!(
        r[1].call.as_ref().map(|c| c.arguments.clone()),
        Some(json!("not json")),
        "arguments that are not JSON are kept as text"
    );
}
