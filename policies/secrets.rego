# Secrets and private keys leaving in the parameters of an action.
package aarmor.policy

secret_patterns := {
	"private key": `-----BEGIN ([A-Z]+ )?PRIVATE KEY-----`,
	"AWS access key id": `\b(AKIA|ASIA)[0-9A-Z]{16}\b`,
	"GitHub token": `\bgh[pousr]_[A-Za-z0-9]{36,}\b`,
	"Slack token": `\bxox[abprs]-[A-Za-z0-9-]{10,}`,
	"OpenAI API key": `\bsk-(proj-)?[A-Za-z0-9_-]{32,}`,
	"Anthropic API key": `\bsk-ant-[A-Za-z0-9_-]{32,}`,
	"Google API key": `\bAIza[0-9A-Za-z_-]{35}\b`,
	"Stripe secret key": `\b(sk|rk)_(live|test)_[0-9A-Za-z]{10,}\b`,
	"password in a connection URL": `[a-z][a-z0-9+.-]{1,15}://[A-Za-z0-9._~%!&'()+,;=-]+:[A-Za-z0-9._~%!&'()+,;=-][A-Za-z0-9._~%!$&'()*+,;=-]{2,}@[A-Za-z0-9.-]+`,
}

# All patterns in one expression: one scan of the parameters in the common case (no secret).
any_secret_pattern := `-----BEGIN ([A-Z]+ )?PRIVATE KEY-----|\b(AKIA|ASIA)[0-9A-Z]{16}\b|\bgh[pousr]_[A-Za-z0-9]{36,}\b|\bxox[abprs]-[A-Za-z0-9-]{10,}|\bsk-(proj-|ant-)?[A-Za-z0-9_-]{32,}|\bAIza[0-9A-Za-z_-]{35}\b|\b(sk|rk)_(live|test)_[0-9A-Za-z]{10,}\b`

has_secret if regex.match(any_secret_pattern, params_text)

# A password inside a connection URL is looked for only in parameters holding a URL with a user
# part (the pattern is costly to run on every action).
has_secret if {
	contains(params_text, "://")
	contains(params_text, "@")
	regex.match(secret_patterns["password in a connection URL"], params_text)
}

# The user hands a secret to a secret store ("set PAYPROC_SECRET_KEY in the repo's CI secrets
# to sk_test_..."): a tool call (LLM or MCP; a generic HTTP tool's URL is one of its
# parameters) named for secrets, and every parameter traced to the user (or the system prompt)
# — the secret, where it goes and under which name. A secret from a tool output, put where an
# instruction or nobody said, or sent by a direct REST request (whose host is no parameter), is
# still refused.
secret_given_by_the_user_to_a_secret_store if {
	not input.action.protocol in {"rest", "sql"}
	some w in action_words
	w in {"secret", "secrets", "vault"}
	count(object.get(input.intent, "provenance", {})) > 0
	count([o | some _, o in input.intent.provenance; not o in {"user", "system"}]) == 0
}

decisions contains d if {
	has_secret
	not secret_given_by_the_user_to_a_secret_store
	some name, pattern in secret_patterns
	regex.match(pattern, params_text)
	d := {
		"decision": "deny", "class": "context_deny", "priority": 950, "rule": "secrets.outbound",
		"reason": sprintf("the parameters contain a %s", [name]),
	}
}
