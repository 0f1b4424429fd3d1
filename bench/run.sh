#!/usr/bin/env bash
# Side-by-side latency benchmark on this machine, all on loopback, in one run:
# direct, through aarmor, and (when installed) through mitmproxy and Squid with ssl-bump.
# Scenarios: keep-alive with 1 and 16 connections, a new connection per request, 256 KiB bodies;
# keep-alive with 1 connection also through aarmor's TLS proxy listener (HTTPS proxy).
# Every run is bounded by a request count and --max-seconds. Not a test: nothing asserts.
#
# The action scenario also runs the engine with every decision streamed to a loopback syslog
# collector (OCSF over TCP), to show what SIEM export costs the data path.
#
# A streamed LLM response (chat completion: 20 text deltas, then 3 tool calls that aarmor holds,
# mediates and re-emits) is timed to its first and last body byte. Then the parse cost of the
# protocol layer per message (no network), and the engine's decision costs.
#
#   bench/run.sh            # N=20000 requests per keep-alive scenario
#   N=5000 bench/run.sh     # quicker
#   SCENARIOS="ka1 ka16" bench/run.sh      # some scenarios only (ka1 ka16 newconn big stream action credential)
#   ROUNDS=1 bench/run.sh                  # one round per scenario (default 3, the median is shown)
#   AARMOR_THREADS=1 bench/run.sh          # aarmor worker threads (default 0: aarmor's default, one per CPU)
#   BASELINE_BIN=/path/to/old/aarmor bench/run.sh   # also runs that binary, with BASELINE_POLICIES
#                                          # (default policies/): its default configuration
#                                          # (`base`) in ka1, ka16 and stream, its plain data plane
#                                          # and batched engine in action: before/after in one run
# Optional peers: `pip install mitmproxy` (mitmdump on PATH or in $MITM_VENV), `apt-get install squid-openssl`.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
N="${N:-20000}"
NEWCONN_N="${NEWCONN_N:-1000}"
BIG_N="${BIG_N:-2000}"
STREAM_N="${STREAM_N:-2000}"
cargo build --release -q -p aarmor -p aarmor-bench
BIN="$CARGO_TARGET_DIR/release"
WORK="$(mktemp -d /tmp/aarmor-bench.XXXXXX)"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

ORIGIN=127.0.0.1:19443
"$BIN/aarmor-bench" origin --listen "$ORIGIN" --dir "$WORK" 2>/dev/null & PIDS+=($!)
for _ in $(seq 50); do [[ -f $WORK/origin-ca.pem ]] && break; sleep 0.1; done

# aarmor: its default worker threads (one per CPU; AARMOR_THREADS overrides), warnings only
# (per-request logging off for the measurement), the
# default policy pack. Three instances for the action scenario: the plain data plane (action
# mediation off), and the engine with receipts in strict (the default) and batched durability.
start_aarmor() { # name port admin_port extra-toml [extra [proxy] lines] [binary] [policies]
    local name=$1 port=$2 admin=$3 extra=$4 proxy_extra=${5:-} binary=${6:-$BIN/aarmor} policies=${7:-$PWD/policies}
    cat > "$WORK/$name.toml" <<CFG
data_dir = "$WORK/$name-data"
[proxy]
listen = "127.0.0.1:$port"
threads = ${AARMOR_THREADS:-0}
$proxy_extra
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
    "$binary" --config "$WORK/$name.toml" run 2>"$WORK/$name.log" & PIDS+=($!)
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$admin/healthz" >/dev/null && break; sleep 0.1; done
}
# The main instance also has a TLS proxy listener (HTTPS_PROXY=https://...) on 13134.
start_aarmor aarmor 13128 19090 "" 'tls_listen = "127.0.0.1:13134"'
start_aarmor aarmor-plain 13131 19091 $'[mediation]\nenabled = false'
start_aarmor aarmor-batched 13132 19092 $'[receipts]\ndurability = "batched"'
# The engine (strict receipts) streaming every decision to a syslog collector over TCP: a
# loopback sink that reads and discards, so the cost shown is aarmor's own.
SYSLOG_PORT=15140
python3 - "$SYSLOG_PORT" <<'PY' & PIDS+=($!)
import socket, sys, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(16)
def drain(c):
    while c.recv(65536): pass
while True:
    c, _ = s.accept(); threading.Thread(target=drain, args=(c,), daemon=True).start()
