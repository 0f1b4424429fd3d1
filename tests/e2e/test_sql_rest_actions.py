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


def sql_rules(port):
    return f"""
[mediation]
sql_endpoints = [{{ host = "127.0.0.1", port = {port}, dialect = "clickhouse", tool = "warehouse" }}]
rules = [
  {{ name = "no-ddl-drops", protocol = "sql", operation = "drop", decision = "deny", reason = "dropping tables is not allowed" }},
  {{ name = "no-unparsed-sql", protocol = "sql", operation = "unparsed", decision = "deny", reason = "SQL that does not parse is refused" }},
]
"""


def test_clickhouse_through_aarmor(start_aarmor, clickhouse):
    a = start_aarmor(extra=sql_rules(clickhouse["port"]))
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
    assert problem["rule"] == "no-ddl-drops" and problem["reason"] == "dropping tables is not allowed"
    assert problem["tool"] == "warehouse" and problem["operation"] == "drop"
    # The table is still there: the DROP never reached ClickHouse.
    assert requests.get(url, params={"query": "SELECT count() FROM agent_notes"}, timeout=10).text.strip() == "3"

    # A DROP hidden after a harmless statement is still a DROP.
    r = requests.get(url, params={"query": "SELECT 1; DROP TABLE agent_notes"}, proxies=proxies, timeout=10)
    assert r.status_code == 403 and r.json()["rule"] == "no-ddl-drops"

    r = requests.post(url, data="SELEC * FROMM agent_notes", proxies=proxies, timeout=10)
    assert r.status_code == 403 and r.json()["operation"] == "unparsed"
    assert requests.get(url, params={"query": "EXISTS TABLE agent_notes"}, timeout=10).text.strip() == "1"


REST_RULES = """
[mediation]
routes = [{ host = "localhost", path = "/admin/**", tool = "admin-api" }]
rules = [
  { name = "no-admin", tool = "admin-api", decision = "deny", reason = "the admin API is off limits" },
  { name = "tag-tickets", tool = "localhost/tickets/{id}", operation = "put", decision = "modify", set_parameters = { body = { status = "review" } } },
  { name = "approve-payments", tool = "localhost/payments", decision = "hold", hold_ms = 200, then = "deny", reason = "payment not approved" },
]
"""


def test_rest_actions_denied_and_modified(start_aarmor, upstream):
    a = start_aarmor(extra=REST_RULES)
    base = f"https://localhost:{upstream.port}"
    kw = dict(proxies={"https": a.url}, verify=str(a.ca), timeout=10)
    r = requests.delete(f"{base}/admin/users/42", **kw)
    assert r.status_code == 403
    assert r.json()["rule"] == "no-admin" and r.json()["tool"] == "admin-api"
    assert not any(x["path"].startswith("/admin") for x in upstream.seen)
    r = requests.put(f"{base}/tickets/17", json={"status": "closed"}, **kw)
    assert r.status_code == 200
    sent = [x for x in upstream.seen if x["path"] == "/tickets/17"][-1]
    assert json.loads(sent["body"]) == {"status": "review"}, "the upstream received the modified body"
    r = requests.post(f"{base}/echo", json={"x": 1}, **kw)
    assert r.status_code == 200 and r.json()["len"] == len(b'{"x": 1}')


def test_held_request_is_parked_then_decided(start_aarmor, upstream):
    a = start_aarmor(extra=REST_RULES)
    r = requests.post(f"https://localhost:{upstream.port}/payments", json={"amount": 100}, proxies={"https": a.url}, verify=str(a.ca), timeout=10)
    assert r.status_code == 403 and r.json()["rule"] == "approve-payments"
    assert r.json()["reason"] == "payment not approved"
    assert not any(x["path"] == "/payments" for x in upstream.seen)
