"""pytest fixtures over the local platform harness (imported by tests/conftest.py).

`local_platform` gives endpoints and `ensure(*services)`; per-service fixtures (`postgres_service`, `kafka_service`, ...)
bring one service up through the same code as `./platform up` and FAIL, naming the service, if it cannot start.
`platform_connections` puts the platform's AIRFLOW_CONN_*/AIRFLOW_VAR_* into the environment for `dag.test()` runs.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from local import platform as plat
from local.services.base import Endpoint


@dataclass
class LocalPlatform:
    """Handle on the local platform for tests: which services are up and where they listen."""

    endpoints: dict[str, Endpoint] = field(default_factory=dict)

    def ensure(self, *services: str) -> dict[str, Endpoint]:
        from local import contract

        wanted = [plat.canonical(s) for s in contract.platform_services(services)]
        missing = [s for s in plat.resolve(wanted) if s not in self.endpoints]
        if missing:
            lines: list[str] = []
            try:
                self.endpoints.update(plat.up(missing, say=lines.append))
            except Exception as error:
                pytest.fail(f"local platform service could not start: {error}\n" + "\n".join(lines[-40:]), pytrace=False)
        return {s: self.endpoints[s] for s in wanted}

    def endpoint(self, service: str) -> Endpoint:
        return self.ensure(service)[plat.canonical(service)]

    def ensure_for_dag(self, dag_id: str) -> dict[str, Endpoint]:
        """Start what dags/phaseN/needs.yaml says `dag_id` needs."""
        from local import contract

        needs = contract.load()
        if dag_id not in needs.dags:
            pytest.fail(f"{dag_id} is not declared in any dags/phase*/needs.yaml", pytrace=False)
        return self.ensure(*needs.dags[dag_id]["services"])


_PLATFORM = LocalPlatform()


@pytest.fixture(scope="session")
def local_platform() -> LocalPlatform:
    return _PLATFORM


@pytest.fixture(scope="session")
def platform_connections() -> Iterator[dict[str, str]]:
    """AIRFLOW_CONN_* / AIRFLOW_VAR_* of the platform (from the manifests) set in os.environ for the session."""
    from local import envfile

    _PLATFORM.ensure("vault")  # every connection set holds Vault identities (AppRole credentials issued at provisioning)
    env = envfile.write()
    previous = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    _forget_object_stores()
    yield env
    for key, value in previous.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    _forget_object_stores()


def _forget_object_stores() -> None:
    """ObjectStoragePath keeps one filesystem per (scheme, connection) for the life of the process, built from the
    connection as it read the first time. A test process that changes its connections must drop them, or an
    `s3://` path built earlier without the platform's aws_default (no endpoint_url) would keep reaching real AWS.
    A task process never changes its connections, so this is a test-process concern only."""
    from airflow.sdk.io import store

    store._STORE_CACHE.clear()


def _service_fixture(name: str):
    @pytest.fixture(scope="session", name=f"{name}_service")
    def fixture(local_platform: LocalPlatform) -> Endpoint:
        return local_platform.endpoint(name)

    fixture.__doc__ = f"The local {name} service, started if needed; the test fails naming it if it cannot start."
    return fixture


postgres_service = _service_fixture("postgres")
redis_service = _service_fixture("redis")
kafka_service = _service_fixture("kafka")
mlflow_service = _service_fixture("mlflow")
marquez_service = _service_fixture("marquez")
prometheus_service = _service_fixture("prometheus")
statsd_service = _service_fixture("statsd")
smtp_service = _service_fixture("smtp")
s3_service = _service_fixture("s3")
azure_blob_service = _service_fixture("azure_blob")
http_standins_service = _service_fixture("http_standins")
vault_service = _service_fixture("vault")
bigquery_service = _service_fixture("bigquery")
airflow_service = _service_fixture("airflow")

FIXTURES = [
    "local_platform", "platform_connections", "postgres_service", "redis_service", "kafka_service", "mlflow_service",
    "marquez_service", "prometheus_service", "statsd_service", "smtp_service", "s3_service", "azure_blob_service",
    "http_standins_service", "vault_service", "bigquery_service", "airflow_service",
]


def eventually(check: Callable[[], Any], timeout: float, what: str, interval: float = 3.0) -> Any:
    """Poll `check` until it returns a truthy value; fail naming `what` and the last value seen."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last value: {last!r}")


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """An HTTP server on a free loopback port, in a thread, for the block; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def unused_port() -> int:
    """A loopback port nothing listens on (bound once, then released): for "service down" cases."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
