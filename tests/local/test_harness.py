"""The harness itself: idempotent second start, a busy port reported by name, a failing service with its log tail,
status, and the env file that dag.test() runs use."""

from __future__ import annotations

import os
import socket
import stat

import pytest


def test_second_start_is_idempotent(postgres_service) -> None:
    from local import platform, proc

    lines: list[str] = []
    before = platform.service("postgres").running_pids()
    platform.up(["postgres"], say=lines.append)
    assert "already running" in lines[-1]
    assert platform.service("postgres").running_pids() == before
    assert proc.running(platform.service("postgres").processes()[0]) is not None


def test_busy_port_is_reported_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    from local import platform
    from local.services.base import ServiceError

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        busy = squatter.getsockname()[1]
        monkeypatch.setenv("LOCAL_PORT_BIGQUERY", str(busy))
        svc = platform.service("bigquery")
        # Seen as not started by us (another program holds the port), without touching a running stand-in.
        monkeypatch.setattr(svc, "running_pids", lambda: {"bigquery": None})
        try:
            with pytest.raises(ServiceError, match=rf"port {busy} \(bigquery\) is already in use.*LOCAL_PORT_BIGQUERY"):
                platform.start_one(svc, say=lambda _: None)
        finally:
            monkeypatch.delenv("LOCAL_PORT_BIGQUERY")


def test_a_failing_service_reports_its_log_tail(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from local import platform, proc
    from local.services.base import Service, ServiceError

    class Broken(Service):
        name = "broken"
        start_timeout = 10

        def processes(self) -> list[proc.ProcSpec]:
            return [proc.ProcSpec(name="broken-test", argv=["sh", "-c", "echo 'fatal: config key foo.bar is invalid'; exit 3"])]

        def health(self) -> str | None:
            # Never healthy: start-up must end on the dead process, not on a probe that happened to run first.
            return "starting"

        def endpoint(self):  # pragma: no cover - never reached
            raise AssertionError

    lines: list[str] = []
    monkeypatch.setitem(platform.SERVICES, "broken", "x:y")
    monkeypatch.setattr(platform, "service", lambda name: Broken())
    try:
        with pytest.raises(ServiceError, match="broken did not start: broken: process broken-test exited during start-up"):
            platform.up(["broken"], say=lines.append)
    finally:
        proc.stop(Broken().processes()[0])  # drop its pid file
    report = "\n".join(lines)
    assert "✗ broken failed" in report and "fatal: config key foo.bar is invalid" in report


def test_port_override_must_be_a_port(monkeypatch: pytest.MonkeyPatch) -> None:
    from local import ports

    monkeypatch.setenv("LOCAL_PORT_REDIS", "not-a-port")
    with pytest.raises(ValueError, match="LOCAL_PORT_REDIS"):
        ports.port("redis")
    monkeypatch.setenv("LOCAL_PORT_REDIS", "16380")
    assert ports.port("redis") == 16380


def test_status_lists_every_service(postgres_service) -> None:
    from local import platform

    rows = {name: state for name, state, _ in platform.status()}
    assert set(rows) == set(platform.SERVICES)
    assert rows["postgres"] == "running"


def test_env_file_has_every_contract_connection_in_json_form_and_is_private(platform_connections) -> None:
    import json

    from local import connections, envfile

    written = envfile.read()
    for conn_id in connections.PLATFORM_CONNECTIONS:
        conn = json.loads(written[f"AIRFLOW_CONN_{conn_id.upper()}"])
        assert conn["conn_type"] == connections.PLATFORM_CONNECTIONS[conn_id]["type"]
    assert stat.S_IMODE(os.stat(envfile.PATH).st_mode) == 0o600
    assert os.environ["AIRFLOW_CONN_POSTGRES_DEFAULT"] == written["AIRFLOW_CONN_POSTGRES_DEFAULT"]


def test_connections_reach_the_services_through_airflow_hooks(platform_connections, postgres_service, s3_service) -> None:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    assert PostgresHook(postgres_conn_id="postgres_default").get_first("SELECT current_database()") == ("warehouse",)
    hook = S3Hook(aws_conn_id="aws_default")
    hook.create_bucket("hook-test-bucket")
    assert hook.check_for_bucket("hook-test-bucket")


def test_kafka_cluster_ids_never_look_like_an_option() -> None:
    from local.services import kafka

    ids = [kafka.cluster_id() for _ in range(2000)]
    assert not [i for i in ids if i.startswith("-")]
    assert all(len(i) == 22 for i in ids)


def test_executor_choice_is_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    from local.services import airflow
    from local.services.base import ServiceError

    monkeypatch.setenv("LOCAL_AIRFLOW_EXECUTOR", "KubernetesExecutor")
    with pytest.raises(ServiceError, match="LOCAL_AIRFLOW_EXECUTOR='KubernetesExecutor' must be one of"):
        airflow.executor()
    monkeypatch.setenv("LOCAL_AIRFLOW_EXECUTOR", "CeleryExecutor")
    assert "redis" in airflow.Airflow().depends
    assert [s.name for s in airflow.Airflow().processes()][-1] == "airflow-celery-worker"
