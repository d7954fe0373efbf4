"""Everything a stack would apply to Kubernetes, rendered for real.

`npm run synth -- --all --charts <dir>` evaluates each stack under the mock engine with the charts read from
local tarballs and writes, per stack, `releases.json` (every helm.v4.Chart: release name, namespace, chart,
values file) and `objects.yaml` (every Kubernetes object the program creates itself). This module renders each
release with a real `helm template`, as pulumi-kubernetes' helm.v4.Chart does, and splits off what that resource
does NOT apply: Helm hook resources (`helm.sh/hook`; upstream pulumi-kubernetes #3284). Namespaced objects a
chart leaves without a namespace get the release's, as the Chart resource does.

    .venv/bin/python -m cluster.render --stack dev          # render, print a summary, write out/render/<stack>/rendered/
    .venv/bin/python -m cluster.render --all --kube-version 1.34.0
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cluster.paths import REPO, charts_dir, tools_root

STACKS = ("dev", "staging", "prod")
HELM_VERSION = "v4.3.2"
# The control plane CI applies to, and the Kubernetes the charts are rendered for.
DEFAULT_KUBE_VERSION = "1.34.0"
OUT_DIR = REPO / "out" / "render"

Manifest = dict[str, Any]

# Built-in kinds that are not namespaced; a CRD's own `spec.scope` decides for custom resources.
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "APIService", "CertificateSigningRequest", "ClusterRole", "ClusterRoleBinding", "CSIDriver", "CSINode",
        "CustomResourceDefinition", "FlowSchema", "IngressClass", "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding", "MutatingWebhookConfiguration", "Namespace", "Node", "PersistentVolume",
        "PriorityClass", "PriorityLevelConfiguration", "RuntimeClass", "StorageClass", "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding", "ValidatingWebhookConfiguration", "VolumeAttachment",
    }
)


def helm_binary() -> Path:
    """The helm scripts/install/helm.sh builds ($HELM overrides)."""
    return Path(os.environ.get("HELM") or tools_root() / "helm" / HELM_VERSION / "bin" / "helm")


class RenderError(Exception):
    """A release that helm could not render, or input that is missing; the message names the stack and release."""


@dataclass(frozen=True)
class ReleaseSpec:
    stack: str
    resource: str
    release: str
    namespace: str
    chart: str
    version: str | None
    values: Path


@dataclass(frozen=True)
class Rendered:
    """One object, with where it comes from: a release name, or "program" for objects the program creates."""

    stack: str
    origin: str
    manifest: Manifest

    @property
    def kind(self) -> str:
        return str(self.manifest.get("kind", ""))

    @property
    def name(self) -> str:
        return str((self.manifest.get("metadata") or {}).get("name", ""))

    @property
    def namespace(self) -> str | None:
        ns = (self.manifest.get("metadata") or {}).get("namespace")
        return str(ns) if ns else None

    @property
    def api_version(self) -> str:
        return str(self.manifest.get("apiVersion", ""))

    @property
    def hook(self) -> str | None:
        annotations = (self.manifest.get("metadata") or {}).get("annotations") or {}
        value = annotations.get("helm.sh/hook")
        return str(value) if value else None

    def label(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"stack {self.stack}, {self.origin}: {self.kind} {where}{self.name}"


@dataclass
class StackRender:
    stack: str
    releases: list[ReleaseSpec]
    # What helm.v4.Chart and the program apply, in render order.
    applied: list[Rendered] = field(default_factory=list)
    # Hook resources helm rendered and helm.v4.Chart skips.
    hooks: list[Rendered] = field(default_factory=list)
    seconds: float = 0.0

    def crds(self) -> list[Rendered]:
        return [o for o in self.applied if o.kind == "CustomResourceDefinition"]


def load_releases(stack: str, stack_dir: Path) -> list[ReleaseSpec]:
    file = stack_dir / "releases.json"
    if not file.is_file():
        raise RenderError(f"stack {stack}: {file} is missing; run `npm run synth -- --stack {stack} --charts <dir>` first")
    return [
        ReleaseSpec(
            stack=stack,
            resource=r["resource"],
            release=r["release"],
            namespace=r["namespace"],
            chart=r["chart"],
            version=r["version"],
            values=stack_dir / r["values"],
        )
        for r in json.loads(file.read_text())
    ]


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe YAML, plus a bare `=` scalar as the string "=" (PyYAML reads it as the `value` tag, pyyaml #89)."""


_Loader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


def load_documents(text: str) -> Iterator[Manifest]:
    for doc in yaml.load_all(text, Loader=_Loader):  # noqa: S506 - a SafeLoader subclass
        if isinstance(doc, dict) and doc:
            if doc.get("kind", "").endswith("List") and isinstance(doc.get("items"), list):
                yield from (item for item in doc["items"] if isinstance(item, dict))
            else:
                yield doc


def cluster_scoped_custom_kinds(manifests: Iterable[Manifest]) -> set[str]:
    return {
        str(m["spec"]["names"]["kind"])
        for m in manifests
        if m.get("kind") == "CustomResourceDefinition" and (m.get("spec") or {}).get("scope") == "Cluster"
    }


def with_namespace(manifest: Manifest, namespace: str, cluster_scoped: set[str]) -> Manifest:
    """The Chart resource puts namespaced objects a template leaves without one into the release namespace."""
    kind = str(manifest.get("kind", ""))
    metadata = manifest.setdefault("metadata", {})
    if kind not in CLUSTER_SCOPED_KINDS and kind not in cluster_scoped and not metadata.get("namespace"):
        metadata["namespace"] = namespace
    return manifest


