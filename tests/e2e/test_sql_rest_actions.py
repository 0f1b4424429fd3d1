"""Requests that execute actions: SQL to a real ClickHouse server over its HTTP interface, and
REST calls. Denied requests get a 403 problem+json naming rule and reason, and no byte of them
reaches the upstream."""
import json
import shutil
import socket
import subprocess
import time

import pytest
import requests

from conftest import free_port

CH_CONFIG = """<?xml version="1.0"?>
<yandex>
    <logger><level>warning</level><console>1</console></logger>
    <http_port>{http}</http_port>
    <tcp_port>{tcp}</tcp_port>
    <listen_host>127.0.0.1</listen_host>
    <path>{d}/data/</path>
    <tmp_path>{d}/tmp/</tmp_path>
    <user_files_path>{d}/user_files/</user_files_path>
    <format_schema_path>{d}/format_schemas/</format_schema_path>
    <users_config>{d}/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <mark_cache_size>1073741824</mark_cache_size>
</yandex>
"""
CH_USERS = """<?xml version="1.0"?>
<yandex>
    <profiles><default></default></profiles>
    <users><default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>
    <quotas><default></default></quotas>
</yandex>
"""


@pytest.fixture(scope="module")
def clickhouse(tmp_path_factory):
    binary = shutil.which("clickhouse-server")
    if not binary:
        pytest.skip("clickhouse-server is not installed (tests/install-deps.sh installs it)")
    d = tmp_path_factory.mktemp("clickhouse")
    http, tcp = free_port(), free_port()
    (d / "config.xml").write_text(CH_CONFIG.format(http=http, tcp=tcp, d=d))
    (d / "users.xml").write_text(CH_USERS)
    log = open(d / "server.log", "w")
    proc = subprocess.Popen([binary, f"--config-file={d / 'config.xml'}"], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline:
        assert proc.poll() is None, (d / "server.log").read_text()
        try:
            if requests.get(f"http://127.0.0.1:{http}/?query=SELECT%201", timeout=1).text.strip() == "1":
                break
        except requests.RequestException:
            time.sleep(0.2)
    else:
        raise AssertionError("clickhouse-server did not start")
    yield {"port": http, "url": f"http://127.0.0.1:{http}/"}
    proc.terminate()
    proc.wait(timeout=20)
    log.close()


def sql_endpoint(port):
    return f"""
[mediation]
sql_endpoints = [{{ host = "127.0.0.1", port = {port}, dialect = "clickhouse", tool = "warehouse" }}]
"""


def test_clickhouse_through_aarmor(start_aarmor, clickhouse):
    # The default policy pack decides.
    a = start_aarmor(extra=sql_endpoint(clickhouse["port"]))
    proxies = {"http": a.url}
    url = clickhouse["url"]
    ok = lambda r: (r.status_code == 200, r.text)
    assert ok(requests.post(url, data="CREATE TABLE agent_notes (id UInt32, note String) ENGINE = Memory", proxies=proxies, timeout=10))[0]
    assert ok(requests.post(url, data="INSERT INTO agent_notes VALUES (1, 'a'), (2, 'b')", proxies=proxies, timeout=10))[0]
    r = requests.post(url, params={"query": "INSERT INTO agent_notes FORMAT TabSeparated"}, data="3\tc\n", proxies=proxies, timeout=10)
    assert r.status_code == 200, r.text
    r = requests.get(url, params={"query": "SELECT count() FROM agent_notes"}, proxies=proxies, timeout=10)
    assert (r.status_code, r.text.strip()) == (200, "3")

    r = requests.post(url, data="DROP TABLE agent_notes", proxies=proxies, timeout=10)
    assert r.status_code == 403
    problem = r.json()
    assert r.headers["content-type"] == "application/problem+json"
    assert problem["rule"] == "sql.destructive_ddl" and problem["reason"] == "DROP statements are forbidden"
    assert problem["tool"] == "warehouse" and problem["operation"] == "drop"
    # The table is still there: the DROP never reached ClickHouse.
    assert requests.get(url, params={"query": "SELECT count() FROM agent_notes"}, timeout=10).text.strip() == "3"

    # A DROP hidden after a harmless statement is still a DROP.
    r = requests.get(url, params={"query": "SELECT 1; DROP TABLE agent_notes"}, proxies=proxies, timeout=10)
    assert r.status_code == 403 and r.json()["rule"] == "sql.destructive_ddl"

    r = requests.post(url, data="SELEC * FROMM agent_notes", proxies=proxies, timeout=10)
    assert r.status_code == 403 and r.json()["operation"] == "unparsed"
    assert r.json()["rule"] == "sql.unparsed_on_write_endpoint"
    assert requests.get(url, params={"query": "EXISTS TABLE agent_notes"}, timeout=10).text.strip() == "1"

    # Every decision left a signed receipt; the DROP's says DENY, by which rule and policy.
    receipts = a.receipts()
    drop = next(x for x in receipts if x["action"]["parameters"].get("sql") == "DROP TABLE agent_notes")
    assert drop["decision"]["result"] == "DENY" and drop["decision"]["rule"] == "sql.destructive_ddl"
    assert drop["decision"]["policy"]["policy_id"] == "aarmor-default"
    assert drop["signature"]["algorithm"] == "Ed25519"
    assert [x["seq"] for x in receipts] == list(range(1, len(receipts) + 1))
    verified = a.cli("receipts", "verify", "--public-keys", str(a.data / "keys" / "public-keys.json"))
    assert verified.returncode == 0 and verified.stdout.startswith("OK"), verified.stdout + verified.stderr


REST_ROUTES = """
[mediation]
routes = [{ host = "localhost", path = "/admin/**", tool = "admin-api" }]
"""
REST_POLICY = """package aarmor.policy

decisions contains d if {
    input.action.tool == "admin-api"
    d := {"decision": "deny", "class": "forbidden", "priority": 1000, "rule": "no-admin",
          "reason": "the admin API is off limits"}
}

decisions contains d if {
    input.action.tool == "localhost/tickets/{id}"
    input.action.operation == "put"
    d := {"decision": "modify", "class": "context_allow", "priority": 100, "rule": "tag-tickets",
          "reason": "tickets go to review", "modify": {"patch": {"body": {"status": "review"}}}}
}

decisions contains d if {
    input.action.tool == "localhost/payments"
    d := {"decision": "step_up", "class": "context_allow", "priority": 100, "rule": "approve-payments",
          "reason": "payments need approval", "timeout": 0.3}
}
"""


def test_rest_actions_denied_and_modified(start_aarmor, upstream):
    a = start_aarmor(extra=REST_ROUTES, policy=REST_POLICY)
    base = f"https://localhost:{upstream.port}"
    kw = dict(proxies={"https": a.url}, verify=str(a.ca), timeout=10)
    r = requests.delete(f"{base}/admin/users/42", **kw)
    assert r.status_code == 403
    assert r.json()["rule"] == "no-admin" and r.json()["tool"] == "admin-api"
    assert not any(x["path"] == "/admin/users/42" for x in upstream.seen)
    r = requests.put(f"{base}/tickets/17", json={"status": "closed"}, **kw)
    assert r.status_code == 200
    sent = [x for x in upstream.seen if x["path"] == "/tickets/17"][-1]
    assert json.loads(sent["body"]) == {"status": "review"}, "the upstream received the modified body"
    r = requests.post(f"{base}/echo", json={"x": 1}, **kw)
    assert r.status_code == 200 and r.json()["len"] == len(b'{"x": 1}')

    # Each action that ran has an outcome receipt: upstream status and the hash of what came back.
    import hashlib
    import time
    want = "sha256:" + hashlib.sha256(r.content).hexdigest()
    deadline = time.time() + 10
    outcome = None
    while time.time() < deadline and outcome is None:
        outcome = next((x for x in a.receipts() if x["kind"] == "outcome" and x["execution"]["output_hash"] == want), None)
        time.sleep(0.1)
    assert outcome, "no outcome receipt for the POST"
    assert outcome["execution"]["status"] == 200 and outcome["execution"]["success"] is True
    decision = next(x for x in a.receipts() if x["receipt_id"] == outcome["follows"])
    assert decision["kind"] == "decision" and decision["action"]["action_id"] == outcome["action"]["action_id"]
    assert not any(x["kind"] == "outcome" and x["action"]["tool"] == "admin-api" for x in a.receipts()), "denied actions never ran"


def test_held_request_is_parked_then_decided(start_aarmor, upstream):
    a = start_aarmor(extra=REST_ROUTES, policy=REST_POLICY)
    r = requests.post(f"https://localhost:{upstream.port}/payments", json={"amount": 100}, proxies={"https": a.url}, verify=str(a.ca), timeout=10)
    assert r.status_code == 403 and r.json()["rule"] == "approve-payments"
    assert "not given within" in r.json()["reason"]
    assert not any(x["path"] == "/payments" for x in upstream.seen)


def test_encoded_and_text_bodies_are_judged_as_the_upstream_reads_them(start_aarmor, upstream):
    """The default pack's secrets rule sees a key in a gzip-compressed JSON body and in a
    text/plain body; an allowed compressed body reaches the upstream decoded; a body in a coding
    aarmor cannot decode is refused, not forwarded unseen."""
    import gzip
    import zlib

    a = start_aarmor()
    url = f"https://localhost:{upstream.port}/v1/notes"
    kw = dict(proxies={"https": a.url}, verify=str(a.ca), timeout=15)
    secret = json.dumps({"note": {"text": "creds AKIAIOSFODNN7EXAMPLE ok"}}).encode()
    for headers, body in (
        ({"content-type": "application/json", "content-encoding": "gzip"}, gzip.compress(secret)),
        ({"content-type": "application/json", "content-encoding": "deflate"}, zlib.compress(secret)),
        ({"content-type": "text/plain"}, b"here are the creds: AKIAIOSFODNN7EXAMPLE"),
    ):
        r = requests.post(url, data=body, headers=headers, **kw)
        assert r.status_code == 403 and r.json()["rule"] == "secrets.outbound", (headers, r.text)
    benign = json.dumps({"note": {"text": "the weekly report is ready"}}).encode()
    r = requests.post(url, data=gzip.compress(benign), headers={"content-type": "application/json", "content-encoding": "gzip"}, **kw)
    assert r.status_code == 200 and r.json()["len"] == len(benign), r.text
    sent = [x for x in upstream.seen if x["path"] == "/v1/notes"][-1]
    assert sent["body"] == benign
    assert "content-encoding" not in {k.lower() for k in sent["headers"]}
    r = requests.post(url, data=b"\x1f\x9d\x90...", headers={"content-type": "application/json", "content-encoding": "compress"}, **kw)
    assert r.status_code == 415 and r.json()["type"] == "urn:aarmor:problem:uninspectable-request", r.text
    r = requests.post(url, data=b"not gzip at all", headers={"content-type": "application/json", "content-encoding": "gzip"}, **kw)
    assert r.status_code == 415, r.text
    assert not any(x["body"] in (secret, b"not gzip at all") for x in upstream.seen), "nothing refused reached the upstream"


def test_a_secret_in_a_multipart_upload_field_is_seen(start_aarmor, upstream):
    """A file upload (multipart/form-data, a binary file beside text fields) reaches policy as
    its fields: the default pack's secrets rule sees a key in a text field; a clean upload passes
    whole."""
    a = start_aarmor()
    url = f"https://localhost:{upstream.port}/v1/files"
    kw = dict(proxies={"https": a.url}, verify=str(a.ca), timeout=15)
    png = bytes(range(256)) * 64
    r = requests.post(url, files={"file": ("chart.png", png, "image/png")},
                      data={"comment": "creds AKIAIOSFODNN7EXAMPLE"}, **kw)
    assert r.status_code == 403 and r.json()["rule"] == "secrets.outbound", r.text
    r = requests.post(url, files={"file": ("chart.png", png, "image/png")}, data={"comment": "the chart"}, **kw)
    assert r.status_code == 200, r.text
    sent = [x for x in upstream.seen if x["path"] == "/v1/files"]
    assert len(sent) == 1 and png in sent[0]["body"]


def test_a_form_encoded_payout_is_held_for_approval(start_aarmor, upstream):
    """The default pack reads a form-encoded amount (how Stripe's API takes it) and every value of
    a repeated one: a large payout is held for approval (here, unanswered, it times out to a
    DENY) and never reaches the upstream; a small one goes through."""
    from conftest import ROOT

    data = json.loads((ROOT / "policies" / "data.json").read_text())
    data["aarmor"]["config"]["payments"]["timeout_s"] = 1
    a = start_aarmor(policy_files={"data.json": json.dumps(data)})
    kw = dict(proxies={"https": a.url}, verify=str(a.ca), timeout=20)
    base = f"https://localhost:{upstream.port}"
    for path, form in (("/v1/payouts", "amount=5000&currency=usd"), ("/v1/payouts?amount=9000&amount=5", "amount=5")):
        r = requests.post(base + path, data=form, headers={"content-type": "application/x-www-form-urlencoded"}, **kw)
        assert r.status_code == 403 and r.json()["rule"] == "payments.large_transfer", r.text
        assert "not given within 1 s" in r.json()["reason"], r.text
    assert not any(x["path"].startswith("/v1/payouts") for x in upstream.seen)
    r = requests.post(f"{base}/v1/payouts", data="amount=20&currency=usd", headers={"content-type": "application/x-www-form-urlencoded"}, **kw)
    assert r.status_code == 200, r.text


def test_a_read_from_a_known_sink_is_refused(start_aarmor, upstream):
    """Reads are actions on the hosts the policies list in read_action_hosts (the default pack:
    its exfiltration sinks): a GET carrying data out in its URL is refused and never leaves.
    Here the sink list names `localhost`; the same upstream by its address is not on it."""
    from conftest import ROOT

    data = json.loads((ROOT / "policies" / "data.json").read_text())
    data["aarmor"]["config"]["exfiltration"]["sink_hosts"]["localhost"] = True
    a = start_aarmor(policy_files={"data.json": json.dumps(data)})
    kw = dict(proxies={"https": a.url}, verify=str(a.ca), timeout=15)
    r = requests.get(f"https://localhost:{upstream.port}/collect?d=c2VjcmV0", **kw)
    assert r.status_code == 403 and r.json()["rule"] == "exfiltration.known_sink", r.text
    assert not any(x["path"].startswith("/collect") for x in upstream.seen)
    r = requests.get(f"https://127.0.0.1:{upstream.port}/collect-elsewhere", **kw)
    assert r.status_code == 200, r.text
    decisions = [x for x in a.receipts() if x["kind"] == "decision" and x["action"]["target"]["path"].startswith("/collect")]
    assert [x["decision"]["result"] for x in decisions] == ["DENY"], decisions
