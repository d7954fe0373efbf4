"""A real Kubernetes control plane on loopback: etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok.

The binaries are built from the Go module proxy by `scripts/install/kube.sh` into
`${AIRFLOW_PLATFORM_TOOLS:-~/.cache/airflow-platform/tools}/kube/<k8s-version>/bin/` (override with `KUBE_BIN_DIR`).
Every component listens on 127.0.0.1 only, on free ports, and keeps its state under one directory (default
`.local/cluster/`):

    <state>/pki/           CA, serving certs, the service-account key pair, one client cert per component
    <state>/kubeconfig     the admin kubeconfig (client cert of group system:masters), certificates embedded
    <state>/etcd/          etcd's data (kept across `down`/`up`, like a real cluster's)
    <state>/logs/<c>.log   one log per component
    <state>/plane.json     ports and process ids of the running plane

    .venv/bin/python -m cluster.controlplane up        # start (or reuse) the plane, print server/kubeconfig/version
    .venv/bin/python -m cluster.controlplane status    # health of each component, the nodes, memory in use
    .venv/bin/python -m cluster.controlplane down      # stop every process group; the state stays

What is simulated: there is no kubelet and no container runtime. kwok (sigs.k8s.io/kwok) plays the nodes: it creates
the node leases and heartbeats, moves scheduled pods to Running/Ready, pods owned by a Job to Succeeded (so the Job
controller marks the Job Complete), finishes deletions, and provisions volumes. Everything else is the real
Kubernetes code: API validation (strict field validation, CRD schemas, CEL rules), admission, RBAC, the
Deployment/ReplicaSet/StatefulSet/Job/PV controllers, the scheduler (resources, topology spread, affinity, taints).
Its Stage rules are the ones kwok ships (`kustomize/stage/{node,pod,volume}` in the pinned kwok module, copied next
to the binaries by kube.sh), with the volume rules widened from kwok's one class to this cluster's classes.

Nodes: `nodes` (default 3) fake nodes `kwok-node-{a,b,c}` with real allocatable resources (16 CPU, 64 GiB, 110 pods
each by default), labels `kubernetes.io/os=linux`, `kubernetes.io/arch=amd64`, `topology.kubernetes.io/region=local`
and `topology.kubernetes.io/zone=local-a/-b/-c`, so requests, topology spread and anti-affinity schedule as they do
on a three-zone cluster: a pod that would not fit there stays Pending here too.

Storage: the StorageClass `standard` is the default class (PVCs that name no class get it, through the same
DefaultStorageClass admission as on a real cluster); `gp3` (what the staging/prod stacks name) exists too. Both use
the provisioner `kwok.x-k8s.io/volume`: kwok's `pvc-provision` stage creates a matching PersistentVolume for each
PVC of those classes and binds the pair, so StatefulSets' volumeClaimTemplates bind and their pods schedule. A PVC
naming any other class stays Pending, as it would on a cluster without that class.

Admission webhooks and aggregated APIs: the charts applied later (CloudNativePG, Strimzi, kube-prometheus-stack,
Vault) register ValidatingWebhookConfiguration / MutatingWebhookConfiguration objects whose Services are backed
by simulated pods that cannot answer an HTTPS call. kube-apiserver therefore runs with
`--disable-admission-plugins=MutatingAdmissionWebhook,ValidatingAdmissionWebhook`: the webhook configuration
objects are still applied, schema-validated and stored exactly as on a real cluster (so a malformed one is still
rejected), they are just never called. The alternative, failurePolicy=Ignore rewriting, would change the objects
under test; keeping the real webhooks on would make every CR apply fail with "connection refused". What this cannot
catch is a rejection that only the operator's own webhook would make (e.g. CNPG's semantic checks): those need the
operator running for real. APIService objects (aggregated APIs such as metrics.k8s.io) are registered as well and
report Available=False here, since their backend is simulated; the apiserver serves every other group normally.
In-tree validating admission policies (ValidatingAdmissionPolicy, CEL) do run.

Memory: about 0.5-0.6 GB for the five processes when idle with a few hundred objects (see `status`).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from cluster.paths import REPO, tools_root
from local.ports import tcp_free

DEFAULT_STATE = REPO / ".local" / "cluster"
HOST = "127.0.0.1"
FIELD_MANAGER = "airflow-platform-controlplane"
SERVICE_CIDR = "10.96.0.0/16"  # virtual ClusterIPs only: nothing routes to them, no traffic leaves the host
POD_CIDR = "10.244.0.0/16"  # kwok writes pod IPs from it into pod status; equally virtual
DEFAULT_STORAGE_CLASS = "standard"
EXTRA_STORAGE_CLASSES: tuple[str, ...] = ("gp3",)
VOLUME_PROVISIONER = "kwok.x-k8s.io/volume"
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
BINARIES = (*COMPONENTS, "kubectl")
NODE_ANNOTATION = "kwok.x-k8s.io/node"


class ControlPlaneError(RuntimeError):
    """A component failed to start or to become healthy; the message names it and ends with its log's tail."""


