"""Phase 14 (assets): structure of the three DAGs, their data on S3 (the local platform's S3 stand-in, moto) written
and read through ObjectStoragePath, and their cross-DAG behaviour in a REAL scheduler run.

The behaviour tests drive the local platform's Airflow (api-server, scheduler with LocalExecutor, dag-processor and
triggerer on the local Postgres metadata DB; `airflow_service` fixture) through its REST API v2 — `dag.test()`
cannot show asset-triggered scheduling. Each scenario first clears the consumer's queued asset events, so events
left by earlier runs cannot satisfy a condition, and identifies "its" runs by the upstream asset events they
consumed (source_run_id), so runs started by anything else on the shared instance are not mistaken for them.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any
from urllib.parse import quote

import pytest
from dag_run_helpers import get_dag

from common.assets import (
    CUSTOMERS,
    DAILY_SALES,
    FX_RATES,
    MODEL_RETRAIN_REQUEST,
    ORDERS,
    REGIONAL_SALES,
    RETRAIN_TOPIC,
)
from local.testing import eventually

PRODUCER = "phase14_01_dataset_producer"
CONSUMER = "phase14_02_dataset_consumer"
PATTERNS = "phase14_03_dataset_patterns"
QUIET_SECONDS = 20  # long enough for several scheduler loops: a run that should not start would have started


# ---------------------------------------------------------------------------------------------- structure
def test_producer_declares_one_outlet_per_asset(dagbag) -> None:
    dag = get_dag(dagbag, PRODUCER)
    outlets = {t.task_id: [a.uri for a in t.outlets] for t in dag.tasks}
    assert outlets == {
        "produce_orders": [ORDERS.uri],
        "produce_customers": [CUSTOMERS.uri],
        "refresh_fx_rates": [FX_RATES.uri],
    }
    assert dag.params["publish"] == ["orders", "customers", "fx_rates"]
    assert type(dag.timetable).__name__ == "CronTriggerTimetable"


def test_consumer_is_scheduled_on_both_assets(dagbag) -> None:
    dag = get_dag(dagbag, CONSUMER)
    condition = dag.timetable.asset_condition
    assert type(condition).__name__ == "AssetAll"
    assert {a.uri for a in condition.objects} == {ORDERS.uri, CUSTOMERS.uri}
    assert [a.uri for a in dag.get_task("build_daily_sales").outlets] == ["s3://curated/daily_sales"]


def test_patterns_schedule_is_asset_or_time_with_the_conditional_expression(dagbag) -> None:
    dag = get_dag(dagbag, PATTERNS)
    timetable = dag.timetable
    assert type(timetable).__name__ == "AssetOrTimeSchedule"
    assert timetable.timetable.expression == "0 6 * * *"
    any_of = timetable.asset_condition  # ((orders | customers) & fx_rates) | kafka_retrain_signal
    assert type(any_of).__name__ == "AssetAny"
    all_of, kafka = any_of.objects
    assert type(all_of).__name__ == "AssetAll" and kafka.name == "kafka_retrain_signal" and kafka.watchers
    either, fx = all_of.objects
    assert type(either).__name__ == "AssetAny" and {a.uri for a in either.objects} == {ORDERS.uri, CUSTOMERS.uri}
    assert fx.uri == FX_RATES.uri
    assert {a.uri for a in dag.get_task("fan_out_by_region").outlets} == {a.uri for a in REGIONAL_SALES.values()}
    assert [a.uri for a in dag.get_task("request_retraining").outlets] == [MODEL_RETRAIN_REQUEST.uri]


@pytest.mark.parametrize("dag_id", [PRODUCER, CONSUMER, PATTERNS])
def test_platform_conventions(dagbag, dag_id: str) -> None:
    dag = get_dag(dagbag, dag_id)
    assert dag.doc_md and "phase14" in dag.tags
    for t in dag.tasks:
        assert t.owner.startswith("team-") and t.retries >= 1 and t.execution_timeout is not None


def _object(uri: str) -> bytes:
    """The bytes of an s3://bucket/key object, read straight from the S3 stand-in (moto) with boto3."""
    from local.services import s3

    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return s3.client().get_object(Bucket=bucket, Key=key)["Body"].read()


