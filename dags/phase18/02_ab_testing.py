"""A/B testing orchestration: experiment config, traffic allocation, statistical significance, winner deployment.

The experiment config is a DAG param validated by `common.experiments.Experiment` (shares must sum to 1, the
control must be a variant, unknown keys are errors). Users are bucketed by a stable hash, outcomes are
collected (simulated here with seeded true conversion rates), and every treatment is compared with control by a
two-proportion z-test cross-checked with scipy's chi-square (Bonferroni-corrected alpha). Only a significant,
large-enough, material uplift wins; the winner's model version then gets the `champion` alias in the MLflow
registry — deployment is an alias move — and no winner leaves production untouched.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Param, task

from common.defaults import platform_default_args

DEFAULT_EXPERIMENT = {
    "name": "churn_offer_2026q4",
    "variants": {"control": 0.5, "discount_10": 0.25, "free_shipping": 0.25},
    "control": "control",
    "alpha": 0.05,
    "min_samples_per_variant": 500,
    "min_relative_uplift": 0.05,
}

with DAG(
    dag_id="phase18_02_ab_testing",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    default_args=platform_default_args("team-ml"),
    params={
        "experiment": Param(DEFAULT_EXPERIMENT, type="object"),
        "users": Param(20000, type="integer", minimum=100),
        "true_rates": Param({"control": 0.10, "discount_10": 0.13, "free_shipping": 0.10}, type="object"),
        "model_name": Param("churn_offer_policy", type="string"),
    },
    tags=["phase18", "mlops", "ab-testing", "team:ml"],
    doc_md=__doc__,
):

    @task
    def validate_experiment(**context) -> dict:
        from dataclasses import asdict

        from common.experiments import Experiment

        return asdict(Experiment.from_mapping(context["params"]["experiment"]))

    @task
    def allocate_and_collect(exp: dict, **context) -> dict:
        from common.experiments import Experiment, allocation_counts, simulate_outcomes

        experiment = Experiment(**exp)
        users = [f"user-{i}" for i in range(int(context["params"]["users"]))]
        return {"allocation": allocation_counts(experiment, users),
                "outcomes": simulate_outcomes(experiment, users, context["params"]["true_rates"])}

    @task
    def analyse(exp: dict, collected: dict) -> dict:
        from common.experiments import Experiment, decide

        return decide(Experiment(**exp), collected["outcomes"])

    @task(retries=3, retry_delay=timedelta(seconds=10), execution_timeout=timedelta(minutes=5))
    def deploy_winner(decision: dict, **context) -> dict:
        """Register one model version per variant (tagged with the variant) and alias the winner as champion."""
        from common.mlflow_registry import ensure_variant_versions
        from common.model_promotion import MlflowAliases, tracking_uri_from_connection

        uri = tracking_uri_from_connection(conn_id="mlflow_default")
        name = context["params"]["model_name"]
        versions = ensure_variant_versions(uri, name, list(context["params"]["experiment"]["variants"]))
        aliases = MlflowAliases(name, uri)
        current = aliases.version_for("champion")
        winner_version = versions[decision["winner"]]
        if current != winner_version:
            aliases.promote(winner_version, "production")
        return {"winner": decision["winner"], "version": winner_version, "previous": current, "reason": decision["reason"]}

    exp = validate_experiment()
    deploy_winner(analyse(exp, allocate_and_collect(exp)))
