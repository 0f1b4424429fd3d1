"""SIEM export against a real rsyslog (Debian) on loopback with a UDP, a TCP and a TLS input:
every decision type (DEFER included), the approval and the deferral resolution arrive as OCSF
JSON; rsyslog is stopped mid-run and restarted, and no event is lost on TCP or TLS (spill file)
while the proxy keeps serving."""
import json
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from conftest import free_port, wait_for

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

decisions contains d if {
    input.action.target.path == "/v1/stepup"
    d := {"decision": "step_up", "class": "context_allow", "priority": 500, "rule": "test.step_up", "reason": "needs approval", "timeout": 30}
}

decisions contains d if {
    input.action.target.path == "/v1/defer"
    d := {"decision": "defer", "class": "context_defer", "priority": 500, "rule": "test.defer", "reason": "waits for context", "timeout": 1}
}
"""

RSYSLOG_CONF = """
global(workDirectory="{work}" maxMessageSize="64k"
       defaultNetstreamDriverCAFile="{ca}" defaultNetstreamDriverCertFile="{cert}" defaultNetstreamDriverKeyFile="{key}")
module(load="imudp")
module(load="imtcp")
template(name="msgonly" type="string" string="%msg%\\n")
ruleset(name="udp") {{ action(type="omfile" file="{dir}/udp.log" template="msgonly") }}
ruleset(name="tcp") {{ action(type="omfile" file="{dir}/tcp.log" template="msgonly") }}
ruleset(name="tls") {{ action(type="omfile" file="{dir}/tls.log" template="msgonly") }}
input(type="imudp" address="127.0.0.1" port="{udp}" ruleset="udp")
input(type="imtcp" address="127.0.0.1" port="{tcp}" ruleset="tcp")
input(type="imtcp" address="127.0.0.1" port="{tls}" ruleset="tls"
      streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
"""


class Rsyslog:
    def __init__(self, directory: Path, pki):
        self.dir = directory
        (directory / "work").mkdir()
        self.ports = {"udp": free_port(), "tcp": free_port(), "tls": free_port()}
        cert, key = pki["leaf"]
        self.conf = directory / "rsyslog.conf"
        self.conf.write_text(RSYSLOG_CONF.format(work=directory / "work", ca=pki["ca"], cert=cert, key=key, dir=directory,
                                                 **self.ports))
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(["rsyslogd", "-n", "-f", str(self.conf), "-i", str(self.dir / "rsyslogd.pid")],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.time() + 15
        while time.time() < deadline:
            assert self.proc.poll() is None, self.proc.stdout.read().decode()
            try:
                for p in (self.ports["tcp"], self.ports["tls"]):
                    socket.create_connection(("127.0.0.1", p), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("rsyslogd did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=15)

    def events(self, name):
        path = self.dir / f"{name}.log"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture
def rsyslog(tmp_path, pki):
    if not shutil.which("rsyslogd"):
        pytest.fail("rsyslogd is not installed (tests/install-deps.sh installs it)")
    d = tmp_path / "rsyslog"
    d.mkdir()
    r = Rsyslog(d, pki)
    r.start()
    yield r
    r.stop()


def metric(a, name):
    text = requests.get(f"http://127.0.0.1:{a.admin}/metrics", timeout=5).text
    return sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines() if l.startswith(name))


def test_decisions_reach_rsyslog_and_survive_its_restart(start_aarmor, upstream, rsyslog, pki):
    p = rsyslog.ports
    sinks = "".join(
        f'[[telemetry.sinks]]\nname = "{n}"\nurl = "{u}"\n{extra}\n'
        for n, u, extra in [("udp", f"udp://127.0.0.1:{p['udp']}", ""),
                            ("tcp", f"tcp://127.0.0.1:{p['tcp']}", ""),
                            ("tls", f"tls://127.0.0.1:{p['tls']}", f'ca_file = "{pki["ca"]}"\nserver_name = "localhost"')])
    a = start_aarmor(policy=POLICY, extra=f"[telemetry]\nretry_initial_ms = 100\nretry_max_ms = 500\n{sinks}")
    session = requests.Session()

    def post(path, **body):
        return session.post(f"https://localhost:{upstream.port}{path}", json={"limit": 500, **body},
                            proxies={"https": a.url}, verify=str(a.ca), timeout=40)

    # Every decision type.
    assert post("/v1/allow").status_code == 200
    assert post("/v1/deny").status_code == 403
    assert post("/v1/modify").status_code == 200 and upstream.seen[-1]["body"]
    held = {}
    t = threading.Thread(target=lambda: held.setdefault("r", post("/v1/stepup")))
    t.start()
    assert wait_for(lambda: len(a.approvals()) == 1, 10)
    assert a.answer(a.approvals()[0]["id"], approver="soc-analyst").status_code == 200
    t.join(30)
    assert held["r"].status_code == 200
    assert post("/v1/defer").status_code == 403, "an unresolved deferral ends in DENY"

    def ids(events):
        return {e["metadata"]["uid"] for e in events}

    def expected():
        return {r["receipt_id"] for r in a.receipts() if r["kind"] in ("decision", "resolution")}

    first = expected()
    assert len(first) == 7, "5 decisions + the approval + the deferral resolution"
    for sink in ("udp", "tcp", "tls"):
        assert wait_for(lambda: ids(rsyslog.events(sink)) >= first), (sink, ids(rsyslog.events(sink)), first)
    events = rsyslog.events("tls")
    decisions = {e["unmapped"]["aarm"]["decision"] for e in events}
    assert decisions == {"ALLOW", "DENY", "MODIFY", "STEP_UP", "DEFER"}
    kinds = {e["unmapped"]["aarm"]["event"] for e in events}
    assert kinds == {"decision", "approval", "deferral"}
    denied = next(e for e in events if e["unmapped"]["aarm"]["decision"] == "DENY" and e["unmapped"]["aarm"]["event"] == "decision")
    assert denied["class_uid"] == 2004 and denied["finding_info"]["analytic"]["name"] == "test.deny"
    allowed = next(e for e in events if e["unmapped"]["aarm"]["decision"] == "ALLOW" and e["unmapped"]["aarm"]["event"] == "decision")
    assert allowed["class_uid"] == 6003 and allowed["metadata"]["version"].startswith("1.")
    assert allowed["actor"]["app_name"] == "local" and allowed["api"]["request"]["uid"]
    # Parameters are hashed by default.
    params = allowed["unmapped"]["aarm"]["parameters"]
    assert params and all(v.startswith("sha256:") for v in params.values()) and "500" not in json.dumps(params), params
    approval = next(e for e in events if e["unmapped"]["aarm"]["event"] == "approval")
    assert approval["unmapped"]["aarm"]["approval"]["approver"] == "soc-analyst" and approval["disposition"] == "Approved"

    # The collector goes away: the proxy keeps serving, events are spilled.
    rsyslog.stop()
    for i in range(20):
        assert post("/v1/allow", n=i).status_code == 200
    assert wait_for(lambda: metric(a, 'aarmor_telemetry_spilled_total{sink="tcp"}') >= 1, 10), requests.get(f"http://127.0.0.1:{a.admin}/metrics").text + a.logs()
    assert wait_for(lambda: metric(a, 'aarmor_telemetry_spilled_total{sink="tls"}') >= 1, 10)
    assert metric(a, "aarmor_telemetry_dropped_total") == 0
    # It comes back: the spilled events arrive, then the new ones.
    rsyslog.start()
    for i in range(5):
        assert post("/v1/allow", n=100 + i).status_code == 200
    everything = expected()
    assert len(everything) == 7 + 25
    for sink in ("tcp", "tls"):
        assert wait_for(lambda: ids(rsyslog.events(sink)) >= everything, 30), (sink, everything - ids(rsyslog.events(sink)))
    assert metric(a, "aarmor_telemetry_dropped_total") == 0
    assert wait_for(lambda: metric(a, "aarmor_telemetry_spill_bytes") == 0, 10)
    # UDP is best effort: what was sent while rsyslog was up arrived.
    udp = ids(rsyslog.events("udp"))
    assert first <= udp
