//! Parameter validation with JSON Schema: the schemas the agent itself declares (`tools` of LLM
//! requests, MCP `tools/list`) and the operator's schemas in `policies/tools/<tool>.json`.
//! Violations reach policy as `input.schema.violations`; operator schemas always apply, the
//! agent's apply in addition.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde_json::{json, Value};

/// A compiled schema and where it came from.
#[derive(Clone)]
struct ToolSchema {
    source: &'static str,
    /// The schema as declared, to skip recompiling an unchanged declaration.
    schema: Value,
    validator: Arc<jsonschema::Validator>,
}

/// Schemas by tool name.
#[derive(Default)]
pub struct ToolSchemas {
    operator: HashMap<String, ToolSchema>,
    declared: RwLock<HashMap<String, ToolSchema>>,
}

fn compile(schema: &Value, source: &'static str) -> Result<ToolSchema, String> {
    jsonschema::validator_for(schema)
        .map(|v| ToolSchema {
            source,
            schema: schema.clone(),
            validator: Arc::new(v),
        })
        .map_err(|e| e.to_string())
}

impl ToolSchemas {
    /// Operator schemas: `(tool, schema)`. A schema that does not compile is an error.
    pub fn with_operator(schemas: Vec<(String, Value)>) -> Result<Self, String> {
        let mut operator = HashMap::new();
        for (tool, schema) in schemas {
            let compiled =
                compile(&schema, "operator").map_err(|e| format!("schema for `{tool}`: {e}"))?;
            operator.insert(tool, compiled);
        }
        Ok(Self {
            operator,
            declared: RwLock::default(),
        })
    }

    /// Keeps the declared schemas of the tools in a `tools` declaration (any supported format).
    /// Returns how many were learned.
    pub fn learn(&self, declarations: &Value) -> usize {
        let Some(items) = declarations.as_array() else {
            return 0;
        };
        let mut learned = 0;
        let Ok(mut declared) = self.declared.write() else {
            return 0;
        };
        for item in items {
            // OpenAI chat: {type, function: {name, parameters}}; Responses / legacy functions:
            // {name, parameters}; Anthropic: {name, input_schema}; MCP: {name, inputSchema}.
            let f = item.get("function").unwrap_or(item);
            let Some(name) = f.get("name").and_then(Value::as_str) else {
                continue;
            };
            let schema = f
                .get("parameters")
                .or_else(|| f.get("input_schema"))
                .or_else(|| f.get("inputSchema"));
            if let Some(schema) = schema.filter(|s| s.is_object()) {
                // Agents declare the same tools on every request: compile only what changed.
                if declared
                    .get(name)
                    .is_some_and(|known| &known.schema == schema)
                {
                    continue;
                }
                match compile(schema, "declared") {
                    Ok(c) => {
                        declared.insert(name.to_string(), c);
                        learned += 1;
                    }
                    Err(e) => {
                        tracing::warn!(tool = name, error = %e, "ignoring a declared tool schema that does not compile")
                    }
                }
            }
        }
        learned
    }

    /// `input.schema` for an action of `tool` with `parameters`.
    pub fn check(&self, tool: &str, parameters: &Value) -> Value {
        let mut violations = Vec::new();
        let declared = self.declared.read().ok().and_then(|d| d.get(tool).cloned());
        let operator = self.operator.get(tool).cloned();
        for schema in operator.iter().chain(declared.iter()) {
            for e in schema.validator.iter_errors(parameters) {
                violations.push(json!({
                    "source": schema.source,
                    "path": e.instance_path().to_string(),
                    "message": e.to_string(),
                }));
            }
        }
        json!({
            "operator": operator.is_some(),
            "declared": declared.is_some(),
            "violations": violations,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_and_declared_schemas_report_violations() {
        let s = ToolSchemas::with_operator(vec![(
            "payments.transfer".into(),
            json!({"type": "object", "properties": {"amount": {"type": "number", "maximum": 10000}, "currency": {"enum": ["EUR", "USD"]}}, "required": ["amount"]}),
        )])
        .unwrap();
        let ok = s.check(
            "payments.transfer",
            &json!({"amount": 10, "currency": "EUR"}),
        );
        assert_eq!(ok["violations"], json!([]));
        assert_eq!(ok["operator"], true);
        let bad = s.check(
            "payments.transfer",
            &json!({"amount": 1e6, "currency": "BTC"}),
        );
        assert_eq!(bad["violations"].as_array().unwrap().len(), 2, "{bad}");
        assert_eq!(
            s.learn(&json!([{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string", "pattern": "^[A-Za-z ]+$"}}, "additionalProperties": false}}}])),
            1
        );
        let v = s.check("get_weather", &json!({"city": "Oslo; rm -rf /"}));
        assert_eq!(v["declared"], true);
        assert_eq!(v["violations"][0]["source"], "declared");
        assert_eq!(s.check("unknown", &json!({}))["violations"], json!([]));
        assert!(ToolSchemas::with_operator(vec![("x".into(), json!({"type": 5}))]).is_err());
    }
}
