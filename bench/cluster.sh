#!/usr/bin/env bash
# Cluster cost on this machine, all on loopback, in one run: an allowed action (POST with a JSON
# body, one keep-alive connection) through a single box and through a cluster replica with
# Redis; Redis round trips per action, by operation (from the replica's own counters); and
# throughput of one replica vs two replicas sharing the load (16 connections, each with a
# session of its own). Every run is bounded by a request count and --max-seconds. Not a test:
# nothing asserts.
#
#   bench/cluster.sh               # N=5000 requests per run, 3 rounds (the median is shown)
#   N=2000 ROUNDS=1 bench/cluster.sh
# Needs redis-server on PATH (`apt-get install redis-server`).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
N="${N:-5000}"
ROUNDS="${ROUNDS:-3}"
cargo build --release -q -p aarmor -p aarmor-bench
BIN="$CARGO_TARGET_DIR/release"
command -v redis-server >/dev/null || { echo "redis-server not found: apt-get install redis-server" >&2; exit 1; }
WORK="$(mktemp -d /tmp/aarmor-cluster-bench.XXXXXX)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

ORIGIN=127.0.0.1:19543
"$BIN/aarmor-bench" origin --listen "$ORIGIN" --dir "$WORK" 2>/dev/null & PIDS+=($!)
for _ in $(seq 50); do [[ -f $WORK/origin-ca.pem ]] && break; sleep 0.1; done
REDIS_PORT=16379
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK" >/dev/null & PIDS+=($!)
for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

start_aarmor() { # name port admin_port extra-toml
    local name=$1 port=$2 admin=$3 extra=$4
    cat > "$WORK/$name.toml" <<CFG
data_dir = "$WORK/$name-data"
[proxy]
listen = "127.0.0.1:$port"
[upstream]
ca_files = ["$WORK/origin-ca.pem"]
[admin]
listen = "127.0.0.1:$admin"
[policy]
dir = "$PWD/policies"
[log]
level = "warn"
$extra
CFG
    if [[ -d $WORK/single-data/certs && $name != single ]]; then
        mkdir -p "$WORK/$name-data" && cp -r "$WORK/single-data/certs" "$WORK/$name-data/"
    fi
    "$BIN/aarmor" --config "$WORK/$name.toml" run 2>"$WORK/$name.log" & PIDS+=($!)
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$admin/healthz" >/dev/null && break; sleep 0.1; done
}
cluster_toml() { printf '[cluster]\nenabled = true\nredis_url = "redis://127.0.0.1:%s/0"\nreplica = "%s"\n' "$REDIS_PORT" "$1"; }
start_aarmor single 13228 19190 ""
start_aarmor replica-a 13229 19191 "$(cluster_toml replica-a)"
start_aarmor replica-b 13230 19192 "$(cluster_toml replica-b)"
CA="$WORK/single-data/certs/ca.pem"
sleep 0.5

round_trips() { # admin port → "op=count ..." from aarmor_cluster_redis_round_trips_total
    curl -s "http://127.0.0.1:$1/metrics" | awk -F'[{}" ]' '/^aarmor_cluster_redis_round_trips_total/ {printf "%s=%s ", $3, $NF}'
}
load() { # label proxy connections requests [extra args]
    local label=$1 proxy=$2 conns=$3 n=$4; shift 4
    "$BIN/aarmor-bench" load --target "localhost:${ORIGIN#*:}" --ca "$CA" --proxy "$proxy" --label "$label" \
        --max-seconds 60 -c "$conns" -n "$n" --post --path /v1/tickets/4711 "$@" 2>&1 || echo "$label	FAILED"
}

