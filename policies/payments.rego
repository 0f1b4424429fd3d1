# Money movement above a threshold needs a human's approval.
package aarmor.policy

# A tool whose name contains one of the configured keywords moves money.
payment_tool if {
	some keyword in data.aarmor.config.payments.tool_keywords
	contains(lower(input.action.tool), keyword)
}

payment_amounts contains a if {
	a := input.action.parameters.amount
	is_number(a)
}

payment_amounts contains a if {
	a := input.action.parameters.body.amount
	is_number(a)
}

decisions contains d if {
	payment_tool
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
