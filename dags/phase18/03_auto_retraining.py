"""Automated retraining: drift-triggered, champion/challenger through MLflow registry aliases, staged rollout
(Train → Validate → Register → Stage → Canary → Production), shadow and canary traffic, and rollback.

Scheduled on the `churn_model_retrain_request` asset, which phase14_03_dataset_patterns emits when feature drift
crosses its threshold or a retraining request arrives on Kafka — retraining is data-driven, not a cron guess.
Steps: confirm drift with common.drift (KS + PSI) → train a real scikit-learn model → validation gates → register
a new version (alias `challenger`) → `staging` → shadow scoring against the champion → `canary` with a stable 10%
traffic split and an error-rate health check → `champion` (production; the old one becomes
`previous_champion`). An unhealthy canary triggers `rollback`, which restores the previous champion.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Param, task
from airflow.sdk.exceptions import AirflowFailException

from common.assets import MODEL_RETRAIN_REQUEST
from common.defaults import platform_default_args

MLFLOW_TASK = {"retries": 2, "retry_delay": timedelta(seconds=10), "execution_timeout": timedelta(minutes=10)}

with DAG(
    dag_id="phase18_03_auto_retraining",
    schedule=[MODEL_RETRAIN_REQUEST],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=platform_default_args("team-ml"),
    params={
        "model_name": Param("churn_classifier", type="string"),
        "drift_shift": Param(0.8, type="number", description="simulated shift of the current feature batch"),
        "canary_error_rate": Param(0.02, type="number", minimum=0, maximum=1,
                                   description="observed canary error rate (simulated live traffic)"),
        "force": Param(False, type="boolean", description="retrain even without drift"),
    },
    tags=["phase18", "mlops", "retraining", "champion-challenger", "team:ml"],
    doc_md=__doc__,
):

    @task
    def detect_drift(**context) -> dict:
        import numpy as np

        from common.drift import detect_drift as drift_report

        rng = np.random.default_rng(42)
        reference = {f: rng.normal(size=1000).tolist() for f in ("tenure", "spend", "tickets")}
        shift = float(context["params"]["drift_shift"])
        current = {f: (rng.normal(size=1000) + shift).tolist() for f in reference}
        report = drift_report(reference, current).to_dict()
        events = context.get("triggering_asset_events") or {}
        report["triggered_by"] = [str(getattr(k, "name", k)) for k in events]
        if report["status"] != "alert" and not context["params"]["force"]:
            from airflow.sdk.exceptions import AirflowSkipException

            raise AirflowSkipException(f"no drift beyond threshold ({report['status']}); champion stays")
        return report

    @task(**MLFLOW_TASK)
    def train(report: dict, **context) -> dict:
        from common.mlflow_registry import log_sklearn_model
        from common.model_promotion import tracking_uri_from_connection, train_churn_model

        model, metrics = train_churn_model(seed=len(context["run_id"]), shift=float(context["params"]["drift_shift"]))
        uri = log_sklearn_model(tracking_uri_from_connection(conn_id="mlflow_default"), context["params"]["model_name"],
                                model, metrics, {"trigger": "drift", "drifted": ",".join(report["drifted"])})
        return {"model_uri": uri, "metrics": metrics, "drifted": report["drifted"]}

    @task
    def validate(trained: dict) -> dict:
        from common.model_promotion import gate_failures

        failures = gate_failures(trained["metrics"])
        if failures:
            raise AirflowFailException("challenger failed validation gates: " + "; ".join(failures))
        return trained

    @task(**MLFLOW_TASK)
    def register(validated: dict, **context) -> dict:
        from common.mlflow_registry import register_model
        from common.model_promotion import MlflowAliases, tracking_uri_from_connection

        uri = tracking_uri_from_connection(conn_id="mlflow_default")
        name = context["params"]["model_name"]
        version = register_model(uri, name, validated["model_uri"], {"trigger": "drift", "drifted": ",".join(validated["drifted"])})
        MlflowAliases(name, uri).promote(version, "registered")
        return {"version": version, "metrics": validated["metrics"], "model_uri": validated["model_uri"]}

    @task(**MLFLOW_TASK)
    def stage(registered: dict, **context) -> dict:
        from common.mlflow_registry import version_metrics
        from common.model_promotion import MlflowAliases, challenger_beats_champion, tracking_uri_from_connection

        uri = tracking_uri_from_connection(conn_id="mlflow_default")
        aliases = MlflowAliases(context["params"]["model_name"], uri)
        champion = aliases.version_for("champion")
        champion_metrics = version_metrics(uri, aliases.name, champion) if champion else None
        if not challenger_beats_champion(registered["metrics"], champion_metrics, min_gain=-0.02):
            raise AirflowFailException(f"challenger {registered['version']} is worse than champion {champion}")
        aliases.promote(registered["version"], "staging")
        return {**registered, "champion": champion}

    @task(**MLFLOW_TASK)
    def shadow(staged: dict, **context) -> dict:
        """Shadow mode: the challenger scores the same requests as the champion; only the champion's answer is served."""
        import numpy as np

        from common.mlflow_registry import load_sklearn_model
        from common.model_promotion import shadow_agreement, tracking_uri_from_connection, train_churn_model

        uri = tracking_uri_from_connection(conn_id="mlflow_default")
        challenger = load_sklearn_model(uri, staged["model_uri"])
        if staged["champion"]:
            champion_model = load_sklearn_model(uri, f"models:/{context['params']['model_name']}@champion")
        else:  # first model ever: compare with a baseline trained on the reference window
            champion_model, _ = train_churn_model(seed=1)
        requests = np.random.default_rng(7).normal(size=(500, 3))
        agreement = shadow_agreement(champion_model.predict(requests).tolist(), challenger.predict(requests).tolist())
        if agreement < 0.6:
            raise AirflowFailException(f"shadow agreement {agreement:.2f} too low: challenger behaves too differently")
        return {**staged, "shadow_agreement": agreement}

    @task(**MLFLOW_TASK)
    def canary(shadowed: dict, **context) -> dict:
        from common.model_promotion import MlflowAliases, canary_healthy, canary_split, tracking_uri_from_connection

        aliases = MlflowAliases(context["params"]["model_name"], tracking_uri_from_connection(conn_id="mlflow_default"))
        aliases.promote(shadowed["version"], "canary")
        routes = canary_split([f"req-{i}" for i in range(5000)], canary_percent=10)
        canary_n, champ_n = len(routes["canary"]), len(routes["champion"])
        canary_errors = round(canary_n * float(context["params"]["canary_error_rate"]))
        healthy = canary_healthy(round(champ_n * 0.02), champ_n, canary_errors, canary_n)
        return {**shadowed, "canary_requests": canary_n, "canary_errors": canary_errors, "healthy": healthy}

    @task.branch
    def decide(canaried: dict) -> str:
        return "promote_to_production" if canaried["healthy"] else "rollback"

    @task(**MLFLOW_TASK)
    def promote_to_production(canaried: dict, **context) -> dict:
        from common.model_promotion import MlflowAliases, tracking_uri_from_connection

        aliases = MlflowAliases(context["params"]["model_name"], tracking_uri_from_connection(conn_id="mlflow_default"))
        aliases.promote(canaried["version"], "production")
        return aliases.aliases()

    @task(**MLFLOW_TASK)
    def rollback(canaried: dict, **context) -> dict:
        """The canary is unhealthy: it never becomes champion; if a bad champion slipped through, restore the previous."""
        from common.model_promotion import MlflowAliases, tracking_uri_from_connection

        aliases = MlflowAliases(context["params"]["model_name"], tracking_uri_from_connection(conn_id="mlflow_default"))
        aliases.client.delete_registered_model_alias(aliases.name, "canary")
        aliases.client.set_model_version_tag(aliases.name, canaried["version"], "rolled_back", "unhealthy canary")
        if aliases.version_for("champion") == canaried["version"]:
            aliases.rollback("unhealthy canary")
        return aliases.aliases()

    canaried = canary(shadow(stage(register(validate(train(detect_drift()))))))
    decide(canaried) >> [promote_to_production(canaried), rollback(canaried)]
