"""Receipt and context retention through the real proxy and the release binary: a small store
with retention on takes a long mixed run without one denial for a full store, archives appear,
and `aarmor receipts verify` checks archive and live store as one chain and names a deleted or
edited segment; with retention off the store's warning and error events reach rsyslog before it
is full, then actions are denied with a clear reason; kill -9 during archival loses and repeats
no receipt."""
import gzip
import json
import random
import threading
import time

import requests

from conftest import console_page, wait_for
from test_siem import rsyslog  # noqa: F401  (the real rsyslog fixture)

POLICY = """package aarmor.policy

decisions contains d if {
    startswith(input.action.target.path, "/admin")
    d := {"decision": "deny", "class": "forbidden", "priority": 1000, "rule": "no-admin", "reason": "admin is off limits"}
}
"""


def run_traffic(a, upstream, workers, per_worker, outcomes, stop=None, pad=700):
    """Mixed traffic from `workers` clients: reads, allowed POSTs with a body, and denied POSTs
    with large bodies. Appends (worker, n, status, reason) to `outcomes`."""

    def client(w):
        s = requests.Session()
        for n in range(per_worker):
            if stop is not None and stop.is_set():
                return
            url = f"https://localhost:{upstream.port}"
            try:
                if n % 10 == 0:
                    r = s.get(f"{url}/echo?n={n}", proxies={"https": a.url}, verify=str(a.ca), timeout=10)
                elif n % 7 == 0:
                    r = s.post(f"{url}/admin/x", json={"w": w, "n": n, "blob": "y" * 20_000},
                               proxies={"https": a.url}, verify=str(a.ca), timeout=10)
                else:
                    r = s.post(f"{url}/echo", json={"w": w, "n": n, "pad": "x" * pad},
                               proxies={"https": a.url}, verify=str(a.ca), timeout=10)
                reason = ""
                if r.status_code == 403:
                    reason = r.json().get("reason", "")
                outcomes.append((w, n, r.status_code, reason))
            except requests.RequestException:
                if stop is None:
                    raise
                time.sleep(0.1)
                s = requests.Session()

    threads = [threading.Thread(target=client, args=(w,), daemon=True) for w in range(workers)]
    for t in threads:
        t.start()
    return threads


def segments(a):
    return sorted((a.data / "archive" / "receipts").glob("receipts-*.jsonl.gz"))


def verify(a):
    return a.cli("receipts", "verify", "--public-keys", str(a.data / "keys" / "public-keys.json"), timeout=120)


