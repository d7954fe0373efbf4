"""Phase 7 · Retry strategies: exponential backoff for flaky calls, execution_timeout for hung ones.

Teaches: `retries` with `retry_delay` as the base, `retry_exponential_backoff` as the multiplier (2.0 doubles the wait
after every failed try, Airflow adds deterministic jitter), `max_retry_delay` as the cap, and `execution_timeout`
killing a task that runs too long (AirflowTaskTimeout; with retries=0 it fails at once instead of retrying).
The upstream here fails on its first `fail_first_tries` tries, like a service that is restarting.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from airflow.sdk import Param, task

from common.dag_header import platform_dag
from common.resilience import TransientError

RETRY_DELAY = timedelta(seconds=1)
BACKOFF_MULTIPLIER = 2.0
MAX_RETRY_DELAY = timedelta(seconds=4)
SLOW_CALL_TIMEOUT = timedelta(seconds=3)


@task(
    retries=4,
    retry_delay=RETRY_DELAY,
    retry_exponential_backoff=BACKOFF_MULTIPLIER,
    max_retry_delay=MAX_RETRY_DELAY,
    execution_timeout=timedelta(seconds=30),
)
def call_unstable_upstream(params: dict[str, Any], ti: Any = None) -> dict[str, int]:
    """Fails with TransientError until the upstream has 'recovered'; each failure schedules a longer wait."""
    if ti.try_number <= params["fail_first_tries"]:
        raise TransientError(f"upstream still restarting on try {ti.try_number}")
    return {"succeeded_on_try": ti.try_number}


@task(retries=0, execution_timeout=SLOW_CALL_TIMEOUT)
def bounded_slow_call(params: dict[str, Any]) -> float:
    """Simulates a call taking `slow_seconds`; beyond SLOW_CALL_TIMEOUT Airflow kills it with AirflowTaskTimeout."""
    started = time.monotonic()
    time.sleep(params["slow_seconds"])
    return round(time.monotonic() - started, 2)


@task
def summarize(upstream: dict[str, int], slow_call_seconds: float) -> dict[str, Any]:
    return {**upstream, "slow_call_seconds": slow_call_seconds}


with platform_dag(
    __file__, __doc__, owner="resilience", team="platform", severity="P3", tags=["resilience", "retries"],
    task_defaults={"retries": 2},
    description="Exponential backoff with a cap, and execution_timeout that kills slow tasks", schedule=None,
    params={
        "fail_first_tries": Param(
            2, type="integer", minimum=0, description="tries the upstream fails before recovering"
        ),
        "slow_seconds": Param(1, type="number", minimum=0, description="how long the slow call takes"),
    },
) as dag:
    summarize(call_unstable_upstream(), bounded_slow_call())
