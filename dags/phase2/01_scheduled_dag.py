"""Phase 2 · Scheduled DAG: cron expressions, presets, catchup, run concurrency — and backfills.

Teaches: `schedule=` with a cron expression (weekdays at 06:00 UTC) and the presets it could have used
instead (`@once`, `@hourly`, `@daily`, `@weekly`; see common.scheduling.SCHEDULE_PRESETS), `catchup=False`
so unpausing does not backfill every missed interval, and `max_active_runs=1` so runs never overlap.
The task reports the run's data interval and the next fire times of this schedule and of each preset.

Backfills (Airflow 3): with `catchup=False`, past intervals are filled on demand instead — a backfill asks for
the schedule's ticks between two dates (`POST /api/v2/backfills` with `from_date`/`to_date`, or
`airflow backfill create`). The scheduler runs them as `run_type=backfill` runs on their own logical dates,
limited by the backfill's `max_active_runs` (set it to 1 like the DAG's, so backfilled days don't overlap either).
`reprocess_behavior` decides what happens to days that already have a run: `none` leaves them alone (asking twice
creates no duplicates), `failed` reruns only failed ones, `completed` reruns all. Only one backfill per DAG can be
active at a time. Step by step: docs/runbooks/backfill.md.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow.sdk import task

from common.dag_header import platform_dag
from common.scheduling import SCHEDULE_PRESETS, next_fire_times

WEEKDAYS_AT_SIX = "0 6 * * 1-5"


@task
def describe_schedule(
    data_interval_start: Any = None, data_interval_end: Any = None, run_after: Any = None, dag_run: Any = None
) -> dict[str, Any]:
    anchor = run_after or data_interval_end or datetime.now(UTC)
    run_type = getattr(dag_run, "run_type", None)
    return {
        "schedule": WEEKDAYS_AT_SIX,
        "run_type": str(getattr(run_type, "value", run_type)),  # scheduled, manual, backfill, ...
        "data_interval": [str(data_interval_start), str(data_interval_end)],
        "next_runs": [moment.isoformat() for moment in next_fire_times(WEEKDAYS_AT_SIX, anchor)],
        "presets": {
            preset: [moment.isoformat() for moment in next_fire_times(preset, anchor, count=2)]
            for preset in SCHEDULE_PRESETS
        },
    }


with platform_dag(
    __file__, __doc__, owner="data-platform", severity="P4", tags=["scheduling"],
    description="Cron schedule (weekdays 06:00 UTC), no catchup, one active run; past days by backfill",
    schedule=WEEKDAYS_AT_SIX, max_active_runs=1,
) as dag:
    describe_schedule()
