"""Phase 7 · Circuit breaker: stop hammering a failing dependency, probe it after a cooldown, recover automatically.

Teaches: the CLOSED → OPEN → HALF_OPEN → CLOSED state machine (common.circuit_breaker), with the state in a Postgres
row so it survives across task tries, runs and workers. While OPEN, calls are refused without touching the service
and the run reports itself degraded instead of failing; after `cooldown_seconds` one trial call decides whether the
circuit closes again. The dependency is the `flaky_service` HTTP connection. With `require_success` a run with no
successful call fails; the DAG is tagged `self-heal:clear`, so phase12_03's health checks clear and re-run it once the
dependency is back.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import Param, task

from common.dag_header import platform_dag

BREAKER_NAME = "flaky_service"


@task(retries=1, execution_timeout=timedelta(minutes=2))
def call_through_breaker(params: dict[str, Any]) -> dict[str, Any]:
    import time

    from common.circuit_breaker import BreakerPolicy, CircuitOpenError, PostgresStateStore, call_through
    from common.http_calls import call_service

    store = PostgresStateStore(BREAKER_NAME)
    policy = BreakerPolicy(params["failure_threshold"], params["cooldown_seconds"])
    transitions_before = len(store.load().transitions)
    outcomes: list[str] = []
    for _ in range(params["calls"]):
        try:
            call_through(store, policy, lambda: call_service(conn_id="flaky_service"), time.time)
            outcomes.append("ok")
        except CircuitOpenError:
            outcomes.append("short_circuited")
        except Exception:  # the breaker recorded it; this run degrades instead of failing
            outcomes.append("failed")
    state = store.load()
    if params.get("require_success") and "ok" not in outcomes:
        raise RuntimeError(f"no call to {BREAKER_NAME} succeeded: {outcomes} (breaker {state.state})")
    return {
        "outcomes": outcomes,
        "state": state.state,
        "transitions": [f"{t['from']}->{t['to']}" for t in state.transitions[transitions_before:]],
    }


@task
def report(result: dict[str, Any]) -> dict[str, Any]:
    return {**result, "degraded": result["state"] != "CLOSED" or "ok" not in result["outcomes"]}


with platform_dag(
    __file__, __doc__, owner="resilience", team="platform", severity="P2",
    # Its task is idempotent (a breaker state row and calls to a read-only service): the health checks may re-run it.
    tags=["resilience", "circuit-breaker", "self-heal:clear"],
    description="Circuit breaker with state shared across runs in Postgres", schedule=None,
    max_active_runs=1,  # one writer of the breaker state at a time
    params={
        "calls": Param(5, type="integer", minimum=1, maximum=100, description="calls this run makes"),
        "failure_threshold": Param(3, type="integer", minimum=1, description="consecutive failures that open it"),
        "cooldown_seconds": Param(30, type="number", minimum=0, description="how long it stays OPEN before a trial"),
        "require_success": Param(False, type="boolean", description="fail the run when no call succeeded"),
    },
) as dag:
    report(call_through_breaker())
