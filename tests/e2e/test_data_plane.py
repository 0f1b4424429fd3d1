"""End-to-end tests of the interception data plane with real clients over real TLS on loopback."""
import hashlib
import json
import os
import socket
import subprocess
import sys
import time

import requests

from conftest import WsServer, curl, pack_data


def test_curl_http11_through_connect_sees_minted_leaf(aarmor, upstream):
    r = curl("-v", "--http1.1", "-x", aarmor.url, "--cacert", str(aarmor.ca), f"https://localhost:{upstream.port}/hello")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["path"] == "/hello"
    assert "aarmor interception CA" in r.stderr  # issuer of the leaf the client saw
    assert "HTTP/1.1 200" in r.stderr


def test_curl_http2_to_client(aarmor, upstream):
    r = curl("-v", "--http2", "-x", aarmor.url, "--cacert", str(aarmor.ca), f"https://localhost:{upstream.port}/h2")
    assert r.returncode == 0, r.stderr
    assert "HTTP/2 200" in r.stderr
    assert json.loads(r.stdout)["path"] == "/h2"


def test_no_sni_client_gets_ip_san_leaf(aarmor, upstream):
    r = curl("-v", "-x", aarmor.url, "--cacert", str(aarmor.ca), f"https://127.0.0.1:{upstream.port}/ip")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["path"] == "/ip"


def test_keepalive_reuse_and_upstream_pooling(aarmor, upstream):
    base = f"https://localhost:{upstream.port}"
    r = curl("-v", "-x", aarmor.url, "--cacert", str(aarmor.ca), f"{base}/ka1", f"{base}/ka2", f"{base}/ka3")
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("Re-using existing connection") >= 2 or r.stderr.lower().count("reusing existing") >= 2, r.stderr
    conns = {tuple(x["conn"]) for x in upstream.seen if x["path"] in ("/ka1", "/ka2", "/ka3")}
    assert len(conns) == 1, f"upstream connections should be pooled: {conns}"


def test_post_body_and_chunked_upload(aarmor, upstream, tmp_path):
    payload = os.urandom(3 * 1024 * 1024 + 17)
    f = tmp_path / "up.bin"
    f.write_bytes(payload)
    common = ["-x", aarmor.url, "--cacert", str(aarmor.ca), "-H", "content-type: application/octet-stream"]
    r = curl(*common, "--data-binary", f"@{f}", f"https://localhost:{upstream.port}/echo")
    out = json.loads(r.stdout)
    assert "len" in out, f"not the upstream's echo: {r.stdout[:500]}"
    assert out["len"] == len(payload) and out["sha256"] == hashlib.sha256(payload).hexdigest()
    r = curl(*common, "-H", "Transfer-Encoding: chunked", "--data-binary", f"@{f}", f"https://localhost:{upstream.port}/echo")
    out = json.loads(r.stdout)
    assert "len" in out, f"not the upstream's echo: {r.stdout[:500]}"
    assert out["len"] == len(payload) and out["sha256"] == hashlib.sha256(payload).hexdigest()


def test_expect_100_continue(start_aarmor, upstream):
    """An HTTP/1.1 client that waits for `100 Continue` before it sends its body (curl, S3 SDKs)
    gets it: from aarmor when it reads the body to mediate the action (the upstream then gets the
    whole body without the expectation, and its own interim 100 is not taken for its answer), and
    from the upstream when the body streams through (mediation off). curl would wait 60 s for the
    100 but gives up after 20 s in all, so a missing 100 fails the exchange."""
    body = json.dumps({"note": "x" * 4000})
    for label, extra in (("mediated", ""), ("streamed", "[mediation]\nenabled = false")):
        a = start_aarmor(extra=extra)
        path = f"/v1/tickets/{label}"
        r = curl("-v", "--http1.1", "-x", a.url, "--cacert", str(a.ca), "-H", "Expect: 100-continue",
                 "--expect100-timeout", "60", "-H", "content-type: application/json", "--data-binary", body,
                 f"https://localhost:{upstream.port}{path}")
        assert r.returncode == 0, (label, r.stderr)
        assert json.loads(r.stdout)["len"] == len(body), (label, r.stdout)
        assert r.stderr.count("HTTP/1.1 100 Continue") == 1, r.stderr
        assert "HTTP/1.1 200" in r.stderr, r.stderr
        sent = [x for x in upstream.seen if x["path"] == path][-1]
        expect = {k.lower(): v for k, v in sent["headers"].items()}.get("expect")
        assert expect == (None if label == "mediated" else "100-continue"), (label, sent["headers"])


