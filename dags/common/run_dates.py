"""The date a run's batch is for, also when the run has no logical date.

Airflow 3 lets a manual run (UI, REST, CLI) have `logical_date: null`. Such a run's context then has no `ds`,
`ds_nodash`, `logical_date` or `data_interval_*`, but `dag_run.run_after` is always set. Tasks take the batch
date from here instead of defaulting a missing `ds` to "" (a batch dated nothing) or asserting it exists.
Jinja templates get the same date from the `BATCH_DATE_MACROS` a DAG registers as `user_defined_macros`:
`{{ batch_date() }}` / `{{ batch_date_nodash() }}` instead of `{{ ds }}` / `{{ ds_nodash }}`, which are undefined
(an error under Airflow's StrictUndefined) in such a run.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from jinja2 import pass_context  # already loaded by airflow.sdk: no extra cost at DAG parse time


def _run_after_utc(dag_run: Any, missing: str) -> datetime:
    """`dag_run.run_after` in UTC; `missing` says what could not be determined when the run has none."""
    run_after = getattr(dag_run, "run_after", None)
    if run_after is None:
        raise ValueError(f"{missing} and no dag_run.run_after; pass the task's `ds` and `dag_run` context values")
    if not isinstance(run_after, datetime) or run_after.tzinfo is None:
        raise ValueError(f"dag_run.run_after must be a timezone-aware datetime, got {run_after!r}")
    return run_after.astimezone(UTC)


def batch_date(ds: str | None, dag_run: Any) -> str:
    """`YYYY-MM-DD` of the logical date (`ds`), or for a run without one the UTC date of `dag_run.run_after`.

    Raises ValueError when `ds` is malformed or when there is neither a `ds` nor a dag_run with `run_after`.
    """
    if ds is not None:
        try:
            return date.fromisoformat(ds).isoformat()
        except ValueError as error:
            raise ValueError(f"ds must be a YYYY-MM-DD date, got {ds!r}") from error
    return _run_after_utc(dag_run, missing="no batch date: the run has no logical date (ds)").date().isoformat()


def batch_date_nodash(ds: str | None, dag_run: Any) -> str:
    """`batch_date` as `YYYYMMDD`, the form `ds_nodash` has (file and table names)."""
    return batch_date(ds, dag_run).replace("-", "")


def data_interval(start: datetime | None, end: datetime | None, dag_run: Any) -> tuple[datetime, datetime]:
    """The run's data interval (`data_interval_start`, `data_interval_end`), or for a run without a logical date,
    which has none, the empty interval at `dag_run.run_after` in UTC (what a manual run's interval looks like).

    Only both bounds or neither exist in a context; one without the other is rejected rather than guessed.
    """
    if start is not None and end is not None:
        return start, end
    if start is not None or end is not None:
        raise ValueError(f"data interval needs both bounds or neither, got start={start!r} end={end!r}")
    moment = _run_after_utc(dag_run, missing="no data interval: the run has no logical date")
    return moment, moment


def run_moment(logical_date: datetime | None, dag_run: Any) -> datetime:
    """The run's logical date, or for a run without one `dag_run.run_after` in UTC: the moment the run stands for."""
    if logical_date is not None:
        return logical_date
    return _run_after_utc(dag_run, missing="no run moment: the run has no logical date")


@pass_context
def _run_moment_macro(context: Any) -> str:
    return run_moment(context.get("logical_date"), context.get("dag_run")).isoformat()


@pass_context
def _batch_date_macro(context: Any) -> str:
    return batch_date(context.get("ds"), context.get("dag_run"))


@pass_context
def _batch_date_nodash_macro(context: Any) -> str:
    return batch_date_nodash(context.get("ds"), context.get("dag_run"))


# `DAG(user_defined_macros=BATCH_DATE_MACROS)`: the template context is passed in, so templates call them bare.
BATCH_DATE_MACROS: dict[str, Any] = {
    "batch_date": _batch_date_macro,
    "batch_date_nodash": _batch_date_nodash_macro,
    "run_moment": _run_moment_macro,  # ISO timestamp: the logical date or run_after (e.g. a child run's logical_date)
}
