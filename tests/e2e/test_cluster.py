"""Three aarmor replicas and one real redis-server on loopback act as one appliance: a session's
requests alternate replicas and keep their memory, a STEP_UP held on one replica is approved
through another's API, a DEFER held on one is released by context arriving through another,
concurrent writers never fork a session's chain, a replica killed with SIGKILL leaves every
acknowledged action receipted and its held action denied, and Redis going away refuses actions
(reads pass) until it returns, without restarting anything."""
import json
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import openai
import pytest
import requests

from conftest import BIN, Aarmor, free_port, wait_for
from llm_upstream import LlmUpstream

POLICY = """package aarmor.policy

decisions contains d if {
    input.action.target.path == "/v1/send"
    "PII" in input.context.data_labels
    d := {"decision": "deny", "class": "context_deny", "priority": 500, "rule": "test.no_pii_out",
          "reason": "the session read personal data"}
}

decisions contains d if {
    input.action.target.path == "/v1/transfer"
    d := {"decision": "step_up", "class": "context_allow", "priority": 500, "rule": "test.transfer",
          "reason": "transfers need an approval", "timeout": 60}
}

decisions contains d if {
    input.action.target.path == "/v1/jobdata"
    input.action.target.method == "DELETE"
    d := {"decision": "allow", "class": "context_allow", "priority": 100, "rule": "test.delete_if_asked",
          "reason": "the user asked for it", "requires": ["context.original_request"], "timeout": 20}
}
"""

PII_OUTPUT = "Customer record: Ada Lovelace, ada@example.org, +44 20 7946 0958, 12 Main Street"


class Redis:
    """redis-server on a loopback port, persisted as aarmor's Redis must be (append-only file,
    fsync on every write, no eviction); stop() and start() keep the port and the data."""

    def __init__(self, workdir: Path):
        self.dir = workdir
        self.port = free_port()
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
             "--appendfsync", "always", "--maxmemory-policy", "noeviction", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def cli(self, *args):
        return subprocess.run(["redis-cli", "-p", str(self.port), *args], capture_output=True, text=True, timeout=10).stdout


@pytest.fixture
def cluster(tmp_path, pki):
    """Starts Redis; `start(name)` starts a replica sharing the first replica's CA."""
    redis = Redis(tmp_path)
    replicas = []
    secret = tmp_path / "cluster-secret"
    secret.write_text(os.urandom(32).hex())
    secret.chmod(0o600)

    def start(name, extra_cluster=""):
        d = tmp_path / f"{name}-{len(replicas)}"
        d.mkdir()
        if replicas:
            # One interception CA for all replicas: agents trust one certificate.
            shutil.copytree(replicas[0].data / "certs", d / "data" / "certs")
        a = Aarmor(d, pki["ca"], policy=POLICY,
                   extra=f'[cluster]\nenabled = true\nredis_url = "redis://127.0.0.1:{redis.port}/0"\n'
                         f'replica = "{name}"\nsecret_file = "{secret}"\nheartbeat_s = 1\nreplica_timeout_s = 3\n'
                         f'{extra_cluster}\n')
        replicas.append(a)
        return a

    yield redis, start
    for a in replicas:
        if a.proc.poll() is None:
            a.stop()
    redis.stop()


def post(a, upstream, path, body=None, session=None, timeout=20):
    headers = {"x-aarm-session": session} if session else {}
    return requests.post(f"https://localhost:{upstream.port}{path}", json=body or {}, headers=headers,
                         proxies={"https": a.url}, verify=str(a.ca), timeout=timeout)


def llm_client(a, llm):
    http_client = openai.DefaultHttpxClient(proxy=a.url, verify=ssl.create_default_context(cafile=str(a.ca)))
    return openai.OpenAI(base_url=f"https://localhost:{llm.port}/v1", api_key="sk-test", http_client=http_client,
                         max_retries=0)


def decisions(a, path):
    return [r for r in a.receipts() if r["action"]["target"]["path"].split("?")[0] == path]


