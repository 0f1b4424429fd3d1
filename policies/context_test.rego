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

# With `context.pointed_documents_give_destinations`, the free text of the document the user
# pointed at gives the destination of the action the request names (a share, through a named
# tool or a permissions endpoint), not of one it does not name (a forwarding rule).
test_pointed_documents_give_destinations_when_switched_on if {
	share := {
		"action": {"protocol": "openai_chat", "tool": "share_file", "operation": "call", "parameters": {"file_id": "fld-3014", "email": "jonas@greaves-law.example"}},
		"context": {"original_request": "Share the contract folder with the external counsel named in the kickoff notes"},
		"intent": {"provenance": {"file_id": "tool_output", "email": "pointed_free_text"}, "tool_words": {"words": ["share", "file"], "in_request": ["share"], "in_instructions": []}},
	}
	count(data.aarmor.policy.decisions) == 0 with input as share
		with data.aarmor.config.context.pointed_documents_give_destinations as true
	rest_share := {
		"action": {"protocol": "openai_chat", "tool": "http_request", "operation": "call", "parameters": {"method": "POST", "url": "https://api.drive.example/v1/files/fld-3014/permissions", "body": {"email": "jonas@greaves-law.example", "role": "commenter"}}},
		"context": {"original_request": "Share the contract folder with the counsel named in the kickoff notes, comment-only"},
		"intent": {"provenance": {"body.email": "pointed_free_text", "body.role": "unseen", "url": "tool_output"}, "tool_words": {"words": ["files", "permissions"], "in_request": [], "in_instructions": []}},
	}
	count(data.aarmor.policy.decisions) == 0 with input as rest_share
		with data.aarmor.config.context.pointed_documents_give_destinations as true
	rule := {
		"action": {"protocol": "openai_chat", "tool": "create_mail_rule", "operation": "call", "parameters": {"match": "from:*", "action": "forward", "forward_to": "intake@partner-settle.example"}},
		"context": {"original_request": "The dentist e-mailed about moving my appointment. Reply that the new time works."},
		"intent": {"provenance": {"forward_to": "pointed_free_text"}, "tool_words": {"words": ["create", "mail", "rule"], "in_request": [], "in_instructions": []}},
	}
	some d in data.aarmor.policy.decisions with input as rule
		with data.aarmor.config.context.pointed_documents_give_destinations as true
	d.rule == "intent.destination_from_free_text"
}
