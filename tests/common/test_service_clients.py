"""The service clients in dags/common against real HTTP servers on loopback, plus live MLflow for the registry helper.

A tiny `http.server` plays each remote in-process: status codes, paging and the token exchange are real HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar

import pytest

from common import health_targets
from common.airflow_api import AirflowApi
from common.http_calls import PermanentError, TransientError, call_service
from local.testing import serving, unused_port


class _Remote(BaseHTTPRequestHandler):
    """Routes: /status/<code>, /auth/token, /api/v2/eventLogs (3 entries, paged by offset/limit)."""

    events: ClassVar[list[dict[str, Any]]] = [{"id": i, "event": f"e{i}"} for i in range(1, 4)]

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def _send(self, code: int, body: Any) -> None:
        payload = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        from urllib.parse import parse_qs, urlparse

        url = urlparse(self.path)
        if url.path.startswith("/status/"):
            code = int(url.path.rsplit("/", 1)[1])
            self._send(code, {"status": code})
        elif url.path == "/api/v2/eventLogs":
            if self.headers.get("Authorization") != "Bearer t0ken":
                self._send(401, {"detail": "no token"})
                return
            query = parse_qs(url.query)
            offset, limit = int(query["offset"][0]), int(query["limit"][0])
            self._send(200, {"event_logs": self.events[offset:offset + limit], "total_entries": len(self.events)})
        else:
            self._send(404, {})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.path == "/auth/token" and body == {"username": "admin", "password": "pw"}:
            self._send(201, {"access_token": "t0ken"})
        else:
            self._send(403, {})


@pytest.fixture(scope="module")
def remote() -> Iterator[str]:
    with serving(_Remote) as url:
        yield url


def test_call_service_returns_json_and_classifies_failures(remote: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_REMOTE_TEST", json.dumps({"conn_type": "http", "host": remote}))
    assert call_service("remote_test", "/status/200") == {"status": 200}
    with pytest.raises(TransientError, match="remote_test answered HTTP 429"):
        call_service("remote_test", "/status/429")
    with pytest.raises(TransientError, match="HTTP 503"):
        call_service("remote_test", "/status/503")
    with pytest.raises(PermanentError, match="HTTP 404"):
        call_service("remote_test", "/status/404")
    monkeypatch.setenv("AIRFLOW_CONN_DOWN_TEST", json.dumps({"conn_type": "http", "host": f"http://127.0.0.1:{unused_port()}"}))
    with pytest.raises(TransientError, match="down_test: ConnectionError"):
        call_service("down_test", "/status/200", timeout=2)


def test_airflow_api_pages_event_logs_with_a_jwt(remote: str, monkeypatch: pytest.MonkeyPatch) -> None:
    host, port = remote.removeprefix("http://").split(":")
    monkeypatch.setenv("AIRFLOW_CONN_AIRFLOW_API_TEST", json.dumps(
        {"conn_type": "http", "host": host, "port": int(port), "login": "admin", "password": "pw"}))
    api = AirflowApi.from_connection("airflow_api_test")
    assert api.base_url == remote
    assert [e["id"] for e in api.event_logs(page_size=2)] == [1, 2, 3]


def test_airflow_api_connection_without_credentials_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_NOCREDS", json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": 1}))
    with pytest.raises(ValueError, match="connection 'nocreds' needs login and password"):
        AirflowApi.from_connection("nocreds")


def test_health_targets_resolve_connections_and_name_missing_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_KAFKA_DEFAULT", json.dumps({"conn_type": "kafka", "extra": {"bootstrap.servers": "broker-a:9092,broker-b:9092"}}))
    assert health_targets.queue_address() == ("broker-a", 9092)
    monkeypatch.setenv("AIRFLOW_CONN_AIRFLOW_API", json.dumps({"conn_type": "http", "host": "api.internal", "port": 8080}))
    assert health_targets._http_base("airflow_api") == "http://api.internal:8080"
    monkeypatch.delenv("AIRFLOW_CONN_KAFKA_DEFAULT")
    result = health_targets._safe_probe("queue", health_targets.queue_address)  # type: ignore[arg-type]
    assert result.status == "unhealthy" and "kafka_default" in result.detail


def test_mlflow_registry_registers_a_tagged_version_on_the_live_server(mlflow_service: Any) -> None:
    from mlflow import MlflowClient
    from sklearn.linear_model import LogisticRegression

    from common.mlflow_registry import log_sklearn_model, register_model

    uri = mlflow_service.url
    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    model_uri = log_sklearn_model(uri, "test-service-clients", model, {"accuracy": 1.0}, {"source": "pytest"})
    version = register_model(uri, "test_service_clients_model", model_uri, {"stage": "registered"})
    found = MlflowClient(tracking_uri=uri).get_model_version("test_service_clients_model", version)
    assert found.tags["stage"] == "registered"
