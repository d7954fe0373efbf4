"""Phase 3 · BashOperator: shell commands, environment variables and Jinja templating.

Teaches: `bash_command` rendered with Jinja (`{{ batch_date() }}`, `{{ params.* }}`), `env=` to hand values to the
script as environment variables (also templated), `append_env=True` to keep the worker's own environment,
and the last line of stdout becoming the task's XCom. `set -euo pipefail` makes any failing command fail
the task instead of being ignored. `batch_date()` is a DAG macro (common.run_dates): `{{ ds }}` for a run with a
logical date, the UTC day of `dag_run.run_after` for one without (where `{{ ds }}` is undefined and fails).
"""

from __future__ import annotations

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import Param

from common.dag_header import platform_dag
from common.run_dates import BATCH_DATE_MACROS

with platform_dag(
    __file__, __doc__, owner="data-platform", severity="P4", tags=["operators"],
    description="BashOperator with env vars and {{ batch_date() }} templating", schedule="@daily",
    params={"output_dir": Param("/opt/airflow/data/bash", type="string")}, user_defined_macros=BATCH_DATE_MACROS,
) as dag:
    print_date = BashOperator(
        task_id="print_date",
        bash_command="echo 'processing {{ batch_date() }}'; echo '{{ batch_date() }}'",
    )

    write_report = BashOperator(
        task_id="write_report",
        bash_command=(
            "set -euo pipefail; "
            'mkdir -p "$OUTPUT_DIR"; '
            'report="$OUTPUT_DIR/report_${RUN_DATE//-/}.txt"; '
            'printf "run_date=%s\\nrun_id=%s\\nuid=%s\\n" "$RUN_DATE" "$RUN_ID" "$(id -u)" > "$report"; '
            'echo "$report"'
        ),
        env={
            "RUN_DATE": "{{ batch_date() }}",
            "RUN_ID": "{{ run_id }}",
            "OUTPUT_DIR": "{{ params.output_dir }}",
        },
        append_env=True,
    )

    count_lines = BashOperator(
        task_id="count_lines",
        # Pull the previous task's stdout XCom through Jinja.
        bash_command="set -euo pipefail; wc -l < \"{{ ti.xcom_pull(task_ids='write_report') }}\"",
    )

    print_date >> write_report >> count_lines
