"""Fixtures for aarmor end-to-end tests: TLS upstreams on loopback with their own CA, and
aarmor itself started from the release binary with a per-test config. Loopback only."""
import datetime
import gzip
import hashlib
import http.server
import json
import os
import socket
import ssl
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
import contextlib
import ipaddress

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("AARMOR_BIN", ROOT / "target" / "release" / "aarmor"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_ca(directory: Path, name: str):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
        .sign(key, hashes.SHA256())
    )
    path = directory / f"{name.replace(' ', '-')}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert, path


def make_leaf(directory: Path, ca_key, ca_cert, names, ips):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    sans = [x509.DNSName(n) for n in names] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    cert = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_path = directory / f"leaf-{names[0]}.pem"
    key_path = directory / f"leaf-{names[0]}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path


CHAT_COMPLETION = {
    "id": "chatcmpl-test", "object": "chat.completion", "created": 1700000000, "model": "gpt-test",
    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "hello from the test upstream"}}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _reply(self, status, body: bytes, ctype="application/json"):
        self.send_response(status)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self):
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data, True
                data += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("content-length", 0))
        return self.rfile.read(n), False

    def _record(self, body):
        self.server.seen.append({"method": self.command, "path": self.path, "headers": dict(self.headers.items()), "body": body,
                                 "conn": self.client_address})

    def do_GET(self):
        self._record(b"")
        if self.path.startswith("/big"):
            size = int(self.path.split("=")[1]) if "=" in self.path else 10 * 1024 * 1024
            self.send_response(200)
            self.send_header("content-type", "application/octet-stream")
            self.send_header("content-length", str(size))
            self.end_headers()
            block = bytes(range(256)) * 256
            sent = 0
            while sent < size:
                chunk = block[: min(len(block), size - sent)]
                self.wfile.write(chunk)
                sent += len(chunk)
            return
        self._reply(200, json.dumps({"path": self.path, "host": self.headers.get("host"), "conn": list(self.client_address)}).encode())

    def do_POST(self):
        body, chunked = self._body()
        self._record(body)
        if self.path.startswith("/v1/chat/completions"):
            return self._reply(200, json.dumps(CHAT_COMPLETION).encode())
        if self.path.startswith("/mcp-unreadable/"):
            # An MCP server whose tool result aarmor cannot parse: compressed although aarmor
            # asked for identity, or not JSON at all.
            text = json.dumps({"jsonrpc": "2.0", "id": 1, "result": {"content": [
                {"type": "text", "text": "customer ada@example.org, card 4111 1111 1111 1111"}]}}).encode()
            if self.path.endswith("/gzip"):
                packed = gzip.compress(text)
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-encoding", "gzip")
                self.send_header("content-length", str(len(packed)))
                self.end_headers()
                self.wfile.write(packed)
                return
            return self._reply(200, b"result: " + text[:-1])
        if self.path.startswith(("/v1/customers/export", "/v1/customers/search")):
            # An executed action that returns personal data.
            return self._reply(200, json.dumps({"customers": [{"name": "Ada", "email": "ada@example.org"}]}).encode())
        self._reply(200, json.dumps({"len": len(body), "sha256": hashlib.sha256(body).hexdigest(), "chunked": chunked,
                                     "proxy_authorization": self.headers.get("proxy-authorization")}).encode())


    do_PUT = do_POST
    do_PATCH = do_POST
    do_DELETE = do_POST


class Upstream:
    """A threaded HTTP(S) server on loopback that records what reaches it (`seen`); `handler`
    answers (the default: `Handler`)."""

    def __init__(self, cert, key, host="127.0.0.1", tls=True, port=0, handler=None):
        self.server = http.server.ThreadingHTTPServer((host, port), handler or Handler)
        self.server.daemon_threads = True
        self.server.seen = []
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert, key)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def seen(self):
        return self.server.seen

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    ca_key, ca_cert, ca_path = make_ca(d, "test upstream CA")
    leaf = make_leaf(d, ca_key, ca_cert, ["localhost", "upstream.test"], ["127.0.0.1"])
    rogue_key, rogue_cert, rogue_ca = make_ca(d, "rogue CA")
    rogue_leaf = make_leaf(d, rogue_key, rogue_cert, ["rogue.localhost"], ["127.0.0.1"])
    return {"dir": d, "ca": ca_path, "leaf": leaf, "rogue_leaf": rogue_leaf, "ca_key": ca_key, "ca_cert": ca_cert}


