#!/usr/bin/env bash
# Receipt retention benchmark, all on loopback, in one run. Not a test: nothing asserts.
#  1. Bytes per allowed action: the same traffic (POST actions, streamed chat completions whose
#     3 tool calls are mediated, POSTs with a 3000-byte parameter) through this build and, with BASELINE_BIN, an earlier
#     one: receipts, receipt JSON bytes and LMDB bytes (data.mdb) per request.
#  2. Archival throughput without network (`aarmor-bench retention`): receipts/s sealed into
#     segments and pruned, bytes per receipt, compression.
#  3. The ALLOW path while archival runs: POST actions through an instance whose retention seals
#     and prunes constantly, next to one with retention off; ROUNDS rounds interleaved, p50/p99.
#
#   bench/retention.sh
#   BASELINE_BIN=/path/to/old/aarmor BASELINE_POLICIES=/path/to/old/policies bench/retention.sh
#   N=3000 ROUNDS=5 bench/retention.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
N="${N:-3000}"
STREAM_N="${STREAM_N:-500}"
PAD_N="${PAD_N:-1000}"
ROUNDS="${ROUNDS:-5}"
cargo build --release -q -p aarmor -p aarmor-bench
BIN="$CARGO_TARGET_DIR/release"
WORK="$(mktemp -d /tmp/aarmor-retention.XXXXXX)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

ORIGIN=127.0.0.1:19543
"$BIN/aarmor-bench" origin --listen "$ORIGIN" --dir "$WORK" 2>/dev/null & PIDS+=($!)
for _ in $(seq 50); do [[ -f $WORK/origin-ca.pem ]] && break; sleep 0.1; done

start() { # name port admin extra-toml binary policies -> pid in $STARTED
    local name=$1 port=$2 admin=$3 extra=$4 binary=$5 policies=$6
    cat > "$WORK/$name.toml" <<CFG
data_dir = "$WORK/$name-data"
[proxy]
listen = "127.0.0.1:$port"
[upstream]
ca_files = ["$WORK/origin-ca.pem"]
[admin]
listen = "127.0.0.1:$admin"
[policy]
dir = "$policies"
[log]
level = "warn"
$extra
CFG
    "$binary" --config "$WORK/$name.toml" run 2>"$WORK/$name.log" & STARTED=$!; PIDS+=($STARTED)
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$admin/healthz" >/dev/null && break; sleep 0.1; done
}
load() { # port name label args...
    local port=$1 name=$2 label=$3; shift 3
    "$BIN/aarmor-bench" load --target "localhost:${ORIGIN#*:}" --ca "$WORK/$name-data/certs/ca.pem" \
        --proxy "127.0.0.1:$port" --label "$label" --max-seconds 120 "$@"
}

echo "== 1. bytes per allowed action ($N POST actions, $STREAM_N streamed chat completions with 3 tool calls each, $PAD_N POSTs with a 3000-byte parameter)"
sizes() { # name binary
    local name=$1 binary=$2
    "$binary" --config "$WORK/$name.toml" receipts export --out "$WORK/$name.jsonl" 2>/dev/null
    python3 - "$name" "$WORK/$name.jsonl" "$WORK/$name-data/receipts/data.mdb" "$N" "$STREAM_N" "$PAD_N" <<'PY'
import json, os, sys
name, export, mdb = sys.argv[1], sys.argv[2], sys.argv[3]
n, s, pad = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
lines = [l for l in open(export, "rb").read().splitlines() if l.strip()]
kinds = {}
for l in lines:
    k = json.loads(l)["kind"]; kinds[k] = kinds.get(k, 0) + 1
requests = n + s + pad
print(f"{name:10} receipts={len(lines)} ({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))})  "
      f"json_bytes_per_request={sum(len(l) + 1 for l in lines) / requests:.0f}  "
      f"lmdb_bytes_per_request={os.path.getsize(mdb) / requests:.0f}  json_bytes_per_receipt={sum(len(l) + 1 for l in lines) / len(lines):.0f}")
PY
}
run_sizes() { # name binary policies port admin
    local name=$1 binary=$2 policies=$3 port=$4 admin=$5
    start "$name" "$port" "$admin" "" "$binary" "$policies"; local pid=$STARTED
    load "$port" "$name" "sizes/$name" -c 1 -n "$N" --post --path /v1/tickets/4711 >/dev/null
    load "$port" "$name" "sizes/$name" -c 1 -n "$STREAM_N" --stream >/dev/null
    load "$port" "$name" "sizes/$name" -c 1 -n "$PAD_N" --post --pad 3000 --path /v1/tickets/4711 >/dev/null
    sleep 1.5; kill "$pid"; wait "$pid" 2>/dev/null || true
    sizes "$name" "$binary"
}
run_sizes current "$BIN/aarmor" "$PWD/policies" 13228 19190
if [[ -n ${BASELINE_BIN:-} ]]; then
    run_sizes baseline "$BASELINE_BIN" "${BASELINE_POLICIES:-$PWD/policies}" 13229 19191
fi

echo
echo "== 2. archival throughput (no network)"
"$BIN/aarmor-bench" retention -n "${ARCHIVE_N:-100000}"

echo
echo "== 3. ALLOW path while archival runs ($N POST actions per round, $ROUNDS rounds interleaved)"
start ret-off 13230 19192 $'[retention]\nmode = "off"' "$BIN/aarmor" "$PWD/policies"
start ret-busy 13231 19193 $'[receipts]\nmax_size_mb = 64\n[retention]\nsegment_receipts = 500\nsegment_max_age_s = 0\nkeep_live_mb = 2\ncheck_interval_ms = 50' "$BIN/aarmor" "$PWD/policies"
RESULTS="$WORK/allow.tsv"
for round in $(seq "$ROUNDS"); do
    load 13230 ret-off "allow/retention-off" -c 1 -n "$N" --post --path /v1/tickets/4711
    load 13231 ret-busy "allow/archiving" -c 1 -n "$N" --post --path /v1/tickets/4711
done | tee "$RESULTS"
archived=$(curl -s http://127.0.0.1:19193/metrics | awk '/^aarmor_receipts_archived_total/ {print $2}')
pruned=$(curl -s http://127.0.0.1:19193/metrics | awk '/^aarmor_receipts_pruned_total/ {print $2}')
echo "archiving instance: ${archived:-0} receipts archived, ${pruned:-0} pruned during the run"
python3 - "$RESULTS" <<'PY'
import re, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    m = dict(re.findall(r"(\w+)=(\S+)", line))
    if "p50_us" in m:
        runs.setdefault(line.split("\t")[0], []).append((float(m["p50_us"]), float(m["p99_us"])))
base = runs.get("allow/retention-off")
for label, r in runs.items():
    p50 = statistics.median(x for x, _ in r); p99 = statistics.median(y for _, y in r)
    ratio = "" if not base else f"  p50 x{p50 / statistics.median(x for x, _ in base):.2f}  p99 x{p99 / statistics.median(y for _, y in base):.2f}"
    print(f"{label:22} median of {len(r)} rounds: p50 {p50:.0f} µs  p99 {p99:.0f} µs{ratio}")
PY
