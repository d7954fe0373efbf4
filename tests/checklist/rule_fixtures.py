"""Shared by the checklist rule tests: run one rule of checklist/dag_rules.py on a DagBag made of fixture DAGs."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from checklist import dag_rules


def context(dags: list[Any], needs: dict[str, dict[str, Any]] | None = None) -> dag_rules.Context:
    """A checklist context whose DagBag holds exactly `dags`, with these manifests."""
    return dag_rules.Context(SimpleNamespace(dags={d.dag_id: d for d in dags}), needs or {})


def run(item: str, dags: list[Any], needs: dict[str, dict[str, Any]] | None = None) -> dag_rules.Result:
    """The result of the rule registered for checklist `item` on that context."""
    rule = next(r for _, name, r in dag_rules.RULES if name == item)
    return rule(context(dags, needs))