# --------------------------------------------------------------------------------------------------- binaries


def pinned_k8s_version() -> str:
    """The k8s.io/kubernetes version pinned in tools/go/kube/go.mod (the cache directory's name)."""
    text = (REPO / "tools" / "go" / "kube" / "go.mod").read_text()
    match = re.search(r"^\s*(?:require\s+)?k8s\.io/kubernetes\s+(v\S+)", text, re.MULTILINE)
    if not match:
        raise ControlPlaneError("cannot find k8s.io/kubernetes in tools/go/kube/go.mod")
    return match.group(1)


def bin_dir() -> Path:
    """Where kube.sh put the binaries: `$KUBE_BIN_DIR`, else `<tools>/kube/<pinned version>/bin`."""
    raw = os.environ.get("KUBE_BIN_DIR")
    return Path(raw) if raw else tools_root() / "kube" / pinned_k8s_version() / "bin"


def missing_binaries(directory: Path | None = None) -> list[str]:
    """Names of the binaries the plane needs that are not built yet (empty when all are there)."""
    directory = directory or bin_dir()
    return [name for name in BINARIES if not os.access(directory / name, os.X_OK)]


def stages_dir(directory: Path | None = None) -> Path:
    """kwok's shipped Stage rules, copied next to the binaries by kube.sh."""
    return (directory or bin_dir()).parent / "stages"


def kubectl_path() -> str:
    """The kubectl built with the plane (same minor version as the server), else the one on PATH."""
    built = bin_dir() / "kubectl"
    if os.access(built, os.X_OK):
        return str(built)
    found = shutil.which("kubectl")
    if not found:
        raise ControlPlaneError("no kubectl: run `bash scripts/install/kube.sh`")
    return found


# ------------------------------------------------------------------------------------------------------- PKI


@dataclass(frozen=True)
class _Pki:
    directory: Path

    def path(self, name: str) -> Path:
        return self.directory / name

    @property
    def ca_cert(self) -> Path:
        return self.path("ca.crt")


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def _key_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _load_key(path: Path) -> Any:
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def _certificate(
    subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey, *, years: int, ca: bool
) -> x509.CertificateBuilder:
    """What the CA and every leaf certificate share: validity from five minutes ago, digital signatures; a CA also
    signs certificates and revocation lists."""
    now = dt.datetime.now(dt.UTC)
    usage = x509.KeyUsage(
        digital_signature=True,
        key_encipherment=False,
        content_commitment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(usage, critical=True)
    )


def _issue(
    pki: _Pki,
    name: str,
    common_name: str,
    *,
    organization: str | None = None,
    server: bool = False,
    client: bool = False,
    dns: Sequence[str] = (),
    ips: Sequence[str] = (),
) -> None:
    """Write `<name>.crt`/`<name>.key` signed by the plane's CA (kept if present and valid for 30 more days)."""
    crt_path, key_path = pki.path(f"{name}.crt"), pki.path(f"{name}.key")
    if crt_path.exists() and key_path.exists():
        existing = x509.load_pem_x509_certificate(crt_path.read_bytes())
        if existing.not_valid_after_utc > dt.datetime.now(dt.UTC) + dt.timedelta(days=30):
            return
    ca_key = _load_key(pki.path("ca.key"))
    ca_cert = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    subject = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        subject.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    usages = ([ExtendedKeyUsageOID.SERVER_AUTH] if server else []) + (
        [ExtendedKeyUsageOID.CLIENT_AUTH] if client else []
    )
    builder = _certificate(x509.Name(subject), ca_cert.subject, key, years=3, ca=False).add_extension(
        x509.ExtendedKeyUsage(usages), critical=False
    )
    if dns or ips:
        names: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
        names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    _write_private(key_path, _key_pem(key))
    crt_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _ensure_pki(directory: Path) -> _Pki:
    """The CA, the apiserver's serving cert, the service-account key pair and one client cert per component."""
    directory.mkdir(parents=True, exist_ok=True)
    pki = _Pki(directory)
    if not (pki.ca_cert.exists() and pki.path("ca.key").exists()):
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "airflow-platform-local-ca")])
        cert = (
            _certificate(name, name, key, years=10, ca=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        _write_private(pki.path("ca.key"), _key_pem(key))
        pki.ca_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        for stale in directory.glob("*.crt"):  # certs of an older CA are worthless
            if stale.name != "ca.crt":
                stale.unlink()
    if not pki.path("sa.key").exists():
        sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        _write_private(pki.path("sa.key"), _key_pem(sa_key))
        pki.path("sa.pub").write_bytes(
            sa_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    service_ip = str(next(ipaddress.ip_network(SERVICE_CIDR).hosts()))
    _issue(
        pki,
        "apiserver",
        "kube-apiserver",
        server=True,
        dns=(
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        ),
        ips=(HOST, service_ip),
    )
    _issue(pki, "admin", "kubernetes-admin", organization="system:masters", client=True)
    _issue(pki, "kube-controller-manager", "system:kube-controller-manager", client=True)
    _issue(pki, "kube-scheduler", "system:kube-scheduler", client=True)
    _issue(pki, "kwok", "kwok-controller", organization="system:masters", client=True)
    _issue(pki, "front-proxy-client", "front-proxy-client", client=True)
    return pki


def _kubeconfig(pki: _Pki, server: str, user: str) -> dict[str, Any]:
    def b64(path: Path) -> str:
        return base64.b64encode(path.read_bytes()).decode()

    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "airflow-local", "cluster": {"server": server, "certificate-authority-data": b64(pki.ca_cert)}}
        ],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate-data": b64(pki.path(f"{user}.crt")),
                    "client-key-data": b64(pki.path(f"{user}.key")),
                },
            }
        ],
        "contexts": [{"name": "airflow-local", "context": {"cluster": "airflow-local", "user": user}}],
        "current-context": "airflow-local",
    }


