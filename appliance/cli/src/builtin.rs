//! The default policy pack and the bundled embedding model, built into the binary: where the
//! configuration keeps the default (relative) directories and they do not exist in the working
//! directory, aarmor uses copies under the data directory, installed there on first start.

use std::path::{Path, PathBuf};

use aarmor_engine::{IntentSettings, PolicySettings};

use crate::config::Config;

mod files {
    include!(concat!(env!("OUT_DIR"), "/builtin_files.rs"));
}

/// One directory's worth of built-in files.
struct Builtin {
    what: &'static str,
    /// Where it goes under the data directory.
    subdir: &'static str,
    files: &'static [(&'static str, &'static [u8])],
    /// The file whose content tells two copies' versions apart.
    version_file: &'static str,
    /// What the operator can do about it, said when it is installed.
    hint: &'static str,
}

const POLICIES: Builtin = Builtin {
    what: "policy pack",
    subdir: "policies",
    files: files::POLICY_FILES,
    version_file: "manifest.json",
    hint: "edit it there, or set [policy] dir",
};

const MODEL: Builtin = Builtin {
    what: "embedding model",
    subdir: "models/all-MiniLM-L6-v2",
    files: files::MODEL_FILES,
    version_file: "SHA256SUMS",
    hint: "[intent] model_dir names another",
};

/// Whether to write the built-in copies when they are not under the data directory yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Install {
    /// `aarmor run`: install, and say so.
    Yes,
    /// Commands that only read (`aarmor policy ...`): use an installed copy, never write one.
    No,
}

/// Points `[policy] dir` and `[intent] model_dir` at the copies under the data directory where
/// they hold their default values and those are missing from the working directory; a directory
/// configured to where the copy goes (`<data_dir>/policies`, `<data_dir>/models/...`) is
/// installed there when missing. A directory configured to anything else is never replaced:
/// when it is missing, that stays an error for the caller to report.
pub fn resolve(config: &mut Config, install: Install) -> anyhow::Result<()> {
    if names_policies_copy(config) {
        if let Some(dir) = locate(&POLICIES, &config.policy.dir, &config.data_dir, install)? {
            config.policy.dir = dir;
        }
    }
    let wants_model = config.mediation.enabled && config.intent.enabled;
    if names_model_copy(config) && wants_model {
        if let Some(dir) = locate(&MODEL, &config.intent.model_dir, &config.data_dir, install)? {
            config.intent.model_dir = dir;
        }
    }
    Ok(())
}

/// `[policy] dir` is the default or names the copy under the data directory: the built-in pack
/// is used (and installed) there.
fn names_policies_copy(config: &Config) -> bool {
    config.policy.dir == PolicySettings::default().dir
        || same_path(&config.policy.dir, &config.data_dir.join(POLICIES.subdir))
}

/// `[intent] model_dir` is the default or names the copy under the data directory.
fn names_model_copy(config: &Config) -> bool {
    config.intent.model_dir == IntentSettings::default().model_dir
        || same_path(
            &config.intent.model_dir,
            &config.data_dir.join(MODEL.subdir),
        )
}

/// After [`resolve`]: `aarmor run` installs the built-in policy pack at `[policy] dir` on its
/// first start (it is missing, and it is where the built-in one goes).
pub fn installs_policies(config: &Config) -> bool {
    names_policies_copy(config) && !config.policy.dir.is_dir()
}

/// After [`resolve`]: `aarmor run` installs the built-in model at `[intent] model_dir` on its
/// first start.
pub fn installs_model(config: &Config) -> bool {
    names_model_copy(config) && !config.intent.model_dir.is_dir()
}

/// The directory to use instead of `configured`, if any.
fn locate(
    builtin: &Builtin,
    configured: &Path,
    data_dir: &Path,
    install: Install,
) -> anyhow::Result<Option<PathBuf>> {
    let target = data_dir.join(builtin.subdir);
    if configured.is_dir() {
        // The installed copy, named directly (the packaged configuration does): say when it
        // is not this version's.
        if same_path(configured, &target) {
            note_other_version(builtin, &target);
        }
        return Ok(None);
    }
    if target.is_dir() {
        note_other_version(builtin, &target);
        return Ok(Some(target));
    }
    if install == Install::No {
        return Ok(None);
    }
    write_all(builtin, &target)?;
    eprintln!(
        "aarmor: installed the built-in {} in {} (there is no {}; {})",
        builtin.what,
        target.display(),
        configured.display(),
        builtin.hint
    );
    Ok(Some(target))
}

