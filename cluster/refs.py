"""What pods need that nothing creates, and lists Kubernetes would refuse or merge wrongly.

- `dangling_references`: every Secret, ConfigMap, ServiceAccount and PersistentVolumeClaim a pod template
  names (volumes, projected volumes, env, envFrom, imagePullSecrets, serviceAccountName) must be created by
  an applied object, by a StatefulSet's volumeClaimTemplates, or by a controller the stack runs (listed in
  CONTROLLER_CREATED with the reason). References marked `optional: true` are allowed to dangle.
- `duplicate_names`: duplicate keys in the lists server-side apply merges by key: env names, container ports,
  volumes, volumeMounts (by mountPath), containers and initContainers. SSA rejects the object, and client-side
  apply keeps only one of them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from cluster.render import Rendered

POD_TEMPLATE_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}


@dataclass(frozen=True)
class Finding:
    obj: Rendered
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.obj.label()}: {self.where}: {self.message}"


def pod_spec(manifest: dict[str, Any]) -> dict[str, Any] | None:
    kind = manifest.get("kind")
    spec = manifest.get("spec") or {}
    if kind == "Pod":
        return spec
    if kind in POD_TEMPLATE_KINDS:
        return ((spec.get("template") or {}).get("spec")) or {}
    if kind == "CronJob":
        return ((((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get("spec")) or {}
    return None


def _pod_path(manifest: dict[str, Any]) -> str:
    kind = manifest.get("kind")
    if kind == "Pod":
        return "spec"
    if kind == "CronJob":
        return "spec.jobTemplate.spec.template.spec"
    return "spec.template.spec"


def containers(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for i, c in enumerate(spec.get(key) or []):
            yield f"{key}[{i}]", c


def claim_templates(manifest: dict[str, Any]) -> set[str]:
    """A StatefulSet's volumeClaimTemplates: volumes its pods mount that no PVC object or pod volume declares."""
    return {t["metadata"]["name"] for t in (manifest.get("spec") or {}).get("volumeClaimTemplates") or []}


@dataclass(frozen=True)
class Reference:
    kind: str
    name: str
    where: str
    optional: bool


def references(manifest: dict[str, Any]) -> list[Reference]:
    spec = pod_spec(manifest)
    if spec is None:
        return []
    base = _pod_path(manifest)
    refs: list[Reference] = []
    sa = spec.get("serviceAccountName") or spec.get("serviceAccount")
    if sa:
        refs.append(Reference("ServiceAccount", sa, f"{base}.serviceAccountName", False))
    for i, s in enumerate(spec.get("imagePullSecrets") or []):
        refs.append(Reference("Secret", s.get("name", ""), f"{base}.imagePullSecrets[{i}]", False))
    templates = claim_templates(manifest)
    for i, v in enumerate(spec.get("volumes") or []):
        where = f"{base}.volumes[{i}]({v.get('name')})"
        if "secret" in v:
            refs.append(Reference("Secret", v["secret"].get("secretName", ""), where, bool(v["secret"].get("optional"))))
        if "configMap" in v:
            refs.append(Reference("ConfigMap", v["configMap"].get("name", ""), where, bool(v["configMap"].get("optional"))))
        if "persistentVolumeClaim" in v and v["persistentVolumeClaim"].get("claimName") not in templates:
            refs.append(Reference("PersistentVolumeClaim", v["persistentVolumeClaim"].get("claimName", ""), where, False))
        for j, source in enumerate((v.get("projected") or {}).get("sources") or []):
            if "secret" in source:
                refs.append(Reference("Secret", source["secret"].get("name", ""), f"{where}.projected.sources[{j}]", bool(source["secret"].get("optional"))))
            if "configMap" in source:
                refs.append(Reference("ConfigMap", source["configMap"].get("name", ""), f"{where}.projected.sources[{j}]", bool(source["configMap"].get("optional"))))
    for cpath, c in containers(spec):
        for i, env in enumerate(c.get("env") or []):
            source = env.get("valueFrom") or {}
            where = f"{base}.{cpath}({c.get('name')}).env[{i}]({env.get('name')})"
            if "secretKeyRef" in source:
                refs.append(Reference("Secret", source["secretKeyRef"].get("name", ""), where, bool(source["secretKeyRef"].get("optional"))))
            if "configMapKeyRef" in source:
                refs.append(Reference("ConfigMap", source["configMapKeyRef"].get("name", ""), where, bool(source["configMapKeyRef"].get("optional"))))
        for i, env_from in enumerate(c.get("envFrom") or []):
            where = f"{base}.{cpath}({c.get('name')}).envFrom[{i}]"
            if "secretRef" in env_from:
                refs.append(Reference("Secret", env_from["secretRef"].get("name", ""), where, bool(env_from["secretRef"].get("optional"))))
            if "configMapRef" in env_from:
                refs.append(Reference("ConfigMap", env_from["configMapRef"].get("name", ""), where, bool(env_from["configMapRef"].get("optional"))))
    return refs


