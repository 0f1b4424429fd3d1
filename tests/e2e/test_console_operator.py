"""The console as the operator's home, in a real headless Chromium after real traffic through
the proxy: the overview (decisions per minute by decision, top rules and agents, the action
held now, the drift histogram, the receipt chain's state, the SIEM sinks — one connected, one
down and spilling) and a session's timeline (the user's request, a tool output with its class
and labels, each action with its decision, rule and receipts, the chain check, a link to a
receipt). Screenshots go to AARMOR_CONSOLE_SHOTS (a directory) when it is set."""
import hashlib
import os
import socket
import ssl
import threading

import openai
import requests

from conftest import console_page, free_port, wait_for
from llm_upstream import LlmUpstream

HOLD = """package aarmor.policy

decisions contains d if {
    input.action.target.path == "/v1/transfer"
    d := {"decision": "step_up", "class": "context_allow", "priority": 500, "rule": "ops.transfer_approval",
          "reason": "transfers need an approval", "timeout": 120, "requires": ["intent.drift"]}
}
"""

PASSWORD = "research-secret-1"
IDENTITIES = f"""agents:
  - name: research-bot
    role: research
    credentials:
      - basic_user: research
        password_sha256: "{hashlib.sha256(PASSWORD.encode()).hexdigest()}"
  - name: local
    role: local-agent
    cidrs: [127.0.0.0/8]
human:
  headers: [x-aarm-user]
"""


