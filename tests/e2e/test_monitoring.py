"""Monitoring: deploy/prometheus/aarmor-rules.yml passes `promtool check rules`
and its unit tests (`promtool test rules`), the Grafana dashboard deploy/grafana/aarmor.json is
well formed, and every metric the dashboard and the rules query is exported by live appliances
after real traffic through the proxy. A real Prometheus then scrapes those appliances, loads the
rules and evaluates every dashboard query. Loopback only.

promtool and prometheus come from the Debian package `prometheus`. Without them these tests are
skipped, except in CI (CI=true), where they fail."""
import json
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests
import yaml

from conftest import Aarmor, free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "aarmor-rules.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "aarmor-rules.test.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "aarmor.json"

# Series the dashboard and the rules query that no appliance exports, with the reason.
NOT_EXPORTED_BY_AARMOR = {
    "up": "written by Prometheus for every scrape target (AarmorDown, AarmorTargetMissing, the 'Scrape target up' panel)",
}

# Appliance A: allow, deny and modify decisions.
POLICY = """package aarmor.policy

decisions contains d if {
    input.action.target.path == "/v1/deny"
    d := {"decision": "deny", "class": "forbidden", "priority": 900, "rule": "test.deny", "reason": "denied for the test"}
}

decisions contains d if {
    input.action.target.path == "/v1/modify"
    d := {"decision": "modify", "class": "context_allow", "priority": 500, "rule": "test.modify", "reason": "capped",
          "modify": {"patch": {"limit": 10}}}
}
"""

# Appliance B: a rule that needs intent.drift, so the engine waits for the embedding model, and a
# decision deadline of 1 ms that this wait cannot meet: the action is refused fail-closed and
# counted in aarmor_mediation_failures_total{kind="engine_timeout"}.
DRIFT_POLICY = """package aarmor.policy

decisions contains d if {
    input.action.target.path == "/v1/drift"
    not input.intent.drift <= 2
    d := {"decision": "deny", "class": "context_deny", "priority": 500, "rule": "test.drift",
          "reason": "drift not known", "requires": ["intent.drift"]}
}
"""


def need(tool):
    path = shutil.which(tool)
    if path:
        return path
    reason = f"{tool} is not installed (Debian package prometheus)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


# ---------------------------------------------------------------------------------------------
# PromQL expressions of the dashboard and the rules, and the metric names they read.

PROMQL_WORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "offset",
                "bool", "inf", "nan", "start", "end"}


def metric_names(expr):
    """Metric names an expression selects: string literals, label matchers, ranges and grouping
    clauses removed, then every identifier that is not a function call or a keyword."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    e = re.sub(r"\{[^{}]*\}", " ", e)
    e = re.sub(r"\[[^\[\]]*\]", " ", e)
    e = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", " ", e)
    names = set()
    for m in re.finditer(r"(?<![\w.$])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?", e):
        word, call = m.group(1), m.group(2)
        if call or word.lower() in PROMQL_WORDS:
            continue
        names.add(word)
    return names


def walk_panels(panels):
    for p in panels:
        yield p
        yield from walk_panels(p.get("panels", []))


def dashboard():
    return json.loads(DASHBOARD.read_text())


def dashboard_exprs():
    """(panel title, expression) of every query, the template variables' included."""
    d = dashboard()
    out = [(p.get("title", ""), t["expr"]) for p in walk_panels(d["panels"]) for t in p.get("targets", []) if t.get("expr")]
    for v in d["templating"]["list"]:
        if v["type"] == "query":
            q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
            m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", q.strip())
            assert m, f"variable {v['name']}: expected label_values(selector, label), got {q}"
            out.append((f"variable {v['name']}", m.group(1)))
    return out


def rules():
    return [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]


def grafana_to_promql(expr):
    """A dashboard query as Prometheus evaluates it, Grafana's variables replaced."""
    for var, value in (("$__rate_interval", "1m"), ("$__range", "1h"), ("$__interval", "15s"),
                       ("$job", ".+"), ("$instance", ".+")):
        expr = expr.replace(var, value)
    assert "$" not in expr, expr
    return expr


