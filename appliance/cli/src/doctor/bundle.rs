//! Doctor's checks of what decides: the policy bundle compiles, the identity registry parses
//! and names agents, the embedding model loads where the bundle needs it, and someone can
//! answer the actions held for approval.

use aarmor_engine::identity::Identities;
use aarmor_engine::policy::{PolicySet, PolicySources};
use aarmor_engine::policy_engine::eval_limits;

use super::Check;
use crate::config::Config;

pub fn check(config: &Config, load_model: bool, offline: bool) -> Vec<Check> {
    let mut checks = Vec::new();
    if !config.mediation.enabled {
        checks.push(Check::warn(
            "policy",
            "[mediation] enabled = false: every exchange is forwarded without a decision",
            "set [mediation] enabled = true (the default)",
        ));
        return checks;
    }
    let dir = &config.policy.dir;
    if crate::builtin::installs_policies(config) {
        checks.push(Check::skip(
            "policy",
            format!(
                "no {} here and none installed yet: `aarmor run` installs the built-in pack in {} on first start",
                dir.display(),
                config.data_dir.join("policies").display()
            ),
        ));
        checks.push(approvers(config));
        return checks;
    }
    let mut sources = match PolicySources::read(dir) {
        Ok(s) => s,
        Err(e) => {
            checks.push(Check::fail(
                "policy",
                e.to_string(),
                format!(
                    "point [policy] dir at a policy directory (`aarmor run` installs the built-in pack under the data dir when the default \"policies\" is missing); `aarmor policy check --dir {}`",
                    dir.display()
                ),
            ));
            return checks;
        }
    };
    checks.push(identities(config, &mut sources));
    let set = match PolicySet::compile(sources, eval_limits(&config.policy)) {
        Ok(set) => {
            checks.push(Check::ok(
                "policy",
                format!(
                    "bundle {} version {} ({}) from {} compiles",
                    set.policy.policy_id,
                    set.policy.version,
                    set.policy.hash,
                    dir.display()
                ),
            ));
            Some(set)
        }
        Err(e) => {
            checks.push(Check::fail(
                "policy",
                format!("{} does not compile: {e}", dir.display()),
                format!(
                    "fix the file it names (`aarmor policy check --dir {}` shows the details); a running appliance keeps its last good bundle",
                    dir.display()
                ),
            ));
            None
        }
    };
    if let Some(set) = &set {
        checks.push(credentials(config, set, offline));
    }
    checks.push(model(config, set.as_ref(), load_model));
    checks.push(approvers(config));
    checks
}

/// `credentials.yaml`: every brokered credential's secret can be had now (files private and
/// readable, variables set, token endpoints answering).
fn credentials(config: &Config, set: &PolicySet, offline: bool) -> Check {
    use aarmor_engine::credentials::{mint::MINT_KEY_FILE, CredentialBroker, CREDENTIALS_FILE};
    let config_creds = &set.credentials;
    if config_creds.credentials.is_empty() {
        return Check::skip(
            "credentials",
            format!("no {CREDENTIALS_FILE}: agents bring their own upstream credentials"),
        );
    }
    let key = config.data_dir.join("credentials").join(MINT_KEY_FILE);
    let results = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(CredentialBroker::check_sources(config_creds, &key, offline)),
        Err(e) => {
            return Check::fail(
                "credentials",
                format!("cannot check the credentials: {e}"),
                "retry",
            )
        }
    };
    let failed: Vec<String> = results
        .iter()
        .filter_map(|(name, r)| r.as_ref().err().map(|e| format!("{name}: {e}")))
        .collect();
    if failed.is_empty() {
        let names: Vec<&str> = results.iter().map(|(n, _)| n.as_str()).collect();
        return Check::ok(
            "credentials",
            format!(
                "{} brokered credential(s) ready: {}",
                names.len(),
                names.join(", ")
            ),
        );
    }
    Check::fail(
        "credentials",
        failed.join("; "),
        "fix the secret's source (files mode 0600 and readable by aarmor, variables set in aarmor's environment, the token endpoint reachable); actions that need it are refused",
    )
}