def test_upstream_interim_responses_are_not_the_answer(aarmor, pki):
    """An upstream that sends interim responses unasked (103 Early Hints, 100 Continue) before
    its answer: the mediated exchange waits for the final one."""
    import ssl
    import threading

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*pki["leaf"])
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(20)
    port = listener.getsockname()[1]

    def serve_one():
        conn, _ = listener.accept()
        with ctx.wrap_socket(conn, server_side=True) as tls:
            tls.settimeout(20)
            data = b""
            while b"\r\n\r\n" not in data and len(data) < 65536:
                data += tls.recv(65536)
            head, _, rest = data.partition(b"\r\n\r\n")
            length = next(int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:"))
            while len(rest) < length:
                rest += tls.recv(65536)
            tls.sendall(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
                        b"HTTP/1.1 100 Continue\r\n\r\n"
                        b"HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: 12\r\n"
                        b"connection: close\r\n\r\n{\"ok\": true}")

    server = threading.Thread(target=serve_one, daemon=True)
    server.start()
    try:
        r = requests.post(f"https://localhost:{port}/v1/tickets/1", json={"note": "hi"}, proxies={"https": aarmor.url},
                          verify=str(aarmor.ca), timeout=15)
        assert r.status_code == 201 and r.json() == {"ok": True}, (r.status_code, r.text)
    finally:
        server.join(timeout=20)
        listener.close()


def test_pipelined_requests_are_each_mediated_in_order(aarmor, upstream):
    """An HTTP/1.1 client that pipelines (sends the next requests before reading the answers)
    gets every answer, in order, on the same connection: a read, an allowed action, an action
    the default pack refuses (the connection stays usable: its body was read), and a read."""
    import re
    import ssl

    raw = socket.create_connection(("127.0.0.1", aarmor.port), timeout=10)
    raw.sendall(f"CONNECT localhost:{upstream.port} HTTP/1.1\r\nHost: localhost:{upstream.port}\r\n\r\n".encode())
    assert raw.recv(4096).startswith(b"HTTP/1.1 200")
    tls = ssl.create_default_context(cafile=str(aarmor.ca)).wrap_socket(raw, server_hostname="localhost")
    host = f"Host: localhost:{upstream.port}\r\n".encode()

    def post(path, body):
        return (b"POST " + path + b" HTTP/1.1\r\n" + host + b"Content-Type: application/json\r\n"
                + b"Content-Length: %d\r\n\r\n" % len(body) + body)

    tls.sendall(b"GET /pipe/1 HTTP/1.1\r\n" + host + b"\r\n"
                + post(b"/pipe/2", b'{"note": "fine"}')
                + post(b"/pipe/3", b'{"note": "creds AKIAIOSFODNN7EXAMPLE"}')
                + b"GET /pipe/4 HTTP/1.1\r\n" + host + b"Connection: close\r\n\r\n")
    data = b""
    deadline = time.time() + 15
    while time.time() < deadline:
        chunk = tls.recv(65536)
        if not chunk:
            break
        data += chunk
    tls.close()
    statuses = [int(s) for s in re.findall(rb"HTTP/1\.1 (\d{3}) ", data)]
    assert statuses == [200, 200, 403, 200], data
    assert b"secrets.outbound" in data
    seen = [x["path"] for x in upstream.seen if x["path"].startswith("/pipe/")]
    assert seen == ["/pipe/1", "/pipe/2", "/pipe/4"], seen


def test_10mib_streamed_download(aarmor, upstream, tmp_path):
    out = tmp_path / "big.bin"
    r = curl("-x", aarmor.url, "--cacert", str(aarmor.ca), "-o", str(out), f"https://localhost:{upstream.port}/big")
    assert r.returncode == 0, r.stderr
    data = out.read_bytes()
    block = bytes(range(256)) * 256
    assert len(data) == 10 * 1024 * 1024
    assert hashlib.sha256(data).hexdigest() == hashlib.sha256(block * 160).hexdigest()


def test_python_requests(aarmor, upstream):
    proxies = {"https": aarmor.url, "http": aarmor.url}
    with requests.Session() as s:
        for i in range(3):
            r = s.post(f"https://localhost:{upstream.port}/echo", data=b"x" * i, proxies=proxies, verify=str(aarmor.ca), timeout=10)
            assert r.status_code == 200 and r.json()["len"] == i


def test_openai_sdk_through_https_proxy(aarmor, upstream):
    script = (
        "from openai import OpenAI\n"
        f"c = OpenAI(base_url='https://localhost:{upstream.port}/v1', api_key='sk-test')\n"
        "r = c.chat.completions.create(model='gpt-test', messages=[{'role': 'user', 'content': 'hi'}])\n"
        "print(r.choices[0].message.content)\n"
    )
    env = dict(os.environ, HTTPS_PROXY=aarmor.url, SSL_CERT_FILE=str(aarmor.ca), NO_PROXY="")
    r = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "hello from the test upstream"
    assert any(x["path"] == "/v1/chat/completions" and {k.lower(): v for k, v in x["headers"].items()}.get("authorization") == "Bearer sk-test" for x in upstream.seen)


def test_plain_http_absolute_form(aarmor, plain_upstream):
    r = curl("-v", "-x", aarmor.url, f"http://127.0.0.1:{plain_upstream.port}/plain?q=1")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["path"] == "/plain?q=1", "upstream must receive origin-form"


def test_proxy_auth_required_and_never_forwarded(start_aarmor, upstream, plain_upstream):
    # The credential names a registered agent (a POST is an action: unknown agents are refused).
    registry = ("agents:\n  - name: agent-7\n    credentials:\n      - basic_user: agent-7\n"
                f"        password_sha256: \"{hashlib.sha256(b'pw').hexdigest()}\"\n")
    a = start_aarmor(extra_proxy="require_proxy_auth = true", policy_files={"identities.yaml": registry})
    r = curl("-i", "-x", a.url, f"http://127.0.0.1:{plain_upstream.port}/x")
    assert "407" in r.stdout.splitlines()[0] and 'proxy-authenticate: basic realm="aarmor"' in r.stdout.lower()
    r = curl("-x", a.url, "--cacert", str(a.ca), f"https://localhost:{upstream.port}/noauth")
    assert r.returncode != 0 and "407" in r.stderr
    r = curl("-U", "agent-7:pw", "-x", a.url, "-d", "x", f"http://127.0.0.1:{plain_upstream.port}/authed")
    assert json.loads(r.stdout)["proxy_authorization"] is None, r.stdout
    assert [x for x in a.receipts() if x["kind"] == "decision"][-1]["action"]["identity"]["agent"] == "agent-7"
    r = curl("-U", "agent-7:pw", "-x", a.url, "--cacert", str(a.ca), f"https://localhost:{upstream.port}/authed-tls")
    assert r.returncode == 0, r.stderr


def test_bypass_splices_with_upstream_certificate(start_aarmor, upstream, pki):
    a = start_aarmor(extra_proxy='bypass = ["localhost"]')
    r = curl("-v", "-x", a.url, "--cacert", str(pki["ca"]), f"https://localhost:{upstream.port}/bypassed")
    assert r.returncode == 0, r.stderr
    assert "test upstream CA" in r.stderr and "aarmor interception CA" not in r.stderr
    # Other hosts are still intercepted.
    r = curl("-v", "-x", a.url, "--cacert", str(a.ca), f"https://127.0.0.1:{upstream.port}/intercepted")
    assert r.returncode == 0 and "aarmor interception CA" in r.stderr
    assert "aarmor_spliced_connections_total 1" in requests.get(f"http://127.0.0.1:{a.admin}/metrics", timeout=5).text


def test_untrusted_upstream_certificate_is_502_with_reason(aarmor, rogue_upstream):
    r = curl("-i", "--http1.1", "-x", aarmor.url, "--cacert", str(aarmor.ca), f"https://127.0.0.1:{rogue_upstream.port}/x")
    final = r.stdout.split("HTTP/1.1 200 Connection Established\n\n", 1)[1]
    assert final.startswith("HTTP/1.1 502"), r.stdout + r.stderr
    body = json.loads(final.split("\n\n", 1)[1])
    assert body["type"] == "urn:aarmor:problem:upstream-tls"
    assert "UnknownIssuer" in body["detail"] or "certificate" in body["detail"].lower(), body
    assert not rogue_upstream.seen


def test_unreachable_upstream_is_502(aarmor):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    r = curl("-i", "-x", aarmor.url, f"http://127.0.0.1:{dead}/x")
    assert r.stdout.startswith("HTTP/1.1 502"), r.stdout
    assert "upstream-unreachable" in r.stdout
    r = curl("-i", "-x", aarmor.url, "--cacert", str(aarmor.ca), f"https://127.0.0.1:{dead}/x")
    assert "HTTP/2 502" in r.stdout and "upstream-unreachable" in r.stdout, r.stdout + r.stderr


def test_client_distrusting_the_ca_fails_cleanly(aarmor, upstream):
    r = curl("-x", aarmor.url, f"https://localhost:{upstream.port}/x")  # no --cacert: system store lacks aarmor's CA
    assert r.returncode == 60, r.stderr
    time.sleep(0.2)
    assert "TLS handshake with the client failed" in aarmor.logs()
    # The proxy still serves others.
    assert curl("-x", aarmor.url, "--cacert", str(aarmor.ca), f"https://localhost:{upstream.port}/after").returncode == 0


def raw(aarmor, data: bytes, read_timeout=5.0):
    s = socket.create_connection(("127.0.0.1", aarmor.port), timeout=read_timeout)
    s.sendall(data)
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except socket.timeout:
        out += b"<timeout>"
    s.close()
    return out


def test_oversized_head_is_431(aarmor):
    out = raw(aarmor, b"CONNECT localhost:443 HTTP/1.1\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 431"), out[:100]


def test_slowloris_is_closed(start_aarmor):
    a = start_aarmor(extra_proxy="header_read_timeout_ms = 500")
    s = socket.create_connection(("127.0.0.1", a.port), timeout=5)
    s.sendall(b"CONNECT localhost:443 HTTP/1.1\r\nHost: loc")
    t0 = time.time()
    out = s.recv(4096)
    assert out.startswith(b"HTTP/1.1 408"), out
    assert time.time() - t0 < 4
    s.close()


def test_garbage_after_connect_closes(aarmor, upstream):
    out = raw(aarmor, f"CONNECT localhost:{upstream.port} HTTP/1.1\r\n\r\n".encode() + b"\x00\x01garbage-not-tls-or-http\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200"), out
    assert b"<timeout>" not in out, "connection must be closed, not left hanging"
    time.sleep(0.2)
    assert "garbage after CONNECT" in aarmor.logs()


def test_garbage_instead_of_request(aarmor):
    out = raw(aarmor, b"\x16\x03\x01garbage\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400"), out


def test_request_smuggling_is_refused(aarmor, plain_upstream):
    target = f"http://127.0.0.1:{plain_upstream.port}"
    before = len(plain_upstream.seen)
    cl_te = (f"POST {target}/smuggle HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
             "0\r\n\r\nGET /evil HTTP/1.1\r\nHost: x\r\n\r\n").encode()
    out = raw(aarmor, cl_te)
    assert out.startswith(b"HTTP/1.1 400"), out
    double_cl = f"POST {target}/smuggle2 HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\nabcd".encode()
    out = raw(aarmor, double_cl)
    assert out.startswith(b"HTTP/1.1 400"), out
    paths = [x["path"] for x in plain_upstream.seen[before:]]
    assert "/evil" not in paths and "/smuggle" not in paths and "/smuggle2" not in paths, paths


def test_not_a_proxy_request_is_400(aarmor):
    out = raw(aarmor, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400") and b"not-a-proxy-request" in out


def test_admin_health_and_metrics(aarmor, upstream):
    assert curl("-x", aarmor.url, "--cacert", str(aarmor.ca), f"https://localhost:{upstream.port}/m").returncode == 0
    h = requests.get(f"http://127.0.0.1:{aarmor.admin}/healthz", timeout=5)
    assert h.status_code == 200 and h.json() == {"status": "ok"}
    m = requests.get(f"http://127.0.0.1:{aarmor.admin}/metrics", timeout=5).text
    for family in ["aarmor_connections_total", "aarmor_requests_total", "aarmor_tls_handshakes_total", "aarmor_certificates_minted_total",
                   "aarmor_request_duration_seconds_bucket"]:
        assert family in m, family
    # the proxy port does not serve the admin API
    assert b"not-a-proxy-request" in raw(aarmor, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")


def test_bad_config_names_key_and_exits_2(tmp_path):
    from conftest import BIN
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[proxy]\nbypass = ["ok.test", "not a host"]\n')
    r = subprocess.run([str(BIN), "--config", str(cfg), "run"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "proxy.bypass" in r.stderr, r.stderr
    cfg.write_text('[upstream]\nca_file = "x"\n')
    r = subprocess.run([str(BIN), "--config", str(cfg), "config", "check"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "ca_file" in r.stderr, r.stderr


def test_ca_cli(tmp_path):
    from conftest import BIN
    d = ["--data-dir", str(tmp_path / "d")]
    assert subprocess.run([str(BIN), *d, "ca", "init"], capture_output=True).returncode == 0
    r = subprocess.run([str(BIN), *d, "ca", "init"], capture_output=True, text=True)
    assert r.returncode != 0 and "--force" in r.stderr
    pem = subprocess.run([str(BIN), *d, "ca", "export", "--format", "pem"], capture_output=True, text=True).stdout
    assert pem.startswith("-----BEGIN CERTIFICATE-----")
    der = subprocess.run([str(BIN), *d, "ca", "export", "--format", "der"], capture_output=True).stdout
    assert der[0] == 0x30
    assert (tmp_path / "d" / "certs" / "ca.key").stat().st_mode & 0o777 == 0o600
    for os_name, needle in [("debian", "update-ca-certificates"), ("rhel", "update-ca-trust"), ("macos", "add-trusted-cert")]:
        out = subprocess.run([str(BIN), *d, "ca", "install-script", "--os", os_name], capture_output=True, text=True).stdout
        assert needle in out


def test_websocket_upgrade_passes_through(start_aarmor, pki):
    """An upgrade is an action: allowed to the hosts the pack lists (upgrades.allowed_hosts)."""
    import ssl

    from websockets.sync.client import connect

    aarmor = start_aarmor(policy_files=pack_data(lambda c: c["upgrades"]["allowed_hosts"].update({"localhost": True})))
    server = WsServer(*pki["leaf"])
    try:
        # Trusting only aarmor's CA proves the upgrade ran over the intercepted stream.
        ctx = ssl.create_default_context(cafile=str(aarmor.ca))
        with connect(f"wss://localhost:{server.port}/echo", ssl=ctx, proxy=aarmor.url, open_timeout=10) as ws:
            for message in ("hello", b"\x00\x01binary" * 1000, "x" * 200_000):
                ws.send(message)
                assert ws.recv(timeout=10) == message
    finally:
        server.close()
