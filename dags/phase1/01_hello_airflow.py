"""Phase 1 · Hello Airflow: the smallest complete DAG.

Teaches: the `with DAG()` context manager, EmptyOperator placeholders, linear `>>` dependencies,
`default_args` shared by every task (owner, retries, timeout, failure alert) and tags for organisation.
"""

from __future__ import annotations

from airflow.providers.standard.operators.empty import EmptyOperator

from common.dag_header import platform_dag

# platform_dag (common.dag_header) returns an airflow.sdk.DAG with the platform's header: dag_id from this file's
# name (phase1_01_hello_airflow), doc_md, start_date, catchup=False, default_args and the phase/severity tags.
with platform_dag(
    __file__, __doc__, owner="data-platform", severity="P4", tags=["fundamentals"],
    description="First DAG: EmptyOperators in a straight line", schedule=None,
) as dag:
    start = EmptyOperator(task_id="start")
    extract = EmptyOperator(task_id="extract")
    transform = EmptyOperator(task_id="transform")
    load = EmptyOperator(task_id="load")
    end = EmptyOperator(task_id="end")

    # Read left to right: each task starts only after the previous one succeeded.
    start >> extract >> transform >> load >> end
