//! Rego policies: a policy directory compiled into one bundle evaluated by regorus' compiled VM.
//!
//! Contract (documented for operators in `policies/README.md`):
//! - every policy module that decides is in `package aarmor.policy` and adds candidate objects to
//!   the set `decisions`; helpers may live in other packages; `*_test.rego` files hold tests;
//! - the input is `{action, identity, context, intent, schema}`;
//! - `policies/data.json` (optional) is the data document, `policies/manifest.json` (optional)
//!   names the bundle (`policy_id`, `version`), `policies/tools/<tool>.json` are operator schemas.
//!
//! A bundle is compiled completely before it is used; its identity is the sha256 over every file
//! it was built from, so a receipt names exactly the policy that decided.

pub mod candidate;
pub mod resolve;
pub mod schemas;
pub mod testing;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aarmor_core::receipt::{sha256_tagged, PolicyRef};
use regorus::languages::rego::compiler::Compiler;
use regorus::rvm::program::Program;
use regorus::rvm::vm::RegoVM;
use regorus::utils::limits::ExecutionTimerConfig;
use serde::Deserialize;
use serde_json::Value;

use crate::data_classes::Classifiers;
use crate::identity::Identities;

pub use candidate::{ApprovalRoute, Candidate, Patch};
pub use resolve::{resolve, Resolution};
pub use schemas::ToolSchemas;

/// The rule every bundle must define.
pub const ENTRY_POINT: &str = "data.aarmor.policy.decisions";
/// The rule naming hosts where reads are actions too (see [`ReadActionHosts`]).
pub const READ_ACTION_HOSTS: &str = "data.aarmor.policy.read_action_hosts";

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("policy directory {path}: {message}")]
    Load { path: PathBuf, message: String },
    #[error("policy bundle does not compile: {0}")]
    Compile(String),
    #[error("policy evaluation failed: {0}")]
    Eval(String),
}

/// Limits of one evaluation.
#[derive(Debug, Clone, Copy)]
pub struct EvalLimits {
    pub time: Duration,
    pub instructions: usize,
}

impl Default for EvalLimits {
    fn default() -> Self {
        Self {
            time: Duration::from_millis(50),
            instructions: 1_000_000,
        }
    }
}

/// The files of a policy directory.
#[derive(Debug, Clone, Default)]
pub struct PolicySources {
    pub dir: PathBuf,
    /// `(relative path, content)` of every `.rego` file, tests included.
    pub rego: Vec<(String, String)>,
    pub data: Value,
    pub manifest: Value,
    /// Operator schemas by tool name.
    pub tool_schemas: Vec<(String, Value)>,
    /// `(relative path, content)` of the operator's data classifiers (`classifiers/*.yaml`).
    pub classifiers: Vec<(String, String)>,
    /// The identity registry (`identities.yaml`), when the bundle has one.
    pub identities: Option<String>,
    /// The brokered credentials (`credentials.yaml`), when the bundle has them.
    pub credentials: Option<String>,
    /// `sha256:` over every file except tests.
    pub hash: String,
}

