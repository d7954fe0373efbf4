"""Kafka produce/consume with a dead-letter queue: every record ends up processed or on the DLQ, none is lost.

A batch is produced with delivery reports, so the consumer knows exactly which offsets belong to it and reads that
range by partition assignment (no reliance on committed group offsets). Bad records are re-published to the DLQ
topic with headers saying why and where they came from. Invariant checked: produced = valid + dead-lettered.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from common.orders import order_problems, sample_orders

ORDERS_TOPIC = "orders.events"
DLQ_TOPIC = "orders.events.dlq"
EVENTS_TOPIC = "platform.events"


def batch_events(batch_id: str, ds: str, count: int, bad_every: int) -> list[tuple[str, bytes]]:
    """(key, value) pairs: orders as JSON, every `bad_every`-th one invalid and every 3·`bad_every`-th not even JSON."""
    events: list[tuple[str, bytes]] = []
    for index, order in enumerate(sample_orders(ds, count, bad_every=bad_every)):
        if bad_every and (index + 1) % (3 * bad_every) == 0:
            value = f"corrupted-bytes-{index}".encode()
        else:
            value = json.dumps({**order, "batch_id": batch_id}, sort_keys=True).encode()
        events.append((order["order_id"], value))
    return events


def event_problems(value: bytes | None, batch_id: str) -> tuple[dict[str, Any] | None, list[str]]:
    """The decoded event and why it is unusable (empty when fine)."""
    if value is None:
        return None, ["empty message"]
    try:
        event = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return None, [f"not JSON: {error.msg if hasattr(error, 'msg') else error}"]
    if not isinstance(event, dict):
        return None, [f"not a JSON object: {type(event).__name__}"]
    problems = order_problems(event)
    if event.get("batch_id") != batch_id:
        problems.append(f"batch_id {event.get('batch_id')!r} does not belong to batch {batch_id!r}")
    return event, problems


def offset_ranges(deliveries: Iterable[tuple[int, int]]) -> dict[int, list[int]]:
    """{partition: [first offset, last offset]} of the delivered messages."""
    ranges: dict[int, list[int]] = {}
    for partition, offset in deliveries:
        low, high = ranges.get(partition, [offset, offset])
        ranges[partition] = [min(low, offset), max(high, offset)]
    return ranges


def kafka_config(conn_id: str, **overrides: Any) -> dict[str, Any]:
    """The confluent-kafka config held in the connection's extra (bootstrap.servers required), plus overrides."""
    from airflow.sdk import BaseHook

    config = dict(BaseHook.get_connection(conn_id).extra_dejson)
    if not config.get("bootstrap.servers"):
        raise ValueError(f"connection {conn_id!r} has no extra 'bootstrap.servers'")
    return {**config, **overrides}


def produce_batch(conn_id: str, topic: str, events: list[tuple[str, bytes]], timeout: float = 30.0) -> dict[str, Any]:
    """Produce with delivery reports; any undelivered message is an error, never a silent loss."""
    from airflow.providers.apache.kafka.hooks.produce import KafkaProducerHook

    producer = KafkaProducerHook(kafka_config_id=conn_id).get_producer()
    delivered: list[tuple[int, int]] = []
    failed: list[str] = []

    def on_delivery(error: Any, message: Any) -> None:
        if error is not None:
            failed.append(f"{message.key()!r}: {error}")
        else:
            delivered.append((message.partition(), message.offset()))

    for key, value in events:
        producer.produce(topic, key=key.encode(), value=value, on_delivery=on_delivery)
        producer.poll(0)
    remaining = producer.flush(timeout)
    if remaining or failed or len(delivered) != len(events):
        raise RuntimeError(
            f"{topic}: {len(delivered)} of {len(events)} delivered, {remaining} still queued, errors: {failed[:3]}"
        )
    return {"topic": topic, "produced": len(delivered), "offsets": offset_ranges(delivered)}


def consume_and_route(
    conn_id: str,
    topic: str,
    offsets: Mapping[str | int, list[int]],
    batch_id: str,
    dlq_topic: str,
    *,
    timeout: float = 60.0,
) -> dict[str, Any]:
    """Read exactly the produced offset range; valid events are collected, bad ones re-published to the DLQ."""
    import time

    from confluent_kafka import Consumer, TopicPartition

    remaining = {int(p): [int(low), int(high)] for p, (low, high) in offsets.items()}
    consumer = Consumer(kafka_config(conn_id, **{"group.id": f"airflow-{topic}-router", "enable.auto.commit": False}))
    consumer.assign([TopicPartition(topic, p, low) for p, (low, _) in remaining.items()])
    valid: list[dict[str, Any]] = []
    dead: list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]] = []
    deadline = time.monotonic() + timeout
    try:
        while remaining:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic}: offsets {remaining} not read within {timeout}s")
            message = consumer.poll(1.0)
            if message is None:
                continue
            if message.error():
                raise RuntimeError(f"{topic}: consumer error {message.error()}")
            partition, offset = message.partition(), message.offset()
            if partition not in remaining or offset > remaining[partition][1]:
                continue
            event, problems = event_problems(message.value(), batch_id)
            if problems:
                headers = [
                    ("dlq.reason", "; ".join(problems).encode()),
                    ("dlq.source", f"{topic}/{partition}/{offset}".encode()),
                    ("dlq.batch_id", batch_id.encode()),
                ]
                dead.append((message.key(), message.value(), headers))
            else:
                valid.append(event or {})
            if offset >= remaining[partition][1]:
                del remaining[partition]
    finally:
        consumer.close()
    dlq = _publish_dead_letters(conn_id, dlq_topic, dead)
    return {"consumed": len(valid) + len(dead), "valid": len(valid), "dead_lettered": dlq, "orders": valid}


def _publish_dead_letters(conn_id: str, dlq_topic: str, dead: list[tuple[Any, Any, list[tuple[str, bytes]]]]) -> int:
    from airflow.providers.apache.kafka.hooks.produce import KafkaProducerHook

    if not dead:
        return 0
    producer = KafkaProducerHook(kafka_config_id=conn_id).get_producer()
    failed: list[str] = []

    def on_delivery(error: Any, message: Any) -> None:
        if error is not None:
            failed.append(str(error))

    for key, value, headers in dead:
        producer.produce(dlq_topic, key=key, value=value, headers=headers, on_delivery=on_delivery)
    if producer.flush(30) or failed:
        raise RuntimeError(f"{dlq_topic}: dead letters not delivered: {failed[:3]}")
    return len(dead)


def summary_event(summary_json: str) -> list[tuple[str, str]]:
    """producer_function for ProduceToTopicOperator: one 'batch_processed' event keyed by batch id."""
    summary = json.loads(summary_json)
    event = {
        "type": "orders.batch_processed",
        **{k: summary[k] for k in ("batch_id", "produced", "valid", "dead_lettered")},
    }
    return [(summary["batch_id"], json.dumps(event, sort_keys=True))]


def keyed_event(key: str, event_json: str) -> list[tuple[str, str]]:
    """producer_function for ProduceToTopicOperator: one JSON event under `key` (validated, re-serialised sorted)."""
    return [(key, json.dumps(json.loads(event_json), sort_keys=True))]
