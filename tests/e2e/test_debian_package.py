"""The Debian package, as an operator installs it: `cargo deb` builds it from the release
binary, `dpkg -i` installs it (binary, systemd unit, /etc/aarmor/aarmor.toml as a conffile, the
aarmor system user, /var/lib/aarmor, the nftables, Prometheus and Grafana files), and the
appliance runs from it exactly as the unit runs it: as user aarmor, from /var/lib/aarmor, with
the packaged configuration. An agent's request goes through it and is receipted; `aarmor
doctor` passes. Then an upgrade to a newer version keeps the edited configuration, the edited
policy pack and every receipt, and the chain verifies across both versions. A purge leaves the
data directory (audit evidence).

Needs root and dpkg; it changes the system it runs on (a package, a user), so it runs only
where that is expected: in CI (`CI=true`) or with AARMOR_TEST_DEB=1, and puts everything back
afterwards. In CI a missing prerequisite is a failure, not a skip."""
import os
import pwd
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import requests

from conftest import BIN, ROOT, free_port, wait_for

IN_CI = os.environ.get("CI") == "true"
UNIT = Path("/usr/lib/systemd/system/aarmor.service")


def need(condition, why):
    if not condition:
        if IN_CI:
            pytest.fail(why)
        pytest.skip(why)


def sh(*args, check=True, timeout=300, **kw):
    r = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r


def build_deb(out: Path, version: str) -> Path:
    env = dict(os.environ)
    # The package is built from the binary under test.
    env["CARGO_TARGET_DIR"] = str(BIN.parent.parent)
    sh("cargo", "deb", "-p", "aarmor", "--no-build", "--fast", "--deb-version", version, "-o", str(out),
       cwd=ROOT, env=env, timeout=600)
    debs = sorted(out.glob(f"aarmor_{version}_*.deb"))
    assert len(debs) == 1, list(out.iterdir())
    return debs[0]


def unit_settings():
    """User, working directory, environment and command of the installed systemd unit."""
    settings = {"Environment": []}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            if k == "Environment":
                settings["Environment"].append(v)
            else:
                settings[k] = v
    return settings


