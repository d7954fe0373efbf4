"""common.orders: deterministic sample data, validation that quarantines instead of dropping, batching."""

from __future__ import annotations

import pytest

from common.orders import (
    REGIONS,
    chunk,
    combine_region_totals,
    order_problems,
    region_revenue,
    sample_orders,
    split_valid,
    summarize,
)


def test_sample_orders_are_deterministic_per_day():
    assert sample_orders("2026-01-05", 12) == sample_orders("2026-01-05", 12)
    assert sample_orders("2026-01-05", 12) != sample_orders("2026-01-06", 12)
    assert [order["order_id"] for order in sample_orders("2026-01-05", 3)] == [
        "20260105-0000",
        "20260105-0001",
        "20260105-0002",
    ]


def test_bad_every_marks_exactly_every_nth_order_invalid():
    orders = sample_orders("2026-01-05", 40, bad_every=8)
    valid, quarantined = split_valid(orders)
    assert len(valid) == 35 and len(quarantined) == 5
    assert [order["order_id"][-4:] for order in quarantined] == ["0007", "0015", "0023", "0031", "0039"]
    # both kinds of damage occur and each carries its reason
    reasons = {problem.split()[0] for order in quarantined for problem in order["problems"]}
    assert reasons == {"amount", "unknown"}


def test_order_problems_name_each_defect():
    assert order_problems({"order_id": "x", "region": "eu", "amount": 1.5, "quantity": 1}) == []
    problems = order_problems({"order_id": "x", "region": "mars", "amount": 0, "quantity": "2"})
    assert problems == [
        "unknown region 'mars'",
        "amount must be positive, got 0",
        "quantity must be a positive integer, got '2'",
    ]
    assert order_problems({"region": "eu"}) == ["missing field order_id", "missing field amount", "missing field quantity"]


def test_split_valid_keeps_every_record():
    orders = sample_orders("2026-02-01", 25, bad_every=4)
    valid, quarantined = split_valid(orders)
    assert len(valid) + len(quarantined) == 25
    assert {o["order_id"] for o in valid} | {o["order_id"] for o in quarantined} == {o["order_id"] for o in orders}


def test_summary_and_region_totals_agree():
    orders = [
        {"order_id": "1", "region": "us", "amount": 10.0, "quantity": 1},
        {"order_id": "2", "region": "eu", "amount": 2.5, "quantity": 1},
        {"order_id": "3", "region": "us", "amount": 1.25, "quantity": 2},
    ]
    summary = summarize(orders)
    assert summary == {"count": 3, "revenue": 13.75, "by_region": {"us": 11.25, "eu": 2.5, "apac": 0}}
    assert combine_region_totals(summary["by_region"]) == summary["revenue"]
    with pytest.raises(ValueError, match="region 'mars'"):
        region_revenue(orders, "mars")


def test_combine_region_totals_refuses_incomplete_fan_in():
    with pytest.raises(ValueError, match=r"missing \['apac'\]"):
        combine_region_totals({"us": 1.0, "eu": 2.0})
    with pytest.raises(ValueError, match=r"unknown \['mars'\]"):
        combine_region_totals(dict.fromkeys((*REGIONS, "mars"), 1.0))


def test_chunk_batches_cover_all_items_in_order():
    assert chunk(list(range(7)), 3) == [[0, 1, 2], [3, 4, 5], [6]]
    assert chunk([], 3) == []
    with pytest.raises(ValueError, match="batch size"):
        chunk([1], 0)


