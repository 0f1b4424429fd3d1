"""`aarmor doctor` finds each fault it names, each made for real: a configuration key that does
not exist, a data directory that is a file, a CA that is missing, expired, about to expire,
readable by others or whose key does not match, a readable or broken signing key, a store past
its error level, a disk smaller than what the stores may grow to, a policy that does not
compile, an identity registry that does not parse or names no agent, a model that does not load
where the bundle needs it, no approver or a token file that is missing, a TCP sink that refuses, a
TLS sink that does not speak TLS, an object store and a webhook that refuse, an appliance that
is not running, and one running whose store is past its error level. A healthy appliance
passes with exit status 0."""
import datetime
import json
import os
import shutil
import socket
import subprocess
import threading

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import BIN, ROOT, free_port, wait_for


def doctor(config, *args):
    r = subprocess.run([str(BIN), "--config", str(config), "doctor", "--json", *args],
                       capture_output=True, text=True, timeout=120)
    checks = json.loads(r.stdout)
    by_name = {}
    for c in checks:
        by_name.setdefault(c["name"], c)
    return r.returncode, by_name


def write_config(path, data, extra="", admin_port=None, policy_dir=None, model_dir=None):
    path.write_text(
        f'data_dir = "{data}"\n{extra}\n'
        f'[admin]\nlisten = "127.0.0.1:{admin_port or free_port()}"\n'
        f'[policy]\ndir = "{policy_dir or ROOT / "policies"}"\n'
        f'[approvals]\ntoken = "doctor-test-token"\n'
        f'[intent]\nmodel_dir = "{model_dir or ROOT / "models" / "all-MiniLM-L6-v2"}"\n')
    return path


@pytest.fixture
def prepared(start_aarmor):
    """A data directory an appliance ran on (CA, keys, stores), the appliance stopped again."""
    a = start_aarmor()
    a.stop()
    return a


def make_ca(cert_path, key_path, not_after):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "aarmor interception CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=400))
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    os.chmod(key_path, 0o600)


