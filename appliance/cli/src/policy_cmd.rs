//! `aarmor policy check | test | eval`.

use anyhow::anyhow;
use std::path::Path;

use aarmor_core::Action;
use aarmor_core::Decision;
use aarmor_engine::policy::testing::{self, complete_input};
use aarmor_engine::policy::{resolve, PolicySet, PolicySources};
use aarmor_engine::policy_engine::eval_limits;
use serde_json::{json, Value};

use crate::config::Config;

pub fn check(dir: &Path, config: &Config) -> anyhow::Result<()> {
    let sources = PolicySources::read(dir)?;
    let mut warnings = Vec::new();
    for (path, content) in &sources.rego {
        let package = content
            .lines()
            .find_map(|l| l.strip_prefix("package "))
            .map(str::trim)
            .unwrap_or("");
        if path.ends_with("_test.rego") {
            continue;
        }
        if package != "aarmor.policy" && !package.starts_with("aarmor.") {
            warnings.push(format!(
                "{path}: package `{package}` is outside `aarmor.*`; only `aarmor.policy` decides"
            ));
        }
        if package == "aarmor.policy" && !content.contains("decisions contains") {
            warnings.push(format!("{path}: adds nothing to `decisions`"));
        }
    }
    let set = PolicySet::compile(sources, eval_limits(&config.policy))?;
    println!(
        "ok: policy {} version {} ({}), {} module(s), {} operator tool schema(s)",
        set.policy.policy_id,
        set.policy.version,
        set.policy.hash,
        set.sources
            .rego
            .iter()
            .filter(|(p, _)| !p.ends_with("_test.rego"))
            .count(),
        set.sources.tool_schemas.len()
    );
    for w in warnings {
        println!("warning: {w}");
    }
    Ok(())
}

pub fn test(dir: &Path) -> anyhow::Result<()> {
    let sources = PolicySources::read(dir)?;
    let outcomes = testing::run(&sources)?;
    let failed = outcomes.iter().filter(|o| !o.passed).count();
    for o in &outcomes {
        if o.passed {
            println!("PASS {}", o.name);
        } else {
            println!("FAIL {}: {}", o.name, o.detail);
        }
    }
    println!("{} passed, {} failed", outcomes.len() - failed, failed);
    if failed > 0 {
        return Err(anyhow!("{failed} policy test(s) failed"));
    }
    if outcomes.is_empty() {
        return Err(anyhow!(
            "no policy tests found (tests/*.yaml or *_test.rego)"
        ));
    }
    Ok(())
}

/// Evaluates an action (`{"tool": ...}` canonical action) or a whole input document
/// (`{"action": ..., "context": ...}`) and prints the candidates and the resolution.
pub fn eval(dir: &Path, input_path: &Path, config: &Config) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(input_path)
        .map_err(|e| anyhow!("{}: {e}", input_path.display()))?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| anyhow!("{}: not JSON: {e}", input_path.display()))?;
    let input = if value.get("action").is_some() {
        complete_input(value)
    } else {
        let action: Action = serde_json::from_value(value.clone())
            .map_err(|e| {
                format!(
                    "{}: neither an input document (with `action`) nor a canonical action: {e}",
                    input_path.display()
                )
            })
            .map_err(anyhow::Error::msg)?;
        complete_input(json!({"action": action, "identity": action.identity}))
    };
    let set = PolicySet::load(dir, eval_limits(&config.policy))?;
    let protocol = input
        .pointer("/action/protocol")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let default = match config
        .policy
        .defaults
        .get(protocol)
        .copied()
        .unwrap_or(config.policy.default_decision)
    {
        aarmor_engine::settings::DefaultDecision::Allow => Decision::Allow,
        aarmor_engine::settings::DefaultDecision::Deny => Decision::Deny,
    };
    let started = std::time::Instant::now();
    let out = match set.evaluate(&input) {
        Ok(candidates) => {
            let elapsed = started.elapsed();
            let shown: Vec<Value> = candidates
                .iter()
                .map(|c| json!({"decision": c.decision, "class": c.class, "priority": c.priority, "rule": c.rule, "reason": c.reason}))
                .collect();
            let r = resolve(candidates, &input, default);
            json!({
                "policy": set.policy.clone(),
                "candidates": shown,
                "decision": r.decision,
                "class": r.class,
                "rule": r.rule,
                "reason": r.reason,
                "eval_us": elapsed.as_micros() as u64,
            })
        }
        Err(e) => {
            json!({"policy": set.policy.clone(), "decision": "DENY", "reason": format!("evaluation error: {e}")})
        }
    };
    println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    Ok(())
}