def helm_template(spec: ReleaseSpec, kube_version: str, helm: Path | None = None) -> str:
    """`helm template` of one release: CRDs included and tests skipped, as helm.v4.Chart renders it."""
    helm = helm or helm_binary()
    if not helm.is_file():
        raise RenderError(f"helm {HELM_VERSION} is not built at {helm}; run `bash scripts/install/helm.sh`")
    chart = Path(spec.chart)
    if not chart.is_file():
        raise RenderError(
            f"stack {spec.stack}, release {spec.release}: chart {spec.chart} is not a local tarball; "
            "synth must run with --charts <folder of chart tarballs>"
        )
    cmd = [
        str(helm), "template", spec.release, str(chart),
        "--namespace", spec.namespace,
        "--values", str(spec.values),
        "--kube-version", kube_version,
        "--include-crds",
        "--skip-tests",
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RenderError(f"stack {spec.stack}, release {spec.release} ({chart.name}): helm template failed:\n{proc.stderr.strip()}")
    return proc.stdout


def render_stack(stack: str, stack_dir: Path, kube_version: str = DEFAULT_KUBE_VERSION) -> StackRender:
    started = time.monotonic()
    releases = load_releases(stack, stack_dir)
    result = StackRender(stack=stack, releases=releases)
    per_release: list[tuple[ReleaseSpec, list[Manifest]]] = [
        (spec, list(load_documents(helm_template(spec, kube_version)))) for spec in releases
    ]
    program = list(load_documents((stack_dir / "objects.yaml").read_text()))
    cluster_scoped = cluster_scoped_custom_kinds(m for _, docs in per_release for m in docs)
    for spec, docs in per_release:
        for manifest in docs:
            obj = Rendered(stack, spec.release, with_namespace(manifest, spec.namespace, cluster_scoped))
            (result.hooks if obj.hook else result.applied).append(obj)
    result.applied.extend(Rendered(stack, "program", m) for m in program)
    result.seconds = time.monotonic() - started
    return result


def write_render(render: StackRender, out: Path) -> Path:
    """out/<stack>/rendered/<origin>.yaml for each release and the program's objects, plus hooks.yaml."""
    target = out / render.stack / "rendered"
    target.mkdir(parents=True, exist_ok=True)
    for stale in target.glob("*.yaml"):
        stale.unlink()
    by_origin: dict[str, list[Manifest]] = {}
    for obj in render.applied:
        by_origin.setdefault(obj.origin, []).append(obj.manifest)
    for origin, manifests in by_origin.items():
        (target / f"{origin}.yaml").write_text(yaml.safe_dump_all(manifests, sort_keys=False))
    (target / "hooks.yaml").write_text(yaml.safe_dump_all([h.manifest for h in render.hooks], sort_keys=False))
    return target


def synth(stacks: Iterable[str], out: Path, charts: Path) -> None:
    """Runs the mock evaluation that writes releases.json / objects.yaml for each stack."""
    cmd = ["npm", "run", "--silent", "synth", "--", "--out", str(out), "--charts", str(charts)]
    for stack in stacks:
        cmd += ["--stack", stack]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RenderError(f"synth failed ({' '.join(cmd)}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")


_RENDERS: dict[Path, dict[str, StackRender]] = {}


def render_all(out: Path, stacks: Iterable[str] = STACKS, kube_version: str = DEFAULT_KUBE_VERSION) -> dict[str, StackRender]:
    """Synth with the local charts, then render every stack; cached per output folder for one process."""
    stacks = tuple(stacks)
    if out not in _RENDERS:
        charts = charts_dir()
        if charts is None:
            raise RenderError("../shared/charts is absent: no chart tarballs to render")
        synth(stacks, out, charts)
        _RENDERS[out] = {stack: render_stack(stack, out / stack, kube_version) for stack in stacks}
    return _RENDERS[out]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cluster.render",
        description="Render every Helm release and Kubernetes object a stack would apply, with a real helm.",
    )
    parser.add_argument("--stack", action="append", choices=STACKS, help="a stack (repeatable)")
    parser.add_argument("--all", action="store_true", help="dev, staging and prod")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help=f"output folder (default {OUT_DIR.relative_to(REPO)})")
    parser.add_argument("--charts", type=Path, default=None, help="folder of chart tarballs (default ../shared/charts)")
    parser.add_argument("--kube-version", default=DEFAULT_KUBE_VERSION, help=f"Kubernetes version to render for (default {DEFAULT_KUBE_VERSION})")
    parser.add_argument("--no-synth", action="store_true", help="reuse releases.json/objects.yaml already in --out")
    args = parser.parse_args(argv)
    stacks = list(STACKS) if args.all else (args.stack or [])
    if not stacks:
        parser.error("name a stack with --stack or use --all")
    charts = args.charts or charts_dir()
    if charts is None:
        parser.error("no chart folder: pass --charts (../shared/charts is absent)")
    try:
        if not args.no_synth:
            print(f"render: evaluating {', '.join(stacks)} under the mock engine with charts from {charts}", flush=True)
            synth(stacks, args.out, charts)
        for stack in stacks:
            render = render_stack(stack, args.out / stack, args.kube_version)
            target = write_render(render, args.out)
            print(
                f"render: {stack}: {len(render.releases)} releases, {len(render.applied)} objects applied, "
                f"{len(render.hooks)} hook objects skipped, {render.seconds:.1f}s -> {target.relative_to(REPO) if target.is_relative_to(REPO) else target}"
            )
    except RenderError as err:
        print(f"render: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
