"""Schedule presets and cron expressions, with the next fire times computed the way a cron timetable does."""

from __future__ import annotations

from datetime import datetime

# Airflow's presets and the cron expression each one stands for; @once has none (it fires once).
SCHEDULE_PRESETS: dict[str, str | None] = {
    "@once": None,
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
}


def cron_for(schedule: str) -> str | None:
    """The cron expression behind a preset, or the expression itself once validated."""
    from croniter import croniter

    if schedule in SCHEDULE_PRESETS:
        return SCHEDULE_PRESETS[schedule]
    if schedule.startswith("@"):
        raise ValueError(f"unknown schedule preset {schedule!r}; known: {', '.join(SCHEDULE_PRESETS)}")
    if not croniter.is_valid(schedule):
        raise ValueError(f"{schedule!r} is not a valid cron expression")
    return schedule


def next_fire_times(schedule: str, after: datetime, count: int = 3) -> list[datetime]:
    """The next `count` times strictly after `after`; empty for @once, which fires a single time on unpause."""
    from croniter import croniter

    expression = cron_for(schedule)
    if expression is None:
        return []
    iterator = croniter(expression, after)
    return [iterator.get_next(datetime) for _ in range(count)]
