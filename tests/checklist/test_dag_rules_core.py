"""checklist.dag_rules, Core Operations group: a failing fixture per rule (a fake DagBag of real DAG objects, altered
needs, a temp file or a monkeypatched module attribute) proves each rule can fail, and names the problem."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, task
from rule_fixtures import run

from checklist import dag_rules

COVERED = [
    "Retry strategies configured for all external calls",
    "Circuit breakers for unreliable services",
    "Email/Slack notifications for failures",
    "Database connections using Airflow Connections",
    "Data validation before loading",
    "Unit tests for business logic",
    "CI/CD pipeline for DAG deployment",
    "Metrics exported to monitoring system",
    "Structured logging with correlation IDs",
    "Health checks for dependencies",
    "SLA definitions and monitoring",
]


def needs(services: list[str], connections: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"services": services, "connections": connections or {}, "assets": {"produces": [], "consumes": []}}


def _call_partner_api() -> int:
    import requests

    return requests.get("http://partner.invalid/api", timeout=5).status_code


# --- retries ----------------------------------------------------------------------------------------------------------
def test_an_external_call_without_retries_fails_and_with_them_passes() -> None:
    with DAG("phase9_99_retries", schedule=None) as bare:
        PythonOperator(task_id="fetch", python_callable=_call_partner_api, retries=0)
    result = run("Retry strategies configured for all external calls", [bare], {"phase9_99_retries": needs(["http_api"])})
    assert not result.ok
    assert result.evidence == ["phase9_99_retries.fetch: retries=0, execution_timeout=None"]

    with DAG("phase9_99_retries", schedule=None) as guarded:
        PythonOperator(task_id="fetch", python_callable=_call_partner_api, retries=2, execution_timeout=timedelta(minutes=1))
    assert run("Retry strategies configured for all external calls", [guarded], {"phase9_99_retries": needs(["http_api"])}).ok


# --- circuit breakers -------------------------------------------------------------------------------------------------
def _dag_in_file(tmp_path: Path, dag_id: str, source: str) -> Any:
    path = tmp_path / f"{dag_id}.py"
    path.write_text(source)
    with DAG(dag_id, schedule=None) as dag:
        EmptyOperator(task_id="call")
    dag.fileloc = str(path)
    return dag


def test_an_http_api_dag_without_a_breaker_fails(tmp_path: Path) -> None:
    dag = _dag_in_file(tmp_path, "phase7_99_breaker", "import requests\n")
    result = run("Circuit breakers for unreliable services", [dag], {dag.dag_id: needs(["http_api"])})
    assert not result.ok
    assert result.evidence == ["phase7_99_breaker calls an unreliable HTTP API without a circuit breaker"]

    guarded = _dag_in_file(tmp_path, "phase7_99_breaker", "from common import circuit_breaker\n")
    assert run("Circuit breakers for unreliable services", [guarded], {dag.dag_id: needs(["http_api"])}).ok


def test_a_breaker_that_never_opens_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from common import circuit_breaker

    monkeypatch.setattr(circuit_breaker, "record_failure", lambda *args, **kwargs: None)  # failures never counted
    guarded = _dag_in_file(tmp_path, "phase7_99_breaker", "from common import circuit_breaker\n")
    result = run("Circuit breakers for unreliable services", [guarded], {guarded.dag_id: needs(["http_api"])})
    assert not result.ok
    assert "4 calls, threshold 3: 4 reached the service (3 should, then the circuit opens)" in result.evidence


# --- failure notifications --------------------------------------------------------------------------------------------
def test_a_task_without_a_failure_callback_fails() -> None:
    with DAG("phase8_99_notify", schedule=None) as dag:
        EmptyOperator(task_id="silent")
        EmptyOperator(task_id="loud", on_failure_callback=lambda context: None)
    result = run("Email/Slack notifications for failures", [dag])
    assert not result.ok
    assert result.evidence == ["task without on_failure_callback: phase8_99_notify.silent"]


# --- database connections ---------------------------------------------------------------------------------------------
def test_postgres_without_a_declared_or_used_connection_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dag_rules, "DAGS", tmp_path / "dags")
    (tmp_path / "dags").mkdir()
    item = "Database connections using Airflow Connections"
    undeclared = _dag_in_file(tmp_path, "phase9_99_db", "x = 1\n")
    result = run(item, [undeclared], {"phase9_99_db": needs(["postgres"])})
    assert not result.ok and result.evidence == ["phase9_99_db uses Postgres without a declared postgres connection"]

    declared = {"warehouse_db": {"type": "postgres", "service": "postgres"}}
    result = run(item, [undeclared], {"phase9_99_db": needs(["postgres"], declared)})
    assert not result.ok
    assert result.evidence == ["phase9_99_db declares warehouse_db but its code uses none of them (uses no connection)"]

    used = _dag_in_file(tmp_path, "phase9_99_db", "PostgresHook(postgres_conn_id='warehouse_db')\n")
    assert run(item, [used], {"phase9_99_db": needs(["postgres"], declared)}).ok


def test_an_inline_credentialed_uri_under_dags_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "phase9").mkdir()
    (tmp_path / "phase9" / "leaky.py").write_text('URL = "postgresql://app:s3cretpw@db.internal/warehouse"\n')
    monkeypatch.setattr(dag_rules, "DAGS", tmp_path)
    result = run("Database connections using Airflow Connections", [])
    assert not result.ok
    assert any(e.endswith("phase9/leaky.py: inline database URI with credentials") for e in result.evidence)


# --- validation before load -------------------------------------------------------------------------------------------
def _noop() -> None:
    return None


def test_a_load_without_upstream_validation_fails() -> None:
    with DAG("phase9_99_load", schedule=None) as unchecked:
        PythonOperator(task_id="extract", python_callable=_noop) >> PythonOperator(task_id="load", python_callable=_noop)
    result = run("Data validation before loading", [unchecked], {"phase9_99_load": needs(["postgres"])})
    assert not result.ok
    assert result.evidence == ["phase9_99_load.load loads without an upstream validation task"]

    with DAG("phase9_99_load", schedule=None) as checked:
        (PythonOperator(task_id="extract", python_callable=_noop) >> PythonOperator(task_id="validate", python_callable=_noop)
         >> PythonOperator(task_id="load", python_callable=_noop))
    assert run("Data validation before loading", [checked], {"phase9_99_load": needs(["postgres"])}).ok


# --- unit tests -------------------------------------------------------------------------------------------------------
def test_a_common_module_no_test_imports_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "common").mkdir()
    (tmp_path / "tests").mkdir()
    (tmp_path / "common" / "pricing.py").write_text("def price() -> int:\n    return 1\n")
    (tmp_path / "common" / "orphan.py").write_text("def unused() -> int:\n    return 2\n")
    (tmp_path / "tests" / "test_pricing.py").write_text("from common.pricing import price\n")
    monkeypatch.setattr(dag_rules, "COMMON_DIR", tmp_path / "common")
    monkeypatch.setattr(dag_rules, "TESTS_DIR", tmp_path / "tests")
    result = run("Unit tests for business logic", [])
    assert not result.ok and result.evidence == ["common.orphan is imported by no test"]

    (tmp_path / "tests" / "test_orphan.py").write_text("from common import orphan\n")
    assert run("Unit tests for business logic", []).ok


# --- CI pipeline ------------------------------------------------------------------------------------------------------
@pytest.fixture
def ci_copy(tmp_path: Path) -> dict[str, Path]:
    files = {"ci_run": dag_rules.CI_RUN, "platform": dag_rules.PLATFORM_SCRIPT, "test_all": dag_rules.TEST_ALL}
    copies = {}
    for name, path in files.items():
        copies[name] = tmp_path / path.name
        copies[name].write_text(path.read_text())
    return copies


def test_the_real_ci_files_pass(ci_copy: dict[str, Path]) -> None:
    evidence, problems = dag_rules.ci_problems(**ci_copy)
    assert problems == [] and len(evidence) == 3


@pytest.mark.parametrize("name,old,new,problem", [
    ("ci_run", "exec ./platform test", "exec ./platform lint", "does not exec ./platform test"),
    ("ci_run", "exec ./platform test", "# exec ./platform test", "does not exec ./platform test"),
    ("platform", "exec bash scripts/test-all.sh", "exec bash scripts/lint.sh", "its `test` command does not exec test-all.sh"),
    ("test_all", ".venv/bin/pytest tests", ".venv/bin/pytest tests/python", "pytest does not run tests/"),  # only part of it
    ("test_all", ".venv/bin/pytest tests", "# .venv/bin/pytest tests", "pytest does not run tests/"),
    ("test_all", "contract checklist scripts", "contract scripts", "ruff does not check checklist/"),
    ("test_all", "npx --no-install jest", "echo skipped", "jest never runs"),
])
def test_a_pipeline_that_skips_a_runner_fails(ci_copy: dict[str, Path], name: str, old: str, new: str, problem: str) -> None:
    text = ci_copy[name].read_text()
    assert old in text
    ci_copy[name].write_text(text.replace(old, new))
    _, problems = dag_rules.ci_problems(**ci_copy)
    assert any(problem in p for p in problems), problems


def test_the_ci_rule_fails_on_a_ci_that_does_not_run_the_suite(ci_copy: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    ci_copy["ci_run"].write_text("#!/usr/bin/env bash\nexec ./platform up\n")
    monkeypatch.setattr(dag_rules, "CI_RUN", ci_copy["ci_run"])
    result = run("CI/CD pipeline for DAG deployment", [])
    assert not result.ok
    assert any("does not exec ./platform test" in e for e in result.evidence)


# --- metrics ----------------------------------------------------------------------------------------------------------
def _metrics_dag(body: str) -> Any:
    """A stand-in for the metrics DAG whose one task writes `body` as its exposition file ('' writes nothing)."""
    with DAG(dag_rules.METRICS_DAG, schedule=None) as dag:

        @task
        def publish_metrics() -> None:
            if body:
                Path(os.environ["AIRFLOW_HOME"], "metrics.prom").write_text(body)

        publish_metrics()
    return dag


def _exposition() -> str:
    from common.observability import PipelineMetrics

    metrics = PipelineMetrics("airflow_pipeline")
    metrics.records.labels(dag_rules.METRICS_DAG, "ok").inc(5)
    return metrics.exposition()


def test_metrics_pass_when_statsd_is_on_and_a_run_writes_parsable_exposition() -> None:
    result = run("Metrics exported to monitoring system", [_metrics_dag(_exposition())])
    assert result.ok, result.evidence


@pytest.mark.parametrize("body,problem", [
    ("", "wrote no Prometheus exposition"),
    ("this is { not metrics\n", "metrics.prom: not Prometheus exposition text"),
    ('# TYPE other_total counter\nother_total{dag_id="someone_else"} 1\n', "none labelled dag_id=phase12_01_metrics_monitoring"),
])
def test_a_run_without_usable_exposition_fails(body: str, problem: str) -> None:
    result = run("Metrics exported to monitoring system", [_metrics_dag(body)])
    assert not result.ok
    assert any(problem in e for e in result.evidence), result.evidence


def test_statsd_off_in_the_profile_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    profile = tmp_path / "airflow-profile.json"
    profile.write_text('{"config": {"metrics": {"statsd_on": "False"}}}')
    monkeypatch.setattr(dag_rules, "AIRFLOW_PROFILE", profile)
    result = run("Metrics exported to monitoring system", [_metrics_dag(_exposition())])
    assert not result.ok
    assert any("[metrics] statsd_on='False'" in e for e in result.evidence)
    assert not run("Metrics exported to monitoring system", []).ok  # and no metrics DAG at all


# --- structured logging -----------------------------------------------------------------------------------------------
def _logging_dag(with_correlation: bool) -> Any:
    with DAG(dag_rules.LOGGING_DAG, schedule=None) as dag:

        def step(name: str) -> Any:
            @task(task_id=name)
            def log_step(upstream: Any = None, dag_run: Any = None) -> None:
                from common.observability import structured_logger

                fields = {"correlation_id": dag_run.conf["correlation_id"]} if with_correlation else {}
                with structured_logger(f"fixture.{name}", Path(os.environ["AIRFLOW_HOME"], f"{name}.jsonl"), task_id=name, **fields) as log:
                    log.info("step done")

            return log_step

        step("first")() >> step("second")()
    return dag


def test_json_logs_with_the_triggers_correlation_id_pass() -> None:
    result = run("Structured logging with correlation IDs", [_logging_dag(with_correlation=True)])
    assert result.ok, result.evidence


def test_logs_without_the_correlation_id_fail() -> None:
    result = run("Structured logging with correlation IDs", [_logging_dag(with_correlation=False)])
    assert not result.ok
    assert any("2 of 2 log records of phase12_02_logging_tracing lack correlation_id=checklist-correlation-0001" in e
               for e in result.evidence), result.evidence


def test_a_logging_helper_that_writes_plain_text_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    from common import observability

    monkeypatch.setattr(observability.JsonFormatter, "format", lambda self, record: record.getMessage())
    assert dag_rules.logging_helper_problems() == ["not JSON: first", "not JSON: second"]
    result = run("Structured logging with correlation IDs", [_logging_dag(with_correlation=True)])
    assert not result.ok
    assert "not JSON: first" in result.evidence


# --- health checks ----------------------------------------------------------------------------------------------------
HEALTH_NEEDS = {dag_rules.HEALTH_DAG: {
    "services": ["postgres", "kafka", "airflow_api"],
    "connections": {"postgres_default": {"type": "postgres", "service": "postgres"},
                    "kafka_default": {"type": "kafka", "service": "kafka"},
                    "airflow_api": {"type": "http", "service": "airflow_api"}},
}}


def _health_dag(schedule: Any, conn_ids: list[str], healthy: bool = False) -> Any:
    with DAG(dag_rules.HEALTH_DAG, schedule=schedule) as dag:

        @task
        def probe_components() -> list[dict[str, Any]]:
            from common import health_targets

            results = []
            for conn_id in conn_ids:
                try:
                    health_targets._connection(conn_id)
                    status, detail = "healthy", "ok"
                except Exception as exc:  # noqa: BLE001 - a probe reports, never raises
                    status, detail = ("healthy" if healthy else "unhealthy"), str(exc)
                results.append({"component": conn_id, "status": status, "detail": detail})
            return results

        probe_components()
    return dag


def test_probes_of_every_declared_service_on_a_schedule_pass() -> None:
    dag = _health_dag(timedelta(minutes=15), ["postgres_default", "kafka_default", "airflow_api"])
    result = run("Health checks for dependencies", [dag], HEALTH_NEEDS)
    assert result.ok, result.evidence


def test_unscheduled_probes_that_miss_services_fail() -> None:
    result = run("Health checks for dependencies", [_health_dag(None, ["postgres_default"])], HEALTH_NEEDS)
    assert not result.ok
    assert "phase12_03_health_checks has no schedule: dependencies are only checked by hand" in result.evidence
    assert "phase12_03_health_checks's probes never reach ['airflow_api', 'kafka'] (probed: ['postgres'])" in result.evidence


def test_a_probe_that_reports_healthy_without_its_target_fails() -> None:
    dag = _health_dag(timedelta(minutes=15), ["postgres_default", "kafka_default", "airflow_api"], healthy=True)
    result = run("Health checks for dependencies", [dag], HEALTH_NEEDS)
    assert not result.ok
    assert any(e.startswith("components reported healthy with their connection withheld") for e in result.evidence)


def test_probing_through_an_undeclared_connection_fails() -> None:
    dag = _health_dag(timedelta(minutes=15), ["postgres_default", "kafka_default", "airflow_api", "adhoc_db"])
    result = run("Health checks for dependencies", [dag], HEALTH_NEEDS)
    assert not result.ok
    assert any("does not declare: ['adhoc_db']" in e for e in result.evidence)


# --- deadlines (SLAs) -------------------------------------------------------------------------------------------------
def test_sla_dags_without_deadline_alerts_fail() -> None:
    with DAG("phase5_04_callbacks", schedule=None) as plain:
        EmptyOperator(task_id="work")
    result = run("SLA definitions and monitoring", [plain])
    assert not result.ok
    assert result.evidence == ["phase5_04_callbacks: no Deadline Alert", "phase12_01_metrics_monitoring: missing"]
