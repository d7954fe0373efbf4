"""common.run_dates: the batch date of a run with a logical date, of one without (run_after), and the errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from airflow.sdk.api.datamodels._generated import DagRun

from common.run_dates import BATCH_DATE_MACROS, batch_date, batch_date_nodash, data_interval

# 23:30 in New York on 1 March is already 2 March in UTC: the batch date is the UTC one.
RUN_AFTER = datetime(2026, 3, 1, 23, 30, tzinfo=timezone(timedelta(hours=-5)))


def dag_run(logical_date: datetime | None, run_after: datetime = RUN_AFTER) -> DagRun:
    """The dag_run a task's context carries (the Task SDK's model), as the API server sends it."""
    return DagRun(
        dag_id="phase2_02_taskflow_api",
        run_id="manual__2026-03-02T04:30:00+00:00",
        logical_date=logical_date,
        data_interval_start=logical_date,
        data_interval_end=logical_date,
        run_after=run_after,
        start_date=run_after,
        end_date=None,
        run_type="manual",
        state="running",
        consumed_asset_events=[],
        partition_key=None,
    )


def test_a_run_with_a_logical_date_uses_ds():
    run = dag_run(logical_date=datetime(2026, 2, 14, tzinfo=UTC))
    assert batch_date("2026-02-14", run) == "2026-02-14"
    assert batch_date_nodash("2026-02-14", run) == "20260214"
    assert batch_date("2026-02-14", None) == "2026-02-14"  # ds alone is enough


def test_a_run_without_a_logical_date_uses_the_utc_date_of_run_after():
    run = dag_run(logical_date=None)
    assert batch_date(None, run) == "2026-03-02"
    assert batch_date_nodash(None, run) == "20260302"


def test_neither_ds_nor_run_after_is_a_clear_error():
    with pytest.raises(ValueError, match=r"no batch date: the run has no logical date \(ds\) and no dag_run.run_after"):
        batch_date(None, None)
    with pytest.raises(ValueError, match="no batch date"):
        batch_date(None, object())


def test_malformed_values_are_rejected_not_passed_on():
    with pytest.raises(ValueError, match="ds must be a YYYY-MM-DD date, got ''"):
        batch_date("", dag_run(logical_date=None))
    with pytest.raises(ValueError, match="ds must be a YYYY-MM-DD date, got '2026-13-01'"):
        batch_date("2026-13-01", None)

    class NaiveRun:
        run_after = datetime(2026, 3, 1, 12, 0)

    with pytest.raises(ValueError, match="run_after must be a timezone-aware datetime"):
        batch_date(None, NaiveRun())


def render(template: str, context: dict) -> str:
    """Render as a DAG with `user_defined_macros=BATCH_DATE_MACROS` does: Airflow's StrictUndefined environment."""
    from airflow.sdk.definitions._internal.templater import create_template_env

    return create_template_env(user_defined_macros=BATCH_DATE_MACROS).from_string(template).render(context)


def test_the_macros_render_ds_or_the_utc_day_of_run_after():
    dated = {"ds": "2026-02-14", "dag_run": dag_run(logical_date=datetime(2026, 2, 14, tzinfo=UTC))}
    assert render("{{ batch_date() }}/{{ batch_date_nodash() }}", dated) == "2026-02-14/20260214"
    undated = {"dag_run": dag_run(logical_date=None)}
    assert render("{{ batch_date() }}/{{ batch_date_nodash() }}", undated) == "2026-03-02/20260302"


def test_ds_itself_is_an_error_in_an_undated_run_and_so_is_a_macro_without_a_dag_run():
    import jinja2

    with pytest.raises(jinja2.UndefinedError, match="'ds' is undefined"):
        render("{{ ds }}", {"dag_run": dag_run(logical_date=None)})
    with pytest.raises(ValueError, match="no batch date"):
        render("{{ batch_date() }}", {})


def test_the_data_interval_or_the_empty_interval_at_run_after_in_utc():
    start, end = datetime(2026, 2, 13, tzinfo=UTC), datetime(2026, 2, 14, tzinfo=UTC)
    assert data_interval(start, end, dag_run(logical_date=end)) == (start, end)
    moment = datetime(2026, 3, 2, 4, 30, tzinfo=UTC)
    assert data_interval(None, None, dag_run(logical_date=None)) == (moment, moment)
    assert data_interval(None, None, dag_run(logical_date=None))[0].tzinfo == UTC
    with pytest.raises(ValueError, match="data interval needs both bounds or neither"):
        data_interval(start, None, dag_run(logical_date=None))
    with pytest.raises(ValueError, match=r"no data interval: the run has no logical date and no dag_run\.run_after"):
        data_interval(None, None, None)


def test_run_moment_is_the_logical_date_or_run_after_in_utc():
    logical = datetime(2026, 2, 14, 6, 0, tzinfo=UTC)
    assert render("{{ run_moment() }}", {"logical_date": logical, "dag_run": dag_run(logical)}) == logical.isoformat()
    assert render("{{ run_moment() }}", {"dag_run": dag_run(logical_date=None)}) == "2026-03-02T04:30:00+00:00"
    with pytest.raises(ValueError, match="no run moment"):
        render("{{ run_moment() }}", {})
