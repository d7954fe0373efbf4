"""The phase11 DAG bundle's own tests: what phase11_02_cicd_patterns runs, with coverage, before it deploys the bundle.

They need no conftest, no metadata DB and no running platform (the CI/CD DAG runs them with `--noconftest` in a
fresh interpreter): the DAG files are imported by path and their task callables called as plain functions.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BUNDLE = Path(__file__).resolve().parents[2] / "dags" / "phase11"
if str(BUNDLE.parent) not in sys.path:  # `common` lives next to the bundle, as on the dag-processor's path
    sys.path.insert(0, str(BUNDLE.parent))

GOOD_DAG = '''"""A tiny DAG."""
from datetime import datetime

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

with DAG(dag_id="probe", schedule=None, start_date=datetime(2026, 1, 1), default_args={"owner": "qa", "retries": 1},
         tags=["test"]):
    EmptyOperator(task_id="noop")
'''


def _load(file_name: str) -> ModuleType:
    name = f"phase11_bundle_{file_name.removesuffix('.py')}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, BUNDLE / file_name)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="module")
def testing() -> ModuleType:
    return _load("01_dag_testing.py")


@pytest.fixture(scope="module")
def cicd() -> ModuleType:
    return _load("02_cicd_patterns.py")


def test_every_dag_has_owner_tags_retries_and_docs(testing: ModuleType, cicd: ModuleType) -> None:
    for module in (testing, cicd):
        assert module.dag.owner == "platform-quality" and "phase11" in module.dag.tags and module.dag.doc_md
        assert module.dag.default_args["retries"] >= 1


def test_revenue_pipeline_callables(testing: ModuleType) -> None:
    params = testing.dag.params.dump()
    lines = testing.extract.function(params=params)
    parsed = testing.parse.function(lines)
    totals = testing.aggregate.function(parsed, params=params)
    assert totals == {"acme": "145.45", "globex": "75.25"}
    assert testing.report.function(totals, parsed, params={"top_n": 1}) == {"top": [["acme", "145.45"]], "rejected": 2}


def test_cicd_pipeline_order_puts_the_person_after_the_machine_gate(cicd: ModuleType) -> None:
    dag = cicd.dag
    assert dag.get_task("approve_production").upstream_task_ids == {"gate"}
    assert dag.get_task("deploy_production").upstream_task_ids == {"approve_production", "deploy_staging"}
    assert dag.get_task("gate").upstream_task_ids == {"lint_bundle", "test_coverage", "validate", "smoke_staging"}
    assert dag.get_task("approve_production").options == ["Approve", "Reject"]


def test_cicd_release_names_and_roots(cicd: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cicd._version({"version": "v7"}, "manual__x") == "v7"
    assert cicd._version({"version": ""}, "manual__2026-01-01T00:00:00+00:00").startswith("manual__2026")
    assert cicd._environments_root({"environments_root": str(tmp_path)}) == tmp_path
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    assert cicd._environments_root({}) == tmp_path / "deployments"


def test_cicd_stage_callables_deploy_promote_and_roll_back(cicd: ModuleType, tmp_path: Path) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from common.cicd import StageFailed, current_release

    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "probe.py").write_text(GOOD_DAG)
    params = {"bundle": str(bundle), "version": "", "environments_root": str(tmp_path / "envs")}
    root = tmp_path / "envs"
    lint_result = cicd.lint_bundle.function(params=params)
    assert lint_result == {"findings": []}
    tests = {"passed": 3, "failed": 0, "meets_threshold": True}
    staged = cicd.deploy_staging.function(lint_result, tests, {}, params=params, run_id="manual__1")
    assert staged["version"] == "manual__1" and current_release(root, "staging") == "manual__1"
    # A gate's refusal fails the task without retries: AirflowFailException carrying the StageFailed.
    with pytest.raises(AirflowFailException, match=r"StageFailed: stage deploy_staging failed: .*1 lint finding") as refused:
        cicd.deploy_staging.function({"findings": [{}]}, tests, {}, params=params, run_id="manual__2")
    assert isinstance(refused.value.__cause__, StageFailed)

    clean = {"import_errors": {}, "policy_violations": {}}
    assert cicd.gate.function(lint_result, tests, clean, {"dag_ids": ["probe"]}) == {"promote": True}
    with pytest.raises(StageFailed, match="coverage threshold"):
        cicd.gate.function(lint_result, {**tests, "meets_threshold": False}, clean, {"dag_ids": ["probe"]})

    approval = {"chosen_options": ["Approve"], "responded_by_user": {"id": "1", "name": "admin"}, "responded_at": "now"}
    first = cicd.deploy_production.function(approval, staged, params=params)
    assert first["approved_by"] == "admin" and first["previous"] is None
    (bundle / "probe.py").write_text(GOOD_DAG + "# v2\n")
    second_staged = cicd.deploy_staging.function(lint_result, tests, {}, params={**params, "version": "v2"}, run_id="r")
    second = cicd.deploy_production.function(approval, second_staged, params=params)
    assert current_release(root, "production") == "v2"
    with pytest.raises(StageFailed, match="v2 rolled back to manual__1"):
        cicd.rollback_production.function(second, params=params)
    assert current_release(root, "production") == "manual__1"
    with pytest.raises(StageFailed, match="nothing to roll back"):
        cicd.rollback_production.function(first, params=params)
