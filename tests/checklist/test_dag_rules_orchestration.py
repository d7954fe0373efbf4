"""checklist.dag_rules, Orchestration group: a failing fixture per rule (fake DagBags of real DAG objects, altered
needs, temp configs, a monkeypatched docs builder), each naming the problem, and passing cases where cheap."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.sensors.external_task import ExternalTaskSensor
from airflow.sdk import DAG, Asset
from rule_fixtures import context as ctx

from checklist import dag_rules

COVERED = [
    "Cross-DAG dependencies documented",
    "ExternalTaskSensor timeouts configured",
    "Dataset producers/consumers mapped",
    "DAG factory configurations validated",
    "Multi-tenant isolation verified",
]


def run(item: str, dags: list[Any], needs: dict[str, dict[str, Any]] | None = None) -> dag_rules.Result:
    return next(r for _, name, r in dag_rules.RULES if name == item)(ctx(dags, needs))


# --- cross-DAG docs ---------------------------------------------------------------------------------------------------
def test_stale_or_missing_contract_docs_fail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from contract import docs

    (tmp_path / "needs.md").write_text("| old table |\n")
    monkeypatch.setattr(docs, "OUT", tmp_path)
    monkeypatch.setattr(docs, "build", lambda: {"needs.md": "| new table |\n", "dependencies.svg": "<svg/>"})
    result = run("Cross-DAG dependencies documented", [])
    assert not result.ok
    assert result.evidence == ["stale: docs/contract/needs.md", "stale: docs/contract/dependencies.svg"]

    (tmp_path / "needs.md").write_text("| new table |\n")
    (tmp_path / "dependencies.svg").write_text("<svg/>")
    assert run("Cross-DAG dependencies documented", []).ok


# --- sensor timeouts --------------------------------------------------------------------------------------------------
def test_a_sensor_on_the_default_week_long_timeout_fails() -> None:
    with DAG("phase13_99_sensor", schedule=None) as dag:
        ExternalTaskSensor(task_id="wait", external_dag_id="phase13_99_parent")
    result = run("ExternalTaskSensor timeouts configured", [dag])
    assert not result.ok
    assert result.evidence == ["phase13_99_sensor.wait: timeout 604800.0s"]

    with DAG("phase13_99_sensor", schedule=None) as bounded:
        ExternalTaskSensor(task_id="wait", external_dag_id="phase13_99_parent", timeout=3600, mode="reschedule")
    assert run("ExternalTaskSensor timeouts configured", [bounded]).ok
    assert run("ExternalTaskSensor timeouts configured", []).evidence == ["no ExternalTaskSensor in the DagBag"]


# --- assets -----------------------------------------------------------------------------------------------------------
def test_an_asset_the_manifest_does_not_declare_fails() -> None:
    with DAG("phase14_99_assets", schedule=None) as dag:
        EmptyOperator(task_id="publish", outlets=[Asset("s3://fixture/out")])
    undeclared: dict[str, dict[str, Any]] = {"phase14_99_assets": {"assets": {"produces": [], "consumes": []}}}
    result = run("Dataset producers/consumers mapped", [dag], undeclared)
    assert not result.ok
    assert result.evidence == ["phase14_99_assets: code produces ['s3://fixture/out'] consumes [], manifest says otherwise"]

    declared = {"phase14_99_assets": {"assets": {"produces": ["s3://fixture/out"], "consumes": []}}}
    assert run("Dataset producers/consumers mapped", [dag], declared).ok


# --- DAG factory ------------------------------------------------------------------------------------------------------
CONFIGS = dag_rules.FACTORY_CONFIGS
CONFIG, SCHEMA = CONFIGS / "dag_definitions.yaml", CONFIGS / "dag_definitions.schema.json"


def _factory_dag(tasks: dict[str, list[str]]) -> Any:
    with DAG("phase15_01_yaml_dag_factory", schedule=None) as dag:
        ops = {t: EmptyOperator(task_id=t) for t in tasks}
        for t, deps in tasks.items():
            for d in deps:
                ops[d] >> ops[t]
    return dag


def test_a_factory_dag_built_as_configured_passes() -> None:
    dag = _factory_dag({"extract": [], "transform": ["extract"], "load": ["transform"], "audit": ["load"]})
    evidence, problems = dag_rules.factory_problems(ctx([dag]), CONFIG, SCHEMA)
    assert problems == [], problems
    assert "phase15_01_yaml_dag_factory: 4 tasks and their dependencies as configured" in evidence


def test_a_configured_dag_missing_from_the_dagbag_or_built_differently_fails() -> None:
    _, problems = dag_rules.factory_problems(ctx([]), CONFIG, SCHEMA)
    assert problems == ["phase15_01_yaml_dag_factory: defined in dag_definitions.yaml but not in the DagBag"]
    rewired = _factory_dag({"extract": [], "transform": ["extract"], "load": ["extract"], "audit": ["load"]})
    _, problems = dag_rules.factory_problems(ctx([rewired]), CONFIG, SCHEMA)
    assert len(problems) == 1 and problems[0].startswith("phase15_01_yaml_dag_factory: config tasks")


def test_a_schema_that_accepts_anything_fails_the_rule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(CONFIG, tmp_path / CONFIG.name)
    permissive = {"type": "object", "properties": {"schema_version": {"enum": ["1.0", "1.1"]}}}
    (tmp_path / SCHEMA.name).write_text(json.dumps(permissive))
    monkeypatch.setattr(dag_rules, "FACTORY_CONFIGS", tmp_path)
    dag = _factory_dag({"extract": [], "transform": ["extract"], "load": ["transform"], "audit": ["load"]})
    result = run("DAG factory configurations validated", [dag])
    assert not result.ok
    assert result.evidence == ["dag_definitions.schema.json accepted a DAG definition without its schedule"]


def test_an_invalid_config_fails_the_rule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(SCHEMA, tmp_path / SCHEMA.name)
    (tmp_path / CONFIG.name).write_text(CONFIG.read_text().replace('schema_version: "1.1"', 'schema_version: "9.9"'))
    monkeypatch.setattr(dag_rules, "FACTORY_CONFIGS", tmp_path)
    result = run("DAG factory configurations validated", [])
    assert not result.ok
    assert result.evidence[0].startswith("could not evaluate: FactoryConfigError")


# --- tenant isolation -------------------------------------------------------------------------------------------------
def _tenant_dag(tenant: str, pool: str, role: str) -> Any:
    with DAG(f"phase15_99_tenant__{tenant}", schedule=None, tags=[f"tenant:{tenant}"],
             access_control={role: {"DAGs": {"can_read", "can_edit"}}}) as dag:
        EmptyOperator(task_id="ingest", pool=pool, execution_timeout=timedelta(minutes=5))
    return dag


def test_tenants_in_their_own_pools_with_their_own_roles_pass() -> None:
    result = run("Multi-tenant isolation verified", [_tenant_dag("acme", "tenant_acme", "tenant_acme"),
                                                      _tenant_dag("globex", "tenant_globex", "tenant_globex")])
    assert result.ok, result.evidence


def test_tenants_sharing_a_pool_or_a_role_fail() -> None:
    result = run("Multi-tenant isolation verified", [_tenant_dag("acme", "shared", "tenant_acme"),
                                                      _tenant_dag("globex", "shared", "tenant_acme")])
    assert not result.ok
    assert "phase15_99_tenant__acme shares pool shared with ['phase15_99_tenant__globex']" in result.evidence
    assert "phase15_99_tenant__globex: access_control ['tenant_acme'] is not the tenant globex's own" in result.evidence


def test_a_tenant_in_the_default_pool_or_no_tenants_fail() -> None:
    result = run("Multi-tenant isolation verified", [_tenant_dag("acme", "default_pool", "tenant_acme")])
    assert not result.ok
    assert result.evidence == ["phase15_99_tenant__acme runs tasks in default_pool, shared with every DAG"]
    assert run("Multi-tenant isolation verified", []).evidence == ["no DAG is tagged tenant:<name>"]
