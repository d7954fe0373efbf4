"""Branch decisions as plain functions: the branch operators only map a decision to task ids."""

from __future__ import annotations

from datetime import date


def choose_load_strategy(row_count: int, bulk_threshold: int) -> str:
    """`full_reload` when the day is big enough that a rebuild beats merging, else `incremental_merge`."""
    if row_count < 0 or bulk_threshold < 1:
        raise ValueError(f"row_count must be >= 0 and bulk_threshold >= 1, got {row_count}, {bulk_threshold}")
    return "full_reload" if row_count >= bulk_threshold else "incremental_merge"


def choose_report(day: date) -> str:
    """Weekdays get the operational report, weekends the lighter summary (a datetime is a date too)."""
    return "weekend_summary" if day.weekday() >= 5 else "weekday_report"
