//! `aarmor policy test`: Rego `test_` rules (in `*_test.rego` files) and table tests
//! (`tests/*.yaml`: input ⇒ expected decision, optionally the deciding rule).

use aarmor_core::Decision;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{resolve, EvalLimits, PolicyError, PolicySet, PolicySources};

/// One table-test case.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableCase {
    pub name: String,
    pub input: Value,
    pub expect: String,
    #[serde(default)]
    pub rule: Option<String>,
    /// Decision when no rule matches (default ALLOW).
    #[serde(default)]
    pub default: Option<String>,
}

/// Outcome of one test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestOutcome {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

/// Fills the parts of an input document a test case may leave out.
pub fn complete_input(mut input: Value) -> Value {
    if let Some(obj) = input.as_object_mut() {
        for (key, default) in [
            ("identity", json!({})),
            ("context", json!({})),
            ("intent", json!({})),
            (
                "schema",
                json!({"operator": false, "declared": false, "violations": []}),
            ),
        ] {
            obj.entry(key).or_insert(default);
        }
        if let Some(action) = obj.get_mut("action").and_then(Value::as_object_mut) {
            action.entry("parameters").or_insert(json!({}));
            action.entry("risk_signals").or_insert(json!([]));
        }
    }
    input
}

/// Names of `test_` rules declared at the start of a line, and the module's package.
fn test_rules(source: &str) -> (Option<String>, Vec<String>) {
    let mut package = None;
    let mut names = Vec::new();
    for line in source.lines() {
        if let Some(p) = line.strip_prefix("package ") {
            package = Some(p.trim().to_string());
        }
        if line.starts_with("test_") {
            let name: String = line
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    (package, names)
}

/// Runs every test of the policy directory.
pub fn run(sources: &PolicySources) -> Result<Vec<TestOutcome>, PolicyError> {
    let mut outcomes = Vec::new();
    let mut engine = sources.engine(true)?;
    for (path, content) in sources
        .rego
        .iter()
        .filter(|(p, _)| p.ends_with("_test.rego"))
    {
        let (Some(package), names) = test_rules(content) else {
            continue;
        };
        for name in names {
            let rule = format!("data.{package}.{name}");
            let result = engine.eval_rule(rule.clone());
            let (passed, detail) = match result {
                Ok(v) if v == regorus::Value::from(true) => (true, String::new()),
                Ok(v) => (false, format!("evaluated to {v}")),
                Err(e) => (false, e.to_string()),
            };
            outcomes.push(TestOutcome {
                name: format!("{path}: {name}"),
                passed,
                detail,
            });
        }
    }
    // Tests check decisions, not speed: a generous budget keeps them deterministic.
    let set = PolicySet::compile(
        sources.clone(),
        EvalLimits {
            time: std::time::Duration::from_secs(5),
            ..EvalLimits::default()
        },
    )?;
    let tests_dir = sources.dir.join("tests");
    let mut files: Vec<_> = std::fs::read_dir(&tests_dir)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    for file in files
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "yaml" || e == "yml"))
    {
        let text = std::fs::read_to_string(&file).map_err(|e| PolicyError::Load {
            path: file.clone(),
            message: e.to_string(),
        })?;
        let cases: Vec<TableCase> = yaml_serde::from_str(&text).map_err(|e| PolicyError::Load {
            path: file.clone(),
            message: e.to_string(),
        })?;
        let fname = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for case in cases {
            outcomes.push(run_case(&set, &fname, case));
        }
    }
    Ok(outcomes)
}

fn run_case(set: &PolicySet, file: &str, case: TableCase) -> TestOutcome {
    let name = format!("tests/{file}: {}", case.name);
    let fail = |detail: String| TestOutcome {
        name: name.clone(),
        passed: false,
        detail,
    };
    let Some(expect) = Decision::parse(&case.expect) else {
        return fail(format!("unknown expected decision `{}`", case.expect));
    };
    let default = case
        .default
        .as_deref()
        .and_then(Decision::parse)
        .unwrap_or(Decision::Allow);
    let input = complete_input(case.input);
    let (decision, rule) = match set.evaluate(&input) {
        Ok(candidates) => {
            let r = resolve(candidates, &input, default);
            (r.decision, r.rule)
        }
        Err(e) => (Decision::Deny, Some(format!("evaluation error: {e}"))),
    };
    if decision != expect {
        return fail(format!(
            "expected {expect}, got {decision} (rule {})",
            rule.as_deref().unwrap_or("none")
        ));
    }
    if let Some(want) = &case.rule {
        if rule.as_deref() != Some(want.as_str()) {
            return fail(format!(
                "expected rule {want}, got {}",
                rule.as_deref().unwrap_or("none")
            ));
        }
    }
    TestOutcome {
        name,
        passed: true,
        detail: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default pack in `policies/` passes all of its own tests.
    #[test]
    fn default_pack_passes_its_tests() {
        let dir = crate::repo_root().join("policies");
        let sources = PolicySources::read(&dir).unwrap();
        let outcomes = run(&sources).unwrap();
        let failed: Vec<_> = outcomes.iter().filter(|o| !o.passed).collect();
        assert!(failed.is_empty(), "{failed:#?}");
        assert!(outcomes.len() >= 30, "{} tests", outcomes.len());
        assert!(outcomes
            .iter()
            .any(|o| o.name.contains("sql_test.rego: test_drop_is_forbidden")));
    }
}
