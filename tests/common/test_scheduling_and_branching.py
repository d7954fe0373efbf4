"""common.scheduling and common.branching: presets, cron fire times, branch decisions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from common.branching import choose_load_strategy, choose_report
from common.scheduling import SCHEDULE_PRESETS, cron_for, next_fire_times

AFTER = datetime(2026, 1, 2, 7, 30, tzinfo=UTC)  # a Friday


def test_presets_map_to_their_cron_expressions():
    assert cron_for("@daily") == "0 0 * * *"
    assert cron_for("@once") is None
    assert cron_for("15 2 * * *") == "15 2 * * *"
    assert set(SCHEDULE_PRESETS) >= {"@once", "@hourly", "@daily", "@weekly"}
    with pytest.raises(ValueError, match="unknown schedule preset '@fortnightly'"):
        cron_for("@fortnightly")
    with pytest.raises(ValueError, match="not a valid cron expression"):
        cron_for("61 * * * *")


def test_next_fire_times_follow_the_expression():
    assert next_fire_times("0 6 * * 1-5", AFTER) == [
        datetime(2026, 1, 5, 6, 0, tzinfo=UTC),
        datetime(2026, 1, 6, 6, 0, tzinfo=UTC),
        datetime(2026, 1, 7, 6, 0, tzinfo=UTC),
    ]
    assert next_fire_times("@hourly", AFTER, count=2) == [
        datetime(2026, 1, 2, 8, 0, tzinfo=UTC),
        datetime(2026, 1, 2, 9, 0, tzinfo=UTC),
    ]
    assert next_fire_times("@weekly", AFTER, count=1) == [datetime(2026, 1, 4, 0, 0, tzinfo=UTC)]
    assert next_fire_times("@once", AFTER) == []


def test_load_strategy_threshold_is_inclusive():
    assert choose_load_strategy(1000, 1000) == "full_reload"
    assert choose_load_strategy(999, 1000) == "incremental_merge"
    with pytest.raises(ValueError):
        choose_load_strategy(-1, 1000)


def test_report_by_weekday():
    assert choose_report(datetime(2026, 11, 27, tzinfo=UTC)) == "weekday_report"  # Friday
    assert choose_report(datetime(2026, 11, 28, tzinfo=UTC)) == "weekend_summary"  # Saturday
    assert choose_report(datetime(2026, 11, 29, tzinfo=UTC)) == "weekend_summary"  # Sunday
