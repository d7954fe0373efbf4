"""Server-side apply of manifest dicts to a cluster, in dependency order, and a wait until the workloads are ready.

    report = apply(kubeconfig, objects, field_manager="airflow-platform", default_namespace="airflow")
    assert report.ok, report.summary()          # every rejection: kind, namespace/name and the server's message
    ready = wait_ready(kubeconfig, objects, timeout=300, default_namespace="airflow")
    assert ready.ok, ready.summary()            # what is not ready and why: pod phases, conditions, events

Order (each phase is one `kubectl apply --server-side --validate=strict` call; a phase's failures are re-applied
one by one to name each rejected object and its message):
  1. Namespaces
  2. CustomResourceDefinitions, then a wait until each is Established
  3. ServiceAccounts, RBAC, ConfigMaps, Secrets, PVCs, Services and the other kinds workloads depend on
  4. workloads: Deployments, StatefulSets, DaemonSets, Jobs, CronJobs
  5. custom resources and everything else
  6. admission webhook configurations and APIServices (last: once registered they sit in front of everything)

`kubectl` is the one built with the local control plane (same minor version as the server, see
cluster/controlplane.py), else the one on PATH. Namespaced objects without metadata.namespace get
`default_namespace`; cluster-scoped ones are left alone (the scope comes from the server's discovery).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cluster.controlplane import kubectl_path

PHASES: tuple[tuple[str, frozenset[str]], ...] = (
    ("namespaces", frozenset({"Namespace"})),
    ("crds", frozenset({"CustomResourceDefinition"})),
    (
        "config",
        frozenset(
            {
                "ServiceAccount",
                "ClusterRole",
                "ClusterRoleBinding",
                "Role",
                "RoleBinding",
                "ConfigMap",
                "Secret",
                "PersistentVolume",
                "PersistentVolumeClaim",
                "Service",
                "StorageClass",
                "PriorityClass",
                "LimitRange",
                "ResourceQuota",
                "NetworkPolicy",
                "PodDisruptionBudget",
                "IngressClass",
                "RuntimeClass",
            }
        ),
    ),
    ("workloads", frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod"})),
    ("other", frozenset()),  # everything not named in another phase: custom resources, Ingresses, HPAs, ...
    (
        "admission",
        frozenset(
            {
                "ValidatingWebhookConfiguration",
                "MutatingWebhookConfiguration",
                "ValidatingAdmissionPolicy",
                "ValidatingAdmissionPolicyBinding",
                "MutatingAdmissionPolicy",
                "MutatingAdmissionPolicyBinding",
                "APIService",
            }
        ),
    ),
)
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job")


@dataclass(frozen=True)
class ObjectRef:
    kind: str
    name: str
    namespace: str | None = None
    api_version: str = ""

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


@dataclass(frozen=True)
class Rejection:
    ref: ObjectRef
    message: str

    def __str__(self) -> str:
        return f"{self.ref}: {self.message}"


@dataclass
class ApplyReport:
    applied: list[ObjectRef] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.rejections

    def summary(self) -> str:
        lines = [f"applied {len(self.applied)} objects, {len(self.rejections)} rejected in {self.seconds:.1f}s"]
        lines += [f"  REJECTED {r}" for r in self.rejections]
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


@dataclass(frozen=True)
class NotReady:
    ref: ObjectRef
    reason: str
    details: tuple[str, ...] = ()

    def __str__(self) -> str:
        return "\n".join([f"{self.ref}: {self.reason}", *(f"    {d}" for d in self.details)])


@dataclass
class ReadyReport:
    ready: list[ObjectRef] = field(default_factory=list)
    not_ready: list[NotReady] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.not_ready

    def summary(self) -> str:
        lines = [f"{len(self.ready)} ready, {len(self.not_ready)} not ready after {self.seconds:.1f}s"]
        lines += [f"  NOT READY {n}" for n in self.not_ready]
        return "\n".join(lines)


class ApplyError(RuntimeError):
    """kubectl itself could not run (no cluster, bad kubeconfig); object rejections go into the report instead."""


# -------------------------------------------------------------------------------------------------- kubectl


def _kubectl(
    kubeconfig: Path | str,
    args: Sequence[str],
    stdin: str | None = None,
    timeout: float = 300,
    cache_dir: str | None = None,
) -> subprocess.CompletedProcess[str]:
    argv = [kubectl_path(), f"--kubeconfig={kubeconfig}", *args]
    if cache_dir:
        argv.append(f"--cache-dir={cache_dir}")
    try:
        return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as err:
        raise ApplyError(f"kubectl {' '.join(args)} timed out after {timeout:.0f}s") from err


def _group(api_version: str) -> str:
    return api_version.split("/", 1)[0] if "/" in api_version else ""


def _scopes(kubeconfig: Path | str, cache_dir: str) -> dict[tuple[str, str], bool]:
    """(group, kind) -> namespaced, from the server's discovery."""
    proc = _kubectl(kubeconfig, ["api-resources", "--no-headers"], cache_dir=cache_dir, timeout=60)
    if proc.returncode != 0 and not proc.stdout:
        raise ApplyError(f"kubectl api-resources failed: {proc.stderr.strip()}")
    scopes: dict[tuple[str, str], bool] = {}
    for line in proc.stdout.splitlines():
        cols = line.split()
        if len(cols) >= 4:  # NAME [SHORTNAMES] APIVERSION NAMESPACED KIND
            scopes[(_group(cols[-3]), cols[-1])] = cols[-2] == "true"
    return scopes


