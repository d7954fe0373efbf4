"""A/B testing (phase 18): experiment config, the model each variant serves, deterministic traffic allocation,
the prediction log's outcomes per variant, significance with scipy, the winner.

Allocation hashes (experiment, unit) so a user always sees the same variant across runs and processes. Each variant
is a real scikit-learn model (`VariantModel`: estimator kind, features, hyper-parameters). The metric compared is
the share of logged predictions that the eventual outcome proved right; the significance test is a two-sided
two-proportion z-test with a chi-square cross-check from scipy; a winner is only declared when the result is
significant, the sample is large enough and the uplift clears the minimum effect.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


class ExperimentConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Experiment:
    name: str
    variants: dict[str, float]  # variant → traffic share, summing to 1
    control: str
    alpha: float = 0.05
    min_samples_per_variant: int = 500
    min_relative_uplift: float = 0.02

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> Experiment:
        allowed = {"name", "variants", "control", "alpha", "min_samples_per_variant", "min_relative_uplift"}
        unknown = sorted(set(raw) - allowed)
        if unknown:
            raise ExperimentConfigError(f"experiment config: unknown key(s) {unknown}")
        for key in ("name", "variants", "control"):
            if key not in raw:
                raise ExperimentConfigError(f"experiment config: missing required key {key!r}")
        exp = cls(**{k: (dict(v) if k == "variants" else v) for k, v in raw.items()})
        exp.validate()
        return exp

    def validate(self) -> None:
        if len(self.variants) < 2:
            raise ExperimentConfigError(f"{self.name}: variants needs at least two entries")
        if self.control not in self.variants:
            raise ExperimentConfigError(f"{self.name}: control {self.control!r} is not a variant")
        if any(share <= 0 for share in self.variants.values()):
            raise ExperimentConfigError(f"{self.name}: variants: every traffic share must be > 0")
        total = sum(self.variants.values())
        if abs(total - 1.0) > 1e-9:
            raise ExperimentConfigError(f"{self.name}: variants: traffic shares sum to {total}, not 1")
        if not 0 < self.alpha < 0.5:
            raise ExperimentConfigError(f"{self.name}: alpha must be in (0, 0.5)")


def assign_variant(exp: Experiment, unit_id: str) -> str:
    """Deterministic bucketing: hash → [0, 1) → the variant whose cumulative share covers it."""
    digest = hashlib.sha256(f"{exp.name}:{unit_id}".encode()).hexdigest()
    point = int(digest[:15], 16) / float(16**15)
    cumulative = 0.0
    for variant, share in sorted(exp.variants.items()):
        cumulative += share
        if point < cumulative:
            return variant
    return sorted(exp.variants)[-1]


def allocation_counts(exp: Experiment, unit_ids: Iterable[str]) -> dict[str, int]:
    counts = dict.fromkeys(exp.variants, 0)
    for unit in unit_ids:
        counts[assign_variant(exp, unit)] += 1
    return counts


MODEL_KINDS = ("logistic_regression", "gradient_boosting", "random_forest")


@dataclass(frozen=True)
class VariantModel:
    """What a variant serves: a scikit-learn estimator kind, the features it sees and its hyper-parameters."""

    kind: str
    features: tuple[str, ...]
    params: dict[str, Any]

    @classmethod
    def from_mapping(cls, variant: str, raw: Mapping[str, Any]) -> VariantModel:
        from common.churn_data import FEATURES

        unknown = sorted(set(raw) - {"kind", "features", "params"})
        if unknown:
            raise ExperimentConfigError(f"variant {variant}: unknown key(s) {unknown}")
        kind = raw.get("kind")
        if kind not in MODEL_KINDS:
            raise ExperimentConfigError(f"variant {variant}: kind must be one of {list(MODEL_KINDS)}, got {kind!r}")
        features = tuple(raw.get("features") or ())
        if not features or set(features) - set(FEATURES):
            raise ExperimentConfigError(f"variant {variant}: features must be a non-empty subset of {list(FEATURES)}")
        return cls(kind, features, dict(raw.get("params") or {}))

    @property
    def trusted_types(self) -> tuple[str, ...]:
        """Types MLflow's skops format must be told to trust to load this model back (tree node storage)."""
        from common.mlflow_registry import TREE_TYPES

        return () if self.kind == "logistic_regression" else TREE_TYPES

    def estimator(self) -> Any:
        from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        if self.kind == "logistic_regression":
            return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, **self.params))
        if self.kind == "gradient_boosting":
            return GradientBoostingClassifier(random_state=0, **self.params)
        return RandomForestClassifier(random_state=0, **self.params)


def variant_models(exp: Experiment, raw: Mapping[str, Mapping[str, Any]]) -> dict[str, VariantModel]:
    """Every variant of the experiment needs a model, and every model a variant."""
    if set(raw) != set(exp.variants):
        raise ExperimentConfigError(f"{exp.name}: models for {sorted(raw)} but variants {sorted(exp.variants)}")
    return {v: VariantModel.from_mapping(v, spec) for v, spec in raw.items()}


