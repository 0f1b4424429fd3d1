# Money movement above a threshold needs a human's approval, unless the user asked for exactly
# that transfer in a session nothing tried to steer.
package aarmor.policy

# A tool whose name contains one of the configured keywords moves money.
payment_tool if {
	not protocol_traffic
	some keyword in data.aarmor.config.payments.tool_keywords
	contains(lower(input.action.tool), keyword)
}

# Where an amount is found: a field named amount up to four levels deep in the parameters (a
# tool call's arguments, a REST body, JSON or form, objects and lists inside it, a query string).
# Looked for only in tools that move money.
amount_fields contains v if {
	payment_tool
	v := input.action.parameters.amount
}

amount_fields contains v if {
	payment_tool
	some k
	v := input.action.parameters[k].amount
}

amount_fields contains v if {
	payment_tool
	some k, j
	v := input.action.parameters[k][j].amount
}

amount_fields contains v if {
	payment_tool
	some k, j, l
	v := input.action.parameters[k][j][l].amount
}

# A name given more than once (amount=10&amount=90000) is a list: every value counts, since the
# server may act on any of them.
amount_values contains v if {
	some f in amount_fields
	not is_array(f)
	v := f
}

amount_values contains v if {
	some f in amount_fields
	is_array(f)
	some v in f
}

payment_amounts contains a if {
	some a in amount_values
	is_number(a)
}

# Forms and query strings carry numbers as text (Stripe's API takes amount=5000), in any form a
# number parser reads: a sign, decimals, an exponent (1e6).
payment_amounts contains a if {
	some v in amount_values
	is_string(v)
	regex.match(`^\s*[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?\s*$`, v)
	a := to_number(trim_space(v))
}

# Where the amounts came from (`amount`, `body.amount`, ...).
amount_origins contains origin if {
	some path, origin in input.intent.provenance
	parts := split(path, ".")
	parts[count(parts) - 1] == "amount"
}

# A large transfer the user asked for: the request names the action, every amount was written
# by the user or read from the data the task is about (the bill, the lease), the destination is
# traced, and no tool output in the session addressed the model. Off with
# `payments.step_up_traced_amounts` (every large transfer then waits for a human).
large_transfer_as_asked if {
	not data.aarmor.config.payments.step_up_traced_amounts
	not instructed
	count(input.intent.tool_words.in_request) > 0
	destination_traced
	count(amount_origins) > 0
	every o in amount_origins {
		o in {"user", "tool_output"}
	}
}

decisions contains d if {
	payment_tool
	not large_transfer_as_asked
	some amount in payment_amounts
	limit := data.aarmor.config.payments.step_up_above
	amount > limit
	d := {
		"decision": "step_up", "class": "context_allow", "priority": 700, "rule": "payments.large_transfer",
		"reason": sprintf("a transfer of %v exceeds %v and needs approval", [amount, limit]),
		"approvers": data.aarmor.config.payments.approvers,
		"timeout": data.aarmor.config.payments.timeout_s,
	}
}