def test_a_healthy_running_appliance_passes(start_aarmor):
    a = start_aarmor()
    rc, checks = doctor(a.config)
    assert rc == 0, checks
    for name in ["config", "data dir", "ca", "keys", "receipts store", "context store", "disk", "policy", "identities", "approvers", "appliance"]:
        assert checks[name]["status"] == "ok", (name, checks[name])
    assert "running" in checks["appliance"]["detail"]
    # The text report says the same, with its verdict.
    r = subprocess.run([str(BIN), "--config", str(a.config), "doctor"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "All checks passed." in r.stdout, r.stdout


def test_configuration_data_dir_ca_and_key_faults(prepared, tmp_path):
    data = prepared.data
    cfg = tmp_path / "aarmor.toml"

    # A key that does not exist: named, exit status 1.
    cfg.write_text(f'data_dir = "{data}"\n[proxy]\nlisten_on = "127.0.0.1:1"\n')
    rc, checks = doctor(cfg)
    assert rc == 1 and checks["config"]["status"] == "fail" and "listen_on" in checks["config"]["detail"]

    # The data dir is a file.
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    rc, checks = doctor(write_config(cfg, not_a_dir), "--offline")
    assert rc == 1 and checks["data dir"]["status"] == "fail" and "not a directory" in checks["data dir"]["detail"]

    write_config(cfg, data)
    rc, checks = doctor(cfg, "--offline")
    assert rc == 0 and checks["ca"]["status"] == "ok", checks

    certs = data / "certs"
    # Others can read the CA's key.
    os.chmod(certs / "ca.key", 0o644)
    rc, checks = doctor(cfg, "--offline")
    assert rc == 1 and checks["ca"]["status"] == "fail" and "mode 644" in checks["ca"]["detail"]
    assert "chmod 600" in checks["ca"]["fix"]
    os.chmod(certs / "ca.key", 0o600)

    saved = tmp_path / "certs-saved"
    shutil.copytree(certs, saved)
    now = datetime.datetime.now(datetime.timezone.utc)
    # Expired.
    make_ca(certs / "ca.pem", certs / "ca.key", now - datetime.timedelta(days=1))
    rc, checks = doctor(cfg, "--offline")
    assert rc == 1 and checks["ca"]["status"] == "fail" and "expired" in checks["ca"]["detail"]
    # Expires in ten days.
    make_ca(certs / "ca.pem", certs / "ca.key", now + datetime.timedelta(days=10, hours=1))
    rc, checks = doctor(cfg, "--offline")
    assert rc == 0 and checks["ca"]["status"] == "warn" and "expires in 10 day(s)" in checks["ca"]["detail"]
    # The key is not the certificate's.
    shutil.copy(saved / "ca.key", certs / "ca.key")
    rc, checks = doctor(cfg, "--offline")
    assert rc == 1 and checks["ca"]["status"] == "fail" and "does not match" in checks["ca"]["detail"]
    # Missing.
    shutil.rmtree(certs)
    rc, checks = doctor(cfg, "--offline")
    assert checks["ca"]["status"] == "warn" and "no interception CA" in checks["ca"]["detail"]
    shutil.copytree(saved, certs)

    # A receipt signing key others can read, then one that is not a key.
    keys = data / "keys"
    key_file = next(p for p in keys.iterdir() if p.suffix == ".key")
    os.chmod(key_file, 0o640)
    rc, checks = doctor(cfg, "--offline")
    assert rc == 1 and checks["keys"]["status"] == "fail" and "mode 640" in checks["keys"]["detail"]
    os.chmod(key_file, 0o600)
    original = key_file.read_bytes()
    key_file.write_bytes(b"garbage")
    rc, checks = doctor(cfg, "--offline")
    assert rc == 1 and checks["keys"]["status"] == "fail"
    key_file.write_bytes(original)
    rc, checks = doctor(cfg, "--offline")
    assert rc == 0, checks


def test_store_and_disk_faults(start_aarmor, upstream, tmp_path):
    a = start_aarmor()
    for i in range(40):
        requests.post(f"https://localhost:{upstream.port}/v1/notes", json={"n": i, "note": "x" * 900},
                      proxies={"https": a.url}, verify=str(a.ca), timeout=30)
    a.stop()
    data = a.data
    cfg = tmp_path / "aarmor.toml"
    # A limit the store is already past the error level of (its pages in use are counted).
    write_config(cfg, data, extra='[receipts]\nmax_size_mb = 1\n[retention]\nmode = "off"\nwarn_percent = 1\nerror_percent = 2\n')
    rc, checks = doctor(cfg, "--offline")
    assert rc == 1 and checks["receipts store"]["status"] == "fail" and "error level" in checks["receipts store"]["detail"]
    # Limits far larger than the disk: it fills before them.
    write_config(cfg, data, extra='[receipts]\nmax_size_mb = 1000000000\n')
    rc, checks = doctor(cfg, "--offline")
    assert checks["disk"]["status"] == "warn" and "fills before" in checks["disk"]["detail"], checks["disk"]


def test_policy_identity_model_and_approver_faults(prepared, tmp_path):
    data = prepared.data
    cfg = tmp_path / "aarmor.toml"
    pol = tmp_path / "policies"
    shutil.copytree(ROOT / "policies", pol)

    (pol / "broken.rego").write_text("package aarmor.policy\n\ndecisions contains d if {\n")
    rc, checks = doctor(write_config(cfg, data, policy_dir=pol), "--offline")
    assert rc == 1 and checks["policy"]["status"] == "fail" and "broken.rego" in checks["policy"]["detail"]
    (pol / "broken.rego").unlink()

    original = (pol / "identities.yaml").read_text()
    (pol / "identities.yaml").write_text("agents:\n  - name: x\n    cidr: 10.0.0.0/8\n")
    rc, checks = doctor(cfg, "--offline")
    assert rc == 1 and checks["identities"]["status"] == "fail" and "cidr" in checks["identities"]["detail"]
    assert checks["policy"]["status"] == "ok", "the policies are judged apart from the registry"
    (pol / "identities.yaml").write_text("agents: []\n")
    rc, checks = doctor(cfg, "--offline")
    assert checks["identities"]["status"] == "warn" and "no agent" in checks["identities"]["detail"]
    (pol / "identities.yaml").write_text(original)

    # A rule that needs intent drift, and a model whose weights were damaged.
    (pol / "drift.rego").write_text('package aarmor.policy\n\ndecisions contains d if {\n    input.action.tool == "never"\n'
                                    '    d := {"decision": "deny", "priority": 1, "rule": "t.drift", "reason": "r", "requires": ["intent.drift"]}\n}\n')
    model = tmp_path / "model"
    shutil.copytree(ROOT / "models" / "all-MiniLM-L6-v2", model)
    rc, checks = doctor(write_config(cfg, data, policy_dir=pol, model_dir=model), "--offline")
    assert checks["model"]["status"] == "ok", checks["model"]
    with open(model / "model-int8.onnx", "r+b") as f:
        f.seek(1000)
        f.write(b"\0" * 64)
    rc, checks = doctor(cfg, "--offline")
    assert rc == 1 and checks["model"]["status"] == "fail" and "refuses to start" in checks["model"]["detail"]

    # Nobody can answer a STEP_UP; a token file that cannot be read.
    cfg.write_text(cfg.read_text().replace('token = "doctor-test-token"', 'token = ""'))
    rc, checks = doctor(cfg, "--offline")
    assert checks["approvers"]["status"] == "warn" and "denied at once" in checks["approvers"]["detail"]
    cfg.write_text(cfg.read_text().replace('token = ""', f'token_file = "{tmp_path / "missing.token"}"'))
    rc, checks = doctor(cfg, "--offline")
    assert rc == 1 and checks["config"]["status"] == "fail" and "missing.token" in checks["config"]["detail"]


def listener(handler):
    """A loopback TCP listener that hands each connection to `handler`."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)

    def serve():
        while True:
            try:
                conn, _ = s.accept()
            except OSError:
                return
            threading.Thread(target=handler, args=(conn,), daemon=True).start()
    threading.Thread(target=serve, daemon=True).start()
    return s


def test_network_faults(prepared, tmp_path):
    data = prepared.data
    cfg = tmp_path / "aarmor.toml"
    collector = listener(lambda c: (c.recv(1024), c.close()))
    not_tls = listener(lambda c: (c.sendall(b"220 plain text service\r\n"), c.close()))
    closed = free_port()
    try:
        sinks = (f'[[telemetry.sinks]]\nname = "up"\nurl = "tcp://127.0.0.1:{collector.getsockname()[1]}"\n'
                 f'[[telemetry.sinks]]\nname = "refused"\nurl = "tcp://127.0.0.1:{closed}"\n'
                 f'[[telemetry.sinks]]\nname = "plain"\nurl = "tls://127.0.0.1:{not_tls.getsockname()[1]}"\nserver_name = "siem.test"\n'
                 f'[[telemetry.sinks]]\nname = "dgram"\nurl = "udp://127.0.0.1:{closed}"\n')
        retention = (f'[retention.s3]\nendpoint = "http://127.0.0.1:{closed}"\nbucket = "b"\naccess_key_id = "k"\n'
                     f'secret_access_key_file = "{tmp_path / "s3.secret"}"\n')
        (tmp_path / "s3.secret").write_text("secret\n")
        webhook = f'[[approvals.webhooks]]\nurl = "http://127.0.0.1:{closed}/hook"\nkind = "generic"\nsecret = "s"\n'
        text = write_config(cfg, data, extra=sinks).read_text()
        text = text.replace('token = "doctor-test-token"\n', 'token = "doctor-test-token"\n' + webhook) + retention
        cfg.write_text(text)
        rc, checks = doctor(cfg)
        assert rc == 1
        assert checks["sink up"]["status"] == "ok", checks["sink up"]
        assert checks["sink refused"]["status"] == "fail" and "unreachable" in checks["sink refused"]["detail"]
        assert checks["sink plain"]["status"] == "fail" and "TLS handshake" in checks["sink plain"]["detail"]
        assert checks["sink dgram"]["status"] == "skip"
        assert checks["object store"]["status"] == "fail" and "unreachable" in checks["object store"]["detail"]
        assert checks["webhook 1"]["status"] == "fail"
        assert checks["appliance"]["status"] == "warn" and "not running" in checks["appliance"]["detail"]
        # --offline leaves the network alone.
        rc, checks = doctor(cfg, "--offline")
        assert rc == 0 and "sink refused" not in checks and checks["network"]["status"] == "skip"
    finally:
        collector.close()
        not_tls.close()


def test_a_running_appliance_with_a_store_past_its_error_level(start_aarmor, upstream):
    a = start_aarmor(extra='[receipts]\nmax_size_mb = 4\n[retention]\nmode = "off"\nwarn_percent = 2\nerror_percent = 3\ncheck_interval_ms = 100\n')
    for i in range(40):
        requests.post(f"https://localhost:{upstream.port}/v1/notes", json={"n": i, "pad": "x" * 4000},
                      proxies={"https": a.url}, verify=str(a.ca), timeout=30)
    assert wait_for(lambda: (requests.get(f"http://127.0.0.1:{a.admin}/v1/storage", timeout=5).json()["banner"] or {}).get("level") == "critical", timeout=20)
    rc, checks = doctor(a.config)
    assert rc == 1
    assert checks["appliance"]["status"] == "fail" and "running, but" in checks["appliance"]["detail"], checks["appliance"]