def _write_kubeconfig(path: Path, pki: _Pki, server: str, user: str) -> None:
    _write_private(path, yaml.safe_dump(_kubeconfig(pki, server, user), sort_keys=False).encode())


# ------------------------------------------------------------------------------------------------- the API


class Api:
    """A minimal HTTPS client for the plane's apiserver with the admin client certificate (stdlib only)."""

    def __init__(self, server: str, pki_dir: Path, user: str = "admin") -> None:
        self.server = server.rstrip("/")
        self._ctx = ssl.create_default_context(cafile=str(pki_dir / "ca.crt"))
        self._ctx.load_cert_chain(str(pki_dir / f"{user}.crt"), str(pki_dir / f"{user}.key"))

    def request(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json", timeout: float = 15
    ) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.server + path, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, context=self._ctx, timeout=timeout) as resp:
                raw = resp.read()
                status = resp.status
        except urllib.error.HTTPError as err:
            raw, status = err.read(), err.code
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode(errors="replace")

    def get(self, path: str) -> Any:
        status, body = self.request("GET", path)
        if status != 200:
            raise ControlPlaneError(f"GET {path}: HTTP {status}: {body}")
        return body

    def apply(self, path: str, obj: dict[str, Any], field_manager: str = FIELD_MANAGER) -> Any:
        """Server-side apply of one object at `path` (its resource URL, without query)."""
        status, body = self.request(
            "PATCH", f"{path}?fieldManager={field_manager}&force=true", obj, "application/apply-patch+yaml"
        )
        if status not in (200, 201):
            raise ControlPlaneError(f"apply {path}: HTTP {status}: {body}")
        return body


# --------------------------------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _alive(pid: int, binary: str | None = None) -> bool:
    """True if `pid` runs (not a zombie) and, when given, was started from `binary` (guards against PID reuse)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    if stat.rsplit(")", 1)[1].split()[0] in ("Z", "X"):
        return False
    if binary is None:
        return True
    argv = _cmdline(pid)
    return bool(argv) and argv[0] == binary


def _rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            text = handle.read().decode(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class _Proc:
    name: str
    pid: int
    binary: str
    log: Path
    popen: subprocess.Popen[bytes] | None = None

    def alive(self) -> bool:
        if self.popen is not None:  # our child: poll() is authoritative (its argv is python's until exec)
            return self.popen.poll() is None
        return _alive(self.pid, self.binary)

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM to the whole process group, SIGKILL after `grace` seconds; reaps it if we are the parent."""
        if not self.alive():
            self._reap()
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGTERM)  # started with start_new_session: pgid == pid
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and self.alive():
            time.sleep(0.1)
        if self.alive():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and self.alive():
                time.sleep(0.1)
        self._reap()

    def _reap(self) -> None:
        if self.popen is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=5)


