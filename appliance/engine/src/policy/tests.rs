//! Tests of the policy set: compiling and evaluating a bundle, its read-action hosts, VM
//! reuse, and rejecting broken bundles, malformed output and limits.

use serde_json::json;

use super::*;

fn bundle(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    dir
}

const SQL: &str = r#"package aarmor.policy

decisions contains d if {
input.action.protocol == "sql"
input.action.operation in {"drop", "truncate"}
d := {"decision": "deny", "class": "forbidden", "priority": 1000, "rule": "sql.no_drop",
      "reason": sprintf("%s is forbidden", [input.action.operation])}
}

decisions contains d if {
input.action.protocol == "sql"
input.action.parameters.has_where == false
d := {"decision": "deny", "class": "context_deny", "priority": 900, "rule": "sql.unbounded",
      "reason": "DELETE/UPDATE without WHERE"}
}
"#;

#[test]
fn compiles_and_evaluates() {
    let dir = bundle(&[
        ("sql.rego", SQL),
        ("manifest.json", r#"{"policy_id": "t", "version": "7"}"#),
    ]);
    let set = PolicySet::load(dir.path(), EvalLimits::default()).unwrap();
    assert_eq!(set.policy.policy_id, "t");
    assert_eq!(set.policy.version, "7");
    assert!(set.policy.hash.starts_with("sha256:"));
    let drop = json!({"action": {"protocol": "sql", "operation": "drop", "parameters": {}}});
    let c = set.evaluate(&drop).unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].rule, "sql.no_drop");
    assert_eq!(c[0].reason, "drop is forbidden");
    let select = json!({"action": {"protocol": "sql", "operation": "select", "parameters": {}}});
    assert!(set.evaluate(&select).unwrap().is_empty());
    let unbounded = json!({"action": {"protocol": "sql", "operation": "delete", "parameters": {"has_where": false}}});
    assert_eq!(set.evaluate(&unbounded).unwrap()[0].rule, "sql.unbounded");
}

#[test]
fn read_action_hosts_come_from_the_bundle() {
    let none = bundle(&[("sql.rego", SQL)]);
    let set = PolicySet::load(none.path(), EvalLimits::default()).unwrap();
    assert!(!set.read_action_hosts.covers("webhook.site"));

    let listed = bundle(&[
        ("sql.rego", SQL),
        (
            "reads.rego",
            "package aarmor.policy\n\nread_action_hosts contains h if data.sinks[h]\n",
        ),
        (
            "data.json",
            r#"{"sinks": {"webhook.site": true, "Ngrok-Free.app": true}}"#,
        ),
    ]);
    let set = PolicySet::load(listed.path(), EvalLimits::default()).unwrap();
    let hosts = &set.read_action_hosts;
    for covered in [
        "webhook.site",
        "x.webhook.site",
        "a.b.ngrok-free.app",
        "WEBHOOK.SITE.",
    ] {
        assert!(hosts.covers(covered), "{covered}");
    }
    for not in [
        "site",
        "webhook.site.evil.example",
        "notwebhook.site",
        "example.com",
    ] {
        assert!(!hosts.covers(not), "{not}");
    }

    let bad = bundle(&[
        ("sql.rego", SQL),
        (
            "reads.rego",
            "package aarmor.policy\n\nread_action_hosts := 7\n",
        ),
    ]);
    let err = PolicySet::load(bad.path(), EvalLimits::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("read_action_hosts"), "{err}");
}

#[test]
fn reused_vms_see_only_the_current_input() {
    let dir = bundle(&[("sql.rego", SQL)]);
    let set = PolicySet::load(dir.path(), EvalLimits::default()).unwrap();
    let drop = json!({"action": {"protocol": "sql", "operation": "drop", "parameters": {}}});
    let select = json!({"action": {"protocol": "sql", "operation": "select", "parameters": {}}});
    for _ in 0..3 {
        assert_eq!(set.evaluate(&drop).unwrap()[0].rule, "sql.no_drop");
        assert!(set.evaluate(&select).unwrap().is_empty());
    }
    // A failed evaluation does not poison the pool.
    assert!(set
        .evaluate(&json!({"action": {"protocol": "sql", "operation": 7}}))
        .map(|c| c.is_empty())
        .unwrap_or(true));
    assert_eq!(set.evaluate(&drop).unwrap()[0].rule, "sql.no_drop");
    assert!(set.vms.0.lock().unwrap().len() <= VmPool::MAX_IDLE);
}

#[test]
fn broken_bundles_are_rejected_with_the_file_named() {
    let dir = bundle(&[(
        "bad.rego",
        "package aarmor.policy\n\ndecisions contains d if {\n  d := \n}\n",
    )]);
    let err = PolicySet::load(dir.path(), EvalLimits::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("bad.rego"), "{err}");
    let dir = bundle(&[("other.rego", "package other\n\nx := 1\n")]);
    let err = PolicySet::load(dir.path(), EvalLimits::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("package aarmor.policy"), "{err}");
}

#[test]
fn malformed_output_and_limits_are_errors() {
    let dir = bundle(&[(
        "p.rego",
        "package aarmor.policy\n\ndecisions contains \"deny\" if { true }\n",
    )]);
    let set = PolicySet::load(dir.path(), EvalLimits::default()).unwrap();
    assert!(set.evaluate(&json!({})).is_err());
    let slow = "package aarmor.policy\n\ndecisions contains d if {\n  n := count([x | some x in numbers.range(1, 200000)])\n  n > 0\n  d := {\"decision\": \"allow\", \"class\": \"context_allow\", \"rule\": \"r\", \"reason\": \"x\"}\n}\n";
    let dir = bundle(&[("p.rego", slow)]);
    let set = PolicySet::load(
        dir.path(),
        EvalLimits {
            time: Duration::from_millis(10),
            instructions: 1000,
        },
    )
    .unwrap();
    assert!(set.evaluate(&json!({})).is_err(), "a limit hit is an error");
}
