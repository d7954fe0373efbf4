"""Phase 11 (testing, CI/CD): the testable-DAG patterns themselves, and the CI/CD promotion DAG run for real.

This file is also the worked example phase11_01 points to: import check, structure, dependency graph (no cycles),
a task's callable alone, and the whole DAG through dag.test().
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from dag_run_helpers import get_dag, task_states, xcom_value

from common.cicd import current_release
from common.revenue import parse_lines

TESTING = "phase11_01_dag_testing"
CICD = "phase11_02_cicd_patterns"


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


def _deployments() -> Path:
    return Path(os.environ["AIRFLOW_HOME"]) / "deployments"


def test_cicd_without_approval_stops_at_the_gate_after_staging(dagbag) -> None:
    run = get_dag(dagbag, CICD).test(run_conf={"version": "gate-test"})
    states = task_states(run)
    assert run.state == "failed", states
    assert states["lint_bundle"] == states["validate"] == states["deploy_staging"] == states["smoke_staging"] == "success"
    assert states["gate"] == "failed" and states["deploy_production"] == "upstream_failed"
    assert xcom_value(run, "lint_bundle") == {"findings": []}
    assert set(xcom_value(run, "validate")["dag_ids"]) == {TESTING, CICD}
    assert current_release(_deployments(), "staging") == "gate-test"


def test_cicd_with_approval_promotes_the_same_release_to_production(dagbag) -> None:
    run = get_dag(dagbag, CICD).test(run_conf={"version": "release-1", "approve_production": True})
    states = task_states(run)
    assert run.state == "success", states
    assert states["rollback_production"] == "skipped"
    assert current_release(_deployments(), "production") == current_release(_deployments(), "staging") == "release-1"
    assert xcom_value(run, "smoke_production")["dag_ids"] == sorted([TESTING, CICD])
    live = _deployments() / "production" / "current" / "01_dag_testing.py"
    assert live.read_text() == Path(get_dag(dagbag, TESTING).fileloc).read_text()


def test_cicd_refuses_a_bundle_with_lint_findings(dagbag, tmp_path) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "leftover.py").write_text('"""Not a DAG."""\nimport os\n')
    run = get_dag(dagbag, CICD).test(run_conf={"bundle": str(bundle), "version": "lint-test", "approve_production": True})
    states = task_states(run)
    assert run.state == "failed" and states["deploy_staging"] == "failed", states
    assert xcom_value(run, "lint_bundle")["findings"][0]["code"] == "F401"