class SyslogCollector:
    """A TCP listener that accepts the appliance's syslog connection and reads what it sends."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.received = bytearray()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn):
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                self.received += data

    def close(self):
        self.sock.close()


def chat_client(a, llm_port, user=None, proxy_user=None):
    proxy = a.url if proxy_user is None else a.url.replace("http://", f"http://{proxy_user}@")
    headers = {"x-aarm-user": user} if user else {}
    return openai.OpenAI(base_url=f"https://localhost:{llm_port}/v1", api_key="sk-test", max_retries=0,
                         default_headers=headers,
                         http_client=openai.DefaultHttpxClient(proxy=proxy, verify=ssl.create_default_context(cafile=str(a.ca))))


def test_overview_and_session_timeline_in_chromium(start_aarmor, upstream, pki):
    from playwright.sync_api import expect

    collector = SyslogCollector()
    closed_port = free_port()
    sinks = (f'[[telemetry.sinks]]\nname = "siem"\nurl = "tcp://127.0.0.1:{collector.port}"\n'
             f'[[telemetry.sinks]]\nname = "backup"\nurl = "tcp://127.0.0.1:{closed_port}"\n')
    a = start_aarmor(extra=sinks, policy_files={"ops_hold.rego": HOLD, "identities.yaml": IDENTITIES})
    llm = LlmUpstream(*pki["leaf"])
    held = {}
    try:
        # A conversation of agent `local`: the user's request, then the model calls a tool whose
        # output carries personal data, then the model proposes get_weather and delete_repo.
        chat = chat_client(a, llm.port, user="dana@corp.example")
        convo = [{"role": "system", "content": "You are the operations assistant."},
                 {"role": "user", "content": "Look up customer 88 and tell me the weather in Oslo."}]
        llm.server.calls_override = [("c1", "get_customer", {"customer": "88"})]
        chat.chat.completions.create(model="gpt-test", messages=convo)
        convo += [{"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get_customer", "arguments": "{\"customer\": \"88\"}"}}]},
                  {"role": "tool", "tool_call_id": "c1", "content": "Customer 88: Dana Smith, dana.smith@example.com, IBAN DE89370400440532013000"}]
        # The model then calls get_weather (allowed) and delete_repo, which nobody asked for:
        # held for approval, and denied by the on-call approver.
        llm.server.calls_override = [("c2", "get_weather", {"city": "Oslo"}), ("c3", "delete_repo", {"repo": "prod"})]
        answered = {}
        chat_thread = threading.Thread(target=lambda: answered.setdefault("resp", chat.chat.completions.create(model="gpt-test", messages=convo)))
        chat_thread.start()
        assert wait_for(lambda: len(a.approvals()) == 1)
        assert a.answer(a.approvals()[0]["id"], approve=False, approver="oncall").status_code == 200
        chat_thread.join(60)
        names = [c.function.name for c in (answered["resp"].choices[0].message.tool_calls or [])]
        assert names == ["get_weather"], names
        # A second agent, named by its proxy credential.
        llm.server.calls_override = [("w1", "get_weather", {"city": "Oslo"})]
        other = chat_client(a, llm.port, proxy_user=f"research:{PASSWORD}")
        for _ in range(3):
            other.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "What is the weather in Oslo?"}])
        # Plain REST actions: allowed notes, refused secrets, and a transfer held for approval
        # that stays held.
        for i in range(5):
            r = requests.post(f"https://localhost:{upstream.port}/v1/notes", json={"n": i}, proxies={"https": a.url},
                              verify=str(a.ca), timeout=30)
            assert r.status_code == 200
        for _ in range(2):
            r = requests.post(f"https://localhost:{upstream.port}/v1/notes", json={"note": "key AKIAIOSFODNN7EXAMPLE"},
                              proxies={"https": a.url}, verify=str(a.ca), timeout=30)
            assert r.status_code == 403 and r.json()["rule"] == "secrets.outbound"

        def transfer():
            held["r"] = requests.post(f"https://localhost:{upstream.port}/v1/transfer", json={"amount": 10},
                                      proxies={"https": a.url}, verify=str(a.ca), timeout=120)
        t = threading.Thread(target=transfer)
        t.start()
        assert wait_for(lambda: len(a.approvals()) == 1)
        metrics = requests.get(f"http://127.0.0.1:{a.admin}/metrics", timeout=10).text
        assert "\naarmor_approvals_pending 1\n" in metrics, "the held transfer is counted"
    finally:
        llm.close()

    receipts = a.receipts()
    decisions = [r for r in receipts if r["kind"] == "decision"]
    denied_rules = {r["decision"]["rule"] for r in decisions if r["decision"]["result"] == "DENY"}
    assert denied_rules, "the traffic produced a denial"
    weather = next(r for r in decisions if r["action"]["tool"] == "get_weather" and r["action"]["identity"].get("agent") == "local")
    session = weather["context"]["session"]
    assert session
    assert "secrets.outbound" in denied_rules
    assert wait_for(lambda: b"aarmor" in bytes(collector.received)), "the connected sink receives events"

    shots = os.environ.get("AARMOR_CONSOLE_SHOTS")
    try:
        with console_page(a.admin, a.token, {"width": 1280, "height": 1000}) as page:

            # The overview is the home view.
            overview = page.locator("#overview")
            expect(overview).to_be_visible()
            expect(page.locator("#chain-status")).to_contain_text("intact", timeout=15000)
            n_decisions = len(decisions)
            allow = sum(1 for r in decisions if r["decision"]["result"] == "ALLOW")
            deny = sum(1 for r in decisions if r["decision"]["result"] == "DENY")
            expect(page.locator('#totals dd[data-decision="ALLOW"]')).to_have_text(str(allow))
            expect(page.locator('#totals dd[data-decision="DENY"]')).to_have_text(str(deny))
            # The chart draws every decision: its bars add up to the receipts' decisions.
            bars = page.locator("#chart-decisions svg rect.bar")
            expect(bars.first).to_be_visible()
            drawn = sum(int(b.get_attribute("data-count")) for b in bars.all())
            assert drawn == n_decisions, (drawn, n_decisions)
            assert page.locator('#chart-decisions svg rect.bar[data-decision="DENY"]').count() >= 1
            # Top rules and agents, by name.
            rules = page.locator("#chart-rules svg g.row")
            rule_names = [g.get_attribute("data-name") for g in rules.all()]
            assert denied_rules & set(rule_names), (denied_rules, rule_names)
            assert "ops.transfer_approval" in rule_names
            agents = {g.get_attribute("data-name"): int(g.get_attribute("data-count"))
                      for g in page.locator("#chart-agents svg g.row").all()}
            assert agents.get("research-bot", 0) >= 3 and agents.get("local", 0) >= 6, agents
            # The held transfer, the drift histogram, the SIEM sinks.
            expect(page.locator("#held-count")).to_have_text("1")
            expect(page.locator("#held-list")).to_contain_text("ops.transfer_approval")
            buckets = page.locator("#chart-drift svg rect.bucket")
            expect(buckets).to_have_count(10)
            with_drift = sum(int(b.get_attribute("data-count")) for b in buckets.all())
            unknown = int(page.locator("#chart-drift svg .drift-unknown").get_attribute("data-count"))
            assert with_drift + unknown == n_decisions
            assert with_drift >= 1, "the held transfer's rule required drift"
            expect(page.locator('#sinks-table tr[data-sink="siem"]')).to_contain_text("connected")
            expect(page.locator('#sinks-table tr[data-sink="backup"]')).to_contain_text("down")
            expect(page.locator('#sinks-table tr[data-sink="backup"]')).to_contain_text("bytes on disk", timeout=15000)
            if shots:
                page.screenshot(path=os.path.join(shots, "console-overview.png"), full_page=True)

            # Sessions: find the conversation, open its timeline.
            page.get_by_role("button", name="Sessions").click()
            page.get_by_label("Search sessions").fill(session)
            page.get_by_role("button", name="Find").click()
            row = page.locator("#sessions-table tbody tr")
            expect(row).to_have_count(1)
            expect(row).to_contain_text("local")
            row.get_by_role("button", name=session).click()
            timeline = page.locator("#timeline-list")
            user = timeline.locator('li[data-kind="user_message"]')
            expect(user.first).to_contain_text("Look up customer 88")
            expect(user.first).to_contain_text("original request")
            output = timeline.locator('li[data-kind="tool_result"]')
            expect(output.first).to_contain_text("Dana Smith")
            expect(output.first.locator(".badge").nth(1)).not_to_have_text("")
            actions = timeline.locator('li[data-kind="action"]')
            expect(actions.filter(has_text="get_weather").first).to_contain_text("ALLOW")
            held_action = actions.filter(has_text="delete_repo").first
            expect(held_action).to_contain_text("STEP_UP")
            expect(held_action.locator(".receipt-line").first).to_contain_text("rct_")
            resolution = timeline.locator('li[data-kind="resolution"]').first
            expect(resolution).to_contain_text("DENY")
            expect(resolution.locator(".receipt-line").first).to_contain_text("approval denied by oncall")
            page.get_by_role("button", name="Check chain").click()
            expect(page.locator("#timeline-verify-result")).to_contain_text("intact", timeout=15000)
            if shots:
                page.screenshot(path=os.path.join(shots, "console-session.png"))
            # A receipt link opens the receipt in the receipts view.
            rid = held_action.locator(".receipt-line button.link").first.text_content()
            held_action.locator(".receipt-line button.link").first.click()
            expect(page.locator("#receipts")).to_be_visible()
            expect(page.locator("#receipts-table tbody tr")).to_have_count(1)
            expect(page.locator("#receipts-table tbody tr")).to_contain_text(rid)
    finally:
        for ap in a.approvals():
            a.answer(ap["id"], approve=False)
        t.join(30)
        collector.close()
    assert held["r"].status_code == 403


def test_the_operator_views_need_a_sign_in_and_an_operator(start_aarmor):
    tokens = {"olga": "tok-olga-1", "ana": "tok-ana-2"}
    approvers = "".join(f'[[approvals.approvers]]\nname = "{n}"\ntoken_sha256 = "{hashlib.sha256(t.encode()).hexdigest()}"\n'
                        for n, t in tokens.items())
    a = start_aarmor(extra_approvals='operators = ["olga"]\n' + approvers)
    base = f"http://127.0.0.1:{a.admin}/console/api"
    views = ["/overview", "/sessions", "/sessions/x", "/sessions/x/verify"]
    for path in views:
        r = requests.get(base + path, timeout=10)
        assert r.status_code == 401, (path, r.status_code)

    def signed_in(token):
        s = requests.Session()
        r = s.post(base + "/login", json={"token": token}, timeout=10)
        assert r.status_code == 200
        return s, r.json()

    # An approver not named in [approvals] operators answers approvals and reads receipts, but
    # sees no session's content.
    ana, who = signed_in(tokens["ana"])
    assert who["operations"] is False
    for path in views:
        r = ana.get(base + path, timeout=10)
        assert r.status_code == 403 and "[approvals] operators" in r.json()["error"], (path, r.status_code)
    assert ana.get(base + "/receipts", timeout=10).status_code == 200
    # One named there, and the operator token, see them.
    for token in [tokens["olga"], a.token]:
        s, who = signed_in(token)
        assert who["operations"] is True
        assert s.get(base + "/sessions/no-such-session", timeout=10).status_code == 404
        o = s.get(base + "/overview", timeout=10).json()
        assert o["window_minutes"] == 60 and len(o["per_minute"]) == 60 and o["chain"]["ok"] is True
        assert o["charts"]["decisions"].startswith("<svg")


def test_an_approver_without_the_operator_views_does_not_see_their_tabs(start_aarmor):
    from playwright.sync_api import expect

    token = "tok-ana-2"
    a = start_aarmor(extra_approvals=f'[[approvals.approvers]]\nname = "ana"\ntoken_sha256 = "{hashlib.sha256(token.encode()).hexdigest()}"\n')
    with console_page(a.admin, token) as page:
        expect(page.locator("#queue")).to_be_visible()
        expect(page.locator("#tab-overview")).to_be_hidden()
        expect(page.locator("#tab-sessions")).to_be_hidden()
        expect(page.locator("#overview")).to_be_hidden()
