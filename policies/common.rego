# Helpers shared by the default pack.
package aarmor.policy

# The action's parameters as one JSON text: patterns that must be found anywhere in the
# parameters (secrets, URLs, statements) are matched against it.
params_text := json.marshal(input.action.parameters)

# Host names of http(s) URLs found anywhere in the parameters.
param_url_hosts contains lower(m[1]) if {
	contains(params_text, "://")
	some m in regex.find_all_string_submatch_n(`https?://([A-Za-z0-9.-]+)`, params_text, -1)
}
