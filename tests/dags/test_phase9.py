"""Phase 9 (integrations): real dag.test() runs against the local platform's services.

Services: Postgres (real), the HTTP stand-ins process (stand-in for an OAuth2 partner API), moto server (stand-in for
AWS S3), Azurite (stand-in for Azure Blob Storage), the BigQuery stand-in, and a real Kafka broker in KRaft mode.
"""

from __future__ import annotations

import json
from datetime import UTC
from itertools import pairwise

import pytest
from dag_run_helpers import get_dag, task_states, xcom_value
from test_runs_without_logical_date import RUN_AFTER, SAME_UTC_DAY


def _warehouse(sql: str, parameters=None):
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    return PostgresHook(postgres_conn_id="postgres_default").get_records(sql, parameters=parameters)


@pytest.fixture
def warehouse(postgres_service, platform_connections):
    return _warehouse


def _batch_counts(warehouse, ds: str) -> tuple[int, int, int]:
    orders = warehouse("SELECT COUNT(*), COUNT(DISTINCT order_id) FROM orders WHERE batch_date = %s", (ds,))[0]
    quarantined = warehouse("SELECT COUNT(*) FROM orders_quarantine WHERE batch_date = %s", (ds,))[0][0]
    return int(orders[0]), int(orders[1]), int(quarantined)


def _clean_batch(warehouse, ds: str) -> None:
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    from common.warehouse import DDL

    hook = PostgresHook(postgres_conn_id="postgres_default")
    hook.run(DDL)
    for table in ("orders", "orders_quarantine", "orders_load_audit"):
        hook.run(f"DELETE FROM {table} WHERE batch_date = %s", parameters=(ds,))


def test_database_load_is_transactional_and_idempotent(dagbag, warehouse):
    """Postgres (real): rollback leaves nothing, a load commits 45 + 5 quarantined, a rerun adds no duplicates."""
    from datetime import datetime

    dag = get_dag(dagbag, "phase9_01_database_integration")
    logical = datetime(2026, 3, 14, tzinfo=UTC)
    ds = "2026-03-14"
    _clean_batch(warehouse, ds)

    failed = dag.test(logical_date=logical, run_conf={"fail_before_commit": True})
    assert task_states(failed)["load_orders"] == "failed"
    assert _batch_counts(warehouse, ds) == (0, 0, 0), "a failed batch must leave nothing behind"

    first = dag.test(logical_date=logical, run_conf={"fail_before_commit": False})
    assert first.state == "success", task_states(first)
    assert _batch_counts(warehouse, ds) == (45, 45, 5)
    assert xcom_value(first, "reconcile_counts") == {"orders": 45, "quarantined": 5}
    reasons = warehouse("SELECT reasons FROM orders_quarantine WHERE batch_date = %s ORDER BY id", (ds,))
    assert all(r[0] for r in reasons), "every quarantined order keeps its reasons"

    rerun = dag.test(logical_date=logical, run_conf={"fail_before_commit": False})
    assert rerun.state == "success"
    assert _batch_counts(warehouse, ds) == (45, 45, 5), "a rerun must not add duplicates"
    assert task_states(rerun)["quality_checks"] == "success"


def test_database_missing_connection_fails_naming_it(dagbag, warehouse, monkeypatch, caplog):
    dag = get_dag(dagbag, "phase9_01_database_integration")
    monkeypatch.delenv("AIRFLOW_CONN_POSTGRES_DEFAULT")
    monkeypatch.setattr(dag.get_task("create_tables"), "retries", 0)  # the same error on every try; keep the test quick
    run = dag.test(run_conf={"fail_before_commit": False})
    assert task_states(run)["create_tables"] == "failed"
    assert run.state == "failed"
    assert "postgres_default" in caplog.text and "isn't defined" in caplog.text


# --- API: the HTTP stand-ins process is the stand-in for an OAuth2 client-credentials, paginated partner API


def test_api_pages_through_everything_and_honours_429_retry_after(dagbag, http_standins_service, platform_connections):
    import requests

    base = http_standins_service.url
    requests.post(f"{base}/_control/rate_limit", json={"every": 3, "retry_after": 1}, timeout=10).raise_for_status()
    requests.delete(f"{base}/_recorded", timeout=10).raise_for_status()
    dag = get_dag(dagbag, "phase9_02_api_integration")
    run = dag.test(run_conf={"page_size": 50})
    assert run.state == "success", task_states(run)

    summary = xcom_value(run, "validate_items")
    assert summary["valid"] == 237 and summary["quarantined"] == 0 and summary["pages"] == 5
    assert summary["token_requests"] == 1

    recorded = requests.get(f"{base}/_recorded", timeout=10).json()
    kinds = [r["kind"] for r in recorded]
    assert kinds.count("oauth_token") == 1
    assert kinds.count("api_429") == summary["rate_limited"] >= 2
    pages_served = [int(r["query"]["page"]) for r in recorded if r["kind"] == "api_items"]
    assert pages_served == [1, 2, 3, 4, 5], "each page served exactly once, in order"
    api_calls = [r for r in recorded if r["kind"] in ("api_items", "api_429")]
    for limited, retry in pairwise(api_calls):
        if limited["kind"] == "api_429":
            assert retry["query"]["page"] == limited["query"]["page"], "the rate-limited page is asked again"
            assert retry["at"] - limited["at"] >= 1.0, "Retry-After: 1 was not honoured"
    items = xcom_value(run, "fetch_all_items")["items"]
    assert items[0] == {"id": 1, "name": "item-0001", "value": 1.5, "category": "b"}
    assert [i["id"] for i in items] == list(range(1, 238))


