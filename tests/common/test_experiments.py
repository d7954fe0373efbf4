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
    outcome = {"control": {"users": 10000, "conversions": 1000}, "b": {"users": 5000, "conversions": 700},
               "c": {"users": 5000, "conversions": 505}}
    decision = ex.decide(exp, outcome)
    assert decision["winner"] == "b" and decision["comparisons"]["b"]["significant"]
    assert not decision["comparisons"]["c"]["wins"] and decision["alpha_corrected"] == pytest.approx(0.025)
    flat = ex.decide(exp, {**outcome, "b": {"users": 5000, "conversions": 510}})
    assert flat["winner"] == "control" and flat["reason"] == "no treatment beat control significantly"
    with pytest.raises(ValueError, match=r"no logged outcomes for variant\(s\) \['c'\]"):
        ex.decide(exp, {k: v for k, v in outcome.items() if k != "c"})


def test_variant_models_are_validated_against_the_experiment() -> None:
    exp = ex.Experiment.from_mapping(CONFIG)
    good = {"control": {"kind": "logistic_regression", "features": ["tenure_months"]},
            "b": {"kind": "gradient_boosting", "features": ["tenure_months", "support_tickets"], "params": {"max_depth": 2}}}
    specs = ex.variant_models(exp, good)
    assert specs["b"].features == ("tenure_months", "support_tickets") and specs["b"].trusted_types
    assert specs["control"].trusted_types == ()
    for bad, message in [
        ({"control": good["control"]}, r"models for \['control'\] but variants"),
        ({**good, "b": {"kind": "svm", "features": ["tenure_months"]}}, "kind must be one of"),
        ({**good, "b": {"kind": "random_forest", "features": ["age"]}}, "features must be a non-empty subset"),
        ({**good, "b": {**good["b"], "depth": 3}}, r"unknown key\(s\) \['depth'\]"),
    ]:
        with pytest.raises(ex.ExperimentConfigError, match=message):
            ex.variant_models(exp, bad)


def test_served_predictions_are_logged_per_variant_and_judged_by_their_outcomes() -> None:
    """Two real models on the churn data: the one that sees support tickets is right more often, significantly."""
    from common.churn_data import customer_batch

    exp = ex.Experiment.from_mapping({**CONFIG, "variants": {"control": 0.5, "b": 0.5}})
    specs = ex.variant_models(exp, {
        "control": {"kind": "logistic_regression", "features": ["tenure_months", "monthly_spend"]},
        "b": {"kind": "gradient_boosting", "features": ["tenure_months", "monthly_spend", "support_tickets"]},
    })
    trained = {v: ex.train_variant(s, customer_batch(1500, seed=1)) for v, s in specs.items()}
    assert trained["b"][1]["roc_auc"] > trained["control"][1]["roc_auc"]
    requests = customer_batch(3000, seed=2, prefix="x")
    log = ex.serve(exp, {v: m for v, (m, _) in trained.items()}, specs, {"control": "1", "b": "2"}, requests)
    assert len(log) == 3000 and len({row["request_id"] for row in log}) == 3000
    assert all(row["variant"] == ex.assign_variant(exp, row["customer_id"]) for row in log)
    assert {row["model_version"] for row in log if row["variant"] == "b"} == {"2"}
    assert ex.outcomes_from_log(log) == {}, "no outcome observed yet: nothing to judge"
    observed = {r["customer_id"]: r["churned"] for r in requests}
    for row in log[::10]:
        row["outcome"] = observed[row["customer_id"]]
    judged = ex.outcomes_from_log(log)
    assert sum(v["users"] for v in judged.values()) == 300
    full = [{**row, "outcome": observed[row["customer_id"]]} for row in log]
    decision = ex.decide(exp, ex.outcomes_from_log(full))
    assert decision["winner"] == "b", decision


def test_small_samples_never_win() -> None:
    exp = ex.Experiment.from_mapping({**CONFIG, "min_samples_per_variant": 5000})
    outcome = {"control": {"users": 1000, "conversions": 100}, "b": {"users": 1000, "conversions": 200}}
    decision = ex.decide(exp, outcome)
    assert decision["comparisons"]["b"]["significant"] and not decision["comparisons"]["b"]["enough_samples"]
    assert decision["winner"] == "control"
