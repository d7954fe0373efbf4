"""Registering models in the MLflow registry (phase 18): log a real scikit-learn model in a run, register it as
a new version of a named model, tag the version. Used by A/B winner deployment and by auto-retraining."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# The node storage of every scikit-learn tree model (decision trees, random forests, gradient boosting): our own models.
TREE_TYPES = ("sklearn.tree._tree.Tree",)


def log_sklearn_model(tracking_uri: str, experiment: str, model: Any, metrics: Mapping[str, float],
                      tags: Mapping[str, str], params: Mapping[str, Any] | None = None,
                      artifacts: Mapping[str, Any] | None = None, trusted_types: Sequence[str] = ()) -> str:
    """Log `model` and its metrics in a new run; returns the model URI (artifacts live in the tracking server's store,
    so later tasks on other workers load the model from there, not from a local file). MLflow stores it with skops,
    which refuses to load types not named as trusted: tree models need `trusted_types=TREE_TYPES`."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    mlflow.set_experiment(experiment)
    with mlflow.start_run(tags=dict(tags)):
        mlflow.log_metrics(dict(metrics))
        if params:
            mlflow.log_params({k: str(v) for k, v in params.items()})
        for artifact, content in (artifacts or {}).items():
            mlflow.log_dict(content, artifact)
        info = mlflow.sklearn.log_model(model, name="model", skops_trusted_types=list(trusted_types) or None)
    return str(info.model_uri)


def register_model(tracking_uri: str, name: str, model_uri: str, tags: Mapping[str, str]) -> str:
    """Register a logged model as a new version of `name`, tagged; returns the version."""
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_registry_uri(tracking_uri)
    mlflow.set_tracking_uri(tracking_uri)
    version = mlflow.register_model(model_uri, name)
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    for key, value in tags.items():
        client.set_model_version_tag(name, version.version, key, str(value))
    return str(version.version)


def load_sklearn_model(tracking_uri: str, model_uri: str) -> Any:
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    return mlflow.sklearn.load_model(model_uri)


def register_sklearn_model(tracking_uri: str, name: str, model: Any, metrics: Mapping[str, float],
                           tags: Mapping[str, str], params: Mapping[str, Any] | None = None,
                           trusted_types: Sequence[str] = ()) -> tuple[str, str]:
    """Log and register in one go; returns (new version, model URI)."""
    uri = log_sklearn_model(tracking_uri, name, model, metrics, tags, params, trusted_types=trusted_types)
    return register_model(tracking_uri, name, uri, tags), uri


def load_run_dict(tracking_uri: str, name: str, version: str, artifact: str) -> dict[str, Any]:
    """A JSON artifact logged with a version's run (e.g. the training reference the drift check compares with)."""
    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    mv = client.get_model_version(name, version)
    mlflow.set_tracking_uri(tracking_uri)
    return mlflow.artifacts.load_dict(f"runs:/{mv.run_id}/{artifact}")
