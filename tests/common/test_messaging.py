from __future__ import annotations

import json

from common.messaging import batch_events, event_problems, offset_ranges, summary_event


def test_batch_events_mix_valid_invalid_and_corrupt_records():
    events = batch_events("run-1", "2026-01-01", 30, 5)
    assert len(events) == 30
    verdicts = [event_problems(value, "run-1")[1] for _, value in events]
    bad = [i for i, problems in enumerate(verdicts) if problems]
    assert bad == [4, 9, 14, 19, 24, 29]
    assert verdicts[14][0].startswith("not JSON") and verdicts[29][0].startswith("not JSON")
    assert events[0][0] == "20260101-0000"


def test_event_problems_flags_foreign_batches_and_non_objects():
    good = json.dumps({"order_id": "x", "region": "eu", "amount": 5.0, "quantity": 1, "batch_id": "b"}).encode()
    assert event_problems(good, "b") == (json.loads(good), [])
    assert "does not belong to batch 'c'" in event_problems(good, "c")[1][0]
    assert event_problems(b"[1]", "b")[1] == ["not a JSON object: list"]
    assert event_problems(None, "b")[1] == ["empty message"]


def test_offset_ranges_per_partition():
    assert offset_ranges([(0, 5), (1, 2), (0, 3), (0, 9)]) == {0: [3, 9], 1: [2, 2]}


def test_summary_event_is_keyed_by_batch():
    ((key, value),) = summary_event(
        json.dumps({"batch_id": "b", "produced": 3, "valid": 2, "dead_lettered": 1, "revenue": 9})
    )
    assert key == "b"
    assert json.loads(value) == {
        "type": "orders.batch_processed",
        "batch_id": "b",
        "produced": 3,
        "valid": 2,
        "dead_lettered": 1,
    }


def test_kafka_config_requires_bootstrap_servers_and_names_the_connection(monkeypatch):
    import pytest

    from common.messaging import kafka_config

    monkeypatch.setenv("AIRFLOW_CONN_KAFKA_EMPTY", json.dumps({"conn_type": "kafka", "extra": {}}))
    with pytest.raises(ValueError, match=r"connection 'kafka_empty' has no extra 'bootstrap\.servers'"):
        kafka_config("kafka_empty")
    monkeypatch.setenv(
        "AIRFLOW_CONN_KAFKA_OK", json.dumps({"conn_type": "kafka", "extra": {"bootstrap.servers": "b:9092"}})
    )
    assert kafka_config("kafka_ok", **{"group.id": "g"}) == {"bootstrap.servers": "b:9092", "group.id": "g"}