class Service:
    """The appliance started the way the installed unit starts it."""

    def __init__(self, log: Path):
        u = unit_settings()
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
        env.update(dict(e.split("=", 1) for e in u["Environment"]))
        self.log = open(log, "a")
        self.proc = subprocess.Popen(["runuser", "-u", u["User"], "--", *u["ExecStart"].split()],
                                     cwd=u["WorkingDirectory"], env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.log.close()


def set_ports(proxy, admin):
    conf = Path("/etc/aarmor/aarmor.toml")
    text = conf.read_text()
    text = text.replace('listen = "127.0.0.1:3128"', f'listen = "127.0.0.1:{proxy}"')
    text = text.replace('listen = "127.0.0.1:9090"', f'listen = "127.0.0.1:{admin}"')
    conf.write_text(text)


def test_the_debian_package_installs_runs_as_aarmor_and_upgrades_keeping_config_policies_and_receipts(tmp_path, upstream, pki):
    wanted = IN_CI or os.environ.get("AARMOR_TEST_DEB") == "1"
    if not wanted:
        pytest.skip("installs a system package: runs in CI (CI=true) or with AARMOR_TEST_DEB=1")
    need(os.geteuid() == 0, "installing a package needs root")
    need(shutil.which("dpkg") is not None, "dpkg is missing")
    need(shutil.which("cargo-deb") is not None, "cargo-deb is missing (tests/install-deps.sh installs it)")
    need(sh("dpkg-query", "-W", "aarmor", check=False).returncode != 0, "a package named aarmor is already installed here")
    need(not Path("/var/lib/aarmor").exists(), "/var/lib/aarmor exists already")
    user_existed = True
    try:
        pwd.getpwnam("aarmor")
    except KeyError:
        user_existed = False

    first = build_deb(tmp_path / "v1", "0.1.0-1")
    second = build_deb(tmp_path / "v2", "0.1.1-1")
    service = None
    try:
        sh("dpkg", "-i", str(first))
        # What the package installed, with the owners and modes an operator relies on.
        assert os.access("/usr/bin/aarmor", os.X_OK)
        unit = UNIT.read_text()
        assert "ExecStart=/usr/bin/aarmor --config /etc/aarmor/aarmor.toml run" in unit
        # systemd applies the data dir's mode at every start: it must be the package's 0750.
        assert "StateDirectoryMode=0750" in unit and "UMask=0027" in unit
        assert "/etc/aarmor/aarmor.toml" in sh("dpkg-query", "--showformat=${Conffiles}", "-W", "aarmor").stdout
        for f in ["nftables/aarmor-gateway.nft", "nftables/aarmor-local.nft", "prometheus/aarmor-rules.yml", "grafana/aarmor.json"]:
            assert (Path("/usr/share/aarmor") / f).is_file(), f
        user = pwd.getpwnam("aarmor")
        assert user.pw_shell == "/usr/sbin/nologin" and user.pw_dir == "/var/lib/aarmor"
        data = os.stat("/var/lib/aarmor")
        assert data.st_uid == user.pw_uid and stat.S_IMODE(data.st_mode) == 0o750
        conf = os.stat("/etc/aarmor/aarmor.toml")
        assert conf.st_uid == 0 and conf.st_gid == user.pw_gid and stat.S_IMODE(conf.st_mode) == 0o640
        assert sh("/usr/bin/aarmor", "--config", "/etc/aarmor/aarmor.toml", "config", "check").returncode == 0

        # The operator points it at free ports (an edit the upgrade must keep) and trusts the
        # test upstream's CA.
        proxy, admin = free_port(), free_port()
        set_ports(proxy, admin)
        shutil.copy(pki["ca"], "/etc/aarmor/upstream-ca.pem")
        os.chmod("/etc/aarmor/upstream-ca.pem", 0o644)
        with open("/etc/aarmor/aarmor.toml", "a") as f:
            f.write('\n[upstream]\nca_files = ["/etc/aarmor/upstream-ca.pem"]\n')
        edited_config = Path("/etc/aarmor/aarmor.toml").read_text()

        service = Service(tmp_path / "aarmor.log")
        assert wait_for(lambda: _up(admin), timeout=60), (tmp_path / "aarmor.log").read_text()
        # Everything it wrote is the aarmor user's, under /var/lib/aarmor.
        ca = Path("/var/lib/aarmor/certs/ca.pem")
        assert ca.exists() and os.stat(ca).st_uid == user.pw_uid
        assert Path("/var/lib/aarmor/policies/common.rego").exists(), "the built-in pack is installed in the data dir"
        r = requests.post(f"https://localhost:{upstream.port}/v1/notes", json={"n": 1}, proxies={"https": f"http://127.0.0.1:{proxy}"},
                          verify=str(ca), timeout=30)
        assert r.status_code == 200
        r = requests.post(f"https://localhost:{upstream.port}/v1/notes", json={"note": "key AKIAIOSFODNN7EXAMPLE"},
                          proxies={"https": f"http://127.0.0.1:{proxy}"}, verify=str(ca), timeout=30)
        assert r.status_code == 403 and r.json()["rule"] == "secrets.outbound"
        d = sh("runuser", "-u", "aarmor", "--", "/usr/bin/aarmor", "--config", "/etc/aarmor/aarmor.toml", "doctor", check=False, cwd="/var/lib/aarmor")
        assert d.returncode == 0 and "running" in d.stdout, d.stdout + d.stderr
        service.stop()
        service = None
        before = receipts()
        assert len(before) >= 2

        # The operator edits the policy pack; then the upgrade.
        common = Path("/var/lib/aarmor/policies/common.rego")
        common.write_text(common.read_text() + "\n# edited by the operator\n")
        sh("dpkg", "-i", str(second))
        assert sh("dpkg-query", "--showformat=${Version}", "-W", "aarmor").stdout == "0.1.1-1"
        conf = os.stat("/etc/aarmor/aarmor.toml")
        assert conf.st_gid == user.pw_gid and stat.S_IMODE(conf.st_mode) == 0o640, "the upgrade keeps owners and modes"
        assert Path("/etc/aarmor/aarmor.toml").read_text() == edited_config, "the configuration is kept"
        assert common.read_text().endswith("# edited by the operator\n"), "the policy pack is kept"
        service = Service(tmp_path / "aarmor.log")
        assert wait_for(lambda: _up(admin), timeout=60), (tmp_path / "aarmor.log").read_text()
        r = requests.post(f"https://localhost:{upstream.port}/v1/notes", json={"n": 2}, proxies={"https": f"http://127.0.0.1:{proxy}"},
                          verify=str(ca), timeout=30)
        assert r.status_code == 200, "the CA is the same one the agents trust"
        service.stop()
        service = None
        after = receipts()
        assert after[:len(before)] == before and len(after) > len(before), "every receipt is kept and the chain continues"
        v = sh("runuser", "-u", "aarmor", "--", "/usr/bin/aarmor", "--config", "/etc/aarmor/aarmor.toml", "receipts", "verify",
               "--public-keys", "/var/lib/aarmor/keys/public-keys.json", check=False, cwd="/var/lib/aarmor")
        assert v.returncode == 0, v.stdout + v.stderr

        # A purge removes the package and its configuration, never the receipts.
        sh("dpkg", "--purge", "aarmor")
        assert not Path("/usr/bin/aarmor").exists() and not Path("/etc/aarmor/aarmor.toml").exists()
        assert Path("/var/lib/aarmor/keys/public-keys.json").exists()
    finally:
        if service:
            service.stop()
        sh("dpkg", "--purge", "aarmor", check=False)
        shutil.rmtree("/var/lib/aarmor", ignore_errors=True)
        shutil.rmtree("/etc/aarmor", ignore_errors=True)
        if not user_existed:
            sh("userdel", "aarmor", check=False)
            sh("groupdel", "aarmor", check=False)


def _up(admin):
    try:
        return requests.get(f"http://127.0.0.1:{admin}/healthz", timeout=2).ok
    except requests.RequestException:
        return False


def receipts():
    r = sh("runuser", "-u", "aarmor", "--", "/usr/bin/aarmor", "--config", "/etc/aarmor/aarmor.toml", "receipts", "export",
           cwd="/var/lib/aarmor")
    return [line for line in r.stdout.splitlines() if line.strip()]
