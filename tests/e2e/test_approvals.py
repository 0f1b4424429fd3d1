"""Approvals a security team can operate: routing to approver groups, quorum, escalation to a
backup group, no self-approval, signed webhooks and Slack payloads to a loopback receiver, the
web console in a real headless Chromium (sign in, see the held action appear, approve it with a
comment, see the agent's request complete, search and verify its receipt), CSRF defences, and
an admin listener the proxy never reaches."""
import hashlib
import hmac
import http.server
import json
import os
import subprocess
import threading

import ssl

import openai
import pytest
import requests

from conftest import BIN, console_page, curl, wait_for
from llm_upstream import LlmUpstream

TOKENS = {"ana": "tok-ana-7f3c", "ben": "tok-ben-91aa", "sec": "tok-sec-0d4e"}
SECRET = "webhook-secret-1"

POLICY = """package aarmor.policy

decisions contains d if {
    input.action.target.path == "/v1/transfer"
    d := {"decision": "step_up", "class": "context_allow", "priority": 500, "rule": "test.transfer",
          "reason": "transfers need a finance approval", "approvers": ["finance"], "timeout": 60,
          "requires": ["intent.drift"]}
}

decisions contains d if {
    input.action.target.path == "/v1/payroll"
    d := {"decision": "step_up", "class": "context_allow", "priority": 500, "rule": "test.payroll",
          "reason": "payroll changes need two approvals", "approvers": ["finance"], "quorum": 2,
          "escalate_to": ["security"], "escalate_after": 1, "timeout": 60}
}
"""

IDENTITIES = """agents:
  - name: local
    role: local-agent
    cidrs: [127.0.0.0/8]
human:
  headers: [x-aarm-user]
"""


class Hooks(http.server.BaseHTTPRequestHandler):
    received = []

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        Hooks.received.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()


@pytest.fixture
def hooks():
    Hooks.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hooks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def config(hook_port):
    approvers = "".join(
        f'[[approvals.approvers]]\nname = "{n}"\ntoken_sha256 = "{hashlib.sha256(t.encode()).hexdigest()}"\nprincipal = "{n}@corp.example"\n'
        for n, t in TOKENS.items())
    return (approvers + '[approvals.groups]\nfinance = ["ana", "ben"]\nsecurity = ["sec"]\n'
            f'[[approvals.webhooks]]\nurl = "http://127.0.0.1:{hook_port}/generic"\nkind = "generic"\nsecret = "{SECRET}"\n'
            f'[[approvals.webhooks]]\nurl = "http://127.0.0.1:{hook_port}/slack"\nkind = "slack"\n')


def start(start_aarmor, hooks):
    return start_aarmor(policy=POLICY, policy_files={"identities.yaml": IDENTITIES},
                        extra_policy="\n" + config(hooks.server_address[1]))


def held_request(a, upstream, path, human, results):
    def run():
        results[path] = requests.post(f"https://localhost:{upstream.port}{path}", json={"amount": 9000},
                                      headers={"x-aarm-user": human}, proxies={"https": a.url}, verify=str(a.ca), timeout=90)
    t = threading.Thread(target=run)
    t.start()
    return t


def api(a, method, path, token, body=None):
    return requests.request(method, f"http://127.0.0.1:{a.admin}{path}", json=body,
                            headers={"authorization": f"Bearer {token}"}, timeout=10)


def resolution(a, rule):
    return [r for r in a.receipts() if r["kind"] == "resolution" and r["decision"]["rule"] == rule][-1]


