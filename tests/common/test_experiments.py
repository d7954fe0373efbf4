"""common.experiments: config validation, deterministic allocation, scipy significance, winner decision."""

from __future__ import annotations

import pytest

from common import experiments as ex

CONFIG = {"name": "e", "variants": {"control": 0.5, "b": 0.5}, "control": "control", "min_samples_per_variant": 100}


def test_config_validation_names_the_problem() -> None:
    assert ex.Experiment.from_mapping(CONFIG).variants == {"control": 0.5, "b": 0.5}
    for bad, message in [
        ({**CONFIG, "variants": {"control": 0.5, "b": 0.6}}, "sum to 1.1"),
        ({**CONFIG, "control": "a"}, "control 'a' is not a variant"),
        ({**CONFIG, "variants": {"control": 1.0}}, "at least two"),
        ({**CONFIG, "traffic": 1}, r"unknown key\(s\) \['traffic'\]"),
        ({k: v for k, v in CONFIG.items() if k != "control"}, "missing required key 'control'"),
    ]:
        with pytest.raises(ex.ExperimentConfigError, match=message):
            ex.Experiment.from_mapping(bad)


def test_allocation_is_deterministic_and_follows_the_shares() -> None:
    exp = ex.Experiment.from_mapping({**CONFIG, "variants": {"control": 0.8, "b": 0.2}})
    assert ex.assign_variant(exp, "user-1") == ex.assign_variant(exp, "user-1")
    counts = ex.allocation_counts(exp, [f"u{i}" for i in range(20000)])
    assert abs(counts["control"] / 20000 - 0.8) < 0.02


def test_two_proportion_test_agrees_with_scipy_chi_square() -> None:
    stats = ex.two_proportion_test(100, 1000, 150, 1000)
    assert stats["p_value"] == pytest.approx(stats["chi2_p_value"], rel=1e-6)  # z² = χ² without continuity correction
    assert stats["p_value"] < 0.001 and stats["relative_uplift"] == pytest.approx(0.5)
    same = ex.two_proportion_test(100, 1000, 101, 1000)
    assert same["p_value"] > 0.5


def test_a_real_uplift_wins_and_noise_does_not() -> None:
    exp = ex.Experiment.from_mapping({**CONFIG, "variants": {"control": 0.5, "b": 0.25, "c": 0.25}, "min_relative_uplift": 0.05})
    users = [f"u{i}" for i in range(20000)]
    outcome = ex.simulate_outcomes(exp, users, {"control": 0.10, "b": 0.14, "c": 0.10})
    decision = ex.decide(exp, outcome)
    assert decision["winner"] == "b" and decision["comparisons"]["b"]["significant"]
    assert not decision["comparisons"]["c"]["wins"] and decision["alpha_corrected"] == pytest.approx(0.025)
    flat = ex.decide(exp, ex.simulate_outcomes(exp, users, {"control": 0.10, "b": 0.10, "c": 0.10}))
    assert flat["winner"] == "control" and flat["reason"] == "no treatment beat control significantly"


def test_small_samples_never_win() -> None:
    exp = ex.Experiment.from_mapping({**CONFIG, "min_samples_per_variant": 5000})
    outcome = {"control": {"users": 1000, "conversions": 100}, "b": {"users": 1000, "conversions": 200}}
    decision = ex.decide(exp, outcome)
    assert decision["comparisons"]["b"]["significant"] and not decision["comparisons"]["b"]["enough_samples"]
    assert decision["winner"] == "control"
