"""common.health: each probe against a real local endpoint (sqlite file, HTTP server, TCP listener, directory),
self-healing and escalation."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from common.health import (
    ComponentDown,
    HealthReport,
    HealthResult,
    check_airflow,
    check_api,
    check_database,
    check_oauth_api,
    check_queue,
    check_storage,
    enforce_health,
    escalate,
    heal,
    summarize_airflow_health,
)
from local.testing import serving, unused_port

HEALTHY_AIRFLOW = {"metadatabase": {"status": "healthy"}, "scheduler": {"status": "healthy"},
                   "triggerer": {"status": "healthy"}, "dag_processor": {"status": "healthy"}}


class _Handler(BaseHTTPRequestHandler):
    throttle = False

    def log_message(self, *args: object) -> None:
        return None

    def _send(self, code: int, body: object, headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(body).encode()
        self.send_response(code)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        if self.path == "/api/v2/monitor/health":
            self._send(200, HEALTHY_AIRFLOW)
        elif self.path == "/sick/api/v2/monitor/health":
            self._send(200, {**HEALTHY_AIRFLOW, "scheduler": {"status": "unhealthy"}})
        elif self.path.startswith("/api/items"):
            if self.headers.get("Authorization") != "Bearer t0k":
                self._send(401, {})
            elif _Handler.throttle:
                self._send(429, {}, {"Retry-After": "1"})
            else:
                self._send(200, {"items": []})
        else:
            self._send(500, {"error": "down"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        self.rfile.read(length)
        ok = self.headers.get("Authorization") == "Basic aWQ6c2VjcmV0"  # id:secret
        self._send(200 if ok else 401, {"access_token": "t0k"} if ok else {"error": "invalid_client"})


@pytest.fixture(scope="module")
def http_server() -> Iterator[str]:
    with serving(_Handler) as url:
        yield url


def test_database_probe(tmp_path) -> None:
    assert check_database(f"sqlite:///{tmp_path}/h.db").status == "healthy"
    down = check_database(f"postgresql+psycopg2://u:p@127.0.0.1:{unused_port()}/x", timeout=2)
    assert down.status == "unhealthy" and "OperationalError" in down.detail


def test_api_and_airflow_probes(http_server: str) -> None:
    assert check_api(http_server + "/api/v2/monitor/health").status == "healthy"
    assert check_api(http_server + "/broken").status == "unhealthy"
    assert check_airflow(http_server + "/api/v2/monitor/health").status == "healthy"
    sick = check_airflow(http_server + "/sick/api/v2/monitor/health")
    assert sick.status == "unhealthy" and "airflow components unhealthy: scheduler" in sick.detail


def test_oauth_api_probe_healthy_throttled_and_denied(http_server: str) -> None:
    ok = check_oauth_api(http_server, "id", "secret", "/oauth/token", "/api/items?page=1")
    assert ok.status == "healthy" and "HTTP 200" in ok.detail
    _Handler.throttle = True
    try:
        throttled = check_oauth_api(http_server, "id", "secret", "/oauth/token", "/api/items?page=1")
    finally:
        _Handler.throttle = False
    assert throttled.status == "degraded" and "429" in throttled.detail
    assert check_oauth_api(http_server, "id", "wrong", "/oauth/token", "/api/items").status == "unhealthy"


def test_queue_probe() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        assert check_queue("127.0.0.1", listener.getsockname()[1]).status == "healthy"
    assert check_queue("127.0.0.1", unused_port(), timeout=1).status == "unhealthy"


def test_storage_probe_and_self_healing(tmp_path) -> None:
    target = tmp_path / "volume"
    before = check_storage(target)
    assert before.status == "unhealthy"

    def recreate(_: HealthResult) -> str:
        target.mkdir()
        return "mkdir"

    healed = heal([before], {"storage": recreate}, {"storage": lambda: check_storage(target)})
    assert healed[0].status == "healthy" and healed[0].remediated and "after remediation: mkdir" in healed[0].detail
    assert list(target.iterdir()) == []  # the probe cleans up after itself


def test_components_without_remediation_are_left_for_escalation() -> None:
    down = HealthResult("queue", "unhealthy", 1.0, "refused")
    assert heal([down], {}, {"queue": lambda: down}) == [down]


def test_escalation_levels_and_the_p1_gate() -> None:
    results = [
        HealthResult("database", "unhealthy", 1, "refused"),
        HealthResult("queue", "unhealthy", 1, "refused"),
        HealthResult("api", "degraded", 1, "429"),
        HealthResult("storage", "healthy", 1, "ok"),
    ]
    escalations = escalate(results)
    assert [(e.component, e.severity, e.action) for e in escalations] == [
        ("database", "P1", "page"), ("queue", "P2", "ticket"), ("api", "P3", "ticket")
    ]
    report = HealthReport(results, escalations)
    assert report.status == "unhealthy"
    with pytest.raises(ComponentDown, match=r"database \(P1\): refused"):
        enforce_health(report)
    tickets_only = HealthReport(results[1:], escalate(results[1:]))
    assert enforce_health(tickets_only) is tickets_only


def test_airflow_health_summary() -> None:
    assert summarize_airflow_health(HEALTHY_AIRFLOW).startswith("airflow: dag_processor=healthy")
    with pytest.raises(RuntimeError, match="metadatabase, triggerer"):
        summarize_airflow_health({**HEALTHY_AIRFLOW, "metadatabase": {"status": "unhealthy"}, "triggerer": {"status": "unhealthy"}})
