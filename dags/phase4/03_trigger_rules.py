"""Phase 4 · Trigger rules: when a task runs, given how its upstream tasks ended — and setup/teardown tasks.

Teaches every rule on one fan-in: two upstream extracts, one of which fails on demand
(`simulate_failure`, on by default so a manual run shows the failure path). With a failure:
`one_failed` fires the alert, `all_done`/`always` still clean up, `one_success`, `one_done` and
`all_done_min_one_success` proceed with partial data, `none_skipped` runs (nothing was skipped), while
`all_success`, `none_failed` and `none_failed_min_one_success` end `upstream_failed`; `all_failed` and
`all_skipped` are skipped because their condition can no longer hold. Without a failure the picture flips.

Setup and teardown (Airflow 2.7+, `@setup` / `@teardown` from `airflow.sdk`): `create_scratch` creates a per-run
scratch schema in the Postgres warehouse that the extracts stage their rows in, and `drop_scratch` drops it.
The teardown's rule is `all_done_setup_success`: it runs once everything in its scope has finished, however it
ended, as long as the setup succeeded — so the scratch never leaks, even when `extract_payments` fails.
Unlike a hand-made `all_done` cleanup leaf, a teardown does not decide the run's state: a failed work task still
fails the run although the teardown after it succeeded. Clearing any task in the scope re-runs the setup first.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import Param, TriggerRule, setup, task, teardown

from common.dag_header import platform_dag

POSTGRES_CONN_ID = "postgres_default"
STAGING_TABLE = "staged_rows"
SCRATCH_TABLES = {STAGING_TABLE: "source TEXT NOT NULL, row_id INTEGER NOT NULL, staged_at TIMESTAMPTZ DEFAULT now()"}
ROWS_PER_EXTRACT = 5

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


def _stage(scratch: str, source: str) -> int:
    from common.scratch import insert_rows

    rows = [(source, index) for index in range(ROWS_PER_EXTRACT)]
    return insert_rows(scratch, STAGING_TABLE, ["source", "row_id"], rows, postgres_conn_id=POSTGRES_CONN_ID)


@setup
def create_scratch(dag_run: Any = None) -> str:
    """The run's scratch schema; its name is the XCom the work tasks and the teardown receive."""
    from common.scratch import create_scratch_schema, scratch_schema_name

    schema = scratch_schema_name(dag_run.dag_id, dag_run.run_id)
    create_scratch_schema(schema, SCRATCH_TABLES, postgres_conn_id=POSTGRES_CONN_ID)
    return schema


@task
def extract_orders(scratch: str) -> int:
    return _stage(scratch, "orders")


# No retries: the failure is deliberate, retrying would only delay the demonstration.
@task(retries=0)
def extract_payments(scratch: str, params: dict[str, Any] | None = None) -> int:
    if params and params["simulate_failure"]:
        raise SimulatedExtractFailure("payments extract failed (simulate_failure=true)")
    return _stage(scratch, "payments")


@teardown
def drop_scratch(scratch: str) -> dict[str, Any]:
    """Drops the scratch schema and reports what it held (table → rows), so a run shows what was staged."""
    from common.scratch import drop_scratch_schema

    return drop_scratch_schema(scratch, postgres_conn_id=POSTGRES_CONN_ID)


with platform_dag(
    __file__, __doc__, owner="data-platform", severity="P4", tags=["control-flow"],
    description="all_success, one_failed, none_failed, all_done and the rest, after a real failure; setup/teardown",
    schedule=None, params={"simulate_failure": Param(True, type="boolean", description="make extract_payments fail")},
) as dag:
    scratch = create_scratch()
    extracts = [extract_orders(scratch), extract_payments(scratch)]
    reactions = [EmptyOperator(task_id=task_id, trigger_rule=rule) for task_id, rule in REACTIONS.items()]
    for reaction in reactions:
        extracts >> reaction
    # The teardown closes the scope after every reaction, so the scratch outlives the whole run's work.
    reactions >> drop_scratch(scratch)
