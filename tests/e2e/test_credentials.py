"""Brokered credentials (AARM R9) through the real proxy: an agent names a credential with a
placeholder and never holds the secret; aarmor attaches it only after the action is allowed, only
within the credential's bindings and scope, scrubs it from what comes back, refuses it when an
agent sends it, and mints per-action tokens that the example verifier accepts for their own
action alone. The upstreams are TLS servers on loopback; the token endpoint is Authlib's."""
import base64
import http.server
import importlib.util
import json
import os
import secrets
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from conftest import ROOT, Upstream, free_port, wait_for
from test_siem import rsyslog  # noqa: F401  (the real rsyslogd the SIEM sink writes to)

VERIFIER = ROOT / "examples" / "credential-verifier" / "verifier.py"
OAUTH2_SERVER = ROOT / "tests" / "e2e" / "helpers" / "oauth2_server.py"


def load_verifier():
    spec = importlib.util.spec_from_file_location("credential_verifier", VERIFIER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class EchoHandler(http.server.BaseHTTPRequestHandler):
    """Records every request and echoes its Authorization header back, in the body and in a
    header: an upstream that reflects the credential it was sent."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _serve(self):
        n = int(self.headers.get("content-length", 0))
        body = self.rfile.read(n)
        self.server.seen.append({"method": self.command, "path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
        auth = self.headers.get("authorization", "")
        if self.path.endswith("/store"):
            self.server.stored = auth
        if self.path.endswith("/last"):
            # What an earlier request carried, read back later, as it is and base64-encoded.
            last = getattr(self.server, "stored", "")
            reply = json.dumps({"last": last, "b64": base64.b64encode(last.encode()).decode()}).encode()
        else:
            reply = json.dumps({"path": self.path, "you_sent": auth, "debug": f"auth={auth}",
                                "b64": base64.b64encode(auth.encode()).decode()}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("x-echo-authorization", auth or "none")
        self.send_header("content-length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    do_GET = do_POST = do_PUT = do_DELETE = _serve


def Echo(cert, key):
    """The echoing upstream, TLS on loopback."""
    return Upstream(cert, key, handler=EchoHandler)


def started(proc, what):
    """Waits for a helper process's `listening on` line (bounded)."""
    deadline = time.time() + 20
    while time.time() < deadline:
        line = proc.stdout.readline()
        if "listening on" in line:
            return
        assert proc.poll() is None, f"{what} exited: {proc.stdout.read()}"
    raise AssertionError(f"{what} did not start")


def secret_file(directory: Path, name: str, value: str) -> Path:
    path = directory / name
    path.write_text(value + "\n")
    path.chmod(0o600)
    return path


def credentials_yaml(read_file, echo_port, verifier_port, oauth=None):
    text = f"""
credentials:
  echo-read:
    source: {{file: {read_file}}}
    scope: read
    bindings:
      - host: localhost
        port: {echo_port}
        paths: ["/repos/**"]
  echo-write:
    source: {{env: AARMOR_TEST_WRITE_SECRET}}
    scope: write
    inject: {{header: authorization, format: "token {{secret}}"}}
    bindings:
      - host: localhost
        port: {echo_port}
        paths: ["/repos/**"]
  svc-token:
    source: {{mint: {{audience: "https://svc.test", ttl_s: 20}}}}
    scope: read
    bindings:
      - host: localhost
        port: {verifier_port}
      - host: localhost
        port: {echo_port}
        paths: ["/capture"]
"""
    if oauth:
        text += f"""
  oauth-check:
    source:
      oauth2:
        token_url: "http://127.0.0.1:{oauth['port']}/oauth/token"
        client_id: {oauth['client_id']}
        client_secret_file: {oauth['secret_file']}
    scope: read
    attach: always
    bindings:
      - host: 127.0.0.1
        port: {oauth['port']}
        paths: ["/check"]
        allow_plain_http: true
"""
    return text


def through(a, method, url, headers=None, **kw):
    return requests.request(method, url, headers=headers or {}, proxies={"https": a.url, "http": a.url},
                            verify=str(a.ca), timeout=30, **kw)


def receipts_for(a, path):
    return [r for r in a.receipts() if r["action"]["target"]["path"] == path]


def test_read_credential_reads_cannot_write_or_go_elsewhere_and_never_reaches_the_agent(start_aarmor, pki, tmp_path, monkeypatch, rsyslog):  # noqa: F811
    echo = Echo(*pki["leaf"])
    read_secret = "rd-" + secrets.token_hex(16)
    write_secret = "wr-" + secrets.token_hex(16)
    monkeypatch.setenv("AARMOR_TEST_WRITE_SECRET", write_secret)
    read_file = secret_file(tmp_path, "echo-read.secret", read_secret)
    a = start_aarmor(
        policy_files={"credentials.yaml": credentials_yaml(read_file, echo.port, free_port())},
        extra=f'[telemetry]\nretry_initial_ms = 100\n[[telemetry.sinks]]\nname = "tcp"\nurl = "tcp://127.0.0.1:{rsyslog.ports["tcp"]}"\n')
    base = f"https://localhost:{echo.port}"
    agent_saw = []
    try:
        # Control: a plain read carries no credential at all.
        r = through(a, "GET", f"{base}/repos/o/r/plain")
        assert r.status_code == 200 and echo.seen[-1]["headers"].get("authorization") is None

        # The read placeholder on a read: the upstream gets the real secret, the agent does not.
        r = through(a, "GET", f"{base}/repos/o/r", headers={"Authorization": "Bearer aarmor:echo-read"})
        agent_saw.append(r.text + json.dumps(dict(r.headers)))
        assert r.status_code == 200, r.text
        assert echo.seen[-1]["headers"].get("authorization") == f"Bearer {read_secret}", (echo.seen[-1], receipts_for(a, "/repos/o/r"))
        assert read_secret not in r.text and read_secret not in json.dumps(dict(r.headers))
        assert r.json()["you_sent"] == "Bearer aarmor:echo-read", "echoed secret scrubbed back to the placeholder"
        assert r.headers["x-echo-authorization"] == "Bearer aarmor:echo-read"
        decision = receipts_for(a, "/repos/o/r")[0]
        assert decision["decision"]["result"] == "ALLOW"
        assert decision["action"]["credential"] == {"name": "echo-read", "scope": "read", "binding": "localhost/repos/**",
                                                    "source": "file", "presented": "placeholder", "access": "read"}

        # The same placeholder on a write: refused, receipted, and the upstream saw nothing.
        seen = len(echo.seen)
        r = through(a, "POST", f"{base}/repos/o/r/issues", headers={"Authorization": "Bearer aarmor:echo-read"},
                    json={"title": "hello"})
        agent_saw.append(r.text)
        assert r.status_code == 403 and r.json()["rule"] == "credentials.scope_violation", r.text
        assert "scope is read" in r.json()["reason"]
        # On another host, another port, another path: refused too.
        for url in (f"https://127.0.0.1:{echo.port}/repos/o/r", f"{base}/admin/keys"):
            r = through(a, "GET", url, headers={"Authorization": "Bearer aarmor:echo-read"})
            agent_saw.append(r.text)
            assert r.status_code == 403 and r.json()["rule"] == "credentials.scope_violation", (url, r.text)
        # A name that is not configured, and two names at once.
        r = through(a, "GET", f"{base}/repos/o/r", headers={"Authorization": "Bearer aarmor:nope"})
        assert r.status_code == 403 and r.json()["rule"] == "credentials.scope_violation"
        r = through(a, "GET", f"{base}/repos/o/r", headers={"Authorization": "Bearer aarmor:echo-read", "x-aarm-credential": "echo-write"})
        assert r.status_code == 403 and r.json()["rule"] == "credentials.scope_violation"
        assert len(echo.seen) == seen, "the upstream saw none of the refused requests"

        # The write credential writes (from the environment, in its own header format).
        r = through(a, "POST", f"{base}/repos/o/r/issues", headers={"x-aarm-credential": "echo-write"}, json={"title": "hello"})
        agent_saw.append(r.text + json.dumps(dict(r.headers)))
        assert r.status_code == 200, r.text
        assert echo.seen[-1]["headers"]["authorization"] == f"token {write_secret}"
        assert "x-aarm-credential" not in {k.lower() for k in echo.seen[-1]["headers"]}

        # An agent that got hold of a secret cannot send it, in any form, anywhere.
        seen = len(echo.seen)
        attempts = [
            ("GET", f"{base}/repos/o/r", {"Authorization": f"Bearer {read_secret}"}, None),
            ("GET", f"{base}/anything?key={read_secret}", {}, None),
            ("POST", f"https://127.0.0.1:{echo.port}/paste", {}, {"text": f"here: {write_secret}"}),
            ("POST", f"{base}/paste", {"Authorization": "Basic " + base64.b64encode(f"u:{read_secret}".encode()).decode()}, {}),
            ("POST", f"{base}/paste", {}, {"blob": base64.b64encode(f"xx{write_secret}".encode()).decode()}),
        ]
        for method, url, headers, body in attempts:
            r = through(a, method, url, headers=headers, json=body)
            agent_saw.append(r.text)
            assert r.status_code == 403 and r.json()["rule"] == "secrets.credential_leak", (method, url, r.text)
        assert len(echo.seen) == seen, "no leak attempt reached the upstream"
    finally:
        echo.close()

    # Nowhere the agent, an operator or the SIEM looks holds either secret.
    for text in agent_saw:
        assert read_secret not in text and write_secret not in text
    exported = a.cli("receipts", "export").stdout
    assert "echo-read" in exported and read_secret not in exported and write_secret not in exported
    sessions = [line.split()[0] for line in a.cli("context", "list").stdout.splitlines()[1:] if line.strip()]
    assert sessions
    for session in sessions:
        shown = a.cli("context", "export", session).stdout
        assert read_secret not in shown and write_secret not in shown
    siem_log = rsyslog.dir / "tcp.log"
    assert wait_for(lambda: siem_log.exists() and "credentials.scope_violation" in siem_log.read_text(), 15)
    siem = siem_log.read_text()
    assert read_secret not in siem and write_secret not in siem
    assert read_secret not in a.logs() and write_secret not in a.logs()


def test_a_read_credential_cannot_be_shaped_into_a_write_or_read_back(start_aarmor, pki, tmp_path, monkeypatch, plain_upstream):
    """The ways around a read scope and the response scrubber an adversarial agent tries: a body
    shaped like JSON-RPC, a method override, paths a server routes elsewhere, plain HTTP, and
    the secret stored upstream then read back (as it is and base64-encoded) without a
    placeholder. Each is refused, or reaches the agent scrubbed; the controls pass."""
    echo = Echo(*pki["leaf"])
    read_secret = "rd-" + secrets.token_hex(16)
    monkeypatch.setenv("AARMOR_TEST_WRITE_SECRET", "wr-" + secrets.token_hex(16))
    yaml = credentials_yaml(secret_file(tmp_path, "r.secret", read_secret), echo.port, free_port())
    yaml += f"""
  plain-read:
    source: {{file: {tmp_path / "r.secret"}}}
    scope: read
    bindings:
      - host: 127.0.0.1
        port: {plain_upstream.port}
"""
    a = start_aarmor(policy_files={"credentials.yaml": yaml})
    base = f"https://localhost:{echo.port}"
    ph = {"Authorization": "Bearer aarmor:echo-read"}
    plain_seen = len(plain_upstream.seen)
    try:
        seen = len(echo.seen)
        shaped = [
            ("DELETE", "/repos/o/r", {}, {"jsonrpc": "2.0", "method": "ping", "id": 1}),
            ("POST", "/repos/o/r/issues", {}, {"jsonrpc": "2.0", "method": "resources/read", "id": 1}),
            ("GET", "/repos/o/r", {"X-HTTP-Method-Override": "DELETE"}, None),
            ("GET", "/repos/o/r?_method=DELETE", {}, None),
            ("GET", "/repos/x/..%2F..%2Fadmin", {}, None),
            ("GET", "/repos/x/..;/..;/admin", {}, None),
            ("GET", "/repos/%252e%252e/admin", {}, None),
        ]
        for method, path, extra, body in shaped:
            r = through(a, method, f"{base}{path}", headers={**ph, **extra}, json=body)
            if r.status_code == 200:
                # A POST read as MCP is refused as MCP refuses: a JSON-RPC error.
                assert "scope is read" in r.json()["error"]["data"]["reason"], (method, path, r.text)
                continue
            assert r.status_code == 403 and r.json()["rule"] == "credentials.scope_violation", (method, path, r.text)
        # Plain HTTP carries no credential unless its binding says so.
        r = through(a, "GET", f"http://127.0.0.1:{plain_upstream.port}/x", headers={"Authorization": "Bearer aarmor:plain-read"})
        assert r.status_code == 403 and "HTTPS only" in r.json()["reason"], r.text
        assert len(echo.seen) == seen
        assert not any(x["path"] == "/x" for x in plain_upstream.seen[plain_seen:])

        # Stored upstream with the placeholder, read back later without one: scrubbed, both forms.
        r = through(a, "GET", f"{base}/repos/o/store", headers=ph)
        assert r.status_code == 200 and echo.seen[-1]["headers"]["authorization"] == f"Bearer {read_secret}"
        assert read_secret not in r.text and r.json()["b64"] != base64.b64encode(f"Bearer {read_secret}".encode()).decode()
        r = through(a, "GET", f"{base}/other/last")
        assert r.status_code == 200, r.text
        # (plain-read shares the secret file: either name may stand for it)
        assert r.json()["last"] in ("Bearer aarmor:echo-read", "Bearer aarmor:plain-read"), r.text
        assert base64.b64encode(read_secret.encode()).decode()[:20] not in r.text
        # A body the upstream echoes it into, through a JSON-RPC-shaped write with the write
        # credential: the agent and the context log get it scrubbed.
        r = through(a, "POST", f"{base}/repos/o/r/mcp", headers={"x-aarm-credential": "echo-write"},
                    json={"jsonrpc": "2.0", "method": "resources/read", "id": 7, "params": {"uri": "x"}})
        assert r.status_code == 200 and os.environ["AARMOR_TEST_WRITE_SECRET"] not in r.text, r.text
        # Controls: the plain read with the placeholder, and a GET without one.
        assert through(a, "GET", f"{base}/repos/o/r", headers=ph).status_code == 200
        assert through(a, "GET", f"{base}/repos/o/r").status_code == 200
    finally:
        echo.close()
    for session in [line.split()[0] for line in a.cli("context", "list").stdout.splitlines()[1:] if line.strip()]:
        exported = a.cli("context", "export", session).stdout
        assert read_secret not in exported and os.environ["AARMOR_TEST_WRITE_SECRET"] not in exported


def test_protocol_switches_and_hidden_tokens_get_nothing_past(start_aarmor, pki, tmp_path, monkeypatch):
    """A protocol switch aarmor would relay unread carries no credential and no body; a minted
    token hidden behind decoy tokens, or base64-encoded, is still found."""
    echo = Echo(*pki["leaf"])
    write_secret = "wr-" + secrets.token_hex(16)
    monkeypatch.setenv("AARMOR_TEST_WRITE_SECRET", write_secret)
    yaml = credentials_yaml(secret_file(tmp_path, "r.secret", "rd-" + secrets.token_hex(16)), echo.port, free_port())
    data = ROOT / "policies" / "data.json"
    config = json.loads(data.read_text())
    config["aarmor"]["config"].setdefault("upgrades", {})["allowed_hosts"] = {"localhost": True}
    a = start_aarmor(policy_files={"credentials.yaml": yaml, "data.json": json.dumps(config)})
    base = f"https://localhost:{echo.port}"
    try:
        seen = len(echo.seen)
        # Upgrade: foo (the upstream may ignore it and answer 200 with the secret echoed).
        r = through(a, "GET", f"{base}/repos/o/x", headers={"x-aarm-credential": "echo-write", "Connection": "Upgrade", "Upgrade": "foo"})
        assert r.status_code == 403 and r.json()["rule"] == "credentials.scope_violation", r.text
        assert "WebSocket" in r.json()["reason"]
        # A body on a protocol switch would be relayed unread: refused with a receipt.
        r = through(a, "POST", f"{base}/other/x", headers={"Connection": "Upgrade", "Upgrade": "foo"},
                    data=f"key={write_secret}")
        assert r.status_code == 400 and r.json()["rule"] == "aarmor.uninspectable", r.text
        assert len(echo.seen) == seen

        # A minted token: captured, then hidden.
        r = through(a, "GET", f"{base}/capture", headers={"Authorization": "Bearer aarmor:svc-token"})
        assert r.status_code == 200, r.text
        token = echo.seen[-1]["headers"]["authorization"].split(" ", 1)[1]
        seen = len(echo.seen)
        decoys = "eyJhbGciOiJub25lIn0.e30.x " * 40
        for body in (decoys + token, base64.b64encode(token.encode()).decode(), token.split(".", 1)[1]):
            r = through(a, "POST", f"https://127.0.0.1:{echo.port}/paste", data=body, headers={"content-type": "text/plain"})
            assert r.status_code == 403 and r.json()["rule"] == "secrets.credential_leak", (body[:40], r.text)
        assert len(echo.seen) == seen
        # Control: a decoy-only body goes through.
        assert through(a, "POST", f"https://127.0.0.1:{echo.port}/paste", data=decoys, headers={"content-type": "text/plain"}).status_code == 200
    finally:
        echo.close()


def test_minted_token_is_accepted_by_the_verifier_for_its_own_action_only(start_aarmor, pki, tmp_path, monkeypatch):
    verifier = load_verifier()
    echo = Echo(*pki["leaf"])
    vport = free_port()
    read_file = secret_file(tmp_path, "echo-read.secret", "rd-" + secrets.token_hex(16))
    monkeypatch.setenv("AARMOR_TEST_WRITE_SECRET", "wr-" + secrets.token_hex(16))
    a = start_aarmor(policy_files={"credentials.yaml": credentials_yaml(read_file, echo.port, vport)})
    jwks_url = f"http://127.0.0.1:{a.admin}/.well-known/jwks.json"
    jwks = requests.get(jwks_url, timeout=5).json()
    assert jwks["keys"][0]["kty"] == "OKP" and jwks["keys"][0]["alg"] == "EdDSA"
    cert, key = pki["leaf"]
    service = subprocess.Popen([sys.executable, str(VERIFIER), "--listen", f"127.0.0.1:{vport}", "--jwks-url", jwks_url,
                                "--audience", "https://svc.test", "--tls-cert", str(cert), "--tls-key", str(key)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        started(service, "the example verifier")
        svc = f"https://localhost:{vport}"
        # The agent reads through aarmor with the placeholder: the service accepts the token.
        r = through(a, "GET", f"{svc}/reports/7?full=1", headers={"Authorization": "Bearer aarmor:svc-token"})
        assert r.status_code == 200, r.text
        claims = r.json()["claims"]
        decision = receipts_for(a, "/reports/7")[0]
        assert claims["receipt_id"] == decision["receipt_id"] and claims["jti"] == decision["action"]["action_id"]
        assert (claims["method"], claims["host"], claims["path"]) == ("GET", "localhost", "/reports/7?full=1")
        assert claims["exp"] - claims["iat"] <= 60 and claims["credential"] == "svc-token" and claims["scope"] == "read"
        assert decision["action"]["credential"]["source"] == "minted"
        # The read-scoped credential cannot write (AARM R9): aarmor refuses, the service never sees it.
        r = through(a, "POST", f"{svc}/reports/7", headers={"Authorization": "Bearer aarmor:svc-token"}, json={"delete": True})
        assert r.status_code == 403 and r.json()["rule"] == "credentials.scope_violation"

        # A token captured in flight (an upstream that records it) ...
        r = through(a, "GET", f"https://localhost:{echo.port}/capture", headers={"Authorization": "Bearer aarmor:svc-token"})
        token = echo.seen[-1]["headers"]["authorization"].split(" ", 1)[1]
        assert token.count(".") == 2
        # The echo reaches the agent with the token broken up (its markers replaced).
        assert r.status_code == 200 and token not in r.text and "aarmor:minted token" in r.text, r.text
        check = dict(audience="https://svc.test", host="localhost", path="/capture", body=b"")
        assert verifier.verify(token, jwks, method="GET", **check)["path"] == "/capture"
        # ... is refused after it expires, for another method, path or body.
        exp = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "==").decode())["exp"]
        refusals = [
            dict(check, method="GET", now=exp + 1),
            dict(check, method="POST"),
            dict(check, method="GET", path="/capture/other"),
            dict(check, method="GET", body=b'{"amount": 1000}'),
        ]
        for kw in refusals:
            try:
                verifier.verify(token, jwks, **kw)
            except verifier.Refused:
                continue
            raise AssertionError(f"accepted: {kw}")
        # Sent straight to the service as a write, or with other parameters: refused there.
        r = requests.post(f"{svc}/capture", headers={"Authorization": f"Bearer {token}"}, json={"x": 1}, verify=str(pki["ca"]), timeout=10)
        assert r.status_code == 401, r.text
        r = requests.get(f"{svc}/capture?amount=1000", headers={"Authorization": f"Bearer {token}"}, verify=str(pki["ca"]), timeout=10)
        assert r.status_code == 401, r.text
        # Replayed by the agent through aarmor: refused as a leak, the upstream sees nothing.
        seen = len(echo.seen)
        r = through(a, "GET", f"https://localhost:{echo.port}/capture", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 403 and r.json()["rule"] == "secrets.credential_leak", r.text
        assert len(echo.seen) == seen
        # Receipts name the credential, never the token.
        assert token not in a.cli("receipts", "export").stdout
    finally:
        service.terminate()
        service.wait(10)
        echo.close()


def test_oauth2_client_credentials_token_is_fetched_cached_and_attached(start_aarmor, pki, tmp_path, monkeypatch):
    port = free_port()
    client_secret = "cs-" + secrets.token_hex(12)
    server = subprocess.Popen([sys.executable, str(OAUTH2_SERVER), "--port", str(port), "--client-id", "aarmor-test",
                               "--client-secret", client_secret], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        started(server, "the OAuth2 token endpoint")
        oauth = {"port": port, "client_id": "aarmor-test",
                 "secret_file": secret_file(tmp_path, "client.secret", client_secret)}
        read_file = secret_file(tmp_path, "echo-read.secret", "rd-" + secrets.token_hex(16))
        monkeypatch.setenv("AARMOR_TEST_WRITE_SECRET", "wr-" + secrets.token_hex(16))
        a = start_aarmor(policy_files={"credentials.yaml": credentials_yaml(read_file, free_port(), free_port(), oauth)})
        url = f"http://127.0.0.1:{port}/check"
        # Control: without aarmor the agent holds no token, and the resource refuses it.
        assert requests.get(url, timeout=5).status_code == 401
        # Through aarmor the binding attaches a token by itself, fetched once and reused.
        for _ in range(3):
            r = through(a, "GET", url)
            assert r.status_code == 200, r.text + a.logs()
        issued = requests.get(f"http://127.0.0.1:{port}/introspect-count", timeout=5).json()["issued"]
        assert issued == 1
        receipt = receipts_for(a, "/check")[-1]
        assert receipt["action"]["credential"]["source"] == "oauth2"
        assert receipt["action"]["credential"]["presented"] == "bound"
        assert client_secret not in a.cli("receipts", "export").stdout and client_secret not in a.logs()
    finally:
        server.terminate()
        server.wait(10)


def test_a_bad_secret_file_is_refused_at_start(tmp_path, pki, start_aarmor):
    loose = tmp_path / "loose.secret"
    loose.write_text("rd-" + secrets.token_hex(16))
    loose.chmod(0o644)
    yaml = credentials_yaml(loose, 1, 2)
    try:
        start_aarmor(policy_files={"credentials.yaml": yaml})
    except AssertionError as e:
        assert "chmod 600" in str(e), e
    else:
        raise AssertionError("aarmor started with a world-readable secret file")


def test_doctor_checks_the_secrets_and_a_secret_gone_at_runtime_refuses(start_aarmor, pki, tmp_path, monkeypatch):
    from test_doctor import doctor
    echo = Echo(*pki["leaf"])
    monkeypatch.setenv("AARMOR_TEST_WRITE_SECRET", "wr-" + secrets.token_hex(16))
    read_file = secret_file(tmp_path, "r.secret", "rd-" + secrets.token_hex(16))
    a = start_aarmor(policy_files={"credentials.yaml": credentials_yaml(read_file, echo.port, free_port())})
    try:
        rc, checks = doctor(a.config)
        assert checks["credentials"]["status"] == "ok", checks["credentials"]
        assert "3 brokered credential(s) ready" in checks["credentials"]["detail"]
        # The secret file becomes readable by others: doctor names it, and its actions are
        # refused (fail closed) until it is fixed; the upstream sees nothing.
        read_file.chmod(0o644)
        rc, checks = doctor(a.config)
        assert rc != 0 and checks["credentials"]["status"] == "fail"
        assert "echo-read" in checks["credentials"]["detail"] and "chmod 600" in checks["credentials"]["detail"]
        time.sleep(1.2)
        seen = len(echo.seen)
        r = through(a, "GET", f"https://localhost:{echo.port}/repos/o/r", headers={"Authorization": "Bearer aarmor:echo-read"})
        assert r.status_code == 403 and r.json()["rule"] == "credentials.unavailable", r.text
        assert len(echo.seen) == seen
        read_file.chmod(0o600)
        time.sleep(1.2)
        r = through(a, "GET", f"https://localhost:{echo.port}/repos/o/r", headers={"Authorization": "Bearer aarmor:echo-read"})
        assert r.status_code == 200, r.text
    finally:
        echo.close()


def test_official_sdks_run_on_placeholder_keys(start_aarmor, pki, tmp_path):
    """The agent's SDKs hold only placeholders (`OPENAI_API_KEY=aarmor:openai`, the Anthropic
    SDK's `x-api-key`): the provider receives the real keys, streamed and whole responses reach
    the SDKs, and the keys are never in what they got."""
    import anthropic
    import openai
    from llm_upstream import LlmUpstream

    llm = LlmUpstream(*pki["leaf"])
    openai_key = "sk-" + secrets.token_hex(24)
    anthropic_key = "sk-ant-" + secrets.token_hex(24)
    yaml = f"""
credentials:
  openai:
    source: {{file: {secret_file(tmp_path, "openai.key", openai_key)}}}
    scope: write
    bindings: [{{host: localhost, port: {llm.port}, paths: ["/v1/chat/completions"]}}]
  anthropic:
    source: {{file: {secret_file(tmp_path, "anthropic.key", anthropic_key)}}}
    scope: write
    inject: {{header: x-api-key, format: "{{secret}}"}}
    bindings: [{{host: localhost, port: {llm.port}, paths: ["/v1/messages"]}}]
"""
    a = start_aarmor(policy_files={"credentials.yaml": yaml})
    verify = ssl.create_default_context(cafile=str(a.ca))
    try:
        llm.server.calls_override = []
        client = openai.OpenAI(base_url=f"https://localhost:{llm.port}/v1", api_key="aarmor:openai", max_retries=0,
                               http_client=openai.DefaultHttpxClient(proxy=a.url, verify=verify))
        answer = client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hello"}])
        assert llm.seen[-1]["headers"].get("authorization", llm.seen[-1]["headers"].get("Authorization")) == f"Bearer {openai_key}"
        streamed = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
            model="gpt-test", messages=[{"role": "user", "content": "hello"}], stream=True) if c.choices)
        assert streamed and openai_key not in streamed and openai_key not in answer.model_dump_json()

        claude = anthropic.Anthropic(base_url=f"https://localhost:{llm.port}", api_key="aarmor:anthropic", max_retries=0,
                                     http_client=anthropic.DefaultHttpxClient(proxy=a.url, verify=verify))
        message = claude.messages.create(model="claude-test", max_tokens=64, messages=[{"role": "user", "content": "hello"}])
        headers = {k.lower(): v for k, v in llm.seen[-1]["headers"].items()}
        assert headers["x-api-key"] == anthropic_key
        assert anthropic_key not in message.model_dump_json()
        # The OpenAI key on the Anthropic path is outside its binding: refused.
        wrong = openai.OpenAI(base_url=f"https://localhost:{llm.port}/v1/messages#", api_key="aarmor:openai", max_retries=0,
                              http_client=openai.DefaultHttpxClient(proxy=a.url, verify=verify))
        seen = len(llm.seen)
        with pytest.raises(openai.APIStatusError) as refused:
            wrong.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hello"}])
        assert refused.value.status_code == 403 and "credentials.scope_violation" in refused.value.response.text
        assert len(llm.seen) == seen
    finally:
        llm.close()
    exported = a.cli("receipts", "export").stdout
    assert openai_key not in exported and anthropic_key not in exported
