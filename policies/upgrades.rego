# Protocol switches (WebSocket and any other `Upgrade`) are actions: allowed only to the hosts in
# data (upgrades.allowed_hosts, domains included). What is not listed is refused before the
# upstream sees the request.
package aarmor.policy

decisions contains d if {
	input.action.operation == "upgrade"
	host := lower(input.action.target.host)
	not host_listed(host, data.aarmor.config.upgrades.allowed_hosts)
	d := {
		"decision": "deny", "class": "context_deny", "priority": 900, "rule": "upgrade.not_allowed",
		"reason": sprintf("a %v upgrade to %s, which is not an allowed upgrade host", [object.get(input.action.parameters, "protocol", "?"), host]),
	}
}
