"""Complete mediation under attack: an agent that a prompt injection controls, and that knows
aarmor is there, shapes its requests to get an action past it. Each test sends one class of
bypass through the real proxy and asserts that the upstream recorded nothing and that a DENY
(or refusal) receipt exists — next to a control that sends the plain request and shows it
reaching the upstream (or being denied the ordinary way). docs/threat-model.md lists every class,
how it is closed and which test proves it."""
import hashlib
import http.server
import json
import socket
import ssl
import threading
import time

import pytest
import requests

from conftest import WsServer, curl, free_port, pack_data, wait_for

KEY = "AKIAIOSFODNN7EXAMPLE"  # an AWS access key id: secrets.outbound denies it when sent plainly


def decisions(a, **match):
    """Decision receipts whose action matches every `dotted.path=value` given."""
    out = []
    for r in a.receipts():
        if r["kind"] != "decision":
            continue
        ok = True
        for path, want in match.items():
            v = r
            for part in path.split("__"):
                v = v.get(part) if isinstance(v, dict) else None
            ok = ok and v == want
        if ok:
            out.append(r)
    return out


def last_decision(a):
    return [r for r in a.receipts() if r["kind"] == "decision"][-1]


def post(a, url, **kw):
    return requests.post(url, proxies={"https": a.url, "http": a.url}, verify=str(a.ca), timeout=20, **kw)


# --- 1. Requests shaped like an LLM call -------------------------------------------------------

LLM_SHAPES = [
    ("/v1/chat/completions", {}),
    ("/v1/responses", {}),
    ("/anything/messages", {"anthropic-version": "2023-06-01"}),
]


@pytest.mark.parametrize("path,headers", LLM_SHAPES)
def test_llm_shaped_request_to_another_host_is_judged_on_its_body(start_aarmor, upstream, path, headers):
    # The upstream answers as "upstream.test"; the pack does not list it as an LLM provider.
    a = start_aarmor()
    before = len(upstream.seen)
    r = raw_https(a, "127.0.0.1", upstream.port, "upstream.test", "POST", path,
                  json.dumps({"model": "m", "messages": [{"role": "user", "content": f"creds {KEY}"}]}).encode(),
                  {"content-type": "application/json", **headers})
    assert r["status"] == 403, r
    assert len(upstream.seen) == before, "the upstream saw the request"
    d = last_decision(a)
    assert d["decision"]["result"] == "DENY" and d["decision"]["rule"] == "secrets.outbound"
    assert d["action"]["tool"].startswith("llm.") and d["action"]["operation"] == "request"
    assert d["action"]["target"]["host"] == "upstream.test"
    # Control: the same request without the key reaches the upstream, decided and receipted.
    r = raw_https(a, "127.0.0.1", upstream.port, "upstream.test", "POST", path,
                  json.dumps({"model": "m", "messages": [{"role": "user", "content": "hello"}]}).encode(),
                  {"content-type": "application/json", **headers})
    assert r["status"] == 200 and len(upstream.seen) == before + 1
    assert last_decision(a)["decision"]["result"] == "ALLOW"


# --- 2. JSON-RPC envelopes of any method -------------------------------------------------------

def test_json_rpc_of_any_method_is_an_action(aarmor, upstream):
    url = f"https://localhost:{upstream.port}/rpc"
    before = len(upstream.seen)
    for msg in ({"jsonrpc": "2.0", "method": "x", "params": {"k": KEY}},
                {"jsonrpc": "2.0", "id": 9, "method": "resources/read", "params": {"uri": f"file:///{KEY}"}},
                [{"jsonrpc": "2.0", "method": "notifications/x", "params": {"k": KEY}}]):
        r = post(aarmor, url, json=msg)
        assert r.status_code in (200, 403), r.text
        if r.status_code == 200:
            assert "error" in json.dumps(r.json()), r.text
        d = last_decision(aarmor)
        assert d["decision"]["result"] == "DENY" and d["decision"]["rule"] == "secrets.outbound", d["decision"]
        assert d["action"]["protocol"] == "mcp"
    assert len(upstream.seen) == before
    # Control: an MCP session message without the key passes, as a decided action.
    r = post(aarmor, url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    assert r.status_code == 200 and len(upstream.seen) == before + 1
    d = last_decision(aarmor)
    assert d["decision"]["result"] == "ALLOW" and d["action"]["operation"] == "tools/list"


DENY_REST_DELETE = """package aarmor.policy

decisions contains d if {
    input.action.protocol == "rest"
    input.action.target.method == "DELETE"
    d := {"decision": "deny", "class": "context_deny", "priority": 900, "rule": "test.no_rest_delete",
          "reason": "no deletes"}
}
"""


def test_a_json_rpc_body_does_not_make_a_delete_an_mcp_message(start_aarmor, upstream):
    """A DELETE shaped like an MCP message (MCP clients POST) is judged as the REST DELETE it
    is: a rule on REST deletes refuses it, and the upstream sees nothing."""
    a = start_aarmor(policy=DENY_REST_DELETE)
    url = f"https://localhost:{upstream.port}/repos/o/r"
    before = len(upstream.seen)
    for body in ({"jsonrpc": "2.0", "id": 1, "method": "ping"}, {"jsonrpc": "2.0", "method": "notifications/x"}):
        r = requests.delete(url, json=body, proxies={"https": a.url}, verify=str(a.ca), timeout=20)
        assert r.status_code == 403 and r.json()["rule"] == "test.no_rest_delete", r.text
        d = last_decision(a)
        assert d["action"]["protocol"] == "rest" and d["action"]["operation"] == "delete"
    assert len(upstream.seen) == before
    # Control: the same message POSTed is an MCP message, which the rule does not touch.
    r = requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"}, proxies={"https": a.url},
                      verify=str(a.ca), timeout=20)
    assert r.status_code == 200 and len(upstream.seen) == before + 1
    assert last_decision(a)["action"]["protocol"] == "mcp"