def test_one_session_across_replicas_pii_approval_and_deferral(cluster, pki, upstream):
    redis, start = cluster
    r1, r2, r3 = start("r1"), start("r2"), start("r3")
    for a in (r1, r2, r3):
        assert "cluster replica" in a.logs()
    seen0 = len(upstream.seen)  # the upstream is shared with other tests

    def reached(path):
        return any(s["path"] == path for s in upstream.seen[seen0:])

    llm = LlmUpstream(*pki["leaf"])
    try:
        # Control: before the agent has read anything, the send passes on any replica.
        assert post(r3, upstream, "/v1/send", {"to": "partner@elsewhere.example"}, session="clean-1").status_code == 200
        # The agent's conversation goes through replica 1: a tool output with personal data.
        llm.server.calls_override = []
        llm_client(r1, llm).chat.completions.create(model="gpt-test", messages=[
            {"role": "system", "content": "You are a support assistant."},
            {"role": "user", "content": "Look up customer Ada and summarize her account."},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "get_customer", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": PII_OUTPUT}])
        conversation = [r for r in r1.receipts() if r["action"]["protocol"] != "rest"][-1]["action"]["identity"]["session"]

        # Its next action, sent through replica 2 without a session header, lands in the same
        # session (the agent's active session is shared) and is refused for what replica 1 saw.
        before = len(upstream.seen)
        r = post(r2, upstream, "/v1/send", {"to": "partner@elsewhere.example", "text": "Ada's record"})
        assert r.status_code == 403, r.text
        assert not any(s["path"] == "/v1/send" for s in upstream.seen[before:]), "the upstream saw nothing"
        denied = decisions(r2, "/v1/send")[-1]
        assert denied["decision"]["rule"] == "test.no_pii_out"
        assert denied["action"]["identity"]["session"] == conversation
        assert denied["signature"]["key_id"].startswith("aarmor-r2-"), "the key id names the replica"
        # Naming a fresh session on yet another replica does not wash the read away: what an
        # agent read counts in all of its sessions, on every replica.
        r = post(r3, upstream, "/v1/send", {"to": "partner@elsewhere.example"}, session="fresh-1")
        assert r.status_code == 403 and decisions(r3, "/v1/send")[-1]["decision"]["rule"] == "test.no_pii_out", r.text
        assert not any(s["path"] == "/v1/send" for s in upstream.seen[before:])

        # A STEP_UP held on replica 1 shows on every console and is approved through replica 3.
        result = {}
        t = threading.Thread(target=lambda: result.update(r=post(r1, upstream, "/v1/transfer", {"amount": 10}, session="pay-1", timeout=40)))
        t.start()
        held = wait_for(lambda: [x for x in r3.approvals() if x["rule"] == "test.transfer"], timeout=15)
        assert held, "replica 3 shows the action replica 1 holds"
        assert any(x["id"] == held[0]["id"] for x in r2.approvals()), "and so does replica 2"
        assert not reached("/v1/transfer")
        # An answer written straight into Redis (no approver's credential behind it) is dropped.
        forged = {"nonce": "00", "id": held[0]["id"], "approver": "oncall", "operator": True, "approve": True,
                  "comment": None, "via": "api", "from": "r3", "deadline_ms": int(time.time() * 1000) + 60000, "mac": "00" * 32}
        redis.cli("RPUSH", "aarmor:inbox:r1", json.dumps(forged))
        time.sleep(1.5)
        assert "r" not in result and not reached("/v1/transfer")
        assert "forged, altered or late" in r1.logs()
        answer = r3.answer(held[0]["id"], approve=True, approver="oncall")
        assert answer.status_code == 200, answer.text
        t.join(30)
        assert result["r"].status_code == 200, result["r"].text
        assert reached("/v1/transfer")
        resolution = [x for x in decisions(r1, "/v1/transfer") if x["kind"] == "resolution"][-1]
        assert resolution["decision"]["result"] == "ALLOW" and resolution["approval"]["status"] == "approved"
        assert wait_for(lambda: not r2.approvals(), timeout=10), "the answered approval left every queue"

        # A DEFER held on replica 2 (nothing says what the user asked for in job-7 yet) is
        # released by the user's request arriving through replica 1.
        result = {}
        t = threading.Thread(target=lambda: result.update(r=requests.delete(
            f"https://localhost:{upstream.port}/v1/jobdata", headers={"x-aarm-session": "job-7"},
            proxies={"https": r2.url}, verify=str(r2.ca), timeout=40)))
        t.start()
        assert wait_for(lambda: [x for x in decisions(r2, "/v1/jobdata") if x["decision"]["result"] == "DEFER"], timeout=15)
        assert "r" not in result and not reached("/v1/jobdata")
        c = openai.OpenAI(base_url=f"https://localhost:{llm.port}/v1", api_key="sk-test", max_retries=0,
                          default_headers={"x-aarm-session": "job-7"},
                          http_client=openai.DefaultHttpxClient(proxy=r1.url, verify=ssl.create_default_context(cafile=str(r1.ca))))
        c.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "Please delete my test data."}])
        t.join(30)
        assert result["r"].status_code == 200, result["r"].text
        kinds = [(x["kind"], x["decision"]["result"]) for x in decisions(r2, "/v1/jobdata")]
        assert kinds[:2] == [("decision", "DEFER"), ("resolution", "ALLOW")], kinds
    finally:
        llm.close()

    # The shared chain of the conversation verifies, and names entries from several replicas.
    ok = r3.cli("cluster", "context", conversation)
    assert ok.returncode == 0 and "chain intact" in ok.stdout, ok.stdout + ok.stderr
    status = json.loads(r1.cli("cluster", "status", "--json").stdout)
    assert sorted(s["replica"] for s in status if s["alive"]) == ["r1", "r2", "r3"]


