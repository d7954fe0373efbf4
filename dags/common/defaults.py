"""The platform's default task settings: every DAG starts from these, so retries, timeouts and failure alerts are never forgotten."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from common.alerting import on_task_failure


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
