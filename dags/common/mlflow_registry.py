"""Registering models in the MLflow registry (phase 18): log a real scikit-learn model in a run, register it as
a new version of a named model, tag the version. Used by A/B winner deployment and by auto-retraining."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def log_sklearn_model(tracking_uri: str, experiment: str, model: Any, metrics: Mapping[str, float],
                      tags: Mapping[str, str]) -> str:
    """Log `model` and its metrics in a new run; returns the model URI (artifacts live in the tracking server's store,
    so later tasks on other workers load the model from there, not from a local file)."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    mlflow.set_experiment(experiment)
    with mlflow.start_run(tags=dict(tags)):
        mlflow.log_metrics(dict(metrics))
        info = mlflow.sklearn.log_model(model, name="model")
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
                           tags: Mapping[str, str]) -> str:
    """Log and register in one go; returns the new version."""
    return register_model(tracking_uri, name, log_sklearn_model(tracking_uri, name, model, metrics, tags), tags)


def version_metrics(tracking_uri: str, name: str, version: str) -> dict[str, float]:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    mv = client.get_model_version(name, version)
    return dict(client.get_run(mv.run_id).data.metrics) if mv.run_id else {}


def ensure_variant_versions(tracking_uri: str, name: str, variants: Sequence[str]) -> dict[str, str]:
    """One registered version per experiment variant (tag `variant`), created on first use, reused afterwards."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException
    from sklearn.dummy import DummyClassifier

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    found: dict[str, str] = {}
    try:
        for mv in client.search_model_versions(f"name='{name}'"):
            variant = (mv.tags or {}).get("variant")
            if variant in variants and variant not in found:
                found[variant] = str(mv.version)
    except MlflowException:
        pass
    for variant in variants:
        if variant not in found:
            policy = DummyClassifier(strategy="constant", constant=1).fit([[0], [1]], [0, 1])
            found[variant] = register_sklearn_model(tracking_uri, name, policy, {}, {"variant": variant})
    return found
