"""Phase 6 (ML): structure, and real dag.test() runs against the local MLflow tracking server (real process,
backend store on the local Postgres), checked through MLflow's own REST API."""

from __future__ import annotations

import pytest
import requests
from dag_run_helpers import get_dag, task_states, xcom_value


def test_pipeline_structure(dagbag):
    dag = get_dag(dagbag, "phase6_02_complete_ml_pipeline")
    assert dag.get_task("decide").downstream_task_ids == {"deploy_model", "keep_current_model"}
    assert dag.get_task("report").trigger_rule == "none_failed_min_one_success"
    assert dag.get_task("report").upstream_task_ids == {"deploy_model", "keep_current_model", "evaluate"}
    for task_id in ("train", "evaluate", "deploy_model"):
        task = dag.get_task(task_id)
        assert task.retries >= 1 and task.execution_timeout is not None, task_id


@pytest.fixture
def mlflow_api(mlflow_service, platform_connections):
    base = mlflow_service.url.rstrip("/")

    def get(path: str, **params):
        response = requests.get(f"{base}/api/2.0/mlflow/{path}", params=params, timeout=30)
        response.raise_for_status()
        return response.json()

    return get


def test_mlflow_run_registered_version_and_alias_are_visible_through_the_api(dagbag, mlflow_api):
    dag = get_dag(dagbag, "phase6_01_mlflow_integration")
    run = dag.test(run_conf={"C": 0.5, "max_iter": 200})
    assert run.state == "success", task_states(run)
    trained = xcom_value(run, "train_and_log")

    mlflow_run = mlflow_api("runs/get", run_id=trained["run_id"])["run"]
    params = {p["key"]: p["value"] for p in mlflow_run["data"]["params"]}
    metrics = {m["key"]: m["value"] for m in mlflow_run["data"]["metrics"]}
    tags = {t["key"]: t["value"] for t in mlflow_run["data"]["tags"]}
    assert params["C"] == "0.5" and params["max_iter"] == "200"
    assert metrics["accuracy"] == pytest.approx(trained["metrics"]["accuracy"]) and metrics["accuracy"] > 0.8
    assert tags["airflow_run_id"] == run.run_id

    version = mlflow_api("model-versions/get", name="phase6_iris_classifier", version=trained["version"])[
        "model_version"
    ]
    assert version["run_id"] == trained["run_id"]
    by_alias = mlflow_api("registered-models/alias", name="phase6_iris_classifier", alias="candidate")["model_version"]
    assert by_alias["version"] == trained["version"]

    # Versioning: a second run registers the next version and moves the alias to it.
    second = dag.test(run_conf={"C": 1.0, "max_iter": 200})
    again = xcom_value(second, "train_and_log")
    assert int(again["version"]) == int(trained["version"]) + 1
    moved = mlflow_api("registered-models/alias", name="phase6_iris_classifier", alias="candidate")["model_version"]
    assert moved["version"] == again["version"]


def test_pipeline_quarantines_bad_rows_and_decides_deploy_then_keep(dagbag, mlflow_api):
    import json

    dag = get_dag(dagbag, "phase6_02_complete_ml_pipeline")
    deploy_run = dag.test(run_conf={"C": 1.0, "min_accuracy": 0.5, "min_improvement": 0.0, "min_rows": 100})
    assert deploy_run.state == "success", task_states(deploy_run)
    validated = xcom_value(deploy_run, "validate")
    assert len(validated["rows"]) == 144 and validated["quarantined"] == 6
    with open(validated["quarantine_file"]) as handle:
        assert len([json.loads(line) for line in handle]) == 6
    states = task_states(deploy_run)
    assert (states["deploy_model"], states["keep_current_model"]) == ("success", "skipped")
    deployed = xcom_value(deploy_run, "evaluate")
    champion = mlflow_api("registered-models/alias", name="phase6_iris_pipeline", alias="champion")["model_version"]
    assert champion["version"] == deployed["version"]

    # A gain nobody can reach: the candidate is registered but the champion alias stays where it was.
    keep_run = dag.test(run_conf={"C": 1.0, "min_accuracy": 0.5, "min_improvement": 0.5, "min_rows": 100})
    states = task_states(keep_run)
    assert (states["deploy_model"], states["keep_current_model"], states["report"]) == ("skipped", "success", "success")
    kept = xcom_value(keep_run, "report")
    assert kept["deploy"] is False and "does not beat champion" in kept["reason"]
    still = mlflow_api("registered-models/alias", name="phase6_iris_pipeline", alias="champion")["model_version"]
    assert still["version"] == deployed["version"] != kept["version"]


def test_pipeline_refuses_to_train_on_too_few_valid_rows(dagbag, mlflow_api):
    dag = get_dag(dagbag, "phase6_02_complete_ml_pipeline")
    run = dag.test(run_conf={"C": 1.0, "min_accuracy": 0.5, "min_improvement": 0.0, "min_rows": 149})
    states = task_states(run)
    assert states["validate"] == "failed" and states["train"] == "upstream_failed"
    assert run.get_task_instance("validate").try_number == 1  # the same rows on every try: no retry