def test_a_small_store_with_retention_never_fills_and_archive_plus_live_verify(start_aarmor, upstream):
    a = start_aarmor(policy=POLICY, extra="[receipts]\nmax_size_mb = 8\n"
                                          "[retention]\nsegment_receipts = 300\ncheck_interval_ms = 200\n")
    outcomes = []
    for t in run_traffic(a, upstream, workers=4, per_worker=900, outcomes=outcomes):
        t.join(300)
    assert len(outcomes) == 3600
    refused = [o for o in outcomes if o[2] == 403 and "no-admin" not in json.dumps(o) and "admin is off limits" not in o[3]]
    assert not refused, f"{len(refused)} actions refused for another reason than policy: {refused[:3]}"
    assert all(o[2] == 200 for o in outcomes if o[2] != 403)
    assert sum(1 for o in outcomes if o[2] == 403) >= 400, "the denied ones were denied by policy"
    # Retention archived and pruned while the run went on.
    assert wait_for(lambda: len(segments(a)) >= 5, timeout=30), segments(a)
    metrics = requests.get(f"http://127.0.0.1:{a.admin}/metrics", timeout=5).text
    value = lambda name: sum(float(l.rsplit(" ", 1)[1]) for l in metrics.splitlines() if l.startswith(name))
    assert value("aarmor_receipts_archived_total") > 0
    assert value("aarmor_receipts_pruned_total") > 0
    storage = requests.get(f"http://127.0.0.1:{a.admin}/v1/storage", timeout=5).json()
    receipts = next(s for s in storage["stores"] if s["name"] == "receipts")
    assert receipts["level"] == "ok" and receipts["percent"] < 80, storage
    assert storage["banner"] is None
    # The whole chain, archive and live store, verifies.
    r = verify(a)
    assert r.returncode == 0 and "OK:" in r.stdout and "archived segment(s)" in r.stdout, r.stdout + r.stderr
    # A deleted segment is named.
    files = segments(a)
    victim = files[len(files) // 2]
    saved = victim.read_bytes()
    victim.unlink()
    r = verify(a)
    assert r.returncode != 0 and victim.name in r.stdout and "missing" in r.stdout, r.stdout
    # An edited one (a valid gzip file, one decision changed) is named.
    text = gzip.decompress(saved).decode()
    edited = text.replace('"result":"DENY"', '"result":"ALLOW"', 1)
    if edited == text:
        edited = text.replace('"result":"ALLOW"', '"result":"DENY"', 1)
    victim.write_bytes(gzip.compress(edited.encode()))
    r = verify(a)
    assert r.returncode != 0 and victim.name in r.stdout and "signature" in r.stdout and "altered" in r.stdout, r.stdout
    victim.write_bytes(saved)
    assert verify(a).returncode == 0


def test_with_retention_off_warnings_reach_the_siem_before_the_store_is_full(start_aarmor, upstream, rsyslog):  # noqa: F811
    port = rsyslog.ports["tcp"]
    a = start_aarmor(policy=POLICY, extra=(
        '[receipts]\nmax_size_mb = 4\ndurability = "batched"\n'
        '[retention]\nmode = "off"\ncheck_interval_ms = 100\n'
        f'[telemetry]\nretry_initial_ms = 100\n[[telemetry.sinks]]\nname = "tcp"\nurl = "tcp://127.0.0.1:{port}"\n'))
    outcomes = []
    stop = threading.Event()
    threads = run_traffic(a, upstream, workers=3, per_worker=20_000, outcomes=outcomes, stop=stop, pad=900)
    full = wait_for(lambda: [o for o in outcomes if o[2] == 403 and "could not be receipted" in o[3]], timeout=180)
    first_refusal = time.time()
    stop.set()
    for t in threads:
        t.join(30)
    assert full, f"the store did not fill: {len(outcomes)} requests"
    reason = full[0][3]
    assert "receipt store is full" in reason and "max_size_mb" in reason, reason

    def storage_events():
        return [e for e in rsyslog.events("tcp") if e.get("metadata", {}).get("event_code") == "STORAGE"]

    assert wait_for(lambda: len(storage_events()) >= 2, timeout=20), rsyslog.events("tcp")[-3:]
    events = storage_events()
    kinds = [e["status"] for e in events]
    assert kinds[:2] == ["storage.warning", "storage.critical"], kinds
    assert all(e["unmapped"]["aarm"]["store"] == "receipts" for e in events[:2])
    assert events[0]["time"] < events[1]["time"] <= first_refusal * 1000
    assert "80%" in events[0]["message"] and "95%" in events[1]["message"]
    assert "warning level" in a.logs() and "error level" in a.logs()
    # The console's banner (and /v1/storage) says the same.
    storage = requests.get(f"http://127.0.0.1:{a.admin}/v1/storage", timeout=5).json()
    assert storage["banner"]["level"] == "critical" and "receipt store" in storage["banner"]["message"], storage


def test_kill_9_during_archival_loses_and_repeats_no_receipt(start_aarmor, upstream):
    a = start_aarmor(policy=POLICY, extra="[retention]\nsegment_receipts = 40\nsegment_max_age_s = 0\ncheck_interval_ms = 20\n")
    outcomes = []
    stop = threading.Event()
    threads = run_traffic(a, upstream, workers=3, per_worker=100_000, outcomes=outcomes, stop=stop, pad=100)
    rng = random.Random(21)
    for _ in range(4):
        time.sleep(rng.uniform(0.6, 1.4))
        a.kill9_and_relaunch()
    time.sleep(1.0)
    stop.set()
    for t in threads:
        t.join(30)
    acked = {(w, n) for (w, n, status, _) in outcomes if status == 200 and n % 10 != 0}
    assert len(acked) > 100, "the load ran"
    assert wait_for(lambda: len(segments(a)) >= 3, timeout=20)
    # Everything, archive and live store, once.
    r = verify(a)
    assert r.returncode == 0, r.stdout + r.stderr
    by_seq = {}
    for f in segments(a):
        for line in gzip.decompress(f.read_bytes()).decode().splitlines():
            rec = json.loads(line)
            by_seq[rec["seq"]] = rec
    for rec in a.receipts():
        if rec["seq"] in by_seq:
            assert by_seq[rec["seq"]]["receipt_id"] == rec["receipt_id"], "archive and live store agree"
        by_seq[rec["seq"]] = rec
    assert sorted(by_seq) == list(range(1, max(by_seq) + 1)), "no gap in the chain"
    decided = {}
    for rec in by_seq.values():
        body = rec["action"]["parameters"].get("body")
        if rec["kind"] == "decision" and isinstance(body, dict) and "w" in body:
            key = (body["w"], body["n"])
            assert key not in decided, f"action {key} decided twice: seq {decided.get(key)} and {rec['seq']}"
            decided[key] = rec["seq"]
    missing = acked - set(decided)
    assert not missing, f"{len(missing)} acknowledged actions have no receipt"
    checkpoints = [rec["checkpoint"] for rec in by_seq.values() if rec["kind"] == "checkpoint"]
    ranges = [(c["first_seq"], c["last_seq"]) for c in checkpoints if c["store"] == "receipts"]
    assert len(ranges) == len(set(ranges)), "no segment sealed twice"


def test_the_console_shows_a_filling_store_in_chromium(start_aarmor, upstream, tmp_path):
    import os
    from playwright.sync_api import expect

    a = start_aarmor(policy=POLICY, extra='[receipts]\nmax_size_mb = 4\n'
                                          '[retention]\nmode = "off"\nwarn_percent = 2\nerror_percent = 90\ncheck_interval_ms = 100\n')
    with console_page(a.admin, a.token, {"width": 1200, "height": 700}) as page:
        expect(page.locator("#app")).to_be_visible()
        banner = page.locator("#storage-banner")
        expect(banner).to_be_hidden()
        outcomes = []
        for t in run_traffic(a, upstream, workers=2, per_worker=60, outcomes=outcomes, pad=900):
            t.join(60)
        assert wait_for(lambda: requests.get(f"http://127.0.0.1:{a.admin}/v1/storage", timeout=5).json()["banner"], timeout=20)
        # The console checks every 10 s: the banner appears without a reload.
        expect(banner).to_be_visible(timeout=15000)
        expect(banner).to_contain_text("receipt store")
        expect(banner).to_contain_text("warning level 2%")
        assert "warning" in banner.get_attribute("class")
        shot = os.environ.get("AARMOR_STORAGE_SCREENSHOT")
        if shot:
            page.screenshot(path=shot, full_page=True)


def test_archived_segments_are_uploaded_to_an_s3_compatible_store_before_they_leave_the_live_store(start_aarmor, upstream, tmp_path):
    import boto3
    from moto.server import ThreadedMotoServer

    from conftest import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                          aws_access_key_id="test-key", aws_secret_access_key="test-secret")
        s3.create_bucket(Bucket="audit")
        secret = tmp_path / "s3-secret"
        secret.write_text("test-secret\n")
        secret.chmod(0o600)
        a = start_aarmor(policy=POLICY, extra=(
            "[receipts]\nmax_size_mb = 8\n"
            "[retention]\nsegment_receipts = 300\ncheck_interval_ms = 200\n"
            f'[retention.s3]\nendpoint = "http://127.0.0.1:{port}"\nbucket = "audit"\naccess_key_id = "test-key"\n'
            f'secret_access_key_file = "{secret}"\nprefix = "gw-1/"\n'))
        outcomes = []
        for t in run_traffic(a, upstream, workers=4, per_worker=700, outcomes=outcomes):
            t.join(300)
        assert not [o for o in outcomes if o[2] == 403 and "admin is off limits" not in o[3]]
        assert wait_for(lambda: len(segments(a)) >= 4, timeout=30)

        def uploaded():
            listed = s3.list_objects_v2(Bucket="audit", Prefix="gw-1/receipts/").get("Contents", [])
            return {o["Key"].rsplit("/", 1)[1] for o in listed}

        names = {f.name for f in segments(a)}
        assert wait_for(lambda: names <= uploaded(), timeout=30), (names, uploaded())
        # Each object is the archived file, byte for byte, with its marker beside it.
        for f in segments(a)[:3]:
            body = s3.get_object(Bucket="audit", Key=f"gw-1/receipts/{f.name}")["Body"].read()
            assert body == f.read_bytes()
            assert (f.parent / f"{f.name}.uploaded").exists()
        metrics = requests.get(f"http://127.0.0.1:{a.admin}/metrics", timeout=5).text
        assert "aarmor_archive_segments_uploaded_total" in metrics
        # An auditor verifies from the bucket alone plus the live store.
        auditor = tmp_path / "from-bucket" / "receipts"
        auditor.mkdir(parents=True)
        for key in uploaded():
            (auditor / key).write_bytes(s3.get_object(Bucket="audit", Key=f"gw-1/receipts/{key}")["Body"].read())
        r = a.cli("receipts", "verify", "--public-keys", str(a.data / "keys" / "public-keys.json"),
                  "--archive", str(auditor.parent), timeout=120)
        assert r.returncode == 0 and "OK:" in r.stdout, r.stdout + r.stderr
        # With the object store down, nothing more leaves the live store.
        server.stop()
        pruned = lambda: sum(float(l.rsplit(" ", 1)[1]) for l in requests.get(
            f"http://127.0.0.1:{a.admin}/metrics", timeout=5).text.splitlines()
            if l.startswith("aarmor_receipts_pruned_total"))
        before = pruned()
        more = []
        for t in run_traffic(a, upstream, workers=4, per_worker=500, outcomes=more):
            t.join(300)
        assert wait_for(lambda: "object store" in a.logs(), timeout=20)
        time.sleep(1)
        archived_not_uploaded = [f for f in segments(a) if not (f.parent / f"{f.name}.uploaded").exists()]
        assert archived_not_uploaded, "new segments were archived locally"
        live_first = min(json.loads(line)["seq"] for line in a.cli("receipts", "export").stdout.splitlines() if line)
        first_waiting = min(int(f.name.split("-")[1]) for f in archived_not_uploaded)
        assert live_first <= first_waiting, "a segment not uploaded was pruned"
        assert pruned() >= before
    finally:
        try:
            server.stop()
        except Exception:
            pass
