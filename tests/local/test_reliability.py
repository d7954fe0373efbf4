"""Reliability under crashes, on the real local services:

- the Kafka broker is SIGKILLed in the middle of the message-queue DAG's run (phase9_04) and started again:
  the run still succeeds, no message is lost and none is counted twice;
- a Postgres load (common.warehouse.load_batch, phase9_01's load) is SIGKILLed mid-way and retried: no duplicate rows.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from typing import Any

import pytest

from local import paths

MQ_DAG = "phase9_04_message_queues"


def _states(client, dag_id: str, run_id: str) -> dict[str, dict[str, Any]]:  # noqa: ANN001
    return {ti["task_id"]: ti for ti in client.task_instances(dag_id, run_id)}


def _read_topic(topic: str, *, header: str, value: str, timeout: float = 30) -> list[Any]:
    """Every message of `topic` whose header `header` equals `value` (read from the beginning, no group commit)."""
    from confluent_kafka import Consumer, TopicPartition

    from local.services import kafka

    consumer = Consumer({"bootstrap.servers": kafka.bootstrap(), "group.id": f"verify-{uuid.uuid4().hex}",
                         "enable.auto.commit": False})
    metadata = consumer.list_topics(topic, timeout=10).topics[topic]
    ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in metadata.partitions}
    consumer.assign([TopicPartition(topic, p, 0) for p in metadata.partitions])
    remaining = {p for p, end in ends.items() if end > 0}
    found: list[Any] = []
    deadline = time.monotonic() + timeout
    while remaining and time.monotonic() < deadline:
        message = consumer.poll(1.0)
        if message is None or message.error():
            continue
        if dict(message.headers() or []).get(header) == value.encode():
            found.append(message)
        if message.offset() >= ends[message.partition()] - 1:
            remaining.discard(message.partition())
    consumer.close()
    assert not remaining, f"{topic}: partitions {remaining} not read to the end"
    return found


def test_kafka_broker_killed_mid_run_loses_nothing_and_counts_nothing_twice(airflow_service, kafka_service) -> None:
    from common.messaging import DLQ_TOPIC
    from local import platform, proc
    from local.airflow_client import AirflowClient

    client = AirflowClient()
    count, bad_every = 300, 5
    run_id = client.trigger(MQ_DAG, conf={"count": count, "bad_every": bad_every})

    # Wait until the batch is produced and the consumer task has started, then kill the broker under it.
    deadline = time.monotonic() + 300
    while True:
        tis = _states(client, MQ_DAG, run_id)
        if tis["produce_orders"]["state"] == "success" and tis["consume_orders"]["state"] in ("queued", "running"):
            break
        assert tis["produce_orders"]["state"] not in ("failed", "upstream_failed"), tis["produce_orders"]
        assert time.monotonic() < deadline, f"consume_orders never started: {tis}"
        time.sleep(0.3)
    broker = platform.service("kafka")
    killed_pid = proc.kill(broker.processes()[0], signal.SIGKILL)
    assert killed_pid is not None, "the broker was not running"
    state_at_kill = _states(client, MQ_DAG, run_id)["consume_orders"]["state"]
    assert state_at_kill != "success", "the kill did not land mid-run"
    time.sleep(8)
    platform.up(["kafka"], say=lambda _: None)  # restart: same data dir, same cluster id
    assert proc.running(broker.processes()[0]) not in (None, killed_pid)

    run = client.wait(MQ_DAG, run_id, timeout=600)
    assert run["state"] == "success", _states(client, MQ_DAG, run_id)
    summary = client.xcom(MQ_DAG, run_id, "consume_orders")
    expected_bad = count // bad_every
    assert summary["produced"] == count
    assert summary["valid"] + summary["dead_lettered"] == count, f"lost or double-counted: {summary}"
    assert summary["dead_lettered"] == expected_bad

    dead = _read_topic(DLQ_TOPIC, header="dlq.batch_id", value=run_id)
    sources = [dict(m.headers())["dlq.source"] for m in dead]
    assert len(sources) == len(set(sources)), "a bad record was dead-lettered twice"
    assert len(dead) == summary["dead_lettered"]


LOADER = r"""
import sys, psycopg
sys.path.insert(0, sys.argv[4])
from common.warehouse import load_batch
n = int(sys.argv[3])
valid = [{"order_id": f"{sys.argv[2]}-{i:07d}", "region": "eu", "amount": 10.5, "quantity": 1} for i in range(n)]
with psycopg.connect(sys.argv[1], application_name="reliability-loader") as conn:
    print("loading", flush=True)
    load_batch(conn, batch_date="2001-01-01", valid=valid, rejected=[], run_id=sys.argv[2])