PY
sleep 0.3
# The engine with brokered credentials: the same default pack plus a credentials.yaml binding a
# file secret and a minted token to the origin (the `credential` scenario sends placeholders).
mkdir -p "$WORK/cred-policies"
cp -r policies/. "$WORK/cred-policies/"
printf 'bench-secret-%s\n' "$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" > "$WORK/cred-policies/bench.secret"
chmod 600 "$WORK/cred-policies/bench.secret"
cat > "$WORK/cred-policies/credentials.yaml" <<'YAML'
credentials:
  bench-static:
    source: {file: bench.secret}
    scope: write
    bindings: [{host: localhost, paths: ["/v1/**"]}]
  bench-mint:
    source: {mint: {audience: "https://bench.test", ttl_s: 30}}
    scope: write
    bindings: [{host: localhost, paths: ["/v1/**"]}]
YAML
start_aarmor aarmor-cred 13138 19098 "" "" "$BIN/aarmor" "$WORK/cred-policies"
start_aarmor aarmor-siem 13133 19093 $'[telemetry]\n[[telemetry.sinks]]\nname = "bench"\nurl = "tcp://127.0.0.1:'"$SYSLOG_PORT"$'"'
BASELINE_SETUPS=()
if [[ -n ${BASELINE_BIN:-} ]]; then
    start_aarmor base-plain 13135 19095 $'[mediation]\nenabled = false' "" "$BASELINE_BIN" "${BASELINE_POLICIES:-$PWD/policies}"
    start_aarmor base-batched 13136 19096 $'[receipts]\ndurability = "batched"' "" "$BASELINE_BIN" "${BASELINE_POLICIES:-$PWD/policies}"
    start_aarmor base 13137 19097 "" "" "$BASELINE_BIN" "${BASELINE_POLICIES:-$PWD/policies}"
    BASELINE_SETUPS=(base-plain base-batched)
fi
sleep 0.5

declare -A PROXY CA
PROXY[direct]=""; CA[direct]="$WORK/origin-ca.pem"
PROXY[aarmor]="127.0.0.1:13128"; CA[aarmor]="$WORK/aarmor-data/certs/ca.pem"
PROXY[aarmor-tls]="127.0.0.1:13134"; CA[aarmor-tls]="$WORK/aarmor-data/certs/ca.pem"
PROXY[aarmor-plain]="127.0.0.1:13131"; CA[aarmor-plain]="$WORK/aarmor-plain-data/certs/ca.pem"
PROXY[aarmor-batched]="127.0.0.1:13132"; CA[aarmor-batched]="$WORK/aarmor-batched-data/certs/ca.pem"
PROXY[aarmor-siem]="127.0.0.1:13133"; CA[aarmor-siem]="$WORK/aarmor-siem-data/certs/ca.pem"
for kind in static mint; do
    PROXY[aarmor-cred-$kind]="127.0.0.1:13138"; CA[aarmor-cred-$kind]="$WORK/aarmor-cred-data/certs/ca.pem"
done
PROXY[base-plain]="127.0.0.1:13135"; CA[base-plain]="$WORK/base-plain-data/certs/ca.pem"
PROXY[base-batched]="127.0.0.1:13136"; CA[base-batched]="$WORK/base-batched-data/certs/ca.pem"
PROXY[base]="127.0.0.1:13137"; CA[base]="$WORK/base-data/certs/ca.pem"
SETUPS=(direct aarmor)

MITMDUMP="$(command -v mitmdump || true)"
[[ -z $MITMDUMP && -x ${MITM_VENV:-$HOME/.cache/aarmor-bench-venv}/bin/mitmdump ]] && MITMDUMP="${MITM_VENV:-$HOME/.cache/aarmor-bench-venv}/bin/mitmdump"
if [[ -n $MITMDUMP ]]; then
    "$MITMDUMP" -q --listen-host 127.0.0.1 --listen-port 13129 --set confdir="$WORK/mitm" \
        --set ssl_verify_upstream_trusted_ca="$WORK/origin-ca.pem" & PIDS+=($!)
    for _ in $(seq 100); do [[ -f $WORK/mitm/mitmproxy-ca-cert.pem ]] && break; sleep 0.1; done
    sleep 1
    PROXY[mitmproxy]="127.0.0.1:13129"; CA[mitmproxy]="$WORK/mitm/mitmproxy-ca-cert.pem"; SETUPS+=(mitmproxy)
fi

SQUID="$(command -v squid || true)"
CERTGEN="$(ls /usr/lib/squid/security_file_certgen 2>/dev/null || true)"
if [[ -n $SQUID && -n $CERTGEN ]]; then
    "$BIN/aarmor" --data-dir "$WORK/squid-ca" ca init >/dev/null
    cat "$WORK/squid-ca/certs/ca.pem" "$WORK/squid-ca/certs/ca.key" > "$WORK/squid-ca.pem"
    "$CERTGEN" -c -s "$WORK/squid-ssldb" -M 16MB >/dev/null
    mkdir -p "$WORK/squid-spool"; chown -R proxy:proxy "$WORK" 2>/dev/null || true
    cat > "$WORK/squid.conf" <<CFG