RESULTS="$WORK/results.tsv"
for round in $(seq "$ROUNDS"); do
    load "action/single" 127.0.0.1:13228 1 "$N"
    before=$(round_trips 19191)
    load "action/replica" 127.0.0.1:13229 1 "$N"
    echo "roundtrips/replica	before=[$before] after=[$(round_trips 19191)] requests=$N"
    load "c16/single" 127.0.0.1:13228 16 "$((N * 2))" --session-per-connection
    load "c16/one-replica" 127.0.0.1:13229 16 "$((N * 2))" --session-per-connection
    # Two replicas, 8 connections each, at the same time.
    load "c16/two-replicas-a" 127.0.0.1:13229 8 "$N" --session-per-connection > "$WORK/a.out" &
    a=$!
    load "c16/two-replicas-b" 127.0.0.1:13230 8 "$N" --session-per-connection > "$WORK/b.out"
    wait "$a"
    cat "$WORK/a.out" "$WORK/b.out"
done | tee "$RESULTS"

# Redis's own cost per script call (CPU time inside Redis, per command).
redis-cli -p "$REDIS_PORT" info commandstats | tr -d '\r' | grep -E '^cmdstat_(evalsha|eval|rpush|blpop|hgetall):' \
    | sed 's/^cmdstat_/redis\t/' >> "$RESULTS"

echo
python3 - "$RESULTS" "$ROUNDS" <<'PY'
import re, sys
runs = {}
trips = []
for line in open(sys.argv[1]):
    label = line.split("\t")[0]
    if label == "roundtrips/replica":
        def parse(s):
            return {k: float(v) for k, v in re.findall(r"(\w+)=(\d+)", s)}
        before = parse(re.search(r"before=\[(.*?)\]", line).group(1))
        after = parse(re.search(r"after=\[(.*?)\]", line).group(1))
        n = int(re.search(r"requests=(\d+)", line).group(1))
        trips.append({op: (after[op] - before.get(op, 0)) / n for op in after})
        continue
    m = dict(re.findall(r"(\w+)=(\S+)", line))
    if "p50_us" in m:
        runs.setdefault(label, []).append(m)
med = {k: sorted(v, key=lambda m: float(m["rps"]))[len(v) // 2] for k, v in runs.items()}
print(f"per run: the median of {sys.argv[2]} rounds (by req/s)")
print(f"{'run':22} {'p50 µs':>8} {'p99 µs':>8} {'req/s':>9}")
for k, m in med.items():
    print(f"{k:22} {int(m['p50_us']):8} {int(m['p99_us']):8} {float(m['rps']):9.0f}")
s, r = med.get("action/single"), med.get("action/replica")
if s and r:
    print()
    print(f"allowed action, one connection: replica with Redis adds p50 {int(r['p50_us']) - int(s['p50_us'])} µs "
          f"({int(r['p50_us'])/int(s['p50_us']):.2f}x), p99 {int(r['p99_us']) - int(s['p99_us'])} µs "
          f"({int(r['p99_us'])/int(s['p99_us']):.2f}x)")
if trips:
    ops = sorted({op for t in trips for op in t})
    print("redis round trips per allowed action (mean over rounds): " +
          ", ".join(f"{op} {sum(t.get(op, 0) for t in trips)/len(trips):.2f}" for op in ops) +
          f"; total {sum(sum(t.values()) for t in trips)/len(trips):.2f}")
for line in open(sys.argv[1]):
    if line.startswith("redis\t"):
        name, rest = line[6:].strip().split(":", 1)
        stats = dict(kv.split("=") for kv in rest.split(","))
        print(f"redis {name}: {stats['calls']} calls, {float(stats['usec_per_call']):.1f} µs of Redis CPU per call")
one, a, b, single = med.get("c16/one-replica"), med.get("c16/two-replicas-a"), med.get("c16/two-replicas-b"), med.get("c16/single")
if one and a and b:
    two = float(a["rps"]) + float(b["rps"])
    print(f"throughput, 16 connections: single box {float(single['rps']):.0f} req/s, one replica {float(one['rps']):.0f} req/s, "
          f"two replicas {two:.0f} req/s ({two/float(one['rps']):.2f}x one replica)")
PY