@pytest.fixture(scope="session")
def upstream(pki):
    u = Upstream(*pki["leaf"])
    yield u
    u.close()


@pytest.fixture(scope="session")
def plain_upstream(pki):
    u = Upstream(None, None, tls=False)
    yield u
    u.close()


@pytest.fixture(scope="session")
def rogue_upstream(pki):
    u = Upstream(*pki["rogue_leaf"])
    yield u
    u.close()


class Aarmor:
    """aarmor started from the release binary; `netns` runs it inside that network namespace."""

    def __init__(self, workdir: Path, upstream_ca: Path, extra_proxy="", extra="", netns=None, policy=None, extra_policy="",
                 policy_files=None, extra_approvals=""):
        """`policy`: Rego source for `package aarmor.policy` (written to a policy directory of
        its own); without it the repository's default pack in policies/ decides.
        `policy_files`: {relative path: text} written over a copy of the default pack."""
        self.dir = workdir
        self.netns = netns
        self.port = free_port()
        self.admin = free_port()
        self.token = "test-approvals-token"
        self.data = workdir / "data"
        policy_dir = ROOT / "policies"
        if policy is not None:
            policy_dir = workdir / "policies"
            policy_dir.mkdir()
            (policy_dir / "policy.rego").write_text(policy)
            # The default registry: agents on this host are known.
            shutil.copy(ROOT / "policies" / "identities.yaml", policy_dir / "identities.yaml")
        if policy_files:
            if policy is None:
                policy_dir = workdir / "policies"
                shutil.copytree(ROOT / "policies", policy_dir)
            for rel, text in policy_files.items():
                (policy_dir / rel).write_text(text)
        self.policy_dir = policy_dir
        self.config = workdir / "aarmor.toml"
        self.config.write_text(
            f'data_dir = "{self.data}"\n'
            f"{extra}\n"
            f'[proxy]\nlisten = "127.0.0.1:{self.port}"\nthreads = 1\n{extra_proxy}\n'
            f'[upstream]\nca_files = ["{upstream_ca}"]\n'
            f'[admin]\nlisten = "127.0.0.1:{self.admin}"\n'
            f'[policy]\ndir = "{policy_dir}"\n{extra_policy}\n'
            f'[approvals]\ntoken = "{self.token}"\n{extra_approvals}\n'
            f'[intent]\nmodel_dir = "{ROOT / "models" / "all-MiniLM-L6-v2"}"\n'
        )
        self.log_path = workdir / "aarmor.log"
        self.log = open(self.log_path, "w")
        self._launch()
        self.ca = workdir / "data" / "certs" / "ca.pem"
        self.url = f"http://127.0.0.1:{self.port}"

    def _launch(self):
        prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
        self.proc = subprocess.Popen([*prefix, str(BIN), "--config", str(self.config), "run"], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while time.time() < deadline:
            assert self.proc.poll() is None, f"aarmor exited early:\n{self.log_path.read_text()}"
            if self._admin_up(prefix):
                return
            time.sleep(0.05)
        raise AssertionError("aarmor did not start")

    def kill9_and_relaunch(self):
        """SIGKILL (no shutdown of any kind), then the same configuration and data started again."""
        self.proc.kill()
        self.proc.wait(10)
        self._launch()

    def _admin_up(self, prefix):
        """Both listeners accept connections (the admin listener starts first)."""
        if prefix:
            probe = [*prefix, "curl", "-s", "-o", "/dev/null", "--max-time", "1", f"http://127.0.0.1:{self.admin}/healthz"]
            if subprocess.run(probe, capture_output=True, timeout=5).returncode != 0:
                return False
            probe = [*prefix, "curl", "-s", "-o", "/dev/null", "--max-time", "1", f"http://127.0.0.1:{self.port}/"]
            return subprocess.run(probe, capture_output=True, timeout=5).returncode == 0
        try:
            for port in (self.admin, self.port):
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    pass
            return True
        except OSError:
            return False

    def cli(self, *args, timeout=30):
        """Runs `aarmor --config <this config> ARGS`."""
        return subprocess.run([str(BIN), "--config", str(self.config), *args], capture_output=True, text=True, timeout=timeout)

    def receipts(self):
        """Every receipt so far, parsed, in chain order."""
        r = self.cli("receipts", "export")
        assert r.returncode == 0, r.stderr
        return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]

    def approvals(self):
        import requests
        r = requests.get(f"http://127.0.0.1:{self.admin}/v1/approvals", headers={"authorization": f"Bearer {self.token}"}, timeout=5)
        r.raise_for_status()
        return r.json()["approvals"]

    def answer(self, approval_id, approve=True, approver="test"):
        import requests
        verb = "approve" if approve else "deny"
        r = requests.post(f"http://127.0.0.1:{self.admin}/v1/approvals/{approval_id}/{verb}", json={"approver": approver},
                          headers={"authorization": f"Bearer {self.token}"}, timeout=5)
        return r

    def logs(self):
        self.log.flush()
        return self.log_path.read_text()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@pytest.fixture
