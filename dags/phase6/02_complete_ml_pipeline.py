"""Phase 6 · Complete ML pipeline: ingest, validate, train (scikit-learn), evaluate, then a deploy decision.

Teaches: an end-to-end pipeline where damaged rows are quarantined (not dropped) before training, the model is
logged and registered in MLflow, the evaluation compares the candidate with the current `champion` alias, and a
`@task.branch` decides: deploy (move `champion` to the new version) or keep the current model. The final report runs
whichever branch was taken (trigger rule none_failed_min_one_success).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import Param, task

from common.dag_header import platform_dag

MLFLOW_CONN_ID = "mlflow_default"
EXPERIMENT = "phase6_complete_ml_pipeline"
MODEL_NAME = "phase6_iris_pipeline"
CHAMPION = "champion"
MLFLOW_TIMEOUT = timedelta(minutes=10)
CORRUPT_EVERY = 25


@task
def ingest() -> list[dict[str, Any]]:
    from common.mlflow_utils import iris_records

    return iris_records(corrupt_every=CORRUPT_EVERY)


@task
def validate(records: list[dict[str, Any]], params: dict[str, Any], dag_run: Any = None) -> dict[str, Any]:
    from common.mlflow_utils import validate_measurement
    from common.records import quarantine_dir, safe_file_name, split_records, write_quarantine

    split = split_records(records, validate_measurement)
    quarantine_file = None
    if split.quarantined:
        quarantine_file = str(write_quarantine(split.quarantined, quarantine_dir(dag_run.dag_id), safe_file_name(dag_run.run_id)))
    if len(split.valid) < params["min_rows"]:  # the same data on every try: fail without retrying
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(f"only {len(split.valid)} valid rows (minimum {params['min_rows']}); see {quarantine_file}")
    return {"rows": split.valid, "quarantined": len(split.quarantined), "quarantine_file": quarantine_file}


@task(retries=2, execution_timeout=MLFLOW_TIMEOUT)
def train(validated: dict[str, Any], params: dict[str, Any], run_id: str | None = None) -> dict[str, Any]:
    from dataclasses import asdict

    from common.mlflow_utils import train_and_register, use_tracking_server

    use_tracking_server(conn_id=MLFLOW_CONN_ID, experiment=EXPERIMENT)
    result = train_and_register(
        validated["rows"],
        model_name=MODEL_NAME,
        hyperparameters={"C": params["C"], "max_iter": 300},
        tags={"airflow_dag_id": "phase6_02_complete_ml_pipeline", "airflow_run_id": run_id or ""},
    )
    return asdict(result)


@task(retries=2, execution_timeout=MLFLOW_TIMEOUT)
def evaluate(trained: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    from common.mlflow_utils import alias_metrics, deployment_decision, use_tracking_server

    use_tracking_server(conn_id=MLFLOW_CONN_ID, experiment=EXPERIMENT)
    champion = alias_metrics(MODEL_NAME, CHAMPION)
    deploy, reason = deployment_decision(
        trained["metrics"], champion, min_accuracy=params["min_accuracy"], min_improvement=params["min_improvement"]
    )
    return {**trained, "champion_metrics": champion, "deploy": deploy, "reason": reason}


@task.branch
def decide(evaluation: dict[str, Any]) -> str:
    return "deploy_model" if evaluation["deploy"] else "keep_current_model"


@task(retries=2, execution_timeout=MLFLOW_TIMEOUT)
def deploy_model(evaluation: dict[str, Any], run_id: str | None = None) -> dict[str, str]:
    from common.mlflow_utils import set_alias, use_tracking_server

    use_tracking_server(conn_id=MLFLOW_CONN_ID, experiment=EXPERIMENT)
    return set_alias(
        MODEL_NAME, CHAMPION, evaluation["version"], {"deployed_by": run_id or "", "reason": evaluation["reason"]}
    )


@task(trigger_rule="none_failed_min_one_success")
def report(evaluation: dict[str, Any]) -> dict[str, Any]:
    return {key: evaluation[key] for key in ("version", "deploy", "reason")} | {
        "accuracy": evaluation["metrics"]["accuracy"]
    }


with platform_dag(
    __file__, __doc__, owner="ml", team="ml", severity="P2", tags=["ml", "mlflow"],
    description="Ingest, validate, train, evaluate and a champion/candidate deploy decision with MLflow",
    schedule="@weekly", max_active_runs=1,
    params={
        "C": Param(1.0, type="number", exclusiveMinimum=0),
        "min_accuracy": Param(0.85, type="number", minimum=0, maximum=1, description="absolute bar to deploy"),
        "min_improvement": Param(0.0, type="number", minimum=0, maximum=1, description="accuracy gain over champion"),
        "min_rows": Param(100, type="integer", minimum=1, description="valid rows needed to train"),
    },
) as dag:
    evaluation = evaluate(train(validate(ingest())))
    keep_current_model = EmptyOperator(task_id="keep_current_model")
    deployed = deploy_model(evaluation)
    decide(evaluation) >> [deployed, keep_current_model]
    [deployed, keep_current_model] >> report(evaluation)