def test_console_in_chromium(start_aarmor, upstream, hooks, pki):
    from playwright.sync_api import expect

    a = start(start_aarmor, hooks)
    results = {}
    # The agent's conversation first: the user's request, a tool call, its output (with PII).
    llm = LlmUpstream(*pki["leaf"])
    try:
        chat = openai.OpenAI(base_url=f"https://localhost:{llm.port}/v1", api_key="sk-test", max_retries=0,
                             default_headers={"x-aarm-user": "carl@corp.example"},
                             http_client=openai.DefaultHttpxClient(proxy=a.url, verify=ssl.create_default_context(cafile=str(a.ca))))
        convo = [{"role": "system", "content": "You are the accounts-payable assistant."},
                 {"role": "user", "content": "Pay invoice 4471 from ACME Corp: transfer 9000 EUR to their account."}]
        llm.server.calls_override = [("c1", "get_invoice", {"invoice": "4471"})]
        chat.chat.completions.create(model="gpt-test", messages=convo)
        convo += [{"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get_invoice", "arguments": "{\"invoice\": \"4471\"}"}}]},
                  {"role": "tool", "tool_call_id": "c1", "content": "Invoice 4471, ACME Corp, 9000 EUR, contact billing@acme.example, IBAN DE89370400440532013000"}]
        llm.server.calls_override = []
        chat.chat.completions.create(model="gpt-test", messages=convo)
    finally:
        llm.close()
    with console_page(a.admin, TOKENS["ana"], {"width": 1200, "height": 900}) as page:
        expect(page.locator("#who-name")).to_contain_text("ana")
        page.get_by_role("button", name="Held actions").click()
        # An agent's transfer is held; it appears in the console without a reload.
        t = held_request(a, upstream, "/v1/transfer", "carl@corp.example", results)
        card = page.locator("article.held")
        expect(card).to_have_count(1, timeout=15000)
        for text in ["localhost/v1/transfer", "test.transfer", "transfers need a finance approval", "risk",
                     "local", "carl@corp.example", "Identity chain", "finance", "Pay invoice 4471",
                     "get_invoice.call", "PII", "Intent drift"]:
            expect(card).to_contain_text(text)
        if os.environ.get("AARMOR_CONSOLE_SCREENSHOT"):
            page.screenshot(path=os.environ["AARMOR_CONSOLE_SCREENSHOT"], full_page=True)
        card.get_by_label("Comment").fill("checked with carl by phone")
        card.get_by_role("button", name="Approve").click()
        t.join(30)
        assert results["/v1/transfer"].status_code == 200, "the agent's request completes"
        expect(card).to_have_count(0, timeout=10000)

        # The follow-up receipt names the approver, the comment, the time.
        r = resolution(a, "test.transfer")
        assert r["decision"]["result"] == "ALLOW"
        approval = r["approval"]
        assert approval["approver"] == "ana" and approval["reason"] == "checked with carl by phone"
        assert approval["votes"][0]["via"] == "console" and approval["at"].endswith("Z")

        # Receipts view: search, then verify the resolution receipt.
        page.get_by_role("button", name="Receipts").click()
        page.get_by_label("Search receipts").fill(r["receipt_id"])
        page.get_by_role("button", name="Search").click()
        row = page.locator("#receipts-table tbody tr")
        expect(row).to_have_count(1)
        row.get_by_role("button", name="Verify").click()
        expect(row.locator(".verified")).to_contain_text("valid")

    # Webhooks: requested and resolved, generic ones signed with HMAC, Slack ones well-formed.
    assert wait_for(lambda: len([h for h in Hooks.received if h["path"] == "/generic"]) >= 2), ([h["path"] for h in Hooks.received], a.logs()[-3000:])
    generic = [h for h in Hooks.received if h["path"] == "/generic"]
    events = [json.loads(h["body"])["event"] for h in generic]
    assert "approval.requested" in events and "approval.resolved" in events
    resolved = next(json.loads(h["body"]) for h in generic if json.loads(h["body"])["event"] == "approval.resolved")
    assert resolved["status"] == "approved" and resolved["approval"]["votes"][0]["approver"] == "ana"
    for h in generic:
        ts = h["headers"]["x-aarmor-timestamp"]
        want = "sha256=" + hmac.new(SECRET.encode(), f"{ts}.".encode() + h["body"], hashlib.sha256).hexdigest()
        assert h["headers"]["x-aarmor-signature"] == want
    requested = json.loads(generic[0]["body"])
    assert requested["approval"]["rule"] == "test.transfer" and requested["console_url"].endswith(requested["approval"]["id"])
    assert b"parameters" not in generic[0]["body"] and b"amount" not in generic[0]["body"], "notifications carry no parameter values"
    slack = [json.loads(h["body"]) for h in Hooks.received if h["path"] == "/slack"]
    assert slack and "Approval needed" in slack[0]["text"] and slack[0]["blocks"][0]["type"] == "section"


