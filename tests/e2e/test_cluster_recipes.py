"""The cluster recipes (deploy/cluster): Redis settings, the lab's template unit and replica
configs, HAProxy, the ECMP router's nftables, and the Kubernetes overlay, checked with the tools
that read them and run the way the README runs them. Loopback and private network namespaces only.

- redis.conf: redis-server runs with it (persistence on, no eviction, passwords required, the
  aarmor user confined to its key prefix and to non-administrative commands), and a restart from
  its append-only file keeps what aarmor wrote;
- systemd/aarmor@.service: systemd-analyze verify passes, and it carries the single unit's
  hardening with one data dir per instance; replica-a.toml and the replica-b/-c made from it with
  the README's sed commands pass `aarmor config check` and differ only where they must;
- haproxy.cfg: `haproxy -c` accepts it as shipped and with its stats socket turned on; TCP mode,
  health checks on each replica's admin /healthz, timeouts longer than a held approval;
- the lab end to end: redis-server with redis.conf, the three replica configs, one CA copied to
  all three before their first start, and HAProxy with haproxy.cfg in front of them: requests
  through the balancer reach every replica, an approval held on one replica is answered on
  another, `aarmor cluster status` lists the three, a stopped replica costs no request, and the
  merged receipt export verifies with `aarmor cluster keys`; Redis refused nothing aarmor asked;
- nftables-ecmp.nft: `nft -c` accepts it, and loaded unchanged into a router namespace it spreads
  an agent subnet's connections over three replica namespaces (each with
  deploy/nftables/aarmor-gateway.nft unchanged): every replica serves some, the agents' addresses
  reach the replicas, and the file's failover command moves a dead replica's share;
- kubernetes/: `kubectl kustomize` renders the overlay over ../../kubernetes, the objects validate
  against the Kubernetes schemas, the StatefulSet keeps the single gateway's security settings,
  and setup.sh, run as the init container runs it (read-only root, the image's user, the
  manifest's mounts), writes a configuration `aarmor config check` accepts, installs the
  Secret's CA and the policy bundle, and leaves the aarmor container what it needs.
"""
import json
import os
import re
import resource
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path

import pytest
import requests

from conftest import BIN, ROOT, Aarmor, free_port, make_leaf, wait_for

yaml = pytest.importorskip("yaml")

CLUSTER = ROOT / "deploy" / "cluster"
README = CLUSTER / "README.md"
REDIS_CONF = CLUSTER / "redis.conf"
HAPROXY_CFG = CLUSTER / "haproxy.cfg"
NFT_ECMP = CLUSTER / "nftables-ecmp.nft"
UNIT = CLUSTER / "systemd" / "aarmor@.service"
SINGLE_UNIT = ROOT / "deploy" / "systemd" / "aarmor.service"
REPLICA_A = CLUSTER / "systemd" / "replica-a.toml"
K8S = CLUSTER / "kubernetes"
K8S_BASE = ROOT / "deploy" / "kubernetes"
GATEWAY_NFT = ROOT / "deploy" / "nftables" / "aarmor-gateway.nft"
REPLICAS = ("replica-a", "replica-b", "replica-c")
AARMOR_PASSWORD = "aarmor-" + secrets.token_hex(12)
ADMIN_PASSWORD = "admin-" + secrets.token_hex(12)
TOKEN = "cluster-recipes-token"

# Decides /v1/transfer by approval (held), everything else by default (allowed).
STEP_UP_POLICY = """package aarmor.policy

decisions contains d if {
    input.action.target.path == "/v1/transfer"
    d := {"decision": "step_up", "class": "context_allow", "priority": 500, "rule": "test.transfer",
          "reason": "transfers need an approval", "timeout": 60}
}
"""


def need(tool):
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} not installed")


def need_binary():
    if not BIN.exists():
        pytest.skip(f"{BIN} not built")


def run(*cmd, check=False, timeout=60, **kw):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, check=check, timeout=timeout, **kw)


# ---------------------------------------------------------------------------------------------
# TOML and the replica configurations


def toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, list)):
        return json.dumps(value)  # strings and lists of strings: JSON's syntax is TOML's
    return str(value)


def set_key(text, section, key, value):
    """`key = value` in [section] of a TOML text (None: the top level): the key's line replaced,
    or the line added right after the section's header (the section added if missing)."""
    lines = text.splitlines()
    rendered = f"{key} = {toml_value(value)}"
    current, header = None, None if section else -1
    for i, line in enumerate(lines):
        m = re.match(r"^\[([^\]]+)\]\s*(#.*)?$", line)
        if m:
            current = m.group(1)
            if current == section:
                header = i
            continue
        if current == section and re.match(rf"^{re.escape(key)}\s*=", line):
            lines[i] = rendered
            return "\n".join(lines) + "\n"
    if header is None:
        lines += ["", f"[{section}]", rendered]
    elif header == -1:
        lines.insert(0, rendered)
    else:
        lines.insert(header + 1, rendered)
    return "\n".join(lines) + "\n"


def readme_sed_commands():
    """The README's commands that make replica-b and replica-c from replica-a.toml."""
    commands = [line.strip() for line in README.read_text().splitlines()
                if re.match(r"^\s*sed .* replica-a\.toml > replica-[a-z]\.toml\s*$", line)]
    assert len(commands) == 2, commands
    return commands


def replica_texts(workdir: Path):
    """{name: text} of the three replica configs, made as the README makes them."""
    shutil.copy(REPLICA_A, workdir / "replica-a.toml")
    for command in readme_sed_commands():
        r = run("sh", "-c", command, cwd=workdir)
        assert r.returncode == 0, r.stderr
    return {name: (workdir / f"{name}.toml").read_text() for name in REPLICAS}


def differing_lines(a, b):
    return [(x, y) for x, y in zip(a.splitlines(), b.splitlines()) if x != y]


def test_replica_configs_differ_only_where_they_must_and_pass_config_check(tmp_path):
    need_binary()
    texts = replica_texts(tmp_path)
    a = texts["replica-a"]
    assert "REPLACE-with-the-redis-password" in a, "the Redis password is a placeholder"
    for name in ("replica-b", "replica-c"):
        assert len(texts[name].splitlines()) == len(a.splitlines())
        changed = differing_lines(a, texts[name])
        # Comment lines may name the replica; every changed setting is marked "per replica".
        settings = [(x, y) for x, y in changed if not x.lstrip().startswith("#")]
        assert settings and all(x.rstrip().endswith("# per replica") for x, _ in settings), settings
    effective = {}
    for name, text in texts.items():
        config = tomllib.loads(text)
        # The lab's layout: the unit's StateDirectory, loopback listeners.
        assert config["data_dir"] == f"/var/lib/aarmor/{name}"
        assert config["proxy"]["listen"].startswith("127.0.0.1:") and config["admin"]["listen"].startswith("127.0.0.1:")
        # `aarmor config check` on the file with its data dir moved to a temporary directory.
        path = tmp_path / "check" / f"{name}.toml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(set_key(text, None, "data_dir", str(tmp_path / "data" / name)))
        r = run(BIN, "--config", path, "config", "check", timeout=30)
        assert r.returncode == 0, f"{name}: {r.stderr}"
        effective[name] = tomllib.loads(r.stdout.split("\n", 1)[1])
        assert not (tmp_path / "data" / name).exists(), "config check writes nothing"
    clusters = [effective[n]["cluster"] for n in REPLICAS]
    assert all(c["enabled"] is True for c in clusters)
    assert [c["replica"] for c in clusters] == list(REPLICAS), "each replica named after its unit instance"
    for key in ("redis_url", "key_prefix", "timeout_ms", "session_retention_s", "heartbeat_s", "replica_timeout_s"):
        assert len({c[key] for c in clusters}) == 1, f"cluster.{key} differs between replicas"
    assert len({effective[n]["policy"]["dir"] for n in REPLICAS}) == 1, "one policy bundle"
    for key in (("proxy", "listen"), ("admin", "listen")):
        assert len({effective[n][key[0]][key[1]] for n in REPLICAS}) == 3, f"{key} must differ"
    assert len({tomllib.loads(texts[n])["data_dir"] for n in REPLICAS}) == 3, "never one data dir for two replicas"


