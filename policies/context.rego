# Context and intent (AARM R2, R3, R7): what the session read, where an action's destination
# came from, and how far the action is from what the user asked.
#
# Signals (see README "The contract"): input.context.data_labels, input.context.original_request,
# input.context.instructions (parts of tool outputs addressed to the model: an injected
# instruction), input.intent.provenance (parameter ⇒ user | tool_output | instruction | unseen),
# input.intent.tool_words (where the action's words are named), input.intent.drift.
#
# The rules, by class:
# - context_deny: a write built from a value that only an instruction to the model named
#   (intent.value_from_instruction), or from what a call such an instruction steered returned
#   (intent.value_from_steered_output); a send after sensitive reads to a destination nobody gave
#   (context.sensitive_read_then_send).
# - context_allow (STEP_UP, a human decides): a write whose tool only an instruction to the model
#   names (intent.tool_from_instruction); a write whose destination a tool output carried only
#   inside free text (intent.destination_from_free_text); in a session that saw such an
#   instruction, a write far from the request (intent.drift_on_write, off by default); a change to permissions, credentials or
#   settings the user did not mention (intent.sensitive_change_not_asked); a write when the user
#   only asked a question (intent.write_on_read_only_request); a deletion the user did not ask
#   for (intent.destructive_not_asked).
# - context_allow (ALLOW): a deletion of what the user named or asked to delete
#   (intent.destructive_as_asked).
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

# A generic HTTP tool (`http_request(method, url, ...)`) reading.
is_read_tool if {
	input.action.protocol != "rest"
	input.action.protocol != "sql"
	is_string(input.action.parameters.url)
	lower(input.action.parameters.method) in {"get", "head", "options"}
}

# The words of the URL a generic HTTP tool calls (none for other tools).
url_words := words_of(input.action.parameters.url) if {
	input.action.protocol != "rest"
	is_string(input.action.parameters.url)
} else := []

# What the action does, in words: its tool's name and, for a generic HTTP tool, its URL.
action_words := array.concat(tool_words, url_words)

action_leaf_words := array.concat(tool_leaf_words, url_words)

# What the user wrote, lower-case: the original request and the latest message.
request_text := lower(concat("\n", [
	object.get(input.context, "original_request", ""),
	object.get(input.context, "last_user_message", ""),
]))

# The session saw a tool output addressed to the model (an injected instruction).
instructed if count(object.get(input.context, "instructions", [])) > 0

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
	some w in action_words
	context_cfg.send_tool_keywords[w]
}

is_payment if {
	not protocol_traffic
	not is_read_tool
	some w in action_words
	some k in data.aarmor.config.payments.tool_keywords
	startswith(w, k)
}

is_destructive if {
	input.action.protocol != "sql"
	not protocol_traffic
	some w in action_leaf_words
	intent_cfg.destructive_keywords[w]
}

is_destructive if {
	input.action.protocol != "sql"
	not protocol_traffic
	is_string(input.action.parameters.url)
	lower(object.get(input.action.parameters, "method", "")) == "delete"
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
		o in {"user", "system"}
	}
}

# The destination was given by the user, or read from ordinary data (a bill's IBAN, a
# message's sender: a field of a tool output, or free text), or, in a session where no tool
# output addressed the model, a send with no destination parameter (a reply). Reading ordinary
# data counts as traced in steered sessions too: holding every send to a tool-output destination
# once a session was steered stopped far more of the user's own work than attacks (see README).
destination_traced if destination_from_user

destination_traced if {
	count(destination_origins) > 0
	every o in destination_origins {
		o in {"user", "system", "tool_output", "tool_free_text"}
	}
}

# No destination parameter to trace (a reply goes where the message came from): in a session
# where no tool output addressed the model, nothing says it was redirected.
destination_traced if {
	not destination_param_named
	not instructed
}

# No destination parameter, in a steered session: a reply to a record the session read (a
# message, a ticket) other than the one that carried the instruction goes where the user's
# work goes.
destination_traced if {
	not destination_param_named
	input.intent.target_record == "read_record"
	count(instruction_params) == 0
}

destination_param_named if {
	some k, _ in input.action.parameters
	context_cfg.destination_params[lower(k)]
}

destination_param_named if {
	some _, inner in input.action.parameters
	is_object(inner)
	some k, _ in inner
	context_cfg.destination_params[lower(k)]
}

