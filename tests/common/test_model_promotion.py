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


def test_training_produces_a_model_that_passes_the_gates() -> None:
    model, metrics = mp.train_churn_model(seed=3, n=800)
    assert mp.gate_failures(metrics) == [] and hasattr(model, "predict_proba")
