"""Phase 15 (factories and templates): what dag-factory builds from the YAML, broken configs as import errors,
per-environment Jinja configs, and multi-tenant isolation with unknown tenants refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from dag_run_helpers import get_dag, task_states, xcom_value

PHASE15 = Path(__file__).resolve().parents[2] / "dags" / "phase15"
FACTORY = "phase15_01_yaml_dag_factory"
JINJA = "phase15_02_jinja_templates"
TENANTS = "phase15_03_dynamic_dag_patterns"


def _copy_phase15(tmp_path: Path, *files: str) -> Path:
    """A private copy of the phase15 folder with some of its loader files and their configs, to parse altered configs.
    It keeps the folder's name, as every bundle of the DAGs does: a DAG's id comes from `phaseN/NN_name.py`."""
    folder = tmp_path / "dags" / "phase15"
    shutil.copytree(PHASE15 / "configs", folder / "configs")
    for name in files:
        shutil.copy(PHASE15 / name, folder / name)
    return folder


def _parse(folder: Path):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(folder))


# ---------------------------------------------------------------------------------------------- dag-factory
def test_factory_dag_is_built_from_the_yaml(dagbag) -> None:
    dag = get_dag(dagbag, FACTORY)
    assert [t.task_id for t in dag.topological_sort()] == ["extract", "transform", "load", "audit"]
    assert {t.owner for t in dag.tasks} == {"team-crm"}
    assert set(dag.tags) >= {"phase15", "factory", "yaml", "team:crm"}
    assert dag.timetable.expression == "0 3 * * *" and dag.doc_md


def test_factory_dag_runs_and_passes_data_through_xcom(dagbag) -> None:
    run = get_dag(dagbag, FACTORY).test()
    assert run.state == "success", task_states(run)
    assert xcom_value(run, "load") == {"target": "analytics.customers", "rows": 5, "total": 180.0}


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda d: d["dags"][FACTORY]["tasks"][1].update(operator="spark"),
     f"dags.{FACTORY}.tasks[1].operator: 'spark' is not one of"),
    (lambda d: d["dags"][FACTORY].update(schedul=d["dags"][FACTORY].pop("schedule")),
     f"dags.{FACTORY}: 'schedule' is a required property"),
    (lambda d: d.update(schema_version="2.0"), "schema_version: '2.0' is not supported"),
    (lambda d: d["dags"][FACTORY]["tasks"][3].update(dependencies=["lod"]),
     f"dags.{FACTORY}.tasks[3].dependencies: unknown task 'lod'"),
])
def test_a_broken_config_is_an_import_error_naming_file_and_field(airflow_db, tmp_path: Path, mutate, expected: str) -> None:
    folder = _copy_phase15(tmp_path, "01_yaml_dag_factory.py")
    config = folder / "configs" / "dag_definitions.yaml"
    doc = yaml.safe_load(config.read_text())
    mutate(doc)
    config.write_text(yaml.safe_dump(doc))
    bag = _parse(folder)
    assert bag.dag_ids == [], "a broken config must not produce a partial DAG"
    (error,) = bag.import_errors.values()
    assert "FactoryConfigError" in error and "dag_definitions.yaml: invalid DAG config" in error and expected in error


# ---------------------------------------------------------------------------------------------- Jinja
def test_jinja_dag_is_configured_for_the_environment(dagbag) -> None:
    dag = get_dag(dagbag, JINJA)
    assert "env:dev" in dag.tags and type(dag.timetable).__name__ == "NullTimetable"
    run = dag.test()
    assert run.state == "success", task_states(run)
    batches = xcom_value(run, "plan_batches")
    assert len(batches) == 250 and batches[0] == {"offset": 0, "limit": 100, "schema": "analytics_dev"}


def test_the_same_template_renders_prod_with_env_substitution(airflow_db, tmp_path: Path, monkeypatch) -> None:
    folder = _copy_phase15(tmp_path, "02_jinja_templates.py")
    monkeypatch.setenv("PLATFORM_ENV", "prod")
    monkeypatch.setenv("PIPELINE_TARGET_SCHEMA", "mart_prod")
    bag = _parse(folder)
    assert not bag.import_errors
    dag = bag.dags[JINJA]
    assert "env:prod" in dag.tags and dag.timetable.expression == "0 * * * *"
    assert dag.params["batch_size"] == 10000 and dag.params["target_schema"] == "mart_prod"


def test_an_unknown_environment_is_an_import_error(airflow_db, tmp_path: Path, monkeypatch) -> None:
    folder = _copy_phase15(tmp_path, "02_jinja_templates.py")
    monkeypatch.setenv("PLATFORM_ENV", "qa")
    (error,) = _parse(folder).import_errors.values()
    assert "PLATFORM_ENV='qa' is not one of dev, staging, prod" in error


# ---------------------------------------------------------------------------------------------- multi-tenant
@pytest.mark.parametrize(("tenant", "owner", "steps"), [
    ("acme", "team-acme", ["ingest", "validate", "publish"]),
    ("globex", "team-globex", ["ingest", "validate", "enrich", "publish"]),
    ("initech", "team-initech", ["ingest", "validate", "publish"]),
])
def test_one_dag_per_tenant_isolated_by_pool_owner_and_access(dagbag, tenant: str, owner: str, steps: list[str]) -> None:
    dag = get_dag(dagbag, f"{TENANTS}__{tenant}")
    assert {t.pool for t in dag.tasks} == {f"tenant_{tenant}"}
    assert {t.owner for t in dag.tasks} == {owner}
    assert set(dag.access_control) == {f"tenant_{tenant}"}
    assert [t.task_id for t in dag.topological_sort()][: len(steps)] == steps


def test_tenant_dags_share_no_pool_or_role(dagbag) -> None:
    tenant_dags = [d for d in dagbag.dag_ids if d.startswith(f"{TENANTS}__")]
    pools = [next(iter({t.pool for t in dagbag.get_dag(d).tasks})) for d in tenant_dags]
    roles = [next(iter(dagbag.get_dag(d).access_control)) for d in tenant_dags]
    assert len(tenant_dags) == 3 and len(set(pools)) == 3 and len(set(roles)) == 3


def test_a_tenant_dag_runs_inside_its_own_prefix(dagbag) -> None:
    run = get_dag(dagbag, f"{TENANTS}__globex").test()
    assert run.state == "success", task_states(run)
    assert xcom_value(run, "check_isolation") == 4
    assert xcom_value(run, "enrich")["target"] == "s3://tenants/globex/out/"


def test_the_parameterised_pipeline_runs_for_a_known_tenant(dagbag) -> None:
    run = get_dag(dagbag, TENANTS).test(run_conf={"tenant": "initech"})
    assert run.state == "success", task_states(run)
    assert [p["step"] for p in xcom_value(run, "run_pipeline")] == ["ingest", "validate", "publish"]


def test_an_unknown_tenant_is_refused_before_any_task_runs(dagbag) -> None:
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError, match="umbrella"):
        get_dag(dagbag, TENANTS).test(run_conf={"tenant": "umbrella"})