print("committed", flush=True)
"""


def _loader_backends(conn) -> int:  # noqa: ANN001
    return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'reliability-loader'").fetchone()[0]


def test_postgres_load_killed_mid_way_then_retried_leaves_no_duplicates(postgres_service) -> None:
    import psycopg

    from common.warehouse import DDL, RECONCILE_SQL, load_batch, reconcile
    from local.services import postgres

    dsn = postgres.dsn("warehouse")
    prefix, rows = f"rel-{uuid.uuid4().hex[:8]}", 60_000
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(DDL)
        admin.execute("DELETE FROM orders WHERE batch_date = '2001-01-01'")
        admin.execute("DELETE FROM orders_load_audit WHERE batch_date = '2001-01-01'")

        # Hold the audit table so the loader blocks on its last statement, after writing every order row: the kill
        # then lands mid-transaction deterministically, however fast or busy the machine is.
        with psycopg.connect(dsn) as gate:
            gate.execute("LOCK TABLE orders_load_audit IN SHARE ROW EXCLUSIVE MODE")
            loader = subprocess.Popen([sys.executable, "-c", LOADER, dsn, prefix, str(rows), str(paths.REPO / "dags")],
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            deadline = time.monotonic() + 120
            while True:
                blocked = admin.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'reliability-loader' "
                    "AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO orders_load_audit%'").fetchone()[0]
                if blocked:
                    break
                assert loader.poll() is None, f"loader ended before it could be killed: {loader.stdout.read()}"
                assert time.monotonic() < deadline, "loader never reached its audit write"
                time.sleep(0.1)
            os.kill(loader.pid, signal.SIGKILL)
            loader.wait(10)
            gate.rollback()
        assert "committed" not in loader.stdout.read()
        for _ in range(100):  # the server notices the dead client and rolls its transaction back
            if not _loader_backends(admin):
                break
            time.sleep(0.1)
        assert _loader_backends(admin) == 0
        assert admin.execute("SELECT count(*) FROM orders WHERE order_id LIKE %s", (f"{prefix}-%",)).fetchone()[0] == 0

    # Retry twice (the task's retry, then a manual rerun): the batch is replaced, never appended.
    valid = [{"order_id": f"{prefix}-{i:07d}", "region": "eu", "amount": 10.5, "quantity": 1} for i in range(rows)]
    for attempt in range(2):
        with psycopg.connect(dsn) as conn:
            load_batch(conn, batch_date="2001-01-01", valid=valid, rejected=[], run_id=f"{prefix}-retry{attempt}")
    with psycopg.connect(dsn) as conn:
        total, distinct = conn.execute("SELECT count(*), count(DISTINCT order_id) FROM orders WHERE order_id LIKE %s",
                                       (f"{prefix}-%",)).fetchone()
        assert (total, distinct) == (rows, rows)
        assert reconcile(conn.execute(RECONCILE_SQL, ("2001-01-01",)).fetchone(), "2001-01-01")["orders"] == rows


@pytest.fixture(autouse=True, scope="module")
def _dags_importable() -> None:
    dags = str(paths.REPO / "dags")
    if dags not in sys.path:
        sys.path.insert(0, dags)