def _spawn(name: str, argv: list[str], logs: Path, env: dict[str, str] | None = None) -> _Proc:
    log = logs / f"{name}.log"
    with log.open("ab") as out:
        out.write(f"\n===== {dt.datetime.now(dt.UTC).isoformat()} starting {name}: {' '.join(argv)}\n".encode())
        out.flush()
        popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() signals the group, nothing is orphaned
            env={**os.environ, **(env or {})},
            close_fds=True,
        )
    return _Proc(name=name, pid=popen.pid, binary=argv[0], log=log, popen=popen)


# ------------------------------------------------------------------------------------------------ the plane


@dataclass
class ControlPlane:
    """A running plane. `kubeconfig` is the admin kubeconfig; `server` the apiserver URL; `version` its gitVersion."""

    state_dir: Path
    server: str
    kubeconfig: Path
    version: str
    ports: dict[str, int]
    procs: dict[str, _Proc] = field(default_factory=dict)
    reused: bool = False

    @property
    def pids(self) -> dict[str, int]:
        return {name: proc.pid for name, proc in self.procs.items()}

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    def api(self) -> Api:
        return Api(self.server, self.state_dir / "pki")

    def healthy(self) -> dict[str, str]:
        """Each component's health: "ok" or why not."""
        return _health(self.procs, self.ports, self.state_dir / "pki")

    def memory_bytes(self) -> dict[str, int]:
        """Resident memory of each component's process group leader."""
        return {name: _rss_bytes(proc.pid) for name, proc in self.procs.items()}

    def stop(self) -> None:
        """Stop every component (kwok first, etcd last); state, certs and etcd data stay for the next start."""
        for name in reversed(COMPONENTS):
            proc = self.procs.get(name)
            if proc is not None:
                proc.stop()
        with contextlib.suppress(FileNotFoundError):
            (self.state_dir / "plane.json").unlink()


def _health(procs: dict[str, _Proc], ports: dict[str, int], pki_dir: Path) -> dict[str, str]:
    result: dict[str, str] = {}
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE  # kcm/scheduler serve /healthz with a self-signed loopback cert
    for name in COMPONENTS:
        proc = procs.get(name)
        if proc is None or not proc.alive():
            result[name] = "not running"
            continue
        try:
            if name == "etcd":
                url, ctx = f"http://{HOST}:{ports['etcd']}/health", None
            elif name == "kube-apiserver":
                url = f"https://{HOST}:{ports['kube-apiserver']}/readyz"
                ctx = ssl.create_default_context(cafile=str(pki_dir / "ca.crt"))
                ctx.load_cert_chain(str(pki_dir / "admin.crt"), str(pki_dir / "admin.key"))
            elif name == "kwok":
                url, ctx = f"http://{HOST}:{ports['kwok']}/healthz", None
            else:
                url, ctx = f"https://{HOST}:{ports[name]}/healthz", insecure
            with urllib.request.urlopen(url, context=ctx, timeout=5) as resp:
                body = resp.read().decode(errors="replace")
            result[name] = (
                "ok" if resp.status == 200 and ("true" in body or "ok" in body) else f"unhealthy: {body[:200]}"
            )
        except (OSError, urllib.error.URLError) as err:
            result[name] = f"unhealthy: {err}"
    return result