http_port 127.0.0.1:13130 ssl-bump cert=$WORK/squid-ca.pem generate-host-certificates=on dynamic_cert_mem_cache_size=16MB
sslcrtd_program $CERTGEN -s $WORK/squid-ssldb -M 16MB
sslcrtd_children 4 startup=1 idle=1
acl step1 at_step SslBump1
ssl_bump peek step1
ssl_bump bump all
tls_outgoing_options cafile=$WORK/origin-ca.pem
http_access allow localhost
http_access deny all
cache deny all
access_log none
cache_log $WORK/squid-cache.log
pid_filename $WORK/squid.pid
coredump_dir $WORK/squid-spool
workers 1
CFG
    "$SQUID" -N -f "$WORK/squid.conf" & PIDS+=($!)
    for _ in $(seq 50); do
        curl -sf -x http://127.0.0.1:13130 --cacert "$WORK/squid-ca/certs/ca.pem" "https://localhost:${ORIGIN#*:}/hello" >/dev/null && break
        sleep 0.2
    done
    PROXY[squid]="127.0.0.1:13130"; CA[squid]="$WORK/squid-ca/certs/ca.pem"; SETUPS+=(squid)
fi

run() { # setup scenario args...
    local setup=$1 scenario=$2; shift 2
    local proxy_args=()
    [[ -n ${PROXY[$setup]} ]] && proxy_args=(--proxy "${PROXY[$setup]}")
    [[ $setup == aarmor-tls ]] && proxy_args+=(--proxy-tls)
    "$BIN/aarmor-bench" load --target "localhost:${ORIGIN#*:}" --ca "${CA[$setup]}" "${proxy_args[@]}" \
        --label "$scenario/$setup" --max-seconds 60 "$@" 2>&1 || echo "$scenario/$setup	FAILED"
}

RESULTS="$WORK/results.tsv"
ACTION_N="${ACTION_N:-5000}"
# Every scenario runs ROUNDS times, the setups interleaved in each round; the tables show, per
# setup, the round with the median requests/s (one loaded 2-core VM is noisy: a single round can
# be off by 20% either way, for every setup).
ROUNDS="${ROUNDS:-3}"
for scenario in ${SCENARIOS:-ka1 ka16 newconn big stream action credential}; do
  for round in $(seq "$ROUNDS"); do
    setups=("${SETUPS[@]}")
    # An allowed action (POST with a JSON body) through the plain data plane and the engine.
    [[ $scenario == action ]] && setups=(direct aarmor-plain aarmor-batched aarmor aarmor-siem "${BASELINE_SETUPS[@]}")
    # The same allowed action without a credential, with a file secret attached, with a token
    # minted for it (strict receipts in all three).
    [[ $scenario == credential ]] && setups=(aarmor aarmor-cred-static aarmor-cred-mint)
    # Keep-alive through the TLS proxy listener (TLS to aarmor, then TLS inside it).
    [[ $scenario == ka1 ]] && setups+=(aarmor-tls)
    # The baseline binary with its default configuration, beside the current one.
    [[ -n ${BASELINE_BIN:-} && $scenario =~ ^(ka1|ka16|stream)$ ]] && setups+=(base)
    for setup in "${setups[@]}"; do
        case $scenario in
            ka1) run "$setup" ka1 -c 1 -n "$N" ;;
            ka16) run "$setup" ka16 -c 16 -n "$N" ;;
            newconn) run "$setup" newconn -c 1 -n "$NEWCONN_N" --new-connection ;;
            big) run "$setup" big256k -c 4 -n "$BIG_N" --path /big ;;
            stream) run "$setup" stream -c 1 -n "$STREAM_N" --stream ;;
            action) run "$setup" action-post -c 1 -n "$ACTION_N" --post --path /v1/tickets/4711 ;;
            credential)
                header=()
                [[ $setup == aarmor-cred-* ]] && header=(--header "Authorization: Bearer aarmor:bench-${setup#aarmor-cred-}")
                run "$setup" credential -c 1 -n "$ACTION_N" --post --path /v1/tickets/4711 "${header[@]}" ;;
        esac
    done
  done
done | tee "$RESULTS"

