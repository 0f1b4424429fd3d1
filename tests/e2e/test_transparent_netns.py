"""Transparent mode end to end across three network namespaces the test creates:

    agent ns (10.77.1.2) --veth--> aarmor ns (gateway, shipped nftables redirect) --veth--> upstream ns (10.77.2.2)

The agent has no proxy settings: it connects straight to the upstream's address and the kernel in
the aarmor namespace redirects TCP 80/443 to aarmor's transparent listener, using the rules shipped
in deploy/nftables/aarmor-gateway.nft unchanged."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, Aarmor, make_leaf

UPSTREAM_IP = "10.77.2.2"
AARMOR_UPSTREAM_SIDE = "10.77.2.1"
SUFFIX = str(os.getpid() % 100000)
AGENT_NS, AARMOR_NS, UPSTREAM_NS = (f"aarmor-t-{n}-{SUFFIX}" for n in ("agent", "gw", "up"))


def sh(*cmd, check=True, timeout=20):
    return subprocess.run(list(cmd), capture_output=True, text=True, check=check, timeout=timeout)


def in_ns(ns, *cmd, **kw):
    return sh("ip", "netns", "exec", ns, *cmd, **kw)


def teardown_namespaces():
    for ns in (AGENT_NS, AARMOR_NS, UPSTREAM_NS):
        sh("ip", "netns", "del", ns, check=False)


def build_namespaces():
    for ns in (AGENT_NS, AARMOR_NS, UPSTREAM_NS):
        sh("ip", "netns", "add", ns)
        in_ns(ns, "ip", "link", "set", "lo", "up")
    # The agent-facing interface is called agents0, as the shipped rules expect.
    sh("ip", "link", "add", "name", "eth0", "netns", AGENT_NS, "type", "veth", "peer", "name", "agents0", "netns", AARMOR_NS)
    sh("ip", "link", "add", "name", "uplink0", "netns", AARMOR_NS, "type", "veth", "peer", "name", "eth0", "netns", UPSTREAM_NS)
    for ns, dev, addr in ((AGENT_NS, "eth0", "10.77.1.2/24"), (AARMOR_NS, "agents0", "10.77.1.1/24"),
                          (AARMOR_NS, "uplink0", f"{AARMOR_UPSTREAM_SIDE}/24"), (UPSTREAM_NS, "eth0", f"{UPSTREAM_IP}/24")):
        in_ns(ns, "ip", "addr", "add", addr, "dev", dev)
        in_ns(ns, "ip", "link", "set", dev, "up")
    in_ns(AGENT_NS, "ip", "route", "add", "default", "via", "10.77.1.1")
    in_ns(UPSTREAM_NS, "ip", "route", "add", "default", "via", AARMOR_UPSTREAM_SIDE)
    in_ns(AARMOR_NS, "sysctl", "-qw", "net.ipv4.ip_forward=1")
    in_ns(AARMOR_NS, "nft", "-f", str(ROOT / "deploy" / "nftables" / "aarmor-gateway.nft"))


@pytest.fixture(scope="module")
def topology(tmp_path_factory, pki):
    if os.geteuid() != 0:
        pytest.skip("transparent-mode test needs root to create network namespaces")
    teardown_namespaces()
    try:
        build_namespaces()
    except subprocess.CalledProcessError as e:
        teardown_namespaces()
        pytest.skip(f"kernel refused network namespaces or nftables: {' '.join(e.cmd)}: {e.stderr.strip()}")
    d = tmp_path_factory.mktemp("transparent")
    cert, key = make_leaf(d, pki["ca_key"], pki["ca_cert"], ["upstream.test", "bypass.test"], [UPSTREAM_IP])
    server = subprocess.Popen(["ip", "netns", "exec", UPSTREAM_NS, sys.executable, str(Path(__file__).parent / "helpers" / "upstream_server.py"),
                               str(cert), str(key)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "ready", "test upstream did not start in its namespace"
        aarmor_dir = d / "aarmor"
        aarmor_dir.mkdir()
        aarmor = Aarmor(aarmor_dir, pki["ca"], extra_proxy='transparent_listen = "0.0.0.0:3129"\nbypass = ["bypass.test"]', netns=AARMOR_NS)
        try:
            yield aarmor
        finally:
            aarmor.stop()
    finally:
        server.stdin.close()
        server.wait(timeout=10)
        teardown_namespaces()


def agent_curl(*args):
    return in_ns(AGENT_NS, "curl", "-sS", "-v", "--max-time", "15", *args, check=False, timeout=30)


def test_https_is_intercepted_without_proxy_settings(topology):
    r = agent_curl("--cacert", str(topology.ca), "--resolve", f"upstream.test:443:{UPSTREAM_IP}", "https://upstream.test/t-https")
    assert r.returncode == 0, r.stderr + topology.logs()
    body = json.loads(r.stdout)
    assert body["path"] == "/t-https" and body["host"] == "upstream.test"
    assert body["conn"][0] == AARMOR_UPSTREAM_SIDE, "the upstream connection must come from aarmor, not the agent"
    assert "aarmor interception CA" in r.stderr  # the leaf was minted by aarmor for the SNI


def test_https_with_http2_alpn(topology):
    r = agent_curl("--http2", "--cacert", str(topology.ca), "--resolve", f"upstream.test:443:{UPSTREAM_IP}", "https://upstream.test/t-h2")
    assert r.returncode == 0, r.stderr
    assert "HTTP/2 200" in r.stderr
    assert json.loads(r.stdout)["path"] == "/t-h2"


def test_agent_not_trusting_the_ca_is_refused(topology):
    r = agent_curl("--resolve", f"upstream.test:443:{UPSTREAM_IP}", "https://upstream.test/t-untrusted")
    assert r.returncode != 0, "a client without the aarmor CA must not complete the handshake"


def test_plain_http_routed_by_host_to_original_destination(topology):
    r = agent_curl("-H", "Host: elsewhere.example:80", f"http://{UPSTREAM_IP}/t-http")
    assert r.returncode == 0, r.stderr + topology.logs()
    body = json.loads(r.stdout)
    assert body["path"] == "/t-http"
    assert body["conn"][0] == AARMOR_UPSTREAM_SIDE
    # The connection still went to the original destination, whatever the Host header said.
    assert body["host"] == "elsewhere.example:80"


def test_bypassed_sni_is_spliced_with_upstream_certificate(topology, pki):
    r = agent_curl("--cacert", str(pki["ca"]), "--resolve", f"bypass.test:443:{UPSTREAM_IP}", "https://bypass.test/t-bypass")
    assert r.returncode == 0, r.stderr
    assert "test upstream CA" in r.stderr and "aarmor interception CA" not in r.stderr
    # Spliced: the upstream sees aarmor's address (it is the gateway), but TLS is end to end.
    assert json.loads(r.stdout)["path"] == "/t-bypass"


def test_metrics_count_transparent_requests(topology):
    r = in_ns(AARMOR_NS, "curl", "-sS", f"http://127.0.0.1:{topology.admin}/metrics", check=False)
    assert r.returncode == 0, r.stderr
    lines = [l for l in r.stdout.splitlines() if "transparent_tls" in l and not l.startswith("#")]
    assert lines, r.stdout