def _ref(obj: dict[str, Any]) -> ObjectRef:
    meta = obj.get("metadata") or {}
    return ObjectRef(
        kind=str(obj.get("kind", "?")),
        name=str(meta.get("name", "?")),
        namespace=meta.get("namespace") or None,
        api_version=str(obj.get("apiVersion", "")),
    )


def _with_namespace(
    obj: dict[str, Any], scopes: dict[tuple[str, str], bool], default_namespace: str | None
) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    namespaced = scopes.get((_group(str(obj.get("apiVersion", ""))), str(obj.get("kind", ""))))
    if namespaced is False and meta.get("namespace"):
        # kubectl refuses a namespace on a cluster-scoped object only sometimes; the server ignores it: drop it.
        return {**obj, "metadata": {k: v for k, v in meta.items() if k != "namespace"}}
    if namespaced is not False and not meta.get("namespace") and default_namespace:
        # Unknown kinds (a CRD not applied) are treated as namespaced: kubectl then reports the missing mapping.
        return {**obj, "metadata": {**meta, "namespace": default_namespace}}
    return obj


def _phase(obj: dict[str, Any]) -> int:
    kind = str(obj.get("kind", ""))
    for index, (_, kinds) in enumerate(PHASES):
        if kind in kinds:
            return index
    return next(i for i, (name, _) in enumerate(PHASES) if name == "other")


def _parse_applied(stdout: str) -> list[dict[str, Any]]:
    """kubectl -o json prints one object, or a List, or several documents back to back."""
    decoder = json.JSONDecoder()
    found: list[dict[str, Any]] = []
    text, pos = stdout.strip(), 0
    while pos < len(text):
        try:
            doc, end = decoder.raw_decode(text, pos)
        except ValueError:
            break
        if isinstance(doc, dict):
            found.extend(doc.get("items", []) if doc.get("kind") == "List" else [doc])
        pos = end
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return found


def _key(ref: ObjectRef) -> tuple[str, str, str, str]:
    return (_group(ref.api_version), ref.kind, ref.namespace or "", ref.name)


def _clean_message(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line and not line.startswith("Warning:")]
    return " ".join(lines) or stderr.strip() or "rejected (no message)"


def _warnings(stderr: str) -> list[str]:
    return [line.removeprefix("Warning: ").strip() for line in stderr.splitlines() if line.startswith("Warning:")]


def _apply_batch(
    kubeconfig: Path | str, objs: list[dict[str, Any]], field_manager: str, force_conflicts: bool, cache_dir: str
) -> tuple[list[ObjectRef], list[Rejection], list[str]]:
    args = ["apply", "--server-side", f"--field-manager={field_manager}", "--validate=strict", "-o", "json", "-f", "-"]
    if force_conflicts:
        args.insert(2, "--force-conflicts")
    stream = yaml.safe_dump_all(objs, sort_keys=False)
    proc = _kubectl(kubeconfig, args, stdin=stream, cache_dir=cache_dir)
    warnings = _warnings(proc.stderr)
    done = {_key(_ref(o)) for o in _parse_applied(proc.stdout)}
    applied = [_ref(o) for o in objs if _key(_ref(o)) in done]
    failed = [o for o in objs if _key(_ref(o)) not in done]
    if proc.returncode == 0 and not failed:
        return applied, [], warnings
    if (
        proc.returncode != 0
        and not applied
        and ("Unable to connect" in proc.stderr or "couldn't get current server" in proc.stderr)
    ):
        raise ApplyError(f"kubectl cannot reach the cluster: {proc.stderr.strip()}")
    rejections: list[Rejection] = []
    if len(objs) == 1 and failed:
        return [], [Rejection(_ref(objs[0]), _clean_message(proc.stderr))], warnings
    for obj in failed:  # one by one: each rejected object with its own message
        sub_applied, sub_rejected, sub_warnings = _apply_batch(
            kubeconfig, [obj], field_manager, force_conflicts, cache_dir
        )
        applied += sub_applied
        rejections += sub_rejected
        warnings += sub_warnings
    return applied, rejections, warnings