/// Whether two paths name the same place (relative ones against the working directory).
fn same_path(a: &Path, b: &Path) -> bool {
    match (std::path::absolute(a), std::path::absolute(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// An installed copy is never overwritten (it may hold the operator's edits); a different
/// version from this binary's is pointed out once at start.
fn note_other_version(builtin: &Builtin, target: &Path) {
    let Some((_, ours)) = builtin
        .files
        .iter()
        .find(|(name, _)| *name == builtin.version_file)
    else {
        return;
    };
    match std::fs::read(target.join(builtin.version_file)) {
        Ok(theirs) if theirs == *ours => {}
        _ => eprintln!(
            "aarmor: the {} in {} is not this aarmor's built-in one (its {} differs); it is used as it is. To take the built-in one, move that directory aside and start again",
            builtin.what,
            target.display(),
            builtin.version_file
        ),
    }
}

/// Writes every file into a scratch directory next to `target`, then renames it into place, so
/// that an interrupted install leaves no half copy behind.
fn write_all(builtin: &Builtin, target: &Path) -> anyhow::Result<()> {
    let err = |path: &Path, e: std::io::Error| {
        format!(
            "cannot install the built-in {} in {}: {e}",
            builtin.what,
            path.display()
        )
    };
    let parent = target.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .map_err(|e| err(parent, e))
        .map_err(anyhow::Error::msg)?;
    let scratch = parent.join(format!(
        ".{}.installing-{}",
        target
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("builtin"),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&scratch);
    for (name, bytes) in builtin.files {
        let path = scratch.join(name);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| err(dir, e))
                .map_err(anyhow::Error::msg)?;
        }
        std::fs::write(&path, bytes)
            .map_err(|e| err(&path, e))
            .map_err(anyhow::Error::msg)?;
    }
    std::fs::rename(&scratch, target).map_err(|e| {
        let _ = std::fs::remove_dir_all(&scratch);
        anyhow::Error::msg(err(target, e))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The repository root of the checkout under test. Cargo sets `CARGO_MANIFEST_DIR` when it runs
    /// tests; the value compiled in may name another checkout that shared the build directory.
    fn repo_root() -> PathBuf {
        std::env::var_os("CARGO_MANIFEST_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
            .join("../..")
    }

    /// Where `builtin` is found (installed when missing) for a default directory that does not exist.
    fn located(builtin: &Builtin, data_dir: &Path) -> PathBuf {
        locate(builtin, Path::new("no-such-dir"), data_dir, Install::Yes)
            .unwrap()
            .expect("a directory under the data dir")
    }

    fn config_in(data_dir: &Path) -> Config {
        Config {
            data_dir: data_dir.to_path_buf(),
            ..Config::default()
        }
    }

    /// Every file of the repository's pack and model is built in, byte for byte.
    #[test]
    fn the_built_in_files_are_the_repository_s() {
        for (builtin, dir) in [
            (&POLICIES, repo_root().join("policies")),
            (&MODEL, repo_root().join("models/all-MiniLM-L6-v2")),
        ] {
            let mut on_disk = Vec::new();
            let mut stack = vec![dir.clone()];
            while let Some(d) = stack.pop() {
                for entry in std::fs::read_dir(&d).unwrap() {
                    let path = entry.unwrap().path();
                    if path.is_dir() {
                        stack.push(path);
                    } else {
                        on_disk.push(path);
                    }
                }
            }
            assert_eq!(on_disk.len(), builtin.files.len(), "{}", builtin.what);
            for path in on_disk {
                let rel = path.strip_prefix(&dir).unwrap().to_str().unwrap();
                let (_, bytes) = builtin
                    .files
                    .iter()
                    .find(|(name, _)| *name == rel)
                    .unwrap_or_else(|| panic!("{rel} is not built in"));
                assert_eq!(*bytes, std::fs::read(&path).unwrap().as_slice(), "{rel}");
            }
        }
    }

    #[test]
    fn explicitly_configured_directories_are_left_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let mut config = config_in(tmp.path());
        config.policy.dir = tmp.path().join("nowhere/policies");
        config.intent.model_dir = tmp.path().join("nowhere/model");
        resolve(&mut config, Install::Yes).unwrap();
        assert_eq!(config.policy.dir, tmp.path().join("nowhere/policies"));
        assert_eq!(config.intent.model_dir, tmp.path().join("nowhere/model"));
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    }

    #[test]
    fn defaults_missing_from_the_working_directory_are_installed_under_the_data_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let policies = located(&POLICIES, tmp.path());
        assert_eq!(policies, tmp.path().join("policies"));
        let set = aarmor_engine::policy::PolicySet::load(
            &policies,
            aarmor_engine::policy_engine::eval_limits(&PolicySettings::default()),
        )
        .expect("the installed pack compiles");
        assert_eq!(set.policy.policy_id, "aarmor-default");
        let model = located(&MODEL, tmp.path());
        assert_eq!(model, tmp.path().join("models/all-MiniLM-L6-v2"));
        assert!(model.join("SHA256SUMS").is_file() && model.join("model-int8.onnx").is_file());
        // No scratch directory is left behind.
        let leftovers: Vec<_> = std::fs::read_dir(tmp.path().join("models"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "{leftovers:?}");
    }

    #[test]
    fn an_installed_copy_is_used_as_it_is_and_never_overwritten() {
        let tmp = tempfile::tempdir().unwrap();
        let installed = tmp.path().join("policies");
        std::fs::create_dir_all(&installed).unwrap();
        std::fs::write(installed.join("mine.rego"), "package aarmor.policy\n").unwrap();
        let found = located(&POLICIES, tmp.path());
        assert_eq!(found, installed);
        assert!(!installed.join("sql.rego").exists(), "nothing was added");
    }

    #[test]
    fn read_only_commands_never_install() {
        let tmp = tempfile::tempdir().unwrap();
        let found = locate(&POLICIES, Path::new("no-such-dir"), tmp.path(), Install::No).unwrap();
        assert_eq!(found, None);
        assert!(!tmp.path().join("policies").exists());
    }

    #[test]
    fn an_existing_default_directory_in_the_working_directory_wins() {
        let tmp = tempfile::tempdir().unwrap();
        let here = repo_root().join("policies");
        let found = locate(&POLICIES, &here, tmp.path(), Install::Yes).unwrap();
        assert_eq!(found, None);
        assert!(!tmp.path().join("policies").exists());
    }
}
