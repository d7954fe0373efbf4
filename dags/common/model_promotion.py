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


def train_churn_model(records: Sequence[Mapping[str, Any]], seed: int = 0) -> tuple[Any, dict[str, Any]]:
    """A real scikit-learn model (scaled logistic regression) on labelled churn records; holdout metrics and the
    holdout itself (so the champion can be measured on exactly the same rows)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from common.churn_data import labels, matrix

    train, holdout = holdout_split(records, seed)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(matrix(train), labels(train))
    return model, {**evaluate(model, holdout), "train_rows": len(train), "holdout": holdout}


def holdout_split(records: Sequence[Mapping[str, Any]], seed: int = 0) -> tuple[list[Any], list[Any]]:
    """(train, holdout): the same rows every time for the same records, so champion and challenger meet on one holdout."""
    from sklearn.model_selection import train_test_split

    from common.churn_data import labels

    train, holdout = train_test_split(list(records), test_size=0.25, random_state=seed, stratify=labels(records))
    return train, holdout


def evaluate(model: Any, records: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, roc_auc_score

    from common.churn_data import labels, matrix

    y = labels(records)
    proba = model.predict_proba(matrix(records))[:, 1]
    auc = float(roc_auc_score(y, proba)) if len(set(y)) > 1 else float("nan")
    return {"accuracy": float(accuracy_score(y, (proba >= 0.5).astype(int))), "roc_auc": auc}


def score_requests(model: Any, requests: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Serve requests one at a time as a live endpoint would: per request the latency, the prediction, or the error.

    A request the model can't score (bad features, an exception) is an error of this arm, not a dropped request.
    """
    import time

    from common.churn_data import LABEL, feature_problems, matrix

    scored = []
    for request in requests:
        start = time.perf_counter()
        row: dict[str, Any] = {"customer_id": request.get("customer_id"), "outcome": request.get(LABEL)}
        try:
            problems = feature_problems(request, labelled=False)
            if problems:
                raise ValueError("; ".join(problems))
            row["predicted"] = int(model.predict_proba(matrix([request]))[0, 1] >= 0.5)
            row["error"] = None
        except Exception as exc:  # noqa: BLE001 — every failure of the arm counts against it
            row["predicted"], row["error"] = None, f"{type(exc).__name__}: {exc}"
        row["latency_ms"] = (time.perf_counter() - start) * 1000
        scored.append(row)
    return scored


def arm_stats(scored: Sequence[Mapping[str, Any]]) -> dict[str, float | int]:
    """Requests, errors, error rate, accuracy over requests whose outcome is known, p95 latency."""
    import numpy as np

    n = len(scored)
    errors = sum(1 for s in scored if s["error"])
    judged = [s for s in scored if not s["error"] and s.get("outcome") is not None]
    correct = sum(1 for s in judged if int(s["predicted"]) == int(s["outcome"]))
    latencies = [s["latency_ms"] for s in scored]
    return {"requests": n, "errors": errors, "error_rate": errors / n if n else 1.0, "judged": len(judged),
            "correct": correct, "accuracy": correct / len(judged) if judged else 0.0,
            "p95_latency_ms": float(np.percentile(latencies, 95)) if latencies else 0.0}


@dataclass(frozen=True)
class CanarySlo:
    """What a healthy canary is: no worse error rate, accuracy not significantly lower than the champion's on the
    same traffic (one-sided two-proportion test), a latency budget; without a champion, an absolute accuracy floor."""

    max_p95_latency_ms: float = 50.0
    max_accuracy_drop: float = 0.02
    alpha: float = 0.05
    min_accuracy: float = 0.7
    min_requests: int = 50


def canary_verdict(champion: Mapping[str, Any] | None, canary: Mapping[str, Any], slo: CanarySlo = CanarySlo()) -> dict[str, Any]:
    """Healthy or not, with every reason, from the two arms' measured stats."""
    from common.experiments import two_proportion_test

    reasons = []
    if canary["requests"] < slo.min_requests:
        reasons.append(f"only {canary['requests']} canary requests (< {slo.min_requests})")
    if canary["p95_latency_ms"] > slo.max_p95_latency_ms:
        reasons.append(f"p95 latency {canary['p95_latency_ms']:.2f} ms > {slo.max_p95_latency_ms} ms")
    comparison = None
    if champion is None:
        if canary["error_rate"] > 0.01:
            reasons.append(f"error rate {canary['error_rate']:.3f} > 0.01")
        if canary["accuracy"] < slo.min_accuracy:
            reasons.append(f"accuracy {canary['accuracy']:.3f} < {slo.min_accuracy} (no champion to compare with)")
    else:
        if not canary_healthy(champion["errors"], champion["requests"], canary["errors"], canary["requests"]):
            reasons.append(f"error rate {canary['error_rate']:.3f} vs champion {champion['error_rate']:.3f}")
        if canary["judged"] and champion["judged"]:
            comparison = two_proportion_test(champion["correct"], champion["judged"], canary["correct"], canary["judged"])
            drop = comparison["rate_a"] - comparison["rate_b"]
            if drop > slo.max_accuracy_drop and comparison["p_value"] / 2 < slo.alpha:
                reasons.append(f"accuracy {comparison['rate_b']:.3f} vs champion {comparison['rate_a']:.3f} "
                               f"(one-sided p={comparison['p_value'] / 2:.2g})")
    return {"healthy": not reasons, "reasons": reasons, "accuracy_test": comparison}