def _wait_healthy(proc: _Proc, ports: dict[str, int], pki_dir: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if not proc.alive():
            code = proc.popen.poll() if proc.popen is not None else None
            raise ControlPlaneError(
                f"{proc.name} exited during start-up (exit code {code}); last lines of {proc.log}:\n{log_tail(proc.log)}"
            )
        last = _health({proc.name: proc}, ports, pki_dir)[proc.name]
        if last == "ok":
            return
        time.sleep(0.5)
    raise ControlPlaneError(
        f"{proc.name} did not become healthy within {timeout:.0f}s ({last}); last lines of {proc.log}:\n{log_tail(proc.log)}"
    )


def _load_state(state_dir: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads((state_dir / "plane.json").read_text())
        return data
    except (OSError, ValueError):
        return None


def _procs_from_state(data: dict[str, Any], state_dir: Path) -> dict[str, _Proc]:
    return {
        name: _Proc(name=name, pid=int(info["pid"]), binary=str(info["binary"]), log=state_dir / "logs" / f"{name}.log")
        for name, info in data.get("procs", {}).items()
    }


def running(state_dir: Path | str = DEFAULT_STATE) -> ControlPlane | None:
    """The plane recorded in `state_dir` if all its processes are alive and healthy, else None."""
    state_dir = Path(state_dir).resolve()
    data = _load_state(state_dir)
    if data is None:
        return None
    procs = _procs_from_state(data, state_dir)
    ports = {k: int(v) for k, v in data["ports"].items()}
    if set(procs) != set(COMPONENTS) or any(h != "ok" for h in _health(procs, ports, state_dir / "pki").values()):
        return None
    return ControlPlane(
        state_dir=state_dir,
        server=data["server"],
        kubeconfig=state_dir / "kubeconfig",
        version=data["version"],
        ports=ports,
        procs=procs,
        reused=True,
    )


def stop(state_dir: Path | str = DEFAULT_STATE) -> list[str]:
    """Stop whatever the state dir records as running (healthy or not); returns the names of what was stopped."""
    state_dir = Path(state_dir).resolve()
    data = _load_state(state_dir)
    if data is None:
        return []
    procs = _procs_from_state(data, state_dir)
    stopped = [name for name, proc in procs.items() if proc.alive()]
    ControlPlane(state_dir, data.get("server", ""), state_dir / "kubeconfig", data.get("version", ""), {}, procs).stop()
    return stopped


def _pick_ports(state_dir: Path) -> dict[str, int]:
    """Loopback ports: last run's if still free (etcd's peer URL and the kubeconfig stay stable), else new ones."""
    names = ("etcd", "etcd-peer", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
    previous: dict[str, int] = {}
    with contextlib.suppress(OSError, ValueError):
        previous = {k: int(v) for k, v in json.loads((state_dir / "ports.json").read_text()).items()}
    ports: dict[str, int] = {}
    for name in names:
        port = previous.get(name)
        ports[name] = port if port and port not in ports.values() and tcp_free(port, HOST) else free_port()
    (state_dir / "ports.json").write_text(json.dumps(ports, indent=2) + "\n")
    return ports


def _kwok_config(path: Path, classes: Sequence[str]) -> None:
    """kwok's config: the Stage rules it ships (node fast + lease heartbeat, pod fast, volume), volume ones widened."""
    source = stages_dir()
    if not source.is_dir():
        raise ControlPlaneError(f"kwok stage rules missing at {source}: run `bash scripts/install/kube.sh`")
    class_list = ", ".join(f"'{c}'" for c in classes)
    docs: list[dict[str, Any]] = []
    for file in sorted(source.glob("*.yaml")):
        text = file.read_text().replace(
            "self.spec.storageClassName == 'kwok-volume'", f"self.spec.storageClassName in [{class_list}]"
        )
        docs.extend(doc for doc in yaml.safe_load_all(text) if doc and doc.get("kind") == "Stage")
    names = {doc["metadata"]["name"] for doc in docs}
    required = {
        "node-initialize",
        "node-heartbeat-with-lease",
        "pod-ready",
        "pod-complete",
        "pod-delete",
        "pvc-provision",
        "pv-bind",
    }
    if not required <= names:
        raise ControlPlaneError(f"kwok stage rules in {source} lack {sorted(required - names)}")
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))


def _nodes(count: int, cpu: str, memory: str, pods: int) -> list[dict[str, Any]]:
    nodes = []
    for index in range(count):
        suffix = "abcdefghijklmnopqrstuvwxyz"[index % 26] + ("" if index < 26 else str(index // 26))
        name = f"kwok-node-{suffix}"
        zone = "local-" + "abc"[index % 3]
        resources = {"cpu": cpu, "memory": memory, "pods": str(pods), "ephemeral-storage": "200Gi"}
        nodes.append(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": name,
                    "annotations": {NODE_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
                    "labels": {
                        "kubernetes.io/hostname": name,
                        "kubernetes.io/os": "linux",
                        "kubernetes.io/arch": "amd64",
                        "node.kubernetes.io/instance-type": "kwok",
                        "topology.kubernetes.io/region": "local",
                        "topology.kubernetes.io/zone": zone,
                        "type": "kwok",
                    },
                },
                "spec": {},
                "status": {"allocatable": resources, "capacity": resources},
            }
        )
    return nodes


def _storage_classes(classes: Sequence[str]) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {
                "name": name,
                "annotations": {
                    "storageclass.kubernetes.io/is-default-class": "true" if name == DEFAULT_STORAGE_CLASS else "false"
                },
            },
            "provisioner": VOLUME_PROVISIONER,
            "reclaimPolicy": "Delete",
            "volumeBindingMode": "Immediate",
            "allowVolumeExpansion": True,
        }
        for name in classes
    ]


def _bootstrap(api: Api, nodes: list[dict[str, Any]], classes: Sequence[str]) -> None:
    for sc in _storage_classes(classes):
        api.apply(f"/apis/storage.k8s.io/v1/storageclasses/{sc['metadata']['name']}", sc)
    for node in nodes:
        name = node["metadata"]["name"]
        status, _ = api.request("GET", f"/api/v1/nodes/{name}")
        if status == 404:
            created_status, body = api.request("POST", "/api/v1/nodes", node)
            if created_status not in (200, 201, 409):
                raise ControlPlaneError(f"creating node {name}: HTTP {created_status}: {body}")
        else:
            api.apply(f"/api/v1/nodes/{name}", {k: v for k, v in node.items() if k != "status"})


