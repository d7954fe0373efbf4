"""Feature store with Feast: feature definitions, batch feature computation into the offline (file) store,
materialisation into the online store on Redis, online/offline serving and freshness checks.

compute_features → apply_definitions → materialize → (check_online_freshness, build_training_set).
`check_online_freshness` reads the features back from Redis through Feast and fails if any value is missing or
differs from what was just computed (stale), or if the computed batch is older than the freshness SLA.
`build_training_set` does a point-in-time join from the offline store — the same definitions serve both paths.
Feast lives in the same pinned environment as Airflow here; if it ever conflicts, these tasks move to
`@task.external_python` with a separate pinned venv without changing their bodies.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import task

from common.dag_header import platform_dag

FRESHNESS_SLA = timedelta(hours=6)
FEAST_TASK = {"retries": 2, "retry_delay": timedelta(seconds=10), "execution_timeout": timedelta(minutes=10)}


def _repo_dir():
    from common.assets import lake_root

    return lake_root() / "feast" / "churn"


with platform_dag(
    __file__, __doc__, owner="team-ml", team="ml", tags=["mlops", "feast"], schedule="@hourly", max_active_runs=1,
):

    @task
    def compute_features(**context) -> dict:
        from datetime import UTC

        from common.feature_store import compute_customer_stats, synthetic_orders, write_source

        as_of = datetime.now(UTC).replace(microsecond=0)
        rows = compute_customer_stats(synthetic_orders(as_of), as_of)
        path = write_source(rows, _repo_dir() / "data" / "customer_stats.parquet")
        expected = {r["customer_id"]: {k: v for k, v in r.items() if k not in ("customer_id", "event_timestamp")} for r in rows}
        return {"source": str(path), "as_of": as_of.isoformat(), "expected": expected}

    @task(**FEAST_TASK)
    def apply_definitions(batch: dict) -> list:
        from pathlib import Path

        from common.feature_store import definitions, redis_connection_string_from_airflow, store

        fs = store(_repo_dir(), redis_connection_string_from_airflow(conn_id="redis_default"))
        objects = definitions(Path(batch["source"]))
        fs.apply(objects)
        return sorted(o.name for o in objects)

    @task(**FEAST_TASK)
    def materialize(batch: dict) -> str:
        from common.feature_store import redis_connection_string_from_airflow, store

        fs = store(_repo_dir(), redis_connection_string_from_airflow(conn_id="redis_default"))
        as_of = datetime.fromisoformat(batch["as_of"])
        fs.materialize(start_date=as_of - timedelta(days=1), end_date=as_of + timedelta(seconds=1))
        return batch["as_of"]

    @task(**FEAST_TASK)
    def check_online_freshness(batch: dict) -> dict:
        from datetime import UTC

        from common.feature_store import (
            feature_age_problems,
            freshness_problems,
            online_features,
            redis_connection_string_from_airflow,
            store,
        )

        fs = store(_repo_dir(), redis_connection_string_from_airflow(conn_id="redis_default"))
        online = online_features(fs, sorted(batch["expected"]))
        problems = freshness_problems(online, batch["expected"])
        problems += feature_age_problems(datetime.fromisoformat(batch["as_of"]), datetime.now(UTC), FRESHNESS_SLA)
        if problems:
            raise ValueError("feature freshness check failed: " + "; ".join(problems))
        return {"customers": len(online["customer_id"]), "checked_at": datetime.now(UTC).isoformat()}

    @task(**FEAST_TASK)
    def build_training_set(batch: dict) -> dict:
        from common.feature_store import redis_connection_string_from_airflow, store, training_frame

        fs = store(_repo_dir(), redis_connection_string_from_airflow(conn_id="redis_default"))
        frame = training_frame(fs, sorted(batch["expected"]), datetime.fromisoformat(batch["as_of"]) + timedelta(seconds=1))
        if frame[["total_orders", "avg_amount"]].isna().any().any():
            raise ValueError("offline store returned rows without features (point-in-time join missed)")
        return {"rows": len(frame), "columns": sorted(frame.columns)}

    batch = compute_features()
    done = apply_definitions(batch) >> materialize(batch)
    done >> [check_online_freshness(batch), build_training_set(batch)]
