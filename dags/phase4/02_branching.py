"""Phase 4 · Branching: choosing which downstream path runs.

Teaches: BranchPythonOperator (classic) and `@task.branch` (TaskFlow) — both return the task id(s) to
follow and every other direct downstream task is skipped; the join after a branch needs the
`none_failed_min_one_success` trigger rule, or the skip would cascade into it. The decisions themselves
(load strategy by volume, report by weekday) are plain functions in common.branching.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.python import BranchPythonOperator
from airflow.sdk import Param, TriggerRule, task

from common.branching import choose_load_strategy, choose_report
from common.dag_header import platform_dag
from common.run_dates import batch_date


def pick_load_strategy(**context: Any) -> str:
    params = context["params"]
    return choose_load_strategy(params["row_count"], params["bulk_threshold"])


@task.branch
def pick_report(ds: str | None = None, dag_run: Any = None) -> str:
    return choose_report(date.fromisoformat(batch_date(ds, dag_run)))


with platform_dag(
    __file__, __doc__, owner="data-platform", severity="P4", tags=["control-flow"],
    description="BranchPythonOperator and @task.branch with a correct join", schedule="@daily",
    params={
        "row_count": Param(1200, type="integer", minimum=0, description="rows that arrived today"),
        "bulk_threshold": Param(1000, type="integer", minimum=1, description="at or above: full reload"),
    },
) as dag:
    choose_strategy = BranchPythonOperator(task_id="choose_strategy", python_callable=pick_load_strategy)
    full_reload = EmptyOperator(task_id="full_reload")
    incremental_merge = EmptyOperator(task_id="incremental_merge")
    loaded = EmptyOperator(task_id="loaded", trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)

    choose_report_task = pick_report.override(task_id="choose_report")()
    weekday_report = EmptyOperator(task_id="weekday_report")
    weekend_summary = EmptyOperator(task_id="weekend_summary")
    published = EmptyOperator(task_id="published", trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)

    choose_strategy >> [full_reload, incremental_merge] >> loaded
    loaded >> choose_report_task >> [weekday_report, weekend_summary] >> published