def test_metric_names_extraction():
    """The extraction the export check below relies on."""
    assert metric_names('histogram_quantile(0.99, sum by (job, le) (rate(aarmor_decision_duration_seconds_bucket{job=~"$job"}[5m])))') == {
        "aarmor_decision_duration_seconds_bucket"}
    assert metric_names("aarmor_store_used_bytes / (aarmor_store_limit_bytes > 0) > 0.8") == {
        "aarmor_store_used_bytes", "aarmor_store_limit_bytes"}
    assert metric_names('a_lag > 0 and resets(a_lag[3h]) == 0 and (a_lag offset 3h) >= 0') == {"a_lag"}
    assert metric_names('x and on (job, instance, sink) sum by (sink) (increase(y[15m])) > 0') == {"x", "y"}
    assert metric_names('sum(increase(z{a="b{c}"}[$__range])) or vector(0)') == {"z"}
    assert metric_names("absent(up{job=\"aarmor\"})") == {"up"}
    assert metric_names("aarmor:store_used:ratio > 1e3") == {"aarmor:store_used:ratio"}


# ---------------------------------------------------------------------------------------------
# promtool

def test_promtool_check_rules():
    promtool = need("promtool")
    r = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout, r.stdout


def test_promtool_rule_unit_tests():
    promtool = need("promtool")
    r = subprocess.run([promtool, "test", "rules", RULE_TESTS.name], cwd=RULE_TESTS.parent, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout, r.stdout


def test_every_alert_is_unit_tested_firing_and_silent():
    """Each alert has a unit test where it fires and one where it must not."""
    alerts = {r["alert"] for r in rules() if "alert" in r}
    cases = [c for t in yaml.safe_load(RULE_TESTS.read_text())["tests"] for c in t.get("alert_rule_test", [])]
    fires = {c["alertname"] for c in cases if c.get("exp_alerts")}
    silent = {c["alertname"] for c in cases if not c.get("exp_alerts")}
    assert alerts - fires == set(), "alerts never made to fire"
    assert alerts - silent - {"AarmorTargetMissing"} == set(), "alerts never checked silent"
    assert "AarmorTargetMissing" in silent


def test_alerts_say_what_to_do():
    for r in rules():
        if "alert" not in r:
            continue
        a = r.get("annotations", {})
        assert a.get("summary") and a.get("description") and a.get("runbook"), r["alert"]
        assert r.get("labels", {}).get("severity") in {"warning", "critical"}, r["alert"]


# ---------------------------------------------------------------------------------------------
# The dashboard

def test_dashboard_is_importable():
    d = dashboard()
    assert d["schemaVersion"] >= 36 and d["uid"] and d["title"]
    assert d.get("id") is None, "an exported dashboard carries no database id"
    variables = {v["name"]: v for v in d["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    assert {"job", "instance"} <= set(variables)
    panels = list(walk_panels(d["panels"]))
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    for p in panels:
        if p["type"] == "row":
            continue
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
        assert p.get("targets"), p["title"]
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24, p["title"]
        for t in p["targets"]:
            assert t["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]
            assert 'job=~"$job"' in t["expr"] and 'instance=~"$instance"' in t["expr"], (p["title"], t["expr"])


# ---------------------------------------------------------------------------------------------
# Live appliances

def scrape(a):
    return requests.get(f"http://127.0.0.1:{a.admin}/metrics", timeout=5).text


def sample_names(text):
    """Names of the samples in a Prometheus text exposition (histograms: _bucket, _sum, _count)."""
    return {re.match(r"[A-Za-z_:][A-Za-z0-9_:]*", line).group(0)
            for line in text.splitlines() if line and not line.startswith("#")}


def value(text, series):
    """Sum of the samples whose line starts with `series`."""
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(series))


def raw(a, data):
    with socket.create_connection(("127.0.0.1", a.port), timeout=5) as s:
        s.sendall(data)
        return s.recv(65536)


def refuse_fail_closed(b, upstream):
    """Sends B actions that need intent.drift (a text the model has not seen each time) until one
    is refused because no decision came within 1 ms; at most 5."""
    for i in range(5):
        r = requests.post(f"https://localhost:{upstream.port}/v1/drift", json={"name": f"item {i} {time.time()}"},
                          proxies={"https": b.url}, verify=str(b.ca), timeout=20)
        if r.status_code == 403 and "no decision within 1 ms" in r.text:
            return True
    return False


@pytest.fixture(scope="module")
def appliances(tmp_path_factory, pki, upstream):
    """Two appliances after real traffic: A (allow, deny, modify decisions, an unreachable upstream,
    a request that is not a proxy request, a SIEM sink that is down) and B (a fail-closed
    refusal). Returns (A, B)."""
    d = tmp_path_factory.mktemp("monitoring")
    started = []
    try:
        (d / "a").mkdir()
        sink = free_port()  # nothing listens there: the sink is down and events are spilled
        a = Aarmor(d / "a", pki["ca"], policy=POLICY,
                   extra=f'[telemetry]\nretry_initial_ms = 100\nretry_max_ms = 500\n'
                         f'[[telemetry.sinks]]\nname = "siem"\nurl = "tcp://127.0.0.1:{sink}"\n')
        started.append(a)
        (d / "b").mkdir()
        b = Aarmor(d / "b", pki["ca"], policy=DRIFT_POLICY, extra="[mediation]\ndecision_timeout_ms = 1\n")
        started.append(b)

        s = requests.Session()

        def post(x, path, **body):
            return s.post(f"https://localhost:{upstream.port}{path}", json={"limit": 500, **body},
                          proxies={"https": x.url}, verify=str(x.ca), timeout=20)

        assert post(a, "/v1/allow").status_code == 200
        assert post(a, "/v1/deny").status_code == 403
        assert post(a, "/v1/modify").status_code == 200
        unreachable = requests.get(f"https://localhost:{free_port()}/", proxies={"https": a.url}, verify=str(a.ca), timeout=20)
        assert unreachable.status_code == 502, unreachable.text
        assert raw(a, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 400")
        assert wait_for(lambda: value(scrape(a), 'aarmor_telemetry_spilled_total{sink="siem"}') >= 3, 10), scrape(a)
        # Retention measures the stores every check_interval_ms, the first time at start.
        assert wait_for(lambda: "aarmor_store_used_bytes{" in scrape(a), 15), scrape(a)

        # B: a conversation gives the session its original request; the action that follows
        # needs intent.drift, which the model cannot give within 1 ms.
        chat = post(b, "/v1/chat/completions", model="gpt-test",
                    messages=[{"role": "user", "content": "Create an inventory item named blue widget."}])
        assert chat.status_code == 200, chat.text
        assert refuse_fail_closed(b, upstream), b.logs()[-3000:]
        assert 'aarmor_mediation_failures_total{kind="engine_timeout"}' in scrape(b)
        yield a, b
    finally:
        for x in started:
            x.stop()


def test_every_queried_metric_is_exported(appliances):
    exported = set().union(*(sample_names(scrape(x)) for x in appliances))
    recorded = {r["record"] for r in rules() if "record" in r}
    referenced = {}
    for where, expr in dashboard_exprs() + [(r.get("alert") or r["record"], r["expr"]) for r in rules()]:
        for name in metric_names(expr):
            referenced.setdefault(name, []).append(where)
    assert len(referenced) > 30, sorted(referenced)
    # Recording rules' outputs (level:metric:operation) come from Prometheus, not the appliance.
    for name in [n for n in referenced if ":" in n]:
        assert name in recorded, f"{name} (used by {referenced[name]}) is not recorded by {RULES.name}"
        del referenced[name]
    for name, reason in NOT_EXPORTED_BY_AARMOR.items():
        assert name in referenced, f"{name} is in the allow-list but nothing queries it"
        assert name not in exported, f"{name} is exported after all ({reason})"
    missing = {n: w for n, w in referenced.items() if n not in exported and n not in NOT_EXPORTED_BY_AARMOR}
    assert not missing, f"queried but not exported by the appliance: {missing}"


def test_prometheus_evaluates_rules_and_dashboard(appliances, upstream, tmp_path):
    """A real Prometheus scrapes both appliances with the rules loaded: every rule evaluates
    without error, real fail-closed refusals and a real SIEM outage make their alerts pending,
    every dashboard query is valid PromQL and the main panels have data."""
    prometheus = need("prometheus")
    port = free_port()
    targets = ", ".join(f'"127.0.0.1:{x.admin}"' for x in appliances)
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"rule_files: [\"{RULES}\"]\n"
        f"scrape_configs:\n  - job_name: aarmor\n    static_configs:\n      - targets: [{targets}]\n")
    log = open(tmp_path / "prometheus.log", "w")
    proc = subprocess.Popen([prometheus, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                             f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT)
    api = f"http://127.0.0.1:{port}/api/v1"

    def query(q):
        r = requests.get(f"{api}/query", params={"query": q}, timeout=10)
        body = r.json()
        assert r.status_code == 200 and body["status"] == "success", (q, body)
        return body["data"]["result"]

    def ready():
        try:
            return requests.get(f"http://127.0.0.1:{port}/-/ready", timeout=1).status_code == 200
        except requests.RequestException:
            return proc.poll() is not None

    try:
        assert wait_for(ready, 30) and proc.poll() is None, (tmp_path / "prometheus.log").read_text()
        # Both targets up, scraped a few times (rate() needs two samples).
        assert wait_for(lambda: len(query('count_over_time(up{job="aarmor"}[1m]) >= 3 and up == 1')) == 2, 30), query("up")

        def all_rules_evaluated():
            groups = requests.get(f"{api}/rules", timeout=10).json()["data"]["groups"]
            rs = [r for g in groups for r in g["rules"]]
            return len(rs) == len(rules()) and all(not r["lastEvaluation"].startswith("0001") for r in rs) and rs

        evaluated = wait_for(all_rules_evaluated, 20)
        assert evaluated, requests.get(f"{api}/rules", timeout=10).text
        unhealthy = [(r["name"], r.get("lastError")) for r in evaluated if r["health"] != "ok"]
        assert not unhealthy, unhealthy

        # Events while Prometheus watches: a fail-closed refusal on B, a decision on A whose
        # event goes to the spill file of its unreachable sink. The matching alerts become
        # pending (their `for` is minutes long), and no other alert does.
        a, b = appliances
        assert refuse_fail_closed(b, upstream)
        r = requests.post(f"https://localhost:{upstream.port}/v1/allow", json={"n": 1}, proxies={"https": a.url},
                          verify=str(a.ca), timeout=20)
        assert r.status_code == 200, r.text
        expected = {("AarmorFailClosedDenials", f"127.0.0.1:{b.admin}"), ("AarmorFailClosedDenialsHigh", f"127.0.0.1:{b.admin}"),
                    ("AarmorSiemSinkDown", f"127.0.0.1:{a.admin}"), ("AarmorSiemSpillGrowing", f"127.0.0.1:{a.admin}")}

        def active():
            return {(x["labels"]["alertname"], x["labels"].get("instance")) for x in
                    requests.get(f"{api}/alerts", timeout=10).json()["data"]["alerts"] if x["state"] in ("pending", "firing")}

        assert wait_for(lambda: active() >= expected, 20), active()
        assert active() == expected, active()

        results = {}
        for title, expr in dashboard_exprs():
            results.setdefault(title, []).append(query(grafana_to_promql(expr)))
        for title in ["Decisions / s by decision", "Fail-closed refusals / s", "Decision latency", "Requests / s by connection mode",
                      "Upstream errors / s", "Client errors / s", "Spill file size", "Store fill", "Archive lag",
                      "Sinks connected", "variable job", "variable instance"]:
            assert any(results[title]), f"panel {title!r} has no data"
        assert {s["metric"]["decision"] for s in results["Decisions / s by decision"][0]} == {"allow", "deny", "modify"}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()
