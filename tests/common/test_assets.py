"""common.assets: URIs, event extras, triggering-event handling, fan-out and the Kafka apply_function."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from common import assets


def test_asset_uris_are_distinct_and_normalised() -> None:
    uris = [a.uri for a in (assets.ORDERS, assets.CUSTOMERS, assets.FX_RATES, assets.DAILY_SALES,
                            assets.MODEL_RETRAIN_REQUEST, *assets.REGIONAL_SALES.values())]
    assert len(set(uris)) == len(uris)
    assert assets.ORDERS.uri == "s3://landing/orders"


def test_asset_path_maps_bucket_and_prefix_under_the_lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLATFORM_DATA_DIR", str(tmp_path))
    assert assets.asset_path(assets.ORDERS, "2026-01-02", "o.jsonl") == tmp_path / "landing/orders/partition=2026-01-02/o.jsonl"
    with pytest.raises(ValueError, match="only s3://"):
        assets.asset_path(assets.retrain_signal_asset(), "p", "x")


def test_write_jsonl_is_deterministic_and_describes_itself(tmp_path: Path) -> None:
    rows = assets.sample_orders("2026-01-02")
    first = assets.write_jsonl(tmp_path / "a.jsonl", rows)
    second = assets.write_jsonl(tmp_path / "b.jsonl", assets.sample_orders("2026-01-02"))
    assert first["rows"] == 20 and first["sha256"] == second["sha256"]
    assert assets.read_jsonl(first["path"]) == rows


def test_asset_object_is_the_asset_uri_on_the_aws_connection() -> None:
    """No I/O: an ObjectStoragePath is only a location until it is read or written."""
    obj = assets.asset_object(assets.ORDERS, "2026-01-02", "orders.jsonl")
    assert assets.object_uri(obj) == "s3://landing/orders/partition=2026-01-02/orders.jsonl"
    assert assets.object_uri(obj).startswith(assets.ORDERS.uri + "/")
    assert (obj.conn_id, obj.bucket, obj.key) == ("aws_default", "landing", "orders/partition=2026-01-02/orders.jsonl")
    assert str(obj).startswith("s3://aws_default@"), "str() carries the connection; extras use object_uri()"
    assert assets.asset_object(assets.FX_RATES, "p", "r.jsonl", conn_id="other").conn_id == "other"
    with pytest.raises(ValueError, match="only s3://"):
        assets.asset_object(assets.retrain_signal_asset(), "p", "x")


def test_read_announced_refuses_data_the_event_did_not_announce(tmp_path: Path) -> None:
    rows = assets.sample_orders("2026-01-02")
    extra = assets.event_extra(
        assets.write_jsonl(tmp_path / "o.jsonl", rows), partition="p", schema_version="2.1", producer="d"
    )
    assert assets.read_announced(extra) == rows
    with pytest.raises(ValueError, match="announced 21"):
        assets.read_announced({**extra, "sha256": "", "rows": 21})
    (tmp_path / "o.jsonl").write_text((tmp_path / "o.jsonl").read_text().replace('"emea"', '"apac"'))
    with pytest.raises(ValueError, match="changed since its asset event"):
        assets.read_announced(extra)


def test_event_extra_requires_path_and_rows() -> None:
    extra = assets.event_extra({"path": "/x", "rows": 3, "sha256": "ab"}, partition="p", schema_version="2.1", producer="d")
    assert extra == {"path": "/x", "rows": 3, "sha256": "ab", "partition": "p", "schema_version": "2.1", "producer": "d"}
    with pytest.raises(ValueError, match="'path' and 'rows'"):
        assets.event_extra({"rows": 1}, partition="p", schema_version="1", producer="d")


def test_schema_contract_refuses_other_major_versions() -> None:
    assets.check_schema_compatible({"schema_version": "2.7"}, "2")
    with pytest.raises(ValueError, match=r"3\.0 is not compatible"):
        assets.check_schema_compatible({"schema_version": "3.0"}, "2")
    with pytest.raises(ValueError, match="no schema_version"):
        assets.check_schema_compatible({}, "2")


@dataclass
class _Event:
    timestamp: datetime
    extra: dict
    source_dag_id: str = "producer"


def test_latest_events_keeps_the_newest_event_per_asset() -> None:
    t0 = datetime(2026, 1, 1)
    events = {assets.ORDERS: [_Event(t0, {"rows": 1}), _Event(t0 + timedelta(hours=1), {"rows": 2})],
              assets.CUSTOMERS: [_Event(t0, {"rows": 9})], assets.FX_RATES: []}
    latest = assets.latest_events(events)
    assert set(latest) == {"raw_orders", "raw_customers"}
    assert latest["raw_orders"].extra == {"rows": 2}


def test_join_daily_sales_converts_currency_and_keeps_unmatched_orders() -> None:
    orders = [{"order_id": "1", "customer_id": "a", "region": "emea", "amount": 10, "currency": "USD"},
              {"order_id": "2", "customer_id": "zz", "region": "emea", "amount": 5, "currency": "EUR"}]
    report = assets.join_daily_sales(orders, [{"customer_id": "a", "segment": "smb"}], {"USD": 0.5, "EUR": 1.0})
    assert report == {"revenue_eur": {"emea/smb": 5.0}, "unmatched_orders": ["2"]}
    with pytest.raises(ValueError, match="no FX rate for currency 'GBP'"):
        assets.join_daily_sales([{**orders[0], "currency": "GBP"}], [{"customer_id": "a", "segment": "smb"}], {})


def test_fan_out_gives_every_region_an_output_and_rejects_unknown_regions() -> None:
    parts = assets.split_by_region(assets.sample_orders("p"), assets.REGIONAL_SALES)
    assert set(parts) == {"emea", "amer", "apac"} and sum(map(len, parts.values())) == 20
    with pytest.raises(ValueError, match="unknown region 'mars'"):
        assets.split_by_region([{"order_id": "x", "region": "mars"}], ["emea"])


class _Message:
    def __init__(self, value: bytes) -> None:
        self._value = value

    def value(self) -> bytes:
        return self._value

    def topic(self) -> str:
        return assets.RETRAIN_TOPIC

    def offset(self) -> int:
        return 41


def test_kafka_apply_function_fires_only_for_valid_requests() -> None:
    fired = assets.accept_retrain_message(_Message(json.dumps({"model": "churn", "reason": "drift"}).encode()))
    assert fired == {"model": "churn", "reason": "drift", "topic": assets.RETRAIN_TOPIC, "offset": 41}
    assert assets.accept_retrain_message(_Message(b"not json")) is None
    assert assets.accept_retrain_message(_Message(b'{"reason": "no model"}')) is None


def test_retrain_signal_asset_watches_the_topic_through_the_kafka_provider() -> None:
    asset = assets.retrain_signal_asset()
    trigger = asset.watchers[0].trigger
    assert asset.uri == "kafka://kafka_default/ml.retrain-requests"
    assert type(trigger.trigger).__name__ == "AwaitMessageTrigger"
    assert trigger.trigger.topics == [assets.RETRAIN_TOPIC]
    assert trigger.trigger.apply_function == "common.assets.accept_retrain_message"


def test_retrain_reason_prefers_explicit_requests_then_drift() -> None:
    signal = assets.ReceivedEvent("kafka_retrain_signal", "", {"from_trigger": True, "payload": {"reason": "manual"}}, None)
    assert assets.retrain_reason({"kafka_retrain_signal": signal}, 0.0, 0.2) == "requested: manual"
    assert assets.retrain_reason({}, 0.5, 0.2) == "drift 0.500 > 0.2"
    assert assets.retrain_reason({}, 0.1, 0.2) is None
    assert assets.retrain_reason({}, None, 0.2) is None
