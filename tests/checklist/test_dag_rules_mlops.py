"""checklist.dag_rules, MLOps group: each rule judges behaviour (the runbook command against the DAG, the drift gate and
the A/B decision on data), and a negative fixture per rule proves it can fail."""

from __future__ import annotations

import pytest

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
