"""common.ml_store against the live warehouse: replace-not-append writers, the outcome join, per-variant counts."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from common import ml_store
from common.churn_data import customer_batch


@pytest.fixture
def conn(postgres_service: Any, platform_connections: Any):  # noqa: ANN001, ANN201
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    connection = PostgresHook(postgres_conn_id="postgres_default").get_conn()
    ml_store.ensure_tables(connection)
    connection.commit()
    yield connection
    connection.rollback()
    connection.close()


def test_customers_outcomes_and_predictions_are_replaced_not_appended(conn: Any) -> None:
    exp = f"t_{uuid.uuid4().hex[:8]}"
    rows, arriving = customer_batch(10, seed=1), customer_batch(4, seed=2, prefix="x")
    for _ in range(2):  # a retried task
        ml_store.replace_customers(conn, exp, "training", rows)
        ml_store.replace_customers(conn, exp, "experiment", arriving)
    training = ml_store.load_customers(conn, exp, "training")
    assert len(training) == 10 and training[0]["churned"] == rows[0]["churned"]
    assert [r["churned"] for r in ml_store.load_customers(conn, exp, "experiment")] == [None] * 4, "no label leaks to serving"

    log = [{"request_id": f"{exp}:{r['customer_id']}", "customer_id": r["customer_id"], "variant": v,
            "model_version": "1", "score": 0.9, "predicted": 1} for r, v in zip(arriving, "abab", strict=True)]
    ml_store.replace_predictions(conn, exp, "run1", log)
    ml_store.replace_predictions(conn, exp, "run1", log)
    ml_store.replace_outcomes(conn, exp, {arriving[0]["customer_id"]: 1, arriving[1]["customer_id"]: 0, arriving[2]["customer_id"]: 0})
    assert ml_store.attach_outcomes(conn, exp) == {"joined": 3, "pending": 1}
    assert ml_store.variant_outcomes(conn, exp) == {"a": {"users": 2, "conversions": 1}, "b": {"users": 1, "conversions": 0}}


def test_quarantine_is_idempotent_per_run_and_source(conn: Any) -> None:
    run = f"run_{uuid.uuid4().hex[:8]}"
    bad = [{"record": {"customer_id": "x", "tenure_months": None}, "reasons": ["tenure_months: missing"]}, {"record": "junk", "reasons": ["not an object: str"]}]
    for _ in range(3):
        ml_store.replace_quarantine(conn, "dag", run, "training", bad)
    ml_store.replace_quarantine(conn, "dag", run, "experiment", bad[:1])
    got = ml_store.quarantined(conn, "dag", run)
    assert len(got) == 3 and got[0] == {"source": "training", "record": {"customer_id": "x", "tenure_months": None},
                                        "reasons": ["tenure_months: missing"]}
