"""Feast feature store for the churn model (phase 18): definitions, offline (file) store, online store on Redis,
materialisation and freshness checks.

The repository is built in code (RepoConfig + objects), not from a checked-in feature_store.yaml, because the
online store's Redis address and password come from the `redis_default` Airflow connection at run time — a
password never lands in a file. Feast is imported inside functions: it takes seconds to import.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

PROJECT = "churn"
FEATURE_VIEW = "customer_stats"
FEATURES = ("total_orders", "avg_amount", "days_since_last_order")
TTL = timedelta(days=2)


def redis_connection_string(host: str, port: int | None, password: str | None, db: int | None = None) -> str:
    """Feast's Redis connection string: `host:port[,password=...][,db=N]`."""
    if not host:
        raise ValueError("redis connection has no host")
    parts = [f"{host}:{port or 6379}"]
    if password:
        parts.append(f"password={password}")
    if db is not None:
        parts.append(f"db={db}")
    return ",".join(parts)


def redis_connection_string_from_airflow(conn_id: str = "redis_default") -> str:
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    db = (conn.extra_dejson or {}).get("db")
    return redis_connection_string(conn.host or "", conn.port, conn.password, int(db) if db is not None else None)


def compute_customer_stats(orders: Sequence[Mapping[str, Any]], as_of: datetime) -> list[dict[str, Any]]:
    """Batch feature computation: one row per customer with the feature values and their event timestamp."""
    per_customer: dict[str, list[Mapping[str, Any]]] = {}
    for o in orders:
        per_customer.setdefault(str(o["customer_id"]), []).append(o)
    rows = []
    for customer, items in sorted(per_customer.items()):
        last = max(datetime.fromisoformat(str(i["ordered_at"])) for i in items)
        rows.append({
            "customer_id": customer,
            "total_orders": len(items),
            "avg_amount": round(sum(float(i["amount"]) for i in items) / len(items), 4),
            "days_since_last_order": max(0, (as_of - last).days),
            "event_timestamp": as_of,
        })
    return rows


def synthetic_orders(as_of: datetime, customers: int = 8, per_customer: int = 5) -> list[dict[str, Any]]:
    return [{"customer_id": f"c{c:03d}", "amount": 10.0 + 7 * c + i,
             "ordered_at": (as_of - timedelta(days=c + i * 3)).isoformat()}
            for c in range(customers) for i in range(per_customer)]


def write_source(rows: Sequence[Mapping[str, Any]], path: Path) -> Path:
    import pandas as pd

    path.parent.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(list(rows))
    frame["event_timestamp"] = pd.to_datetime(frame["event_timestamp"], utc=True)
    frame.to_parquet(path, index=False)
    return path


def definitions(source_path: Path) -> list[Any]:
    from feast import Entity, FeatureView, Field, FileSource, ValueType
    from feast.types import Float64, Int64

    customer = Entity(name="customer", join_keys=["customer_id"], value_type=ValueType.STRING)
    source = FileSource(name="customer_stats_source", path=str(source_path), timestamp_field="event_timestamp")
    view = FeatureView(
        name=FEATURE_VIEW, entities=[customer], ttl=TTL, online=True, source=source,
        schema=[Field(name="total_orders", dtype=Int64), Field(name="avg_amount", dtype=Float64),
                Field(name="days_since_last_order", dtype=Int64)],
        tags={"team": "ml", "classification": "Confidential"},
    )
    return [customer, view]


def store(repo_dir: Path, redis_connection: str) -> Any:
    from feast import FeatureStore, RepoConfig
    from feast.infra.offline_stores.dask import DaskOfflineStoreConfig  # feast 0.67: the "file" store is the dask one
    from feast.infra.online_stores.redis import RedisOnlineStoreConfig

    repo_dir.mkdir(parents=True, exist_ok=True)
    config = RepoConfig(project=PROJECT, provider="local", registry=str(repo_dir / "registry.db"),
                        offline_store=DaskOfflineStoreConfig(type="file"),
                        online_store=RedisOnlineStoreConfig(connection_string=redis_connection),
                        entity_key_serialization_version=3, repo_path=str(repo_dir))
    return FeatureStore(config=config)


def online_features(fs: Any, customer_ids: Sequence[str]) -> dict[str, list[Any]]:
    refs = [f"{FEATURE_VIEW}:{f}" for f in FEATURES]
    return fs.get_online_features(features=refs, entity_rows=[{"customer_id": c} for c in customer_ids]).to_dict()


def training_frame(fs: Any, customer_ids: Sequence[str], at: datetime) -> Any:
    """Point-in-time correct training data from the offline store."""
    import pandas as pd

    entity_df = pd.DataFrame({"customer_id": list(customer_ids), "event_timestamp": pd.to_datetime([at] * len(customer_ids), utc=True)})
    return fs.get_historical_features(entity_df=entity_df, features=[f"{FEATURE_VIEW}:{f}" for f in FEATURES]).to_df()


def freshness_problems(online: Mapping[str, Sequence[Any]], expected: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Online values must exist for every customer and equal what was just materialised (stale or missing → listed)."""
    problems = []
    for idx, customer in enumerate(online["customer_id"]):
        want = expected.get(customer)
        if want is None:
            problems.append(f"{customer}: no computed features")
            continue
        for feature in FEATURES:
            got = online[feature][idx]
            if got is None:
                problems.append(f"{customer}.{feature}: missing in online store")
            elif abs(float(got) - float(want[feature])) > 1e-6:
                problems.append(f"{customer}.{feature}: online {got} != computed {want[feature]} (stale)")
    return problems


def feature_age_problems(computed_at: datetime, now: datetime, max_age: timedelta) -> list[str]:
    age = now - computed_at
    return [f"features are {age} old, more than the {max_age} freshness SLA"] if age > max_age else []
