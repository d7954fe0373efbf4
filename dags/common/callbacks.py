"""Callback recorder: every task, DAG and deadline callback appends one JSON line to a durable event log.

Callbacks run in the worker (task callbacks), the dag-processor/scheduler (DAG callbacks) or the executor
(Deadline Alert callbacks), so the only place all of them can reach is a file on shared storage. The log
path comes from the environment, so tests and deployments point it wherever they read it back.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

CALLBACK_LOG_ENV = "PLATFORM_CALLBACK_LOG"
CALLBACK_KINDS = ("execute", "success", "retry", "failure", "dag_success", "dag_failure", "deadline_missed")


def callback_log_path() -> Path:
    """$PLATFORM_CALLBACK_LOG, else <AIRFLOW_HOME>/callbacks/events.jsonl."""
    explicit = os.environ.get(CALLBACK_LOG_ENV)
    if explicit:
        return Path(explicit)
    home = Path(os.environ.get("AIRFLOW_HOME") or Path.home() / "airflow")
    return home / "callbacks" / "events.jsonl"


def callback_event(kind: str, context: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON-safe record of one callback invocation, built from the Airflow context."""
    if kind not in CALLBACK_KINDS:
        raise ValueError(f"callback kind {kind!r} is not one of {', '.join(CALLBACK_KINDS)}")
    ti = context.get("task_instance") or context.get("ti")
    dag = context.get("dag")
    exception = context.get("exception")
    return {
        "kind": kind,
        "dag_id": getattr(ti, "dag_id", None) or getattr(dag, "dag_id", None),
        "task_id": getattr(ti, "task_id", None),
        "run_id": getattr(ti, "run_id", None) or context.get("run_id"),
        "try_number": getattr(ti, "try_number", None),
        "map_index": getattr(ti, "map_index", None),
        "reason": context.get("reason"),
        "error": repr(exception) if exception is not None else None,
        "recorded_at": datetime.now(UTC).isoformat(),
    }


def record_event(event: Mapping[str, Any], path: Path | None = None) -> None:
    """Append one line; a single small O_APPEND write keeps concurrent writers from interleaving."""
    target = path or callback_log_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(dict(event), sort_keys=True, default=str) + "\n"
    with target.open("a", encoding="utf-8") as handle:
        handle.write(line)


def read_events(path: Path | None = None, **filters: Any) -> list[dict[str, Any]]:
    """Every recorded event (oldest first) whose fields equal all the given filters."""
    source = path or callback_log_path()
    if not source.exists():
        return []
    events = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [event for event in events if all(event.get(key) == value for key, value in filters.items())]


def on_execute(context: Mapping[str, Any]) -> None:
    record_event(callback_event("execute", context))


def on_success(context: Mapping[str, Any]) -> None:
    record_event(callback_event("success", context))


def on_retry(context: Mapping[str, Any]) -> None:
    record_event(callback_event("retry", context))


def on_failure(context: Mapping[str, Any]) -> None:
    record_event(callback_event("failure", context))


def on_dag_success(context: Mapping[str, Any]) -> None:
    record_event(callback_event("dag_success", context))


def on_dag_failure(context: Mapping[str, Any]) -> None:
    record_event(callback_event("dag_failure", context))


def on_deadline_missed(context: Mapping[str, Any], *, alert_name: str = "deadline") -> None:
    """Deadline Alert callback. Airflow passes `context` with `dag_run` and `deadline` as plain dicts."""
    dag_run = context.get("dag_run") or {}
    deadline = context.get("deadline") or {}
    record_event(
        {
            "kind": "deadline_missed",
            "alert_name": alert_name,
            "dag_id": dag_run.get("dag_id"),
            "run_id": dag_run.get("dag_run_id") or dag_run.get("run_id"),
            "deadline_time": str(deadline.get("deadline_time")),
            "recorded_at": datetime.now(UTC).isoformat(),
        }
    )
