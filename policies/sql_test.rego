package aarmor.policy_test

import data.aarmor.policy

test_drop_is_forbidden if {
	some d in policy.decisions with input as {"action": {"protocol": "sql", "operation": "drop", "tool": "warehouse", "parameters": {}, "risk_signals": []}, "schema": {"violations": []}}
	d.rule == "sql.destructive_ddl"
	d.class == "forbidden"
}

test_select_is_not_touched if {
	count(policy.decisions) == 0 with input as {"action": {"protocol": "sql", "operation": "select", "tool": "warehouse", "parameters": {"statement_count": 1, "statement_kinds": ["select"]}, "risk_signals": []}, "schema": {"violations": []}}
}