fn load_err(path: &Path, message: impl std::fmt::Display) -> PolicyError {
    PolicyError::Load {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), PolicyError> {
    let entries = std::fs::read_dir(dir).map_err(|e| load_err(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| load_err(dir, e))?;
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

impl PolicySources {
    pub fn read(dir: &Path) -> Result<Self, PolicyError> {
        if !dir.is_dir() {
            return Err(load_err(dir, "not a directory"));
        }
        let mut files = Vec::new();
        walk(dir, &mut files)?;
        files.sort();
        let mut sources = PolicySources {
            dir: dir.to_path_buf(),
            data: Value::Object(Default::default()),
            manifest: Value::Object(Default::default()),
            ..Default::default()
        };
        let mut hashed: Vec<u8> = Vec::new();
        for path in files {
            let rel = path
                .strip_prefix(dir)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            let is_test = rel.ends_with("_test.rego") || rel.starts_with("tests/");
            let is_classifier = rel.starts_with("classifiers/")
                && [".yaml", ".yml", ".json"].iter().any(|x| rel.ends_with(x));
            let wanted = rel.ends_with(".rego")
                || rel == "data.json"
                || rel == "manifest.json"
                || rel == crate::identity::REGISTRY_FILE
                || rel == crate::credentials::CREDENTIALS_FILE
                || is_classifier
                || (rel.starts_with("tools/") && rel.ends_with(".json"));
            if !wanted {
                continue;
            }
            let content = std::fs::read_to_string(&path).map_err(|e| load_err(&path, e))?;
            if !is_test {
                hashed.extend_from_slice(rel.as_bytes());
                hashed.push(0);
                hashed.extend_from_slice(content.as_bytes());
                hashed.push(0);
            }
            if rel.ends_with(".rego") {
                sources.rego.push((rel, content));
            } else if rel == crate::identity::REGISTRY_FILE {
                sources.identities = Some(content);
            } else if rel == crate::credentials::CREDENTIALS_FILE {
                sources.credentials = Some(content);
            } else if is_classifier {
                sources.classifiers.push((rel, content));
            } else {
                let value: Value =
                    serde_json::from_str(&content).map_err(|e| load_err(&path, e))?;
                if rel == "data.json" {
                    sources.data = value;
                } else if rel == "manifest.json" {
                    sources.manifest = value;
                } else {
                    let tool = rel
                        .trim_start_matches("tools/")
                        .trim_end_matches(".json")
                        .to_string();
                    sources.tool_schemas.push((tool, value));
                }
            }
        }
        if !sources.rego.iter().any(|(p, _)| !p.ends_with("_test.rego")) {
            return Err(load_err(dir, "no .rego policy files"));
        }
        sources.hash = sha256_tagged(&hashed);
        Ok(sources)
    }

    pub fn policy_ref(&self) -> PolicyRef {
        let dir_name = self
            .dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "policies".into());
        PolicyRef {
            policy_id: self
                .manifest
                .get("policy_id")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or(dir_name),
            version: self
                .manifest
                .get("version")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| self.hash[7..19].to_string()),
            hash: self.hash.clone(),
        }
    }

    /// A regorus engine with every module (tests too when `with_tests`) and the data.
    pub fn engine(&self, with_tests: bool) -> Result<regorus::Engine, PolicyError> {
        let mut engine = regorus::Engine::new();
        engine.set_strict_builtin_errors(true);
        for (path, content) in &self.rego {
            if !with_tests && path.ends_with("_test.rego") {
                continue;
            }
            engine
                .add_policy(path.clone(), content.clone())
                .map_err(|e| PolicyError::Compile(format!("{path}: {e}")))?;
        }
        engine
            .add_data(regorus::Value::from(self.data.clone()))
            .map_err(|e| PolicyError::Compile(format!("data.json: {e}")))?;
        Ok(engine)
    }
}

/// A compiled policy bundle.
pub struct PolicySet {
    pub policy: PolicyRef,
    pub sources: PolicySources,
    program: Arc<Program>,
    data: regorus::Value,
    limits: EvalLimits,
    /// Loaded VMs ready for the next evaluation (program and data set once, not per action).
    vms: VmPool,
    pub schemas: Arc<ToolSchemas>,
    pub classifiers: Arc<Classifiers>,
    /// Who is who: the agent registry and the sources of human principals.
    pub identities: Arc<Identities>,
    /// Whether any policy module reads a model-based intent signal (`intent.drift`...): when
    /// none does, the embedding model is never run.
    pub uses_drift: bool,
    /// Hosts where every request, reads included, is an action.
    pub read_action_hosts: Arc<ReadActionHosts>,
    /// The brokered credentials and their bindings (`credentials.yaml`).
    pub credentials: Arc<crate::credentials::CredentialConfig>,
}

/// Hosts (each with its subdomains) where every request is an action, reads (`GET`) included:
/// the bundle's `read_action_hosts` rule, a set of host names evaluated once when the bundle is
/// loaded. Elsewhere a read without a body is forwarded without a decision.
#[derive(Debug, Default)]
pub struct ReadActionHosts(std::collections::HashSet<String>);

impl ReadActionHosts {
    /// Whether `host` or a domain it is under is listed.
    pub fn covers(&self, host: &str) -> bool {
        if self.0.is_empty() {
            return false;
        }
        let host = host.trim_end_matches('.');
        // Host names arrive lower-case almost always: no copy then (this runs on every read).
        let host: std::borrow::Cow<str> = if host.bytes().any(|b| b.is_ascii_uppercase()) {
            host.to_ascii_lowercase().into()
        } else {
            host.into()
        };
        let mut rest = host.as_ref();
        loop {
            if self.0.contains(rest) {
                return true;
            }
            match rest.split_once('.') {
                Some((_, parent)) => rest = parent,
                None => return false,
            }
        }
    }

    /// The rule's value in `engine`; none when the bundle does not define it.
    fn evaluate(engine: &mut regorus::Engine) -> Result<Self, PolicyError> {
        let err = |e: String| PolicyError::Compile(format!("{READ_ACTION_HOSTS}: {e}"));
        engine.set_input(regorus::Value::new_object());
        let results = engine
            .eval_query(READ_ACTION_HOSTS.to_string(), false)
            .map_err(|e| err(e.to_string()))?;
        let mut hosts = std::collections::HashSet::new();
        for value in results
            .result
            .iter()
            .flat_map(|r| r.expressions.iter().map(|e| &e.value))
        {
            let json = serde_json::to_value(value).map_err(|e| err(e.to_string()))?;
            let items = match json {
                serde_json::Value::Array(items) => items,
                other => return Err(err(format!("must be a set of host names, got {other}"))),
            };
            for item in items {
                match item {
                    serde_json::Value::String(h) if !h.trim().is_empty() => {
                        hosts.insert(h.trim().trim_end_matches('.').to_ascii_lowercase());
                    }
                    other => return Err(err(format!("not a host name: {other}"))),
                }
            }
        }
        Ok(Self(hosts))
    }
}

impl std::fmt::Debug for PolicySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicySet")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl PolicySet {
    /// Reads and compiles a policy directory; nothing is used unless all of it compiles.
    pub fn load(dir: &Path, limits: EvalLimits) -> Result<Self, PolicyError> {
        let sources = PolicySources::read(dir)?;
        Self::compile(sources, limits)
    }

    pub fn compile(sources: PolicySources, limits: EvalLimits) -> Result<Self, PolicyError> {
        let mut engine = sources.engine(false)?;
        let packages = engine
            .get_packages()
            .map_err(|e| PolicyError::Compile(e.to_string()))?;
        if !packages.iter().any(|p| p == "data.aarmor.policy") {
            return Err(PolicyError::Compile(format!(
                "no module declares `package aarmor.policy` (found: {})",
                packages.join(", ")
            )));
        }
        let read_action_hosts = ReadActionHosts::evaluate(&mut engine)?;
        let entry: regorus::Rc<str> = ENTRY_POINT.into();
        let compiled = engine
            .compile_with_entrypoint(&entry)
            .map_err(|e| PolicyError::Compile(e.to_string()))?;
        let program = Compiler::compile_from_policy(&compiled, &[ENTRY_POINT])
            .map_err(|e| PolicyError::Compile(e.to_string()))?;
        let schemas = ToolSchemas::with_operator(sources.tool_schemas.clone())
            .map_err(|e| PolicyError::Compile(format!("tools/: {e}")))?;
        let classifiers = Classifiers::compile(&sources.classifiers)
            .map_err(|e| PolicyError::Compile(format!("classifiers/: {e}")))?;
        let identities = match &sources.identities {
            Some(text) => Identities::compile(&sources.dir, text).map_err(PolicyError::Compile)?,
            None => Identities::empty(),
        };
        let credentials = match &sources.credentials {
            Some(text) => crate::credentials::CredentialConfig::compile(&sources.dir, text)
                .map_err(|e| {
                    PolicyError::Compile(format!("{}: {e}", crate::credentials::CREDENTIALS_FILE))
                })?,
            None => Default::default(),
        };
        let uses_drift = sources
            .rego
            .iter()
            .any(|(p, c)| !p.ends_with("_test.rego") && c.contains("intent.drift"));
        let set = Self {
            credentials: Arc::new(credentials),
            read_action_hosts: Arc::new(read_action_hosts),
            classifiers: Arc::new(classifiers),
            identities: Arc::new(identities),
            uses_drift,
            policy: sources.policy_ref(),
            data: regorus::Value::from(sources.data.clone()),
            sources,
            program,
            limits,
            vms: VmPool::default(),
            schemas: Arc::new(schemas),
        };
        set.warm_up();
        Ok(set)
    }

    /// Evaluates a few typical actions once, so that what the policies compile lazily (regular
    /// expressions) is ready before the first real action and does not eat its time budget.
    fn warm_up(&self) {
        let target = |method: &str, path: &str| serde_json::json!({"host": "warm-up.invalid", "port": 443, "method": method, "path": path});
        let params = serde_json::json!({
            "text": "see https://warm-up.invalid/x",
            "command": "echo warm-up | cat",
            "body": {"amount": 1, "text": "warm-up"},
        });
        let limits = EvalLimits {
            time: Duration::from_secs(5),
            ..self.limits
        };
        for (protocol, tool, operation, method, path) in [
            (
                "rest",
                "warm-up.invalid/hooks/{id}",
                "post",
                "POST",
                "/hooks/1",
            ),
            ("mcp", "warm-up.bash", "tools/call", "POST", "/mcp"),
            (
                "openai_chat",
                "bash",
                "call",
                "POST",
                "/v1/chat/completions",
            ),
            ("sql", "warm-up", "unparsed", "POST", "/"),
        ] {
            let input = serde_json::json!({
                "action": {
                    "protocol": protocol, "tool": tool, "operation": operation,
                    "target": target(method, path), "parameters": params,
                    "risk_signals": [], "identity": {},
                },
                "identity": {}, "context": {}, "intent": {},
                "schema": {"operator": false, "declared": false, "violations": []},
            });
            let _ = self.evaluate_within(&input, limits);
        }
    }

    fn new_vm(&self) -> Result<RegoVM, PolicyError> {
        let mut vm = RegoVM::new();
        vm.load_program(self.program.clone());
        vm.set_data(self.data.clone())
            .map_err(|e| PolicyError::Eval(e.to_string()))?;
        Ok(vm)
    }

    /// Evaluates the bundle on `input`; returns the candidates. Errors (including a malformed
    /// candidate or a limit hit) are for the caller to turn into DENY.
    pub fn evaluate(&self, input: &Value) -> Result<Vec<Candidate>, PolicyError> {
        self.evaluate_within(input, self.limits)
    }

    fn evaluate_within(
        &self,
        input: &Value,
        limits: EvalLimits,
    ) -> Result<Vec<Candidate>, PolicyError> {
        let mut vm = match self.vms.take() {
            Some(vm) => vm,
            None => self.new_vm()?,
        };
        // Converted from the borrowed document: no copy of the input first.
        let input = regorus::Value::deserialize(input)
            .map_err(|e| PolicyError::Eval(format!("input: {e}")))?;
        vm.set_input(input);
        vm.set_execution_timer_config(Some(ExecutionTimerConfig {
            limit: limits.time,
            check_interval: std::num::NonZeroU32::new(64).unwrap_or(std::num::NonZeroU32::MIN),
        }));
        vm.set_max_instructions(limits.instructions);
        let result = vm.execute().map_err(|e| PolicyError::Eval(e.to_string()))?;
        // Only a VM that completed goes back to the pool; one that failed is dropped.
        self.vms.give_back(vm);
        let json = serde_json::to_value(&result).map_err(|e| PolicyError::Eval(e.to_string()))?;
        match json {
            Value::Null => Ok(Vec::new()),
            Value::String(s) if s == "<undefined>" => Ok(Vec::new()),
            Value::Array(items) => items
                .iter()
                .map(Candidate::parse)
                .collect::<Result<Vec<_>, _>>()
                .map_err(PolicyError::Eval),
            Value::Object(o) if o.is_empty() => Ok(Vec::new()),
            other => Err(PolicyError::Eval(format!(
                "`decisions` must be a set of objects, got {other}"
            ))),
        }
    }
}

/// VMs with the bundle's program and data loaded, reused across evaluations: a VM resets its
/// run state (registers, rule cache, timer) at the start of every `execute`, and only the input
/// changes between actions. Bounded: evaluations beyond the pool's size build a fresh VM.
#[derive(Default)]
struct VmPool(std::sync::Mutex<Vec<RegoVM>>);

impl VmPool {
    const MAX_IDLE: usize = 16;

    fn take(&self) -> Option<RegoVM> {
        self.0.lock().ok()?.pop()
    }

    fn give_back(&self, vm: RegoVM) {
        if let Ok(mut idle) = self.0.lock() {
            if idle.len() < Self::MAX_IDLE {
                idle.push(vm);
            }
        }
    }
}

#[cfg(test)]
mod tests;