def test_producer_writes_its_assets_to_s3_through_object_storage_in_dag_test(
    dagbag, s3_service, platform_connections
) -> None:
    """dag.test() against the S3 stand-in (moto): each selected asset's partition is an object under the asset's own
    s3:// URI, written through ObjectStoragePath on aws_default, and the AssetEvent's extra names it (and its sha256)."""
    import hashlib

    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    run = get_dag(dagbag, PRODUCER).test(run_conf={"publish": ["orders", "fx_rates"]})
    assert run.state == "success"
    with create_session() as session:
        rows = (
            session.query(AssetModel.uri, AssetEvent.extra)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .filter(AssetEvent.source_run_id == run.run_id)
            .all()
        )
        events = {uri: dict(extra) for uri, extra in rows}
    assert set(events) == {ORDERS.uri, FX_RATES.uri}, "customers was not selected: its task skipped and emitted nothing"
    orders = events[ORDERS.uri]
    assert orders["rows"] == 20 and orders["schema_version"] == "2.1" and orders["producer"] == PRODUCER
    day = run.logical_date.strftime("%Y-%m-%d")
    assert orders["path"] == f"{ORDERS.uri}/partition={day}/orders.jsonl"  # the asset URI is the data's address
    assert events[FX_RATES.uri]["path"] == f"{FX_RATES.uri}/partition={day}/rates.jsonl"
    for extra in events.values():
        body = _object(extra["path"])  # really in the bucket, and exactly what the event announced
        assert hashlib.sha256(body).hexdigest() == extra["sha256"]
        assert len(body.decode().splitlines()) == extra["rows"]


# ---------------------------------------------------------------------------------------------- real scheduler
class Api:
    def __init__(self) -> None:
        from local.airflow_client import AirflowClient

        self.client = AirflowClient()

    def call(self, method: str, path: str, body: Any = None) -> Any:
        return self.client.call(method, path, body)

    def clear_queue(self, dag_id: str) -> None:
        from local.services.base import ServiceError

        try:
            self.call("DELETE", f"/dags/{dag_id}/assets/queuedEvents")
        except ServiceError as error:
            if "HTTP 404" not in str(error):
                raise

    def queued_asset_names(self, dag_id: str) -> set[str]:
        queued = self.call("GET", f"/dags/{dag_id}/assets/queuedEvents")["queued_events"]
        return {self.call("GET", f"/assets/{q['asset_id']}")["name"] for q in queued}

    def produce(self, publish: list[str]) -> str:
        run_id = self.client.trigger(PRODUCER, {"publish": publish})
        run = self.client.wait(PRODUCER, run_id, timeout=300)
        assert run["state"] == "success", self.client.task_instances(PRODUCER, run_id)
        return run_id

    def runs_consuming(self, dag_id: str, producer_run_id: str) -> list[dict[str, Any]]:
        """Asset-triggered runs of dag_id whose upstream asset events include one from producer_run_id."""
        runs = self.call("GET", f"/dags/{dag_id}/dagRuns?limit=50&order_by=-run_after")["dag_runs"]
        found = []
        for run in runs:
            if run["run_type"] != "asset_triggered":
                continue
            events = self.call("GET", f"/dags/{dag_id}/dagRuns/{quote(run['dag_run_id'], safe='')}/upstreamAssetEvents")
            if any(e["source_run_id"] == producer_run_id for e in events["asset_events"]):
                found.append({**run, "upstream": events["asset_events"]})
        return found

    def xcom(self, dag_id: str, run_id: str, task_id: str) -> Any:
        path = (
            f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}/xcomEntries/return_value"
            "?deserialize=true&stringify=false"
        )
        return self.call("GET", path)["value"]

    def wait_idle(self, dag_id: str, timeout: float = 300) -> None:
        eventually(
            lambda: not self.call("GET", f"/dags/{dag_id}/dagRuns?state=running&state=queued&limit=5")["dag_runs"],
            timeout,
            f"{dag_id} to have no queued/running runs",
        )


@pytest.fixture(scope="module")
def api(airflow_service, s3_service) -> Api:  # noqa: ANN001 - the platform's Endpoints (s3: the assets' buckets)
    client = Api()
    for dag_id in (PRODUCER, CONSUMER, PATTERNS):
        client.client.wait_for_dag(dag_id)
        client.call("PATCH", f"/dags/{dag_id}", {"is_paused": False})
    return client


def _finished(api: Api, dag_id: str, run: dict[str, Any]) -> dict[str, Any]:
    done = api.client.wait(dag_id, run["dag_run_id"], timeout=300)
    assert done["state"] == "success", api.client.task_instances(dag_id, run["dag_run_id"])
    return done


