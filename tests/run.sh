#!/usr/bin/env bash
# The test suite: Rust unit and in-process integration tests, then end-to-end tests with real
# clients (curl, requests, the openai SDK) against the release binary. Loopback and private
# network namespaces only.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tests/install-deps.sh
# The workspace's own build directory, the one `cargo run --release -p aarmor -- run` uses:
# the quick start's two commands build once. CARGO_TARGET_DIR chooses another.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
# Building needs cargo and a C compiler, nothing more: no crate may bring cmake back in
# (appliance/zlib-shim says how pingora's zlib-ng is built without it).
if grep -qx 'name = "cmake"' Cargo.lock; then
    echo "Cargo.lock depends on the cmake crate: building would need cmake (see appliance/zlib-shim)" >&2
    exit 1
fi
VENV="${AARMOR_VENV:-$HOME/.cache/aarmor-venv}"

cargo build --release --workspace --bins
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --release --workspace
else
    cargo test --release --workspace
fi
AARMOR_BIN="$CARGO_TARGET_DIR/release/aarmor" "$VENV/bin/pytest" -q tests/e2e
