package aarmor.policy_test

import rego.v1

billing_write := {
	"action": {"protocol": "rest", "tool": "billing.example.com/v1/invoices", "operation": "post",
		"target": {"host": "billing.example.com", "port": 443, "method": "POST", "path": "/v1/invoices"},
		"parameters": {}},
	"credential": {"name": "billing-write", "scope": "write", "binding": "billing.example.com/v1/**",
		"source": "file", "presented": "placeholder", "access": "write"},
}

test_billing_writes_need_the_billing_credential_and_approval if {
	config := {"write_requires": {"billing.example.com": "billing-write"}, "step_up_writes": ["billing-write"],
		"approvers": ["finance"], "timeout_s": 60}
	decisions := data.aarmor.policy.decisions with input as billing_write
		with data.aarmor.config.credentials as config
	some d in decisions
	d.rule == "credentials.step_up_write"
	d.decision == "step_up"
	every x in decisions {
		x.rule != "credentials.write_requires"
	}
	other := object.union(billing_write, {"credential": {"name": "billing-read"}})
	denied := data.aarmor.policy.decisions with input as other
		with data.aarmor.config.credentials as config
	some e in denied
	e.rule == "credentials.write_requires"
	# No credential: the input says `null` (as the engine writes it).
	bare := object.union(json.remove(billing_write, ["credential"]), {"credential": null})
	refused := data.aarmor.policy.decisions with input as bare
		with data.aarmor.config.credentials as config
	some f in refused
	f.rule == "credentials.write_requires"
	contains(f.reason, "uses none")
}

test_a_get_the_broker_judged_a_write_is_one if {
	config := {"write_requires": {}, "step_up_writes": ["billing-write"], "approvers": [], "timeout_s": 60}
	overridden := object.union(billing_write, {"action": {"target": {"method": "GET"}}})
	decisions := data.aarmor.policy.decisions with input as overridden
		with data.aarmor.config.credentials as config
	some d in decisions
	d.rule == "credentials.step_up_write"
}

test_credential_rules_are_inert_by_default if {
	decisions := data.aarmor.policy.decisions with input as billing_write
	every d in decisions {
		not startswith(d.rule, "credentials.")
	}
}
