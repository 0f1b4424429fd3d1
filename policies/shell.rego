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
	# rm by any path (/bin/rm) or unaliased (\rm), after sudo or not.
	regex.match(`(^|[\s;&|(])(sudo\s+)?(\S*/|\\)?rm\s+(-[A-Za-z-]+\s+)*(-[A-Za-z]*[rR][A-Za-z]*|--recursive)(\s|$)`, c)
	d := {
		"decision": "deny", "class": "forbidden", "priority": 1000, "rule": "shell.recursive_delete",
		"reason": "the command deletes recursively",
	}
}

decisions contains d if {
	shell_tool
	some c in shell_commands
	# The shell by name or by path (| /bin/bash).
	regex.match(`(?i)\b(curl|wget|fetch)\b[^|;&]*\|\s*(sudo\s+)?((\S*/)?env\s+)?(\S*/)?(ba|z|k|da)?sh\b`, c)
	d := {
		"decision": "deny", "class": "forbidden", "priority": 1000, "rule": "shell.pipe_to_shell",
		"reason": "the command pipes a download into a shell",
	}
}
