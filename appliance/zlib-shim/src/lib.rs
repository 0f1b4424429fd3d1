//! The zlib C API that `flate2` expects from `libz-ng-sys`, served by `libz-sys` (stock zlib,
//! compiled from the sources it bundles with the C compiler Rust already needs).
//!
//! pingora-core turns on flate2's `zlib-ng` backend, and the crates.io `libz-ng-sys` always
//! builds zlib-ng with `cmake`, which a fresh machine with only a Rust toolchain does not have.
//! The workspace patches `libz-ng-sys` with this crate (`[patch.crates-io]` in the workspace
//! `Cargo.toml`), so building aarmor needs cargo and a C compiler, nothing else.
//!
//! Invariant: flate2 compiles its C backend against the items re-exported here and links the
//! library they come from, so the `z_stream` layout and the functions always match. aarmor uses
//! zlib to decode gzip/deflate request bodies before mediation (tested in `aarmor-proxy`'s
//! `decode` module and end to end); pingora's own compression modules are not used.
pub use libz_sys::*;
