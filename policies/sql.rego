# Destructive and unbounded SQL (SQL-over-HTTP endpoints, and SQL inside tool-call arguments).
package aarmor.policy

sql_write_kinds := {"insert", "update", "delete", "merge", "drop", "truncate", "alter", "create", "grant", "revoke"}

decisions contains d if {
	input.action.protocol == "sql"
	input.action.operation in {"drop", "truncate"}
	d := {
		"decision": "deny", "class": "forbidden", "priority": 1000, "rule": "sql.destructive_ddl",
		"reason": sprintf("%s statements are forbidden", [upper(input.action.operation)]),
	}
}

decisions contains d if {
	input.action.protocol == "sql"
	input.action.parameters.has_where == false
	d := {
		"decision": "deny", "class": "context_deny", "priority": 900, "rule": "sql.unbounded_write",
		"reason": "DELETE or UPDATE without a WHERE clause",
	}
}

decisions contains d if {
	input.action.protocol == "sql"
	input.action.parameters.statement_count > 1
	some kind in input.action.parameters.statement_kinds
	kind in sql_write_kinds
	d := {
		"decision": "deny", "class": "context_deny", "priority": 900, "rule": "sql.multi_statement_write",
		"reason": "several statements in one request, one of them a write",
	}
}

decisions contains d if {
	input.action.protocol == "sql"
	input.action.operation == "unparsed"
	not input.action.tool in data.aarmor.config.sql.read_only_tools
	d := {
		"decision": "deny", "class": "context_deny", "priority": 800, "rule": "sql.unparsed_on_write_endpoint",
		"reason": "SQL that does not parse cannot be shown to be harmless on an endpoint that accepts writes",
	}
}

# SQL carried in the arguments of a tool call or an MCP call.
decisions contains d if {
	input.action.protocol != "sql"
	not protocol_traffic
	regex.match(`(?i)\b(drop|truncate)\s+(table|database|schema)\b`, params_text)
	d := {
		"decision": "deny", "class": "forbidden", "priority": 1000, "rule": "sql.destructive_ddl_in_arguments",
		"reason": "the arguments carry a DROP or TRUNCATE statement",
	}
}
