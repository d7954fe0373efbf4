"""common.connections: one reading of HTTP endpoints from connections for every DAG."""

from __future__ import annotations

import json

import pytest

from common.connections import http_base_url


@pytest.mark.parametrize(
    ("connection", "expected"),
    [
        ({"conn_type": "http", "host": "mlflow.internal", "port": 5000}, "http://mlflow.internal:5000"),
        ({"conn_type": "http", "host": "api.example.com", "schema": "https"}, "https://api.example.com"),
        ({"conn_type": "http", "host": "http://127.0.0.1:15050/"}, "http://127.0.0.1:15050"),
    ],
)
def test_base_url_from_connection(monkeypatch: pytest.MonkeyPatch, connection: dict, expected: str) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_SVC_TEST", json.dumps(connection))
    assert http_base_url("svc_test") == expected


def test_a_connection_without_host_is_named_with_what_it_should_reach(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_EMPTY_TEST", json.dumps({"conn_type": "http"}))
    with pytest.raises(ValueError, match=r"connection 'empty_test' has no host \(the Marquez API\)"):
        http_base_url("empty_test", "the Marquez API")
