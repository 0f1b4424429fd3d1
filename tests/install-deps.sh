#!/usr/bin/env bash
# Installs what the tests need, skipping whatever is already present (the build itself needs
# only cargo and a C compiler): curl, nftables + iproute2 (transparent-mode test), clickhouse-server
# (SQL-over-HTTP test), rsyslog with its GnuTLS driver (SIEM export test), Debian's chromium
# (approvals console test), and a Python virtualenv with the clients of tests/requirements.txt
# (pytest, requests, the openai, anthropic and mcp SDKs, websockets, cryptography, playwright
# driving the system chromium, moto's S3-compatible server and boto3 for the archive upload test,
# PyYAML, kubernetes-validate, hadolint and dockerfile-parse for the deployment recipes), Prometheus's promtool and
# server (monitoring rules and dashboard test), bubblewrap (the container's read-only run),
# redis-server (cluster tests) and haproxy (the cluster recipes' balancer), and cargo-deb (the
# Debian package test).
set -euo pipefail

need_apt=()
command -v curl >/dev/null || need_apt+=(curl)
command -v nft >/dev/null || need_apt+=(nftables)
command -v ip >/dev/null || need_apt+=(iproute2)
command -v cc >/dev/null || need_apt+=(gcc)
command -v clickhouse-server >/dev/null || need_apt+=(clickhouse-server)
command -v rsyslogd >/dev/null || need_apt+=(rsyslog)
command -v chromium >/dev/null || need_apt+=(chromium)
compgen -G '/usr/lib/*/rsyslog/lmnsd_gtls.so' >/dev/null || need_apt+=(rsyslog-gnutls)
command -v bwrap >/dev/null || need_apt+=(bubblewrap)
command -v redis-server >/dev/null || need_apt+=(redis-server)
command -v haproxy >/dev/null || [[ -x /usr/sbin/haproxy ]] || need_apt+=(haproxy)
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
need_lean=()
command -v promtool >/dev/null || need_lean+=(prometheus)
if ((${#need_apt[@]} + ${#need_lean[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "missing packages: ${need_apt[*]} ${need_lean[*]} (run as root or install them)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    if ((${#need_apt[@]})); then
        apt-get install -y -qq "${need_apt[@]}" >/dev/null
    fi
    # Prometheus without its recommended node exporter: the tests need promtool and the server.
    if ((${#need_lean[@]})); then
        apt-get install -y -qq --no-install-recommends "${need_lean[@]}" >/dev/null
    fi
fi

# The Debian package is built with cargo-deb.
if ! command -v cargo-deb >/dev/null; then
    cargo install --locked --quiet cargo-deb --version 3.8.0
fi

VENV="${AARMOR_VENV:-$HOME/.cache/aarmor-venv}"
REQUIREMENTS="$(dirname "$0")/requirements.txt"
STAMP="$VENV/.requirements.sha256"
WANT="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"
if [[ ! -x "$VENV/bin/pytest" ]] || [[ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]]; then
    [[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
    "$VENV/bin/pip" install -q -r "$REQUIREMENTS"
    echo "$WANT" > "$STAMP"
fi
