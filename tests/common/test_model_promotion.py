"""common.model_promotion: the stage machine, gates, champion/challenger, canary and shadow logic."""

from __future__ import annotations

import pytest

from common import model_promotion as mp


def test_stages_advance_one_at_a_time() -> None:
    assert [mp.next_stage(s) for s in mp.STAGES[:-1]] == list(mp.STAGES[1:])
    mp.check_transition("staging", "canary")
    with pytest.raises(mp.PromotionError, match="cannot move staging → production; next stage is canary"):
        mp.check_transition("staging", "production")
    with pytest.raises(mp.PromotionError, match="already in production"):
        mp.next_stage("production")


def test_validation_gates_list_every_failure() -> None:
    assert mp.gate_failures({"accuracy": 0.9, "roc_auc": 0.95}) == []
    assert mp.gate_failures({"accuracy": 0.5}) == ["accuracy=0.5000 < 0.7", "roc_auc: missing"]


def test_challenger_vs_champion() -> None:
    assert mp.challenger_beats_champion({"roc_auc": 0.8}, None)
    assert mp.challenger_beats_champion({"roc_auc": 0.8}, {"roc_auc": 0.79})
    assert not mp.challenger_beats_champion({"roc_auc": 0.8}, {"roc_auc": 0.85})
    assert mp.challenger_beats_champion({"roc_auc": 0.84}, {"roc_auc": 0.85}, min_gain=-0.02)


def test_canary_split_is_stable_and_close_to_the_percentage() -> None:
    ids = [f"r{i}" for i in range(10000)]
    routes = mp.canary_split(ids, 10)
    assert routes == mp.canary_split(ids, 10)
    assert 800 < len(routes["canary"]) < 1200 and len(routes["canary"]) + len(routes["champion"]) == 10000
    with pytest.raises(ValueError, match="between 1 and 99"):
        mp.canary_split(ids, 100)


def test_canary_health_and_shadow_agreement() -> None:
    assert mp.canary_healthy(20, 1000, 2, 100)
    assert not mp.canary_healthy(20, 1000, 30, 100)
    assert not mp.canary_healthy(20, 1000, 0, 0)
    assert mp.shadow_agreement([1, 0, 1, 1], [1, 0, 0, 1]) == 0.75
    with pytest.raises(ValueError, match="equally long"):
        mp.shadow_agreement([1], [1, 0])


def test_training_on_records_produces_a_model_that_passes_the_gates_and_a_reproducible_holdout() -> None:
    from common.churn_data import customer_batch

    records = customer_batch(1200, seed=3)
    model, metrics = mp.train_churn_model(records)
    holdout = metrics.pop("holdout")
    assert mp.gate_failures(metrics) == [] and hasattr(model, "predict_proba")
    assert holdout == mp.holdout_split(records)[1] and len(holdout) == 300
    assert mp.evaluate(model, holdout) == {k: metrics[k] for k in ("accuracy", "roc_auc")}


def _arm(n: int, correct: int, errors: int = 0, latency: float = 1.0) -> list[dict]:
    rows = [{"predicted": 1, "outcome": 1 if i < correct else 0, "error": None, "latency_ms": latency} for i in range(n - errors)]
    return rows + [{"predicted": None, "outcome": 1, "error": "ValueError: x", "latency_ms": latency}] * errors


def test_arm_stats_measure_errors_accuracy_and_latency() -> None:
    stats = mp.arm_stats(_arm(100, 80, errors=10, latency=2.0))
    assert stats == {"requests": 100, "errors": 10, "error_rate": 0.1, "judged": 90, "correct": 80,
                     "accuracy": pytest.approx(80 / 90), "p95_latency_ms": 2.0}


def test_canary_verdict_from_scored_arms() -> None:
    champion = mp.arm_stats(_arm(800, 680))
    assert mp.canary_verdict(champion, mp.arm_stats(_arm(200, 168)))["healthy"]
    worse = mp.canary_verdict(champion, mp.arm_stats(_arm(200, 120)))
    assert not worse["healthy"] and worse["reasons"][0].startswith("accuracy 0.600 vs champion 0.850")
    slightly = mp.canary_verdict(champion, mp.arm_stats(_arm(200, 166)))  # 0.83 vs 0.85: not significant
    assert slightly["healthy"], slightly
    erroring = mp.canary_verdict(champion, mp.arm_stats(_arm(200, 168, errors=20)))
    assert not erroring["healthy"] and "error rate" in erroring["reasons"][0]
    slow = mp.canary_verdict(champion, mp.arm_stats(_arm(200, 170, latency=80.0)))
    assert slow["reasons"] == ["p95 latency 80.00 ms > 50.0 ms"]
    first = mp.canary_verdict(None, mp.arm_stats(_arm(200, 120)))
    assert first["reasons"] == ["accuracy 0.600 < 0.7 (no champion to compare with)"]
    assert mp.canary_verdict(None, mp.arm_stats(_arm(20, 20)))["reasons"] == ["only 20 canary requests (< 50)"]


def test_score_requests_counts_unscorable_requests_as_errors() -> None:
    from common.churn_data import customer_batch

    records = customer_batch(600, seed=4)
    model, _ = mp.train_churn_model(records)
    scored = mp.score_requests(model, [records[0], {**records[1], "tenure_months": None}])
    assert scored[0]["error"] is None and scored[0]["predicted"] in (0, 1) and scored[0]["latency_ms"] > 0
    assert scored[1]["predicted"] is None and "tenure_months: missing" in scored[1]["error"]
