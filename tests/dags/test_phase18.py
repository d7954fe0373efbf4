"""Phase 18 (MLOps), run for real against the local services: Feast with its online store on the local Redis,
A/B testing whose winner gets the MLflow `champion` alias, and drift-triggered retraining moving a model through
Train → Validate → Register → Stage → Canary → Production on the local MLflow server, with rollback."""

from __future__ import annotations

import uuid

import pytest
from dag_run_helpers import get_dag, task_states, xcom_value

from common.assets import MODEL_RETRAIN_REQUEST

FEATURES = "phase18_01_feature_store"
AB = "phase18_02_ab_testing"
RETRAIN = "phase18_03_auto_retraining"


@pytest.mark.parametrize("dag_id", [FEATURES, AB, RETRAIN])
def test_platform_conventions(dagbag, dag_id: str) -> None:
    dag = get_dag(dagbag, dag_id)
    assert dag.doc_md and "phase18" in dag.tags and "mlops" in dag.tags
    for t in dag.tasks:
        assert t.owner == "team-ml" and t.retries >= 1 and t.execution_timeout is not None


def test_retraining_is_scheduled_on_the_retrain_request_asset(dagbag) -> None:
    dag = get_dag(dagbag, RETRAIN)
    assert [a.uri for a in dag.timetable.asset_condition.objects] == [MODEL_RETRAIN_REQUEST.uri]
    order = [t.task_id for t in dag.topological_sort()]
    stages = ["detect_drift", "train", "validate", "register", "stage", "shadow", "canary", "decide"]
    assert order[: len(stages)] == stages and set(order[len(stages):]) == {"promote_to_production", "rollback"}


# ---------------------------------------------------------------------------------------------- Feast + Redis
def test_features_are_materialised_to_redis_and_fresh(dagbag, redis_service, platform_connections, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("PLATFORM_DATA_DIR", str(tmp_path))
    run = get_dag(dagbag, FEATURES).test()
    assert run.state == "success", task_states(run)
    assert xcom_value(run, "check_online_freshness")["customers"] == 8
    training = xcom_value(run, "build_training_set")
    assert training["rows"] == 8 and {"total_orders", "avg_amount", "days_since_last_order"} <= set(training["columns"])
    # read the online store back from Redis through Feast, independently of the DAG
    from common.feature_store import online_features, redis_connection_string_from_airflow, store

    fs = store(tmp_path / "feast" / "churn", redis_connection_string_from_airflow(conn_id="redis_default"))
    online = online_features(fs, ["c000", "c007"])
    expected = xcom_value(run, "compute_features")["expected"]
    assert online["total_orders"] == [expected["c000"]["total_orders"], expected["c007"]["total_orders"]]
    assert online["avg_amount"][1] == pytest.approx(expected["c007"]["avg_amount"])


# ---------------------------------------------------------------------------------------------- A/B + MLflow
def _aliases(model_name: str):
    from common.model_promotion import MlflowAliases, tracking_uri_from_connection

    return MlflowAliases(model_name, tracking_uri_from_connection(conn_id="mlflow_default"))


def test_ab_test_deploys_the_significant_winner(dagbag, mlflow_service, platform_connections) -> None:  # noqa: ANN001
    model = f"ab_policy_{uuid.uuid4().hex[:8]}"
    run = get_dag(dagbag, AB).test(run_conf={"model_name": model})
    assert run.state == "success", task_states(run)
    decision = xcom_value(run, "analyse")
    assert decision["winner"] == "discount_10" and decision["comparisons"]["discount_10"]["p_value"] < 0.025
    assert not decision["comparisons"]["free_shipping"]["wins"]
    deployed = xcom_value(run, "deploy_winner")
    aliases = _aliases(model)
    assert aliases.version_for("champion") == deployed["version"]
    tags = aliases.client.get_model_version(model, deployed["version"]).tags
    assert tags["variant"] == "discount_10" and tags["stage"] == "production"


def test_ab_test_without_a_significant_difference_keeps_control(dagbag, mlflow_service, platform_connections) -> None:  # noqa: ANN001
    model = f"ab_policy_{uuid.uuid4().hex[:8]}"
    flat = {"control": 0.10, "discount_10": 0.10, "free_shipping": 0.10}
    run = get_dag(dagbag, AB).test(run_conf={"model_name": model, "true_rates": flat})
    assert run.state == "success", task_states(run)
    assert xcom_value(run, "analyse")["winner"] == "control"
    champion = _aliases(model).version_for("champion")
    assert _aliases(model).client.get_model_version(model, champion).tags["variant"] == "control"


def test_an_invalid_experiment_config_fails_with_a_clear_error(dagbag) -> None:
    bad = {"name": "x", "variants": {"control": 0.5, "b": 0.6}, "control": "control"}
    run = get_dag(dagbag, AB).test(run_conf={"experiment": bad})
    assert task_states(run)["validate_experiment"] == "failed" and run.state == "failed"


# ---------------------------------------------------------------------------------------------- retraining
def test_no_drift_means_no_retraining(dagbag) -> None:
    run = get_dag(dagbag, RETRAIN).test(run_conf={"drift_shift": 0.0})
    states = task_states(run)
    assert states["detect_drift"] == "skipped" and states["train"] == "skipped" and states["promote_to_production"] == "skipped"


def test_drift_retrains_promotes_through_every_stage_and_rolls_back_a_bad_canary(dagbag, mlflow_service, platform_connections) -> None:  # noqa: ANN001
    model = f"churn_{uuid.uuid4().hex[:8]}"
    dag = get_dag(dagbag, RETRAIN)

    first = dag.test(run_conf={"model_name": model, "drift_shift": 0.8, "canary_error_rate": 0.02})
    states = task_states(first)
    assert first.state == "success", states
    assert states["promote_to_production"] == "success" and states["rollback"] == "skipped"
    assert xcom_value(first, "detect_drift")["status"] == "alert"
    v1 = xcom_value(first, "register")["version"]
    aliases = _aliases(model)
    assert aliases.aliases() == {"champion": v1}, "challenger/staging/canary aliases move on with the model"
    assert aliases.client.get_model_version(model, v1).tags["stage"] == "production"

    second = dag.test(run_conf={"model_name": model, "drift_shift": 0.8, "canary_error_rate": 0.5})
    states = task_states(second)
    assert states["rollback"] == "success" and states["promote_to_production"] == "skipped", states
    v2 = xcom_value(second, "register")["version"]
    assert v2 != v1 and aliases.version_for("champion") == v1, "an unhealthy canary never becomes champion"
    assert aliases.version_for("canary") is None
    assert aliases.client.get_model_version(model, v2).tags["rolled_back"] == "unhealthy canary"

    # a champion that turns out bad in production is rolled back to the previous one
    aliases.promote(v2, "production")
    assert aliases.aliases() == {"champion": v2, "previous_champion": v1}
    assert aliases.rollback("incident") == v1 and aliases.version_for("champion") == v1
