"""A/B testing (phase 18): experiment config, deterministic traffic allocation, significance with scipy, the winner.

Allocation hashes (experiment, unit) so a user always sees the same variant across runs and processes; the
significance test is a two-sided two-proportion z-test with a chi-square cross-check from scipy; a winner is only
declared when the result is significant, the sample is large enough and the uplift clears the minimum effect.
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


def simulate_outcomes(exp: Experiment, unit_ids: Sequence[str], true_rates: Mapping[str, float],
                      seed: int = 7) -> dict[str, dict[str, int]]:
    """Demo traffic: each unit converts with its variant's true rate (seeded, reproducible)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    result = {v: {"users": 0, "conversions": 0} for v in exp.variants}
    for unit in unit_ids:
        variant = assign_variant(exp, unit)
        result[variant]["users"] += 1
        result[variant]["conversions"] += int(rng.random() < true_rates[variant])
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