def test_consumer_runs_only_after_both_producer_assets_updated(api: Api) -> None:
    api.wait_idle(CONSUMER)
    api.clear_queue(CONSUMER)

    orders_run = api.produce(["orders"])
    time.sleep(QUIET_SECONDS)
    assert api.runs_consuming(CONSUMER, orders_run) == [], "schedule=[orders, customers] must wait for customers too"
    assert api.queued_asset_names(CONSUMER) == {ORDERS.name}, "the orders event is queued, waiting for customers"

    customers_run = api.produce(["customers"])
    runs = eventually(lambda: api.runs_consuming(CONSUMER, customers_run), 120, f"a {CONSUMER} run after both assets")
    assert len(runs) == 1
    # a run consumes every event of its assets since the DAG's previous run; ours must be among them
    sources = {(e["name"], e["source_run_id"]) for e in runs[0]["upstream"]}
    assert sources >= {(ORDERS.name, orders_run), (CUSTOMERS.name, customers_run)}
    _finished(api, CONSUMER, runs[0])
    seen = api.xcom(CONSUMER, runs[0]["dag_run_id"], "inspect_triggering_events")
    assert seen[ORDERS.name]["extra"]["rows"] == 20 and seen[ORDERS.name]["source_dag_id"] == PRODUCER
    # the consumer read the landing objects through ObjectStoragePath and wrote its report to s3://curated/...
    report = api.xcom(CONSUMER, runs[0]["dag_run_id"], "build_daily_sales")
    partition = seen[ORDERS.name]["extra"]["partition"]
    assert report["written_to"] == f"{DAILY_SALES.uri}/partition={partition}/daily_sales.jsonl"
    stored = json.loads(_object(report["written_to"]))
    assert stored == {k: v for k, v in report.items() if k != "written_to"}
    assert sum(stored["revenue_eur"].values()) > 0


def test_conditional_expression_fires_only_when_satisfied(api: Api) -> None:
    api.wait_idle(PATTERNS)
    api.clear_queue(PATTERNS)

    sales_run = api.produce(["orders", "customers"])  # the (orders | customers) side only
    time.sleep(QUIET_SECONDS)
    assert api.runs_consuming(PATTERNS, sales_run) == [], (
        "(orders | customers) & fx_rates must not fire without fx_rates"
    )

    fx_run = api.produce(["fx_rates"])
    runs = eventually(lambda: api.runs_consuming(PATTERNS, fx_run), 120, f"a {PATTERNS} run once fx_rates arrived")
    assert {e["source_run_id"] for e in runs[0]["upstream"]} >= {sales_run, fx_run}
    _finished(api, PATTERNS, runs[0])
    fanned = api.xcom(PATTERNS, runs[0]["dag_run_id"], "fan_out_by_region")
    assert set(fanned) == {"emea", "amer", "apac"} and sum(fanned.values()) == 20
    partition = next(e for e in runs[0]["upstream"] if e["name"] == ORDERS.name)["extra"]["partition"]
    for region, count in fanned.items():  # one object per region, under that region's asset URI
        body = _object(f"{REGIONAL_SALES[region].uri}/partition={partition}/orders.jsonl")
        assert [json.loads(line)["region"] for line in body.decode().splitlines()] == [region] * count

    api.wait_idle(PATTERNS)
    fx_again = api.produce(["fx_rates"])  # consumed sales events don't count twice
    time.sleep(QUIET_SECONDS)
    assert api.runs_consuming(PATTERNS, fx_again) == [], "fx_rates alone must not fire: no new orders or customers"


def test_a_kafka_message_triggers_the_asset_watcher_dag_and_the_retraining_request(api: Api, kafka_service) -> None:  # noqa: ANN001
    from confluent_kafka import Producer

    from local.services import kafka

    kafka.create_topics({RETRAIN_TOPIC: (1, 604_800_000)})
    api.wait_idle(PATTERNS)
    api.clear_queue(PATTERNS)
    time.sleep(10)  # the triggerer (re)loads the watcher of the unpaused DAG on its next loop
    before = {r["dag_run_id"] for r in api.call("GET", f"/dags/{PATTERNS}/dagRuns?limit=100")["dag_runs"]}

    marker = uuid.uuid4().hex
    producer = Producer({"bootstrap.servers": kafka.bootstrap()})
    producer.produce(RETRAIN_TOPIC, value=b'{"reason": "no model key: must be ignored"}')
    producer.produce(RETRAIN_TOPIC, value=json.dumps({"model": "churn", "reason": f"test-{marker}"}).encode())
    assert producer.flush(30) == 0

    def triggered() -> list[dict[str, Any]]:
        runs = api.call("GET", f"/dags/{PATTERNS}/dagRuns?limit=100")["dag_runs"]
        return [r for r in runs if r["dag_run_id"] not in before and r["run_type"] == "asset_triggered"]

    runs = eventually(triggered, 180, f"an asset_triggered run of {PATTERNS} after Kafka message {marker}")
    run = runs[0]
    upstream = api.call("GET", f"/dags/{PATTERNS}/dagRuns/{quote(run['dag_run_id'], safe='')}/upstreamAssetEvents")[
        "asset_events"
    ]
    payloads = [e["extra"].get("payload", {}) for e in upstream if e["name"] == "kafka_retrain_signal"]
    assert any(p.get("reason") == f"test-{marker}" and p.get("model") == "churn" for p in payloads), upstream
    assert all(p.get("model") for p in payloads), "the message without a model key must not become an asset event"
    _finished(api, PATTERNS, run)
    request = api.xcom(PATTERNS, run["dag_run_id"], "request_retraining")
    assert request["model"] == "churn" and request["reason"] == f"requested: test-{marker}"
