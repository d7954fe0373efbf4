"""common.orchestration: schedule alignment across timezones, conditional triggering, the child conf contract."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from common.orchestration import (
    DEPENDENCIES,
    build_child_conf,
    execution_date_fn_for,
    invalid_ratio_check,
    latest_schedule_at_or_before,
    should_trigger,
    to_mermaid,
    validate_child_conf,
)


def test_upstream_tick_is_found_in_the_upstreams_timezone_across_dst() -> None:
    # An upstream at 02:00 Amsterdam time is 01:00 UTC in winter but 00:00 UTC in summer:
    # a fixed execution_delta would be wrong for half of the year.
    winter = latest_schedule_at_or_before(datetime(2026, 1, 15, 3, 0, tzinfo=UTC), "0 2 * * *", "Europe/Amsterdam")
    summer = latest_schedule_at_or_before(datetime(2026, 7, 15, 3, 0, tzinfo=UTC), "0 2 * * *", "Europe/Amsterdam")
    assert winter == datetime(2026, 1, 15, 1, 0, tzinfo=UTC)
    assert summer == datetime(2026, 7, 15, 0, 0, tzinfo=UTC)
    assert winter.tzinfo == UTC


def test_exact_tick_and_sub_minute_times_map_to_the_same_run() -> None:
    exact = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)
    assert latest_schedule_at_or_before(exact, "0 1 * * *", "UTC") == exact
    assert latest_schedule_at_or_before(exact + timedelta(seconds=30), "0 1 * * *", "UTC") == exact
    assert latest_schedule_at_or_before(exact - timedelta(minutes=1), "0 1 * * *", "UTC") == exact - timedelta(days=1)


def test_other_offsets_and_naive_dates() -> None:
    tokyo_noon = datetime(2026, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=9)))
    assert latest_schedule_at_or_before(tokyo_noon, "0 1 * * *", "UTC") == datetime(2026, 5, 1, 1, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="has no timezone"):
        latest_schedule_at_or_before(datetime(2026, 1, 1), "0 1 * * *", "UTC")


def test_execution_date_fn_accepts_sensor_kwargs() -> None:
    fn = execution_date_fn_for("0 1 * * *", "UTC")
    assert fn(datetime(2026, 2, 2, 2, 0, tzinfo=UTC), context={"ti": None}) == datetime(2026, 2, 2, 1, 0, tzinfo=UTC)


def test_conditional_trigger_threshold() -> None:
    assert should_trigger({"records": 100}, 100) is True
    assert should_trigger({"records": 99}, 100) is False
    assert should_trigger({}, 1) is False


def test_child_conf_contract() -> None:
    conf = build_child_conf("p", "run-1", "c-1", "eu", 10)
    assert validate_child_conf(conf) == conf
    with pytest.raises(ValueError, match=r"missing conf key 'parent_run_id'; conf key 'records' must be int, got str"):
        validate_child_conf({**{k: v for k, v in conf.items() if k != "parent_run_id"}, "records": "10"})
    with pytest.raises(ValueError, match="missing conf key 'parent_dag_id'"):
        validate_child_conf(None)


def test_invalid_ratio_check() -> None:
    assert invalid_ratio_check({"records": 100, "invalid": 10}, 0.1) == 0.1
    with pytest.raises(ValueError, match=r"partition eu: 25\.0% invalid records exceeds 10\.0%"):
        invalid_ratio_check({"records": 100, "invalid": 25, "partition": "eu"}, 0.1)
    assert invalid_ratio_check({"records": 0, "invalid": 0}, 0.0) == 0.0


def test_dependency_graph_renders_every_edge() -> None:
    graph = to_mermaid()
    assert graph.startswith("```mermaid\nflowchart LR")
    assert all(f"{a} -->|{how}| {b}" in graph for a, b, how in DEPENDENCIES)
