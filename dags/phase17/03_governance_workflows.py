"""Governance workflows on the real warehouse (Postgres): classification tags, retention, access reviews and
breaking-schema-change alerts.

1. `classify` reads information_schema for the governed tables, tags every column PII / Confidential / Public
   and writes the tags into Postgres itself (`COMMENT ON COLUMN ... 'classification:PII'`), so any SQL client sees them.
2. `enforce_retention` deletes rows older than the table's classification allows (PII 30 days, Confidential a
   year, Public forever) and records each deletion in `governance.retention_log`.
3. `review_access` revokes stale or unapproved grants in `governance.access_grants` (PII needs an approver) and
   records every decision with its reason in `governance.access_reviews`.
4. `detect_schema_changes` compares each table with its last snapshot; a removed column or changed type fails
   the task with a message naming them — the failure alert is the breaking-change notification — while an added
   column just updates the snapshot.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Param, task

from common.dag_header import platform_dag

CONN_ID = "postgres_default"
DB_TASK = {"retries": 2, "retry_delay": timedelta(seconds=10), "execution_timeout": timedelta(minutes=5)}

with platform_dag(
    __file__, __doc__, owner="team-data-platform", severity="P2", tags=["governance", "retention", "classification"],
    schedule="@daily", max_active_runs=1,
    params={"seed_demo_data": Param(False, type="boolean", description="create and fill the demo governed tables")},
):

    @task(**DB_TASK)
    def prepare(**context) -> None:
        from common.warehouse_governance import connect, ensure_governance_schema, seed_demo_tables

        with connect(conn_id=CONN_ID) as conn:
            ensure_governance_schema(conn)
            if context["params"]["seed_demo_data"]:
                seed_demo_tables(conn, now=datetime.now().astimezone())

    @task(**DB_TASK)
    def classify() -> dict:
        from common.warehouse_governance import classify_and_tag, connect

        with connect(conn_id=CONN_ID) as conn:
            return classify_and_tag(conn)

    @task(**DB_TASK)
    def enforce_retention(classes: dict) -> dict:
        from common.warehouse_governance import apply_retention, connect

        with connect(conn_id=CONN_ID) as conn:
            return apply_retention(conn, classes, now=datetime.now().astimezone())

    @task(**DB_TASK)
    def review_access(classes: dict) -> list:
        from common.warehouse_governance import connect, run_access_review

        with connect(conn_id=CONN_ID) as conn:
            return run_access_review(conn, classes, now=datetime.now().astimezone())

    @task(retries=2, execution_timeout=timedelta(minutes=5))  # a breaking change raises AirflowFailException: no retry
    def detect_schema_changes() -> dict:
        from airflow.sdk.exceptions import AirflowFailException

        from common.warehouse_governance import compare_with_snapshots, connect

        with connect(conn_id=CONN_ID) as conn:
            result = compare_with_snapshots(conn)
        if result["breaking"]:
            raise AirflowFailException("breaking schema change(s): " + "; ".join(
                f"{table}: {', '.join(changes)}" for table, changes in sorted(result["breaking"].items())))
        return result

    classes = prepare() >> classify()
    enforce_retention(classes)
    review_access(classes)
    classes >> detect_schema_changes()
