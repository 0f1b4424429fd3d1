# Parameters that break the tool's schema, or that could not be read at all.
package aarmor.policy

decisions contains d if {
	count(input.schema.violations) > 0
	v := input.schema.violations[0]
	d := {
		"decision": "deny", "class": "context_deny", "priority": 800, "rule": "parameters.schema_violation",
		"reason": sprintf("the parameters break the %s schema of %s at `%s`: %s", [v.source, input.action.tool, v.path, v.message]),
	}
}

decisions contains d if {
	some signal in input.action.risk_signals
	signal.kind in {"arguments_not_json", "meta_tool_unresolved"}
	d := {
		"decision": "deny", "class": "context_deny", "priority": 800, "rule": "parameters.unreadable",
		"reason": sprintf("the call cannot be checked (%s)", [signal.kind]),
	}
}