# --- 3. Padding past the parameter limit -------------------------------------------------------

def test_padding_past_the_parameter_limit_is_refused(aarmor, upstream):
    url = f"https://localhost:{upstream.port}/v1/notes"
    before = len(upstream.seen)
    r = post(aarmor, url, json={"note": f"creds {KEY}", "pad": "x" * (1100 * 1024)})
    assert r.status_code == 403, r.text
    assert len(upstream.seen) == before
    d = last_decision(aarmor)
    assert d["decision"]["result"] == "DENY" and d["decision"]["rule"] == "aarmor.parameters_too_large"
    # Control: the same request with a small pad (and no key) passes; with the key, the secrets
    # rule denies it the ordinary way.
    assert post(aarmor, url, json={"note": "hello", "pad": "x" * 1024}).status_code == 200
    assert post(aarmor, url, json={"note": f"creds {KEY}"}).status_code == 403
    assert last_decision(aarmor)["decision"]["rule"] == "secrets.outbound"


# --- 4. Proxy authentication with a wrong credential ------------------------------------------

def test_wrong_proxy_password_is_refused(start_aarmor, upstream, plain_upstream):
    registry = ("agents:\n  - name: agent-7\n    credentials:\n      - basic_user: agent-7\n"
                f"        password_sha256: \"{hashlib.sha256(b'pw').hexdigest()}\"\n")
    a = start_aarmor(extra_proxy="require_proxy_auth = true", policy_files={"identities.yaml": registry})
    before = len(plain_upstream.seen), len(upstream.seen)
    for user in ("agent-7:wrong", "nobody:pw"):
        r = curl("-i", "-U", user, "-x", a.url, f"http://127.0.0.1:{plain_upstream.port}/read")
        assert r.stdout.startswith("HTTP/1.1 407"), r.stdout
        r = curl("-U", user, "-x", a.url, "--cacert", str(a.ca), f"https://localhost:{upstream.port}/tunnel")
        assert r.returncode != 0 and "407" in r.stderr
    assert (len(plain_upstream.seen), len(upstream.seen)) == before
    # Control: the registered credential goes through.
    r = curl("-U", "agent-7:pw", "-x", a.url, f"http://127.0.0.1:{plain_upstream.port}/read")
    assert r.returncode == 0 and json.loads(r.stdout)["path"] == "/read"


# --- 5. Host identity ---------------------------------------------------------------------------

def raw_https(a, connect_host, port, sni, method, path, body=b"", headers=None, host_header=None):
    """CONNECT `connect_host:port` through aarmor, TLS with `sni` (no SNI when None), then one
    HTTP/1.1 request whose Host is `host_header` (default: the SNI, else the CONNECT host). The
    client does not check the certificate: an attacker does not care."""
    s = socket.create_connection(("127.0.0.1", a.port), timeout=10)
    s.sendall(f"CONNECT {connect_host}:{port} HTTP/1.1\r\nHost: {connect_host}:{port}\r\n\r\n".encode())
    head = s.recv(4096)
    if not head.startswith(b"HTTP/1.1 200"):
        s.close()
        return {"status": int(head.split()[1]), "body": head}
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    t = ctx.wrap_socket(s, server_hostname=sni) if sni else ctx.wrap_socket(s)
    host = host_header or sni or connect_host
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    t.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    data = b""
    t.settimeout(20)
    try:
        while True:
            chunk = t.recv(65536)
            if not chunk:
                break
            data += chunk
    except (ssl.SSLError, OSError):
        pass
    t.close()
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return {"status": status, "body": data.split(b"\r\n\r\n", 1)[-1]}


DENY_UPSTREAM_TEST = """package aarmor.policy

decisions contains d if {
    input.action.target.host == "upstream.test"
    d := {"decision": "deny", "class": "forbidden", "priority": 1000, "rule": "test.denied_host",
          "reason": "upstream.test is denied"}
}
"""


def test_policy_sees_the_name_the_upstream_proves(start_aarmor, upstream):
    a = start_aarmor(policy=DENY_UPSTREAM_TEST)
    before = len(upstream.seen)
    # CONNECT by address, then the TLS server name (the one the upstream must prove) of the
    # denied host, in any spelling: policy judges that name.
    for sni in ("upstream.test", "UPSTREAM.Test", "upstream.test."):
        r = raw_https(a, "127.0.0.1", upstream.port, sni, "POST", "/v1/x", b"{}",
                      {"content-type": "application/json"}, host_header=sni)
        assert r["status"] == 403, (sni, r)
        d = last_decision(a)
        assert d["decision"]["rule"] == "test.denied_host" and d["action"]["target"]["host"] == "upstream.test"
    assert len(upstream.seen) == before
    # Control: the same upstream by address, with no server name, is another host for policy.
    r = raw_https(a, "127.0.0.1", upstream.port, None, "POST", "/v1/x", b"{}", {"content-type": "application/json"})
    assert r["status"] == 200 and len(upstream.seen) == before + 1
    assert last_decision(a)["action"]["target"]["host"] == "127.0.0.1"


