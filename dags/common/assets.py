"""Assets (the Airflow 3 name for Datasets) shared by the phase-14 and phase-18 DAGs, and the plain logic around them.

One module owns every asset URI so producers and consumers can never disagree on a spelling: a typo in a URI
would silently create a second, never-updated asset and the consumer would simply never run.

The sales assets' URIs are real locations: `asset_object()` turns `s3://<bucket>/<prefix>` plus a partition into an
`ObjectStoragePath` on that bucket, reached through the `aws_default` connection (S3, or the local platform's moto
stand-in), and `write_jsonl`/`read_jsonl` write and read it there. `asset_path()` keeps the local mirror under
`lake_root()` for assets that are not on object storage yet (the ML retraining batches).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import Asset, AssetWatcher

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

# Schema version of the records these producers write; consumers refuse a major version they don't know.
ORDERS_SCHEMA_VERSION = "2.1"

ORDERS = Asset(
    name="raw_orders", uri="s3://landing/orders/", group="sales", extra={"owner": "team-sales", "format": "jsonl"}
)
CUSTOMERS = Asset(
    name="raw_customers", uri="s3://landing/customers/", group="sales", extra={"owner": "team-crm", "format": "jsonl"}
)
FX_RATES = Asset(
    name="fx_rates",
    uri="s3://landing/reference/fx_rates/",
    group="reference",
    extra={"owner": "team-finance", "format": "json"},
)
DAILY_SALES = Asset(
    name="daily_sales",
    uri="s3://curated/daily_sales/",
    group="sales",
    extra={"owner": "team-analytics", "format": "json"},
)
REGIONAL_SALES = {
    region: Asset(name=f"regional_sales_{region}", uri=f"s3://curated/regional_sales/{region}/", group="sales")
    for region in ("emea", "amer", "apac")
}
# Emitted when features drifted or a retraining request arrived; phase18_03_auto_retraining is scheduled on it.
MODEL_RETRAIN_REQUEST = Asset(name="churn_model_retrain_request", uri="s3://ml/churn/retrain_requests/", group="ml")

RETRAIN_TOPIC = "ml.retrain-requests"
KAFKA_CONN_ID = "kafka_default"
# The object store connection of the s3:// assets: credentials and endpoint (moto locally, S3 in the cluster).
AWS_CONN_ID = "aws_default"


def retrain_signal_asset(topics: Sequence[str] = (RETRAIN_TOPIC,), kafka_conn_id: str = KAFKA_CONN_ID) -> Asset:
    """An asset updated by the triggerer whenever a matching Kafka message arrives (event-driven scheduling).

    The MessageQueueTrigger resolves `scheme="kafka"` to the Kafka provider's AwaitMessageTrigger; the
    apply_function runs inside the triggerer, so it must be importable there (the dags folder on PYTHONPATH).
    """
    from airflow.providers.common.messaging.triggers.msg_queue import MessageQueueTrigger

    trigger = MessageQueueTrigger(
        scheme="kafka",
        topics=list(topics),
        apply_function="common.assets.accept_retrain_message",
        kafka_config_id=kafka_conn_id,
        poll_timeout=1,
        poll_interval=2,
    )
    return Asset(
        name="kafka_retrain_signal",
        uri=f"kafka://{kafka_conn_id}/{','.join(topics)}",
        group="ml",
        watchers=[AssetWatcher(name="retrain_requests_watcher", trigger=trigger)],
    )


def accept_retrain_message(message: Any) -> dict[str, Any] | None:
    """AwaitMessageTrigger apply_function: a JSON message with a `model` key fires an asset event, anything else is ignored.

    Returning None tells the trigger to keep polling; a malformed message must not wake the retraining DAG.
    """
    raw = message.value()
    try:
        payload = json.loads(raw.decode("utf-8") if isinstance(raw, bytes | bytearray) else raw)
    except (ValueError, UnicodeDecodeError, TypeError):
        return None
    if not isinstance(payload, dict) or not payload.get("model"):
        return None
    return {
        "model": str(payload["model"]),
        "reason": str(payload.get("reason", "unspecified")),
        "topic": message.topic(),
        "offset": message.offset(),
    }


def lake_root() -> Path:
    """Local mirror of the object store: PLATFORM_DATA_DIR, else $AIRFLOW_HOME/data."""
    base = os.environ.get("PLATFORM_DATA_DIR") or os.path.join(os.environ.get("AIRFLOW_HOME", "."), "data")
    return Path(base)


def _s3_location(asset: Asset) -> str:
    scheme, _, rest = asset.uri.partition("://")
    if scheme != "s3" or not rest:
        raise ValueError(f"asset {asset.name!r} has URI {asset.uri!r}; only s3://bucket/prefix/ assets map to the lake")
    return rest.rstrip("/")


def asset_path(asset: Asset, partition: str, filename: str) -> Path:
    """Where the file for one partition of an `s3://bucket/prefix/` asset lives in the local mirror."""
    return lake_root() / _s3_location(asset) / f"partition={partition}" / filename


def asset_object(asset: Asset, partition: str, filename: str, conn_id: str = AWS_CONN_ID) -> ObjectStoragePath:
    """The object for one partition of an `s3://bucket/prefix/` asset: `<asset URI>/partition=<p>/<filename>` on the
    asset's own bucket, through `conn_id`. The asset URI is the data's real address, so the asset event, the lineage
    and the object agree."""
    from airflow.sdk import ObjectStoragePath

    return ObjectStoragePath(f"s3://{_s3_location(asset)}/partition={partition}/{filename}", conn_id=conn_id)


def object_uri(path: ObjectStoragePath) -> str:
    """`s3://bucket/key` of an ObjectStoragePath, without the connection id its str() carries (`s3://conn@bucket/...`)."""
    return f"{path.protocol}://{path.bucket}/{path.key}"


def write_jsonl(path: Path | ObjectStoragePath, records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Write records whole and return what an asset event's extra should carry about them.

    A local file is written to a temporary name and renamed; an object store PUT is atomic already (readers see the
    previous object or the new one, never a part), so an ObjectStoragePath is written directly.
    """
    lines = [json.dumps(dict(r), sort_keys=True) for r in records]
    body = ("\n".join(lines) + "\n").encode() if lines else b""
    if isinstance(path, Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(body)
        tmp.replace(path)
        location = str(path)
    else:
        path.write_bytes(body)
        location = object_uri(path)
    return {"path": location, "rows": len(lines), "sha256": hashlib.sha256(body).hexdigest()}


def _read_bytes(location: str | Path, conn_id: str) -> bytes:
    if isinstance(location, str) and "://" in location:
        from airflow.sdk import ObjectStoragePath

        return ObjectStoragePath(location, conn_id=conn_id).read_bytes()
    return Path(location).read_bytes()


def read_jsonl(location: str | Path, conn_id: str = AWS_CONN_ID) -> list[dict[str, Any]]:
    """Records of a local file, or of an `s3://bucket/key` object read through `conn_id`."""
    return _parse_jsonl(_read_bytes(location, conn_id))


def _parse_jsonl(body: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in body.decode().splitlines() if line.strip()]


def read_announced(extra: Mapping[str, Any], conn_id: str = AWS_CONN_ID) -> list[dict[str, Any]]:
    """The records an asset event announced, refused unless they are exactly what the producer wrote (sha256, rows):
    an object overwritten by a later producer run, or cut short, is not read as this event's data."""
    body = _read_bytes(str(extra["path"]), conn_id)
    if extra.get("sha256") and hashlib.sha256(body).hexdigest() != extra["sha256"]:
        raise ValueError(f"{extra['path']} changed since its asset event (sha256 differs); refusing to read it")
    records = _parse_jsonl(body)
    if len(records) != int(extra["rows"]):
        raise ValueError(f"{extra['path']} holds {len(records)} rows, its asset event announced {extra['rows']}")
    return records


def event_extra(write_info: Mapping[str, Any], *, partition: str, schema_version: str, producer: str) -> dict[str, Any]:
    """The extra attached to an asset event: enough for a consumer to find, verify and trust the data without a query."""
    if write_info.get("rows") is None or not write_info.get("path"):
        raise ValueError("write_info needs 'path' and 'rows'")
    return {
        "path": str(write_info["path"]),
        "rows": int(write_info["rows"]),
        "sha256": str(write_info.get("sha256", "")),
        "partition": partition,
        "schema_version": schema_version,
        "producer": producer,
    }


@dataclass(frozen=True)
class ReceivedEvent:
    asset_name: str
    uri: str
    extra: dict[str, Any]
    source_dag_id: str | None


def latest_events(triggering_asset_events: Mapping[Any, Sequence[Any]]) -> dict[str, ReceivedEvent]:
    """Collapse `triggering_asset_events` (asset → events) to the newest event per asset name.

    Several producer runs may land before the consumer runs; the newest one is the data to read.
    """
    latest: dict[str, ReceivedEvent] = {}
    for key, events in triggering_asset_events.items():
        if not events:
            continue
        newest = max(events, key=lambda e: e.timestamp)
        asset = getattr(newest, "asset", None)
        name = getattr(asset, "name", None) or getattr(key, "name", None) or str(key)
        uri = getattr(asset, "uri", None) or getattr(key, "uri", "")
        latest[name] = ReceivedEvent(name, uri, dict(newest.extra or {}), getattr(newest, "source_dag_id", None))
    return latest


def check_schema_compatible(extra: Mapping[str, Any], supported_major: str) -> None:
    """A consumer refuses data whose schema major version it was not written for (a cross-team data contract)."""
    version = str(extra.get("schema_version", ""))
    if not version:
        raise ValueError(f"asset event extra has no schema_version: {dict(extra)!r}")
    if version.split(".")[0] != supported_major:
        raise ValueError(f"schema_version {version} is not compatible with supported major version {supported_major}")


def sample_orders(partition: str, count: int = 20) -> list[dict[str, Any]]:
    """Deterministic demo orders for a partition, so reruns produce byte-identical files (idempotent producer)."""
    regions = ("emea", "amer", "apac")
    seed = int(hashlib.sha256(partition.encode()).hexdigest()[:8], 16)
    return [
        {
            "order_id": f"{partition}-{i:04d}",
            "customer_id": f"c{(seed + i) % 7:03d}",
            "region": regions[(seed + i) % 3],
            "amount": round(10 + ((seed >> (i % 16)) % 900) / 10, 2),
            "currency": ("EUR", "USD", "JPY")[(seed + i) % 3],
        }
        for i in range(count)
    ]


def sample_customers() -> list[dict[str, Any]]:
    return [{"customer_id": f"c{i:03d}", "segment": ("smb", "enterprise")[i % 2]} for i in range(7)]


def sample_fx_rates() -> dict[str, float]:
    return {"EUR": 1.0, "USD": 0.92, "JPY": 0.0062}


def join_daily_sales(
    orders: Sequence[Mapping[str, Any]],
    customers: Sequence[Mapping[str, Any]],
    fx_to_eur: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """Revenue per region and segment in EUR; orders whose customer is unknown are counted, not dropped."""
    segment_of = {c["customer_id"]: c["segment"] for c in customers}
    rates = fx_to_eur or {"EUR": 1.0}
    totals: dict[str, float] = {}
    unmatched: list[str] = []
    for order in orders:
        segment = segment_of.get(order["customer_id"])
        if segment is None:
            unmatched.append(order["order_id"])
            continue
        rate = rates.get(order.get("currency", "EUR"))
        if rate is None:
            raise ValueError(f"no FX rate for currency {order.get('currency')!r} (order {order['order_id']})")
        key = f"{order['region']}/{segment}"
        totals[key] = round(totals.get(key, 0.0) + float(order["amount"]) * rate, 2)
    return {"revenue_eur": dict(sorted(totals.items())), "unmatched_orders": unmatched}


def split_by_region(orders: Sequence[Mapping[str, Any]], regions: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """Fan-out: one input partition becomes one output per region (empty regions still get an empty output)."""
    out: dict[str, list[dict[str, Any]]] = {r: [] for r in regions}
    for order in orders:
        if order["region"] not in out:
            raise ValueError(f"order {order['order_id']} has unknown region {order['region']!r}")
        out[order["region"]].append(dict(order))
    return out


def retrain_reason(events: Mapping[str, ReceivedEvent], drift_score: float | None, threshold: float) -> str | None:
    """Why the model should be retrained now, or None: an explicit Kafka request wins, then drift over the threshold."""
    signal = events.get("kafka_retrain_signal")
    if signal is not None:
        payload = signal.extra.get("payload", signal.extra)
        return f"requested: {payload.get('reason', 'unspecified') if isinstance(payload, dict) else payload}"
    if drift_score is not None and drift_score > threshold:
        return f"drift {drift_score:.3f} > {threshold}"
    return None
