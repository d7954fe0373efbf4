"""Runs without a logical date (a manual trigger with `logical_date: null`) in dag.test(): the context has no `ds`,
so each task dates its batch by `dag_run.run_after` (common.run_dates), and templates by the DAG's `batch_date()`
macro (`{{ ds }}` would be undefined). The run must succeed and compute exactly what a run whose logical date falls
on that UTC day computes: the same orders, branches, maps, rendered templates and XComs.

Runs that need a phase's own fixtures (landing files, SMTP, Postgres, Vault) are in that phase's test file, next to
its dated runs: test_phase3 (sensors), test_phase8 (e-mails), test_phase9 (warehouse), test_phase16 (audit)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from dag_run_helpers import get_dag, task_states

# 23:30 on a Sunday in New York is 04:30 on Monday in UTC: the batch is Monday's (UTC), not Sunday's.
RUN_AFTER = datetime(2026, 3, 8, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
SAME_UTC_DAY = datetime(2026, 3, 9, 1, 0, tzinfo=UTC)


def run_xcoms(run: Any) -> dict[tuple[str, int, str], Any]:
    """Every XCom the run's tasks stored, by (task_id, map_index, key)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(XComModel).filter_by(dag_id=run.dag_id, run_id=run.run_id).all()
        return {(row.task_id, row.map_index, row.key): XComModel.deserialize_value(row) for row in rows}


@pytest.mark.parametrize(
    ("dag_id", "conf"),
    [
        ("phase1_02_parallel_tasks", {}),
        ("phase3_02_python_operator", {}),  # op_kwargs label "eu-{{ batch_date_nodash() }}"
        ("phase4_01_xcom_basics", {}),
        ("phase4_02_branching", {"row_count": 10, "bulk_threshold": 1000}),
        ("phase4_04_dynamic_tasks", {"order_count": 31, "batch_size": 10, "region_target": 3000.0, "bad_every": 9}),
        ("phase5_03_task_groups", {}),
        ("phase15_02_jinja_templates", {}),  # bash "ds={{ batch_date() }}" is the announce XCom
    ],
)
def test_a_run_without_a_logical_date_uses_the_run_after_day(dagbag, dag_id: str, conf: dict[str, Any]) -> None:
    dag = get_dag(dagbag, dag_id)
    undated = dag.test(logical_date=None, run_after=RUN_AFTER, run_conf=conf)
    assert undated.logical_date is None
    assert undated.state == "success", task_states(undated)
    dated = dag.test(logical_date=SAME_UTC_DAY, run_conf=conf)
    assert dated.state == "success", task_states(dated)
    assert task_states(undated) == task_states(dated)
    undated_xcoms = run_xcoms(undated)
    assert undated_xcoms, f"{dag_id} stored no XCom to compare"
    assert undated_xcoms == run_xcoms(dated)


def test_the_undated_branch_follows_the_utc_day_of_run_after(dagbag) -> None:
    run = get_dag(dagbag, "phase4_02_branching").test(
        logical_date=None, run_after=RUN_AFTER, run_conf={"row_count": 10, "bulk_threshold": 1000}
    )
    states = task_states(run)
    assert (states["weekday_report"], states["weekend_summary"]) == ("success", "skipped")  # Monday in UTC


def test_the_undated_bash_templates_render_the_run_after_day(dagbag, tmp_path) -> None:
    """phase3_01: `{{ batch_date() }}` in bash_command and env renders run_after's UTC day, as `{{ ds }}` would."""
    dag = get_dag(dagbag, "phase3_01_bash_operator")
    conf = {"output_dir": str(tmp_path)}
    undated = dag.test(logical_date=None, run_after=RUN_AFTER, run_conf=conf)
    assert undated.logical_date is None
    assert undated.state == "success", task_states(undated)
    xcoms = run_xcoms(undated)
    assert xcoms[("print_date", -1, "return_value")] == "2026-03-09"  # Monday in UTC, Sunday in New York
    report = tmp_path / "report_20260309.txt"
    assert xcoms[("write_report", -1, "return_value")] == str(report)
    assert report.read_text().splitlines()[0] == "run_date=2026-03-09"
    dated = dag.test(logical_date=SAME_UTC_DAY, run_conf=conf)
    assert dated.state == "success", task_states(dated)
    assert run_xcoms(dated) == xcoms
