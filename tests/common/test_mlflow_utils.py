from __future__ import annotations

from common.mlflow_utils import deployment_decision, iris_records, validate_measurement
from common.records import split_records


def test_iris_records_with_corruption_are_quarantined_not_dropped():
    records = iris_records(corrupt_every=25)
    split = split_records(records, validate_measurement)
    assert len(records) == 150 and split.total == 150
    assert len(split.quarantined) == 6
    reasons = {r for q in split.quarantined for r in q["reasons"]}
    negated = {f"sepal_width: {records[i]['sepal_width']} outside (0, 100) cm" for i in (24, 74, 124)}
    assert reasons == {"petal_length: missing"} | negated
    assert all(records[i]["petal_length"] is None for i in (49, 99, 149))


def test_deployment_decision():
    assert deployment_decision({"accuracy": 0.8}, None, min_accuracy=0.85)[0] is False
    assert deployment_decision({"accuracy": 0.9}, None, min_accuracy=0.85) == (
        True,
        "no champion yet; accuracy 0.900 clears 0.850",
    )
    assert deployment_decision({"accuracy": 0.9}, {"accuracy": 0.95}, min_accuracy=0.85)[0] is False
    assert deployment_decision({"accuracy": 0.95}, {"accuracy": 0.95}, min_accuracy=0.85)[0] is True
    assert (
        deployment_decision({"accuracy": 0.95}, {"accuracy": 0.95}, min_accuracy=0.85, min_improvement=0.01)[0] is False
    )


def test_tracking_uri_from_connection(monkeypatch):
    import json

    import pytest

    from common.mlflow_utils import tracking_uri

    monkeypatch.setenv(
        "AIRFLOW_CONN_ML_A", json.dumps({"conn_type": "http", "host": "mlflow.svc", "port": 5000, "schema": "http"})
    )
    monkeypatch.setenv("AIRFLOW_CONN_ML_B", json.dumps({"conn_type": "http", "host": "https://mlflow.example.com/"}))
    monkeypatch.setenv("AIRFLOW_CONN_ML_C", json.dumps({"conn_type": "http"}))
    assert tracking_uri("ml_a") == "http://mlflow.svc:5000"
    assert tracking_uri("ml_b") == "https://mlflow.example.com"
    with pytest.raises(ValueError, match="connection 'ml_c' has no host"):
        tracking_uri("ml_c")