def test_concurrent_writers_on_one_session_never_fork_its_chain(cluster, upstream):
    redis, start = cluster
    replicas = [start("r1"), start("r2"), start("r3")]
    per_replica = 12
    statuses = []

    def writer(a):
        for i in range(per_replica):
            statuses.append(post(a, upstream, "/v1/notes", {"n": i, "via": a.dir.name}, session="busy-1").status_code)

    threads = [threading.Thread(target=writer, args=(a,)) for a in replicas]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert statuses == [200] * (3 * per_replica)

    def shared_actions():
        out = replicas[0].cli("cluster", "context", "busy-1", "--out", str(replicas[0].dir / "busy.jsonl"))
        if out.returncode != 0:
            return None
        entries = [json.loads(l) for l in (replicas[0].dir / "busy.jsonl").read_text().splitlines()]
        outcomes = [e for e in entries if e["kind"] == "outcome"]
        return entries if len(outcomes) == 3 * per_replica else None

    entries = wait_for(shared_actions, timeout=20)
    assert entries, "every decision and outcome reached the shared chain"
    actions = [e for e in entries if e["kind"] == "action"]
    assert len(actions) == 3 * per_replica, "no entry lost"
    assert len({e["data"]["action_id"] for e in actions}) == 3 * per_replica
    assert [e["seq"] for e in entries] == list(range(entries[0]["seq"], entries[0]["seq"] + len(entries)))
    ok = replicas[1].cli("cluster", "context", "busy-1")
    assert ok.returncode == 0 and "chain intact" in ok.stdout, ok.stdout