# Objects the cluster itself creates for every namespace (the controller-manager's root CA publisher and
# service-account controller).
IMPLICIT = {("ServiceAccount", "default"), ("ConfigMap", "kube-root-ca.crt")}


def controller_created(objects: Iterable[Rendered]) -> dict[tuple[str, str, str], str]:
    """(kind, namespace, name) -> which controller creates it, for custom resources the stack applies."""
    created: dict[tuple[str, str, str], str] = {}
    for obj in objects:
        ns = obj.namespace or ""
        if obj.kind == "Kafka" and obj.api_version.startswith("kafka.strimzi.io/"):
            for suffix in ("cluster-ca-cert", "clients-ca-cert", "cluster-ca", "clients-ca"):
                created[("Secret", ns, f"{obj.name}-{suffix}")] = f"Strimzi's operator, for Kafka {obj.name}"
        if obj.kind == "Cluster" and obj.api_version.startswith("postgresql.cnpg.io/"):
            for suffix in ("ca", "server", "replication"):
                created[("Secret", ns, f"{obj.name}-{suffix}")] = f"CloudNativePG, for Cluster {obj.name}"
    return created


def dangling_references(objects: list[Rendered]) -> list[Finding]:
    existing = {(o.kind, o.namespace or "", o.name) for o in objects}
    by_controller = controller_created(objects)
    findings = []
    for obj in objects:
        for ref in references(obj.manifest):
            ns = obj.namespace or ""
            if ref.optional or (ref.kind, ref.name) in IMPLICIT or (ref.kind, ns, ref.name) in existing or (ref.kind, ns, ref.name) in by_controller:
                continue
            findings.append(Finding(obj, ref.where, f"references {ref.kind} {ref.name!r}, which no applied object creates"))
    return findings


def _duplicates(items: list[dict[str, Any]], key: Callable[[dict[str, Any]], Any]) -> list[Any]:
    counts = Counter(key(i) for i in items)
    return sorted((k for k, n in counts.items() if n > 1), key=str)


def duplicate_names(objects: list[Rendered]) -> list[Finding]:
    findings = []
    for obj in objects:
        spec = pod_spec(obj.manifest)
        if spec is None:
            continue
        base = _pod_path(obj.manifest)
        all_containers = [c for _, c in containers(spec)]
        for dup in _duplicates(all_containers, lambda c: c.get("name")):
            findings.append(Finding(obj, f"{base}.containers", f"container name {dup!r} appears twice"))
        for dup in _duplicates(spec.get("volumes") or [], lambda v: v.get("name")):
            findings.append(Finding(obj, f"{base}.volumes", f"volume {dup!r} appears twice"))
        mountable = {v.get("name") for v in spec.get("volumes") or []} | claim_templates(obj.manifest)
        for cpath, c in containers(spec):
            where = f"{base}.{cpath}({c.get('name')})"
            for dup in _duplicates(c.get("env") or [], lambda e: e.get("name")):
                findings.append(Finding(obj, f"{where}.env", f"env var {dup!r} appears twice"))
            for dup in _duplicates(c.get("ports") or [], lambda p: (p.get("containerPort"), p.get("protocol", "TCP"))):
                findings.append(Finding(obj, f"{where}.ports", f"port {dup[0]}/{dup[1]} appears twice"))
            named = [p for p in c.get("ports") or [] if p.get("name")]
            for dup in _duplicates(named, lambda p: p.get("name")):
                findings.append(Finding(obj, f"{where}.ports", f"port name {dup!r} appears twice"))
            for dup in _duplicates(c.get("volumeMounts") or [], lambda m: m.get("mountPath")):
                findings.append(Finding(obj, f"{where}.volumeMounts", f"mountPath {dup!r} appears twice"))
            for m in c.get("volumeMounts") or []:
                if m.get("name") not in mountable:
                    findings.append(Finding(obj, f"{where}.volumeMounts", f"mounts volume {m.get('name')!r}, which the pod does not define"))
    return findings
