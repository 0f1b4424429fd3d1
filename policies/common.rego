# Helpers shared by the default pack.
package aarmor.policy

# Everything the action sends, as one JSON text: patterns that must be found anywhere (secrets,
# URLs, statements) are matched against it. Besides the parameters: the tool name, the path,
# and the envelope (an MCP message's other members, a wrapper's extra members, request headers).
params_text := json.marshal([
	input.action.tool,
	object.get(input.action, ["target", "path"], ""),
	input.action.parameters,
	object.get(input.action, "envelope", {}),
])

# Host names of http(s) URLs found anywhere in the parameters.
param_url_hosts contains lower(m[1]) if {
	contains(params_text, "://")
	some m in regex.find_all_string_submatch_n(`https?://([A-Za-z0-9.-]+)`, params_text, -1)
}

# A request to an LLM API (the conversation sent to a model; tool `llm.<provider>`).
llm_request if {
	input.action.operation == "request"
	startswith(input.action.tool, "llm.")
}

# MCP session traffic (initialize, tools/list, notifications, responses to the server).
mcp_session_message if {
	input.action.protocol == "mcp"
	input.action.operation != "tools/call"
}

# Requests that are decided like every other but run no tool: an LLM API request, an MCP session
# message, a protocol switch, a spliced connection. Rules about what leaves (secrets, sinks) apply to them; rules about
# what a tool does (intent, context, payments, arguments) leave them alone.
protocol_traffic if llm_request

protocol_traffic if mcp_session_message

protocol_traffic if input.action.operation == "upgrade"

# A connection spliced byte for byte (a bypass rule), decided before it is made.
protocol_traffic if input.action.operation == "connect"

# The action is a request leaving the network (its target is where the bytes go), not a tool
# call an LLM proposed.
request_side if input.action.protocol in {"rest", "mcp", "sql"}

request_side if llm_request

# `host`, or a domain it is under, is a key of `set` (lookups, not scans).
host_listed(host, set) if {
	labels := split(host, ".")
	some i in numbers.range(0, count(labels) - 1)
	set[concat(".", array.slice(labels, i, count(labels)))]
}
