"""Phase 18 (MLOps), run for real against the local services: Feast with its online store on the local Redis,
A/B testing of two real models served from MLflow with every prediction logged in Postgres and the winner decided
on that log, and retraining triggered by a real asset event whose batch is measured for drift, moving a model
through Train → Validate → Register → Stage → Canary → Production on the local MLflow server, with rollback
decided from scored requests."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

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
    order = [t.task_id for t in dag.topological_sort() if t.task_id != "manual_rollback"]
    stages = ["read_batch", "detect_drift", "train", "validate", "register", "stage", "shadow", "canary", "decide"]
    assert order[: len(stages)] == stages and set(order[len(stages):]) == {"promote_to_production", "rollback"}
    assert dag.get_task("manual_rollback").upstream_task_ids == set(), "the runbook's rollback waits for nothing"


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


# ---------------------------------------------------------------------------------------------- shared
def _aliases(model_name: str):
    from common.model_promotion import MlflowAliases, tracking_uri_from_connection

    return MlflowAliases(model_name, tracking_uri_from_connection(conn_id="mlflow_default"))


def _query(sql: str, *args: Any) -> list[tuple]:
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    return PostgresHook(postgres_conn_id="postgres_default").get_records(sql, parameters=args)


# ---------------------------------------------------------------------------------------------- A/B + MLflow
def _ab_conf(**overrides: Any) -> dict:
    name = f"ab_{uuid.uuid4().hex[:8]}"
    experiment = {"name": name, "variants": {"usage_logreg": 0.5, "full_gbm": 0.5}, "control": "usage_logreg",
                  "alpha": 0.05, "min_samples_per_variant": 500, "min_relative_uplift": 0.02}
    return {"experiment": experiment, "model_name": f"ab_model_{name}", **overrides}


def test_ab_test_serves_real_variants_logs_every_prediction_and_deploys_the_winner_of_the_test(  # noqa: ANN001
        dagbag, mlflow_service, postgres_service, platform_connections) -> None:
    from scipy.stats import chi2_contingency

    conf = _ab_conf()
    name, model = conf["experiment"]["name"], conf["model_name"]
    run = get_dag(dagbag, AB).test(run_conf=conf)
    assert run.state == "success", task_states(run)

    # two real, different models in MLflow, one registered version per variant
    trained = xcom_value(run, "train_variants")
    aliases = _aliases(model)
    runs = {v: aliases.client.get_run(aliases.client.get_model_version(model, t["version"]).run_id) for v, t in trained.items()}
    assert runs["usage_logreg"].data.params["features"] == "tenure_months,monthly_spend"
    assert runs["full_gbm"].data.params["features"] == "tenure_months,monthly_spend,support_tickets"
    assert {v: r.data.tags["kind"] for v, r in runs.items()} == {"usage_logreg": "logistic_regression", "full_gbm": "gradient_boosting"}

    # every valid experiment customer was served once, by its variant's version; broken rows quarantined, not dropped
    landed = xcom_value(run, "land_customers")
    assert landed == {"training": 3000, "experiment": 6000, "outcomes": 5700, "quarantined": 8}
    served = _query("SELECT variant, model_version, count(*) FROM ml_ab_predictions WHERE experiment = %s GROUP BY 1, 2", name)
    assert {v: (ver, n) for v, ver, n in served}.keys() == {"usage_logreg", "full_gbm"}
    assert all(ver == trained[v]["version"] for v, ver, _ in served) and sum(n for *_, n in served) == 6000
    assert all(2700 < n < 3300 for *_, n in served), served
    quarantine = _query("SELECT source, reasons FROM ml_quarantine WHERE dag_id = %s AND run_id = %s", AB, run.run_id)
    assert len(quarantine) == 8 and any("tenure_months: missing" in r for _, r in quarantine)

    # the logged scores are the registered model's own predictions for those customers
    from common.churn_data import FEATURES, matrix
    from common.mlflow_registry import load_sklearn_model

    rows = _query("SELECT c.tenure_months, c.monthly_spend, c.support_tickets, p.score FROM ml_ab_predictions p JOIN"
                  " ml_churn_customers c USING (experiment, customer_id) WHERE p.experiment = %s AND p.variant = 'full_gbm'"
                  " ORDER BY p.request_id LIMIT 50", name)
    gbm = load_sklearn_model(aliases.client.tracking_uri, trained["full_gbm"]["model_uri"])
    scores = gbm.predict_proba(matrix([dict(zip(FEATURES, r[:3], strict=True)) for r in rows]))[:, 1]
    assert scores.tolist() == pytest.approx([r[3] for r in rows])

    # the decision is the test on the logged predictions with their observed outcomes, recomputed here from the log
    log = {v: (n, correct) for v, n, correct in _query(
        "SELECT variant, count(*), count(*) FILTER (WHERE predicted = outcome) FROM ml_ab_predictions"
        " WHERE experiment = %s AND outcome IS NOT NULL GROUP BY 1", name)}
    assert sum(n for n, _ in log.values()) == 5700
    decision = xcom_value(run, "analyse")
    assert decision["pending"] == 300 and decision["outcomes"] == {v: {"users": n, "conversions": c} for v, (n, c) in log.items()}
    (cn, cc), (tn, tc) = log["usage_logreg"], log["full_gbm"]
    _, p_value, _, _ = chi2_contingency([[cc, cn - cc], [tc, tn - tc]], correction=False)
    comparison = decision["comparisons"]["full_gbm"]
    assert comparison["p_value"] == pytest.approx(p_value) and p_value < 0.05 and tc / tn > cc / cn
    assert decision["winner"] == "full_gbm"
    deployed = xcom_value(run, "deploy_winner")
    assert aliases.version_for("champion") == deployed["version"] == trained["full_gbm"]["version"]
    assert aliases.client.get_model_version(model, deployed["version"]).tags["variant"] == "full_gbm"


def test_ab_test_without_a_significant_difference_keeps_control(dagbag, mlflow_service, postgres_service, platform_connections) -> None:  # noqa: ANN001
    usage = ["tenure_months", "monthly_spend"]
    conf = _ab_conf(training_customers=1500, experiment_customers=2400, variant_models={
        "usage_logreg": {"kind": "logistic_regression", "features": usage, "params": {"C": 1.0}},
        "full_gbm": {"kind": "logistic_regression", "features": usage, "params": {"C": 0.5}},
    })
    run = get_dag(dagbag, AB).test(run_conf=conf)
    assert run.state == "success", task_states(run)
    decision = xcom_value(run, "analyse")
    assert decision["winner"] == "usage_logreg", decision["reason"]
    assert not decision["comparisons"]["full_gbm"]["significant"], decision
    trained = xcom_value(run, "train_variants")
    assert _aliases(conf["model_name"]).version_for("champion") == trained["usage_logreg"]["version"]


@pytest.mark.parametrize("conf", [
    {"experiment": {"name": "x", "variants": {"control": 0.5, "b": 0.6}, "control": "control"}},
    {"variant_models": {"usage_logreg": {"kind": "logistic_regression", "features": ["tenure_months"]}}},
    {"variant_models": {"usage_logreg": {"kind": "svm", "features": ["tenure_months"]},
                        "full_gbm": {"kind": "gradient_boosting", "features": ["tenure_months"]}}},
])
def test_an_invalid_experiment_or_model_config_fails_before_any_work(dagbag, conf: dict) -> None:
    run = get_dag(dagbag, AB).test(run_conf=conf)
    states = task_states(run)
    assert states["validate_experiment"] == "failed" and run.state == "failed"
    assert states["train_variants"] == "upstream_failed"
    # Invalid on every try: failed at once, its retries not spent (common.resilience.no_retry_on).
    assert run.get_task_instance("validate_experiment").try_number == 1


# ---------------------------------------------------------------------------------------------- retraining
def _run_on_retrain_event(dag: Any, records: list[dict], conf: dict, monkeypatch: Any, tamper: bool = False) -> Any:
    """Land `records` as a producer would and run the DAG with a real AssetEvent pointing at them among the run's
    consumed events — what the scheduler does for an asset-scheduled run (dag.test() alone creates none)."""
    import airflow.models.dagrun as dagrun_module
    from airflow.models.asset import AssetEvent, AssetModel
    from sqlalchemy import select

    from common.assets import asset_path, event_extra, write_jsonl

    partition = uuid.uuid4().hex[:8]
    extra = event_extra(write_jsonl(asset_path(MODEL_RETRAIN_REQUEST, partition, "batch.jsonl"), records),
                        partition=partition, schema_version="1.0", producer="test_phase18")
    if tamper:
        Path(extra["path"]).write_text(Path(extra["path"]).read_text().replace('"churned": 1', '"churned": 0'))
    original = dagrun_module.get_or_create_dagrun

    def with_event(*, dag: Any, session: Any, **kwargs: Any) -> Any:
        dr = original(dag=dag, session=session, **kwargs)
        asset = session.scalar(select(AssetModel).where(AssetModel.name == MODEL_RETRAIN_REQUEST.name))
        event = AssetEvent(asset_id=asset.id, extra=extra, source_dag_id="test_phase18_producer",
                           source_task_id="land_batch", source_run_id=f"manual__{partition}", source_map_index=-1)
        session.add(event)
        session.flush()
        dr.consumed_asset_events.append(event)
        session.commit()
        return dr

    monkeypatch.setattr(dagrun_module, "get_or_create_dagrun", with_event)
    try:
        return dag.test(run_conf=conf)
    finally:
        monkeypatch.setattr(dagrun_module, "get_or_create_dagrun", original)


def test_a_run_without_a_batch_event_retrains_nothing(dagbag) -> None:
    run = get_dag(dagbag, RETRAIN).test()
    states = task_states(run)
    assert states["read_batch"] == "skipped" and states["train"] == "skipped" and states["promote_to_production"] == "skipped"


def test_a_batch_changed_after_its_event_is_refused(dagbag, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from common.churn_data import customer_batch

    monkeypatch.setenv("PLATFORM_DATA_DIR", str(tmp_path))
    run = _run_on_retrain_event(get_dag(dagbag, RETRAIN), customer_batch(300, seed=1), {}, monkeypatch, tamper=True)
    states = task_states(run)
    assert states["read_batch"] == "failed" and states["train"] == "upstream_failed", states


def test_drift_of_the_event_batch_retrains_and_scored_canary_traffic_decides_promotion_or_rollback(  # noqa: ANN001
        dagbag, mlflow_service, postgres_service, platform_connections, tmp_path, monkeypatch) -> None:
    from common.churn_data import customer_batch, with_bad_records

    monkeypatch.setenv("PLATFORM_DATA_DIR", str(tmp_path))
    model = f"churn_{uuid.uuid4().hex[:8]}"
    dag, conf = get_dag(dagbag, RETRAIN), {"model_name": model}
    aliases = _aliases(model)

    # 1. no champion yet: the first batch trains v1; its canary is judged on its own scored traffic
    first = _run_on_retrain_event(dag, with_bad_records(customer_batch(3000, seed=11)), conf, monkeypatch)
    states = task_states(first)
    assert first.state == "success" and states["promote_to_production"] == "success", states
    assert xcom_value(first, "read_batch")["quarantined"] == 4
    assert len(_query("SELECT 1 FROM ml_quarantine WHERE dag_id = %s AND run_id = %s", RETRAIN, first.run_id)) == 4
    assert xcom_value(first, "detect_drift")["status"] == "bootstrap"
    v1 = xcom_value(first, "register")["version"]
    canary1 = xcom_value(first, "canary")
    assert canary1["champion_arm"] is None and canary1["canary"]["requests"] > 150 and canary1["canary"]["accuracy"] > 0.7
    assert aliases.aliases() == {"champion": v1}, "challenger/staging/canary aliases move on with the model"

    # 2. a batch from the same population: measured against v1's training reference, no drift, nothing retrained
    second = _run_on_retrain_event(dag, customer_batch(3000, seed=12), conf, monkeypatch)
    states = task_states(second)
    assert states["detect_drift"] == "skipped" and states["train"] == "skipped" and states["rollback"] == "skipped", states
    assert aliases.version_for("champion") == v1

    # 3. a drifted batch whose training window was exported with a labelling bug: the challenger passes the offline
    #    gates on its (bad) holdout, but on the scored traffic it is far less accurate than the champion → rollback
    buggy = customer_batch(3000, seed=13, shift=1.0, label_bug_min_tickets=4, bug_fraction=0.6)
    third = _run_on_retrain_event(dag, buggy, conf, monkeypatch)
    states = task_states(third)
    assert states["rollback"] == "success" and states["promote_to_production"] == "skipped", states
    drift = xcom_value(third, "detect_drift")
    assert drift["status"] == "alert" and drift["reference_version"] == v1 and "support_tickets" in drift["drifted"]
    verdict = xcom_value(third, "canary")
    assert not verdict["healthy"] and verdict["canary"]["accuracy"] < verdict["champion_arm"]["accuracy"] - 0.1
    assert verdict["canary"]["requests"] + verdict["champion_arm"]["requests"] == 1200
    v2 = xcom_value(third, "register")["version"]
    assert v2 != v1 and aliases.version_for("champion") == v1, "an unhealthy canary never becomes champion"
    assert aliases.version_for("canary") is None
    assert aliases.client.get_model_version(model, v2).tags["rolled_back"].startswith("unhealthy canary: accuracy")

    # 4. the same drift with correct labels: retrained, healthy on the scored traffic, promoted; v1 kept as previous
    fourth = _run_on_retrain_event(dag, customer_batch(3000, seed=14, shift=1.0), conf, monkeypatch)
    states = task_states(fourth)
    assert fourth.state == "success" and states["promote_to_production"] == "success", states
    v3 = xcom_value(fourth, "register")["version"]
    assert xcom_value(fourth, "canary")["healthy"]
    assert aliases.version_for("champion") == v3 and aliases.version_for("previous_champion") == v1
    assert float(aliases.client.get_model_version(model, v3).tags["canary_accuracy"]) > 0.75

    # a champion that turns out bad in production: the runbook's rollback run restores the previous one
    undo = dag.test(run_conf={**conf, "action": "rollback", "reason": "INC-1234 error rate 4x"})
    states = task_states(undo)
    assert states["manual_rollback"] == "success" and states["read_batch"] == "skipped", states
    assert xcom_value(undo, "manual_rollback") == {"champion": v1, "rolled_back": v3, "reason": "INC-1234 error rate 4x"}
    assert aliases.version_for("champion") == v1
    assert aliases.client.get_model_version(model, v3).tags["rolled_back"] == "INC-1234 error rate 4x"
