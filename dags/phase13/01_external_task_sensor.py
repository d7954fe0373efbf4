"""Phase 13 · ExternalTaskSensor: wait for upstream DAGs, matched by logical date, with timeouts.

Teaches:
- `execution_delta`: this DAG runs at 02:00 UTC and waits for the parent (01:00 UTC) task `trigger_child` —
  its logical date is ours minus 1 hour. Airflow 3 sensors match on `logical_date`.
- `execution_date_fn`: waits for the child DAG's whole run by computing the upstream's latest schedule tick at
  or before our logical date, evaluated in the upstream's own timezone (common.orchestration). Unlike a fixed
  delta, this stays right when the two DAGs live in different timezones across daylight-saving changes.
- Timeouts and modes: `reschedule` frees the worker slot between pokes; `timeout` bounds the total wait;
  `failed_states` fails fast when the upstream failed instead of waiting out the timeout.
- Both DAGs declare their timezone explicitly (CronTriggerTimetable with timezone) so their alignment is visible.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.providers.standard.sensors.external_task import ExternalTaskSensor
from airflow.sdk import task
from airflow.timetables.trigger import CronTriggerTimetable

from common.dag_header import platform_dag
from common.orchestration import (
    CHILD_DAG_ID,
    PARENT_CRON,
    PARENT_DAG_ID,
    PARENT_TZ,
    SENSOR_CRON,
    SENSOR_TZ,
    execution_date_fn_for,
    to_mermaid,
)

SENSOR_TIMEOUT = timedelta(hours=3)


@task
def build_report(logical_date: datetime | None = None) -> dict[str, str]:
    """Runs only once both upstreams are done for the matching logical dates."""
    from common.orchestration import latest_schedule_at_or_before

    assert logical_date is not None
    upstream = latest_schedule_at_or_before(logical_date, PARENT_CRON, PARENT_TZ)
    return {"report_for": logical_date.isoformat(), "upstream_logical_date": upstream.isoformat()}


with platform_dag(
    __file__, __doc__ + "\n\n" + to_mermaid(), owner="orchestration", team="orchestration", severity="P2",
    tags=["multi-dag", "sensor"],
    description="ExternalTaskSensor with execution_delta and execution_date_fn on logical_date, timeouts, timezones",
    schedule=CronTriggerTimetable(SENSOR_CRON, timezone=SENSOR_TZ), max_active_runs=2,
) as dag:
    wait_for_parent = ExternalTaskSensor(
        task_id="wait_for_parent_trigger",
        external_dag_id=PARENT_DAG_ID,
        external_task_id="trigger_child",
        execution_delta=timedelta(hours=1),
        allowed_states=["success"],
        failed_states=["failed", "upstream_failed"],
        mode="reschedule",
        poke_interval=15,
        timeout=SENSOR_TIMEOUT.total_seconds(),
        check_existence=True,
    )
    wait_for_child = ExternalTaskSensor(
        task_id="wait_for_child_run",
        external_dag_id=CHILD_DAG_ID,
        external_task_id=None,  # the whole DAG run
        execution_date_fn=execution_date_fn_for(PARENT_CRON, PARENT_TZ),
        allowed_states=["success"],
        failed_states=["failed"],
        mode="reschedule",
        poke_interval=15,
        timeout=SENSOR_TIMEOUT.total_seconds(),
        check_existence=True,
    )
    [wait_for_parent, wait_for_child] >> build_report()
