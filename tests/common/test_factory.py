"""common.factory: schema validation with field paths, env substitution, dag-factory build, Jinja envs, tenants."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from common import factory
from common.defaults import platform_default_args

CONFIGS = Path(__file__).resolve().parents[2] / "dags" / "phase15" / "configs"
SCHEMA = CONFIGS / "dag_definitions.schema.json"


def _write(tmp_path: Path, doc: dict) -> Path:
    path = tmp_path / "dags.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _valid() -> dict:
    return yaml.safe_load((CONFIGS / "dag_definitions.yaml").read_text())


def test_the_shipped_config_validates_and_substitutes_defaults() -> None:
    config = factory.load_config(CONFIGS / "dag_definitions.yaml", SCHEMA, env={})
    extract = config["dags"]["phase15_01_yaml_dag_factory"]["tasks"][0]
    assert extract["op_kwargs"]["source"] == "s3://landing/customers/"


def test_env_vars_override_defaults() -> None:
    config = factory.load_config(CONFIGS / "dag_definitions.yaml", SCHEMA, env={"CUSTOMER_SOURCE_URI": "s3://other/"})
    assert config["dags"]["phase15_01_yaml_dag_factory"]["tasks"][0]["op_kwargs"]["source"] == "s3://other/"


def test_missing_env_var_without_default_names_the_field(tmp_path: Path) -> None:
    doc = _valid()
    doc["dags"]["phase15_01_yaml_dag_factory"]["tasks"][0]["op_kwargs"]["source"] = "${MUST_BE_SET}"
    with pytest.raises(factory.FactoryConfigError, match=r"dags\.phase15_01_yaml_dag_factory\.tasks\[0\]\.op_kwargs\.source: "
                                                         r"environment variable MUST_BE_SET is not set"):
        factory.load_config(_write(tmp_path, doc), SCHEMA, env={})


def test_unsupported_schema_version_is_refused(tmp_path: Path) -> None:
    doc = {**_valid(), "schema_version": "0.9"}
    with pytest.raises(factory.FactoryConfigError, match=r"dags.yaml: invalid DAG config:\n  - schema_version: '0.9' is not supported"):
        factory.load_config(_write(tmp_path, doc), SCHEMA, env={})


def test_every_schema_violation_is_reported_with_its_path(tmp_path: Path) -> None:
    doc = _valid()
    dag = doc["dags"]["phase15_01_yaml_dag_factory"]
    dag["schedul"] = dag.pop("schedule")  # typo
    dag["tasks"][1]["operator"] = "spark"
    with pytest.raises(factory.FactoryConfigError) as caught:
        factory.load_config(_write(tmp_path, doc), SCHEMA, env={})
    problems = "\n".join(caught.value.problems)
    assert "dags.phase15_01_yaml_dag_factory: 'schedule' is a required property" in problems
    assert "Additional properties are not allowed ('schedul' was unexpected)" in problems
    assert "dags.phase15_01_yaml_dag_factory.tasks[1].operator: 'spark' is not one of" in problems


def test_dependencies_must_name_tasks_of_the_same_dag(tmp_path: Path) -> None:
    doc = _valid()
    doc["dags"]["phase15_01_yaml_dag_factory"]["tasks"][2]["dependencies"] = ["transfrom"]
    with pytest.raises(factory.FactoryConfigError, match=r"tasks\[2\]\.dependencies: unknown task 'transfrom'"):
        factory.load_config(_write(tmp_path, doc), SCHEMA, env={})


def test_invalid_yaml_and_missing_file_are_config_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("dags: [unclosed\n")
    with pytest.raises(factory.FactoryConfigError, match=r"bad\.yaml: invalid DAG config:\n  - not valid YAML"):
        factory.load_config(bad, SCHEMA, env={})
    with pytest.raises(factory.FactoryConfigError, match="file not found"):
        factory.load_config(tmp_path / "nope.yaml", SCHEMA, env={})


def test_build_dags_uses_dag_factory_with_platform_defaults() -> None:
    dags = factory.build_dags(CONFIGS / "dag_definitions.yaml", SCHEMA, platform_default_args("x"), env={})
    dag = dags["phase15_01_yaml_dag_factory"]
    assert [t.task_id for t in dag.topological_sort()] == ["extract", "transform", "load", "audit"]
    extract = dag.get_task("extract")
    assert extract.owner == "team-crm" and extract.retries == 2
    assert extract.on_failure_callback and "on_task_failure" in repr(extract.on_failure_callback)
    assert type(dag.get_task("audit")).__name__ == "BashOperator"


def test_the_pipeline_callables_compose() -> None:
    out = factory.load_summary(factory.transform_records(factory.extract_records("s3://x/", 3), 2), "t")
    assert out == {"target": "t", "rows": 3, "total": 120.0}
    with pytest.raises(TypeError, match="expects a list"):
        factory.transform_records("[{...}]", 1)  # an un-rendered template string must not pass silently


def test_jinja_config_differs_per_environment_and_substitutes_env() -> None:
    template = CONFIGS / "pipeline.yaml.j2"
    dev = factory.render_environment_config(template, "dev", env={})
    prod = factory.render_environment_config(template, "prod", env={"PIPELINE_TARGET_SCHEMA": "mart"})
    assert dev["schedule"] is None and dev["batch_size"] == 100 and dev["target_schema"] == "analytics_dev"
    assert prod["schedule"] == "0 * * * *" and prod["batch_size"] == 10000 and prod["target_schema"] == "mart"
    assert prod["deadline_minutes"] == 30 and dev["deadline_minutes"] == 120


def test_jinja_templates_compile_once_and_an_edit_is_picked_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Each parse is a fresh process: the compiled template must come from the on-disk cache, not be recompiled.
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    template = tmp_path / "configs" / "p.yaml.j2"
    template.parent.mkdir()
    body = "schedule: null\npool: p\ntarget_schema: {{ environment }}\nbatch_size: {size}\nalert_channel: c\n"
    template.write_text(body.replace("{size}", "1"))
    assert factory.render_environment_config(template, "dev", env={})["batch_size"] == 1
    cache = tmp_path / f"dag-jinja-bytecode-{os.getuid()}"
    assert len(list(cache.iterdir())) == 1 and cache.stat().st_mode & 0o777 == 0o700
    template.write_text(body.replace("{size}", "2"))  # the cache is keyed by the source's checksum
    assert factory.render_environment_config(template, "prod", env={})["batch_size"] == 2


def test_jinja_typos_and_unknown_environments_fail_loudly(tmp_path: Path) -> None:
    broken = tmp_path / "t.yaml.j2"
    broken.write_text("schedule: {{ shedule }}\n")
    with pytest.raises(factory.FactoryConfigError, match="'shedule' is undefined"):
        factory.render_environment_config(broken, "dev", env={})
    with pytest.raises(ValueError, match="'qa' is not one of dev, staging, prod"):
        factory.current_environment({"PLATFORM_ENV": "qa"})


def test_tenants_inherit_the_base_and_are_isolated() -> None:
    specs = factory.tenant_specs(factory.load_validated(CONFIGS / "tenants.yaml", CONFIGS / "tenants.schema.json"))
    assert set(specs) == {"acme", "globex", "initech"}
    assert specs["acme"].steps == ("ingest", "validate", "publish") and specs["acme"].retries == 2
    assert specs["globex"].steps == ("ingest", "validate", "enrich", "publish") and specs["globex"].schedule == "30 5 * * *"
    assert specs["initech"].retries == 4
    assert specs["acme"].access_control() == {"tenant_acme": {"DAGs": {"can_read", "can_edit"}, "DAG Runs": {"can_read", "can_create"}}}


def test_unknown_tenant_is_refused_naming_the_known_ones() -> None:
    specs = factory.tenant_specs(factory.load_validated(CONFIGS / "tenants.yaml", CONFIGS / "tenants.schema.json"))
    with pytest.raises(factory.UnknownTenantError, match="unknown tenant 'umbrella'; configured tenants: acme, globex, initech"):
        factory.resolve_tenant("umbrella", specs)


def test_two_tenants_sharing_a_pool_is_a_config_error() -> None:
    base = {"schedule": None, "retries": 1, "max_active_runs": 1, "steps": ["ingest"]}
    config = {"base_pipeline": base, "tenants": {"a": {"owner": "team-a", "pool": "tenant_x", "role": "tenant_a"},
                                                  "b": {"owner": "team-b", "pool": "tenant_x", "role": "tenant_b"}}}
    with pytest.raises(factory.FactoryConfigError, match=r"tenants\.b\.pool: 'tenant_x' already used by tenant 'a'"):
        factory.tenant_specs(config)


def test_isolation_check_rejects_paths_outside_the_tenant_prefix() -> None:
    ok = factory.tenant_step_payload("acme", "ingest", {})
    factory.assert_tenant_isolation([ok], "acme")
    leak = factory.tenant_step_payload("acme", "publish", {"target": "s3://tenants/globex/out/"})
    with pytest.raises(PermissionError, match="outside its prefix"):
        factory.assert_tenant_isolation([ok, leak], "acme")