# Parameters whose value only an instruction to the model named.
instruction_params contains path if {
	some path, origin in input.intent.provenance
	origin == "instruction"
}

first_instruction := object.get(input.context.instructions[0], "excerpt", "") if instructed else := ""

# A deletion the user asked for, of a value an instruction to the model also names while asking
# for something else (the leaver an injection wants re-added is still removed, as the user
# asked): the instruction's words do not name this action, the request's do.
deletion_the_instruction_did_not_ask_for if {
	is_destructive
	count(input.intent.tool_words.in_instructions) == 0
	count(input.intent.tool_words.in_request) > 0
	request_asks_to_delete
}

decisions contains d if {
	count(instruction_params) > 0
	not protocol_traffic
	not deletion_the_instruction_did_not_ask_for
	d := {
		"decision": "deny", "class": "context_deny", "priority": 770, "rule": "intent.value_from_instruction",
		"reason": sprintf("%s came from a tool output's instruction to the model (%q), not from the user", [concat(", ", sort([p | some p in instruction_params])), first_instruction]),
	}
}

# Parameters whose value only the output of a call an instruction steered returned (the
# injection's own read: the channel it named, the folder it pointed to, the contact it had
# added), or that carry a run of that output's words (`steered_output`).
steered_params contains path if {
	some path, origin in input.intent.provenance
	origin == "steered_output"
}

decisions contains d if {
	count(steered_params) > 0
	is_write
	d := {
		"decision": "deny", "class": "context_deny", "priority": 765, "rule": "intent.value_from_steered_output",
		"reason": sprintf("%s came from what a call steered by a tool output's instruction to the model (%q) returned, not from the user's task", [concat(", ", sort([p | some p in steered_params])), first_instruction]),
	}
}

user_params contains path if {
	some path, origin in input.intent.provenance
	origin == "user"
}

# The user gave where the action goes (a destination parameter traced to the user) or, when no
# destination came from a tool output, any of its values.
user_gave_the_target if "user" in destination_origins

user_gave_the_target if {
	count(user_params) > 0
	every o in destination_origins {
		o in {"user", "system"}
	}
}

decisions contains d if {
	instructed
	is_write
	count(input.intent.tool_words.in_instructions) > 0
	count(input.intent.tool_words.in_request) == 0
	not user_gave_the_target
	d := {
		"decision": "step_up", "class": "context_allow", "priority": 640, "rule": "intent.tool_from_instruction",
		"reason": sprintf("a tool output's instruction to the model asks for this (%s) and the user's request does not (%q)", [concat(", ", input.intent.tool_words.in_instructions), first_instruction]),
		"approvers": intent_cfg.approvers, "timeout": intent_cfg.timeout_s,
	}
}

# The request mentions the change a sensitive word names: the word (its first five letters),
# or a word that asks for the same change (`intent.sensitive_change_request_words`: "give her
# edit access" asks for a share).
request_mentions_change(w) if contains(request_text, substring(w, 0, min([count(w), 5])))

request_mentions_change(w) if {
	some other in object.get(intent_cfg, ["sensitive_change_request_words", w], [])
	contains(request_text, other)
}

# A change to who may do what (permissions, credentials, security settings) that nothing the
# user wrote mentions.
sensitive_change_words contains w if {
	some w in action_words
	intent_cfg.sensitive_change_keywords[w]
}

decisions contains d if {
	count(sensitive_change_words) > 0
	is_write
	input.context.original_request
	not is_destructive
	every w in sensitive_change_words {
		not request_mentions_change(w)
	}
	d := {
		"decision": "step_up", "class": "context_allow", "priority": 420, "rule": "intent.sensitive_change_not_asked",
		"reason": sprintf("this changes %s, which the user's request does not mention", [concat(", ", sort([w | some w in sensitive_change_words]))]),
		"approvers": intent_cfg.approvers, "timeout": intent_cfg.timeout_s,
	}
}

# The user only asked a question: the request starts like one and names no change.
read_only_request if {
	req := trim_space(lower(input.context.original_request))
	some start in intent_cfg.read_only_request_starts
	startswith(req, start)
	not request_names_a_change
}

request_names_a_change if {
	some w in words_of(request_text)
	intent_cfg.request_change_words[w]
}

# A tool named for a change (update_settings, grant_access, create_token), not a generic shell or
# SQL tool (their own rules read the command).
is_change_tool if intent_cfg.change_tool_verbs[tool_leaf_words[0]]