def test_a_request_naming_another_host_is_misdirected(aarmor, upstream, plain_upstream):
    before = len(upstream.seen), len(plain_upstream.seen)
    # TLS to localhost, Host: upstream.test (domain fronting).
    r = raw_https(aarmor, "localhost", upstream.port, "localhost", "POST", "/v1/x", b"{}",
                  {"content-type": "application/json"}, host_header="upstream.test")
    assert r["status"] == 421, r
    # Plain HTTP, absolute form to one host, Host header naming another (a virtual host behind
    # it): refused (pingora's parser already refuses some spellings with a 400).
    r = curl("-i", "-x", aarmor.url, "-H", "Host: webhook.site", "-d", "x=1", f"http://127.0.0.1:{plain_upstream.port}/hook")
    assert r.stdout.startswith(("HTTP/1.1 421", "HTTP/1.1 400")), r.stdout
    # Plain HTTP through a CONNECT tunnel, Host naming another host than the tunnel's.
    s = socket.create_connection(("127.0.0.1", aarmor.port), timeout=10)
    s.sendall(f"CONNECT 127.0.0.1:{plain_upstream.port} HTTP/1.1\r\n\r\n".encode())
    assert s.recv(4096).startswith(b"HTTP/1.1 200")
    s.sendall(b"POST /hook HTTP/1.1\r\nHost: webhook.site\r\nContent-Length: 3\r\nConnection: close\r\n\r\nx=1")
    assert s.recv(4096).startswith(b"HTTP/1.1 421")
    s.close()
    assert (len(upstream.seen), len(plain_upstream.seen)) == before
    # Control: the Host the target names goes through.
    r = curl("-i", "-x", aarmor.url, "-d", "x=1", f"http://127.0.0.1:{plain_upstream.port}/hook")
    assert r.stdout.startswith("HTTP/1.1 200"), r.stdout


def test_numbers_a_resolver_reads_otherwise_are_refused(aarmor, upstream):
    for host in ("2130706433", "0x7f.1", "127.1"):
        s = socket.create_connection(("127.0.0.1", aarmor.port), timeout=10)
        s.sendall(f"CONNECT {host}:{upstream.port} HTTP/1.1\r\n\r\n".encode())
        head = s.recv(4096)
        s.close()
        assert head.startswith(b"HTTP/1.1 400"), (host, head)


# --- 6, 7, 11. What LLM responses ask the client to run ----------------------------------------

