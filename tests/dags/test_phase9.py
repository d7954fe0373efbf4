"""Phase 9 (integrations): real dag.test() runs against the local platform's services.

Services: Postgres (real), the HTTP stand-ins process (stand-in for an OAuth2 partner API), moto server (stand-in for
AWS S3), Azurite (stand-in for Azure Blob Storage), the BigQuery stand-in, and a real Kafka broker in KRaft mode.
"""

from __future__ import annotations

from datetime import UTC

import pytest
from dag_run_helpers import get_dag, task_states, xcom_value


def _warehouse(sql: str, parameters=None):
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    return PostgresHook(postgres_conn_id="postgres_default").get_records(sql, parameters=parameters)


@pytest.fixture
def warehouse(postgres_service, platform_connections):
    return _warehouse


def _batch_counts(warehouse, ds: str) -> tuple[int, int, int]:
    orders = warehouse("SELECT COUNT(*), COUNT(DISTINCT order_id) FROM orders WHERE batch_date = %s", (ds,))[0]
    quarantined = warehouse("SELECT COUNT(*) FROM orders_quarantine WHERE batch_date = %s", (ds,))[0][0]
    return int(orders[0]), int(orders[1]), int(quarantined)


def _clean_batch(warehouse, ds: str) -> None:
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    from common.warehouse import DDL

    hook = PostgresHook(postgres_conn_id="postgres_default")
    hook.run(DDL)
    for table in ("orders", "orders_quarantine", "orders_load_audit"):
        hook.run(f"DELETE FROM {table} WHERE batch_date = %s", parameters=(ds,))


def test_database_load_is_transactional_and_idempotent(dagbag, warehouse):
    """Postgres (real): rollback leaves nothing, a load commits 45 + 5 quarantined, a rerun adds no duplicates."""
    from datetime import datetime

    dag = get_dag(dagbag, "phase9_01_database_integration")
    logical = datetime(2026, 3, 14, tzinfo=UTC)
    ds = "2026-03-14"
    _clean_batch(warehouse, ds)

    failed = dag.test(logical_date=logical, run_conf={"fail_before_commit": True})
    assert task_states(failed)["load_orders"] == "failed"
    assert _batch_counts(warehouse, ds) == (0, 0, 0), "a failed batch must leave nothing behind"

    first = dag.test(logical_date=logical, run_conf={"fail_before_commit": False})
    assert first.state == "success", task_states(first)
    assert _batch_counts(warehouse, ds) == (45, 45, 5)
    assert xcom_value(first, "reconcile_counts") == {"orders": 45, "quarantined": 5}
    reasons = warehouse("SELECT reasons FROM orders_quarantine WHERE batch_date = %s ORDER BY id", (ds,))
    assert all(r[0] for r in reasons), "every quarantined order keeps its reasons"

    rerun = dag.test(logical_date=logical, run_conf={"fail_before_commit": False})
    assert rerun.state == "success"
    assert _batch_counts(warehouse, ds) == (45, 45, 5), "a rerun must not add duplicates"
    assert task_states(rerun)["quality_checks"] == "success"


def test_database_missing_connection_fails_naming_it(dagbag, warehouse, monkeypatch, caplog):
    dag = get_dag(dagbag, "phase9_01_database_integration")
    monkeypatch.delenv("AIRFLOW_CONN_POSTGRES_DEFAULT")
    monkeypatch.setattr(dag.get_task("create_tables"), "retries", 0)  # the same error on every try; keep the test quick
    run = dag.test(run_conf={"fail_before_commit": False})
    assert task_states(run)["create_tables"] == "failed"
    assert run.state == "failed"
    assert "postgres_default" in caplog.text and "isn't defined" in caplog.text