# --- Kafka: a real broker in KRaft mode (jars from Maven Central)


def _read_topic(topic: str, timeout: float = 60.0) -> list:
    """Every message currently in `topic`, read partition by partition up to the high watermark."""
    import time

    from confluent_kafka import Consumer, TopicPartition

    from common.messaging import kafka_config

    consumer = Consumer(kafka_config("kafka_default", **{"group.id": "test-reader", "enable.auto.commit": False}))
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {}
        for p in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if high > low:
                ends[p] = high - 1
        consumer.assign([TopicPartition(topic, p, 0) for p in ends])
        messages, deadline = [], time.monotonic() + timeout
        while ends and time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is None or message.error():
                continue
            messages.append(message)
            if message.offset() >= ends.get(message.partition(), -1):
                ends.pop(message.partition(), None)
        assert not ends, f"{topic}: could not read partitions {ends} within {timeout}s"
        return messages
    finally:
        consumer.close()


def test_kafka_bad_records_all_reach_the_dlq_and_nothing_is_lost(dagbag, kafka_service, platform_connections):
    from common.messaging import DLQ_TOPIC, EVENTS_TOPIC, batch_events, event_problems

    dag = get_dag(dagbag, "phase9_04_message_queues")
    run = dag.test(run_conf={"count": 30, "bad_every": 5})
    assert run.state == "success", task_states(run)
    summary = xcom_value(run, "consume_orders")
    assert summary["produced"] == 30
    assert summary["valid"] + summary["dead_lettered"] == summary["produced"]

    produced = batch_events(run.run_id, run.logical_date.strftime("%Y-%m-%d"), 30, 5)
    expected_bad = sorted(key for key, value in produced if event_problems(value, run.run_id)[1])
    assert summary["dead_lettered"] == len(expected_bad) == 6

    dead = [m for m in _read_topic(DLQ_TOPIC) if dict(m.headers() or []).get("dlq.batch_id") == run.run_id.encode()]
    assert sorted(m.key().decode() for m in dead) == expected_bad, "every bad record is on the DLQ, exactly once"
    for message in dead:
        headers = dict(message.headers())
        assert headers["dlq.reason"] and headers["dlq.source"].startswith(b"orders.events/")

    events = [json.loads(m.value()) for m in _read_topic(EVENTS_TOPIC) if m.key() == run.run_id.encode()]
    assert events == [
        {"type": "orders.batch_processed", "batch_id": run.run_id, "produced": 30, "valid": 24, "dead_lettered": 6}
    ]


# --- Cloud: moto server is the stand-in for AWS S3, Azurite for Azure Blob Storage, local/standins/bigquery.py
# (REST v2 subset on SQLite: load and query jobs) for Google BigQuery


def _bigquery_day(client, day: str) -> list[tuple]:
    from google.cloud import bigquery

    config = bigquery.QueryJobConfig(query_parameters=[bigquery.ScalarQueryParameter("day", "DATE", day)])
    sql = "SELECT order_id, region, amount, quantity FROM `platform.orders` WHERE batch_date = @day ORDER BY order_id"
    return [tuple(row.values()) for row in client.query(sql, job_config=config).result()]


def _bigquery_calls(base: str, after: int) -> list[dict]:
    import requests

    response = requests.get(f"{base}/_recorded", params={"after": after, "limit": 100_000}, timeout=10)
    response.raise_for_status()
    return response.json()["calls"]