class Scripted(http.server.BaseHTTPRequestHandler):
    """Answers every POST with the server's `reply`: (status, [(header, value)], body bytes)."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        status, headers, body = self.server.reply
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def scripted(pki):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    server.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*pki["leaf"])
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def ask_llm(a, server, path, reply, stream=False):
    server.reply = reply
    body = {"model": "m", "input": "tidy up", "messages": [{"role": "user", "content": "tidy up"}], "stream": stream}
    # What the SDKs send: Anthropic's names its API version.
    headers = {"anthropic-version": "2023-06-01"} if path.endswith("/messages") else {}
    return post(a, f"https://localhost:{server.server_address[1]}{path}", json=body, headers=headers)


def as_json(obj):
    return (200, [("content-type", "application/json")], json.dumps(obj).encode())


ITEMS = [
    ({"type": "local_shell_call", "id": "ls_1", "call_id": "c1", "status": "completed",
      "action": {"type": "exec", "command": ["rm", "-rf", "/"], "env": {}}}, "shell.recursive_delete"),
    ({"type": "custom_tool_call", "id": "ct_1", "call_id": "c2", "name": "bash", "input": "rm -rf /"}, "shell.recursive_delete"),
    ({"type": "teleport_call", "id": "tp_1", "call_id": "c3", "where": "prod"}, "aarmor.uninspectable"),
]


@pytest.mark.parametrize("item,rule", ITEMS, ids=[i[0]["type"] for i in ITEMS])
def test_responses_items_the_client_runs_are_decided(aarmor, scripted, item, rule):
    resp = {"id": "r", "object": "response", "status": "completed", "output": [item]}
    r = ask_llm(aarmor, scripted, "/v1/responses", as_json(resp))
    assert r.status_code == 200
    out = r.json()["output"]
    assert [o["type"] for o in out] == ["message"], out
    assert "rm -rf" not in r.text
    d = [x for x in aarmor.receipts() if x["kind"] == "decision" and x["action"]["operation"] == "call"][-1]
    assert d["decision"]["result"] == "DENY" and d["decision"]["rule"] == rule, d["decision"]
    # Control: a plain function call passes unchanged.
    ok = {"type": "function_call", "id": "fc_1", "call_id": "c9", "name": "get_weather", "arguments": "{\"city\": \"Oslo\"}"}
    r = ask_llm(aarmor, scripted, "/v1/responses", as_json({**resp, "output": [ok]}))
    assert r.json()["output"] == [ok]


def test_chat_custom_and_unknown_call_types_are_decided(aarmor, scripted):
    calls = [{"id": "c1", "type": "custom", "custom": {"name": "bash", "input": "rm -rf /"}},
             {"id": "c2", "type": "hologram", "hologram": {"name": "x"}}]
    resp = {"id": "c", "object": "chat.completion", "choices": [
        {"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": None, "tool_calls": calls}}]}
    r = ask_llm(aarmor, scripted, "/v1/chat/completions", as_json(resp))
    assert r.status_code == 200
    msg = r.json()["choices"][0]["message"]
    assert "tool_calls" not in msg and "rm -rf" not in r.text
    rules = [x["decision"]["rule"] for x in aarmor.receipts() if x["kind"] == "decision" and x["action"]["operation"] == "call"]
    # The calls of one response are decided concurrently: their receipts come in either order.
    assert sorted(rules[-2:]) == ["aarmor.uninspectable", "shell.recursive_delete"], rules


def test_unreadable_llm_responses_are_refused(aarmor, scripted):
    denied_call = {"id": "c1", "type": "function", "function": {"name": "bash", "arguments": json.dumps({"command": "rm -rf /"})}}
    chat = {"id": "c", "object": "chat.completion", "choices": [
        {"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": None, "tool_calls": [denied_call]}}]}
    # NaN beside a denied call: the SDK's JSON parser reads it, serde's does not.
    body = json.dumps(chat).replace('"object"', '"x": NaN, "object"').encode()
    r = ask_llm(aarmor, scripted, "/v1/chat/completions", (200, [("content-type", "application/json")], body))
    assert r.status_code == 502 and "uninspectable-response" in r.text and "rm -rf" not in r.text
    # Two Content-Type headers.
    r = ask_llm(aarmor, scripted, "/v1/chat/completions",
                (200, [("content-type", "application/json"), ("content-type", "text/event-stream")], json.dumps(chat).encode()))
    assert r.status_code == 502
    # A stream sent as application/json to a client that asked for a stream: read as the stream
    # the SDK reads, so the denied call is withheld.
    chunk = {"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, **denied_call}]}, "finish_reason": "tool_calls"}]}
    sse = f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode()
    r = ask_llm(aarmor, scripted, "/v1/chat/completions", (200, [("content-type", "application/json")], sse), stream=True)
    assert r.status_code == 200 and "rm -rf" not in r.text and "blocked by policy" in r.text, r.text
    # Control: the same call as a normal response is judged and withheld the ordinary way.
    r = ask_llm(aarmor, scripted, "/v1/chat/completions", as_json(chat))
    assert r.status_code == 200 and "tool_calls" not in r.json()["choices"][0]["message"]


def test_an_event_the_gate_cannot_read_cuts_the_stream(aarmor, scripted):
    call = {"type": "function_call", "id": "fc", "call_id": "c", "name": "bash", "arguments": json.dumps({"command": "rm -rf /"})}
    # Numbered events (a gate that renumbers them once indexed a number as an object: a panic).
    events = [{"type": "response.created", "sequence_number": 0, "response": {"id": "r", "output": []}},
              {"type": "response.output_item.added", "sequence_number": 1, "output_index": 0, "item": call}]
    sse = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: 42\n\n"
    sse += f"data: {json.dumps({'type': 'response.output_item.done', 'sequence_number': 3, 'output_index': 0, 'item': call})}\n\n"
    try:
        r = ask_llm(aarmor, scripted, "/v1/responses", (200, [("content-type", "text/event-stream")], sse.encode()), stream=True)
        text = r.text
    except requests.RequestException:
        text = ""
    assert "rm -rf" not in text
    # The proxy survived and serves the next request.
    assert requests.get(f"http://127.0.0.1:{aarmor.admin}/healthz", timeout=5).status_code == 200
    assert "panicked" not in aarmor.logs()


# --- 8. Upgrades --------------------------------------------------------------------------------

@pytest.fixture
def ws_server(pki):
    server = WsServer(*pki["leaf"])
    yield server
    server.close()


def ws_allowed(start_aarmor):
    return start_aarmor(policy_files=pack_data(lambda c: c["upgrades"]["allowed_hosts"].update({"localhost": True})))


def test_a_websocket_upgrade_is_an_action(start_aarmor, ws_server):
    from websockets.sync.client import connect
    from websockets.exceptions import InvalidStatus

    a = start_aarmor()
    ctx = ssl.create_default_context(cafile=str(a.ca))
    with pytest.raises(InvalidStatus) as refused:
        with connect(f"wss://localhost:{ws_server.port}/echo", ssl=ctx, proxy=a.url, open_timeout=10) as ws:
            ws.send(KEY)
    assert refused.value.response.status_code == 403
    d = last_decision(a)
    assert d["decision"]["result"] == "DENY" and d["decision"]["rule"] == "upgrade.not_allowed"
    assert d["action"]["operation"] == "upgrade" and d["action"]["parameters"]["protocol"] == "websocket"
    assert ws_server.received == []
    # Control: the host listed in upgrades.allowed_hosts upgrades, decided and receipted.
    b = ws_allowed(start_aarmor)
    with connect(f"wss://localhost:{ws_server.port}/echo", ssl=ssl.create_default_context(cafile=str(b.ca)),
                 proxy=b.url, open_timeout=10) as ws:
        ws.send("hello")
        assert ws.recv(timeout=10) == "hello"
    assert [r for r in b.receipts() if r["action"]["operation"] == "upgrade"][-1]["decision"]["result"] == "ALLOW"


def test_websocket_messages_are_decided_one_by_one(start_aarmor, ws_server):
    from websockets.sync.client import connect
    from websockets.exceptions import ConnectionClosed

    a = ws_allowed(start_aarmor)
    ctx = ssl.create_default_context(cafile=str(a.ca))
    # A message carrying the key: the connection is closed (policy violation), the server never
    # sees it; the message before it went through.
    with connect(f"wss://localhost:{ws_server.port}/echo", ssl=ctx, proxy=a.url, open_timeout=10) as ws:
        ws.send("hello")
        assert ws.recv(timeout=10) == "hello"
        ws.send(f"creds {KEY}")
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
        assert closed.value.rcvd.code == 1008
    assert ws_server.received == ["hello"]
    d = last_decision(a)
    assert d["decision"]["rule"] == "secrets.outbound" and d["action"]["operation"] == "message"
    # MCP over WebSocket: a refused call is answered with a JSON-RPC error and never sent on.
    with connect(f"wss://localhost:{ws_server.port}/mcp", ssl=ctx, proxy=a.url, open_timeout=10) as ws:
        ws.send(json.dumps({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "note", "arguments": {"k": KEY}}}))
        reply = json.loads(ws.recv(timeout=10))
        assert reply["id"] == 7 and reply["error"]["code"] == -32001
        ws.send(json.dumps({"jsonrpc": "2.0", "id": 8, "method": "tools/list"}))
        assert json.loads(ws.recv(timeout=10))["id"] == 8, "the control is echoed"
    assert not any(KEY in m for m in ws_server.received)
    assert last_decision(a)["action"]["operation"] == "tools/list"


def test_realtime_function_calls_are_decided_before_the_client_sees_them(start_aarmor, ws_server):
    from websockets.sync.client import connect

    a = ws_allowed(start_aarmor)
    ctx = ssl.create_default_context(cafile=str(a.ca))
    with connect(f"wss://localhost:{ws_server.port}/v1/realtime?model=m", ssl=ctx, proxy=a.url, open_timeout=10) as ws:
        ws.send(json.dumps({"type": "response.create"}))
        events = []
        while not events or events[-1]["type"] != "response.done":
            events.append(json.loads(ws.recv(timeout=10)))
    calls = [e["name"] for e in events if e["type"] == "response.function_call_arguments.done"]
    assert calls == ["get_weather"], events
    assert "rm -rf" not in json.dumps(events)
    assert [i["call_id"] for i in events[-1]["response"]["output"]] == ["c2"]
    rules = {r["action"]["tool"]: r["decision"].get("rule") for r in a.receipts() if r["kind"] == "decision" and r["action"]["operation"] == "call"}
    assert rules["bash"] == "shell.recursive_delete" and "get_weather" in rules


# --- Parser differentials -----------------------------------------------------------------------

DIFFERENTIALS = [
    ("duplicate keys", b'{"to": "user@corp.example", "to": "attacker@evil.example", "k": "%s"}', {"content-type": "application/json"}),
    ("NaN", b'{"k": "%s", "n": NaN}', {"content-type": "application/json"}),
    ("lone surrogate", b'{"k": "%s", "s": "\\ud800"}', {"content-type": "text/plain"}),
    ("nesting past 128", b'[' * 200 + b'"%s"' + b']' * 200, {}),
    ("UTF-16", b"", {"content-type": "application/json"}),
    ("broken multipart", b"--x\r\nnot a part %s", {"content-type": "multipart/form-data; boundary=b"}),
    ("two content types", b'{"k": "%s"}', [("content-type", "text/plain"), ("content-type", "application/json")]),
    ("unknown content coding", b"%s", {"content-type": "text/plain", "content-encoding": "x-lzma"}),
]


@pytest.mark.parametrize("name,body,headers", DIFFERENTIALS, ids=[d[0] for d in DIFFERENTIALS])
def test_what_aarmor_cannot_read_as_the_upstream_does_is_refused(aarmor, upstream, name, body, headers):
    body = body.replace(b"%s", KEY.encode()) if b"%s" in body else '{"k": "%s"}'.replace("%s", KEY).encode("utf-16")
    before = len(upstream.seen)
    r = raw_https_path(aarmor, upstream.port, "/v1/notes", body, list(headers.items()) if isinstance(headers, dict) else headers)
    assert r["status"] in (413, 415), (name, r)
    assert len(upstream.seen) == before, name
    d = last_decision(aarmor)
    assert d["decision"]["result"] == "DENY" and d["decision"]["rule"] == "aarmor.uninspectable", d["decision"]
    assert json.loads(r["body"])["action_id"] == d["action"]["action_id"]
    # Control: the same fields as plain JSON reach policy, which denies the key the ordinary way.
    r = raw_https_path(aarmor, upstream.port, "/v1/notes", json.dumps({"k": KEY}).encode(), [("content-type", "application/json")])
    assert r["status"] == 403 and last_decision(aarmor)["decision"]["rule"] == "secrets.outbound"


def test_json_under_a_byte_order_mark_is_still_mcp(aarmor, upstream):
    before = len(upstream.seen)
    body = b"\xef\xbb\xbf" + json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                         "params": {"name": "note", "arguments": {"k": KEY}}}).encode()
    r = post(aarmor, f"https://localhost:{upstream.port}/mcp", data=body, headers={"content-type": "application/json"})
    assert r.status_code == 200 and r.json()["error"]["code"] == -32001
    assert len(upstream.seen) == before
    d = last_decision(aarmor)
    assert d["action"]["protocol"] == "mcp" and d["action"]["tool"] == "localhost.note"


@pytest.mark.parametrize("form", ["gzip", "not-json"])
def test_an_mcp_result_aarmor_cannot_parse_is_still_observed(aarmor, upstream, form):
    """What the agent received counts as read even when aarmor cannot parse it: a tool result
    compressed against aarmor's request is read as unclassified data (the most sensitive class
    by default), one that is not JSON is classified on its text."""
    session = f"mcp-unread-{form}"
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "lookup", "arguments": {"q": "ada"}}}
    r = post(aarmor, f"https://localhost:{upstream.port}/mcp-unreadable/{form}", json=call,
             headers={"x-aarm-session": session})
    assert r.status_code == 200 and "ada@example.org" in r.text
    sent = {k.lower(): v for k, v in upstream.seen[-1]["headers"].items()}
    assert sent.get("accept-encoding") == "identity", sent

    def result_entry():
        shown = aarmor.cli("context", "show", session)
        if shown.returncode != 0:
            return None
        return next((e for e in json.loads(shown.stdout)["entries"] if e["kind"] == "action_result"), None)

    entry = wait_for(result_entry)
    assert entry, "no result recorded"
    c = entry["data"]["classification"]
    if form == "gzip":
        assert c["defaulted"] is True and c["class"] == "RESTRICTED", c
    else:
        assert "PII" in c["labels"], c


# --- HTTP/2 bodies without Content-Length ------------------------------------------------------

def test_http2_body_without_content_length_is_decided(aarmor, upstream):
    import subprocess

    before = len(upstream.seen)
    # A GET with a body streamed from stdin: no Content-Length on HTTP/2, only the stream's end.
    r = subprocess.run(["curl", "-sS", "--max-time", "20", "--http2", "-x", aarmor.url, "--cacert", str(aarmor.ca),
                        "-X", "GET", "-T", "-", "-H", "content-type: application/json", "-o", "/dev/null",
                        "-w", "%{http_code} %{http_version}", f"https://localhost:{upstream.port}/v1/read"],
                       input=json.dumps({"k": KEY}).encode(), capture_output=True, timeout=30)
    code, version = r.stdout.decode().split()
    assert (code, version) == ("403", "2"), r.stdout + r.stderr
    assert len(upstream.seen) == before
    assert last_decision(aarmor)["decision"]["rule"] == "secrets.outbound"


# --- 9. Sessions ----------------------------------------------------------------------------------

TWO_AGENTS = ("agents:\n"
              "  - name: agent-a\n    credentials:\n      - basic_user: agent-a\n"
              f"        password_sha256: \"{hashlib.sha256(b'pa').hexdigest()}\"\n"
              "  - name: agent-b\n    credentials:\n      - basic_user: agent-b\n"
              f"        password_sha256: \"{hashlib.sha256(b'pb').hexdigest()}\"\n")


def as_agent(a, user, password):
    return {"https": f"http://{user}:{password}@127.0.0.1:{a.port}"}


def test_a_fresh_session_does_not_wash_away_what_the_agent_read(start_aarmor, upstream):
    a = start_aarmor(policy_files={"identities.yaml": TWO_AGENTS})
    px = as_agent(a, "agent-a", "pa")
    base = f"https://localhost:{upstream.port}"
    send = {"to": "drop@evil.example", "body": "the list"}
    # Control: before the agent read anything sensitive, the send passes.
    r = requests.post(f"{base}/v1/messages/send", json=send, headers={"x-aarm-session": "fresh-0"},
                      proxies=px, verify=str(a.ca), timeout=20)
    assert r.status_code == 200, r.text
    # The agent reads personal data (an executed action that returns it).
    r = requests.post(f"{base}/v1/customers/export", json={}, headers={"x-aarm-session": "work-1"},
                      proxies=px, verify=str(a.ca), timeout=20)
    assert r.status_code == 200 and "ada@example.org" in r.text
    time.sleep(0.3)
    before = len(upstream.seen)
    # The same send, in the session that read it and in a fresh one: both refused.
    for session in ("work-1", "fresh-1", "fresh-2"):
        r = requests.post(f"{base}/v1/messages/send", json=send, headers={"x-aarm-session": session},
                          proxies=px, verify=str(a.ca), timeout=20)
        assert r.status_code == 403, (session, r.text)
        d = last_decision(a)
        assert d["decision"]["rule"] == "context.sensitive_read_then_send", d["decision"]
    assert len(upstream.seen) == before
    # Another agent has read nothing: its send passes.
    r = requests.post(f"{base}/v1/messages/send", json=send, headers={"x-aarm-session": "b-1"},
                      proxies=as_agent(a, "agent-b", "pb"), verify=str(a.ca), timeout=20)
    assert r.status_code == 200


def test_a_session_belongs_to_the_agent_that_opened_it(start_aarmor, upstream):
    a = start_aarmor(policy_files={"identities.yaml": TWO_AGENTS})
    base = f"https://localhost:{upstream.port}"
    # Agent A opens session "shared-7".
    r = requests.post(f"{base}/v1/notes", json={"text": "hello"}, headers={"x-aarm-session": "shared-7"},
                      proxies=as_agent(a, "agent-a", "pa"), verify=str(a.ca), timeout=20)
    assert r.status_code == 200
    before = len(upstream.seen)
    # Agent B names it: refused, nothing reaches the upstream, nothing is recorded in it.
    r = requests.post(f"{base}/v1/notes", json={"text": "planted"}, headers={"x-aarm-session": "shared-7"},
                      proxies=as_agent(a, "agent-b", "pb"), verify=str(a.ca), timeout=20)
    assert r.status_code == 403
    d = last_decision(a)
    assert d["decision"]["rule"] == "session.foreign_identity" and d["action"]["identity"]["agent"] == "agent-b"
    assert len(upstream.seen) == before
    shown = json.loads(a.cli("context", "show", "shared-7").stdout)
    assert not any("planted" in json.dumps(e) for e in shown["entries"])
    # Control: agent A keeps using it.
    r = requests.post(f"{base}/v1/notes", json={"text": "again"}, headers={"x-aarm-session": "shared-7"},
                      proxies=as_agent(a, "agent-a", "pa"), verify=str(a.ca), timeout=20)
    assert r.status_code == 200


# --- 10. Approvals --------------------------------------------------------------------------------

def test_one_operator_token_cannot_complete_a_quorum(start_aarmor, upstream):
    from test_approvals import IDENTITIES, TOKENS, api, held_request

    policy = """package aarmor.policy