# ---------------------------------------------------------------------------------------------
# The template unit


def unit_directives(path):
    """{(section, key): [values]} of a unit file."""
    found, section = {}, None
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        found.setdefault((section, key.strip()), []).append(value.strip())
    return found


def test_the_template_unit_keeps_the_single_units_hardening_with_a_data_dir_per_instance():
    unit, single = unit_directives(UNIT), unit_directives(SINGLE_UNIT)
    service = {k: v for (s, k), v in unit.items() if s == "Service"}
    single_service = {k: v for (s, k), v in single.items() if s == "Service"}
    per_instance = {"ExecStart", "StateDirectory", "Environment", "WorkingDirectory", "ReadWritePaths"}
    assert set(service) == set(single_service), set(service) ^ set(single_service)
    for key in set(service) - per_instance:
        assert service[key] == single_service[key], key
    assert service["ExecStart"] == ["/usr/bin/aarmor --config /etc/aarmor/%i.toml run"]
    assert service["StateDirectory"] == ["aarmor/%i"]
    assert service["Environment"] == ["AARMOR_DATA_DIR=/var/lib/aarmor/%i"]
    assert service["WorkingDirectory"] == service["ReadWritePaths"] == ["/var/lib/aarmor/%i"]
    assert unit[("Install", "WantedBy")] == single[("Install", "WantedBy")]
    # The lab's replica-a.toml is what the instance aarmor@replica-a reads, in its own data dir.
    config = tomllib.loads(REPLICA_A.read_text())
    instance = "replica-a"
    assert config["data_dir"] == service["WorkingDirectory"][0].replace("%i", instance)
    assert config["cluster"]["replica"] == instance


def test_systemd_analyze_verifies_the_template_unit(tmp_path):
    need("systemd-analyze")
    need_binary()
    # The unit as installed, with the binary under test where the package puts /usr/bin/aarmor.
    text = UNIT.read_text()
    assert text.count("/usr/bin/aarmor ") == 1
    (tmp_path / "aarmor@.service").write_text(text.replace("/usr/bin/aarmor ", f"{BIN} "))
    r = run("systemd-analyze", "verify", "--man=no", tmp_path / "aarmor@replica-a.service", timeout=60)
    assert r.returncode == 0 and not r.stderr.strip() and not r.stdout.strip(), r.stdout + r.stderr
    # The check does report a broken unit.
    (tmp_path / "aarmor@.service").write_text(text.replace("/usr/bin/aarmor ", f"{BIN} ").replace("ProtectHome=", "ProtectHomes="))
    r = run("systemd-analyze", "verify", "--man=no", tmp_path / "aarmor@replica-a.service", timeout=60)
    assert "ProtectHomes" in r.stderr


# ---------------------------------------------------------------------------------------------
# Redis


