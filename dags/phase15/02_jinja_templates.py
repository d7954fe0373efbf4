"""Jinja2-templated DAGs: one template, per-environment configuration, environment-variable substitution.

`configs/pipeline.yaml.j2` is rendered at parse time for the environment in PLATFORM_ENV (dev/staging/prod) —
schedule, batch size, target schema and alert channel differ per environment while the DAG code is identical.
`env_var("NAME", default)` in the template substitutes environment variables; StrictUndefined turns a typo into
an import error rather than an empty value. Inside the DAG, runtime Jinja (`{{ params }}`, and `{{ batch_date() }}`
from common.run_dates, which also dates a run without a logical date) still renders per run: parse-time templating
picks the environment, run-time templating picks the data.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import task

from common.dag_header import platform_dag
from common.factory import current_environment, render_environment_config
from common.run_dates import BATCH_DATE_MACROS

ENVIRONMENT = current_environment()
CONFIG = render_environment_config(Path(__file__).resolve().parent / "configs" / "pipeline.yaml.j2", ENVIRONMENT)

with platform_dag(
    __file__, __doc__, owner="team-data-platform", tags=["jinja", f"env:{ENVIRONMENT}"],
    task_defaults={"pool": CONFIG["pool"]}, schedule=CONFIG["schedule"],
    params={"batch_size": int(CONFIG["batch_size"]), "target_schema": CONFIG["target_schema"]},
    dagrun_timeout=timedelta(minutes=int(CONFIG["deadline_minutes"])), user_defined_macros=BATCH_DATE_MACROS,
):
    announce = BashOperator(
        task_id="announce",
        bash_command=(
            "echo 'env={{ params.env }} ds={{ batch_date() }} batch={{ params.batch_size }} "
            "target={{ params.target_schema }} source=$SOURCE_URI'"
        ),
        env={"SOURCE_URI": CONFIG["source_uri"]},
        params={"env": ENVIRONMENT},
    )

    @task
    def plan_batches(total_rows: int = 25_000, **context) -> list[dict]:
        """Runtime half: the batch size comes from the rendered environment config (overridable per run)."""
        size = int(context["params"]["batch_size"])
        return [{"offset": o, "limit": min(size, total_rows - o), "schema": context["params"]["target_schema"]}
                for o in range(0, total_rows, size)]

    announce >> plan_batches()