echo
python3 - "$RESULTS" "$ROUNDS" <<'PY'
import sys, re
# Every result line of every round, per (scenario, setup).
runs = {}
for line in open(sys.argv[1]):
    m = dict(re.findall(r"(\w+)=(\S+)", line))
    label = line.split("\t")[0]
    if "/" not in label or "p50_us" not in m: continue
    scen, setup = label.split("/")
    runs.setdefault(scen, {}).setdefault(setup, []).append(m)
# Per setup, the round with the median requests/s (its latencies are shown with it).
rows = {scen: {setup: sorted(r, key=lambda m: float(m["rps"]))[len(r) // 2] for setup, r in setups.items()}
        for scen, setups in runs.items()}
print(f"per setup: the median of {sys.argv[2]} rounds (by req/s)")
print(f"{'scenario':10} {'setup':10} {'p50 µs':>8} {'p99 µs':>8} {'req/s':>9} {'p50 vs direct':>14} {'req/s vs direct':>16}")
for scen, setups in rows.items():
    d = setups.get("direct")
    for setup, m in setups.items():
        p50, p99, rps = int(m["p50_us"]), int(m["p99_us"]), float(m["rps"])
        r50 = f"{p50/int(d['p50_us']):.2f}x (+{p50-int(d['p50_us'])} µs)" if d else "-"
        rr = f"{rps/float(d['rps']):.2f}x" if d else "-"
        print(f"{scen:10} {setup:10} {p50:8} {p99:8} {rps:9.0f} {r50:>14} {rr:>16}")
ttfb = {setup: m for setup, m in rows.get("stream", {}).items() if "ttfb_p50_us" in m}
if ttfb:
    print()
    print("streamed chat completion (first body byte = first token; last byte = after 3 mediated tool calls)")
    print(f"{'setup':10} {'first p50':>10} {'first p99':>10} {'last p50':>9} {'last p99':>9} {'first vs direct':>16} {'last vs direct':>15}")
    d = ttfb.get("direct")
    for setup, m in ttfb.items():
        f50, f99, l50, l99 = (int(m[k]) for k in ("ttfb_p50_us", "ttfb_p99_us", "p50_us", "p99_us"))
        rf = f"{f50/int(d['ttfb_p50_us']):.2f}x (+{f50-int(d['ttfb_p50_us'])})" if d else "-"
        rl = f"{l50/int(d['p50_us']):.2f}x (+{l50-int(d['p50_us'])})" if d else "-"
        print(f"{setup:10} {f50:10} {f99:10} {l50:9} {l99:9} {rf:>16} {rl:>15}")
action = rows.get("action-post", {})
plain = action.get("aarmor-plain")
if plain:
    print()
    print("allowed action (POST, one keep-alive connection): added p50 over the plain data plane")
    names = {"aarmor-batched": "engine, batched receipts", "aarmor": "engine, strict receipts",
             "aarmor-siem": "strict + syslog export"}
    for setup, name in names.items():
        if setup in action:
            p50, p99 = int(action[setup]["p50_us"]), int(action[setup]["p99_us"])
            b50, b99 = int(plain["p50_us"]), int(plain["p99_us"])
            print(f"  {name:26} p50 {p50} µs (+{p50-b50} µs)  p99 {p99} µs (+{p99-b99} µs)")
    base_plain, base = action.get("base-plain"), action.get("base-batched")
    if base_plain and base:
        p50, p99 = int(base["p50_us"]), int(base["p99_us"])
        b50, b99 = int(base_plain["p50_us"]), int(base_plain["p99_us"])
        print(f"  {'baseline, batched receipts':26} p50 {p50} µs (+{p50-b50} µs over its plain {b50} µs)  p99 {p99} µs (+{p99-b99} µs)")
cred = rows.get("credential", {})
bare = cred.get("aarmor")
if bare:
    print()
    print("allowed action with a brokered credential vs without (engine, strict receipts, same run)")
    b50, b99 = int(bare["p50_us"]), int(bare["p99_us"])
    print(f"  {'no credential':26} p50 {b50} µs  p99 {b99} µs")
    for setup, name in {"aarmor-cred-static": "file secret attached", "aarmor-cred-mint": "token minted per action"}.items():
        if setup in cred:
            p50, p99 = int(cred[setup]["p50_us"]), int(cred[setup]["p99_us"])
            print(f"  {name:26} p50 {p50} µs ({p50/b50:.2f}x, {p50-b50:+} µs)  p99 {p99} µs ({p99/b99:.2f}x)")
PY

echo
"$BIN/aarmor-bench" parse -n "${PARSE_N:-20000}"
echo
"$BIN/aarmor-bench" decide --policies policies -n "${DECIDE_N:-20000}"
echo
"$BIN/aarmor-bench" credentials -n "${CREDENTIALS_N:-20000}"
