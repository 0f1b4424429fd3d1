#!/usr/bin/env bash
# Intent cost: the bundled embedding model on tract (aarmor) next to onnxruntime on the same
# model, texts and machine; a cache hit; and decisions with and without a rule that needs
# intent.drift. Builds aarmor-bench in release; onnxruntime runs from a throwaway venv.
#
#   bench/embed.sh            # N=200 iterations per case
#   N=500 bench/embed.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N="${N:-200}"
TARGET="${CARGO_TARGET_DIR:-target}"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
cargo build --release -q -p aarmor-bench
VENV="${AARMOR_ORT_VENV:-$HOME/.cache/aarmor-ort-venv}"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q onnxruntime tokenizers numpy
fi
"$TARGET/release/aarmor-bench" embed -n "$N" --texts-out "$OUT/texts.json"
"$VENV/bin/python" bench/embed_ort.py "$OUT/texts.json" "$N"