is_change_tool if count(sensitive_change_words) > 0

# A generic HTTP tool changing a resource: PUT, PATCH or DELETE, or a POST to a URL whose words
# name a change (`/transfers`, `/messages/send`).
is_change_tool if {
	is_string(input.action.parameters.url)
	lower(object.get(input.action.parameters, "method", "")) in {"put", "patch", "delete"}
}

is_change_tool if {
	is_string(input.action.parameters.url)
	lower(object.get(input.action.parameters, "method", "")) == "post"
	some w in url_words
	some verb, _ in intent_cfg.change_tool_verbs
	startswith(w, verb)
}

decisions contains d if {
	is_write
	read_only_request
	is_change_tool
	not is_destructive
	d := {
		"decision": "step_up", "class": "context_allow", "priority": 410, "rule": "intent.write_on_read_only_request",
		"reason": "the user asked a question, not for a change, and this action changes something",
		"approvers": intent_cfg.approvers, "timeout": intent_cfg.timeout_s,
	}
}

sensitive_labels_read contains label if {
	some label in input.context.data_labels
	context_cfg.sensitive_labels[label]
}

decisions contains d if {
	count(sensitive_labels_read) > 0
	is_send
	not destination_traced
	d := {
		"decision": "deny", "class": "context_deny", "priority": 750, "rule": "context.sensitive_read_then_send",
		"reason": sprintf("the session read %s data and this send's destination was not given by the user (nor read from data in a session free of instructions to the model)", [concat(", ", sort([l | some l in sensitive_labels_read]))]),
	}
}

# Where a destination came from free text of a tool output (a note, a review, a message body:
# what anyone could have written), rather than from a field of its own (a payee's IBAN, a
# sender's address) or the user.
decisions contains d if {
	"tool_free_text" in destination_origins
	not destination_from_user
	is_write
	not instructed
	d := {
		"decision": "step_up", "class": "context_allow", "priority": 630, "rule": "intent.destination_from_free_text",
		"reason": sprintf("the destination (%s) appears only inside free text of a tool output, not in anything the user wrote nor as a field of its own", [concat(", ", sort([p | some p, o in input.intent.provenance; o == "tool_free_text"]))]),
		"approvers": context_cfg.approvers, "timeout": intent_cfg.timeout_s,
	}
}

# The agent's own threshold (`agent_drift_thresholds`), else the default one.
drift_threshold := object.get(
	intent_cfg.agent_drift_thresholds,
	object.get(input, ["identity", "agent"], ""),
	intent_cfg.drift_threshold,
)

# True when drift exceeds the threshold, and also while drift is not computed yet: the candidate
# `requires` intent.drift, so the engine computes it and evaluates again.
drift_exceeds if not input.intent.drift <= drift_threshold

# Off in the default pack (`intent.drift_on_write_enabled`): measured on labelled conversations,
# embedding drift stopped ordinary multi-step work far more often than attacks the rules above
# miss. Turn it on to hold writes far from the request in sessions a tool output tried to steer.
decisions contains d if {
	intent_cfg.drift_on_write_enabled
	instructed
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
	some o in action_origins
	o == "user"
	every o in action_origins {
		o in {"user", "system"}
	}
}

# The user asked to delete (remove, cancel, clean up ...) something, and no tool output
# addressed the model: deleting what the agent found for it is the task.
destructive_as_asked if {
	is_destructive
	count(instruction_params) == 0
	not destructive_named_by_instruction
	not target_named_by_instruction
	request_asks_to_delete
}

# An instruction to the model names what this deletes (its value, or the record it identifies
# by that record's name), and the user did not: the injection chose the target.
target_named_by_instruction if count(object.get(input.intent, "named_by_instruction", [])) > 0

request_asks_to_delete if {
	some w in words_of(request_text)
	intent_cfg.destructive_request_words[w]
}

# Phrases of more than one word ("get rid of", "take them out of #eng").
request_asks_to_delete if {
	some pattern in intent_cfg.destructive_request_phrases
	regex.match(pattern, request_text)
}

destructive_named_by_instruction if {
	instructed
	count(input.intent.tool_words.in_instructions) > 0
	count(input.intent.tool_words.in_request) == 0
}

destructive_as_asked if deletion_the_instruction_did_not_ask_for

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
