"""Phase 13 · TriggerDagRunOperator: the parent DAG that conditionally triggers its child with a conf.

Teaches:
- Conditional triggering: a branch decides whether the batch is worth a child run (`min_records`); otherwise the
  run ends through `nothing_to_process` and the child is never started.
- `conf`: built by a task (parent ids, correlation id, partition, record count) and passed to the child run; the
  child validates it as a contract. The child run gets a deterministic `trigger_run_id` and the parent's logical
  date, so downstream sensors can find it.
- `wait_for_completion`: the trigger task polls the child; a failed child fails this task (`failed_states`),
  so failure propagates across the DAG boundary to the parent and its alerts.
- Cross-DAG XCom both ways: the child pulls `summarize` from this run, and `collect_child_result` pulls the
  child's `publish_result` back using the run id the trigger task pushed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import Param, task
from airflow.timetables.trigger import CronTriggerTimetable

from common.dag_header import platform_dag
from common.orchestration import CHILD_DAG_ID, PARENT_CRON, PARENT_DAG_ID, PARENT_TZ, to_mermaid
from common.run_dates import BATCH_DATE_MACROS


@task
def summarize(params: dict[str, Any] | None = None) -> dict[str, Any]:
    """The parent's batch summary: the shared state the child reads through cross-DAG XCom."""
    p = params or {}
    return {"partition": p["partition"], "records": p["records"], "invalid": p["invalid"]}


@task.branch
def decide(summary: dict[str, Any], params: dict[str, Any] | None = None) -> str:
    from common.orchestration import should_trigger

    return "build_child_conf" if should_trigger(summary, (params or {})["min_records"]) else "nothing_to_process"


@task
def build_child_conf(summary: dict[str, Any], run_id: str | None = None, dag_run: Any = None) -> dict[str, Any]:
    from common.observability import correlation_id
    from common.orchestration import build_child_conf as conf_for_child

    rid = run_id or "manual"
    cid = correlation_id(PARENT_DAG_ID, rid, getattr(dag_run, "conf", None) or {})
    return conf_for_child(PARENT_DAG_ID, rid, cid, summary["partition"], summary["records"])


@task
def collect_child_result(ti: Any = None) -> dict[str, Any]:
    child_run_id = ti.xcom_pull(task_ids="trigger_child", key="trigger_run_id")
    result = ti.xcom_pull(dag_id=CHILD_DAG_ID, run_id=child_run_id, task_ids="publish_result")
    if result is None:
        raise RuntimeError(f"child run {child_run_id} of {CHILD_DAG_ID} published no result")
    return {"child_run_id": child_run_id, **result}


with platform_dag(
    __file__, __doc__ + "\n\n" + to_mermaid(), owner="orchestration", team="orchestration", severity="P2",
    tags=["multi-dag", "trigger"],
    user_defined_macros=BATCH_DATE_MACROS,  # run_moment(): the logical date, or run_after for a run without one
    description="Parent DAG: conditional TriggerDagRunOperator with conf, waits for the child, pulls its XCom",
    schedule=CronTriggerTimetable(PARENT_CRON, timezone=PARENT_TZ), max_active_runs=1,
    params={
        "partition": Param("eu-west", type="string"),
        "records": Param(120, type="integer", minimum=0),
        "invalid": Param(0, type="integer", minimum=0),
        "min_records": Param(100, type="integer", minimum=0, description="Below this, the child is not triggered"),
    },
) as dag:
    summary = summarize()
    conf = build_child_conf(summary)
    trigger_child = TriggerDagRunOperator(
        task_id="trigger_child",
        trigger_dag_id=CHILD_DAG_ID,
        trigger_run_id="child__{{ run_id }}",
        conf=conf,
        logical_date="{{ run_moment() }}",
        wait_for_completion=True,
        poke_interval=10,
        allowed_states=["success"],
        failed_states=["failed"],
        openlineage_inject_parent_info=False,  # keep the conf exactly the documented contract
        retries=0,  # a retry would trigger a second child run with the same run id
        execution_timeout=timedelta(hours=1),
    )
    decide(summary) >> [conf, EmptyOperator(task_id="nothing_to_process")]
    trigger_child >> collect_child_result()
