//! `aarmor doctor`: checks a configured (and, when it runs, a running) appliance and says what
//! to fix — the configuration, the data directory and its free space, the CA and its expiry,
//! the signing keys and their modes, the stores' sizes, the policy bundle, the identity
//! registry, the embedding model, the approvers, the SIEM sinks, the object store and the
//! running appliance's health.
//!
//! Every check is read-only: doctor never creates, installs or repairs anything, and never opens
//! a store for writing. Network checks connect to what the configuration names and nothing else,
//! each within [`reach::CONNECT_TIMEOUT`].

mod bundle;
mod files;
mod reach;

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

use crate::config::Config;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    /// Not checked here, and why (e.g. a UDP sink cannot be probed).
    Skip,
    /// Works now, but will not for long or not as intended.
    Warn,
    /// Broken: the appliance does not start, or does not do what the configuration says.
    Fail,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Ok => "ok",
            Self::Skip => "skip",
            Self::Warn => "WARN",
            Self::Fail => "FAIL",
        })
    }
}

/// One finding: what was checked, how it came out, and what to do about it.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Short name of what was checked (`ca`, `keys`, `sink siem`, ...).
    pub name: String,
    pub status: Status,
    pub detail: String,
    /// What to do, for a warning or a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    pub fn ok(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            status: Status::Ok,
            detail: detail.into(),
            fix: None,
        }
    }

    pub fn skip(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            status: Status::Skip,
            ..Self::ok(name, detail)
        }
    }

    pub fn warn(
        name: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            status: Status::Warn,
            fix: Some(fix.into()),
            ..Self::ok(name, detail)
        }
    }

    pub fn fail(
        name: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            status: Status::Fail,
            fix: Some(fix.into()),
            ..Self::ok(name, detail)
        }
    }
}

/// What `aarmor doctor` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The configuration file it read (for the report's heading).
    pub config_path: Option<PathBuf>,
    /// The admin listener of the running appliance (default: `[admin] listen`).
    pub admin: Option<String>,
    /// No network checks (SIEM sinks, object store, webhooks, the running appliance).
    pub offline: bool,
    /// Load the embedding model even when no policy reads intent drift.
    pub load_model: bool,
}

/// Runs every check against `config` (already loaded and validated).
pub fn run(config: &Config, options: &Options) -> Vec<Check> {
    let mut checks = vec![Check::ok(
        "config",
        match &options.config_path {
            Some(p) => format!("{} is valid", p.display()),
            None => "no configuration file: built-in defaults".to_string(),
        },
    )];
    checks.extend(files::check(config));
    checks.extend(bundle::check(config, options.load_model, options.offline));
    if options.offline {
        checks.push(Check::skip(
            "network",
            "--offline: SIEM sinks, object store, webhooks and the running appliance not checked",
        ));
    } else {
        checks.extend(reach::check(config, options.admin.as_deref()));
    }
    checks
}

/// The report as an operator reads it.
pub fn render(checks: &[Check], heading: &str) -> String {
    let mut out = format!("{heading}\n\n");
    let width = checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for c in checks {
        out.push_str(&format!(
            "{:<5} {:<width$}  {}\n",
            c.status.to_string(),
            c.name,
            c.detail
        ));
        if let Some(fix) = &c.fix {
            out.push_str(&format!("{:<5} {:<width$}  fix: {fix}\n", "", ""));
        }
    }
    let fails = checks.iter().filter(|c| c.status == Status::Fail).count();
    let warns = checks.iter().filter(|c| c.status == Status::Warn).count();
    out.push('\n');
    out.push_str(&match (fails, warns) {
        (0, 0) => "All checks passed.\n".to_string(),
        (0, w) => format!("No failure; {w} warning(s) to look at.\n"),
        (f, w) => format!("{f} problem(s) to fix, {w} warning(s).\n"),
    });
    out
}

/// `aarmor doctor` itself: the report, and exit status 1 when a check failed.
pub fn command(
    config: Result<Config, crate::config::ConfigError>,
    options: &Options,
    json: bool,
) -> std::process::ExitCode {
    let checks = match config {
        Ok(mut config) => {
            // Where `aarmor run` would find the built-in policy pack and model; doctor never
            // installs them.
            if let Err(e) = crate::builtin::resolve(&mut config, crate::builtin::Install::No) {
                vec![Check::fail(
                    "config",
                    e.to_string(),
                    "fix the paths in [policy] dir and [intent] model_dir",
                )]
            } else {
                run(&config, options)
            }
        }
        Err(e) => vec![Check::fail(
            "config",
            e.to_string(),
            "correct the key it names (`aarmor config print-default` documents every key)",
        )],
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&checks).unwrap_or_else(|_| "[]".into())
        );
    } else {
        let heading = format!(
            "aarmor doctor: {}",
            options
                .config_path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "built-in defaults".into())
        );
        print!("{}", render(&checks, &heading));
    }
    if checks.iter().any(|c| c.status == Status::Fail) {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}

/// `n` bytes for people: `512 B`, `3.2 MiB`, `41.0 GiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_fixes_and_a_verdict() {
        let checks = vec![
            Check::ok("config", "valid"),
            Check::warn("ca", "expires in 10 days", "rotate it"),
            Check::fail("policy", "does not compile", "run aarmor policy check"),
        ];
        let text = render(&checks, "aarmor doctor: x");
        assert!(text.contains("WARN  ca"));
        assert!(text.contains("fix: rotate it"));
        assert!(text.contains("1 problem(s) to fix, 1 warning(s)."));
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(3 * 1024 * 1024 + 200 * 1024), "3.2 MiB");
    }
}