def test_cloud_landing_cross_cloud_copy_and_bigquery_load(
    dagbag, s3_service, azure_blob_service, bigquery_service, platform_connections
):
    """One day lands in S3, is copied to Azure Blob and loaded into BigQuery with a load job replacing its partition:
    a rerun leaves the same rows (idempotent) in the same table (not recreated), another day's partition untouched,
    and no streaming inserts are made."""
    from datetime import datetime

    import requests
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.providers.microsoft.azure.hooks.wasb import WasbHook

    from common.cloud import bigquery_client, md5_hex, parse_orders_csv

    dag = get_dag(dagbag, "phase9_03_cloud_integration")
    client = bigquery_client(conn_id="google_cloud_default")
    client.delete_table(f"{client.project}.platform.orders", not_found_ok=True)  # the DAG must create it when missing
    mark = requests.get(f"{bigquery_service.url}/_recorded", params={"limit": 0}, timeout=10).json()["last"]

    day, other_day = datetime(2026, 4, 2, tzinfo=UTC), datetime(2026, 4, 3, tzinfo=UTC)
    loads = {}
    for attempt, logical in (("first", day), ("other day", other_day), ("rerun", day)):
        run = dag.test(logical_date=logical)
        assert run.state == "success", (attempt, task_states(run))
        loads[attempt] = xcom_value(run, "load_bigquery")
        table = client.get_table("platform.orders")
        if attempt == "first":
            created = table.created
            assert (table.time_partitioning.type_, table.time_partitioning.field) == ("DAY", "batch_date")
            other_before = _bigquery_day(client, "2026-04-03")
            assert other_before == [], "nothing was loaded for the other day yet"
        assert table.created == created, f"{attempt}: platform.orders was recreated"
        if attempt == "other day":
            other_rows = _bigquery_day(client, "2026-04-03")

    s3 = S3Hook(aws_conn_id="aws_default")
    s3_bytes = s3.get_key("orders/2026-04-02.csv", "platform-landing").get()["Body"].read()
    blob_bytes = WasbHook(wasb_conn_id="wasb_default").download("platform-archive", "orders/2026-04-02.csv").readall()
    assert blob_bytes == s3_bytes and md5_hex(blob_bytes) == xcom_value(run, "copy_to_azure")["md5"]
    orders = parse_orders_csv(s3_bytes)
    assert len(orders) == 35
    expected = [(o["order_id"], o["region"], o["amount"], o["quantity"]) for o in orders]
    assert _bigquery_day(client, "2026-04-02") == expected, "the rerun replaced the day: same rows, no duplicates"
    assert len(other_rows) == 35 and _bigquery_day(client, "2026-04-03") == other_rows, "the other day is untouched"

    assert len({loaded["job_id"] for loaded in loads.values()}) == 3, "each run loads with a job of its own"
    for attempt, loaded in loads.items():
        job = client.get_job(loaded["job_id"], location=loaded["location"])
        partition = "orders$20260403" if attempt == "other day" else "orders$20260402"
        assert (job.job_type, job.state, job.error_result) == ("load", "DONE", None), attempt
        assert (job.destination.dataset_id, job.destination.table_id) == ("platform", partition), attempt
        assert (job.write_disposition, job.create_disposition) == ("WRITE_TRUNCATE", "CREATE_NEVER"), attempt
        assert (job.source_format, job.output_rows) == ("NEWLINE_DELIMITED_JSON", 35), attempt

    calls = _bigquery_calls(bigquery_service.url, mark)
    uploads = [c for c in calls if c["api"] == "upload.start" and c["query"].get("uploadType") == "multipart"]
    assert len(uploads) >= 3, "the rows went in as load jobs with their data in a media upload"
    on_dataset = {c["api"] for c in calls if "/datasets/platform/" in c["path"]}
    assert not {"tabledata.insertAll", "tabledata.list", "tables.delete"} & on_dataset, "no streaming, no drop"
    assert xcom_value(run, "reconcile") == {"rows": 35, "md5": md5_hex(s3_bytes), "quarantined": 5}

    quarantine = s3.read_key("quarantine/orders/2026-04-02.jsonl", "platform-landing").splitlines()
    assert len(quarantine) == 5 and all(json.loads(line)["problems"] for line in quarantine), "quarantined, not dropped"


def test_database_load_without_a_logical_date_is_the_run_after_day(dagbag, warehouse):
    """Undated run: extract, load, reconcile and the `{{ batch_date() }}` quality check all use run_after's UTC
    day; a dated run of that day then reloads the same batch without duplicates."""
    dag = get_dag(dagbag, "phase9_01_database_integration")
    ds = "2026-03-09"
    _clean_batch(warehouse, ds)
    _clean_batch(warehouse, "2026-03-08")  # New York's day of RUN_AFTER: nothing may land there

    undated = dag.test(logical_date=None, run_after=RUN_AFTER, run_conf={"fail_before_commit": False})
    assert undated.logical_date is None
    assert undated.state == "success", task_states(undated)
    assert task_states(undated)["quality_checks"] == "success"
    assert _batch_counts(warehouse, ds) == (45, 45, 5)
    assert _batch_counts(warehouse, "2026-03-08") == (0, 0, 0)
    assert xcom_value(undated, "reconcile_counts") == {"orders": 45, "quarantined": 5}

    dated = dag.test(logical_date=SAME_UTC_DAY, run_conf={"fail_before_commit": False})
    assert dated.state == "success", task_states(dated)
    assert xcom_value(dated, "extract_orders") == xcom_value(undated, "extract_orders")
    assert _batch_counts(warehouse, ds) == (45, 45, 5), "the same day's batch, reloaded without duplicates"
