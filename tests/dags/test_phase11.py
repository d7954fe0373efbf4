"""Phase 11 (testing, CI/CD): the testable-DAG patterns themselves, and the CI/CD promotion DAG run for real.

This file is also the worked example phase11_01 points to: import check, structure, dependency graph (no cycles),
a task's callable alone, and the whole DAG through dag.test().
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from airflow_live import pause, states
from dag_run_helpers import get_dag, task_states, xcom_value

from common.cicd import bundle_digest, current_release, deploy, promote, served_bundle
from common.revenue import parse_lines

TESTING = "phase11_01_dag_testing"
CICD = "phase11_02_cicd_patterns"
DAGS = Path(__file__).resolve().parents[2] / "dags"


def test_the_dag_imports_without_errors(dagbag) -> None:
    phase11_errors = {path: err for path, err in dagbag.import_errors.items() if "/phase11/" in path}
    assert phase11_errors == {}
    assert get_dag(dagbag, TESTING).fileloc.endswith("phase11/01_dag_testing.py")


@pytest.mark.parametrize("dag_id", [TESTING, CICD])
def test_policy_owner_tags_retries_docs(dagbag, dag_id: str) -> None:
    dag = get_dag(dagbag, dag_id)
    assert dag.owner == "platform-quality" and "phase11" in dag.tags and dag.doc_md
    assert dag.default_args["retries"] >= 1


def test_task_graph_is_the_intended_chain_without_cycles(dagbag) -> None:
    dag = get_dag(dagbag, TESTING)
    edges = {(up, t.task_id) for t in dag.tasks for up in t.upstream_task_ids}
    assert edges == {("extract", "parse"), ("parse", "aggregate"), ("parse", "report"), ("aggregate", "report")}
    order = [t.task_id for t in dag.topological_sort()]
    assert order.index("extract") < order.index("parse") < order.index("aggregate") < order.index("report")


def test_a_task_callable_runs_alone_like_a_function(dagbag) -> None:
    parse = get_dag(dagbag, TESTING).get_task("parse")
    result = parse.python_callable(["A1,acme,1.00,EUR", "bad"])
    assert result["orders"] == [{"order_id": "A1", "customer": "acme", "amount": "1.00", "currency": "EUR"}]
    assert result["rejects"][0]["error"].startswith("expected 4 fields")


def test_whole_dag_runs_with_default_params(dagbag) -> None:
    dag = get_dag(dagbag, TESTING)
    run = dag.test()
    assert run.state == "success", task_states(run)
    assert xcom_value(run, "aggregate") == {"acme": "145.45", "globex": "75.25"}
    assert xcom_value(run, "report") == {"top": [["acme", "145.45"], ["globex", "75.25"]], "rejected": 2}
    _, rejects = parse_lines(dag.params["lines"])
    assert len(rejects) == 2


def test_an_unknown_currency_fails_the_aggregate_task(dagbag) -> None:
    run = get_dag(dagbag, TESTING).test(run_conf={"lines": ["A1,acme,1,GBP"]})
    assert run.state == "failed" and task_states(run)["aggregate"] == "failed"


def test_cicd_graph_has_coverage_stage_and_a_human_gate_before_production(dagbag) -> None:
    from airflow.providers.standard.operators.hitl import ApprovalOperator

    dag = get_dag(dagbag, CICD)
    approval = dag.get_task("approve_production")
    assert isinstance(approval, ApprovalOperator) and approval.upstream_task_ids == {"gate"}
    assert dag.get_task("deploy_production").upstream_task_ids == {"approve_production", "deploy_staging"}
    assert "test_coverage" in dag.get_task("gate").upstream_task_ids
    assert "approve_production" not in dag.params


def _bundle_with_tests(tmp_path: Path, module: str, tests: str) -> Path:
    bundle = tmp_path / "bundle"
    (bundle / "tests").mkdir(parents=True)
    (bundle / "leftover.py").write_text(module)
    (bundle / "tests" / "test_leftover.py").write_text(
        "import importlib.util\nfrom pathlib import Path\n\n"
        "spec = importlib.util.spec_from_file_location('leftover', Path(__file__).parents[1] / 'leftover.py')\n"
        "leftover = importlib.util.module_from_spec(spec)\nspec.loader.exec_module(leftover)\n\n\n" + tests)
    return bundle


def test_cicd_refuses_a_bundle_with_lint_findings(dagbag, tmp_path) -> None:
    bundle = _bundle_with_tests(tmp_path, '"""Not a DAG."""\nimport os\n', "def test_loads():\n    assert leftover.__doc__\n")
    run = get_dag(dagbag, CICD).test(run_conf={"bundle": str(bundle), "tests": "", "version": "lint-test",
                                               "environments_root": str(tmp_path / "envs")})
    states = task_states(run)
    assert run.state == "failed" and states["deploy_staging"] == "failed", states
    assert states["test_coverage"] == "success" and xcom_value(run, "test_coverage")["percent"] == 100.0
    assert xcom_value(run, "lint_bundle")["findings"][0]["code"] == "F401"
    assert states["approve_production"] == "upstream_failed"
    assert not (tmp_path / "envs" / "staging").exists()


def test_cicd_coverage_below_the_threshold_stops_before_staging(dagbag, tmp_path) -> None:
    bundle = _bundle_with_tests(tmp_path, '"""Half tested."""\n\n\ndef used():\n    return 1\n\n\ndef unused():\n    return 2\n',
                                "def test_used():\n    assert leftover.used() == 1\n")
    root = tmp_path / "envs"
    run = get_dag(dagbag, CICD).test(run_conf={"bundle": str(bundle), "tests": "", "min_coverage": 90,
                                               "environments_root": str(root)})
    states = task_states(run)
    assert run.state == "failed" and states["test_coverage"] == "failed", states
    assert states["deploy_staging"] == "upstream_failed" and current_release(root, "staging") is None
    ok = get_dag(dagbag, CICD).test(run_conf={"bundle": str(bundle), "tests": "", "min_coverage": 80,
                                              "environments_root": str(root), "version": "covered"})
    assert task_states(ok)["test_coverage"] == "success", task_states(ok)
    assert xcom_value(ok, "test_coverage")["percent"] == 80.0  # 4 of 5 lines: unused()'s body never ran
    assert current_release(root, "staging") == "covered"


# --- through the local platform's scheduler, answered through the REST API as an approver -------------------------


@pytest.fixture(scope="module")
def airflow_client(airflow_service):
    from local.airflow_client import AirflowClient

    client = AirflowClient()
    deadline = time.monotonic() + 300  # the dag-processor must have re-serialized this version of the DAG
    while True:
        client.wait_for_dag(CICD, timeout=300)
        tasks = {t["task_id"] for t in client.call("GET", f"/dags/{CICD}/tasks")["tasks"]}
        if "approve_production" in tasks:
            break
        assert time.monotonic() < deadline, f"{CICD} still serialized without approve_production: {sorted(tasks)}"
        time.sleep(5)
    yield client
    pause(client, CICD)


def _await_approval_request(client, run_id: str, timeout: float = 600) -> dict:
    """Wait until approve_production is parked in awaiting_input with its HITL request written; return it."""
    deadline = time.monotonic() + timeout
    while True:
        ti_states = states(client, CICD, run_id)
        if ti_states.get("approve_production") == "awaiting_input":
            return client.call("GET", f"/dags/{CICD}/dagRuns/{quote(run_id, safe='')}/taskInstances/approve_production/-1/hitlDetails")
        finished = {t: s for t, s in ti_states.items() if s in ("failed", "upstream_failed")}
        assert not finished and time.monotonic() < deadline, f"no approval request: {ti_states}"
        time.sleep(3)


def _answer(client, run_id: str, option: str) -> dict:
    # Answer like a person, not within the same second the task parked: Airflow 3.3 resumes the task at once, and a
    # resume that lands before the parking worker has finished reporting gets killed ("shouldn't be running").
    time.sleep(5)
    return client.call("PATCH", f"/dags/{CICD}/dagRuns/{quote(run_id, safe='')}/taskInstances/approve_production/-1/hitlDetails",
                       {"chosen_options": [option], "params_input": {}})


def _served_files(root: Path, environment: str) -> dict[str, str]:
    """What the environment serves now: the digest of the files its `current` bundle pointer resolves to."""
    return {name: sha for name, sha in bundle_digest(Path(served_bundle(root, environment).path).resolve()).items()
            if name != "MANIFEST.json"}


@pytest.fixture
def production_serving_v0(tmp_path: Path) -> Path:
    """An environments root whose production serves an earlier release, v0 (a different, one-DAG bundle)."""
    old = tmp_path / "old-bundle"
    old.mkdir()
    (old / "probe.py").write_text('"""v0."""\n')
    root = tmp_path / "envs"
    deploy(old, root, "staging", "v0")
    promote(root, "staging", "production", "v0")
    assert _served_files(root, "production") == {"probe.py": bundle_digest(old)["probe.py"]}
    return root


def test_live_cicd_approved_through_the_api_changes_what_production_serves(airflow_client, production_serving_v0) -> None:
    root = production_serving_v0
    version = f"approved-{uuid.uuid4().hex[:8]}"
    run_id = airflow_client.trigger(CICD, {"version": version, "environments_root": str(root)})
    request = _await_approval_request(airflow_client, run_id)
    assert request["options"] == ["Approve", "Reject"] and request["response_received"] is False
    assert request["subject"] == f"Promote {version} to production?" and "% line coverage" in request["body"]
    assert current_release(root, "production") == "v0" and current_release(root, "staging") == version  # it waits

    answer = _answer(airflow_client, run_id, "Approve")
    assert answer["chosen_options"] == ["Approve"] and answer["responded_by"]["name"] == "admin"
    run = airflow_client.wait(CICD, run_id, timeout=600)
    ti_states = states(airflow_client, CICD, run_id)
    assert run["state"] == "success", ti_states
    assert ti_states["deploy_production"] == ti_states["smoke_production"] == "success"
    assert ti_states["rollback_production"] == "skipped"

    assert current_release(root, "production") == version
    assert _served_files(root, "production") == bundle_digest(DAGS / "phase11")
    assert airflow_client.xcom(CICD, run_id, "smoke_production")["version"] == version
    assert airflow_client.xcom(CICD, run_id, "deploy_production")["approved_by"] == "admin"
    coverage = airflow_client.xcom(CICD, run_id, "test_coverage")
    assert coverage["passed"] >= 1 and coverage["percent"] >= coverage["min_percent"] == 80
    audit = [json.loads(line) for line in (root / "production" / "deploys.jsonl").read_text().splitlines()]
    assert audit[-1]["version"] == version and audit[-1]["approved_by"] == "admin"


def test_live_cicd_rejected_through_the_api_keeps_production_unchanged(airflow_client, production_serving_v0) -> None:
    root = production_serving_v0
    before = _served_files(root, "production")
    version = f"rejected-{uuid.uuid4().hex[:8]}"
    run_id = airflow_client.trigger(CICD, {"version": version, "environments_root": str(root)})
    _await_approval_request(airflow_client, run_id)
    assert _answer(airflow_client, run_id, "Reject")["chosen_options"] == ["Reject"]
    run = airflow_client.wait(CICD, run_id, timeout=600)
    ti_states = states(airflow_client, CICD, run_id)
    assert ti_states["approve_production"] == "success", ti_states
    assert ti_states["deploy_production"] == ti_states["smoke_production"] == "skipped", ti_states
    assert run["state"] == "success"  # a rejection is a decision, not a failure

    assert current_release(root, "staging") == version  # it got as far as staging...
    assert current_release(root, "production") == "v0"  # ...and production still serves v0
    assert _served_files(root, "production") == before
    assert not (root / "production" / "releases" / version).exists()
