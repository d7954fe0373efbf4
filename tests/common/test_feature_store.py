"""common.feature_store: the pure parts (connection string, feature computation, freshness rules)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from common import feature_store as fs


def test_redis_connection_string() -> None:
    assert fs.redis_connection_string("127.0.0.1", 16379, "pw", 0) == "127.0.0.1:16379,password=pw,db=0"
    assert fs.redis_connection_string("h", None, None) == "h:6379"
    with pytest.raises(ValueError, match="no host"):
        fs.redis_connection_string("", 1, None)


def test_customer_stats_are_computed_per_customer() -> None:
    as_of = datetime(2026, 3, 1, 12)
    rows = fs.compute_customer_stats(fs.synthetic_orders(as_of, customers=2, per_customer=3), as_of)
    assert [r["customer_id"] for r in rows] == ["c000", "c001"]
    assert rows[0] == {"customer_id": "c000", "total_orders": 3, "avg_amount": 11.0, "days_since_last_order": 0,
                       "event_timestamp": as_of}
    assert rows[1]["days_since_last_order"] == 1


def test_freshness_problems_flag_missing_and_stale_values() -> None:
    expected = {"a": {"total_orders": 3, "avg_amount": 1.5, "days_since_last_order": 0}}
    online_ok = {"customer_id": ["a"], "total_orders": [3], "avg_amount": [1.5], "days_since_last_order": [0]}
    assert fs.freshness_problems(online_ok, expected) == []
    stale = {**online_ok, "total_orders": [2], "avg_amount": [None]}
    assert fs.freshness_problems(stale, expected) == ["a.total_orders: online 2 != computed 3 (stale)",
                                                       "a.avg_amount: missing in online store"]
    now = datetime(2026, 3, 1, 12)
    assert fs.feature_age_problems(now - timedelta(hours=1), now, timedelta(hours=6)) == []
    assert fs.feature_age_problems(now - timedelta(hours=7), now, timedelta(hours=6)) == [
        "features are 7:00:00 old, more than the 6:00:00 freshness SLA"]
