"""The decision taken for each Helm hook resource (cluster/hooks.yaml), checked against a stack's render."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cluster.render import ReleaseSpec, StackRender

DECISIONS_FILE = Path(__file__).with_name("hooks.yaml")
DECISIONS = ("replaced", "unused", "turned-off")


@dataclass(frozen=True)
class HookDecision:
    chart: str
    kind: str
    name: str
    decision: str
    why: str
    by: dict[str, str] | None

    def name_for(self, release: str) -> str:
        return self.name.replace("{release}", release)


def load_decisions(file: Path = DECISIONS_FILE) -> list[HookDecision]:
    raw: list[dict[str, Any]] = yaml.safe_load(file.read_text())
    decisions = []
    for i, entry in enumerate(raw):
        if entry.get("decision") not in DECISIONS:
            raise ValueError(f"{file}[{i}].decision: expected one of {', '.join(DECISIONS)}, got {entry.get('decision')!r}")
        if entry["decision"] == "replaced" and not entry.get("by"):
            raise ValueError(f"{file}[{i}].by: a replaced hook names the object the program applies instead")
        if not str(entry.get("why", "")).strip():
            raise ValueError(f"{file}[{i}].why: every decision says why")
        decisions.append(HookDecision(entry["chart"], entry["kind"], entry["name"], entry["decision"], entry["why"], entry.get("by")))
    return decisions


def chart_name(spec: ReleaseSpec) -> str:
    """The chart's name from its tarball (`airflow-1.22.0-main-9a9f51b.tgz` -> airflow)."""
    match = re.match(r"^(.+?)-\d+\.\d+\.\d+", Path(spec.chart).name)
    return match.group(1) if match else Path(spec.chart).stem


def check_hooks(render: StackRender, decisions: list[HookDecision]) -> list[str]:
    """Every rendered hook has a decision; a replacement exists; a turned-off hook does not render."""
    problems = []
    charts = {spec.release: chart_name(spec) for spec in render.releases}
    applied = {(o.kind, o.namespace or "", o.name) for o in render.applied}
    for hook in render.hooks:
        chart = charts[hook.origin]
        match = [d for d in decisions if d.chart == chart and d.kind == hook.kind and d.name_for(hook.origin) == hook.name]
        if not match:
            problems.append(f"{hook.label()} is a Helm hook ({hook.hook}) that helm.v4.Chart skips, and cluster/hooks.yaml has no decision for it")
            continue
        decision = match[0]
        if decision.decision == "turned-off":
            problems.append(f"{hook.label()} renders, but cluster/hooks.yaml says it is turned off: {decision.why}")
        if decision.decision == "replaced" and decision.by:
            key = (decision.by["kind"], hook.namespace or "", decision.by["name"].replace("{release}", hook.origin))
            if key not in applied:
                problems.append(f"{hook.label()}: cluster/hooks.yaml says the program creates {key[0]} {key[2]} instead, but nothing applies it")
    return problems
