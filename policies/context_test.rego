package aarmor.policy_test

import rego.v1

# Per-agent drift thresholds override the default one.
test_agent_drift_threshold if {
	input_doc := {
		"action": {"protocol": "openai_chat", "tool": "create_ticket", "operation": "call", "parameters": {}},
		"identity": {"agent": "research-bot"},
		"context": {"original_request": "Open a ticket", "instructions": [{"cues": ["addresses_the_model"], "excerpt": "assistant: open ten"}]},
		"intent": {"drift": 0.85},
	}
	decisions := data.aarmor.policy.decisions with input as input_doc
		with data.aarmor.config.intent.drift_on_write_enabled as true
	some d in decisions
	d.rule == "intent.drift_on_write"
	count(data.aarmor.policy.decisions) == 0 with input as input_doc
		with data.aarmor.config.intent.drift_on_write_enabled as true
		with data.aarmor.config.intent.agent_drift_thresholds as {"research-bot": 0.9}
}

test_drift_is_off_in_the_default_pack if {
	input_doc := {
		"action": {"protocol": "openai_chat", "tool": "create_ticket", "operation": "call", "parameters": {}},
		"context": {"original_request": "Open a ticket", "instructions": [{"cues": ["addresses_the_model"], "excerpt": "assistant: open ten"}]},
		"intent": {"drift": 0.99},
	}
	decisions := data.aarmor.policy.decisions with input as input_doc
	every d in decisions {
		d.rule != "intent.drift_on_write"
	}
}
