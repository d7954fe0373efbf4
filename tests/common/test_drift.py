"""common.drift: PSI and KS scores on known distributions, thresholds, and the gate that raises the alert."""

from __future__ import annotations

import numpy as np
import pytest

from common.drift import (
    DriftAlert,
    DriftThresholds,
    detect_drift,
    enforce_drift_gate,
    feature_drift,
    ks_test,
    population_stability_index,
    profile_column,
)

RNG = np.random.default_rng(42)
REFERENCE = RNG.normal(100, 15, 3000)
SAME = RNG.normal(100, 15, 3000)
SHIFTED = RNG.normal(125, 15, 3000)


def test_psi_is_near_zero_for_the_same_distribution_and_large_for_a_shift() -> None:
    assert population_stability_index(REFERENCE, SAME) < 0.02
    assert population_stability_index(REFERENCE, SHIFTED) > 0.5


def test_psi_counts_values_outside_the_reference_range() -> None:
    # Every current value is above the reference maximum: all mass moves to the open top bin.
    assert population_stability_index(list(range(100)), [1000.0] * 50) > 1.0


def test_psi_handles_discrete_and_constant_columns() -> None:
    assert population_stability_index([5] * 100, [5] * 100) == 0.0
    assert population_stability_index([5] * 100, [5] * 50 + [6] * 50) > 1.0
    assert population_stability_index([0, 1] * 50, [0] * 80 + [1] * 20) == pytest.approx(0.416, abs=0.01)


def test_ks_test_matches_scipy_semantics() -> None:
    stat_same, p_same = ks_test(REFERENCE, SAME)
    stat_shift, p_shift = ks_test(REFERENCE, SHIFTED)
    assert p_same > 0.01 and stat_same < 0.05
    assert p_shift < 1e-10 and stat_shift > 0.5


def test_nulls_are_ignored_but_an_all_null_batch_is_an_error() -> None:
    assert population_stability_index([1.0, 2.0, None, 3.0] * 10, [1.0, 2.0, 3.0] * 10) < 0.01
    with pytest.raises(ValueError, match="current: no non-null"):
        ks_test([1.0, 2.0], [None, None])


def test_feature_status_follows_thresholds() -> None:
    assert feature_drift("x", REFERENCE, SAME).status == "ok"
    assert feature_drift("x", REFERENCE, SHIFTED).status == "alert"
    mild = RNG.normal(104, 15, 3000)
    lenient = DriftThresholds(psi_warn=0.01, psi_alert=5.0, ks_pvalue=1e-300)
    assert feature_drift("x", REFERENCE, mild, lenient).status == "warn"


def test_gate_passes_stable_data_and_raises_naming_the_drifted_feature() -> None:
    report = detect_drift({"amount": REFERENCE, "age": REFERENCE}, {"amount": SAME, "age": SHIFTED})
    assert report.status == "alert"
    assert [f.feature for f in report.alerts] == ["age"]
    with pytest.raises(DriftAlert, match=r"1 feature\(s\): age \(psi="):
        enforce_drift_gate(report)
    stable = detect_drift({"amount": REFERENCE}, {"amount": SAME})
    assert enforce_drift_gate(stable) is stable
    assert stable.to_dict()["drifted"] == []


def test_missing_feature_and_bad_thresholds_are_clear_errors() -> None:
    with pytest.raises(ValueError, match=r"missing feature\(s\) \['age'\]"):
        detect_drift({"age": REFERENCE}, {"amount": SAME})
    with pytest.raises(ValueError, match="psi_warn"):
        DriftThresholds(psi_warn=0.5, psi_alert=0.2)
    with pytest.raises(ValueError, match=r"unknown drift threshold key\(s\) \['psi_alrt'\]"):
        DriftThresholds.from_mapping({"psi_alrt": 0.3})
    assert DriftThresholds.from_mapping({"psi_alert": 0.3}).psi_alert == 0.3


def test_profile_column() -> None:
    profile = profile_column([1.0, 2.0, 3.0, None, 4.0])
    assert profile["count"] == 5 and profile["nulls"] == 1 and profile["null_rate"] == 0.2
    assert profile["mean"] == 2.5 and profile["min"] == 1.0 and profile["max"] == 4.0 and profile["p50"] == 2.5
    assert profile["distinct"] == 4
    assert profile_column([None, None])["mean"] is None
