#!/usr/bin/env bash
# The test suite: Rust unit and in-process integration tests, then end-to-end tests with real
# clients (curl, requests, the openai SDK) against the release binary. Loopback and private
# network namespaces only.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tests/install-deps.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/aarmor-target}"
VENV="${AARMOR_VENV:-$HOME/.cache/aarmor-venv}"

cargo build --release --workspace --bins
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --release --workspace
else
    cargo test --release --workspace
fi
AARMOR_BIN="$CARGO_TARGET_DIR/release/aarmor" "$VENV/bin/pytest" -q tests/e2e
