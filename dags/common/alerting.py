"""Failure alerts: severity and team come from DAG tags (`severity:P1`..`severity:P4`, `team:<name>`).

The phase-8 alert-routing use case builds on these functions to dispatch to on-call, Slack and email.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

log = logging.getLogger("airflow.platform.alerts")

SEVERITIES = ("P1", "P2", "P3", "P4")
DEFAULT_SEVERITY = "P3"
DEFAULT_TEAM = "platform"


def _tag_value(tags: Iterable[str], prefix: str) -> str | None:
    for tag in tags:
        if tag.startswith(prefix):
            return tag[len(prefix):]
    return None


def severity_from_tags(tags: Iterable[str]) -> str:
    """`severity:P1` → P1; no tag → the default; an unknown level is an error, not a silent default."""
    value = _tag_value(tags, "severity:")
    if value is None:
        return DEFAULT_SEVERITY
    if value not in SEVERITIES:
        raise ValueError(f"tag severity:{value} is not one of {', '.join(SEVERITIES)}")
    return value


def team_from_tags(tags: Iterable[str]) -> str:
    return _tag_value(tags, "team:") or DEFAULT_TEAM


def build_alert(context: Mapping[str, Any]) -> dict[str, Any]:
    """A plain dict describing the failed task instance, independent of any channel."""
    ti = context.get("task_instance") or context.get("ti")
    dag = context.get("dag")
    tags = sorted(getattr(dag, "tags", None) or [])
    exception = context.get("exception")
    return {
        "dag_id": getattr(ti, "dag_id", None) or getattr(dag, "dag_id", None),
        "task_id": getattr(ti, "task_id", None),
        "run_id": getattr(ti, "run_id", None) or context.get("run_id"),
        "try_number": getattr(ti, "try_number", None),
        "logical_date": str(context.get("logical_date")) if context.get("logical_date") else None,
        "severity": severity_from_tags(tags),
        "team": team_from_tags(tags),
        "error": repr(exception) if exception is not None else None,
    }


def on_task_failure(context: Mapping[str, Any]) -> None:
    """Default on_failure_callback: one structured log line that log shippers and the router pick up."""
    alert = build_alert(context)
    log.error("task_failed %s", json.dumps(alert, sort_keys=True))
