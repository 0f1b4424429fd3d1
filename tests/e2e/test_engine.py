"""The engine through the proxy: the built-in policy pack and model on a bare start, receipts that
verify offline and expose tampering, receipts that survive kill -9, policy hot reload, DEFER
resolved by later context, and monitor mode."""
import json
import os
import signal
import ssl
import subprocess
import threading
import time

import openai
import requests

from conftest import BIN, ROOT, free_port, wait_for
from llm_upstream import LlmUpstream

ALLOW_ALL_BUT_ADMIN = """package aarmor.policy

decisions contains d if {
    startswith(input.action.target.path, "/admin")
    d := {"decision": "deny", "class": "forbidden", "priority": 1000, "rule": "no-admin", "reason": "admin is off limits"}
}
"""


def post(a, upstream, path, body):
    return requests.post(f"https://localhost:{upstream.port}{path}", json=body, proxies={"https": a.url}, verify=str(a.ca), timeout=15)


def test_bare_start_installs_and_enforces_the_built_in_pack_and_model(upstream, pki, tmp_path):
    """Started from a directory with no policies/ and no models/ and a configuration that names
    neither, aarmor installs its built-in pack and model under the data dir, enforces the pack,
    and keeps the installed copy on the next start."""
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    port, admin = free_port(), free_port()
    config = cwd / "aarmor.toml"
    config.write_text(
        f'[proxy]\nlisten = "127.0.0.1:{port}"\nthreads = 1\n'
        f'[upstream]\nca_files = ["{pki["ca"]}"]\n'
        f'[admin]\nlisten = "127.0.0.1:{admin}"\n'
    )

    def start(log):
        proc = subprocess.Popen([str(BIN), "--config", str(config), "run"], cwd=cwd, stdout=log, stderr=subprocess.STDOUT)

        def up():
            assert proc.poll() is None, "aarmor exited early"
            try:
                return requests.get(f"http://127.0.0.1:{admin}/healthz", timeout=1).ok
            except requests.RequestException:
                return False

        assert wait_for(up, timeout=30), "aarmor did not start"
        return proc

    def stop(proc):
        proc.terminate()
        proc.wait(timeout=20)

    data = cwd / "aarmor-data"
    with open(tmp_path / "first.log", "w") as log:
        proc = start(log)
        try:
            kw = dict(proxies={"https": f"http://127.0.0.1:{port}"}, verify=str(data / "certs" / "ca.pem"), timeout=15)
            base = f"https://localhost:{upstream.port}"
            r = requests.post(f"{base}/v1/notes", json={"note": {"text": "creds AKIAIOSFODNN7EXAMPLE ok"}}, **kw)
            assert r.status_code == 403, r.text
            assert r.json()["rule"] == "secrets.outbound"
            r = requests.post(f"{base}/v1/notes", json={"note": {"text": "the weekly report is ready"}}, **kw)
            assert r.status_code == 200, r.text
        finally:
            stop(proc)
    first = (tmp_path / "first.log").read_text()
    assert "installed the built-in policy pack in ./aarmor-data/policies" in first, first
    assert "installed the built-in embedding model in ./aarmor-data/models/all-MiniLM-L6-v2" in first, first
    assert "embedding model loaded from ./aarmor-data/models/all-MiniLM-L6-v2" in first, first
    assert (data / "policies" / "manifest.json").read_bytes() == (ROOT / "policies" / "manifest.json").read_bytes()
    assert not [p for p in data.rglob("*") if ".installing-" in p.name], "no scratch copy is left behind"

    # The policy commands find the installed pack too.
    r = subprocess.run([str(BIN), "--config", str(config), "policy", "test"], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and " 0 failed" in r.stdout, r.stdout + r.stderr

    # An edited copy is kept as it is, and said to differ from the built-in one.
    rego = data / "policies" / "payments.rego"
    rego.write_text(rego.read_text() + "\n# edited by the operator\n")
    manifest = data / "policies" / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"version": "', '"version": "local-'))
    with open(tmp_path / "second.log", "w") as log:
        stop(start(log))
    second = (tmp_path / "second.log").read_text()
    assert "installed the built-in" not in second, second
    assert "is not this aarmor's built-in one" in second, second
    assert "# edited by the operator" in rego.read_text()


def test_receipt_tampering_is_detected_and_named(start_aarmor, upstream, tmp_path):
    a = start_aarmor(policy=ALLOW_ALL_BUT_ADMIN)
    for i in range(4):
        assert post(a, upstream, "/echo", {"i": i}).status_code == 200
    assert post(a, upstream, "/admin/x", {}).status_code == 403
    # 5 decisions and 4 outcome receipts (written just after each response).
    deadline = time.time() + 10
    while time.time() < deadline and len(a.receipts()) < 9:
        time.sleep(0.1)
    export = tmp_path / "receipts.jsonl"
    assert a.cli("receipts", "export", "--out", str(export)).returncode == 0
    keys = a.data / "keys" / "public-keys.json"
    ok = a.cli("receipts", "verify", "--public-keys", str(keys), "--from", str(export))
    assert ok.returncode == 0 and "OK: 9 receipts" in ok.stdout, ok.stdout + ok.stderr
    lines = export.read_text().splitlines()
    deny = next(i for i, l in enumerate(lines) if '"result":"DENY"' in l)
    # show and export --since
    rid = json.loads(lines[deny])["receipt_id"]
    shown = a.cli("receipts", "show", rid)
    assert shown.returncode == 0 and json.loads(shown.stdout)["decision"]["rule"] == "no-admin"
    tail = a.cli("receipts", "export", "--since", "7")
    assert [json.loads(l)["seq"] for l in tail.stdout.splitlines()] == [7, 8, 9]
    assert a.cli("receipts", "show", "rct_nope").returncode != 0
    for bad in ("", "nope"):
        r = a.cli("receipts", "show", bad)
        assert r.returncode != 0 and "is not a receipt id" in r.stderr, r.stderr

    def verify(new_lines, name):
        f = tmp_path / f"{name}.jsonl"
        f.write_text("\n".join(new_lines) + "\n")
        r = a.cli("receipts", "verify", "--public-keys", str(keys), "--from", str(f))
        assert r.returncode != 0, f"{name} must fail"
        return r.stdout

    # One changed byte in a field.
    edited = list(lines)
    edited[deny] = edited[deny].replace('"result":"DENY"', '"result":"ALLOW"')
    assert edited[deny] != lines[deny]
    out = verify(edited, "changed")
    assert f"seq {deny + 1}: receipt" in out and "does not verify" in out, out
    # A removed receipt.
    out = verify(lines[:2] + lines[3:], "removed")
    assert "seq 4: receipt(s) missing before it (expected seq 3)" in out, out
    # A reordered pair.
    out = verify([lines[0], lines[2], lines[1]] + lines[3:], "reordered")
    assert "reordered" in out, out
    # A receipt signed by an unknown key: rotate, make a receipt, verify with the old key file only.
    old_keys = tmp_path / "old-keys.json"
    old_keys.write_text(keys.read_text())
    a.stop()
    assert a.cli("keys", "rotate").returncode == 0
    restarted = subprocess.Popen([str(BIN), "--config", str(a.config), "run"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if a._admin_up([]):
                break
            time.sleep(0.1)
        assert post(a, upstream, "/echo", {"after": "rotation"}).status_code == 200
    finally:
        restarted.terminate()
        restarted.wait(10)
    full = tmp_path / "full.jsonl"
    assert a.cli("receipts", "export", "--out", str(full)).returncode == 0
    r = a.cli("receipts", "verify", "--public-keys", str(old_keys), "--from", str(full))
    assert r.returncode != 0 and "unknown key" in r.stdout, r.stdout
    r = a.cli("receipts", "verify", "--public-keys", str(keys), "--from", str(full))
    assert r.returncode == 0, "the rotated key ring verifies old and new receipts: " + r.stdout


def test_acknowledged_receipts_survive_kill_9(start_aarmor, upstream):
    a = start_aarmor(policy=ALLOW_ALL_BUT_ADMIN)
    acked = []
    stop = threading.Event()

    def client(worker):
        s = requests.Session()
        n = 0
        while not stop.is_set() and n < 400:
            try:
                r = s.post(f"https://localhost:{upstream.port}/echo", json={"worker": worker, "n": n},
                           proxies={"https": a.url}, verify=str(a.ca), timeout=5)
                if r.status_code == 200:
                    acked.append((worker, n))
            except requests.RequestException:
                return
            n += 1

    threads = [threading.Thread(target=client, args=(w,), daemon=True) for w in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    os.kill(a.proc.pid, signal.SIGKILL)
    a.proc.wait(10)
    stop.set()
    for t in threads:
        t.join(10)
    assert len(acked) > 20, "the load ran"
    receipts = a.receipts()
    seen = {(r["action"]["parameters"]["body"]["worker"], r["action"]["parameters"]["body"]["n"]) for r in receipts
            if isinstance(r["action"]["parameters"].get("body"), dict) and "worker" in r["action"]["parameters"]["body"]}
    missing = [x for x in acked if x not in seen]
    assert not missing, f"{len(missing)} acknowledged actions have no receipt after kill -9"
    r = a.cli("receipts", "verify", "--public-keys", str(a.data / "keys" / "public-keys.json"))
    assert r.returncode == 0, r.stdout + r.stderr


def test_policy_hot_reload_and_broken_bundle_rejected(start_aarmor, upstream):
    a = start_aarmor(policy=ALLOW_ALL_BUT_ADMIN, extra_policy="reload_poll_ms = 200")
    assert post(a, upstream, "/reports", {}).status_code == 200
    policy_file = a.policy_dir / "policy.rego"
    policy_file.write_text(ALLOW_ALL_BUT_ADMIN + """
decisions contains d if {
    input.action.target.path == "/reports"
    d := {"decision": "deny", "class": "context_deny", "priority": 10, "rule": "no-reports", "reason": "reports are closed"}
}
""")
    deadline = time.time() + 10
    while time.time() < deadline and post(a, upstream, "/reports", {}).status_code != 403:
        time.sleep(0.2)
    assert post(a, upstream, "/reports", {}).json()["rule"] == "no-reports"
    # A broken bundle is rejected; the running one keeps deciding.
    policy_file.write_text("package aarmor.policy\n\ndecisions contains d if {\n")
    time.sleep(1.0)
    assert post(a, upstream, "/reports", {}).json()["rule"] == "no-reports"
    assert "new policy bundle rejected" in a.logs()
    # SIGHUP reloads too (here: a fixed bundle).
    policy_file.write_text(ALLOW_ALL_BUT_ADMIN)
    a.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 10
    while time.time() < deadline and post(a, upstream, "/reports", {}).status_code != 200:
        time.sleep(0.2)
    assert post(a, upstream, "/reports", {}).status_code == 200


DEFER_UNTIL_ASKED = """package aarmor.policy

# Deleting test data is fine when the user asked for it; until we know what they asked, defer.
decisions contains d if {
    input.action.target.path == "/testdata"
    input.action.target.method == "DELETE"
    d := {"decision": "allow", "class": "context_allow", "priority": 100, "rule": "delete-if-asked",
          "reason": "the user asked for it", "requires": ["context.original_request"], "timeout": 5}
}
"""


def test_defer_resolved_by_later_context_and_another_times_out(start_aarmor, upstream, pki):
    a = start_aarmor(policy=DEFER_UNTIL_ASKED)
    result = {}

    def delete():
        result["r"] = requests.delete(f"https://localhost:{upstream.port}/testdata", proxies={"https": a.url}, verify=str(a.ca), timeout=20)

    t = threading.Thread(target=delete)
    t.start()
    time.sleep(0.5)
    assert "r" not in result, "the DELETE is held while deferred"
    assert not any(x["path"] == "/testdata" for x in upstream.seen)
    # The user's request arrives through an LLM call: now the context is known.
    llm = LlmUpstream(*pki["leaf"])
    try:
        client = openai.OpenAI(base_url=f"https://localhost:{llm.port}/v1", api_key="sk-test", max_retries=0,
                               http_client=openai.DefaultHttpxClient(proxy=a.url, verify=ssl.create_default_context(cafile=str(a.ca))))
        llm.server.calls_override = []
        client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "please delete my test data"}])
    finally:
        llm.close()
    t.join(20)
    assert result["r"].status_code == 200
    receipts = [r for r in a.receipts() if r["action"]["target"]["path"] == "/testdata"]
    kinds = [(r["kind"], r["decision"]["result"]) for r in receipts]
    assert kinds[:2] == [("decision", "DEFER"), ("resolution", "ALLOW")]
    # The resolution says how: by new context, which field arrived, after how many rounds, when.
    deferral = receipts[1]["deferral"]
    assert deferral["status"] == "resolved" and deferral["method"] == "context"
    assert deferral["resolved_by"] == ["context.original_request"]
    assert deferral["rounds"] >= 1 and deferral["waited_ms"] >= 400 and deferral["ended_at"].endswith("Z")

    # Without that context, another deferral times out and is denied, naming what never came.
    b = start_aarmor(policy=DEFER_UNTIL_ASKED.replace('"timeout": 5', '"timeout": 0.5'))
    r = requests.delete(f"https://localhost:{upstream.port}/testdata", proxies={"https": b.url}, verify=str(b.ca), timeout=20)
    assert r.status_code == 403 and "not resolved" in r.json()["reason"]
    timed_out = [x for x in b.receipts() if x["kind"] == "resolution"][-1]["deferral"]
    assert timed_out["status"] == "timed_out" and timed_out["missing"] == ["context.original_request"]
    assert timed_out["waited_ms"] >= 400 and timed_out["ended_at"].endswith("Z")


def test_held_actions_end_with_a_receipt_when_aarmor_shuts_down(start_aarmor, upstream):
    """SIGTERM while a DEFER and a STEP_UP are held: both agents get a refusal before the data
    plane stops, and both resolutions are receipted with status `shutdown`."""
    policy = DEFER_UNTIL_ASKED.replace('"timeout": 5', '"timeout": 60') + """
decisions contains d if {
    input.action.target.path == "/approve-me"
    d := {"decision": "step_up", "class": "context_allow", "priority": 100, "rule": "needs-a-human",
          "reason": "a human decides", "timeout": 60}
}
"""
    a = start_aarmor(policy=policy)
    results = {}

    def send(name, method, path):
        results[name] = requests.request(method, f"https://localhost:{upstream.port}{path}", json={},
                                         proxies={"https": a.url}, verify=str(a.ca), timeout=30)

    threads = [threading.Thread(target=send, args=("defer", "DELETE", "/testdata")),
               threading.Thread(target=send, args=("step_up", "POST", "/approve-me"))]
    for t in threads:
        t.start()
    assert wait_for(lambda: len(a.approvals()) == 1, 10)
    time.sleep(0.3)
    a.proc.send_signal(signal.SIGTERM)
    for t in threads:
        t.join(20)
    assert results["defer"].status_code == 403 and "shutting down" in results["defer"].json()["reason"]
    assert results["step_up"].status_code == 403 and "shutting down" in results["step_up"].json()["reason"]
    a.proc.wait(20)
    ends = {r["action"]["target"]["path"]: r for r in a.receipts() if r["kind"] == "resolution"}
    deferral = ends["/testdata"]["deferral"]
    assert deferral["status"] == "shutdown" and deferral["rounds"] == 0 and deferral["ended_at"].endswith("Z")
    approval = ends["/approve-me"]["approval"]
    assert approval["status"] == "shutdown" and approval["waited_ms"] >= 300
    verified = a.cli("receipts", "verify", "--public-keys", str(a.data / "keys" / "public-keys.json"))
    assert verified.returncode == 0, verified.stderr + verified.stdout


def test_monitor_mode_allows_and_marks_receipts(start_aarmor, upstream):
    a = start_aarmor(policy=ALLOW_ALL_BUT_ADMIN, extra='[enforcement]\nmode = "monitor"')
    assert post(a, upstream, "/admin/reset", {}).status_code == 200, "monitor mode lets it through"
    r = [x for x in a.receipts() if x["action"]["target"]["path"] == "/admin/reset"][0]
    assert r["decision"]["result"] == "DENY" and r["decision"]["enforced"] is False
