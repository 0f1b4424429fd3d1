//! Every kind of action the parsers produce validates against `docs/schemas/action.schema.json`.

use aarmor_core::{Action, ActionId, ActionTarget, Identity};
use aarmor_protocols::llm::{anthropic, openai_chat, openai_responses};
use aarmor_protocols::meta::default_meta_tools;
use aarmor_protocols::sql::{self, SqlDialect, SqlText};
use aarmor_protocols::{mcp, rest, ActionDraft};
use serde_json::{json, Value};

fn schema() -> jsonschema::Validator {
    let text = include_str!("../../../docs/schemas/action.schema.json");
    let schema: Value = serde_json::from_str(text).expect("schema is JSON");
    jsonschema::validator_for(&schema).expect("schema compiles")
}

fn stamp(draft: ActionDraft) -> Action {
    draft.into_action(
        ActionId::fresh(),
        "2026-11-23T10:00:00.123Z".into(),
        ActionTarget {
            host: "api.example.com".into(),
            port: 443,
            method: "POST".into(),
            path: "/v1/x".into(),
        },
        Identity::default(),
    )
}

#[test]
fn actions_of_every_protocol_match_the_schema() {
    let metas = default_meta_tools();
    let mut drafts = Vec::new();
    drafts.extend(openai_chat::response_calls(
        &json!({"choices": [{"message": {"tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}},
            {"id": "c2", "type": "function", "function": {"name": "broken", "arguments": "{not json"}}
        ]}}]}),
        &metas,
    ));
    drafts.extend(openai_responses::response_calls(
        &json!({"output": [{"type": "function_call", "id": "fc", "call_id": "c", "name": "mcp_tool", "arguments": "{\"mcp_server_name\":\"linear\",\"mcp_tool_name\":\"list_issues\"}"}]}),
        &metas,
    ));
    drafts.extend(anthropic::response_calls(
        &json!({"content": [{"type": "tool_use", "id": "t", "name": "call_tool", "input": {"x": 1}}]}),
        &metas,
    ));
    let req = mcp::parse_request(br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_file","arguments":{"path":"/a"}}}"#).unwrap();
    drafts.extend(
        mcp::calls(&req, "files", &metas)
            .into_iter()
            .map(|c| c.draft),
    );
    for s in ["DELETE FROM users WHERE id = 1", "SELEC nonsense"] {
        drafts.push(sql::draft(
            SqlDialect::PostgresHttp,
            "sql:db",
            &SqlText {
                sql: s.into(),
                params: Some(json!([1])),
            },
        ));
    }
    drafts.push(
        rest::draft(
            "PUT",
            "api.example.com",
            "/v1/users/7?dry=1",
            Some("application/json"),
            br#"{"a":1}"#,
            &[],
        )
        .unwrap()
        .0,
    );
    drafts.push(
        rest::draft(
            "POST",
            "api.example.com",
            "/upload",
            Some("image/png"),
            b"\x89PNG",
            &[],
        )
        .unwrap()
        .0,
    );

    let validator = schema();
    assert_eq!(drafts.len(), 9);
    let mut signals = std::collections::BTreeSet::new();
    for d in drafts {
        let action = serde_json::to_value(stamp(d)).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&action)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{action:#}\n{errors:#?}");
        for s in action["risk_signals"].as_array().unwrap() {
            signals.insert(s["kind"].as_str().unwrap().to_string());
        }
    }
    // The examples above exercise each kind of risk signal.
    assert_eq!(
        signals.into_iter().collect::<Vec<_>>(),
        [
            "arguments_not_json",
            "meta_tool_resolved",
            "meta_tool_unresolved",
            "opaque_body",
            "sql_unparsed"
        ]
    );
}
