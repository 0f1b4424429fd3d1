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
#   names (intent.tool_from_instruction); a write carrying a plain word or small count only such
#   an instruction wrote (intent.plain_value_from_instruction); a write whose destination a tool output carried only
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
	not filing_tool
	some w in action_words
	context_cfg.send_tool_keywords[w]
}

# A tool that files what it names away (`archive_message`, `label_email`, `move_message`): the
# noun is a message, the action sends nothing (`context.filing_verbs`). Not when another word
# of its name sends (`label_and_forward`; `context.send_nouns` are the things sent, not
# sending), nor when it takes a destination, an address or a URL (`move_message(destination=
# "imap://...")`, `tag_message(notify=...)`).
filing_tool if {
	filing_verb_leads
	count([w | some i, w in tool_leaf_words; i > 0; context_cfg.send_tool_keywords[w]; not context_cfg.send_nouns[w]]) == 0
	not destination_param_named
	not carries_an_address
}

# The tool's name starts with a filing verb (`label_email`), or with a generic verb before one
# (`add_label`, `apply_tag`, `remove_star`).
filing_verb_leads if context_cfg.filing_verbs[tool_leaf_words[0]]

filing_verb_leads if {
	tool_leaf_words[0] in {"add", "apply", "set", "remove", "clear"}
	context_cfg.filing_verbs[tool_leaf_words[1]]
}

