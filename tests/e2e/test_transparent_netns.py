"""Transparent mode end to end across three network namespaces the test creates:

    agent ns (10.77.1.2) --veth--> aarmor ns (gateway, shipped nftables redirect) --veth--> upstream ns (10.77.2.2)

The agent has no proxy settings: it connects straight to the upstream's address and the kernel in
the aarmor namespace redirects every TCP connection to aarmor's transparent listener, using the
rules shipped in deploy/nftables/aarmor-gateway.nft unchanged: TLS and HTTP on any port are
mediated, anything else is refused (receipted), UDP other than DNS is dropped."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, Aarmor, make_leaf

UPSTREAM_IP = "10.77.2.2"
# A second address of the upstream host: where an agent sends a bypassed name that is not its.
OTHER_IP = "10.77.2.3"
KEY = "AKIAIOSFODNN7EXAMPLE"
AARMOR_UPSTREAM_SIDE = "10.77.2.1"
SUFFIX = str(os.getpid() % 100000)
AGENT_NS, AARMOR_NS, UPSTREAM_NS = (f"aarmor-t-{n}-{SUFFIX}" for n in ("agent", "gw", "up"))


def sh(*cmd, check=True, timeout=20):
    return subprocess.run(list(cmd), capture_output=True, text=True, check=check, timeout=timeout)


def in_ns(ns, *cmd, **kw):
    return sh("ip", "netns", "exec", ns, *cmd, **kw)


# `ip netns exec` mounts /etc/netns/<ns>/hosts over /etc/hosts: the gateway resolves the
# bypassed name (and only the gateway: the agent is told addresses with curl --resolve), and a
# name with two addresses of which only the second answers (as `localhost` is ::1 and 127.0.0.1
# on Debian while a local server listens on one of them).
GATEWAY_HOSTS = Path("/etc/netns") / AARMOR_NS / "hosts"


def teardown_namespaces():
    for ns in (AGENT_NS, AARMOR_NS, UPSTREAM_NS):
        sh("ip", "netns", "del", ns, check=False)
    if GATEWAY_HOSTS.exists():
        GATEWAY_HOSTS.unlink()
        GATEWAY_HOSTS.parent.rmdir()


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
    in_ns(UPSTREAM_NS, "ip", "addr", "add", f"{OTHER_IP}/24", "dev", "eth0")
    in_ns(AGENT_NS, "ip", "route", "add", "default", "via", "10.77.1.1")
    in_ns(UPSTREAM_NS, "ip", "route", "add", "default", "via", AARMOR_UPSTREAM_SIDE)
    in_ns(AARMOR_NS, "sysctl", "-qw", "net.ipv4.ip_forward=1")
    in_ns(AARMOR_NS, "nft", "-f", str(ROOT / "deploy" / "nftables" / "aarmor-gateway.nft"))
    GATEWAY_HOSTS.parent.mkdir(parents=True, exist_ok=True)
    GATEWAY_HOSTS.write_text(f"127.0.0.1 localhost\n{UPSTREAM_IP} bypass.test\n127.0.0.2 dual.test\n{UPSTREAM_IP} dual.test\n")


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
    cert, key = make_leaf(d, pki["ca_key"], pki["ca_cert"], ["upstream.test", "bypass.test", "dual.test"], [UPSTREAM_IP, OTHER_IP])
    record = d / "record"
    record.mkdir()
    server = subprocess.Popen(["ip", "netns", "exec", UPSTREAM_NS, sys.executable, str(Path(__file__).parent / "helpers" / "upstream_server.py"),
                               str(cert), str(key), str(record)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "ready", "test upstream did not start in its namespace"
        aarmor_dir = d / "aarmor"
        aarmor_dir.mkdir()
        # The agent subnet is registered (its actions are decided, not refused as unknown).
        registry = "agents:\n  - name: subnet-agent\n    cidrs: [10.77.1.0/24]\n  - name: local\n    cidrs: [127.0.0.0/8]\n"
        aarmor = Aarmor(aarmor_dir, pki["ca"], extra_proxy='transparent_listen = "0.0.0.0:3129"\nbypass = ["bypass.test"]',
                        netns=AARMOR_NS, policy_files={"identities.yaml": registry})
        aarmor.record = record
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


def test_tls_and_http_on_any_port_are_mediated(topology):
    # TLS on a port that is not 443, and plain HTTP on one that is not 80 (an MCP server, say).
    r = agent_curl("--cacert", str(topology.ca), "--resolve", f"upstream.test:8443:{UPSTREAM_IP}",
                   "https://upstream.test:8443/t-8443")
    assert r.returncode == 0, r.stderr + topology.logs()
    assert json.loads(r.stdout)["conn"][0] == AARMOR_UPSTREAM_SIDE and "aarmor interception CA" in r.stderr
    r = agent_curl("-d", f"{{\"k\": \"{KEY}\"}}", "-H", "content-type: application/json", f"http://{UPSTREAM_IP}:8000/mcp")
    assert '"secrets.outbound"' in r.stdout, r.stdout + r.stderr
    d = [x for x in topology.receipts() if x["kind"] == "decision"][-1]
    assert d["decision"]["rule"] == "secrets.outbound" and d["action"]["target"]["port"] == 8000
    # Control: the same request without the key goes through.
    r = agent_curl("-d", "{}", "-H", "content-type: application/json", f"http://{UPSTREAM_IP}:8000/mcp")
    assert r.returncode == 0 and json.loads(r.stdout)["len"] == 2, r.stdout + r.stderr


def agent_python(code):
    """Runs Python code in the agent namespace."""
    return in_ns(AGENT_NS, sys.executable, "-c", code, check=False, timeout=30)


def test_other_tcp_is_refused_and_udp_dropped(topology):
    import time

    # A protocol that is neither TLS nor HTTP (a database's wire protocol): refused with a
    # receipt; the upstream sees nothing.
    agent_python(
        "import socket\n"
        f"s = socket.create_connection(('{UPSTREAM_IP}', 5432), timeout=5)\n"
        f"s.sendall(b'\\x00\\x00\\x00\\x08{KEY}')\n"
        "s.settimeout(5)\n"
        "try:\n    s.recv(10)\nexcept OSError:\n    pass\n")
    # UDP other than DNS is dropped; DNS is routed (the control).
    for port in (9999, 53):
        agent_python("import socket\n"
                     f"socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'{KEY}', ('{UPSTREAM_IP}', {port}))\n")
    time.sleep(1)
    tcp_log = topology.record / "tcp.log"
    assert not tcp_log.exists() or KEY not in tcp_log.read_text()
    udp_log = topology.record / "udp.log"
    udp = udp_log.read_text() if udp_log.exists() else ""
    assert "9999" not in udp, udp
    assert udp.startswith("53 "), f"DNS is routed: {udp!r}"
    d = [x for x in topology.receipts() if x["kind"] == "decision"][-1]
    assert d["decision"]["rule"] == "aarmor.forbidden_destination" and d["action"]["operation"] == "connect"
    assert d["action"]["parameters"]["address"] == f"{UPSTREAM_IP}:5432"


def test_a_bypassed_name_is_spliced_only_where_it_resolves(topology, pki):
    # Control: the bypassed name at the address it resolves to is spliced, decided and receipted.
    r = agent_curl("--cacert", str(pki["ca"]), "--resolve", f"bypass.test:443:{UPSTREAM_IP}", "https://bypass.test/t-right")
    assert r.returncode == 0, r.stderr
    connects = [x for x in topology.receipts() if x["kind"] == "decision" and x["action"]["operation"] == "connect"
                and "splice" in x["action"]["parameters"]]
    assert connects and connects[-1]["action"]["parameters"]["address"] == f"{UPSTREAM_IP}:443"
    # The agent names the bypassed host but connects to another address: intercepted, so a
    # client trusting only the upstream's CA cannot complete the handshake...
    r = agent_curl("--cacert", str(pki["ca"]), "--resolve", f"bypass.test:443:{OTHER_IP}", "https://bypass.test/t-wrong")
    assert r.returncode != 0
    # ...and one trusting aarmor's CA is mediated like any other.
    r = agent_curl("--cacert", str(topology.ca), "--resolve", f"bypass.test:443:{OTHER_IP}", "https://bypass.test/t-wrong")
    assert r.returncode == 0 and "aarmor interception CA" in r.stderr, r.stderr


def test_each_address_of_a_host_is_tried_in_turn(topology):
    """The explicit proxy (in the gateway namespace) reaches a host whose first address refuses
    connections on its second one, for a read (the proxied path) and for a decided action
    (the path aarmor drives itself)."""
    proxy = ("-x", topology.url, "--cacert", str(topology.ca))
    r = in_ns(AARMOR_NS, "getent", "ahostsv4", "dual.test", check=False)
    assert r.stdout.split()[0] == "127.0.0.2", f"the refusing address must come first: {r.stdout}"
    r = in_ns(AARMOR_NS, "curl", "-sS", "--max-time", "15", *proxy, "https://dual.test/t-dual-read", check=False, timeout=30)
    assert r.returncode == 0 and json.loads(r.stdout)["path"] == "/t-dual-read", r.stdout + r.stderr + topology.logs()
    r = in_ns(AARMOR_NS, "curl", "-sS", "--max-time", "15", *proxy, "-H", "content-type: application/json",
              "-d", '{"note": "hello"}', "https://dual.test/v1/notes", check=False, timeout=30)
    assert r.returncode == 0 and json.loads(r.stdout)["len"] == 17, r.stdout + r.stderr + topology.logs()
    d = [x for x in topology.receipts() if x["kind"] == "decision"][-1]
    assert d["action"]["target"]["host"] == "dual.test" and d["decision"]["result"] == "ALLOW"
    assert "trying the host's next address" in topology.logs()
