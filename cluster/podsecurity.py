"""The Pod Security Standards' restricted profile, checked on every container of every pod a stack applies.

A container passes when it cannot escalate privileges, drops every capability, runs as non-root and under the
RuntimeDefault (or a Localhost) seccomp profile (the last two may come from the pod's securityContext), is not
privileged, and its pod uses no host namespaces or hostPath volumes.
"""

from __future__ import annotations

from dataclasses import dataclass

from cluster.refs import Finding, containers, pod_spec
from cluster.render import Rendered


@dataclass(frozen=True)
class Exception_:
    """A workload that cannot meet the profile through its chart's values, and why."""

    origin_suffix: str
    kind: str
    name_suffix: str
    why: str

    def matches(self, obj: Rendered) -> bool:
        return obj.origin.endswith(self.origin_suffix) and obj.kind == self.kind and obj.name.endswith(self.name_suffix)


EXCEPTIONS = (
    Exception_("-marquez", "Deployment", "-marquez", "Marquez's chart 0.51.1 has no securityContext values for its pods"),
    Exception_("-marquez", "Deployment", "-marquez-web", "Marquez's chart 0.51.1 has no securityContext values for its pods"),
)


def container_violations(pod: dict[str, object], container: dict[str, object]) -> list[str]:
    psc = pod.get("securityContext") or {}
    sc = container.get("securityContext") or {}
    assert isinstance(psc, dict) and isinstance(sc, dict)
    bad = []
    if sc.get("allowPrivilegeEscalation") is not False:
        bad.append("allowPrivilegeEscalation is not false")
    if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
        bad.append("capabilities do not drop ALL")
    if not sc.get("runAsNonRoot", psc.get("runAsNonRoot")):
        bad.append("runAsNonRoot is not true")
    if (sc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type") not in ("RuntimeDefault", "Localhost"):
        bad.append("no RuntimeDefault seccomp profile")
    if sc.get("privileged"):
        bad.append("privileged")
    return bad


def violations(objects: list[Rendered]) -> tuple[list[Finding], list[Exception_]]:
    """Findings outside EXCEPTIONS, and the exceptions that no longer match anything (stale)."""
    findings: list[Finding] = []
    used: set[Exception_] = set()
    for obj in objects:
        spec = pod_spec(obj.manifest)
        if spec is None:
            continue
        excepted = [e for e in EXCEPTIONS if e.matches(obj)]
        found: list[Finding] = []
        for path, container in containers(spec):
            bad = container_violations(spec, container)
            if bad:
                found.append(Finding(obj, f"{path}({container.get('name')})", "; ".join(bad)))
        for key in ("hostNetwork", "hostPID", "hostIPC"):
            if spec.get(key):
                found.append(Finding(obj, key, "host namespace"))
        found += [Finding(obj, f"volumes({v.get('name')})", "hostPath volume") for v in spec.get("volumes") or [] if "hostPath" in v]
        if found and excepted:
            used.update(excepted)
        else:
            findings += found
    return findings, [e for e in EXCEPTIONS if e not in used]


def missing_resources(objects: list[Rendered]) -> list[Finding]:
    """Containers without cpu and memory requests and limits (the scheduler can't place or bound them)."""
    findings = []
    for obj in objects:
        spec = pod_spec(obj.manifest)
        if spec is None:
            continue
        for path, container in containers(spec):
            res = container.get("resources") or {}
            missing = [f"{kind}.{what}" for kind in ("requests", "limits") for what in ("cpu", "memory") if what not in (res.get(kind) or {})]
            if missing:
                findings.append(Finding(obj, f"{path}({container.get('name')})", f"no {', '.join(missing)}"))
    return findings