def _wait_established(kubeconfig: Path | str, names: list[str], timeout: float) -> list[Rejection]:
    if not names:
        return []
    proc = _kubectl(
        kubeconfig,
        ["wait", "--for=condition=Established", f"--timeout={int(timeout)}s", *(f"crd/{n}" for n in names)],
        timeout=timeout + 30,
    )
    if proc.returncode == 0:
        return []
    met = {line.split()[0].split("/", 1)[-1] for line in proc.stdout.splitlines() if "condition met" in line}
    return [
        Rejection(
            ObjectRef("CustomResourceDefinition", n, None, "apiextensions.k8s.io/v1"),
            f"not Established within {timeout:.0f}s: {proc.stderr.strip()}",
        )
        for n in names
        if n not in met
    ]


def apply(
    kubeconfig: Path | str,
    objects: Iterable[dict[str, Any]],
    field_manager: str,
    *,
    default_namespace: str | None = None,
    force_conflicts: bool = False,
    crd_timeout: float = 60.0,
) -> ApplyReport:
    """Server-side apply `objects` in dependency order with strict validation; every rejection is in the report."""
    t0 = time.monotonic()
    report = ApplyReport()
    items = [o for o in objects if o]
    by_phase: dict[int, list[dict[str, Any]]] = {}
    for obj in items:
        by_phase.setdefault(_phase(obj), []).append(obj)
    with tempfile.TemporaryDirectory(prefix="kubectl-cache-") as tmp:
        for index, (name, _) in enumerate(PHASES):
            batch = by_phase.get(index)
            if not batch:
                continue
            cache_dir = str(Path(tmp) / name)  # fresh discovery per phase: CRDs of the previous phase are served now
            scopes = _scopes(kubeconfig, cache_dir)
            batch = [_with_namespace(o, scopes, default_namespace) for o in batch]
            applied, rejected, warnings = _apply_batch(kubeconfig, batch, field_manager, force_conflicts, cache_dir)
            report.applied += applied
            report.rejections += rejected
            report.warnings += warnings
            if name == "crds":
                crds = [r.name for r in applied if r.kind == "CustomResourceDefinition"]
                report.rejections += _wait_established(kubeconfig, crds, crd_timeout)
    report.seconds = time.monotonic() - t0
    return report


# ----------------------------------------------------------------------------------------------- readiness


def _get_json(kubeconfig: Path | str, args: Sequence[str]) -> dict[str, Any]:
    proc = _kubectl(kubeconfig, [*args, "-o", "json"], timeout=60)
    if proc.returncode != 0:
        raise ApplyError(f"kubectl {' '.join(args)}: {proc.stderr.strip()}")
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int) else 0


