"""Helpers for behaviour checks on the local platform's real Airflow (api-server, scheduler, dag-processor and
LocalExecutor on the Postgres `airflow` metadata DB): trigger runs at chosen logical dates, wait, read state."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

EARLIEST = datetime(2026, 1, 2, tzinfo=UTC)  # after every DAG's start_date: earlier runs get no task instances


def _random_day() -> datetime:
    """A random past midnight after the DAGs' start_date."""
    days = (datetime.now(UTC) - timedelta(days=2) - EARLIEST).days
    return EARLIEST + timedelta(days=random.randrange(0, max(days, 1)))


def unique_day(client: Any, *dag_ids: str) -> datetime:
    """A random past midnight after the DAGs' start_date on which none of `dag_ids` has a run yet.

    The metadata DB outlives test sessions, so a random day alone would sooner or later meet an earlier session's
    run (a 409 on the logical date, or a sensor finding that run instead of this test's).
    """
    for _ in range(50):
        day = _random_day()
        window = (
            f"logical_date_gte={quote(day.isoformat())}&logical_date_lt={quote((day + timedelta(days=1)).isoformat())}"
        )
        if all(
            client.call("GET", f"/dags/{dag_id}/dagRuns?{window}&limit=1")["total_entries"] == 0 for dag_id in dag_ids
        ):
            return day
    raise AssertionError(
        f"no day without runs of {', '.join(dag_ids)} in 50 tries; clear old runs from the metadata DB"
    )


def unique_moment() -> datetime:
    """A random past second after the DAGs' start_date: for runs whose logical date need not sit on a schedule tick."""
    return _random_day() + timedelta(seconds=random.randrange(0, 86_400))


def trigger_at(
    client: Any, dag_id: str, logical_date: datetime, conf: dict[str, Any] | None = None, prefix: str = "t"
) -> str:
    """Unpause `dag_id` and create a run at `logical_date` with a unique run id."""
    client.wait_for_dag(dag_id, timeout=300)
    client.call("PATCH", f"/dags/{dag_id}", {"is_paused": False})
    run_id = f"{prefix}__{logical_date:%Y%m%dT%H%M}__{uuid.uuid4().hex[:8]}"
    client.call(
        "POST",
        f"/dags/{dag_id}/dagRuns",
        {"dag_run_id": run_id, "logical_date": logical_date.isoformat(), "conf": conf or {}},
    )
    return run_id


def pause(client: Any, *dag_ids: str) -> None:
    """Leave the shared Airflow as found: these DAGs must not keep scheduling after the test."""
    for dag_id in dag_ids:
        client.call("PATCH", f"/dags/{dag_id}", {"is_paused": True})


def states(client: Any, dag_id: str, run_id: str) -> dict[str, str | None]:
    return {ti["task_id"]: ti["state"] for ti in client.task_instances(dag_id, run_id)}


# ------------------------------------------------------------------------------------------------- backfills
def free_weekday_window(client: Any, dag_id: str, days: int = 3) -> tuple[datetime, datetime]:
    """[first midnight, last day's 23:59:59] of `days` consecutive weekdays on which `dag_id` has no run yet.

    A backfill with reprocess_behavior=none creates nothing for a day that already has a run, and the metadata DB
    outlives test sessions, so each backfill test needs days no earlier session has filled.
    """
    for _ in range(50):
        start = _random_day()
        if start.weekday() + days > 5:  # the window must not reach the weekend
            continue
        end = start + timedelta(days=days) - timedelta(seconds=1)
        if end > datetime.now(UTC) - timedelta(days=1):
            continue
        window = f"logical_date_gte={quote(start.isoformat())}&logical_date_lte={quote(end.isoformat())}"
        if client.call("GET", f"/dags/{dag_id}/dagRuns?{window}&limit=1")["total_entries"] == 0:
            return start, end
    raise AssertionError(f"no {days} free weekdays of {dag_id} in 50 tries; clear old runs from the metadata DB")


def backfill_body(
    dag_id: str, start: datetime, end: datetime, reprocess: str = "none", max_active_runs: int = 1
) -> dict[str, Any]:
    """The POST /api/v2/backfills body (and /backfills/dry_run), as docs/runbooks/backfill.md writes it."""
    return {
        "dag_id": dag_id,
        "from_date": start.isoformat(),
        "to_date": end.isoformat(),
        "reprocess_behavior": reprocess,
        "max_active_runs": max_active_runs,
        "run_backwards": False,
    }


def wait_backfill(client: Any, backfill_id: int, timeout: float = 420) -> dict[str, Any]:
    """Poll GET /backfills/{id} until the scheduler marks it complete (no queued or running run left)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        backfill = client.call("GET", f"/backfills/{backfill_id}")
        if backfill["completed_at"]:
            return backfill
        if time.monotonic() > deadline:
            raise AssertionError(f"backfill {backfill_id} not complete after {timeout:.0f}s: {backfill}")
        time.sleep(3)


def runs_between(client: Any, dag_id: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Every run of `dag_id` whose logical date lies in [start, end], oldest first."""
    window = f"logical_date_gte={quote(start.isoformat())}&logical_date_lte={quote(end.isoformat())}"
    return client.call("GET", f"/dags/{dag_id}/dagRuns?{window}&order_by=logical_date&limit=100")["dag_runs"]
