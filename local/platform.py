"""Orchestration: resolve dependencies, install what is missing, start, health-check and provision each service."""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import time
from collections.abc import Callable, Iterable, Iterator

from local import paths, ports, proc
from local.services.base import Endpoint, Service, ServiceError

# Start order; later services may depend on earlier ones.
SERVICES: dict[str, str] = {
    "postgres": "local.services.postgres:Postgres",
    "redis": "local.services.redis:Redis",
    "http_standins": "local.services.http_standins:HttpStandins",
    "smtp": "local.services.smtp:Smtp",
    "s3": "local.services.s3:S3",
    "kafka": "local.services.kafka:Kafka",
    "mlflow": "local.services.mlflow:Mlflow",
    "statsd": "local.services.statsd:StatsdExporter",
    "prometheus": "local.services.prometheus:Prometheus",
    "marquez": "local.services.marquez:Marquez",
    "azure_blob": "local.services.azurite:Azurite",
    "vault": "local.services.vault:Vault",
    "bigquery": "local.services.bigquery:BigQuery",
    "airflow": "local.services.airflow:Airflow",
}
# Names from contract/needs.schema.json that are served by one of the processes above.
ALIASES = {"slack": "http_standins", "http_api": "http_standins", "http": "http_standins",
           "statsd_exporter": "statsd", "azurite": "azure_blob", "airflow_api": "airflow"}

Printer = Callable[[str], None]


def canonical(name: str) -> str:
    resolved = ALIASES.get(name, name)
    if resolved not in SERVICES:
        raise ServiceError(f"unknown service {name!r}; known: {', '.join(SERVICES)} (aliases: {', '.join(ALIASES)})")
    return resolved


def service(name: str) -> Service:
    module_name, class_name = SERVICES[canonical(name)].split(":")
    return getattr(importlib.import_module(module_name), class_name)()


def resolve(names: Iterable[str]) -> list[str]:
    """The requested services plus their dependencies, in start order."""
    wanted: set[str] = set()
    stack = [canonical(n) for n in names] or list(SERVICES)
    while stack:
        name = stack.pop()
        if name not in wanted:
            wanted.add(name)
            stack.extend(service(name).depends)
    return [name for name in SERVICES if name in wanted]


def _check_ports_free(svc: Service) -> None:
    for name in svc.tcp_ports:
        if not ports.tcp_free(ports.port(name)):
            raise ServiceError(
                f"{svc.name}: port {ports.port(name)} ({name}) is already in use by another process; "
                f"stop it or set LOCAL_PORT_{name.upper()}"
            )
    for name in svc.udp_ports:
        if not ports.udp_free(ports.port(name)):
            raise ServiceError(
                f"{svc.name}: UDP port {ports.port(name)} ({name}) is already in use by another process; "
                f"stop it or set LOCAL_PORT_{name.upper()}"
            )


def start_one(svc: Service, say: Printer = print) -> str:
    """Bring one service to healthy; returns 'already running' or 'started in Ns'."""
    began = time.monotonic()
    pids = svc.running_pids()
    if all(pids.values()) and svc.health() is None:
        svc.provision()
        return "already running"
    if any(pids.values()):  # half up (a process died): restart cleanly
        stop_one(svc)
    _check_ports_free(svc)
    if not svc.installed():
        say(f"    installing {svc.name} ({svc.install_script})...")
    svc.install()
    svc.prepare()
    for spec in svc.processes():
        proc.start(spec)
    svc.wait_healthy()
    svc.provision()
    return f"started in {time.monotonic() - began:.1f}s"


def stop_one(svc: Service) -> bool:
    stopped = False
    for spec in reversed(svc.processes()):
        stopped = proc.stop(spec) or stopped
    return stopped


@contextlib.contextmanager
def exclusive() -> Iterator[None]:
    """One `up`/`down` at a time (a test fixture and a terminal may race); waits for the other to finish."""
    paths.ensure_dirs()
    with open(paths.RUN / "platform.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def failure_report(svc: Service, error: Exception) -> str:
    lines = [f"✗ {svc.name} failed: {error}"]
    dead_first = sorted(svc.processes(), key=lambda spec: proc.running(spec) is not None)
    for log in [spec.log_file for spec in dead_first]:
        lines.append(f"--- last lines of {log} ---")
        lines.append(proc.tail(log, 25))
    return "\n".join(lines)


def up(names: Iterable[str] = (), say: Printer = print) -> dict[str, Endpoint]:
    with exclusive():
        return _up(resolve(names), say)


def _up(order: list[str], say: Printer) -> dict[str, Endpoint]:
    endpoints: dict[str, Endpoint] = {}
    for index, name in enumerate(order, 1):
        svc = service(name)
        label = f"[{index:>2}/{len(order)}] {name:<14}"
        say(f"{label} starting...")
        try:
            outcome = start_one(svc, say)
        except Exception as error:
            say(failure_report(svc, error))
            raise ServiceError(f"{name} did not start: {error}") from error
        say(f"{label} ✓ healthy ({outcome})")
        endpoints[name] = svc.endpoint()
    return endpoints


def down(names: Iterable[str] = (), say: Printer = print) -> None:
    with exclusive():
        _down([canonical(n) for n in names] or list(SERVICES), say)


def _down(order: list[str], say: Printer) -> None:
    for name in reversed([n for n in SERVICES if n in order]):
        svc = service(name)
        if stop_one(svc):
            say(f"stopped {name}")


def status() -> list[tuple[str, str, str]]:
    """(service, state, url) for every service."""
    rows = []
    for name in SERVICES:
        svc = service(name)
        pids = svc.running_pids()
        if not any(pids.values()):
            state = "stopped"
        elif not all(pids.values()):
            state = "degraded: " + ", ".join(n for n, p in pids.items() if p is None) + " not running"
        else:
            reason = svc.health()
            state = "running" if reason is None else f"unhealthy: {reason}"
        try:
            url = svc.endpoint().url
        except Exception:
            url = ""
        rows.append((name, state, url))
    return rows