class RecipeRedis:
    """redis-server with deploy/cluster/redis.conf, its passwords set, on a port, address and
    directory of the test's (appended: later directives win)."""

    def __init__(self, workdir: Path, bind="127.0.0.1", netns=None):
        text = REDIS_CONF.read_text()
        for placeholder, password in (("REPLACE-with-the-aarmor-password", AARMOR_PASSWORD), ("REPLACE-with-the-admin-password", ADMIN_PASSWORD)):
            assert text.count(f">{placeholder}") == 1, placeholder
            text = text.replace(f">{placeholder}", f">{password}")
        self.dir = workdir
        self.host = bind
        self.port = free_port() if netns is None else 6379
        self.prefix = ["ip", "netns", "exec", netns] if netns else []
        text += f"\n# The test's own\nport {self.port}\nbind {bind}\ndir {workdir}\nlogfile {workdir / 'redis.log'}\n"
        self.conf = workdir / "redis.conf"
        self.conf.write_text(text)
        self.start()

    def start(self):
        self.proc = subprocess.Popen([*self.prefix, "redis-server", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert wait_for(lambda: self.cli("PING").strip() == "PONG" or self.proc.poll() is not None, 15)
        assert self.proc.poll() is None, (self.dir / "redis.log").read_text()

    def url(self):
        return f"redis://aarmor:{AARMOR_PASSWORD}@{self.host}:{self.port}/0"

    def cli(self, *args, user="default", password=ADMIN_PASSWORD):
        auth = ["--user", user, "--pass", password, "--no-auth-warning"] if user else []
        r = subprocess.run([*self.prefix, "redis-cli", "-h", self.host, "-p", str(self.port), *auth, *args],
                           capture_output=True, text=True, timeout=10)
        return r.stdout + r.stderr

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def redis(tmp_path):
    need("redis-server")
    need("redis-cli")
    d = tmp_path / "redis"
    d.mkdir()
    r = RecipeRedis(d)
    yield r
    r.stop()


def test_redis_conf_persists_never_evicts_and_confines_aarmor(redis):
    def get(name):
        return redis.cli("CONFIG", "GET", name).split()[1:]

    assert get("appendonly") == ["yes"]
    assert get("appendfsync") in (["everysec"], ["always"])
    assert get("maxmemory-policy") == ["noeviction"]
    assert get("protected-mode") == ["yes"]
    assert get("cluster-enabled") == ["no"], "one primary: Redis Cluster is not supported"
    assert wait_for(lambda: any(redis.dir.rglob("*.aof")), 10), "the append-only file is written"
    # Nobody gets in without a password.
    assert "NOAUTH" in redis.cli("PING", user=None)
    assert "WRONGPASS" in redis.cli("PING", user="default", password="guess")
    assert "WRONGPASS" in redis.cli("PING", user="aarmor", password="guess")
    aarmor = dict(user="aarmor", password=AARMOR_PASSWORD)
    # aarmor's user: its keys and channels, data commands and scripts; nothing else.
    assert redis.cli("SET", "aarmor:probe", "1", **aarmor).strip() == "OK"
    assert redis.cli("EVAL", "return redis.call('GET', ARGV[1])", "0", "aarmor:probe", **aarmor).strip() == "1"
    assert "NOPERM" in redis.cli("SET", "other:probe", "1", **aarmor)
    assert "can't access" in redis.cli("EVAL", "return redis.call('GET', 'other:probe')", "0", **aarmor)
    assert "NOPERM" in redis.cli("PUBLISH", "other:changed", "x", **aarmor)
    assert redis.cli("PUBLISH", "aarmor:changed", "x", **aarmor).strip() == "0"
    for admin in (("CONFIG", "GET", "appendonly"), ("FLUSHALL",), ("KEYS", "*"), ("ACL", "LIST"), ("REPLICAOF", "NO", "ONE"), ("CLIENT", "LIST")):
        assert "NOPERM" in redis.cli(*admin, **aarmor), admin


# ---------------------------------------------------------------------------------------------
# HAProxy


def haproxy_lines(text=None):
    """Active (not commented) lines of haproxy.cfg, stripped, grouped by section."""
    sections, current = {}, None
    for raw in (text if text is not None else HAPROXY_CFG.read_text()).splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if not raw[0].isspace():
            current = line
            sections[current] = []
        else:
            sections[current].append(line)
    return sections


def duration_s(value):
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    m = re.fullmatch(r"(\d+)(ms|s|m|h|d)?", value)
    return int(m.group(1)) * units[m.group(2) or "ms"]


def haproxy_servers(sections=None):
    sections = sections or haproxy_lines()
    (backend,) = [k for k in sections if k.startswith("backend ")]
    servers = {}
    for line in sections[backend]:
        if line.startswith("server "):
            m = re.fullmatch(r"server (\S+) (\S+):(\d+) check port (\d+)(.*)", line)
            assert m, line
            servers[m.group(1)] = {"address": m.group(2), "port": int(m.group(3)), "check_port": int(m.group(4))}
    return backend, servers


def test_haproxy_cfg_is_tcp_with_health_checks_on_admin_and_long_timeouts(tmp_path):
    sections = haproxy_lines()
    defaults = sections["defaults"]
    assert "mode tcp" in defaults
    assert not any(line.startswith("mode http") for lines in sections.values() for line in lines)
    timeouts = {line.split()[1]: duration_s(line.split()[2]) for line in defaults if line.startswith("timeout ")}
    # At least 10 minutes, and longer than a held approval and a silent streamed response.
    assert timeouts["client"] >= 600 and timeouts["server"] >= 600
    if BIN.exists():
        default = tomllib.loads(run(BIN, "config", "print-default").stdout)
        longest = max(default["mediation"]["max_hold_ms"], default["upstream"]["read_timeout_ms"],
                      default["policy"]["step_up_timeout_s"] * 1000) / 1000
        assert timeouts["client"] > longest and timeouts["server"] > longest
    # The runtime API is off unless an operator turns it on.
    assert not any(line.startswith("stats ") for line in sections["global"])
    assert "# stats socket " in HAPROXY_CFG.read_text()
    backend, servers = haproxy_servers(sections)
    lines = sections[backend]
    assert "option httpchk" in lines
    assert any(re.fullmatch(r"http-check send meth GET uri /healthz( .*)?", line) for line in lines)
    assert "http-check expect status 200" in lines
    # The servers are the lab's replicas: proxy listener, and the health check on the admin one.
    assert list(servers) == list(REPLICAS)
    for name, text in replica_texts(tmp_path).items():
        config = tomllib.loads(text)
        assert f'{servers[name]["address"]}:{servers[name]["port"]}' == config["proxy"]["listen"]
        assert servers[name]["check_port"] == int(config["admin"]["listen"].rsplit(":", 1)[1])
    (frontend,) = [k for k in sections if k.startswith("frontend ")]
    assert any(line.startswith("bind ") and line.endswith(":3128") for line in sections[frontend])


def haproxy_check(path):
    r = run("haproxy", "-c", "-f", path, timeout=30)
    return r.returncode, r.stdout + r.stderr


def test_haproxy_accepts_the_config_as_shipped_and_with_its_stats_socket(tmp_path):
    need("haproxy")
    code, out = haproxy_check(HAPROXY_CFG)
    assert code == 0 and "[WARNING]" not in out and "[ALERT]" not in out, out
    enabled = HAPROXY_CFG.read_text().replace("# stats socket /run/haproxy/admin.sock", f"stats socket {tmp_path}/admin.sock")
    assert enabled != HAPROXY_CFG.read_text()
    (tmp_path / "stats.cfg").write_text(enabled)
    code, out = haproxy_check(tmp_path / "stats.cfg")
    assert code == 0 and "[WARNING]" not in out, out
    # The check does refuse a broken file.
    (tmp_path / "broken.cfg").write_text(HAPROXY_CFG.read_text().replace("balance leastconn", "balance fewestconn"))
    assert haproxy_check(tmp_path / "broken.cfg")[0] != 0


# ---------------------------------------------------------------------------------------------
# The lab end to end: Redis, three replicas, HAProxy


class Replica:
    """One replica started from its lab config, moved to the test's ports and directories."""

    def __init__(self, name, text, workdir: Path, redis_url, policy_dir, upstream_ca):
        self.name = name
        self.dir = workdir / name
        self.dir.mkdir()
        self.data = self.dir / "data"
        self.port, self.admin = free_port(), free_port()
        config = tomllib.loads(text)
        self.lab_port = int(config["proxy"]["listen"].rsplit(":", 1)[1])
        self.lab_admin = int(config["admin"]["listen"].rsplit(":", 1)[1])
        assert config["cluster"]["redis_url"].count("REPLACE-with-the-redis-password") == 1
        for section, key, value in ((None, "data_dir", str(self.data)), ("proxy", "listen", f"127.0.0.1:{self.port}"),
                                    ("admin", "listen", f"127.0.0.1:{self.admin}"), ("policy", "dir", str(policy_dir)),
                                    ("cluster", "redis_url", redis_url), ("approvals", "token", TOKEN),
                                    ("upstream", "ca_files", [str(upstream_ca)]), ("proxy", "threads", 1),
                                    ("intent", "model_dir", str(ROOT / "models" / "all-MiniLM-L6-v2"))):
            text = set_key(text, section, key, value)
        self.config = self.dir / f"{name}.toml"
        self.config.write_text(text)
        self.proc = None
        self.log_path = self.dir / "aarmor.log"

    def cli(self, *args, timeout=30):
        return run(BIN, "--config", self.config, *args, timeout=timeout)

    def start(self):
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen([str(BIN), "--config", str(self.config), "run"], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            assert self.proc.poll() is None, f"{self.name} exited:\n{self.log_path.read_text()}"
            try:
                if requests.get(f"http://127.0.0.1:{self.admin}/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.name} did not start:\n{self.log_path.read_text()}")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            self.log.close()

    def receipts(self):
        r = self.cli("receipts", "export")
        assert r.returncode == 0, r.stderr
        return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]

    def approvals(self):
        r = requests.get(f"http://127.0.0.1:{self.admin}/v1/approvals", headers={"authorization": f"Bearer {TOKEN}"}, timeout=5)
        r.raise_for_status()
        return r.json()["approvals"]


class HAProxy:
    """haproxy.cfg with the lab's ports mapped to the test's, its stats socket on, in the
    foreground."""

    def __init__(self, workdir: Path, replicas):
        self.port = free_port()
        self.socket = workdir / "haproxy.sock"
        text = HAPROXY_CFG.read_text()
        ports = {3128: self.port}
        for r in replicas:
            ports[r.lab_port] = r.port
            ports[r.lab_admin] = r.admin
        text = re.sub(r"(?<=127\.0\.0\.1:)(\d+)\b|(?<=check port )(\d+)\b", lambda m: str(ports[int(m.group(0))]), text)
        text = text.replace("# stats socket /run/haproxy/admin.sock", f"stats socket {self.socket}")
        if subprocess.run(["getent", "passwd", "haproxy"], capture_output=True).returncode != 0 or not Path("/var/lib/haproxy").is_dir():
            # Where the package's user and chroot are missing: run as the test's user.
            text = re.sub(r"(?m)^\s*(user|group|chroot) .*$", "", text)
        # HAProxy needs two descriptors per connection and raises its limit itself; where this
        # machine caps it lower (a container), fewer connections.
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        maxconn = int(re.search(r"(?m)^\s*maxconn (\d+)", text).group(1))
        if hard != resource.RLIM_INFINITY and hard < 2 * maxconn + 1000:
            text = re.sub(r"(?m)^(\s*maxconn )\d+", lambda m: f"{m.group(1)}{(hard - 1000) // 2}", text)
        self.cfg = workdir / "haproxy.cfg"
        self.cfg.write_text(text)
        code, out = haproxy_check(self.cfg)
        assert code == 0, out
        self.log_path = workdir / "haproxy.log"
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(["haproxy", "-db", "-f", str(self.cfg)], stdout=self.log, stderr=subprocess.STDOUT)

    def command(self, line):
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(str(self.socket))
            s.sendall(line.encode() + b"\n")
            out = b""
            while chunk := s.recv(65536):
                out += chunk
        return out.decode()

    def status(self):
        """{server: status} of the backend (UP, DOWN, ...)."""
        try:
            lines = self.command("show stat").splitlines()
        except OSError:
            return {}
        header = lines[0].lstrip("# ").split(",")
        out = {}
        for line in lines[1:]:
            row = dict(zip(header, line.split(",")))
            if row.get("pxname") == "aarmor_replicas" and row.get("svname") not in ("BACKEND", None):
                out[row["svname"]] = row["status"]
        return out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.log.close()


@pytest.fixture
def lab(tmp_path, redis, pki):
    """Redis with redis.conf, the three replica configs with one CA copied to all before their
    first start, and HAProxy with haproxy.cfg: the README's lab, on the test's ports."""
    need("haproxy")
    need_binary()
    texts = replica_texts(tmp_path)
    policy_dir = tmp_path / "policies"
    policy_dir.mkdir()
    (policy_dir / "policy.rego").write_text(STEP_UP_POLICY)
    shutil.copy(ROOT / "policies" / "identities.yaml", policy_dir / "identities.yaml")
    replicas = [Replica(name, texts[name], tmp_path, redis.url(), policy_dir, pki["ca"]) for name in REPLICAS]
    # One CA, created once and copied to every replica's data dir before its first start.
    r = replicas[0].cli("ca", "init")
    assert r.returncode == 0, r.stderr
    for other in replicas[1:]:
        shutil.copytree(replicas[0].data / "certs", other.data / "certs")
    balancer = None
    try:
        for replica in replicas:
            replica.start()
        balancer = HAProxy(tmp_path, replicas)
        assert wait_for(lambda: balancer.status() == {n: "UP" for n in REPLICAS}, 20), balancer.status()
        yield redis, replicas, balancer
    finally:
        if balancer is not None:
            balancer.stop()
        for replica in replicas:
            replica.stop()


def through(balancer, ca, upstream, path, method="GET", timeout=20, **kw):
    return requests.request(method, f"https://localhost:{upstream.port}{path}", proxies={"https": f"http://127.0.0.1:{balancer.port}"},
                            verify=str(ca), timeout=timeout, **kw)


def served(replica, prefix):
    return {r["action"]["target"]["path"] for r in replica.receipts()
            if r["kind"] == "decision" and r["action"]["target"]["path"].startswith(prefix)}


def test_the_lab_serves_through_haproxy_shares_approvals_and_verifies_merged_receipts(lab, upstream, tmp_path):
    redis, replicas, balancer = lab
    ca = replicas[0].data / "certs" / "ca.pem"
    for replica in replicas:
        assert "cluster replica " + replica.name in replica.log_path.read_text()
        assert (replica.data / "certs" / "ca.pem").read_bytes() == ca.read_bytes(), "one CA"

    # Every replica is listed alive, under its name, once it has said so.
    def alive():
        r = replicas[1].cli("cluster", "status", "--json")
        assert r.returncode == 0, r.stderr
        return sorted(s["replica"] for s in json.loads(r.stdout) if s["alive"]) == list(REPLICAS)

    assert wait_for(alive, 15), redis.cli("ACL", "LOG") + "".join(x.log_path.read_text() for x in replicas)
    r = replicas[1].cli("cluster", "status")
    assert r.returncode == 0 and "reachable" in r.stdout and AARMOR_PASSWORD not in r.stdout + r.stderr
    metrics = requests.get(f"http://127.0.0.1:{replicas[2].admin}/metrics", timeout=5).text
    assert re.search(r"(?m)^aarmor_cluster_redis_up 1$", metrics), "the README's metric"

    # Actions through the balancer (a request with a body: a read without one passes without a
    # receipt), one connection each, reach every replica.
    for i in range(12):
        assert through(balancer, ca, upstream, f"/lab/{i}", "POST", json={"i": i}).status_code == 200
    spread = {replica.name: served(replica, "/lab/") for replica in replicas}
    assert all(spread.values()), spread
    assert set().union(*spread.values()) == {f"/lab/{i}" for i in range(12)}

    # An action held for approval on one replica is answered on another replica's API.
    result = {}
    t = threading.Thread(target=lambda: result.update(r=through(balancer, ca, upstream, "/v1/transfer", "POST", timeout=60,
                                                                json={"amount": 5})))
    t.start()
    held = wait_for(lambda: [x for x in replicas[0].approvals() if x["rule"] == "test.transfer"], 20)
    assert held, "the held action shows on replica-a's API, wherever it is held"
    holder = wait_for(lambda: [x for x in replicas if "/v1/transfer" in served(x, "/v1/")], 10)
    assert len(holder) == 1
    other = next(x for x in replicas if x is not holder[0])
    # Other replicas learn of it at their next heartbeat ([cluster] heartbeat_s).
    assert wait_for(lambda: any(x["id"] == held[0]["id"] for x in other.approvals()), 10)
    answer = requests.post(f"http://127.0.0.1:{other.admin}/v1/approvals/{held[0]['id']}/approve", json={"approver": "oncall"},
                           headers={"authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert answer.status_code == 200, answer.text
    t.join(60)
    assert result["r"].status_code == 200, result["r"].text

    # A replica stopped: no request is lost (HAProxy retries elsewhere), and once its health check
    # fails HAProxy marks it down. The cluster notices it stopped.
    stopped = replicas[2]
    stopped.stop()
    for i in range(12):
        assert through(balancer, ca, upstream, f"/after/{i}", "POST", json={"i": i}).status_code == 200
    assert not served(stopped, "/after/")
    assert wait_for(lambda: balancer.status().get(stopped.name) == "DOWN", 20), balancer.status()
    status = wait_for(lambda: [s for s in json.loads(replicas[0].cli("cluster", "status", "--json").stdout)
                               if s["replica"] == stopped.name and s["alive"]] == [] or None, 30)
    assert status, "the stopped replica is no longer listed alive"

    # The merged export of all three chains verifies with every replica's public keys.
    keys = tmp_path / "all-keys.json"
    r = replicas[0].cli("cluster", "keys", "--out", keys)
    assert r.returncode == 0, r.stderr
    published = json.loads(keys.read_text())
    assert {k["replica"] for k in published} == set(REPLICAS)
    assert all(k["key_id"].startswith(f"aarmor-{k['replica']}-") for k in published)
    # The replicas' own public-keys.json files, put together, say the same.
    local = [k for replica in replicas for k in json.loads((replica.data / "keys" / "public-keys.json").read_text())]
    assert sorted(k["key_id"] for k in local) == sorted(k["key_id"] for k in published)
    merged = tmp_path / "merged.jsonl"
    merged.write_text("".join(replica.cli("receipts", "export").stdout for replica in replicas))
    r = replicas[1].cli("receipts", "verify", "--from", merged, "--public-keys", keys)
    assert r.returncode == 0, r.stdout + r.stderr
    for name in REPLICAS:
        assert f"OK: replica {name}:" in r.stdout
    # Redis refused nothing aarmor asked for, and aarmor wrote under its prefix only.
    assert redis.cli("ACL", "LOG").strip() == "", redis.cli("ACL", "LOG")
    ours = [k for k in redis.cli("--scan", "--pattern", "aarmor:*").split() if k]
    assert ours and int(redis.cli("DBSIZE").strip()) == len(ours)
    chains = {k for k in ours if k.startswith(("aarmor:head:", "aarmor:log:"))} | {"aarmor:keys"}
    assert len(chains) > 1

    # The same with the replicas' own key files, one --public-keys each, and without Redis.
    redis.stop()
    files = [arg for replica in replicas for arg in ("--public-keys", replica.data / "keys" / "public-keys.json")]
    r = run(BIN, "receipts", "verify", "--from", merged, *files, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    for name in REPLICAS:
        assert f"OK: replica {name}:" in r.stdout
    # A merge without one replica's chain says so.
    partial = tmp_path / "partial.jsonl"
    partial.write_text("".join(replica.cli("receipts", "export").stdout for replica in replicas[:2]))
    r = run(BIN, "receipts", "verify", "--from", partial, *files, timeout=60)
    assert r.returncode != 0 and "replica replica-c" in r.stdout, r.stdout

    # Redis restarted from its append-only file still holds the session chains and the keys.
    redis.start()
    after = set(redis.cli("--scan", "--pattern", "aarmor:*").split())
    log = (redis.dir / "redis.log").read_text()
    assert chains <= after, (sorted(chains - after), [line for line in log.splitlines() if "CRITICAL" in line][:3])
    r = replicas[0].cli("cluster", "keys")
    assert r.returncode == 0 and {k["replica"] for k in json.loads(r.stdout)} == set(REPLICAS), r.stdout + r.stderr
    # The replicas reconnected by themselves, decide again, and Redis refused them nothing.
    assert wait_for(lambda: through(balancer, ca, upstream, "/after-restart", "POST", json={}).status_code == 200 or None, 20)
    assert redis.cli("ACL", "LOG").strip() == "", redis.cli("ACL", "LOG")


# ---------------------------------------------------------------------------------------------
# nftables: the ECMP router


def test_nft_accepts_the_ecmp_router_rules():
    need("nft")
    r = run("nft", "-c", "-f", NFT_ECMP, timeout=30)
    if r.returncode != 0 and ("Operation not permitted" in r.stderr or "Permission denied" in r.stderr):
        pytest.skip(f"nft -c needs CAP_NET_ADMIN here: {r.stderr.strip()}")
    assert r.returncode == 0, r.stderr
    text = NFT_ECMP.read_text()
    rules = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    # Routed by mark, never rewritten: a replica learns the destination from its own NAT record.
    assert not re.search(r"\b(dnat|snat|redirect|masquerade)\b", rules)
    assert re.search(r"ct mark set jhash ip saddr \. tcp sport \. ip daddr \. tcp dport mod 3 offset 1", rules)
    assert "meta mark set ct mark" in rules
    # The routing tables the comments configure match the marks the rules set.
    assert sorted(re.findall(r"ip rule add fwmark (\d) table (\d+)", text)) == [("1", "101"), ("2", "102"), ("3", "103")]
    # A broken file is refused.
    broken = text.replace("ct mark set jhash", "ct mark set jhashh")
    r = subprocess.run(["nft", "-c", "-f", "-"], input=broken, capture_output=True, text=True, timeout=30)
    assert r.returncode != 0


SUFFIX = str(os.getpid() % 100000)
NS = {n: f"aarmor-e-{n}-{SUFFIX}" for n in ("agent", "router", "r1", "r2", "r3", "up")}
AGENT_IP, ROUTER_AGENT_IP = "10.79.1.2", "10.79.1.1"
UP_IP, ROUTER_UP_IP = "10.79.2.2", "10.79.2.1"


def replica_ip(i):
    return f"10.79.1{i}.2"


def ns_run(ns, *cmd, check=True, timeout=30):
    return run("ip", "netns", "exec", NS[ns], *cmd, check=check, timeout=timeout)


def teardown_ecmp():
    for ns in NS.values():
        run("ip", "netns", "del", ns)


def build_ecmp():
    for ns in NS.values():
        run("ip", "netns", "add", ns, check=True)
        run("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up", check=True)
    links = [("agent", "eth0", AGENT_IP, "router", "agents0", ROUTER_AGENT_IP),
             ("up", "eth0", UP_IP, "router", "uplink0", ROUTER_UP_IP)]
    # Each replica host's interface facing the router is its agent-facing one: agents0, as the
    # single-gateway rules expect.
    links += [(f"r{i}", "agents0", replica_ip(i), "router", f"rlink{i}", f"10.79.1{i}.1") for i in (1, 2, 3)]
    for ns_a, dev_a, ip_a, ns_b, dev_b, ip_b in links:
        run("ip", "link", "add", "name", dev_a, "netns", NS[ns_a], "type", "veth", "peer", "name", dev_b, "netns", NS[ns_b], check=True)
        for ns, dev, ip in ((ns_a, dev_a, ip_a), (ns_b, dev_b, ip_b)):
            ns_run(ns, "ip", "addr", "add", f"{ip}/24", "dev", dev)
            ns_run(ns, "ip", "link", "set", dev, "up")
        if ns_a != "router":
            ns_run(ns_a, "ip", "route", "add", "default", "via", ip_b)
    ns_run("router", "sysctl", "-qw", "net.ipv4.ip_forward=1")
    # The router: the file unchanged, and the routing its comments prescribe.
    ns_run("router", "nft", "-f", str(NFT_ECMP))
    for i in (1, 2, 3):
        ns_run("router", "ip", "rule", "add", "fwmark", str(i), "table", str(100 + i))
        ns_run("router", "ip", "route", "add", "default", "via", replica_ip(i), "table", str(100 + i))
    # The replica hosts: the single gateway's rules, unchanged.
    for i in (1, 2, 3):
        ns_run(f"r{i}", "nft", "-f", str(GATEWAY_NFT))


@pytest.fixture
def ecmp(tmp_path, pki):
    if os.geteuid() != 0:
        pytest.skip("needs root to create network namespaces")
    for tool in ("nft", "redis-server", "redis-cli", "curl"):
        need(tool)
    need_binary()
    teardown_ecmp()
    try:
        build_ecmp()
    except subprocess.CalledProcessError as e:
        teardown_ecmp()
        pytest.skip(f"kernel refused network namespaces or nftables: {' '.join(e.cmd)}: {e.stderr.strip()}")
    started, server, redis = [], None, None
    try:
        cert, key = make_leaf(tmp_path, pki["ca_key"], pki["ca_cert"], ["upstream.test"], [UP_IP])
        server = subprocess.Popen(["ip", "netns", "exec", NS["up"], sys.executable, str(Path(__file__).parent / "helpers" / "upstream_server.py"),
                                   str(cert), str(key)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert server.stdout.readline().strip() == "ready", "test upstream did not start in its namespace"
        (tmp_path / "redis").mkdir()
        redis = RecipeRedis(tmp_path / "redis", bind=UP_IP, netns=NS["up"])
        registry = "agents:\n  - name: subnet-agent\n    cidrs: [10.79.1.0/24]\n  - name: local\n    cidrs: [127.0.0.0/8]\n"
        for i in (1, 2, 3):
            d = tmp_path / f"r{i}"
            d.mkdir()
            if started:
                shutil.copytree(started[0].data / "certs", d / "data" / "certs")
            a = Aarmor(d, pki["ca"], extra_proxy='transparent_listen = "0.0.0.0:3129"', netns=NS[f"r{i}"],
                       policy_files={"identities.yaml": registry},
                       extra=f'[cluster]\nenabled = true\nredis_url = "{redis.url()}"\nreplica = "r{i}"\n')
            started.append(a)
        yield started
    finally:
        for a in started:
            a.stop()
        if redis is not None:
            redis.stop()
        if server is not None:
            server.stdin.close()
            server.wait(timeout=10)
        teardown_ecmp()


def agent_curl(ca, path, *args):
    """The agent, without proxy settings, connects to the upstream's own address."""
    return ns_run("agent", "curl", "-sS", "--max-time", "15", "--cacert", str(ca), "--resolve", f"upstream.test:443:{UP_IP}",
                  *args, f"https://upstream.test{path}", check=False)


def test_the_ecmp_router_spreads_an_agent_subnet_over_three_replicas(ecmp):
    replicas = ecmp
    ca = replicas[0].ca
    status = json.loads(ns_run("r1", str(BIN), "--config", str(replicas[0].config), "cluster", "status", "--json").stdout)
    assert sorted(s["replica"] for s in status if s["alive"]) == ["r1", "r2", "r3"]

    # Reads: each connection goes to one of the replica hosts, whose aarmor connects upstream.
    seen_from = {}
    for i in range(30):
        r = agent_curl(ca, f"/ecmp/{i}")
        assert r.returncode == 0, r.stderr + replicas[0].logs()
        body = json.loads(r.stdout)
        assert body["path"] == f"/ecmp/{i}" and body["host"] == "upstream.test"
        seen_from.setdefault(body["conn"][0], []).append(i)
    # The upstream saw every replica host connect, never the agent.
    assert set(seen_from) == {replica_ip(i) for i in (1, 2, 3)}, seen_from
    # Actions (requests with a body) are decided by every replica, for the agent's address.
    for i in range(30):
        r = agent_curl(ca, f"/ecmp/act/{i}", "-H", "content-type: application/json", "-d", json.dumps({"i": i}))
        assert r.returncode == 0 and json.loads(r.stdout)["len"] > 0, r.stdout + r.stderr
    for a in replicas:
        decided = [r for r in a.receipts() if r["kind"] == "decision" and r["action"]["target"]["path"].startswith("/ecmp/act/")]
        assert decided, f"{a.dir.name} decided none"
        # The agent's address reached the replica: it is identified by its subnet.
        assert {r["action"]["identity"]["agent"] for r in decided} == {"subnet-agent"}

    # A replica down, and the failover step of the file's comments: its table points at another.
    replicas[2].stop()
    ns_run("router", "ip", "route", "replace", "default", "via", replica_ip(1), "table", "103")
    for i in range(12):
        r = agent_curl(ca, f"/failover/{i}")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["conn"][0] in (replica_ip(1), replica_ip(2))


# ---------------------------------------------------------------------------------------------
# Kubernetes


def overlay_render():
    need("kubectl")
    r = run("kubectl", "kustomize", K8S, timeout=120)
    assert r.returncode == 0, r.stderr
    return [d for d in yaml.safe_load_all(r.stdout) if d is not None]


def rendered_objects():
    found = {}
    for doc in overlay_render():
        key = (doc["kind"], doc["metadata"]["name"])
        assert key not in found, key
        found[key] = doc
    return found


def base_deployment():
    (doc,) = [d for d in yaml.safe_load_all((K8S_BASE / "deployment.yaml").read_text()) if d]
    return doc


def statefulset_source():
    (doc,) = [d for d in yaml.safe_load_all((K8S / "statefulset.yaml").read_text()) if d]
    return doc


def test_the_overlay_renders_a_statefulset_of_replicas_over_the_single_gateway():
    objects = rendered_objects()
    kinds = sorted((k, n) for k, n in objects if k != "ConfigMap")
    assert kinds == sorted([("Namespace", "aarmor"), ("ServiceAccount", "aarmor"), ("Service", "aarmor"), ("Service", "aarmor-admin"),
                            ("Service", "aarmor-replicas"), ("StatefulSet", "aarmor"), ("PodDisruptionBudget", "aarmor"),
                            ("NetworkPolicy", "aarmor-gateway")])
    (configmap,) = [o for (k, n), o in objects.items() if k == "ConfigMap"]
    assert re.fullmatch(r"aarmor-cluster-config-[a-z0-9]+", configmap["metadata"]["name"]), "named by its content's hash"
    assert set(configmap["data"]) == {"aarmor.toml", "setup.sh"}
    assert configmap["data"]["aarmor.toml"] == (K8S / "aarmor.toml").read_text()
    assert configmap["data"]["setup.sh"] == (K8S / "setup.sh").read_text()
    for (kind, name), obj in objects.items():
        if kind != "Namespace":
            assert obj["metadata"]["namespace"] == "aarmor", (kind, name)

    sts = objects[("StatefulSet", "aarmor")]
    spec, pod = sts["spec"], sts["spec"]["template"]["spec"]
    assert spec["replicas"] == 3 and spec["podManagementPolicy"] == "Parallel"
    headless = objects[("Service", spec["serviceName"])]
    assert headless["spec"]["clusterIP"] == "None"
    (claim,) = spec["volumeClaimTemplates"]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "persistentVolumeClaim" not in str(volumes), "each replica's volume comes from the claim template"
    assert volumes["template"]["configMap"]["name"] == configmap["metadata"]["name"]

    # The single gateway's security settings, on the replicas and on the init container.
    base_pod = base_deployment()["spec"]["template"]["spec"]
    (base_container,) = base_pod["containers"]
    assert pod["securityContext"] == base_pod["securityContext"]
    for key in ("serviceAccountName", "automountServiceAccountToken", "enableServiceLinks", "terminationGracePeriodSeconds"):
        assert pod[key] == base_pod[key], key
    (container,) = pod["containers"]
    (init,) = pod["initContainers"]
    assert container["securityContext"] == base_container["securityContext"] == init["securityContext"]
    for key in ("args", "ports", "startupProbe", "livenessProbe", "readinessProbe", "resources", "image"):
        assert container[key] == base_container[key], key
    assert init["image"] == container["image"]
    for forbidden in ("hostNetwork", "hostPID", "hostIPC"):
        assert not pod.get(forbidden)

    # The Services and the NetworkPolicy of the base select the replicas.
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    for name in ("aarmor", "aarmor-admin", "aarmor-replicas"):
        assert objects[("Service", name)]["spec"]["selector"].items() <= labels.items(), name
    assert objects[("NetworkPolicy", "aarmor-gateway")]["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    assert objects[("PodDisruptionBudget", "aarmor")]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert objects[("Service", "aarmor")]["spec"]["type"] == "ClusterIP"


def test_the_replicas_take_redis_and_the_ca_from_secrets_and_their_names_from_the_pod():
    pod = statefulset_source()["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    (container,) = pod["containers"]
    (init,) = pod["initContainers"]
    init_mounts = {m["mountPath"]: m for m in init["volumeMounts"]}
    # Redis URL and CA: required Secrets; the policy bundle and the approvals secrets optional.
    assert volumes["redis"]["secret"]["secretName"] == "aarmor-redis" and not volumes["redis"]["secret"].get("optional")
    assert volumes["ca"]["secret"]["secretName"] == "aarmor-ca" and not volumes["ca"]["secret"].get("optional")
    assert volumes["policies"]["configMap"] == {"name": "aarmor-policies", "optional": True}
    assert volumes["secrets"]["secret"]["optional"] is True
    # The written configuration (with the password) lives in memory, and the aarmor container reads
    # it where the image's entrypoint looks.
    assert volumes["rendered"]["emptyDir"]["medium"] == "Memory"
    config_mount = next(m for m in container["volumeMounts"] if m["name"] == "rendered")
    assert config_mount == {"name": "rendered", "mountPath": "/etc/aarmor/aarmor.toml", "subPath": "aarmor.toml", "readOnly": True}
    # The paths setup.sh uses are the init container's mounts.
    script = (K8S / "setup.sh").read_text()
    paths = dict(re.findall(r"(?m)^(\w+)=(/\S+)$", script))
    mounted = {m["mountPath"]: volumes[m["name"]] for m in init["volumeMounts"] if m["name"] in volumes}

    def volume_of(path):
        root = max((p for p in mounted if path == p or path.startswith(p + "/")), key=len)
        return root, mounted[root]

    assert volume_of(paths["template"])[1] is volumes["template"]
    assert volume_of(paths["redis_url_file"])[1] is volumes["redis"]
    assert volume_of(paths["ca_cert"])[1] is volumes["ca"] and volume_of(paths["ca_key"])[1] is volumes["ca"]
    assert volume_of(paths["bundle"])[1] is volumes["policies"]
    assert volume_of(paths["config"])[1] is volumes["rendered"] and not init_mounts[volume_of(paths["config"])[0]].get("readOnly")
    (claim,) = statefulset_source()["spec"]["volumeClaimTemplates"]
    assert init_mounts[paths["data"]]["name"] == claim["metadata"]["name"]
    assert next(m for m in container["volumeMounts"] if m["name"] == claim["metadata"]["name"])["mountPath"] == paths["data"]
    assert init["command"] == ["/bin/bash", f"{next(p for p, v in mounted.items() if v is volumes['template'])}/setup.sh"]
    # Every mount of the init container but the data volume and the written configuration is read-only.
    for path, m in init_mounts.items():
        if m["name"] not in ("data", "rendered"):
            assert m.get("readOnly") is True, path
    # Secret key names: the example Secret's, and a TLS Secret's for the CA.
    (example,) = [d for d in yaml.safe_load_all((K8S / "secrets.example.yaml").read_text()) if d]
    assert example["metadata"]["name"] == "aarmor-redis" and set(example["stringData"]) == {Path(paths["redis_url_file"]).name}
    assert Path(paths["ca_cert"]).name == "tls.crt" and Path(paths["ca_key"]).name == "tls.key"
    # The template: cluster on, the URL a placeholder, the replica named after the host (the pod).
    template = tomllib.loads((K8S / "aarmor.toml").read_text())
    assert template["cluster"]["enabled"] is True and template["cluster"]["redis_url"] == "@REDIS_URL@"
    assert template["cluster"].get("replica", "") == ""
    container_config = tomllib.loads((ROOT / "deploy" / "container" / "aarmor.toml").read_text())
    assert template["data_dir"] == container_config["data_dir"]
    assert template["proxy"]["listen"] == container_config["proxy"]["listen"]
    assert template["admin"]["listen"] == container_config["admin"]["listen"]


def test_overlay_objects_validate_against_the_kubernetes_schemas():
    kv = pytest.importorskip("kubernetes_validate")
    docs = overlay_render()
    docs.append(yaml.safe_load((K8S / "secrets.example.yaml").read_text()))
    for version in ("1.28.0", kv.latest_version()):
        for doc in docs:
            try:
                kv.validate(doc, version, strict=True)
            except kv.ValidationError as e:
                pytest.fail(f"{doc['kind']}/{doc['metadata']['name']} against Kubernetes {version}: {e.message}")


# --- setup.sh as the init container runs it


def k8s_volume(path: Path, files: dict, mode=0o644, gid=0):
    """A directory laid out as the kubelet lays out a ConfigMap or Secret volume: the files in a
    timestamped directory, `..data` pointing at it, and a symbolic link per key."""
    path.mkdir(parents=True)
    stamp = path / "..2024_01_01_00_00_00.000000001"
    stamp.mkdir()
    for name, content in files.items():
        f = stamp / name
        f.write_bytes(content if isinstance(content, bytes) else content.encode())
        os.chown(f, 0, gid)
        f.chmod(mode)
        (path / name).symlink_to(f"..data/{name}")
    (path / "..data").symlink_to(stamp.name)
    return path


class Pod:
    """The StatefulSet's containers run in a sandbox each: an empty read-only root with /usr, the
    mounts of the manifest bound to the test's directories, as uid/gid 10001 with no capabilities
    (bwrap, then setpriv)."""

    def __init__(self, work: Path, redis_url, ca_files, bundle=None):
        self.work = work
        work.mkdir(parents=True)
        self.pod = statefulset_source()["spec"]["template"]["spec"]
        self.uid = self.pod["securityContext"]["runAsUser"]
        self.gid = self.pod["securityContext"]["runAsGroup"]
        assert self.pod["securityContext"]["fsGroup"] == self.gid
        self.volumes = {}
        self.data = self._dir("data")
        self.rendered = self._dir("rendered")
        template = {"aarmor.toml": (K8S / "aarmor.toml").read_text(), "setup.sh": (K8S / "setup.sh").read_text()}
        self.volumes["template"] = k8s_volume(work / "template", template)
        self.volumes["redis"] = k8s_volume(work / "redis", {"redis-url": redis_url}, 0o440, self.gid)
        self.set_ca(*ca_files)
        self.volumes["policies"] = k8s_volume(work / "policies", {"policies.tar.gz": bundle} if bundle else {})
        self.volumes["secrets"] = k8s_volume(work / "secrets", {}, 0o440, self.gid)

    def _dir(self, name):
        d = self.work / name
        d.mkdir()
        os.chown(d, self.uid, self.gid)
        d.chmod(0o2770)
        self.volumes[name] = d
        return d

    def set_ca(self, cert, key):
        if "ca" in self.volumes:
            shutil.rmtree(self.volumes["ca"])
        self.volumes["ca"] = k8s_volume(self.work / "ca", {"tls.crt": Path(cert).read_bytes(), "tls.key": Path(key).read_bytes()},
                                        0o440, self.gid)

    def run(self, container, command=None, timeout=120):
        spec = self.pod["initContainers"][0] if container == "setup" else self.pod["containers"][0]
        args = ["bwrap", "--die-with-parent", "--unshare-pid", "--unshare-ipc", "--ro-bind", "/usr", "/usr"]
        for name in ("bin", "lib", "lib64", "sbin"):
            p = Path("/") / name
            if p.is_symlink():
                args += ["--symlink", os.readlink(p), f"/{name}"]
            elif p.is_dir():
                args += ["--ro-bind", str(p), f"/{name}"]
        # Directories bwrap would otherwise create for mount points are root's only (0700).
        args += ["--dev", "/dev", "--proc", "/proc", "--dir", "/tmp"]
        for d in ("/etc", "/etc/aarmor", "/var", "/var/lib", "/opt", "/opt/image", "/opt/image/bin"):
            args += ["--dir", d]
        for name in ("passwd", "group", "nsswitch.conf", "ld.so.cache", "localtime"):
            if Path("/etc", name).exists():
                args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
        # The binary under test, first on the PATH (the image has it in /usr/local/bin).
        args += ["--ro-bind", str(BIN), "/opt/image/bin/aarmor"]
        for m in spec["volumeMounts"]:
            source = self.volumes[m["name"]]
            if m.get("subPath"):
                source = source / m["subPath"]
            args += ["--ro-bind" if m.get("readOnly") else "--bind", str(source), m["mountPath"]]
        args += ["--remount-ro", "/", "--clearenv", "--setenv", "PATH", "/opt/image/bin:/usr/local/bin:/usr/bin:/bin",
                 "--setenv", "HOME", "/var/lib/aarmor", "--setenv", "AARMOR_DATA_DIR", "/var/lib/aarmor",
                 "--setenv", "AARMOR_CONFIG", "/etc/aarmor/aarmor.toml", "--chdir", "/var/lib/aarmor", "--"]
        args += ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups", "--inh-caps=-all",
                 "--bounding-set=-all", "--no-new-privs"]
        command = command or spec.get("command") or []
        return run(*args, *command, timeout=timeout)


@pytest.fixture
def sandbox():
    if shutil.which("bwrap") is None or shutil.which("setpriv") is None:
        pytest.skip("bubblewrap and setpriv needed (apt-get install bubblewrap)")
    if os.geteuid() != 0:
        pytest.skip("needs root: bwrap sets up the mounts, setpriv then becomes the image's user")
    need_binary()
    probe = run("bwrap", "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib",
                "--symlink", "usr/lib64", "/lib64", "--dev", "/dev", "--proc", "/proc", "--remount-ro", "/", "true", timeout=30)
    if probe.returncode != 0:
        pytest.skip(f"bwrap cannot build a mount namespace here: {probe.stderr.strip()}")


def make_ca(work: Path, name):
    d = work / name
    r = run(BIN, "--data-dir", d, "ca", "init")
    assert r.returncode == 0, r.stderr
    return d / "certs" / "ca.pem", d / "certs" / "ca.key"


def policy_bundle(work: Path):
    tarball = work / "policies.tar.gz"
    r = run("tar", "-C", ROOT / "policies", "-czf", tarball, ".")
    assert r.returncode == 0, r.stderr
    return tarball.read_bytes()


def test_setup_writes_the_config_installs_the_shared_ca_and_the_bundle(sandbox, tmp_path):
    # A password with characters that TOML and the shell treat specially.
    url = 'redis://aarmor:p&a$s*w!o"r\\d@redis.redis.svc.cluster.local:6379/0'
    ca_cert, ca_key = make_ca(tmp_path, "ca-one")
    pod = Pod(tmp_path / "pod", url + "\n", (ca_cert, ca_key), policy_bundle(tmp_path))
    r = pod.run("setup")
    assert r.returncode == 0, r.stdout + r.stderr
    assert url not in r.stdout + r.stderr and "p&a$s" not in r.stdout + r.stderr, "the password is never printed"

    # The configuration: the template with the Secret's URL, readable by the image's user only.
    rendered = pod.rendered / "aarmor.toml"
    st = rendered.stat()
    assert (st.st_uid, st.st_mode & 0o777) == (pod.uid, 0o600)
    config = tomllib.loads(rendered.read_text())
    assert config["cluster"]["redis_url"] == url
    template = (K8S / "aarmor.toml").read_text()
    assert len(template.splitlines()) == len(rendered.read_text().splitlines())
    (changed,) = differing_lines(template, rendered.read_text())
    assert changed[0] == 'redis_url = "@REDIS_URL@"' and changed[1].startswith("redis_url = ")
    # The shared CA, on the replica's volume.
    assert (pod.data / "certs" / "ca.pem").read_bytes() == ca_cert.read_bytes()
    assert (pod.data / "certs" / "ca.key").read_bytes() == ca_key.read_bytes()
    assert (pod.data / "certs" / "ca.key").stat().st_mode & 0o077 == 0
    # The bundle, unpacked where the configuration's default policy dir is.
    installed = sorted(p.relative_to(pod.data / "policies").as_posix() for p in (pod.data / "policies").rglob("*") if p.is_file())
    shipped = sorted(p.relative_to(ROOT / "policies").as_posix() for p in (ROOT / "policies").rglob("*") if p.is_file())
    assert installed == shipped
    assert not [p.name for p in pod.data.iterdir() if p.name.startswith(".")], "no leftovers"

    # What the aarmor container then sees: the written configuration at the entrypoint's path,
    # the Secret's CA, the bundle.
    r = pod.run("aarmor", ["aarmor", "--config", "/etc/aarmor/aarmor.toml", "ca", "export"])
    assert r.returncode == 0 and r.stdout == ca_cert.read_text(), r.stderr
    r = pod.run("aarmor", ["aarmor", "--config", "/etc/aarmor/aarmor.toml", "policy", "check"])
    assert r.returncode == 0 and "ok: policy aarmor-default" in r.stdout, r.stdout + r.stderr
    r = pod.run("aarmor", ["aarmor", "--config", "/etc/aarmor/aarmor.toml", "config", "check"])
    assert r.returncode == 0, r.stderr
    effective = tomllib.loads(r.stdout.split("\n", 1)[1])
    assert effective["cluster"]["enabled"] is True and effective["cluster"]["replica"] == ""

    # A restart changes nothing; a replaced CA Secret replaces the volume's CA.
    before = (pod.data / "certs" / "ca.pem").stat().st_mtime_ns
    r = pod.run("setup")
    assert r.returncode == 0 and "the interception CA is the Secret's" in r.stdout, r.stdout + r.stderr
    assert (pod.data / "certs" / "ca.pem").stat().st_mtime_ns == before
    new_cert, new_key = make_ca(tmp_path, "ca-two")
    pod.set_ca(new_cert, new_key)
    r = pod.run("setup")
    assert r.returncode == 0 and "replacing it with the Secret's" in r.stdout, r.stdout + r.stderr
    assert (pod.data / "certs" / "ca.pem").read_bytes() == new_cert.read_bytes()


def test_setup_refuses_a_missing_secret_a_bad_url_and_a_broken_bundle(sandbox, tmp_path):
    ca = make_ca(tmp_path, "ca")
    pod = Pod(tmp_path / "no-redis", "redis://aarmor:x@redis:6379/0", ca)
    shutil.rmtree(pod.volumes["redis"])
    pod.volumes["redis"] = k8s_volume(tmp_path / "empty-redis", {})
    r = pod.run("setup")
    assert r.returncode != 0 and "create the Secret aarmor-redis" in r.stderr
    assert not (pod.data / "certs").exists(), "no CA of its own"

    pod = Pod(tmp_path / "bad-url", "http://aarmor:x@redis:6379/0", ca)
    r = pod.run("setup")
    assert r.returncode != 0 and "redis-url must start with" in r.stderr

    broken = tmp_path / "broken"
    (broken / "tests").mkdir(parents=True)
    (broken / "policy.rego").write_text("package aarmor.policy\n\ndecisions contains d if {\n")
    r = run("tar", "-C", broken, "-czf", tmp_path / "broken.tar.gz", ".")
    pod = Pod(tmp_path / "broken-bundle", "redis://aarmor:x@redis:6379/0", ca, (tmp_path / "broken.tar.gz").read_bytes())
    r = pod.run("setup")
    assert r.returncode != 0
    assert not (pod.data / "policies").exists(), "a bundle that does not compile is not installed"


# ---------------------------------------------------------------------------------------------
# The README


def test_the_readme_names_the_recipes_files_and_the_commands_that_exist():
    text = README.read_text()
    for path in (UNIT, REPLICA_A, HAPROXY_CFG, NFT_ECMP, REDIS_CONF, K8S / "setup.sh", K8S / "aarmor.toml",
                 K8S / "secrets.example.yaml"):
        assert path.relative_to(CLUSTER).as_posix() in text or path.name in text, path
    for command in ("aarmor cluster status", "aarmor cluster keys", "receipts verify --from", "receipts export",
                    "haproxy -c -f", "kubectl apply -k deploy/cluster/kubernetes"):
        assert command in text, command
    if BIN.exists():
        # Every `aarmor ...` subcommand the README shows exists.
        for sub in sorted(set(re.findall(r"aarmor (?:--config \S+ )?((?:cluster|receipts|ca|keys|config|approvals) [a-z-]+)", text))):
            r = run(BIN, *sub.split(), "--help", timeout=30)
            assert r.returncode == 0, f"aarmor {sub}: {r.stderr}"


def test_the_readmes_lab_commands_set_the_passwords_redis_and_the_replicas_share(tmp_path):
    need("openssl")
    need_binary()
    lines = [line.strip() for line in README.read_text().splitlines()]
    commands = [next(line for line in lines if line.startswith('sed -i "s/REPLACE-with-the-aarmor-password/')),
                next(line for line in lines if line.startswith("pw=$(")),
                next(line for line in lines if line.startswith('sed -i "s/REPLACE-with-the-redis-password/'))]
    shutil.copy(REDIS_CONF, tmp_path / "aarmor.conf")
    shutil.copy(REPLICA_A, tmp_path / "replica-a.toml")
    script = "\n".join(c.replace("/etc/redis/aarmor.conf", str(tmp_path / "aarmor.conf")) for c in commands)
    r = run("bash", "-euc", script, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    conf = (tmp_path / "aarmor.conf").read_text()
    assert "REPLACE" not in re.sub(r"(?m)^#.*$", "", conf)
    passwords = dict(re.findall(r"(?m)^user (\w+) on >([0-9a-f]{64}) ", conf))
    assert set(passwords) == {"aarmor", "default"} and passwords["aarmor"] != passwords["default"]
    config = tomllib.loads((tmp_path / "replica-a.toml").read_text())
    assert config["cluster"]["redis_url"] == f"redis://aarmor:{passwords['aarmor']}@127.0.0.1:6379/0"
    r = run(BIN, "--config", tmp_path / "replica-a.toml", "config", "check")
    assert r.returncode == 0, r.stderr


def test_the_readme_says_what_this_build_does_with_rediss_urls(tmp_path):
    need_binary()
    path = tmp_path / "tls.toml"
    path.write_text('[cluster]\nenabled = true\nredis_url = "rediss://aarmor:x@redis.example:6380/0"\n')
    r = run(BIN, "--config", path, "config", "check")
    assert r.returncode == 0, r.stderr
    text = README.read_text()
    assert "`rediss://` URLs" in text and "ca_file" in text and "redis_url_file" in text