carries_an_address if {
	some [_, v] in setting_entries
	is_string(v)
	regex.match(`@|://`, v)
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

# A parameter whose name ends in a destination word is one too (`shipping_address`,
# `contact_email`, `payout_iban`; `context.destination_key_words`), and so is every part of an
# object named as a destination (`shipping_address.street`, `body.recipient.email`).
destination_origins contains origin if {
	some path, origin in input.intent.provenance
	some part in split(path, ".")
	some word, _ in context_cfg.destination_key_words
	named := lower(part)
	count(named) > count(word)
	endswith(named, word)
}

destination_origins contains origin if {
	some path, origin in input.intent.provenance
	parts := split(path, ".")
	some i, part in parts
	i < count(parts) - 1
	context_cfg.destination_params[lower(part)]
}

# A parameter whose whole value is an e-mail address or a URL is a destination too, whatever
# its name (`statement_email`, `changes.forward_address`, `callback`): where something goes.
destination_origins contains origin if {
	some path, origin in input.intent.provenance
	value := object.get(input.action.parameters, split(path, "."), null)
	is_string(value)
	address_value(trim_space(value))
}

# An e-mail address or a URL, whole (string tests: no pattern to compile per decision).
address_value(v) if {
	not contains(v, " ")
	parts := split(v, "@")
	count(parts) == 2
	parts[0] != ""
	contains(parts[1], ".")
}

address_value(v) if {
	not contains(v, " ")
	some scheme in ["http://", "https://", "ws://", "wss://"]
	startswith(lower(v), scheme)
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
		o in {"user", "system", "tool_output", "pointed_free_text", "tool_free_text"}
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

# Parameters with a plain word that tool outputs hold only inside instructions to the model
# (`instruction_word`: the `Finance` folder, `public`), or a small count only such an
# instruction wrote as one (`instruction_count`: a party of 12). Weaker than an identifier, so a
# human decides.
plain_instruction_params contains path if {
	some path, origin in input.intent.provenance
	origin in {"instruction_word", "instruction_count"}
}

decisions contains d if {
	count(plain_instruction_params) > 0
	is_write
	not deletion_the_instruction_did_not_ask_for
	d := {
		"decision": "step_up", "class": "context_allow", "priority": 645, "rule": "intent.plain_value_from_instruction",
		"reason": sprintf("%s: a word or count only a tool output's instruction to the model (%q) wrote, not the user nor ordinary data", [concat(", ", sort([p | some p in plain_instruction_params])), first_instruction]),
		"approvers": intent_cfg.approvers, "timeout": intent_cfg.timeout_s,
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

# A generic settings tool (`update_settings(setting, value)`, `PATCH /settings`) is as sensitive
# as the setting it changes. It is harmless only when every word naming the setting — in its
# parameters' keys, in a setting-name value, in the tool's name, in a generic HTTP tool's URL
# after `settings` — is a presentation subject (`intent.harmless_setting_subjects`: statements,
# language, theme, time zone) or a qualifier next to one (`intent.harmless_setting_qualifiers`:
# format, delivery, mode), and every value is a switch (`intent.harmless_setting_values`), or a
# language, a time zone or a date format where the setting is one. Anything else (a security
# switch, a limit, a contact, a camelCase key the lists do not know, a number, an address, a
# setting nested deeper than two levels) still waits for a human. The generic words are
# `intent.generic_change_keywords`.
only_generic_change_words if {
	count([w | some w in sensitive_change_words; not intent_cfg.generic_change_keywords[w]]) == 0
}

# The (name, value) pairs of the action's parameters and of objects inside them (a generic HTTP
# tool's `body`).
setting_entries contains [k, v] if {
	some k, v in input.action.parameters
	not k in {"url", "method", "headers"}
}

setting_entries contains [k2, v2] if {
	some k, v in input.action.parameters
	not k in {"url", "method", "headers"}
	is_object(v)
	some k2, v2 in v
}

# Keys that hold a setting's name (`{"setting": "paperless_statements", "value": "on"}`) or
# only wrap the settings.
setting_name_keys := {"setting", "settings", "name", "key", "preference", "preferences", "option"}

setting_wrapper_keys := {"body", "query", "value", "values", "enabled", "config", "configuration", "changes", "updates"}

# The words that name the setting changed.
setting_words contains w if {
	some [k, _] in setting_entries
	not k in setting_name_keys
	not k in setting_wrapper_keys
	some w in words_of(k)
}

setting_words contains w if {
	some [k, v] in setting_entries
	k in setting_name_keys
	is_string(v)
	some w in words_of(v)
}

setting_words contains w if {
	not is_string(input.action.parameters.url)
	some w in tool_leaf_words
	not intent_cfg.generic_change_keywords[w]
	not intent_cfg.change_tool_verbs[w]
}

setting_words contains w if {
	some i, g in url_words
	intent_cfg.generic_change_keywords[g]
	some j, w in url_words
	j > i
}

setting_subjects contains w if {
	some w in setting_words
	intent_cfg.harmless_setting_subjects[w]
}

names_only_harmless_settings if {
	count(setting_subjects) > 0
	count([w | some w in setting_words; not intent_cfg.harmless_setting_subjects[w]; not intent_cfg.harmless_setting_qualifiers[w]]) == 0
}

harmless_setting_value(v) if is_boolean(v)

harmless_setting_value(v) if {
	is_string(v)
	intent_cfg.harmless_setting_values[lower(trim_space(v))]
}

# A language (`German`, `de`, `pt-BR`) where the setting is one.
harmless_setting_value(v) if {
	is_string(v)
	setting_subjects & {"language", "locale"} != set()
	regex.match(`^[a-z]{2,20}([-_][a-z]{2,4})?$`, lower(trim_space(v)))
}

# A time zone (`Europe/Berlin`, `UTC`) where the setting is one.
harmless_setting_value(v) if {
	is_string(v)
	setting_subjects & {"timezone", "zone"} != set()
	regex.match(`^[a-z]+(/[a-z_+-]+){0,2}$`, lower(trim_space(v)))
}

# A date format (`DD/MM/YYYY`) where the setting is one.
harmless_setting_value(v) if {
	is_string(v)
	"date" in setting_words
	regex.match(`^[dmy]{1,4}([/. -][dmy]{1,4}){1,2}$`, lower(trim_space(v)))
}

harmless_setting_entry(k, v) if {
	k in setting_name_keys
	is_string(v)
}

harmless_setting_entry(k, v) if {
	not k in setting_name_keys
	is_object(v)
}

harmless_setting_entry(k, v) if {
	not k in setting_name_keys
	harmless_setting_value(v)
}

# An object inside the body holds scalars only (deeper settings are not read).
nested_beyond_read if {
	some [_, v] in setting_entries
	is_object(v)
	some _, inner in v
	not is_string(inner)
	not is_number(inner)
	not is_boolean(inner)
}

nested_beyond_read if {
	some [_, v] in setting_entries
	is_array(v)
}

harmless_setting_change if {
	only_generic_change_words
	not nested_beyond_read
	names_only_harmless_settings
	count([entry | some entry in setting_entries; not harmless_setting_entry(entry[0], entry[1])]) == 0
}

decisions contains d if {
	count(sensitive_change_words) > 0
	is_write
	input.context.original_request
	not is_destructive
	not harmless_setting_change
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
free_text_destination if "tool_free_text" in destination_origins

# With `context.pointed_documents_give_destinations` (off in the default pack), the free text
# of the output the user pointed at (`pointed_free_text`) gives the destination of the action
# the user asked for (the share, the payment, the forward the request names); for an action the
# request does not name (a forwarding rule, while the user asked for a reply), and when the
# switch is off, it is free text like any other. Measured on a held-out set, trusting it passed
# 6 more benign calls and 4 more attacks (a payroll note's "new" account, an incident channel
# invite in an order note): the document the user names is also where an injection sits.
free_text_destination if {
	"pointed_free_text" in destination_origins
	not context_cfg.pointed_documents_give_destinations
}

free_text_destination if {
	"pointed_free_text" in destination_origins
	not request_names_the_action
}

request_names_the_action if count(input.intent.tool_words.in_request) > 0

# A change to who may do what that the request asks for in its own words ("share the folder"
# for a `/permissions` endpoint).
request_names_the_action if {
	count(sensitive_change_words) > 0
	every w in sensitive_change_words {
		request_mentions_change(w)
	}
}

decisions contains d if {
	free_text_destination
	not destination_from_user
	is_write
	not instructed
	d := {
		"decision": "step_up", "class": "context_allow", "priority": 630, "rule": "intent.destination_from_free_text",
		"reason": sprintf("the destination (%s) appears only inside free text of a tool output (or of the output the user pointed at, for an action the request does not name), not in anything the user wrote nor as a field of its own", [concat(", ", sort([p | some p, o in input.intent.provenance; o in {"tool_free_text", "pointed_free_text"}]))]),
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
