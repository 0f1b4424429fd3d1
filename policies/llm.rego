# Requests to LLM APIs are actions like any other request: their body leaves the network. The
# providers listed in data (llm.provider_hosts, domains included) receive whole conversations,
# secrets read from tool outputs among them, so requests to them are allowed explicitly; a
# request shaped like an LLM call to any other host is judged on its body by every other rule.
package aarmor.policy

decisions contains d if {
	llm_request
	host := lower(input.action.target.host)
	host_listed(host, data.aarmor.config.llm.provider_hosts)
	d := {
		"decision": "allow", "class": "context_allow", "priority": 990, "rule": "llm.known_provider",
		"reason": sprintf("a request to %s, a known LLM provider", [host]),
	}
}