def _wait_bootstrapped(api: Api, node_names: list[str], procs: dict[str, _Proc], timeout: float) -> None:
    """Nodes Ready (kwok is doing its job) and the default ServiceAccount exists (the controller-manager is)."""
    deadline = time.monotonic() + timeout
    waiting = "nodes"
    while time.monotonic() < deadline:
        for proc in procs.values():
            if not proc.alive():
                raise ControlPlaneError(f"{proc.name} exited; last lines of {proc.log}:\n{log_tail(proc.log)}")
        items = api.get("/api/v1/nodes").get("items", [])
        ready = {
            n["metadata"]["name"]
            for n in items
            if any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in n.get("status", {}).get("conditions", [])
            )
        }
        if not set(node_names) <= ready:
            waiting = f"nodes Ready: {sorted(ready)} of {node_names}"
            time.sleep(0.5)
            continue
        status, _ = api.request("GET", "/api/v1/namespaces/default/serviceaccounts/default")
        if status == 200:
            return
        waiting = "the default ServiceAccount (created by kube-controller-manager)"
        time.sleep(0.5)
    blamed = procs["kwok"] if waiting.startswith("nodes") else procs["kube-controller-manager"]
    raise ControlPlaneError(f"timed out waiting for {waiting}; last lines of {blamed.log}:\n{log_tail(blamed.log)}")


