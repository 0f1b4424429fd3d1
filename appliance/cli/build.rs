//! Builds the default policy pack and the bundled embedding model into the binary: generates
//! `builtin_files.rs` (one `include_bytes!` per file) from `policies/` and
//! `models/all-MiniLM-L6-v2/` at the repository root.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn files_under(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files_under(root, &path, out);
        } else if path.is_file() {
            let rel = path
                .strip_prefix(root)
                .expect("under root")
                .to_str()
                .unwrap_or_else(|| panic!("{} is not UTF-8", path.display()))
                .to_string();
            out.push((rel, path));
        }
    }
}

/// `rel` is relative to the repository root; the rerun trigger is given relative to this package
/// so that it holds for whichever checkout builds (a build directory may be shared).
fn table(name: &str, repo: &Path, rel: &str) -> String {
    println!("cargo:rerun-if-changed=../../{rel}");
    let root = repo.join(rel);
    let mut files = Vec::new();
    files_under(&root, &root, &mut files);
    assert!(!files.is_empty(), "{} is empty", root.display());
    let mut code = format!("pub const {name}: &[(&str, &[u8])] = &[\n");
    // Paths are written relative to the crate being compiled (`CARGO_MANIFEST_DIR` when rustc
    // expands the macro), never as this run's absolute paths: a build directory shared by two
    // checkouts must not embed, or fail on, the files of a checkout that moved or was deleted.
    for (file, _) in files {
        let _ = writeln!(
            code,
            "    ({file:?}, include_bytes!(concat!(env!(\"CARGO_MANIFEST_DIR\"), {:?}))),",
            format!("/../../{rel}/{file}")
        );
    }
    code.push_str("];\n");
    code
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let repo = manifest
        .join("../..")
        .canonicalize()
        .expect("repository root");
    let mut code = table("POLICY_FILES", &repo, "policies");
    code.push_str(&table("MODEL_FILES", &repo, "models/all-MiniLM-L6-v2"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it"));
    std::fs::write(out.join("builtin_files.rs"), code).expect("write builtin_files.rs");
}
