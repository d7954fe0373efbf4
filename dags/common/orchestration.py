"""Cross-DAG orchestration logic for phase 13: schedule alignment, conditional triggering, child conf contracts.

The multi-DAG graph of the phase (also rendered into the DAGs' docs):
  phase13_02_trigger_dag_run (parent, 01:00 UTC) ─triggers with conf→ phase13_03_dag_dependencies (child)
  phase13_01_external_task_sensor (02:00 UTC) waits for both: the parent's trigger task (execution_delta)
  and the child's whole run (execution_date_fn).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

PARENT_DAG_ID = "phase13_02_trigger_dag_run"
CHILD_DAG_ID = "phase13_03_dag_dependencies"
SENSOR_DAG_ID = "phase13_01_external_task_sensor"
PARENT_CRON, PARENT_TZ = "0 1 * * *", "UTC"
SENSOR_CRON, SENSOR_TZ = "0 2 * * *", "UTC"

# (upstream, downstream, how)
DEPENDENCIES: tuple[tuple[str, str, str], ...] = (
    (PARENT_DAG_ID, CHILD_DAG_ID, "TriggerDagRunOperator + conf"),
    (PARENT_DAG_ID, SENSOR_DAG_ID, "ExternalTaskSensor, execution_delta=1h"),
    (CHILD_DAG_ID, SENSOR_DAG_ID, "ExternalTaskSensor, execution_date_fn"),
    (CHILD_DAG_ID, PARENT_DAG_ID, "cross-DAG XCom: result pulled back"),
)


def to_mermaid(edges: tuple[tuple[str, str, str], ...] = DEPENDENCIES) -> str:
    """The dependency graph as a Mermaid flowchart (rendered by the Airflow UI's doc_md and by GitHub)."""
    lines = ["```mermaid", "flowchart LR"]
    lines += [f"  {a} -->|{how}| {b}" for a, b, how in edges]
    lines.append("```")
    return "\n".join(lines)


def latest_schedule_at_or_before(moment: datetime, cron: str, tz: str) -> datetime:
    """The most recent tick of `cron` evaluated in `tz` at or before `moment`, returned in UTC.

    Evaluating the upstream's cron in the upstream's own timezone is what keeps two DAGs aligned across
    daylight-saving changes; a fixed execution_delta cannot.
    """
    from croniter import croniter

    if moment.tzinfo is None:
        raise ValueError(f"logical date {moment} has no timezone; Airflow logical dates are always aware")
    local = moment.astimezone(ZoneInfo(tz)).replace(second=0, microsecond=0)  # cron has minute resolution
    tick = local if croniter.match(cron, local) else croniter(cron, local).get_prev(datetime)
    return tick.astimezone(UTC)


def execution_date_fn_for(cron: str, tz: str) -> Callable[..., datetime]:
    """An ExternalTaskSensor `execution_date_fn`: our logical date → the upstream run's logical date."""

    def upstream_logical_date(logical_date: datetime, **_: Any) -> datetime:
        return latest_schedule_at_or_before(logical_date, cron, tz)

    upstream_logical_date.__name__ = f"latest_{cron.replace(' ', '_').replace('*', 'x')}_{tz.replace('/', '_')}"
    return upstream_logical_date


def should_trigger(summary: Mapping[str, Any], min_records: int) -> bool:
    """Trigger the child only when there is enough new data to be worth a run."""
    return int(summary.get("records", 0)) >= min_records


CHILD_CONF_KEYS: dict[str, type] = {
    "parent_dag_id": str,
    "parent_run_id": str,
    "correlation_id": str,
    "partition": str,
    "records": int,
}


def build_child_conf(parent_dag_id: str, parent_run_id: str, correlation_id: str, partition: str, records: int) -> dict[str, Any]:
    return {
        "parent_dag_id": parent_dag_id,
        "parent_run_id": parent_run_id,
        "correlation_id": correlation_id,
        "partition": partition,
        "records": records,
    }


def validate_child_conf(conf: Mapping[str, Any] | None) -> dict[str, Any]:
    """The child's conf contract; a missing or mistyped key fails the run with a message naming it."""
    conf = dict(conf or {})
    problems = [f"missing conf key {key!r}" for key in CHILD_CONF_KEYS if key not in conf]
    problems += [
        f"conf key {key!r} must be {kind.__name__}, got {type(conf[key]).__name__}"
        for key, kind in CHILD_CONF_KEYS.items()
        if key in conf and not isinstance(conf[key], kind)
    ]
    if problems:
        raise ValueError(f"{CHILD_DAG_ID} needs conf from its parent: " + "; ".join(problems))
    return conf


def invalid_ratio_check(summary: Mapping[str, Any], max_ratio: float) -> float:
    """Raise when the parent's batch has too many invalid records: the child fails, and so does the parent."""
    records = int(summary["records"])
    ratio = int(summary["invalid"]) / records if records else 0.0
    if ratio > max_ratio:
        raise ValueError(f"partition {summary.get('partition')}: {ratio:.1%} invalid records exceeds {max_ratio:.1%}")
    return ratio