decisions contains d if {
    input.action.target.path == "/v1/payroll"
    d := {"decision": "step_up", "class": "context_allow", "priority": 500, "rule": "test.payroll",
          "reason": "payroll changes need two approvals", "approvers": ["finance"], "quorum": 2, "timeout": 60}
}
"""

    approvers = "".join(
        f'[[approvals.approvers]]\nname = "{n}"\ntoken_sha256 = "{hashlib.sha256(t.encode()).hexdigest()}"\nprincipal = "{n}@corp.example"\n'
        for n, t in TOKENS.items())
    a = start_aarmor(policy=policy, policy_files={"identities.yaml": IDENTITIES},
                     extra_policy="\n" + approvers + '[approvals.groups]\nfinance = ["ana", "ben"]\nsecurity = ["sec"]\n')
    results = {}
    t = held_request(a, upstream, "/v1/payroll", "carl@corp.example", results)
    assert wait_for(lambda: len(api(a, "GET", "/v1/approvals", a.token).json()["approvals"]) == 1)
    aid = api(a, "GET", "/v1/approvals", a.token).json()["approvals"][0]["id"]
    # The operator token voting as each of two approvers: refused.
    for name in ("ana", "ben"):
        r = api(a, "POST", f"/v1/approvals/{aid}/approve", a.token, {"approver": name})
        assert r.status_code == 403 and "operator token cannot answer as approver" in r.json()["error"]
    # As two made-up names: one vote, then a conflict.
    assert api(a, "POST", f"/v1/approvals/{aid}/approve", a.token, {"approver": "bot-1"}).json()["status"] == "waiting"
    assert api(a, "POST", f"/v1/approvals/{aid}/approve", a.token, {"approver": "bot-2"}).status_code == 409
    # Visibility: finance sees it, security does not.
    assert len(api(a, "GET", "/v1/approvals", TOKENS["ana"]).json()["approvals"]) == 1
    assert api(a, "GET", "/v1/approvals", TOKENS["sec"]).json()["approvals"] == []
    assert api(a, "GET", f"/v1/approvals/{aid}", TOKENS["sec"]).status_code == 404
    # Control: a real second approver completes the quorum.
    assert api(a, "POST", f"/v1/approvals/{aid}/approve", TOKENS["ben"]).json()["status"] == "approved"
    t.join(30)
    assert results["/v1/payroll"].status_code == 200



# --- Host identity: an address instead of a configured name ------------------------------------

DENY_FILE_DELETES = """package aarmor.policy