def start_aarmor(tmp_path, pki):
    started = []

    def start(extra_proxy="", extra="", policy=None, extra_policy="", policy_files=None, extra_approvals=""):
        d = tmp_path / f"aarmor{len(started)}"
        d.mkdir()
        a = Aarmor(d, pki["ca"], extra_proxy, extra, policy=policy, extra_policy=extra_policy, policy_files=policy_files,
                   extra_approvals=extra_approvals)
        started.append(a)
        return a

    yield start
    for a in started:
        a.stop()


@pytest.fixture
def aarmor(start_aarmor):
    return start_aarmor()


class WsServer:
    """A TLS WebSocket server on loopback that records what reaches it: `/realtime` answers any
    message with two function calls (one refused by the shell rules), anything else echoes."""

    def __init__(self, cert, key):
        import asyncio

        from websockets.asyncio.server import serve

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.received = []
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def handle(ws):
            realtime = ws.request.path.split("?")[0].endswith("/realtime")
            async for message in ws:
                self.received.append(message)
                if not realtime:
                    await ws.send(message)
                    continue
                for cid, name, args in (("c1", "bash", {"command": "rm -rf /"}), ("c2", "get_weather", {"city": "Oslo"})):
                    await ws.send(json.dumps({"type": "response.function_call_arguments.done", "call_id": cid,
                                              "name": name, "arguments": json.dumps(args)}))
                    await ws.send(json.dumps({"type": "response.output_item.done",
                                              "item": {"type": "function_call", "call_id": cid, "name": name}}))
                await ws.send(json.dumps({"type": "response.done", "response": {"output": [
                    {"type": "function_call", "call_id": "c1", "name": "bash"},
                    {"type": "function_call", "call_id": "c2", "name": "get_weather"}]}}))

        async def main():
            self.server = await serve(handle, "127.0.0.1", 0, ssl=ctx)
            self.port = self.server.sockets[0].getsockname()[1]
            ready.set()
            await self.server.serve_forever()

        self.thread = threading.Thread(target=lambda: self.loop.run_until_complete(main()), daemon=True)
        self.thread.start()
        assert ready.wait(10), "WebSocket test server did not start"

    def close(self):
        self.loop.call_soon_threadsafe(self.server.close)
        self.thread.join(10)


def pack_data(update):
    """`policy_files` for `start_aarmor`: the default pack with its data.json changed by
    `update(config)` (config = data.aarmor.config)."""
    data = json.loads((ROOT / "policies" / "data.json").read_text())
    update(data["aarmor"]["config"])
    return {"data.json": json.dumps(data)}


def wait_for(predicate, timeout=20):
    """Polls `predicate` until it returns a true value or `timeout` seconds pass; returns its
    last value."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    return predicate()


def curl(*args, timeout=30):
    """Run curl; returns CompletedProcess with text output."""
    return subprocess.run(["curl", "-sS", "--max-time", "20", *args], capture_output=True, text=True, timeout=timeout)


@contextlib.contextmanager
def console_page(admin_port, token, viewport=None):
    """A page of Debian's headless Chromium, signed in to the console at `admin_port` with
    `token` (an approver's or the operator token)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            page = browser.new_page(viewport=viewport) if viewport else browser.new_page()
            page.goto(f"http://127.0.0.1:{admin_port}/console")
            page.get_by_label("Approver token").fill(token)
            page.get_by_role("button", name="Sign in").click()
            yield page
        finally:
            browser.close()
