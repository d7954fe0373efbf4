"""The date a run's batch is for, also when the run has no logical date.

Airflow 3 lets a manual run (UI, REST, CLI) have `logical_date: null`. Such a run's context then has no `ds`,
`ds_nodash`, `logical_date` or `data_interval_*`, but `dag_run.run_after` is always set. Tasks take the batch
date from here instead of defaulting a missing `ds` to "" (a batch dated nothing) or asserting it exists.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any


def batch_date(ds: str | None, dag_run: Any) -> str:
    """`YYYY-MM-DD` of the logical date (`ds`), or for a run without one the UTC date of `dag_run.run_after`.

    Raises ValueError when `ds` is malformed or when there is neither a `ds` nor a dag_run with `run_after`.
    """
    if ds is not None:
        try:
            return date.fromisoformat(ds).isoformat()
        except ValueError as error:
            raise ValueError(f"ds must be a YYYY-MM-DD date, got {ds!r}") from error
    run_after = getattr(dag_run, "run_after", None)
    if run_after is None:
        raise ValueError(
            "no batch date: the run has no logical date (ds) and no dag_run.run_after; "
            "pass the task's `ds` and `dag_run` context values"
        )
    if not isinstance(run_after, datetime) or run_after.tzinfo is None:
        raise ValueError(f"dag_run.run_after must be a timezone-aware datetime, got {run_after!r}")
    return run_after.astimezone(UTC).date().isoformat()


def batch_date_nodash(ds: str | None, dag_run: Any) -> str:
    """`batch_date` as `YYYYMMDD`, the form `ds_nodash` has (file and table names)."""
    return batch_date(ds, dag_run).replace("-", "")
