"""Phase 4 · Trigger rules: when a task runs, given how its upstream tasks ended.

Teaches every rule on one fan-in: two upstream extracts, one of which fails on demand
(`simulate_failure`, on by default so a manual run shows the failure path). With a failure:
`one_failed` fires the alert, `all_done`/`always` still clean up, `one_success`, `one_done` and
`all_done_min_one_success` proceed with partial data, `none_skipped` runs (nothing was skipped), while
`all_success`, `none_failed` and `none_failed_min_one_success` end `upstream_failed`; `all_failed` and
`all_skipped` are skipped because their condition can no longer hold. Without a failure the picture flips.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, Param, TriggerRule, task

from common.defaults import platform_default_args

# One downstream task per rule; the task id says what the rule is for.
REACTIONS: dict[str, TriggerRule] = {
    "publish": TriggerRule.ALL_SUCCESS,
    "alert_on_failure": TriggerRule.ONE_FAILED,
    "proceed_with_partial": TriggerRule.ONE_SUCCESS,
    "react_to_first_finisher": TriggerRule.ONE_DONE,
    "validate_no_failures": TriggerRule.NONE_FAILED,
    "join_if_any_succeeded": TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS,
    "audit_no_skips": TriggerRule.NONE_SKIPPED,
    "cleanup": TriggerRule.ALL_DONE,
    "summarize_if_any_succeeded": TriggerRule.ALL_DONE_MIN_ONE_SUCCESS,
    "escalate_total_outage": TriggerRule.ALL_FAILED,
    "note_nothing_ran": TriggerRule.ALL_SKIPPED,
    "record_run": TriggerRule.ALWAYS,
}


class SimulatedExtractFailure(RuntimeError):
    """Raised on purpose so the failure-handling rules have a real failure to react to."""


@task
def extract_orders() -> str:
    return "orders extracted"


# No retries: the failure is deliberate, retrying would only delay the demonstration.
@task(retries=0)
def extract_payments(params: dict[str, Any] | None = None) -> str:
    if params and params["simulate_failure"]:
        raise SimulatedExtractFailure("payments extract failed (simulate_failure=true)")
    return "payments extracted"


with DAG(
    dag_id="phase4_03_trigger_rules",
    description="all_success, one_failed, none_failed, all_done and the rest, after a real failure",
    doc_md=__doc__,
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    default_args=platform_default_args("data-platform"),
    params={"simulate_failure": Param(True, type="boolean", description="make extract_payments fail")},
    tags=["phase4", "control-flow", "severity:P4"],
) as dag:
    extracts = [extract_orders(), extract_payments()]
    for task_id, rule in REACTIONS.items():
        extracts >> EmptyOperator(task_id=task_id, trigger_rule=rule)