/// Compiles the bundle's `identities.yaml` on its own, so that its error is named apart from
/// the policies'; a registry that does not compile is taken out of `sources`.
fn identities(config: &Config, sources: &mut PolicySources) -> Check {
    let path = sources.dir.join(aarmor_engine::identity::REGISTRY_FILE);
    let unverified = match config.identity.unverified {
        aarmor_engine::identity::UnverifiedMode::Deny => "denied",
        aarmor_engine::identity::UnverifiedMode::Flag => "flagged",
    };
    let Some(text) = &sources.identities else {
        return Check::warn(
            "identities",
            format!("no {}: every agent is unknown and its actions are {unverified}", path.display()),
            "register your agents (source CIDRs, proxy credentials or client certificates) in identities.yaml",
        );
    };
    match Identities::compile(&sources.dir, text) {
        Ok(ids) if ids.agent_count() == 0 => Check::warn(
            "identities",
            format!(
                "{} registers no agent: every action is {unverified}",
                path.display()
            ),
            "register your agents (source CIDRs, proxy credentials or client certificates)",
        ),
        Ok(ids) => Check::ok(
            "identities",
            format!(
                "{} parses: {} agent(s){}",
                path.display(),
                ids.agent_count(),
                if ids.verifies_user_tokens() {
                    ", humans from verified user tokens"
                } else {
                    ""
                }
            ),
        ),
        Err(e) => {
            sources.identities = None;
            Check::fail(
                "identities",
                format!("{} does not parse: {e}", path.display()),
                "correct the entry it names (policies/identities.yaml documents the format); the bundle is refused until it parses",
            )
        }
    }
}

fn model(config: &Config, set: Option<&PolicySet>, load_anyway: bool) -> Check {
    let dir = &config.intent.model_dir;
    if !config.intent.enabled {
        return Check::skip(
            "model",
            "[intent] enabled = false: intent drift is never known",
        );
    }
    let needed = set.is_some_and(|s| s.uses_drift);
    if !needed && !load_anyway {
        return Check::skip(
            "model",
            format!(
                "no policy reads intent.drift: the model in {} is not loaded at start (--load-model checks it anyway)",
                dir.display()
            ),
        );
    }
    if crate::builtin::installs_model(config) {
        return Check::skip(
            "model",
            format!(
                "not installed yet: `aarmor run` installs the built-in model in {} on first start",
                dir.display()
            ),
        );
    }
    let started = std::time::Instant::now();
    match aarmor_intent::EmbeddingModel::load(dir) {
        Ok(_) => Check::ok(
            "model",
            format!(
                "embedding model in {} loads ({} ms)",
                dir.display(),
                started.elapsed().as_millis()
            ),
        ),
        Err(e) => {
            let why = if needed {
                "the bundle reads intent.drift: `aarmor run` refuses to start"
            } else {
                "no policy reads intent.drift yet"
            };
            let check = if needed { Check::fail } else { Check::warn };
            check(
                "model",
                format!("the embedding model in {} does not load ({why}): {e}", dir.display()),
                "restore the model directory (model-int8.onnx, tokenizer.json, SHA256SUMS), point [intent] model_dir at it, or set [intent] enabled = false",
            )
        }
    }
}

fn approvers(config: &Config) -> Check {
    let token = match config.approvals.resolve_token() {
        Ok(t) => t,
        Err(e) => {
            return Check::fail(
                "approvers",
                e,
                "fix [approvals] token_file (the first line of the file is the token)",
            )
        }
    };
    let people = config.approvals.approvers.len();
    match (token.is_some(), people) {
        (false, 0) => Check::warn(
            "approvers",
            "no approver and no operator token: actions that need approval (STEP_UP) are denied at once",
            "add [[approvals.approvers]] (or [approvals] token for automation)",
        ),
        (op, n) => Check::ok(
            "approvers",
            format!(
                "{n} approver(s){}",
                if op { " and the operator token" } else { "" }
            ),
        ),
    }
}