def test_a_replica_killed_under_load_leaves_receipts_that_verify_and_its_hold_denied(cluster, upstream, tmp_path):
    redis, start = cluster
    r1, r2, r3 = start("r1"), start("r2"), start("r3")
    seen_before = len(upstream.seen)
    # An action held for approval on replica 2.
    held = {}
    t_held = threading.Thread(target=lambda: held.update(r=_try(lambda: post(r2, upstream, "/v1/transfer", {"amount": 99}, session="pay-2", timeout=40))))
    t_held.start()
    wait_for(lambda: [x for x in r1.approvals() if x["rule"] == "test.transfer"], timeout=15)
    decision = [x for x in decisions(r2, "/v1/transfer") if x["kind"] == "decision"][-1]

    acknowledged = []
    stop = threading.Event()

    def load(a, tag):
        i = 0
        while not stop.is_set() and i < 400:
            path = f"/v1/notes/{tag}-{i}"
            r = _try(lambda: post(a, upstream, path, {"i": i}, session=f"load-{tag}", timeout=10))
            if r is not None and r.status_code == 200:
                acknowledged.append(path)
            i += 1

    threads = [threading.Thread(target=load, args=(a, a.dir.name)) for a in (r1, r2, r3)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    r2.proc.kill()  # SIGKILL: no shutdown of any kind
    r2.proc.wait(10)
    time.sleep(1.0)
    stop.set()
    for t in threads:
        t.join(60)
    t_held.join(30)
    assert held.get("r") is None or held["r"].status_code != 200, "the held action did not run"
    assert not any(s["path"] == "/v1/transfer" for s in upstream.seen[seen_before:])

    # Another replica notices replica 2 stopped and records the held action as denied.
    def lost():
        for a in (r1, r3):
            for x in a.receipts():
                if x["kind"] == "resolution" and x.get("follows") == decision["receipt_id"]:
                    return x
        return None

    denial = wait_for(lost, timeout=20)
    assert denial is not None, "the dead replica's hold was recorded as denied"
    assert denial["decision"]["result"] == "DENY" and denial["decision"]["rule"] == "cluster.replica_lost"
    assert denial["approval"] == {"status": "replica_lost", "id": denial["approval"]["id"], "replica": "r2"}

    # Every acknowledged action has its receipt (replica 2's store is read after its death).
    receipted = set()
    exports = []
    for a in (r1, r2, r3):
        out = a.cli("receipts", "export")
        assert out.returncode == 0, out.stderr
        exports.append(out.stdout)
        for line in out.stdout.splitlines():
            r = json.loads(line)
            if r["kind"] == "decision" and r["decision"]["result"] == "ALLOW":
                receipted.add(r["action"]["target"]["path"])
    assert acknowledged and set(acknowledged) <= receipted
    # The merged export verifies chain by chain with every replica's public keys.
    keys = tmp_path / "all-keys.json"
    assert r1.cli("cluster", "keys", "--out", str(keys)).returncode == 0
    assert {k.get("replica") for k in json.loads(keys.read_text())} == {"r1", "r2", "r3"}
    merged = tmp_path / "merged.jsonl"
    merged.write_text("".join(exports))
    own_files = [str(a.data / "keys" / "public-keys.json") for a in (r1, r2, r3)]
    for key_args in (["--public-keys", str(keys)], [x for f in own_files for x in ("--public-keys", f)]):
        ok = r1.cli("receipts", "verify", "--from", str(merged), *key_args)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        for name in ("r1", "r2", "r3"):
            assert f"OK: replica {name}:" in ok.stdout
    # A merge without replica 3's chain says so.
    partial = tmp_path / "partial.jsonl"
    partial.write_text(exports[0] + exports[1])
    bad = r1.cli("receipts", "verify", "--from", str(partial), "--public-keys", str(keys))
    assert bad.returncode == 1 and "replica r3: none of its receipts" in bad.stdout, bad.stdout
    # A key published over another replica's (whoever can write to Redis) is refused, not used.
    forged = json.loads(keys.read_text())
    victim = next(k for k in forged if k["replica"] == "r1")
    redis.cli("HSET", "aarmor:keys", "zz-forger", json.dumps([dict(victim, public_key="A" * 43 + "=")]))
    refused = r1.cli("cluster", "keys")
    assert refused.returncode != 0 and "published twice" in refused.stderr, refused.stdout + refused.stderr
    (tmp_path / "forged.json").write_text(json.dumps([dict(victim, public_key="A" * 43 + "=")]))
    bad = r1.cli("receipts", "verify", "--from", str(merged), "--public-keys", own_files[0], "--public-keys", str(tmp_path / "forged.json"))
    assert bad.returncode != 0 and "listed with another public key" in bad.stderr, bad.stdout + bad.stderr


def test_redis_away_refuses_actions_and_recovers_without_restart(cluster, upstream):
    redis, start = cluster
    r1, r2 = start("r1"), start("r2")
    assert post(r1, upstream, "/v1/notes", {"n": 0}, session="s-1").status_code == 200
    results = []
    stop = threading.Event()

    def load(a, tag):
        i = 0
        while not stop.is_set() and i < 300:
            path = f"/v1/notes/outage-{tag}-{i}"
            r = _try(lambda: post(a, upstream, path, {"i": i}, session=f"out-{tag}", timeout=10))
            results.append((a, path, None if r is None else r.status_code))
            i += 1
            time.sleep(0.02)

    threads = [threading.Thread(target=load, args=(a, a.dir.name)) for a in (r1, r2)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    redis.stop()
    time.sleep(2.0)
    # While Redis is away: actions are refused with a receipt; a read passes.
    during = post(r1, upstream, "/v1/notes", {"n": 1}, session="s-1")
    assert during.status_code == 403 and "context store unavailable" in during.json()["reason"], during.text
    read = requests.get(f"https://localhost:{upstream.port}/v1/status", proxies={"https": r1.url}, verify=str(r1.ca), timeout=10)
    assert read.status_code == 200
    assert cluster_check(r1)["status"] == "fail", "doctor names the missing Redis"
    redis.start()
    # Back: decided again, nothing restarted.
    assert wait_for(lambda: post(r2, upstream, "/v1/notes", {"n": 2}, session="s-2").status_code == 200 or None, timeout=15)
    stop.set()
    for t in threads:
        t.join(60)
    assert r1.proc.poll() is None and r2.proc.poll() is None
    back = wait_for(lambda: (lambda c: c["status"] == "ok" and "alive: r1, r2" in c["detail"] and c)(cluster_check(r1)), timeout=10)
    assert back, cluster_check(r1)
    # No action passed undecided: every request the upstream saw has an ALLOW receipt, and every
    # refusal a DENY receipt.
    allowed, denied = set(), set()
    for a in (r1, r2):
        for r in a.receipts():
            if r["kind"] != "decision":
                continue
            path = r["action"]["target"]["path"]
            (allowed if r["decision"]["result"] == "ALLOW" else denied).add(path)
            if r["decision"]["result"] == "DENY":
                assert "context store unavailable" in r["decision"]["reason"], r["decision"]
    seen = {s["path"] for s in upstream.seen if s["path"].startswith("/v1/notes/outage-")}
    assert seen <= allowed
    refused = [p for (_, p, code) in results if code == 403]
    assert refused and set(refused) <= denied


def test_two_processes_never_share_a_replica_name(cluster, upstream):
    redis, start = cluster
    r1 = start("r1")
    assert post(r1, upstream, "/v1/notes", {"n": 1}, session="dup-1").status_code == 200
    twin = start("r1")  # a second process configured with the same name
    assert wait_for(lambda: "replica name taken" in twin.logs(), timeout=10), twin.logs()[-2000:]
    r = post(twin, upstream, "/v1/notes", {"n": 2}, session="dup-2")
    assert r.status_code == 403 and "another process runs as cluster replica r1" in r.json()["reason"], r.text
    # The first one goes on, alone under its name.
    assert post(r1, upstream, "/v1/notes", {"n": 3}, session="dup-1").status_code == 200
    status = json.loads(r1.cli("cluster", "status", "--json").stdout)
    assert [s["replica"] for s in status] == ["r1"]


def cluster_check(a):
    out = a.cli("doctor", "--json")
    return next(c for c in json.loads(out.stdout) if c["name"] == "cluster")


def _try(f):
    try:
        return f()
    except requests.RequestException:
        return None


def test_redis_over_tls_with_a_password_kept_in_a_file(tmp_path, pki, upstream):
    """rediss:// with Redis's certificate checked against `ca_file`, the URL (and its password)
    read from `redis_url_file`, which no log or status output repeats."""
    cert, key = pki["leaf"]
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1", "--tls-cert-file", str(cert),
         "--tls-key-file", str(key), "--tls-ca-cert-file", str(pki["ca"]), "--tls-auth-clients", "no",
         "--requirepass", "s3cret-pass", "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: _connects(port), timeout=10)
        url_file = tmp_path / "redis-url"
        url_file.write_text(f"rediss://:s3cret-pass@localhost:{port}/0\n")
        url_file.chmod(0o600)
        d = tmp_path / "tls-replica"
        d.mkdir()
        a = Aarmor(d, pki["ca"], policy=POLICY,
                   extra=f'[cluster]\nenabled = true\nredis_url_file = "{url_file}"\nca_file = "{pki["ca"]}"\n'
                         f'replica = "t1"\nheartbeat_s = 1\nreplica_timeout_s = 3\n')
        try:
            assert post(a, upstream, "/v1/notes", {"n": 1}, session="tls-1").status_code == 200
            ok = a.cli("cluster", "context", "tls-1")
            assert ok.returncode == 0 and "chain intact" in ok.stdout, ok.stdout + ok.stderr
            status = a.cli("cluster", "status")
            assert status.returncode == 0 and "t1" in status.stdout, status.stdout + status.stderr
            assert "s3cret-pass" not in a.logs() + status.stdout + status.stderr
        finally:
            a.stop()
        # A CA Redis's certificate does not chain to: the connection is refused.
        wrong_ca = tmp_path / "wrong-ca.pem"
        shutil.copy(pki["rogue_leaf"][0], wrong_ca)
        cfg = d / "aarmor.toml"
        cfg.write_text(cfg.read_text().replace(f'ca_file = "{pki["ca"]}"', f'ca_file = "{wrong_ca}"'))
        refused = subprocess.run([str(BIN), "--config", str(cfg), "cluster", "status"], capture_output=True, text=True, timeout=30)
        assert refused.returncode != 0 and "s3cret-pass" not in refused.stderr, refused.stderr
    finally:
        proc.terminate()
        proc.wait(10)


def _connects(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False
