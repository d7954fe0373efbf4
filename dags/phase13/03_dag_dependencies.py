"""Phase 13 · DAG dependencies: the child side of a parent/child pipeline, with shared state and failure propagation.

Teaches:
- A child DAG (`schedule=None`) started only by its parent (phase13_02_trigger_dag_run) with a `conf` contract,
  validated first: a missing or mistyped key fails with a message naming it.
- Shared state between DAGs through cross-DAG XCom: the child pulls the parent run's `summarize` XCom (by the
  parent's dag_id and run_id from conf) and publishes `publish_result`, which the parent pulls back.
- Failure propagation across DAG boundaries: a bad batch (too many invalid records) fails `process`, the child
  run fails, the parent's waiting TriggerDagRunOperator fails, and the sensor DAG's `failed_states` stop waiting.
- The dependency graph of the whole phase, rendered below as Mermaid.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param, task

from common.dag_header import platform_dag
from common.orchestration import to_mermaid


@task(retries=0)  # a bad conf stays bad on retry
def read_conf(dag_run: Any = None) -> dict[str, Any]:
    from common.orchestration import validate_child_conf

    return validate_child_conf(getattr(dag_run, "conf", None))


@task
def pull_parent_summary(child_conf: dict[str, Any], ti: Any = None) -> dict[str, Any]:
    parent_dag_id, parent_run_id = child_conf["parent_dag_id"], child_conf["parent_run_id"]
    summary = ti.xcom_pull(dag_id=parent_dag_id, run_id=parent_run_id, task_ids="summarize")
    if summary is None:
        raise RuntimeError(f"no `summarize` XCom in {parent_dag_id} run {parent_run_id}")
    if summary["records"] != child_conf["records"]:
        raise ValueError(f"conf says {child_conf['records']} records, the parent's XCom says {summary['records']}")
    return summary


@task(retries=0)  # fail fast so the parent learns at once
def process(summary: dict[str, Any], params: dict[str, Any] | None = None) -> dict[str, Any]:
    from common.orchestration import invalid_ratio_check

    ratio = invalid_ratio_check(summary, (params or {})["max_invalid_ratio"])
    return {"processed": summary["records"] - summary["invalid"], "invalid_ratio": ratio}


@task
def publish_result(child_conf: dict[str, Any], processed: dict[str, Any]) -> dict[str, Any]:
    """The value the parent pulls back across the DAG boundary."""
    return {"correlation_id": child_conf["correlation_id"], "partition": child_conf["partition"], **processed}


with platform_dag(
    __file__, __doc__ + "\n\n" + to_mermaid(), owner="orchestration", team="orchestration", severity="P2",
    tags=["multi-dag", "dependencies"],
    description="Child DAG: conf contract, cross-DAG XCom with its parent, failure that propagates upwards",
    schedule=None, max_active_runs=4, params={"max_invalid_ratio": Param(0.1, type="number", minimum=0, maximum=1)},
) as dag:
    child_conf = read_conf()
    publish_result(child_conf, process(pull_parent_summary(child_conf)))
