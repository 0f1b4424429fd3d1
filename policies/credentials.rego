# Brokered credentials (credentials.yaml, AARM R9): which credential a write must use, and
# whose writes need a human. `input.credential` names the credential aarmor attaches if the
# action is allowed (name, scope, binding, source, presented); the broker itself already refuses
# a use outside the credential's bindings (`credentials.scope_violation`).
#
# Configure in data.json, aarmor.config.credentials:
#   write_requires: {"billing.example.com": "billing-write"}  writes to the host only with it
#   step_up_writes: ["billing-write"]                          writes with it need approval
package aarmor.policy

credential_read_methods := {"GET", "HEAD", "OPTIONS"}

# A write as the broker judged it (`access`: a body, a method override or a protocol switch
# make a GET a write); without a credential, by its method.
credential_write if input.credential.access == "write"

credential_write if {
	not input.credential.access
	not input.action.target.method in credential_read_methods
}

default credential_name := ""

credential_name := input.credential.name

credential_required_for_host := data.aarmor.config.credentials.write_requires[input.action.target.host]

# Each rule looks at its configuration first: with none (the default), it stops there.
decisions contains d if {
	required := credential_required_for_host
	credential_write
	credential_name != required
	d := {
		"decision": "deny", "class": "context_deny", "priority": 900, "rule": "credentials.write_requires",
		"reason": sprintf("writes to %s go only with the %s credential (this one uses %s)", [
			input.action.target.host, required,
			object.get({"": "none"}, credential_name, credential_name),
		]),
	}
}

decisions contains d if {
	count(data.aarmor.config.credentials.step_up_writes) > 0
	credential_write
	credential_name in data.aarmor.config.credentials.step_up_writes
	d := {
		"decision": "step_up", "class": "context_allow", "priority": 700, "rule": "credentials.step_up_write",
		"reason": sprintf("a write with the %s credential needs approval", [credential_name]),
		"approvers": data.aarmor.config.credentials.approvers,
		"timeout": data.aarmor.config.credentials.timeout_s,
	}
}