def start(
    state_dir: Path | str = DEFAULT_STATE,
    *,
    nodes: int = 3,
    node_cpu: str = "16",
    node_memory: str = "64Gi",
    node_pods: int = 110,
    storage_classes: Sequence[str] = (DEFAULT_STORAGE_CLASS, *EXTRA_STORAGE_CLASSES),
    timeout: float = 180.0,
) -> ControlPlane:
    """Start the plane in `state_dir` (or return the one already running there, healthy) and wait until it serves.

    Raises ControlPlaneError naming the component and its log's tail when one fails; what was started is stopped.
    """
    state_dir = Path(state_dir).resolve()
    existing = running(state_dir)
    if existing is not None:
        return existing
    stop(state_dir)  # a half-dead plane from an earlier run: stop what is left of it before starting anew
    binaries = bin_dir()
    missing = missing_binaries(binaries)
    if missing:
        raise ControlPlaneError(
            f"binaries missing in {binaries}: {', '.join(missing)}; run `bash scripts/install/kube.sh`"
        )
    for sub in ("logs", "etcd", "kwok"):
        (state_dir / sub).mkdir(parents=True, exist_ok=True)
    (state_dir / "etcd").chmod(0o700)
    pki = _ensure_pki(state_dir / "pki")
    ports = _pick_ports(state_dir)
    server = f"https://{HOST}:{ports['kube-apiserver']}"
    kubeconfig = state_dir / "kubeconfig"
    _write_kubeconfig(kubeconfig, pki, server, "admin")
    for user in ("kube-controller-manager", "kube-scheduler", "kwok"):
        _write_kubeconfig(
            state_dir / "kwok" / f"{user}.kubeconfig" if user == "kwok" else state_dir / f"{user}.kubeconfig",
            pki,
            server,
            user,
        )
    _kwok_config(state_dir / "kwok" / "kwok.yaml", storage_classes)
    logs = state_dir / "logs"
    b = str(binaries)
    p = pki.path
    etcd_client, etcd_peer = f"http://{HOST}:{ports['etcd']}", f"http://{HOST}:{ports['etcd-peer']}"
    commands: dict[str, list[str]] = {
        "etcd": [
            f"{b}/etcd",
            "--name=local",
            f"--data-dir={state_dir / 'etcd'}",
            f"--listen-client-urls={etcd_client}",
            f"--advertise-client-urls={etcd_client}",
            f"--listen-peer-urls={etcd_peer}",
            f"--initial-advertise-peer-urls={etcd_peer}",
            f"--initial-cluster=local={etcd_peer}",
            "--initial-cluster-state=new",
            "--snapshot-count=5000",
            "--quota-backend-bytes=2147483648",
            "--auto-compaction-mode=periodic",
            "--auto-compaction-retention=5m",
            "--unsafe-no-fsync=true",  # a throw-away local cluster: durability across host crashes is not needed
            "--log-level=warn",
        ],
        "kube-apiserver": [
            f"{b}/kube-apiserver",
            f"--etcd-servers={etcd_client}",
            f"--bind-address={HOST}",
            f"--advertise-address={HOST}",
            f"--secure-port={ports['kube-apiserver']}",
            f"--tls-cert-file={p('apiserver.crt')}",
            f"--tls-private-key-file={p('apiserver.key')}",
            f"--client-ca-file={pki.ca_cert}",
            f"--service-account-key-file={p('sa.pub')}",
            f"--service-account-signing-key-file={p('sa.key')}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--authorization-mode=Node,RBAC",
            "--allow-privileged=true",
            "--disable-admission-plugins=MutatingAdmissionWebhook,ValidatingAdmissionWebhook",
            "--endpoint-reconciler-type=none",  # the Endpoints API refuses a loopback address for `kubernetes`
            f"--requestheader-client-ca-file={pki.ca_cert}",
            "--requestheader-allowed-names=front-proxy-client",
            "--requestheader-username-headers=X-Remote-User",
            "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            f"--proxy-client-cert-file={p('front-proxy-client.crt')}",
            f"--proxy-client-key-file={p('front-proxy-client.key')}",
            "--profiling=false",
            "--v=1",
        ],
        "kube-controller-manager": [
            f"{b}/kube-controller-manager",
            f"--kubeconfig={state_dir / 'kube-controller-manager.kubeconfig'}",
            f"--authentication-kubeconfig={state_dir / 'kube-controller-manager.kubeconfig'}",
            f"--authorization-kubeconfig={state_dir / 'kube-controller-manager.kubeconfig'}",
            f"--bind-address={HOST}",
            f"--secure-port={ports['kube-controller-manager']}",
            f"--cert-dir={state_dir / 'kcm-serving'}",
            f"--service-account-private-key-file={p('sa.key')}",
            f"--root-ca-file={pki.ca_cert}",
            f"--cluster-signing-cert-file={pki.ca_cert}",
            f"--cluster-signing-key-file={p('ca.key')}",
            "--use-service-account-credentials=true",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--leader-elect=false",
            "--node-monitor-period=5s",
            "--node-monitor-grace-period=40s",
            "--profiling=false",
            "--v=1",
        ],
        "kube-scheduler": [
            f"{b}/kube-scheduler",
            f"--kubeconfig={state_dir / 'kube-scheduler.kubeconfig'}",
            f"--authentication-kubeconfig={state_dir / 'kube-scheduler.kubeconfig'}",
            f"--authorization-kubeconfig={state_dir / 'kube-scheduler.kubeconfig'}",
            f"--bind-address={HOST}",
            f"--secure-port={ports['kube-scheduler']}",
            f"--cert-dir={state_dir / 'scheduler-serving'}",
            "--leader-elect=false",
            "--profiling=false",
            "--v=1",
        ],
        "kwok": [
            f"{b}/kwok",
            f"--config={state_dir / 'kwok' / 'kwok.yaml'}",
            f"--kubeconfig={state_dir / 'kwok' / 'kwok.kubeconfig'}",
            f"--manage-nodes-with-annotation-selector={NODE_ANNOTATION}=fake",
            f"--server-address={HOST}:{ports['kwok']}",
            f"--cidr={POD_CIDR}",
            "--node-ip=10.0.0.1",  # reported in node status only
            "--node-lease-duration-seconds=40",
        ],
    }
    # The Go runtime gives memory back sooner under a soft limit: keeps the idle plane near its budget.
    limits = {
        "kube-apiserver": "300MiB",
        "etcd": "100MiB",
        "kube-controller-manager": "100MiB",
        "kube-scheduler": "60MiB",
        "kwok": "60MiB",
    }
    procs: dict[str, _Proc] = {}
    plane = ControlPlane(state_dir, server, kubeconfig, "", ports, procs)
    try:
        for name in ("etcd", "kube-apiserver"):
            env = {"GOMEMLIMIT": limits[name], "GOGC": "50"}  # ~50 MiB less for the apiserver, little CPU
            procs[name] = _spawn(name, commands[name], logs, env)
            _write_state(plane)
            _wait_healthy(procs[name], ports, pki.directory, timeout)
        for name in ("kube-controller-manager", "kube-scheduler", "kwok"):
            procs[name] = _spawn(name, commands[name], logs, {"GOMEMLIMIT": limits[name]})
            _write_state(plane)
        for name in ("kube-controller-manager", "kube-scheduler", "kwok"):
            _wait_healthy(procs[name], ports, pki.directory, timeout)
        api = plane.api()
        plane.version = str(api.get("/version")["gitVersion"])
        node_objs = _nodes(nodes, node_cpu, node_memory, node_pods)
        _bootstrap(api, node_objs, storage_classes)
        _wait_bootstrapped(api, [n["metadata"]["name"] for n in node_objs], procs, timeout)
        _write_state(plane)
    except BaseException:
        plane.stop()
        raise
    return plane


