"""Data drift: column profiles, the Kolmogorov–Smirnov test and the Population Stability Index, with alert thresholds.

Phase 10 (data profiling) gates a pipeline on these; phase 18 (auto-retraining) uses the same report to decide
whether a model must be retrained. numpy/scipy are imported inside the functions so DAG files stay light to parse.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

DriftStatus = Literal["ok", "warn", "alert"]

# A bin with no observations would make PSI infinite; this floor keeps it finite and still large.
_PSI_EPSILON = 1e-4


class DriftAlert(RuntimeError):
    """Raised by the drift gate: the message names every drifted feature and its score."""

    def __init__(self, report: DriftReport) -> None:
        self.report = report
        details = ", ".join(
            f"{f.feature} (psi={f.psi:.3f}, ks={f.ks_statistic:.3f}, p={f.ks_pvalue:.2g})" for f in report.alerts
        )
        super().__init__(f"data drift beyond threshold in {len(report.alerts)} feature(s): {details}")


@dataclass(frozen=True)
class DriftThresholds:
    """PSI < 0.1 is stable, 0.1–0.25 worth a look, > 0.25 a real shift (the usual credit-risk rule of thumb).

    The KS test alerts when its p-value drops below `ks_pvalue` *and* the statistic is at least
    `ks_min_statistic`: on large samples tiny, harmless shifts are "significant", so the effect size matters too.
    """

    psi_warn: float = 0.1
    psi_alert: float = 0.25
    ks_pvalue: float = 0.01
    ks_min_statistic: float = 0.1
    bins: int = 10

    def __post_init__(self) -> None:
        if not 0 <= self.psi_warn <= self.psi_alert:
            raise ValueError(f"thresholds: need 0 <= psi_warn ({self.psi_warn}) <= psi_alert ({self.psi_alert})")
        if not 0 < self.ks_pvalue < 1:
            raise ValueError(f"thresholds: ks_pvalue must be in (0, 1), got {self.ks_pvalue}")
        if self.bins < 2:
            raise ValueError(f"thresholds: bins must be >= 2, got {self.bins}")

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> DriftThresholds:
        """Build from config (e.g. an Airflow Variable); an unknown key is an error, not silently ignored."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"unknown drift threshold key(s) {unknown}; allowed: {sorted(known)}")
        return cls(**dict(raw))


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    psi: float
    ks_statistic: float
    ks_pvalue: float
    status: DriftStatus


@dataclass(frozen=True)
class DriftReport:
    features: tuple[FeatureDrift, ...]
    thresholds: DriftThresholds = field(default_factory=DriftThresholds)

    @property
    def alerts(self) -> list[FeatureDrift]:
        return [f for f in self.features if f.status == "alert"]

    @property
    def warnings(self) -> list[FeatureDrift]:
        return [f for f in self.features if f.status == "warn"]

    @property
    def status(self) -> DriftStatus:
        if self.alerts:
            return "alert"
        return "warn" if self.warnings else "ok"

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "drifted": [f.feature for f in self.alerts],
            "features": [asdict(f) for f in self.features],
            "thresholds": asdict(self.thresholds),
        }


def _clean(values: Sequence[float | None], name: str) -> Any:
    import numpy as np

    arr = np.asarray([v for v in values if v is not None], dtype=float)
    arr = arr[~np.isnan(arr)]
    if arr.size == 0:
        raise ValueError(f"{name}: no non-null numeric values to compare")
    return arr


def population_stability_index(
    reference: Sequence[float | None], current: Sequence[float | None], bins: int = 10
) -> float:
    """PSI = Σ (cur% − ref%) · ln(cur% / ref%) over bins cut at the reference's quantiles.

    Quantile bins give every bin ~equal reference mass, so a shift in any region of the distribution shows up.
    """
    import numpy as np

    ref = _clean(reference, "reference")
    cur = _clean(current, "current")
    distinct = np.unique(ref)
    if distinct.size <= bins:  # discrete-valued column: one bin per value (and one above the largest)
        cuts = np.append(distinct, np.nextafter(distinct[-1], np.inf))
    else:
        cuts = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1))[1:-1])
    # Open-ended outer bins, so current values outside the reference range are counted, not lost.
    edges = np.concatenate(([-np.inf], cuts, [np.inf]))
    ref_pct = np.histogram(ref, edges)[0] / ref.size
    cur_pct = np.histogram(cur, edges)[0] / cur.size
    ref_pct = np.clip(ref_pct, _PSI_EPSILON, None)
    cur_pct = np.clip(cur_pct, _PSI_EPSILON, None)
    return float(np.sum((cur_pct - ref_pct) * np.log(cur_pct / ref_pct)))


def ks_test(reference: Sequence[float | None], current: Sequence[float | None]) -> tuple[float, float]:
    """Two-sample Kolmogorov–Smirnov test: (statistic, p-value)."""
    from scipy.stats import ks_2samp

    result = ks_2samp(_clean(reference, "reference"), _clean(current, "current"))
    return float(result.statistic), float(result.pvalue)


def feature_drift(
    feature: str,
    reference: Sequence[float | None],
    current: Sequence[float | None],
    thresholds: DriftThresholds | None = None,
) -> FeatureDrift:
    t = thresholds or DriftThresholds()
    psi = population_stability_index(reference, current, t.bins)
    ks_stat, ks_p = ks_test(reference, current)
    ks_drift = ks_p < t.ks_pvalue and ks_stat >= t.ks_min_statistic
    status: DriftStatus
    if psi >= t.psi_alert or ks_drift:
        status = "alert"
    elif psi >= t.psi_warn:
        status = "warn"
    else:
        status = "ok"
    return FeatureDrift(feature, round(psi, 6), round(ks_stat, 6), ks_p, status)


def detect_drift(
    reference: Mapping[str, Sequence[float | None]],
    current: Mapping[str, Sequence[float | None]],
    thresholds: DriftThresholds | None = None,
) -> DriftReport:
    """Compare every reference feature with the current batch; a feature missing from the batch is an error."""
    t = thresholds or DriftThresholds()
    missing = sorted(set(reference) - set(current))
    if missing:
        raise ValueError(f"current batch is missing feature(s) {missing} present in the reference")
    return DriftReport(tuple(feature_drift(name, reference[name], current[name], t) for name in sorted(reference)), t)


def enforce_drift_gate(report: DriftReport) -> DriftReport:
    """The quality gate: pass the report through, or raise DriftAlert when any feature is beyond its threshold."""
    if report.alerts:
        raise DriftAlert(report)
    return report


def profile_column(values: Sequence[float | None]) -> dict[str, float | int | None]:
    """A statistical profile of one numeric column: counts, null rate, moments and quartiles."""
    import numpy as np

    total = len(values)
    present = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    nulls = total - len(present)
    if not present:
        return {"count": total, "nulls": nulls, "null_rate": 1.0 if total else 0.0, "distinct": 0,
                "mean": None, "std": None, "min": None, "p25": None, "p50": None, "p75": None, "max": None}
    arr = np.asarray(present, dtype=float)
    p25, p50, p75 = (float(q) for q in np.quantile(arr, [0.25, 0.5, 0.75]))
    return {
        "count": total,
        "nulls": nulls,
        "null_rate": nulls / total,
        "distinct": int(np.unique(arr).size),
        "mean": float(arr.mean()),
        "std": float(arr.std(ddof=1)) if arr.size > 1 else 0.0,
        "min": float(arr.min()),
        "p25": p25,
        "p50": p50,
        "p75": p75,
        "max": float(arr.max()),
    }