def train_variant(spec: VariantModel, records: Sequence[Mapping[str, Any]], seed: int = 0) -> tuple[Any, dict[str, float]]:
    """Fit the variant on 75% of the labelled records; holdout accuracy and ROC AUC on the rest."""
    from sklearn.metrics import accuracy_score, roc_auc_score
    from sklearn.model_selection import train_test_split

    from common.churn_data import labels, matrix

    x, y = matrix(records, spec.features), labels(records)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.25, random_state=seed, stratify=y)
    model = spec.estimator().fit(x_tr, y_tr)
    proba = model.predict_proba(x_te)[:, 1]
    return model, {"accuracy": float(accuracy_score(y_te, (proba >= 0.5).astype(int))),
                   "roc_auc": float(roc_auc_score(y_te, proba)), "train_rows": float(len(y_tr))}


def serve(exp: Experiment, models: Mapping[str, Any], specs: Mapping[str, VariantModel], versions: Mapping[str, str],
          requests: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Route each request to its variant (stable hash of the customer) and score it with that variant's model.

    Returns one prediction-log row per request: the variant, the model version that answered, score and decision.
    """
    from common.churn_data import matrix

    by_variant: dict[str, list[Mapping[str, Any]]] = {v: [] for v in exp.variants}
    for request in requests:
        by_variant[assign_variant(exp, request["customer_id"])].append(request)
    log = []
    for variant, batch in by_variant.items():
        if not batch:
            continue
        scores = models[variant].predict_proba(matrix(batch, specs[variant].features))[:, 1]
        for request, score in zip(batch, scores, strict=True):
            log.append({"request_id": f"{exp.name}:{request['customer_id']}", "customer_id": request["customer_id"],
                        "variant": variant, "model_version": versions[variant], "score": float(score),
                        "predicted": int(score >= 0.5)})
    return log


def outcomes_from_log(log: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """Per variant: logged predictions with an outcome (`users`) and correct ones (`conversions`); pending excluded."""
    result: dict[str, dict[str, int]] = {}
    for row in log:
        if row.get("outcome") is None:
            continue
        entry = result.setdefault(row["variant"], {"users": 0, "conversions": 0})
        entry["users"] += 1
        entry["conversions"] += int(int(row["predicted"]) == int(row["outcome"]))
    return result


def two_proportion_test(conv_a: int, n_a: int, conv_b: int, n_b: int) -> dict[str, float]:
    """Two-sided z-test for p_b − p_a, plus scipy's chi-square test on the 2×2 table as a cross-check."""
    import math

    from scipy.stats import chi2_contingency, norm

    if min(n_a, n_b) == 0:
        raise ValueError("both variants need at least one user")
    p_a, p_b = conv_a / n_a, conv_b / n_b
    pooled = (conv_a + conv_b) / (n_a + n_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    z = 0.0 if se == 0 else (p_b - p_a) / se
    p_value = float(2 * norm.sf(abs(z)))
    chi2, chi_p, _, _ = chi2_contingency([[conv_a, n_a - conv_a], [conv_b, n_b - conv_b]], correction=False)
    return {"rate_a": p_a, "rate_b": p_b, "z": z, "p_value": p_value, "chi2": float(chi2), "chi2_p_value": float(chi_p),
            "relative_uplift": (p_b - p_a) / p_a if p_a else math.inf}


def decide(exp: Experiment, outcomes: Mapping[str, Mapping[str, int]]) -> dict[str, Any]:
    """Compare every treatment with control (Bonferroni-corrected alpha); pick the best significant one, else control."""
    missing = sorted(set(exp.variants) - set(outcomes))
    if missing:
        raise ValueError(f"{exp.name}: no logged outcomes for variant(s) {missing}")
    control = outcomes[exp.control]
    treatments = [v for v in exp.variants if v != exp.control]
    alpha = exp.alpha / len(treatments)
    comparisons = {}
    winner, best = exp.control, 0.0
    for variant in treatments:
        o = outcomes[variant]
        stats = two_proportion_test(control["conversions"], control["users"], o["conversions"], o["users"])
        enough = min(control["users"], o["users"]) >= exp.min_samples_per_variant
        significant = stats["p_value"] < alpha
        wins = enough and significant and stats["relative_uplift"] >= exp.min_relative_uplift
        comparisons[variant] = {**stats, "enough_samples": enough, "significant": significant, "wins": wins}
        if wins and stats["relative_uplift"] > best:
            winner, best = variant, stats["relative_uplift"]
    reason = "no treatment beat control significantly" if winner == exp.control else f"{winner} +{best:.1%} (p<{alpha:g})"
    return {"experiment": exp.name, "winner": winner, "alpha_corrected": alpha, "comparisons": comparisons, "reason": reason}
