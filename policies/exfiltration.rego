# Known exfiltration sinks (paste sites, request catchers, tunnels) and webhooks to unknown hosts.
package aarmor.policy

# The host, or a domain it is under, is a listed sink (lookups, not scans).
exfiltration_sink(host) if host_listed(host, data.aarmor.config.exfiltration.sink_hosts)

# Requests to a sink are actions even when they are reads: a GET carries data out in its URL
# (the image link a prompt injection plants, for one).
read_action_hosts contains host if data.aarmor.config.exfiltration.sink_hosts[host]

decisions contains d if {
	request_side
	host := lower(input.action.target.host)
	exfiltration_sink(host)
	d := {
		"decision": "deny", "class": "forbidden", "priority": 1000, "rule": "exfiltration.known_sink",
		"reason": sprintf("%s is a known exfiltration sink", [host]),
	}
}

decisions contains d if {
	not protocol_traffic
	some host in param_url_hosts
	exfiltration_sink(host)
	d := {
		"decision": "deny", "class": "forbidden", "priority": 1000, "rule": "exfiltration.known_sink_in_arguments",
		"reason": sprintf("the arguments point at %s, a known exfiltration sink", [host]),
	}
}

webhook_allowed(host) if data.aarmor.config.exfiltration.webhook_allowed_hosts[host]

decisions contains d if {
	input.action.protocol == "rest"
	input.action.target.method in {"POST", "PUT"}
	regex.match(`(?i)/(webhook|webhooks|hooks)(/|$)`, input.action.target.path)
	host := lower(input.action.target.host)
	not webhook_allowed(host)
	d := {
		"decision": "deny", "class": "context_deny", "priority": 850, "rule": "exfiltration.webhook_unknown_host",
		"reason": sprintf("webhook call to %s, which is not an allowed webhook host", [host]),
	}
}