def _condition(obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return next((c for c in obj.get("status", {}).get("conditions", []) or [] if c.get("type") == kind), None)


def _state(kind: str, obj: dict[str, Any]) -> tuple[str, str]:
    """("ready" | "waiting" | "failed", why)."""
    spec, status = obj.get("spec", {}), obj.get("status", {}) or {}
    generation, observed = obj.get("metadata", {}).get("generation", 0), status.get("observedGeneration", 0)
    if kind == "Job":
        if (c := _condition(obj, "Complete")) and c.get("status") == "True":
            return "ready", "Complete"
        if (c := _condition(obj, "Failed")) and c.get("status") == "True":
            return "failed", f"Failed: {c.get('reason', '')} {c.get('message', '')}".strip()
        if spec.get("suspend"):
            return "waiting", "suspended"
        return (
            "waiting",
            f"active={_int(status.get('active'))} succeeded={_int(status.get('succeeded'))} failed={_int(status.get('failed'))}",
        )
    if observed < generation:
        return "waiting", f"controller has not observed generation {generation} yet (observed {observed})"
    if kind == "DaemonSet":
        want = _int(status.get("desiredNumberScheduled"))
        got = [_int(status.get(k)) for k in ("numberReady", "updatedNumberScheduled", "numberAvailable")]
        if all(g == want for g in got):
            return "ready", f"{want}/{want} ready"
        return "waiting", f"numberReady {got[0]}/{want}, updated {got[1]}/{want}, available {got[2]}/{want}"
    want = spec.get("replicas", 1)
    want = want if isinstance(want, int) else 1
    ready, available, updated = (_int(status.get(k)) for k in ("readyReplicas", "availableReplicas", "updatedReplicas"))
    total = _int(status.get("replicas"))
    if ready == want and available == want and updated == want and total == want:
        return "ready", f"{want}/{want} ready"
    return (
        "waiting",
        f"readyReplicas {ready}/{want}, available {available}/{want}, updated {updated}/{want}, total {total}",
    )


def _matches(labels: dict[str, str], selector: dict[str, Any]) -> bool:
    if not selector:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if (
            (op == "In" and labels.get(key) not in values)
            or (op == "NotIn" and labels.get(key) in values)
            or (op == "Exists" and key not in labels)
            or (op == "DoesNotExist" and key in labels)
        ):
            return False
    return True


def _pod_line(pod: dict[str, Any]) -> str:
    status = pod.get("status", {}) or {}
    bits = [f"pod {pod['metadata']['name']}: {status.get('phase', '?')}"]
    if node := pod.get("spec", {}).get("nodeName"):
        bits.append(f"on {node}")
    for cond in status.get("conditions", []) or []:
        if cond.get("status") != "True":
            bits.append(f"{cond.get('type')}=False {cond.get('reason', '')}: {cond.get('message', '')}".rstrip(": "))
    return " ".join(bits)


def _diagnose(
    kubeconfig: Path | str, kind: str, obj: dict[str, Any], cache: dict[str, dict[str, Any]]
) -> tuple[str, ...]:
    ns = obj["metadata"]["namespace"]
    if ns not in cache:
        cache[ns] = {
            "pods": _get_json(kubeconfig, ["get", "pods", "-n", ns]).get("items", []),
            "events": _get_json(kubeconfig, ["get", "events", "-n", ns]).get("items", []),
            "pvcs": _get_json(kubeconfig, ["get", "pvc", "-n", ns]).get("items", []),
        }
    selector = obj.get("spec", {}).get("selector") or {}
    pods = [p for p in cache[ns]["pods"] if _matches(p["metadata"].get("labels") or {}, selector)]
    details = [_pod_line(p) for p in pods[:10]]
    if not pods:
        details.append("no pods")
    names = {obj["metadata"]["name"], *(p["metadata"]["name"] for p in pods)}
    if kind == "StatefulSet":
        sts = obj["metadata"]["name"]
        for pvc in cache[ns]["pvcs"]:
            pvc_name = pvc["metadata"]["name"]
            if any(
                pvc_name.startswith(f"{t['metadata']['name']}-{sts}-")
                for t in obj["spec"].get("volumeClaimTemplates", [])
            ):
                names.add(pvc_name)
                if (pvc.get("status") or {}).get("phase") != "Bound":
                    details.append(f"pvc {pvc_name}: {(pvc.get('status') or {}).get('phase', '?')}")
    events = [e for e in cache[ns]["events"] if (e.get("involvedObject") or {}).get("name") in names]
    events.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
    details += [
        f"event {e['involvedObject'].get('kind')}/{e['involvedObject'].get('name')}: {e.get('type')} {e.get('reason')}: {e.get('message', '').strip()}"
        for e in events[-6:]
    ]
    return tuple(details)


def wait_ready(
    kubeconfig: Path | str,
    objects: Iterable[dict[str, Any]],
    timeout: float = 300.0,
    *,
    default_namespace: str | None = None,
    poll: float = 2.0,
) -> ReadyReport:
    """Wait until every Deployment/StatefulSet/DaemonSet is fully available and every Job is Complete.

    Returns what is ready and, for the rest, why not (the controller's counts, each pod's phase and failing
    conditions, Pending PVCs, the latest events). A failed Job stops being waited for.
    """
    t0 = time.monotonic()
    targets: list[ObjectRef] = []
    for obj in objects:
        if obj and obj.get("kind") in WORKLOAD_KINDS:
            ref = _ref(obj)
            targets.append(
                ObjectRef(ref.kind, ref.name, ref.namespace or default_namespace or "default", ref.api_version)
            )
    resources = "deployments.apps,statefulsets.apps,daemonsets.apps,jobs.batch"
    states: dict[ObjectRef, tuple[str, str]] = {}
    live: dict[ObjectRef, dict[str, Any]] = {}
    deadline = t0 + timeout
    while True:
        items = _get_json(kubeconfig, ["get", resources, "--all-namespaces"]).get("items", []) if targets else []
        index = {(i["kind"], i["metadata"]["namespace"], i["metadata"]["name"]): i for i in items}
        for ref in targets:
            found = index.get((ref.kind, ref.namespace or "", ref.name))
            if found is None:
                states[ref] = ("waiting", "not found")
                continue
            live[ref] = found
            states[ref] = _state(ref.kind, found)
        if all(state != "waiting" for state, _ in states.values()) or time.monotonic() >= deadline:
            break
        time.sleep(poll)
    report = ReadyReport(seconds=time.monotonic() - t0)
    cache: dict[str, dict[str, Any]] = {}
    for ref in targets:
        state, why = states[ref]
        if state == "ready":
            report.ready.append(ref)
            continue
        details = _diagnose(kubeconfig, ref.kind, live[ref], cache) if ref in live else ()
        report.not_ready.append(NotReady(ref, why, details))
    return report
