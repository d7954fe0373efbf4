"""MLflow from Airflow: the tracking URI from a connection, training/evaluation on a small tabular dataset, the model
registry (versions, aliases) and the deployment decision.

Pure pieces (record validation, metrics comparison, the decision) are unit-tested; the MLflow calls are exercised
against a real tracking server by the phase-6 DAG tests. sklearn and mlflow are imported inside functions only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from common.records import require_fields

FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")
LABEL = "species"
RANDOM_STATE = 42


def tracking_uri(conn_id: str) -> str:
    """http(s)://host:port[/path] of the tracking server held by an HTTP connection."""
    from common.connections import http_base_url

    return http_base_url(conn_id, "the MLflow tracking server")


def use_tracking_server(conn_id: str, experiment: str) -> str:
    """Point the mlflow client at the server, check it answers, select the experiment; returns the experiment id."""
    import mlflow
    import requests

    uri = tracking_uri(conn_id)
    health = requests.get(f"{uri}/health", timeout=10)
    if health.status_code != 200:
        raise RuntimeError(f"MLflow at {uri} (connection {conn_id!r}) answered {health.status_code} on /health")
    mlflow.set_tracking_uri(uri)
    return mlflow.set_experiment(experiment).experiment_id


def iris_records(corrupt_every: int = 0) -> list[dict[str, Any]]:
    """The iris dataset (shipped with scikit-learn) as records; every `corrupt_every`-th one damaged like real feeds."""
    from sklearn.datasets import load_iris

    data = load_iris()
    records: list[dict[str, Any]] = []
    for index, (row, target) in enumerate(zip(data.data, data.target, strict=True)):
        record: dict[str, Any] = {name: float(value) for name, value in zip(FEATURES, row, strict=True)}
        record[LABEL] = str(data.target_names[target])
        if corrupt_every and (index + 1) % corrupt_every == 0:
            if (index // corrupt_every) % 2:
                record["petal_length"] = None
            else:
                record["sepal_width"] = -record["sepal_width"]
        records.append(record)
    return records


def validate_measurement(record: Mapping[str, Any]) -> list[str]:
    reasons = require_fields(record, {**dict.fromkeys(FEATURES, (int, float)), LABEL: str})
    for name in FEATURES:
        value = record.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and not 0 < value < 100:
            reasons.append(f"{name}: {value} outside (0, 100) cm")
    return reasons


@dataclass(frozen=True)
class TrainingResult:
    run_id: str
    model_name: str
    version: str
    metrics: dict[str, float]


def train_and_register(
    records: Sequence[Mapping[str, Any]],
    *,
    model_name: str,
    hyperparameters: Mapping[str, Any],
    tags: Mapping[str, str],
) -> TrainingResult:
    """Fit a logistic regression, log params/metrics/model in one MLflow run and register it as a new version."""
    import mlflow
    import mlflow.sklearn
    import numpy as np
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import train_test_split

    features = np.array([[r[name] for name in FEATURES] for r in records], dtype=float)
    labels = np.array([r[LABEL] for r in records])
    x_train, x_test, y_train, y_test = train_test_split(
        features, labels, test_size=0.3, random_state=RANDOM_STATE, stratify=labels
    )
    model = LogisticRegression(**hyperparameters, random_state=RANDOM_STATE).fit(x_train, y_train)
    predicted = model.predict(x_test)
    metrics = {
        "accuracy": float(accuracy_score(y_test, predicted)),
        "f1_macro": float(f1_score(y_test, predicted, average="macro")),
        "train_rows": float(len(x_train)),
        "test_rows": float(len(x_test)),
    }
    with mlflow.start_run(tags=dict(tags)) as run:
        mlflow.log_params({**hyperparameters, "features": ",".join(FEATURES), "rows": len(records)})
        mlflow.log_metrics(metrics)
        info = mlflow.sklearn.log_model(
            sk_model=model,
            name="model",
            signature=infer_signature(x_test, predicted),
            input_example=x_test[:2],
            registered_model_name=model_name,
        )
    version = str(info.registered_model_version)
    return TrainingResult(run.info.run_id, model_name, version, metrics)


def set_alias(model_name: str, alias: str, version: str, tags: Mapping[str, str] | None = None) -> dict[str, str]:
    """Move `alias` to `version` (aliases replace the deprecated stages) and tag the version; returns what the registry says."""
    from mlflow import MlflowClient

    client = MlflowClient()
    client.set_registered_model_alias(model_name, alias, version)
    for key, value in (tags or {}).items():
        client.set_model_version_tag(model_name, version, key, value)
    resolved = client.get_model_version_by_alias(model_name, alias)
    return {"model": model_name, "alias": alias, "version": str(resolved.version), "run_id": resolved.run_id or ""}


def alias_metrics(model_name: str, alias: str) -> dict[str, float] | None:
    """Metrics of the run behind `alias`, or None when the alias (or the model) does not exist yet."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient()
    try:
        version = client.get_model_version_by_alias(model_name, alias)
    except MlflowException:
        return None
    return dict(client.get_run(version.run_id).data.metrics)


def deployment_decision(
    candidate: Mapping[str, float],
    champion: Mapping[str, float] | None,
    *,
    min_accuracy: float,
    min_improvement: float = 0.0,
) -> tuple[bool, str]:
    """Deploy when the candidate clears the absolute bar and is not worse than the champion by more than allowed."""
    accuracy = candidate["accuracy"]
    if accuracy < min_accuracy:
        return False, f"accuracy {accuracy:.3f} below the {min_accuracy:.3f} minimum"
    if champion is None:
        return True, f"no champion yet; accuracy {accuracy:.3f} clears {min_accuracy:.3f}"
    baseline = champion.get("accuracy", 0.0)
    if accuracy + 1e-12 < baseline + min_improvement:
        return False, f"accuracy {accuracy:.3f} does not beat champion {baseline:.3f} by {min_improvement:.3f}"
    return True, f"accuracy {accuracy:.3f} vs champion {baseline:.3f}"
