"""The platform's default task settings: every DAG starts from these, so retries, timeouts and failure alerts are never forgotten."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any


def on_task_failure(context: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The platform's failure alert (`common.alerting.on_task_failure`: log, then route by severity).

    Imported when a task fails, not at import: every DAG file imports this module, and the dag-processor re-parses
    each file in a fresh process, so the alert routing (tables and dataclasses) stays out of every parse.
    """
    from common.alerting import on_task_failure as deliver_alert

    return deliver_alert(context)


def platform_default_args(
    owner: str,
    *,
    retries: int = 2,
    retry_delay: timedelta = timedelta(seconds=30),
    execution_timeout: timedelta = timedelta(minutes=10),
    **overrides: Any,
) -> dict[str, Any]:
    """default_args with an owner, bounded retries, an execution timeout and the platform's failure alert.

    Overrides win, so a DAG that needs exponential backoff or a different timeout says so explicitly.
    """
    args: dict[str, Any] = {
        "owner": owner,
        "retries": retries,
        "retry_delay": retry_delay,
        "execution_timeout": execution_timeout,
        "on_failure_callback": on_task_failure,
    }
    args.update(overrides)
    return args
