"""Champion/challenger promotion through MLflow registry aliases (phase 18).

Stages are aliases on versions of one registered model: a new version is `challenger` after Register, then
`staging`, `canary`, and finally `champion` (production). The previous champion keeps the `previous_champion`
alias, so rollback is a single alias move. The state machine is pure and tested alone; `MlflowAliases` applies it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

STAGES = ("trained", "validated", "registered", "staging", "canary", "production")
ALIAS_FOR_STAGE = {"registered": "challenger", "staging": "staging", "canary": "canary", "production": "champion"}
PREVIOUS = "previous_champion"


class PromotionError(RuntimeError):
    pass


def next_stage(current: str) -> str:
    if current not in STAGES:
        raise PromotionError(f"unknown stage {current!r}; stages: {' → '.join(STAGES)}")
    if current == STAGES[-1]:
        raise PromotionError("already in production")
    return STAGES[STAGES.index(current) + 1]


def check_transition(current: str, target: str) -> None:
    """Stages can't be skipped: a model reaches production only through staging and canary."""
    expected = next_stage(current)
    if target != expected:
        raise PromotionError(f"cannot move {current} → {target}; next stage is {expected}")


@dataclass(frozen=True)
class Gate:
    metric: str
    min_value: float | None = None
    max_value: float | None = None


VALIDATION_GATES = (Gate("accuracy", min_value=0.7), Gate("roc_auc", min_value=0.7))


def gate_failures(metrics: Mapping[str, float], gates: Sequence[Gate] = VALIDATION_GATES) -> list[str]:
    failures = []
    for g in gates:
        if g.metric not in metrics:
            failures.append(f"{g.metric}: missing")
            continue
        v = metrics[g.metric]
        if g.min_value is not None and v < g.min_value:
            failures.append(f"{g.metric}={v:.4f} < {g.min_value}")
        if g.max_value is not None and v > g.max_value:
            failures.append(f"{g.metric}={v:.4f} > {g.max_value}")
    return failures


def challenger_beats_champion(challenger: Mapping[str, float], champion: Mapping[str, float] | None,
                              metric: str = "roc_auc", min_gain: float = 0.0) -> bool:
    """No champion yet → the challenger wins; otherwise it must not be worse by more than `min_gain` allows."""
    if champion is None or metric not in champion:
        return True
    return challenger[metric] >= champion[metric] + min_gain


def canary_split(request_ids: Sequence[str], canary_percent: int) -> dict[str, list[str]]:
    """Stable per-request routing: a request hash decides champion vs canary (shadow gets every request)."""
    import hashlib

    if not 0 < canary_percent < 100:
        raise ValueError(f"canary_percent must be between 1 and 99, got {canary_percent}")
    routes: dict[str, list[str]] = {"champion": [], "canary": []}
    for rid in request_ids:
        bucket = int(hashlib.sha256(rid.encode()).hexdigest()[:8], 16) % 100
        routes["canary" if bucket < canary_percent else "champion"].append(rid)
    return routes


def canary_healthy(champion_errors: int, champion_n: int, canary_errors: int, canary_n: int,
                   max_relative_increase: float = 0.25) -> bool:
    """The canary may not have a meaningfully higher error rate than the champion on live traffic."""
    if canary_n == 0:
        return False
    champ_rate = champion_errors / champion_n if champion_n else 0.0
    canary_rate = canary_errors / canary_n
    return canary_rate <= champ_rate * (1 + max_relative_increase) + 0.01


def shadow_agreement(champion_predictions: Sequence[int], challenger_predictions: Sequence[int]) -> float:
    """Shadow mode: the challenger scores the same requests without serving; agreement with the champion."""
    if len(champion_predictions) != len(challenger_predictions) or not champion_predictions:
        raise ValueError("shadow comparison needs two equally long, non-empty prediction lists")
    same = sum(int(a == b) for a, b in zip(champion_predictions, challenger_predictions, strict=True))
    return same / len(champion_predictions)


class MlflowAliases:
    """Alias moves on one registered model (MLflow 3 registry)."""

    def __init__(self, model_name: str, tracking_uri: str) -> None:
        from mlflow import MlflowClient

        self.name = model_name
        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)

    def version_for(self, alias: str) -> str | None:
        from mlflow.exceptions import MlflowException

        try:
            return str(self.client.get_model_version_by_alias(self.name, alias).version)
        except MlflowException:
            return None

    def aliases(self) -> dict[str, str]:
        model = self.client.get_registered_model(self.name)
        return {alias: str(version) for alias, version in (model.aliases or {}).items()}

    def promote(self, version: str, stage: str) -> None:
        """Point the stage's alias at `version`; reaching production keeps the old champion as previous_champion."""
        alias = ALIAS_FOR_STAGE[stage]
        if stage == "production":
            current = self.version_for("champion")
            if current is not None and current != version:
                self.client.set_registered_model_alias(self.name, PREVIOUS, current)
            for transient in ("challenger", "staging", "canary"):
                if self.version_for(transient) == version:
                    self.client.delete_registered_model_alias(self.name, transient)
        self.client.set_registered_model_alias(self.name, alias, version)
        self.client.set_model_version_tag(self.name, version, "stage", stage)

    def rollback(self, reason: str) -> str:
        previous = self.version_for(PREVIOUS)
        if previous is None:
            raise PromotionError(f"{self.name}: no previous_champion to roll back to")
        bad = self.version_for("champion")
        self.client.set_registered_model_alias(self.name, "champion", previous)
        if bad is not None:
            self.client.set_model_version_tag(self.name, bad, "rolled_back", reason)
        return previous


def tracking_uri_from_connection(conn_id: str = "mlflow_default") -> str:
    from common.connections import http_base_url

    return http_base_url(conn_id, "the MLflow tracking server")


def train_churn_model(seed: int = 0, n: int = 2000, shift: float = 0.0) -> tuple[Any, dict[str, float]]:
    """A small, real scikit-learn model on synthetic churn data; `shift` simulates drifted training data."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, roc_auc_score
    from sklearn.model_selection import train_test_split

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)) + shift
    logits = 1.5 * x[:, 0] - 1.0 * x[:, 1] + 0.5 * x[:, 2]
    y = (logits + rng.normal(scale=0.5, size=n) > 0).astype(int)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.25, random_state=seed)
    model = LogisticRegression(max_iter=500).fit(x_tr, y_tr)
    proba = model.predict_proba(x_te)[:, 1]
    return model, {"accuracy": float(accuracy_score(y_te, (proba > 0.5).astype(int))), "roc_auc": float(roc_auc_score(y_te, proba))}