def _write_state(plane: ControlPlane) -> None:
    data = {
        "server": plane.server,
        "version": plane.version,
        "ports": plane.ports,
        "procs": {name: {"pid": proc.pid, "binary": proc.binary} for name, proc in plane.procs.items()},
        "started": dt.datetime.now(dt.UTC).isoformat(),
    }
    tmp = plane.state_dir / "plane.json.tmp"
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, plane.state_dir / "plane.json")


# ------------------------------------------------------------------------------------------------------- CLI


def _fmt_bytes(n: int) -> str:
    return f"{n / 2**20:.0f} MiB"


def _node_summary(api: Api) -> Iterable[str]:
    for node in api.get("/api/v1/nodes").get("items", []):
        labels = node["metadata"].get("labels", {})
        ready = next(
            (c["status"] for c in node.get("status", {}).get("conditions", []) if c.get("type") == "Ready"), "?"
        )
        alloc = node.get("status", {}).get("allocatable", {})
        yield (
            f"  {node['metadata']['name']:<14} Ready={ready:<5} zone={labels.get('topology.kubernetes.io/zone', '-'):<8} "
            f"cpu={alloc.get('cpu', '?')} memory={alloc.get('memory', '?')} pods={alloc.get('pods', '?')}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cluster.controlplane",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "A real Kubernetes control plane on 127.0.0.1: etcd, kube-apiserver, kube-controller-manager and\n"
            "kube-scheduler built from source, with kwok simulating three nodes in zones local-a/b/c.\n"
            "Binaries: `bash scripts/install/kube.sh` (part of scripts/setup.sh). About 0.6 GB of memory running."
        ),
        epilog=(
            "commands:\n"
            "  up      start the plane, or reuse the healthy one already running in --state; prints the\n"
            "          server URL and the admin kubeconfig (exit 1 naming the component that failed, with its log)\n"
            "  status  health, pid and memory of each component, and the nodes (exit 0 healthy, 1 not, 3 not running)\n"
            "  down    stop every component's process group; certificates and etcd data stay for the next `up`\n"
            "\n"
            "state: <state>/kubeconfig, <state>/logs/<component>.log, <state>/etcd/, <state>/pki/\n"
            "then:  export KUBECONFIG=<state>/kubeconfig; kubectl get nodes\n"
            "       (kubectl v1.37 is built alongside: ~/.cache/airflow-platform/tools/kube/<version>/bin/kubectl)"
        ),
    )
    parser.add_argument("command", choices=("up", "down", "status"), help="what to do (see below)")
    parser.add_argument("--state", type=Path, default=DEFAULT_STATE, help=f"state directory (default: {DEFAULT_STATE})")
    parser.add_argument("--nodes", type=int, default=3, help="number of kwok nodes for `up` (default: 3)")
    args = parser.parse_args(argv)
    state: Path = args.state
    if args.command == "up":
        t0 = time.monotonic()
        try:
            plane = start(state, nodes=args.nodes)
        except ControlPlaneError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        how = "already running" if plane.reused else f"started in {time.monotonic() - t0:.1f}s"
        print(f"control plane {plane.version} {how}")
        print(f"  server:     {plane.server}")
        print(f"  kubeconfig: {plane.kubeconfig}")
        print(f"  logs:       {plane.logs_dir}")
        print(f"  export KUBECONFIG={plane.kubeconfig}")
        return 0
    if args.command == "down":
        stopped = stop(state)
        print(f"stopped: {', '.join(stopped)}" if stopped else "not running")
        return 0
    data = _load_state(state.resolve())
    if data is None:
        print(f"not running (no plane recorded in {state})")
        return 3
    procs = _procs_from_state(data, state.resolve())
    ports = {k: int(v) for k, v in data["ports"].items()}
    health = _health(procs, ports, state.resolve() / "pki")
    total = 0
    print(f"control plane {data.get('version', '?')} at {data.get('server')}  (state {state})")
    for name in COMPONENTS:
        proc = procs.get(name)
        rss = _rss_bytes(proc.pid) if proc and proc.alive() else 0
        total += rss
        pid = proc.pid if proc else "-"
        print(f"  {name:<24} pid={pid!s:<8} {health[name]:<10} rss={_fmt_bytes(rss)}")
    print(f"  total rss: {_fmt_bytes(total)}")
    if health["kube-apiserver"] == "ok":
        print("nodes:")
        for line in _node_summary(Api(data["server"], state.resolve() / "pki")):
            print(line)
    return 0 if all(h == "ok" for h in health.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
