"""Component health checks, self-healing remediation and escalation.

Each probe returns a HealthResult; a failed component gets its remediation (if one is registered) and is probed
again; whatever is still unhealthy is escalated by severity: P1 pages on-call and fails the run, lower levels open
a ticket. Probes take plain targets (a SQLAlchemy URL, a URL, a path, host:port) so they are testable on their own.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

Status = Literal["healthy", "degraded", "unhealthy"]
COMPONENTS = ("database", "api", "storage", "queue", "airflow")
# A component down is not equally urgent everywhere: losing the metadata DB or the queue stops every pipeline.
SEVERITY_BY_COMPONENT: dict[str, str] = {"database": "P1", "airflow": "P1", "queue": "P2", "api": "P2", "storage": "P2",
                                         "failed_tasks": "P2"}
SLOW_PROBE_MS = 2000.0


@dataclass(frozen=True)
class HealthResult:
    component: str
    status: Status
    latency_ms: float
    detail: str
    remediated: bool = False


@dataclass
class Escalation:
    component: str
    severity: str
    action: Literal["page", "ticket"]
    detail: str


@dataclass
class HealthReport:
    results: list[HealthResult]
    escalations: list[Escalation] = field(default_factory=list)

    @property
    def status(self) -> Status:
        statuses = {r.status for r in self.results}
        if "unhealthy" in statuses:
            return "unhealthy"
        return "degraded" if "degraded" in statuses else "healthy"

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "results": [asdict(r) for r in self.results],
            "escalations": [asdict(e) for e in self.escalations],
        }


class Degraded(RuntimeError):
    """Raised by a probe when the component answers but not normally (throttled, partially available)."""


def _timed(component: str, probe: Callable[[], str]) -> HealthResult:
    start = time.monotonic()
    try:
        detail = probe()
    except Degraded as exc:
        return HealthResult(component, "degraded", round((time.monotonic() - start) * 1000, 1), str(exc))
    except Exception as exc:  # a probe failing in any way means the component is unhealthy
        return HealthResult(component, "unhealthy", round((time.monotonic() - start) * 1000, 1), f"{type(exc).__name__}: {exc}")
    latency = round((time.monotonic() - start) * 1000, 1)
    status: Status = "degraded" if latency > SLOW_PROBE_MS else "healthy"
    return HealthResult(component, status, latency, detail)


def check_database(sqlalchemy_url: str, timeout: float = 5.0) -> HealthResult:
    """`SELECT 1` through SQLAlchemy: proves the server accepts connections and runs queries."""
    from sqlalchemy import create_engine, text  # imported outside the timed probe: import time is not latency

    def probe() -> str:
        connect_args = {"connect_timeout": int(timeout)} if sqlalchemy_url.startswith("postgresql") else {}
        engine = create_engine(sqlalchemy_url, connect_args=connect_args, pool_pre_ping=True)
        try:
            with engine.connect() as conn:
                value = conn.execute(text("SELECT 1")).scalar()
        finally:
            engine.dispose()
        if value != 1:
            raise RuntimeError(f"SELECT 1 returned {value!r}")
        return "SELECT 1 ok"

    return _timed("database", probe)


def check_api(url: str, timeout: float = 5.0, component: str = "api") -> HealthResult:
    """HTTP GET must answer 2xx/3xx; 429/5xx and connection errors are unhealthy."""

    def probe() -> str:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return f"HTTP {response.status}"

    return _timed(component, probe)


def check_storage(directory: str | Path) -> HealthResult:
    """Write, read back and delete a probe object: catches a full, read-only or missing volume."""

    def probe() -> str:
        path = Path(directory) / f".health-{uuid.uuid4().hex}"
        payload = uuid.uuid4().hex
        path.write_text(payload, encoding="utf-8")
        try:
            if path.read_text(encoding="utf-8") != payload:
                raise OSError("read-back mismatch")
        finally:
            path.unlink(missing_ok=True)
        return f"write/read/delete ok in {directory}"

    return _timed("storage", probe)


def check_queue(host: str, port: int, timeout: float = 3.0) -> HealthResult:
    """The broker accepts TCP connections (Kafka/Redis); protocol-level checks belong in the messaging DAGs."""

    def probe() -> str:
        with socket.create_connection((host, port), timeout=timeout):
            return f"broker {host}:{port} accepting connections"

    return _timed("queue", probe)


def check_airflow(health_url: str, timeout: float = 5.0) -> HealthResult:
    """Airflow's /api/v2/monitor/health: every component (metadatabase, scheduler, triggerer, dag_processor) healthy."""

    def probe() -> str:
        with urllib.request.urlopen(health_url, timeout=timeout) as response:
            body = json.loads(response.read().decode("utf-8"))
        return summarize_airflow_health(body)

    return _timed("airflow", probe)


