"""checklist.dag_rules, MLOps group: each rule judges behaviour (the runbook command against the DAG, the drift gate and
the A/B decision on data), and a negative fixture per rule proves it can fail."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, Asset, task

from checklist import dag_rules


@pytest.fixture(scope="module")
def ctx(dagbag) -> dag_rules.Context:  # noqa: ANN001
    return dag_rules.Context(dagbag, {})


def test_the_runbooks_rollback_command_is_one_the_dag_takes(ctx: dag_rules.Context) -> None:
    result = next(run for _, item, run in dag_rules.RULES if item == "Model rollback procedures documented")(ctx)
    assert result.ok, result.evidence
    assert any('"action": "rollback"' in e for e in result.evidence)


@pytest.mark.parametrize("text,problem", [
    ("""airflow dags trigger phase18_03_auto_retraining --conf '{"undo": true}'""", "conf key 'undo' is not a param"),
    ("""airflow dags trigger phase18_03_auto_retraining --conf '{"action": "revert"}'""", "action='revert' is not one of"),
    ("""airflow dags trigger phase99_nothing --conf '{"action": "rollback"}'""", "no such DAG"),
])
def test_a_documented_command_the_dag_does_not_take_fails(ctx: dag_rules.Context, text: str, problem: str) -> None:
    _, problems = dag_rules.runbook_trigger_problems(ctx, text)
    assert any(problem in p for p in problems), problems


# --- the MLOps rules judge behaviour, and can fail ------------------------------------------------------------------
def _run(ctx: dag_rules.Context, item: str) -> dag_rules.Result:
    return next(run for _, name, run in dag_rules.RULES if name == item)(ctx)


def test_the_drift_and_ab_rules_pass_on_the_real_implementations(ctx: dag_rules.Context) -> None:
    for item in ("Model drift detection thresholds set", "A/B test statistical significance defined"):
        result = _run(ctx, item)
        assert result.ok, (item, result.evidence)


def test_a_drift_gate_that_never_fires_fails_the_rule() -> None:
    from common.drift import detect_drift

    problems = dag_rules.drift_gate_problems(detect_drift, lambda report: report)  # a gate that lets everything pass
    assert problems == ["a batch shifted by 1.5 sd passed the drift gate"]


def test_an_ab_decision_without_a_significance_test_fails_the_rule() -> None:
    from common.experiments import Experiment

    def higher_rate_wins(experiment, outcomes):  # noqa: ANN001, ANN202 - picks the bigger rate, no test at all
        rates = {v: o["conversions"] / o["users"] for v, o in outcomes.items()}
        return {"winner": max(rates, key=rates.get)}

    problems = dag_rules.ab_decision_problems(higher_rate_wins, Experiment("x", {"control": 0.5, "treatment": 0.5}, "control"))
    assert "a 1% difference (noise) won" in problems and "50 users per arm were enough to decide" in problems


# --- every MLOps rule can fail as a rule, not only through its helper ------------------------------------------------
COVERED = [
    "Feature store materialization scheduled",
    "Model drift detection thresholds set",
    "Champion/Challenger framework in place",
    "A/B test statistical significance defined",
    "Automated retraining triggers configured",
    "Model rollback procedures documented",
]


def _fake(dags: list[Any]) -> dag_rules.Context:
    return dag_rules.Context(SimpleNamespace(dags={d.dag_id: d for d in dags}), {})


def test_a_drift_gate_that_never_fires_fails_the_rule_itself(ctx: dag_rules.Context, monkeypatch: pytest.MonkeyPatch) -> None:
    from common import drift

    monkeypatch.setattr(drift, "enforce_drift_gate", lambda report, *args, **kwargs: report)
    result = _run(ctx, "Model drift detection thresholds set")
    assert not result.ok
    assert result.evidence == ["a batch shifted by 1.5 sd passed the drift gate"]


def test_an_ab_decision_without_a_test_fails_the_rule_itself(ctx: dag_rules.Context, monkeypatch: pytest.MonkeyPatch) -> None:
    from common import experiments

    def higher_rate_wins(experiment, outcomes):  # noqa: ANN001, ANN202
        rates = {v: o["conversions"] / o["users"] for v, o in outcomes.items()}
        return {"winner": max(rates, key=rates.get)}

    monkeypatch.setattr(experiments, "decide", higher_rate_wins)
    result = _run(ctx, "A/B test statistical significance defined")
    assert not result.ok
    assert result.evidence == ["a 1% difference (noise) won", "50 users per arm were enough to decide"]


def test_a_runbook_whose_command_the_dag_does_not_take_fails_the_rule(ctx: dag_rules.Context, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    runbook = tmp_path / "model-rollback.md"
    runbook.write_text("""airflow dags trigger phase18_03_auto_retraining --conf '{"action": "undo"}'\n""")
    monkeypatch.setattr(dag_rules, "ROLLBACK_RUNBOOK", runbook)
    result = _run(ctx, "Model rollback procedures documented")
    assert not result.ok
    assert len(result.evidence) == 1 and "action='undo' is not one of" in result.evidence[0]
    runbook.write_text("Roll back by hand in the MLflow UI.\n")
    assert not _run(ctx, "Model rollback procedures documented").ok  # documents no trigger


# --- feature store ----------------------------------------------------------------------------------------------------
def _feature_dag(schedule: Any, *, freshness: bool) -> Any:
    with DAG(dag_rules.FEATURE_DAG, schedule=schedule) as dag:
        materialize = EmptyOperator(task_id="apply_definitions") >> EmptyOperator(task_id="materialize")
        if freshness:
            materialize >> EmptyOperator(task_id="check_online_freshness")
    return dag


def test_scheduled_materialisation_checked_for_freshness_passes() -> None:
    result = _run(_fake([_feature_dag("@hourly", freshness=True)]), "Feature store materialization scheduled")
    assert result.ok, result.evidence


def test_unscheduled_or_unchecked_materialisation_fails() -> None:
    result = _run(_fake([_feature_dag(None, freshness=False)]), "Feature store materialization scheduled")
    assert not result.ok
    assert result.evidence == [
        "phase18_01_feature_store has no schedule: features are only materialised by hand",
        "phase18_01_feature_store.materialize: nothing checks the online store's freshness after it (downstream [])",
    ]


# --- champion / challenger --------------------------------------------------------------------------------------------
def _retrain_dag(*, branch: bool = True, schedule: Any = None, drift_first: bool = True) -> Any:
    with DAG(dag_rules.RETRAIN_DAG, schedule=schedule) as dag:
        train = EmptyOperator(task_id="train")
        if drift_first:
            EmptyOperator(task_id="detect_drift") >> train
        if branch:

            @task.branch
            def decide() -> str:
                return "promote_to_production"

            train >> decide() >> [EmptyOperator(task_id="promote_to_production"), EmptyOperator(task_id="rollback")]
    return dag


def test_the_promotion_module_and_a_deciding_dag_pass() -> None:
    result = _run(_fake([_retrain_dag()]), "Champion/Challenger framework in place")
    assert result.ok, result.evidence


def test_a_challenger_that_always_wins_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    from common import model_promotion

    monkeypatch.setattr(model_promotion, "challenger_beats_champion", lambda *args, **kwargs: True)
    result = _run(_fake([_retrain_dag()]), "Champion/Challenger framework in place")
    assert not result.ok
    assert result.evidence == ["a challenger with a worse roc_auc (0.70 < 0.80) beats the champion"]


def test_promotion_without_a_previous_champion_or_a_dag_without_a_decision_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    from common import model_promotion

    def promote_forgetting(self, version: str, stage: str) -> None:  # noqa: ANN001 - moves the alias, keeps nothing
        self.client.set_registered_model_alias(self.name, model_promotion.ALIAS_FOR_STAGE[stage], version)

    monkeypatch.setattr(model_promotion.MlflowAliases, "promote", promote_forgetting)
    result = _run(_fake([_retrain_dag(branch=False)]), "Champion/Challenger framework in place")
    assert not result.ok
    assert result.evidence[0].startswith("promoting challenger v2 did not make it champion with v1 kept as previous_champion")
    assert result.evidence[1].startswith("rollback did not restore champion v1")
    assert result.evidence[2] == "phase18_03_auto_retraining: no decision branches to both a promotion and a rollback (branches lead to [])"


# --- retraining triggers ----------------------------------------------------------------------------------------------
REQUEST = Asset("s3://fixture/retrain_requests")


def test_retraining_on_an_asset_some_dag_produces_after_a_drift_check_passes() -> None:
    with DAG("phase14_99_producer", schedule=None) as producer:
        EmptyOperator(task_id="request", outlets=[REQUEST])
    result = _run(_fake([_retrain_dag(schedule=[REQUEST]), producer]), "Automated retraining triggers configured")
    assert result.ok, result.evidence
    assert "phase18_03_auto_retraining runs on s3://fixture/retrain_requests, produced by phase14_99_producer" in result.evidence


def test_retraining_on_an_asset_nobody_produces_or_without_a_drift_check_fails() -> None:
    result = _run(_fake([_retrain_dag(schedule=[REQUEST], drift_first=False)]), "Automated retraining triggers configured")
    assert not result.ok
    assert result.evidence == ["phase18_03_auto_retraining waits on s3://fixture/retrain_requests, which no DAG produces: it never triggers",
                               "phase18_03_auto_retraining: training does not wait on a drift check"]
    result = _run(_fake([_retrain_dag(schedule=None)]), "Automated retraining triggers configured")
    assert result.evidence == ["phase18_03_auto_retraining has no schedule and no asset trigger: retraining only runs by hand"]