def test_quorum_escalation_self_approval_and_csrf(start_aarmor, upstream, hooks):
    a = start(start_aarmor, hooks)
    results = {}
    t = held_request(a, upstream, "/v1/payroll", "ana@corp.example", results)
    assert wait_for(lambda: len(api(a, "GET", "/v1/approvals", TOKENS["ben"]).json()["approvals"]) == 1)
    approval = api(a, "GET", "/v1/approvals", TOKENS["ben"]).json()["approvals"][0]
    assert approval["quorum"] == 2 and approval["approvers"] == ["finance"] and approval["escalate_to"] == ["security"]
    aid = approval["id"]
    # Ana cannot approve her own action; an unknown token is refused.
    r = api(a, "POST", f"/v1/approvals/{aid}/approve", TOKENS["ana"])
    assert r.status_code == 403 and "action of their own" in r.json()["error"]
    assert api(a, "GET", "/v1/approvals", "wrong").status_code == 401
    # Security is not asked before the escalation window.
    r = api(a, "POST", f"/v1/approvals/{aid}/approve", TOKENS["sec"])
    assert r.status_code == 403 and "not an approver" in r.json()["error"]
    # Ben approves with the CLI and his own token: one of two.
    cli = subprocess.run([str(BIN), "--config", str(a.config), "approvals", "approve", aid, "--reason", "ok"],
                         env={**os.environ, "AARMOR_APPROVAL_TOKEN": TOKENS["ben"]}, capture_output=True, text=True, timeout=30)
    assert cli.returncode == 0 and "waiting: 1 of 2 approvals" in cli.stdout, cli.stdout + cli.stderr
    assert api(a, "POST", f"/v1/approvals/{aid}/approve", TOKENS["ben"]).status_code == 409
    # After the window the backup group may answer, and it completes the quorum.
    assert wait_for(lambda: api(a, "GET", f"/v1/approvals/{aid}", TOKENS["sec"]).json().get("escalated"), 10)
    r = api(a, "POST", f"/v1/approvals/{aid}/approve", TOKENS["sec"], {"comment": "second pair of eyes"})
    assert r.status_code == 200 and r.json()["status"] == "approved"
    t.join(30)
    assert results["/v1/payroll"].status_code == 200
    votes = resolution(a, "test.payroll")["approval"]["votes"]
    assert [(v["approver"], v["approve"]) for v in votes] == [("ben", True), ("sec", True)]
    assert wait_for(lambda: any(json.loads(h["body"])["event"] == "approval.escalated"
                                for h in Hooks.received if h["path"] == "/generic"))

    # Console CSRF defences.
    base = f"http://127.0.0.1:{a.admin}/console/api"
    s = requests.Session()
    assert s.post(f"{base}/login", data=json.dumps({"token": TOKENS["ben"]}), headers={"content-type": "text/plain"}).status_code == 415
    login = s.post(f"{base}/login", json={"token": TOKENS["ben"]})
    assert login.status_code == 200
    cookie = login.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    csrf = login.json()["csrf"]
    assert s.post(f"{base}/approvals/x/approve", json={}).status_code == 403, "no CSRF token"
    assert s.post(f"{base}/approvals/x/approve", json={}, headers={"x-csrf-token": csrf, "origin": "http://evil.example"}).status_code == 403
    assert s.post(f"{base}/approvals/x/approve", json={}, headers={"x-csrf-token": csrf}).status_code == 404, "accepted, no such approval"
    page = s.get(f"http://127.0.0.1:{a.admin}/console")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert requests.get(f"{base}/approvals").status_code == 401, "no session, no data"

    # The admin listener is never reachable through the proxy.
    r = curl("-x", a.url, "-i", f"http://127.0.0.1:{a.admin}/v1/approvals")
    assert " 403" in r.stdout.splitlines()[0] and "destination-forbidden" in r.stdout
    r = curl("-x", a.url, "-i", "-p", f"http://127.0.0.1:{a.admin}/healthz")
    assert "403" in (r.stdout + r.stderr)