decisions contains d if {
    input.action.tool == "files.delete_file"
    d := {"decision": "deny", "class": "forbidden", "priority": 1000, "rule": "test.no_deletes",
          "reason": "deleting files is not allowed"}
}
"""


def test_an_address_is_judged_as_the_configured_host_it_reaches(start_aarmor, upstream):
    a = start_aarmor(extra='[mediation]\nmcp_servers = [{ host = "localhost", name = "files" }]', policy=DENY_FILE_DELETES)
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "delete_file", "arguments": {"path": "/etc"}}}
    before = len(upstream.seen)
    # By the configured name, and by its address (no server name): the same tool, denied.
    for connect_host, sni in (("localhost", "localhost"), ("127.0.0.1", None)):
        r = raw_https(a, connect_host, upstream.port, sni, "POST", "/mcp", json.dumps(call).encode(),
                      {"content-type": "application/json"})
        assert r["status"] == 200 and json.loads(r["body"])["error"]["code"] == -32001, r
        d = last_decision(a)
        assert d["action"]["tool"] == "files.delete_file" and d["decision"]["rule"] == "test.no_deletes"
        assert d["action"]["target"]["host"] == "localhost"
    assert len(upstream.seen) == before
    # Control: another tool of the same server, by address, passes.
    call["params"]["name"] = "read_file"
    r = raw_https(a, "127.0.0.1", upstream.port, None, "POST", "/mcp", json.dumps(call).encode(), {"content-type": "application/json"})
    assert r["status"] == 200 and len(upstream.seen) == before + 1


# --- Reaching what is not the internet ----------------------------------------------------------

def test_metadata_and_aarmors_own_listeners_are_refused(aarmor):
    for target in ("169.254.169.254:80", f"127.0.0.1:{aarmor.admin}", f"127.0.0.1:{aarmor.port}", f"[::ffff:169.254.169.254]:80"):
        s = socket.create_connection(("127.0.0.1", aarmor.port), timeout=10)
        s.sendall(f"CONNECT {target} HTTP/1.1\r\n\r\n".encode())
        head = s.recv(4096)
        s.close()
        assert head.startswith(b"HTTP/1.1 403") and b"destination-forbidden" in head, (target, head)
        d = last_decision(aarmor)
        assert d["decision"]["rule"] == "aarmor.forbidden_destination" and d["action"]["operation"] == "connect", d
    # Absolute-form plain HTTP to the metadata service: the same.
    r = curl("-i", "-x", aarmor.url, "http://169.254.169.254/latest/meta-data/")
    assert r.stdout.startswith("HTTP/1.1 403") and "destination-forbidden" in r.stdout, r.stdout


# --- Found by review: bodies, envelopes and headers ---------------------------------------------

READ_AS_SERVERS_DO = [
    # A byte that is not UTF-8 makes the body opaque; the text inside it is still judged.
    ("binary with text inside", b"\xff" + KEY.encode() + b"\x00", [("content-type", "application/octet-stream")]),
    # Declared a form, also JSON: a server reads the form (k=AKIA...), so it cannot be read as JSON.
    ("form that is also JSON", b'{"x":"&k=AKIA%49OSFODNN7EXAMPLE&y="}', [("content-type", "application/x-www-form-urlencoded")]),
    # A charset other than UTF-8: a server decoding it reads other text.
    ("UTF-7 charset", b'{"note":"+AEE-KIAIOSFODNN7EXAMPLE"}', [("content-type", "application/json; charset=utf-7")]),
    # The key in a custom header, the body empty JSON.
    ("header", b"{}", [("content-type", "application/json"), ("x-exfil", KEY)]),
    # The key in the path.
    ("path", b"{}", [("content-type", "application/json")]),
]


@pytest.mark.parametrize("name,body,headers", READ_AS_SERVERS_DO, ids=[r[0] for r in READ_AS_SERVERS_DO])
def test_what_a_server_would_read_is_what_policy_judges(aarmor, upstream, name, body, headers):
    before = len(upstream.seen)
    path = f"/v1/u/{KEY}" if name == "path" else "/v1/notes"
    r = raw_https_path(aarmor, upstream.port, path, body, headers)
    assert r["status"] in (403, 415), (name, r)
    assert len(upstream.seen) == before, name
    d = last_decision(aarmor)
    assert d["decision"]["result"] == "DENY" and d["decision"]["rule"] in ("secrets.outbound", "aarmor.uninspectable"), d["decision"]
    # Control: the same request without the key passes.
    clean = body.replace(KEY.encode(), b"hello").replace(b"AKIA%49OSFODNN7EXAMPLE", b"hello").replace(b"+AEE-KIAIOSFODNN7EXAMPLE", b"hello")
    clean_headers = [(k, "hello" if v == KEY else v) for k, v in headers if "utf-7" not in v] or [("content-type", "application/json")]
    if name == "form that is also JSON":
        clean, clean_headers = b"x=hello", headers
    r = raw_https_path(aarmor, upstream.port, "/v1/notes", clean, clean_headers)
    assert r["status"] == 200, (name, r)


def raw_https_path(a, port, path, body, headers):
    s = socket.create_connection(("127.0.0.1", a.port), timeout=10)
    s.sendall(f"CONNECT localhost:{port} HTTP/1.1\r\n\r\n".encode())
    assert s.recv(4096).startswith(b"HTTP/1.1 200")
    t = ssl.create_default_context(cafile=str(a.ca)).wrap_socket(s, server_hostname="localhost")
    lines = [f"POST {path} HTTP/1.1", "Host: localhost", f"Content-Length: {len(body)}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers]
    t.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    data = b""
    while True:
        chunk = t.recv(65536)
        if not chunk:
            break
        data += chunk
    return {"status": int(data.split(b" ", 2)[1]), "body": data.split(b"\r\n\r\n", 1)[-1]}


def test_every_member_of_a_json_rpc_message_is_judged(aarmor, upstream):
    before = len(upstream.seen)
    for msg in ({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "n", "arguments": {}, "_meta": {"k": KEY}}},
                {"jsonrpc": "2.0", "id": KEY, "method": "x"},
                {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": KEY, "arguments": {}}},
                {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                 "params": {"name": "call_tool", "arguments": {"name": "t", "arguments": {}, "args": {"k": KEY}}}}):
        r = post(aarmor, f"https://localhost:{upstream.port}/mcp", json=msg)
        assert r.status_code in (200, 403)
        d = last_decision(aarmor)
        assert d["decision"]["rule"] == "secrets.outbound", (msg, d["decision"])
    assert len(upstream.seen) == before


def test_a_percent_encoded_path_is_judged_as_servers_route_it(aarmor, upstream):
    before = len(upstream.seen)
    r = raw_https_path(aarmor, upstream.port, "/%68ooks/abc", b"{}", [("content-type", "application/json")])
    assert r["status"] == 403
    assert last_decision(aarmor)["decision"]["rule"] == "exfiltration.webhook_unknown_host"
    r = raw_https_path(aarmor, upstream.port, "/x/../hooks/abc", b"{}", [("content-type", "application/json")])
    assert r["status"] == 403 and len(upstream.seen) == before
    # Control: a path that routes elsewhere.
    assert raw_https_path(aarmor, upstream.port, "/%68ello/abc", b"{}", [("content-type", "application/json")])["status"] == 200


RM = {"command": "rm -rf /tmp/victim"}


def test_tool_calls_in_every_place_an_sdk_reads_them_are_decided(aarmor, scripted):
    call = {"id": "c1", "type": "function", "function": {"name": "bash", "arguments": json.dumps(RM)}}
    chat = {"id": "c", "object": "chat.completion", "choices": [
        {"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": None, "tool_calls": [call]}}]}
    # A JSON completion sent as text/event-stream to a client that did not ask for a stream.
    r = ask_llm(aarmor, scripted, "/v1/chat/completions",
                (200, [("content-type", "text/event-stream")], json.dumps(chat).encode() + b"\n\n"))
    assert "rm -rf" not in r.text, r.text
    # Arguments as a JSON object instead of text.
    obj = {**chat, "choices": [{**chat["choices"][0], "message": {**chat["choices"][0]["message"],
                                                                 "tool_calls": [{**call, "function": {"name": "bash", "arguments": RM}}]}}]}
    r = ask_llm(aarmor, scripted, "/v1/chat/completions", as_json(obj))
    assert "rm -rf" not in r.text, r.text
    # Anthropic: a tool_use already in message_start.
    tool_use = {"type": "tool_use", "id": "t1", "name": "bash", "input": RM}
    events = [("message_start", {"type": "message_start", "message": {"id": "m", "type": "message", "role": "assistant",
                                                                       "content": [tool_use], "stop_reason": None}}),
              ("message_stop", {"type": "message_stop"})]
    sse = "".join(f"event: {n}\ndata: {json.dumps(d)}\n\n" for n, d in events).encode()
    r = ask_llm(aarmor, scripted, "/v1/messages", (200, [("content-type", "text/event-stream")], sse), stream=True)
    assert "rm -rf" not in r.text, r.text
    # Responses: a function call only in the final snapshot.
    fc = {"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "bash", "arguments": json.dumps(RM)}
    events = [{"type": "response.created", "sequence_number": 0, "response": {"id": "r", "output": []}},
              {"type": "response.completed", "sequence_number": 1, "response": {"id": "r", "output": [fc]}}]
    sse = "".join(f"data: {json.dumps(e)}\n\n" for e in events).encode()
    r = ask_llm(aarmor, scripted, "/v1/responses", (200, [("content-type", "text/event-stream")], sse), stream=True)
    assert "rm -rf" not in r.text, r.text
    rules = [x["decision"]["rule"] for x in aarmor.receipts() if x["kind"] == "decision" and x["action"]["tool"] == "bash"]
    assert rules.count("shell.recursive_delete") == 4, rules


# --- Resource bounds ------------------------------------------------------------------------------

def test_bodies_held_for_inspection_are_bounded_per_client(start_aarmor, upstream):
    a = start_aarmor(extra_proxy="max_inspect_client_bytes = 200000")
    before = len(upstream.seen)
    r = post(a, f"https://localhost:{upstream.port}/v1/notes", json={"note": "x" * 300_000})
    assert r.status_code == 429 and "inspection-budget" in r.text and r.headers.get("retry-after") == "1"
    assert len(upstream.seen) == before
    d = last_decision(a)
    assert d["decision"]["result"] == "DENY" and d["decision"]["rule"] == "aarmor.uninspectable"
    # Control: a body within the client's share passes.
    assert post(a, f"https://localhost:{upstream.port}/v1/notes", json={"note": "x" * 1000}).status_code == 200
