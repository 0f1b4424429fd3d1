# Shell commands that delete recursively or pipe a download into a shell.
package aarmor.policy

# The tool's own name (MCP tools are server-qualified: "server.bash") is a listed shell.
shell_tool if {
	parts := split(lower(input.action.tool), ".")
	data.aarmor.config.shell.tools[parts[count(parts) - 1]]
}

shell_commands contains c if {
	some key in ["command", "cmd", "script", "code", "input"]
	c := input.action.parameters[key]
	is_string(c)
}

shell_commands contains c if {
	some key in ["command", "cmd", "args", "argv"]
	parts := input.action.parameters[key]
	is_array(parts)
	c := concat(" ", [p | some p in parts; is_string(p)])
}

decisions contains d if {
	shell_tool
	some c in shell_commands
	regex.match(`(^|[\s;&|(])(sudo\s+)?rm\s+(-[A-Za-z-]+\s+)*(-[A-Za-z]*[rR][A-Za-z]*|--recursive)(\s|$)`, c)
	d := {
		"decision": "deny", "class": "forbidden", "priority": 1000, "rule": "shell.recursive_delete",
		"reason": "the command deletes recursively",
	}
}

decisions contains d if {
	shell_tool
	some c in shell_commands
	regex.match(`(?i)\b(curl|wget|fetch)\b[^|;&]*\|\s*(sudo\s+)?(env\s+)?(ba|z|k|da)?sh\b`, c)
	d := {
		"decision": "deny", "class": "forbidden", "priority": 1000, "rule": "shell.pipe_to_shell",
		"reason": "the command pipes a download into a shell",
	}
}
