"""Phase 6 · MLflow integration: tracking URI, params and metrics, model logging, the registry and versioning.

Teaches: taking the tracking URI from an Airflow connection (`mlflow_default`) rather than hard-coding it, logging
hyperparameters and metrics in an MLflow run, logging a scikit-learn model with its signature, registering it so each
run adds a model version, and moving the `candidate` alias to the new version (aliases replace stages in MLflow 3).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import Param, task

from common.dag_header import platform_dag

MLFLOW_CONN_ID = "mlflow_default"
EXPERIMENT = "phase6_mlflow_integration"
MODEL_NAME = "phase6_iris_classifier"
MLFLOW_TIMEOUT = timedelta(minutes=10)


@task(retries=2, execution_timeout=MLFLOW_TIMEOUT)
def train_and_log(params: dict[str, Any], run_id: str | None = None) -> dict[str, Any]:
    from dataclasses import asdict

    from common.mlflow_utils import iris_records, train_and_register, use_tracking_server

    use_tracking_server(conn_id=MLFLOW_CONN_ID, experiment=EXPERIMENT)
    result = train_and_register(
        iris_records(),
        model_name=MODEL_NAME,
        hyperparameters={"C": params["C"], "max_iter": params["max_iter"]},
        tags={"airflow_dag_id": "phase6_01_mlflow_integration", "airflow_run_id": run_id or ""},
    )
    return asdict(result)


@task(retries=2, execution_timeout=MLFLOW_TIMEOUT)
def promote_to_candidate(trained: dict[str, Any]) -> dict[str, str]:
    from common.mlflow_utils import set_alias, use_tracking_server

    use_tracking_server(conn_id=MLFLOW_CONN_ID, experiment=EXPERIMENT)
    promoted = set_alias(
        MODEL_NAME, "candidate", trained["version"], {"accuracy": f"{trained['metrics']['accuracy']:.4f}"}
    )
    if promoted["run_id"] != trained["run_id"]:
        raise RuntimeError(f"alias candidate resolves to run {promoted['run_id']}, expected {trained['run_id']}")
    return promoted


with platform_dag(
    __file__, __doc__, owner="ml", team="ml", severity="P3", tags=["ml", "mlflow"],
    description="MLflow tracking, model logging, registry versions and aliases", schedule=None,
    params={
        "C": Param(1.0, type="number", exclusiveMinimum=0, description="inverse regularisation strength"),
        "max_iter": Param(200, type="integer", minimum=10, description="solver iterations"),
    },
) as dag:
    promote_to_candidate(train_and_log())
