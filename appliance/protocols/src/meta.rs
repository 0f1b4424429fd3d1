//! Meta-tool resolution: calls made through a wrapper tool (`call_tool`, `mcp_tool`, `Skill`...)
//! are rewritten to the real tool before policy sees them; the wrapper stays in a risk signal.

use aarmor_core::RiskSignal;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::draft::as_object;

/// How to unwrap one wrapper tool.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MetaTool {
    /// Name of the wrapper tool as the agent calls it.
    pub name: String,
    /// Argument fields that may hold the real tool's name, first present wins.
    pub tool_fields: Vec<String>,
    /// Argument field holding the server name, prefixed as `server.tool` when present.
    #[serde(default)]
    pub server_field: Option<String>,
    /// Argument fields that may hold the real tool's arguments. When none is present, the
    /// remaining arguments (minus the name fields) are the parameters.
    #[serde(default)]
    pub arguments_fields: Vec<String>,
}

/// The wrappers recognised without configuration.
pub fn default_meta_tools() -> Vec<MetaTool> {
    let generic = |name: &str| MetaTool {
        name: name.into(),
        tool_fields: vec!["name".into(), "tool_name".into(), "tool".into()],
        server_field: Some("server".into()),
        arguments_fields: vec![
            "arguments".into(),
            "args".into(),
            "input".into(),
            "parameters".into(),
        ],
    };
    vec![
        MetaTool {
            name: "mcp_tool".into(),
            tool_fields: vec!["mcp_tool_name".into()],
            server_field: Some("mcp_server_name".into()),
            arguments_fields: vec!["arguments".into(), "input".into()],
        },
        MetaTool {
            name: "Skill".into(),
            tool_fields: vec!["skill".into()],
            server_field: None,
            arguments_fields: vec!["arguments".into(), "args".into()],
        },
        generic("call_tool"),
        generic("use_tool"),
        generic("invoke_tool"),
        generic("execute_tool"),
    ]
}

/// A tool name and parameters after resolution.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub tool: String,
    /// True when the wrapper named the server, so `tool` is already `server.tool`.
    pub server_qualified: bool,
    pub parameters: Map<String, Value>,
    pub signal: Option<RiskSignal>,
    /// What the wrapper carried besides the inner tool's name, server and arguments (a second
    /// arguments field, extra members): not the inner call's parameters, but it leaves too.
    pub wrapper_rest: Map<String, Value>,
}

/// Resolves `tool` when it is a known wrapper; otherwise returns it unchanged.
pub fn resolve(metas: &[MetaTool], tool: &str, parameters: Map<String, Value>) -> Resolved {
    let Some(meta) = metas.iter().find(|m| m.name == tool) else {
        return Resolved {
            tool: tool.to_string(),
            server_qualified: false,
            parameters,
            signal: None,
            wrapper_rest: Map::new(),
        };
    };
    let inner = meta
        .tool_fields
        .iter()
        .find_map(|f| parameters.get(f).and_then(Value::as_str))
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let Some(inner) = inner else {
        return Resolved {
            tool: tool.to_string(),
            server_qualified: false,
            parameters,
            signal: Some(RiskSignal::MetaToolUnresolved {
                wrapper: tool.to_string(),
            }),
            wrapper_rest: Map::new(),
        };
    };
    let server = meta
        .server_field
        .as_ref()
        .and_then(|f| parameters.get(f))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    let qualified = match server {
        Some(server) => format!("{server}.{inner}"),
        None => inner,
    };
    let args_field = meta
        .arguments_fields
        .iter()
        .find(|f| parameters.contains_key(f.as_str()));
    let args = args_field.and_then(|f| parameters.get(f).cloned());
    let mut wrapper_rest = Map::new();
    if let Some(used) = args_field {
        let name_field = meta
            .tool_fields
            .iter()
            .find(|f| parameters.get(f.as_str()).and_then(Value::as_str).is_some());
        for (k, v) in &parameters {
            let consumed =
                Some(k) == name_field || Some(k) == meta.server_field.as_ref() || k == used;
            if !consumed {
                wrapper_rest.insert(k.clone(), v.clone());
            }
        }
    }
    let inner_params = match args {
        // Arguments sometimes arrive as a JSON string inside the wrapper's JSON.
        Some(Value::String(s)) => match serde_json::from_str::<Value>(&s) {
            Ok(v @ Value::Object(_)) => as_object(v),
            _ => as_object(Value::String(s)),
        },
        Some(v) => as_object(v),
        None => {
            let mut rest = parameters.clone();
            for f in meta.tool_fields.iter().chain(meta.server_field.iter()) {
                rest.remove(f);
            }
            rest
        }
    };
    Resolved {
        tool: qualified,
        server_qualified: server.is_some(),
        parameters: inner_params,
        signal: Some(RiskSignal::MetaToolResolved {
            wrapper: tool.to_string(),
        }),
        wrapper_rest,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        as_object(v)
    }

    #[test]
    fn mcp_tool_wrapper_resolves_to_server_qualified_tool() {
        let r = resolve(
            &default_meta_tools(),
            "mcp_tool",
            obj(
                json!({"mcp_server_name": "linear-server", "mcp_tool_name": "list_issues", "arguments": {"team": "x"}}),
            ),
        );
        assert_eq!(r.tool, "linear-server.list_issues");
        assert_eq!(r.parameters, obj(json!({"team": "x"})));
        assert_eq!(
            r.signal,
            Some(RiskSignal::MetaToolResolved {
                wrapper: "mcp_tool".into()
            })
        );
    }

    #[test]
    fn generic_wrapper_with_string_arguments_and_without_arguments_field() {
        let metas = default_meta_tools();
        let r = resolve(
            &metas,
            "call_tool",
            obj(json!({"name": "delete_file", "arguments": "{\"path\": \"/etc\"}"})),
        );
        assert_eq!(r.tool, "delete_file");
        assert_eq!(r.parameters, obj(json!({"path": "/etc"})));
        let r = resolve(&metas, "Skill", obj(json!({"skill": "pdf", "pages": 3})));
        assert_eq!(r.tool, "pdf");
        assert_eq!(r.parameters, obj(json!({"pages": 3})));
    }

    #[test]
    fn unresolvable_wrapper_is_flagged_not_hidden() {
        let r = resolve(&default_meta_tools(), "call_tool", obj(json!({"x": 1})));
        assert_eq!(r.tool, "call_tool");
        assert!(matches!(
            r.signal,
            Some(RiskSignal::MetaToolUnresolved { .. })
        ));
    }

    #[test]
    fn ordinary_tools_are_untouched() {
        let r = resolve(
            &default_meta_tools(),
            "get_weather",
            obj(json!({"city": "Oslo"})),
        );
        assert_eq!(r.tool, "get_weather");
        assert!(r.signal.is_none());
    }
}
