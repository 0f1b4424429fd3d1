# Shell commands that delete recursively, pipe a download into a shell, send a credential file
# over the network, or force-push when the user did not ask for it.
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

# A file that holds credentials (cloud keys, SSH keys, tokens, the password database).
credential_file_pattern := `(\.aws/credentials|\.ssh/id_[a-z0-9_]+|\.netrc|\.git-credentials|\.kube/config|\.docker/config\.json|/etc/shadow|\.config/gcloud|\.azure/|credentials\.json|\.pgpass)`

decisions contains d if {
	shell_tool
	some c in shell_commands
	# A network client (or a pipe into one) sending a credential file.
	regex.match(`(?i)\b(curl|wget|scp|rsync|sftp|nc|ncat|socat|http|https|ftp)\b`, c)
	regex.match(credential_file_pattern, c)
	d := {
		"decision": "deny", "class": "forbidden", "priority": 1000, "rule": "shell.credential_upload",
		"reason": "the command sends a credential file over the network",
	}
}

decisions contains d if {
	shell_tool
	some c in shell_commands
	# git push --force / -f / +refspec: rewrites the remote's history.
	regex.match(`(?i)\bgit\s+push\b.*(\s--force(-with-lease)?\b|\s-[a-z]*f[a-z]*\b|\s\+\S+)`, c)
	not contains(request_text, "force")
	d := {
		"decision": "step_up", "class": "context_allow", "priority": 480, "rule": "shell.force_push_not_asked",
		"reason": "the command force-pushes (rewrites the remote's history) and the user's request does not ask for it",
		"approvers": data.aarmor.config.intent.approvers, "timeout": data.aarmor.config.intent.timeout_s,
	}
}
