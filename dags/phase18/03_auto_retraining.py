"""Automated retraining: drift measured on the batch behind the triggering asset event, champion/challenger through
MLflow registry aliases, staged rollout (Train → Validate → Register → Stage → Canary → Production) judged on scored
requests, and rollback.

Teaches: retraining driven by data, promotion driven by measurements. The DAG is scheduled on the
`churn_model_retrain_request` asset; the event's extra points to the batch of labelled churn records that prompted
it (path, rows, sha256 — checked, so the DAG reads exactly what the producer announced). read_batch quarantines
broken records in the warehouse (`ml_quarantine`) instead of dropping them. detect_drift compares the batch with
the champion's training reference (logged with the champion's MLflow run) by KS + PSI (common.drift): no drift,
no retraining; no champion yet, the first model is trained. The batch is split by arrival order: the earlier 60%
trains a scikit-learn model (logged to MLflow with its own reference), the later 40% is the traffic that followed,
with its observed outcomes. validate applies the offline gates; register creates a version (alias `challenger`);
stage measures the champion on the challenger's holdout (same rows) and stages the challenger unless it is worse;
shadow has both models score the traffic (only the champion answers) and stops a challenger that disagrees wildly;
canary routes a stable 20% of the traffic to the challenger (alias `canary`), scores every request one at a time
and measures per arm the error rate, p95 latency and accuracy against the observed outcomes. A canary that is not
significantly less accurate than the champion, no more error-prone and within the latency budget becomes `champion`
(the old one `previous_champion`); otherwise rollback removes the canary and keeps or restores the champion.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import Param, task
from airflow.sdk.exceptions import AirflowFailException

from common.assets import MODEL_RETRAIN_REQUEST
from common.dag_header import platform_dag

WAREHOUSE_CONN_ID = "postgres_default"
MLFLOW_CONN_ID = "mlflow_default"
MLFLOW_TASK = {"retries": 2, "retry_delay": timedelta(seconds=10), "execution_timeout": timedelta(minutes=10)}
TRAIN_FRACTION = 0.6  # earlier records train; the later ones are the traffic that followed
CANARY_PERCENT = 20
MIN_SHADOW_AGREEMENT = 0.5
MIN_BATCH = 200


def _registry(context: dict) -> tuple[str, Any]:
    """(MLflow tracking URI, the aliases of the run's model) from the mlflow_default connection and the params."""
    from common.model_promotion import MlflowAliases, tracking_uri_from_connection

    uri = tracking_uri_from_connection(conn_id=MLFLOW_CONN_ID)
    return uri, MlflowAliases(context["params"]["model_name"], uri)


def _batch_parts(extra: dict) -> tuple[list, list]:
    """(training window, traffic window) of the batch's valid records, re-read from the event's batch."""
    from common.churn_data import read_event_batch, split_valid, time_split

    return time_split(split_valid(read_event_batch(extra))[0], TRAIN_FRACTION)


with platform_dag(
    __file__, __doc__, owner="team-ml", team="ml", tags=["mlops", "retraining", "champion-challenger"],
    schedule=[MODEL_RETRAIN_REQUEST], max_active_runs=1,
    params={
        "model_name": Param("churn_classifier", type="string"),
        "force": Param(False, type="boolean", description="retrain even without drift"),
        "max_p95_latency_ms": Param(50.0, type="number", minimum=0, description="canary latency budget (SLO)"),
        "action": Param("retrain", enum=["retrain", "rollback"],
                        description="rollback: point champion back at previous_champion (docs/runbooks/model-rollback.md)"),
        "reason": Param("", type="string", description="why (an incident id): tagged on the rolled-back version"),
    },
):

    @task(**MLFLOW_TASK)
    def manual_rollback(**context) -> dict:
        """The runbook's path (docs/runbooks/model-rollback.md): action=rollback moves champion back to
        previous_champion and tags the bad version with the reason; a retrain run skips this task."""
        from airflow.sdk.exceptions import AirflowSkipException

        params = context["params"]
        if params["action"] != "rollback":
            raise AirflowSkipException("action is retrain")
        if not params["reason"].strip():
            raise AirflowFailException("a rollback needs a reason (an incident id): --conf '{\"reason\": \"INC-1234 ...\"}'")
        _, aliases = _registry(context)
        bad = aliases.version_for("champion")
        restored = aliases.rollback(params["reason"])
        return {"champion": restored, "rolled_back": bad, "reason": params["reason"]}

    @task(**MLFLOW_TASK)
    def read_batch(**context) -> dict:
        """The batch behind the newest retrain-request event; broken records go to the warehouse quarantine."""
        from airflow.providers.postgres.hooks.postgres import PostgresHook
        from airflow.sdk.exceptions import AirflowSkipException

        if context["params"]["action"] == "rollback":
            raise AirflowSkipException("a rollback run retrains nothing")

        from common import ml_store
        from common.assets import latest_events
        from common.churn_data import BatchError, read_event_batch, split_valid

        event = latest_events(context.get("triggering_asset_events") or {}).get(MODEL_RETRAIN_REQUEST.name)
        if event is None or not event.extra.get("path"):
            raise AirflowSkipException(f"no retrain-request event with a batch to measure (event: {event}); nothing to do")
        try:
            records = read_event_batch(event.extra)
        except BatchError as exc:
            raise AirflowFailException(str(exc)) from exc
        valid, bad = split_valid(records)
        conn = PostgresHook(postgres_conn_id=WAREHOUSE_CONN_ID).get_conn()
        try:
            ml_store.ensure_tables(conn)
            ml_store.replace_quarantine(conn, context["dag"].dag_id, context["run_id"], event.extra["path"], bad)
            conn.commit()
        finally:
            conn.close()
        if len(valid) < MIN_BATCH:
            raise AirflowFailException(f"only {len(valid)} valid records in {event.extra['path']} (< {MIN_BATCH})")
        return {"extra": event.extra, "source_dag_id": event.source_dag_id, "valid": len(valid), "quarantined": len(bad)}

    @task(**MLFLOW_TASK)
    def detect_drift(batch: dict, **context) -> dict:
        """KS + PSI of the batch against the champion's training reference; no drift → skip, no champion → bootstrap."""
        from airflow.sdk.exceptions import AirflowSkipException

        from common.churn_data import columns, read_event_batch, split_valid
        from common.drift import detect_drift as drift_report
        from common.mlflow_registry import load_run_dict
        from common.model_promotion import MlflowAliases, tracking_uri_from_connection

        uri = tracking_uri_from_connection(conn_id=MLFLOW_CONN_ID)
        name = context["params"]["model_name"]
        champion = MlflowAliases(name, uri).version_for("champion")
        if champion is None:
            return {"status": "bootstrap", "drifted": [], "reference_version": None, "features": []}
        reference = load_run_dict(uri, name, champion, "reference.json")
        report = drift_report(reference, columns(split_valid(read_event_batch(batch["extra"]))[0])).to_dict()
        report["reference_version"] = champion
        if report["status"] != "alert" and not context["params"]["force"]:
            raise AirflowSkipException(f"no drift beyond threshold against champion v{champion} ({report['status']})")
        return report

    @task(**MLFLOW_TASK)
    def train(batch: dict, report: dict, **context) -> dict:
        from common.churn_data import columns
        from common.mlflow_registry import log_sklearn_model
        from common.model_promotion import tracking_uri_from_connection, train_churn_model

        window, _ = _batch_parts(batch["extra"])
        model, metrics = train_churn_model(window)
        metrics.pop("holdout")
        tags = {"trigger": report["status"], "drifted": ",".join(report["drifted"]), "batch": batch["extra"]["path"]}
        uri = log_sklearn_model(tracking_uri_from_connection(conn_id=MLFLOW_CONN_ID), context["params"]["model_name"],
                                model, metrics, tags, {"train_fraction": TRAIN_FRACTION},
                                {"reference.json": columns(window)})
        return {"model_uri": uri, "metrics": metrics, "drifted": report["drifted"], "batch": batch["extra"]}

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

        uri = tracking_uri_from_connection(conn_id=MLFLOW_CONN_ID)
        name = context["params"]["model_name"]
        version = register_model(uri, name, validated["model_uri"],
                                 {"trigger": "drift", "drifted": ",".join(validated["drifted"]), "batch": validated["batch"]["path"]})
        MlflowAliases(name, uri).promote(version, "registered")
        return {**validated, "version": version}

    @task(**MLFLOW_TASK)
    def stage(registered: dict, **context) -> dict:
        """Champion and challenger measured on the same holdout rows of the new batch."""
        from common.mlflow_registry import load_sklearn_model
        from common.model_promotion import (
            challenger_beats_champion,
            evaluate,
            holdout_split,
        )

        uri, aliases = _registry(context)
        champion = aliases.version_for("champion")
        champion_metrics = None
        if champion:
            holdout = holdout_split(_batch_parts(registered["batch"])[0])[1]
            champion_metrics = evaluate(load_sklearn_model(uri, f"models:/{aliases.name}/{champion}"), holdout)
        if not challenger_beats_champion(registered["metrics"], champion_metrics, min_gain=-0.02):
            raise AirflowFailException(f"challenger {registered['version']} is worse than champion {champion} "
                                       f"on the same holdout: {registered['metrics']} vs {champion_metrics}")
        aliases.promote(registered["version"], "staging")
        return {**registered, "champion": champion, "champion_holdout_metrics": champion_metrics}

    @task(**MLFLOW_TASK)
    def shadow(staged: dict, **context) -> dict:
        """Shadow mode: the challenger scores the same traffic as the champion; only the champion's answer is served."""
        from common.churn_data import matrix
        from common.mlflow_registry import load_sklearn_model
        from common.model_promotion import shadow_agreement, tracking_uri_from_connection

        if not staged["champion"]:
            return {**staged, "shadow_agreement": None}
        uri = tracking_uri_from_connection(conn_id=MLFLOW_CONN_ID)
        traffic = matrix(_batch_parts(staged["batch"])[1])
        champion = load_sklearn_model(uri, f"models:/{context['params']['model_name']}/{staged['champion']}")
        challenger = load_sklearn_model(uri, staged["model_uri"])
        agreement = shadow_agreement(champion.predict(traffic).tolist(), challenger.predict(traffic).tolist())
        if agreement < MIN_SHADOW_AGREEMENT:
            raise AirflowFailException(f"shadow agreement {agreement:.2f} < {MIN_SHADOW_AGREEMENT}: challenger behaves too differently")
        return {**staged, "shadow_agreement": agreement}

    @task(**MLFLOW_TASK)
    def canary(shadowed: dict, **context) -> dict:
        """A stable share of the traffic is served by the canary; both arms' requests are scored and measured."""
        from common.mlflow_registry import load_sklearn_model
        from common.model_promotion import (
            CanarySlo,
            arm_stats,
            canary_split,
            canary_verdict,
            score_requests,
        )

        uri, aliases = _registry(context)
        aliases.promote(shadowed["version"], "canary")
        traffic = {r["customer_id"]: r for r in _batch_parts(shadowed["batch"])[1]}
        routes = canary_split(sorted(traffic), canary_percent=CANARY_PERCENT)
        canary_model = load_sklearn_model(uri, f"models:/{aliases.name}@canary")
        canary_stats = arm_stats(score_requests(canary_model, [traffic[c] for c in routes["canary"]]))
        champion_stats = None
        if shadowed["champion"]:
            champion_model = load_sklearn_model(uri, f"models:/{aliases.name}/{shadowed['champion']}")
            champion_stats = arm_stats(score_requests(champion_model, [traffic[c] for c in routes["champion"]]))
        verdict = canary_verdict(champion_stats, canary_stats,
                                 CanarySlo(max_p95_latency_ms=float(context["params"]["max_p95_latency_ms"])))
        for key in ("accuracy", "error_rate", "p95_latency_ms"):
            aliases.client.set_model_version_tag(aliases.name, shadowed["version"], f"canary_{key}", f"{canary_stats[key]:.4f}")
        return {**shadowed, "canary": canary_stats, "champion_arm": champion_stats, **verdict}

    @task.branch
    def decide(canaried: dict) -> str:
        return "promote_to_production" if canaried["healthy"] else "rollback"

    @task(**MLFLOW_TASK)
    def promote_to_production(canaried: dict, **context) -> dict:

        _, aliases = _registry(context)
        aliases.promote(canaried["version"], "production")
        return aliases.aliases()

    @task(**MLFLOW_TASK)
    def rollback(canaried: dict, **context) -> dict:
        """The canary is unhealthy: it never becomes champion; if a bad champion slipped through, restore the previous."""

        _, aliases = _registry(context)
        aliases.client.delete_registered_model_alias(aliases.name, "canary")
        reason = "unhealthy canary: " + "; ".join(canaried["reasons"])
        aliases.client.set_model_version_tag(aliases.name, canaried["version"], "rolled_back", reason[:500])
        if aliases.version_for("champion") == canaried["version"]:
            aliases.rollback(reason)
        return aliases.aliases()

    manual_rollback()
    batch = read_batch()
    canaried = canary(shadow(stage(register(validate(train(batch, detect_drift(batch)))))))
    decide(canaried) >> [promote_to_production(canaried), rollback(canaried)]