def summarize_airflow_health(body: Mapping[str, Any]) -> str:
    """Raise naming every unhealthy Airflow component in a /monitor/health body; a short summary otherwise."""
    unhealthy = sorted(
        name for name, part in body.items()
        if isinstance(part, Mapping) and part.get("status") not in ("healthy", None)
    )
    if unhealthy:
        raise RuntimeError(f"airflow components unhealthy: {', '.join(unhealthy)}")
    return "airflow: " + ", ".join(f"{k}=healthy" for k in sorted(body) if isinstance(body[k], Mapping))


Remediation = Callable[[HealthResult], str]


def heal(
    results: Sequence[HealthResult],
    remediations: Mapping[str, Remediation],
    recheck: Mapping[str, Callable[[], HealthResult]],
) -> list[HealthResult]:
    """Run the remediation for each unhealthy component that has one, then probe it again."""
    healed: list[HealthResult] = []
    for result in results:
        action = remediations.get(result.component)
        if result.status != "unhealthy" or action is None or result.component not in recheck:
            healed.append(result)
            continue
        try:
            note = action(result)
        except Exception as exc:  # a remediation that cannot run leaves the component to escalation, it is no crash
            healed.append(HealthResult(result.component, result.status, result.latency_ms,
                                       f"{result.detail} (remediation failed: {type(exc).__name__}: {exc})"))
            continue
        again = recheck[result.component]()
        healed.append(HealthResult(again.component, again.status, again.latency_ms,
                                   f"{again.detail} (after remediation: {note})", remediated=again.status == "healthy"))
    return healed


def escalate(results: Sequence[HealthResult]) -> list[Escalation]:
    """Unhealthy after self-healing → page (P1) or ticket (P2+); degraded → ticket at P3."""
    escalations: list[Escalation] = []
    for result in results:
        if result.status == "unhealthy":
            severity = SEVERITY_BY_COMPONENT.get(result.component, "P2")
            escalations.append(Escalation(result.component, severity, "page" if severity == "P1" else "ticket", result.detail))
        elif result.status == "degraded":
            escalations.append(Escalation(result.component, "P3", "ticket", result.detail))
    return escalations


class ComponentDown(RuntimeError):
    """Raised when a P1 escalation remains: the run fails so the failure alert pages on-call."""


def enforce_health(report: HealthReport) -> HealthReport:
    pages = [e for e in report.escalations if e.action == "page"]
    if pages:
        raise ComponentDown("; ".join(f"{e.component} ({e.severity}): {e.detail}" for e in pages))
    return report


def check_oauth_api(base_url: str, client_id: str, client_secret: str, token_path: str, probe_path: str,
                    timeout: float = 5.0) -> HealthResult:
    """An API is available when it issues a client-credentials token and answers one authenticated request.

    429 means alive but throttled: degraded, not down.
    """
    import base64
    import urllib.parse

    def probe() -> str:
        basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        token_request = urllib.request.Request(
            base_url.rstrip("/") + token_path, method="POST",
            data=urllib.parse.urlencode({"grant_type": "client_credentials"}).encode(),
            headers={"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"},
        )
        with urllib.request.urlopen(token_request, timeout=timeout) as response:
            token = json.loads(response.read())["access_token"]
        api_request = urllib.request.Request(base_url.rstrip("/") + probe_path, headers={"Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(api_request, timeout=timeout) as response:
                return f"token ok, {probe_path} HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            if exc.code == 429:
                raise Degraded(f"{probe_path} HTTP 429, Retry-After {exc.headers.get('Retry-After')}") from exc
            raise

    return _timed("api", probe)
