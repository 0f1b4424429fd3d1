# Context and intent (AARM R2, R3, R7): what the session read, where an action's destination
# came from, and how far the action is from what the user asked.
#
# Signals (see README "The contract"): input.context.data_labels, input.context.original_request,
# input.intent.provenance (parameter ⇒ user | tool_output | unseen), input.intent.drift.
# `intent.drift` is computed only for actions whose candidate `requires` it: the model never runs
# for actions these rules do not match.
package aarmor.policy

# Rule bodies test what is usually absent first (a session's labels, provenance, the original
# request), so that most actions leave each rule after one lookup.

context_cfg := data.aarmor.config.context

intent_cfg := data.aarmor.config.intent

# Separators between the words of a tool name.
word_breaks := {"_": " ", "-": " ", ".": " ", "/": " ", ":": " ", "{": " ", "}": " "}

words_of(name) := [w | some w in split(strings.replace_n(word_breaks, lower(name)), " "); w != ""]

# The words of the tool's name, lower-case: `mail.send_email` ⇒ [mail, send, email].
tool_words := words_of(input.action.tool)

# The words of the tool's own name (after the last `.` of an MCP `server.tool`, or the last path
# segment of a REST tool).
tool_leaf_words := words_of(leaf) if {
	segments := split(replace(input.action.tool, "/", "."), ".")
	leaf := segments[count(segments) - 1]
}

is_read_tool if {
	input.action.protocol != "rest"
	input.action.protocol != "sql"
	intent_cfg.read_prefixes[tool_leaf_words[0]]
}

is_write if {
	input.action.protocol == "rest"
	not protocol_traffic
}

is_write if {
	input.action.protocol == "sql"
	not intent_cfg.read_sql_operations[input.action.operation]
}

is_write if {
	not input.action.protocol in {"rest", "sql"}
	not protocol_traffic
	not is_read_tool
}

is_send if {
	not protocol_traffic
	not is_read_tool
	some w in tool_words
	context_cfg.send_tool_keywords[w]
}

is_payment if {
	not protocol_traffic
	not is_read_tool
	some w in tool_words
	some k in data.aarmor.config.payments.tool_keywords
	startswith(w, k)
}

is_destructive if {
	input.action.protocol != "sql"
	not protocol_traffic
	some w in tool_leaf_words
	intent_cfg.destructive_keywords[w]
}

# Where the destination parameters (to, recipient, iban, url, ...) came from.
destination_origins contains origin if {
	some path, origin in input.intent.provenance
	parts := split(path, ".")
	context_cfg.destination_params[lower(parts[count(parts) - 1])]
}

destination_from_user if {
	count(destination_origins) > 0
	every o in destination_origins {
		o == "user"
	}
}

sensitive_labels_read contains label if {
	some label in input.context.data_labels
	context_cfg.sensitive_labels[label]
}

decisions contains d if {
	count(sensitive_labels_read) > 0
	is_send
	not destination_from_user
	d := {
		"decision": "deny", "class": "context_deny", "priority": 750, "rule": "context.sensitive_read_then_send",
		"reason": sprintf("the session read %s data and this send's destination was not given by the user", [concat(", ", sort([l | some l in sensitive_labels_read]))]),
	}
}

decisions contains d if {
	"tool_output" in destination_origins
	is_send_or_payment
	d := {
		"decision": "step_up", "class": "context_allow", "priority": 650, "rule": "intent.destination_from_tool_output",
		"reason": "the destination appears only in a tool output, not in anything the user wrote (a possible injected instruction)",
		"approvers": context_cfg.approvers, "timeout": intent_cfg.timeout_s,
	}
}

is_send_or_payment if is_send

is_send_or_payment if is_payment

# The agent's own threshold (`agent_drift_thresholds`), else the default one.
drift_threshold := object.get(
	intent_cfg.agent_drift_thresholds,
	object.get(input, ["identity", "agent"], ""),
	intent_cfg.drift_threshold,
)

# True when drift exceeds the threshold, and also while drift is not computed yet: the candidate
# `requires` intent.drift, so the engine computes it and evaluates again.
drift_exceeds if not input.intent.drift <= drift_threshold

decisions contains d if {
	input.context.original_request
	is_write
	not destructive_as_asked
	drift_exceeds
	d := {
		"decision": "step_up", "class": "context_allow", "priority": 400, "rule": "intent.drift_on_write",
		"reason": sprintf("the action is far from what the user asked (drift %v > %v)", [object.get(input.intent, "drift", "?"), drift_threshold]),
		"requires": ["intent.drift"], "approvers": intent_cfg.approvers, "timeout": intent_cfg.timeout_s,
	}
}

action_origins contains origin if some _, origin in input.intent.provenance

destructive_as_asked if {
	count(action_origins) > 0
	is_destructive
	every o in action_origins {
		o == "user"
	}
}

decisions contains d if {
	destructive_as_asked
	d := {
		"decision": "allow", "class": "context_allow", "priority": 460, "rule": "intent.destructive_as_asked",
		"reason": "the user named what this deletes",
	}
}

decisions contains d if {
	input.context.original_request
	is_destructive
	not destructive_as_asked
	d := {
		"decision": "step_up", "class": "context_allow", "priority": 450, "rule": "intent.destructive_not_asked",
		"reason": "this deletes something the user did not name",
		"approvers": intent_cfg.approvers, "timeout": intent_cfg.timeout_s,
	}
}
