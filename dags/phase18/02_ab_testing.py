"""A/B testing of two real models: experiment config, traffic allocation, a prediction log, statistical significance,
winner deployment through the MLflow registry.

Teaches: an experiment is more than a coin flip per user. validate_experiment checks the config
(`common.experiments.Experiment`: shares sum to 1, the control is a variant, unknown keys are errors) and the model
every variant serves (`VariantModel`: a scikit-learn estimator, its features, its hyper-parameters). land_customers
writes this experiment's customers to the warehouse (Postgres, `ml_churn_customers`): a labelled training cohort
and an experiment cohort whose churn is only known later (`ml_churn_outcomes`); broken records go to
`ml_quarantine`, never dropped. train_variants fits each variant on the training cohort read back from Postgres,
logs it to MLflow and registers it as a version tagged with its variant. serve_traffic routes every experiment
customer to a variant by a stable hash, scores it with that variant's model loaded from MLflow and logs each
prediction (`ml_ab_predictions`: variant, model version, score, decision). record_outcomes joins the observed
churn onto the log once it is known (customers still pending stay out of the analysis). analyse compares, from the
log alone, the share of predictions each variant got right with a two-proportion z-test (chi-square cross-check,
Bonferroni-corrected alpha); only a significant, large-enough, material uplift wins, and deploy_winner gives the
winner's version the `champion` alias (deployment is an alias move); no winner means the control is champion.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Param, task

from common.dag_header import platform_dag

WAREHOUSE_CONN_ID = "postgres_default"
MLFLOW_CONN_ID = "mlflow_default"
SERVICE_TASK = {"retries": 2, "retry_delay": timedelta(seconds=10), "execution_timeout": timedelta(minutes=10)}

DEFAULT_EXPERIMENT = {
    "name": "churn_model_2026q4",
    "variants": {"usage_logreg": 0.5, "full_gbm": 0.5},
    "control": "usage_logreg",
    "alpha": 0.05,
    "min_samples_per_variant": 500,
    "min_relative_uplift": 0.02,
}
DEFAULT_MODELS = {
    "usage_logreg": {"kind": "logistic_regression", "features": ["tenure_months", "monthly_spend"], "params": {"C": 1.0}},
    "full_gbm": {"kind": "gradient_boosting", "features": ["tenure_months", "monthly_spend", "support_tickets"],
                 "params": {"n_estimators": 100, "max_depth": 3}},
}

with platform_dag(
    __file__, __doc__, owner="team-ml", team="ml", tags=["mlops", "ab-testing"], schedule=None, max_active_runs=1,
    params={
        "experiment": Param(DEFAULT_EXPERIMENT, type="object"),
        "variant_models": Param(DEFAULT_MODELS, type="object", description="variant → {kind, features, params}"),
        "training_customers": Param(3000, type="integer", minimum=200),
        "experiment_customers": Param(6000, type="integer", minimum=100),
        "model_name": Param("churn_model_ab", type="string"),
    },
):

    @task
    def validate_experiment(**context) -> dict:
        from dataclasses import asdict

        from common.experiments import Experiment, variant_models
        from common.resilience import no_retry_on

        with no_retry_on(ValueError, KeyError, TypeError):  # an invalid config is invalid on every try
            exp = Experiment.from_mapping(context["params"]["experiment"])
            models = variant_models(exp, context["params"]["variant_models"])
        return {"experiment": asdict(exp), "models": {v: asdict(m) for v, m in models.items()}}

    @task(**SERVICE_TASK)
    def land_customers(config: dict, **context) -> dict:
        """The warehouse load this experiment reads: customers, later outcomes, and the quarantine of broken rows."""
        import zlib

        from airflow.providers.postgres.hooks.postgres import PostgresHook

        from common import ml_store
        from common.churn_data import customer_batch, split_valid, with_bad_records

        name, params = config["experiment"]["name"], context["params"]
        seed = zlib.crc32(name.encode())
        training = with_bad_records(customer_batch(params["training_customers"], seed=seed, prefix="t"), "train")
        arriving = with_bad_records(customer_batch(params["experiment_customers"], seed=seed + 1, prefix="x"), "exp")
        train_ok, train_bad = split_valid(training)
        exp_ok, exp_bad = split_valid(arriving)
        # churn is observed a while after serving: the newest 5% of the cohort has no outcome yet
        outcomes = {r["customer_id"]: r["churned"] for r in exp_ok if r["seq"] % 20 != 19}
        conn = PostgresHook(postgres_conn_id=WAREHOUSE_CONN_ID).get_conn()
        try:
            ml_store.ensure_tables(conn)
            ml_store.replace_customers(conn, name, "training", train_ok)
            ml_store.replace_customers(conn, name, "experiment", exp_ok)
            ml_store.replace_outcomes(conn, name, outcomes)
            ml_store.replace_quarantine(conn, context["dag"].dag_id, context["run_id"], "training", train_bad)
            ml_store.replace_quarantine(conn, context["dag"].dag_id, context["run_id"], "experiment", exp_bad)
            conn.commit()
        finally:
            conn.close()
        return {"training": len(train_ok), "experiment": len(exp_ok), "outcomes": len(outcomes),
                "quarantined": len(train_bad) + len(exp_bad)}

    @task(**SERVICE_TASK)
    def train_variants(config: dict, landed: dict, **context) -> dict:
        """Fit every variant on the training cohort read back from the warehouse; log and register it in MLflow."""
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        from common import ml_store
        from common.experiments import VariantModel, train_variant
        from common.mlflow_registry import register_sklearn_model
        from common.model_promotion import tracking_uri_from_connection

        name = config["experiment"]["name"]
        conn = PostgresHook(postgres_conn_id=WAREHOUSE_CONN_ID).get_conn()
        try:
            records = ml_store.load_customers(conn, name, "training")
        finally:
            conn.close()
        uri = tracking_uri_from_connection(conn_id=MLFLOW_CONN_ID)
        trained = {}
        for variant, raw in sorted(config["models"].items()):
            spec = VariantModel(raw["kind"], tuple(raw["features"]), raw["params"])
            model, metrics = train_variant(spec, records)
            version, model_uri = register_sklearn_model(
                uri, context["params"]["model_name"], model, metrics,
                {"variant": variant, "experiment": name, "kind": spec.kind},
                {"features": ",".join(spec.features), **spec.params}, trusted_types=spec.trusted_types)
            trained[variant] = {"version": version, "model_uri": model_uri, "metrics": metrics}
        return trained

    @task(**SERVICE_TASK)
    def serve_traffic(config: dict, trained: dict, **context) -> dict:
        """Every experiment customer is served by its variant's model from MLflow; every prediction is logged."""
        from collections import Counter

        from airflow.providers.postgres.hooks.postgres import PostgresHook

        from common import ml_store
        from common.experiments import Experiment, VariantModel, serve
        from common.mlflow_registry import load_sklearn_model
        from common.model_promotion import tracking_uri_from_connection

        exp = Experiment(**config["experiment"])
        uri = tracking_uri_from_connection(conn_id=MLFLOW_CONN_ID)
        models = {v: load_sklearn_model(uri, t["model_uri"]) for v, t in trained.items()}
        specs = {v: VariantModel(m["kind"], tuple(m["features"]), m["params"]) for v, m in config["models"].items()}
        conn = PostgresHook(postgres_conn_id=WAREHOUSE_CONN_ID).get_conn()
        try:
            requests = ml_store.load_customers(conn, exp.name, "experiment")
            log = serve(exp, models, specs, {v: t["version"] for v, t in trained.items()}, requests)
            ml_store.replace_predictions(conn, exp.name, context["run_id"], log)
            conn.commit()
        finally:
            conn.close()
        return dict(Counter(row["variant"] for row in log))

    @task(**SERVICE_TASK)
    def record_outcomes(config: dict, served: dict) -> dict:
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        from common import ml_store

        conn = PostgresHook(postgres_conn_id=WAREHOUSE_CONN_ID).get_conn()
        try:
            joined = ml_store.attach_outcomes(conn, config["experiment"]["name"])
            conn.commit()
        finally:
            conn.close()
        return joined

    @task(**SERVICE_TASK)
    def analyse(config: dict, joined: dict) -> dict:
        """The decision comes from the prediction log in the warehouse, nothing else."""
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        from common import ml_store
        from common.experiments import Experiment, decide

        exp = Experiment(**config["experiment"])
        conn = PostgresHook(postgres_conn_id=WAREHOUSE_CONN_ID).get_conn()
        try:
            outcomes = ml_store.variant_outcomes(conn, exp.name)
        finally:
            conn.close()
        return {**decide(exp, outcomes), "outcomes": outcomes, "pending": joined["pending"]}

    @task(**SERVICE_TASK)
    def deploy_winner(decision: dict, trained: dict, **context) -> dict:
        """The winner's registered version becomes champion; the version of every variant keeps its tag."""
        from common.model_promotion import MlflowAliases, tracking_uri_from_connection

        aliases = MlflowAliases(context["params"]["model_name"], tracking_uri_from_connection(conn_id=MLFLOW_CONN_ID))
        current = aliases.version_for("champion")
        winner_version = trained[decision["winner"]]["version"]
        if current != winner_version:
            aliases.promote(winner_version, "production")
        return {"winner": decision["winner"], "version": winner_version, "previous": current, "reason": decision["reason"]}

    config = validate_experiment()
    trained = train_variants(config, land_customers(config))
    decision = analyse(config, record_outcomes(config, serve_traffic(config, trained)))
    deploy_winner(decision, trained)
