"""common.callbacks: events built from a context, appended durably, read back with filters."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from common import callbacks


@pytest.fixture
def log_path(tmp_path, monkeypatch):
    path = tmp_path / "nested" / "events.jsonl"
    monkeypatch.setenv(callbacks.CALLBACK_LOG_ENV, str(path))
    return path


def _context(task_id="load", try_number=1, exception=None):
    ti = SimpleNamespace(dag_id="d", task_id=task_id, run_id="r1", try_number=try_number, map_index=-1)
    return {"ti": ti, "exception": exception}


def test_log_path_comes_from_env_or_airflow_home(log_path, monkeypatch, tmp_path):
    assert callbacks.callback_log_path() == log_path
    monkeypatch.delenv(callbacks.CALLBACK_LOG_ENV)
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    assert callbacks.callback_log_path() == tmp_path / "callbacks" / "events.jsonl"


def test_each_callback_appends_one_event(log_path):
    callbacks.on_execute(_context())
    callbacks.on_retry(_context(try_number=1, exception=ConnectionError("dropped")))
    callbacks.on_success(_context(try_number=2))
    events = callbacks.read_events()
    assert [(e["kind"], e["try_number"]) for e in events] == [("execute", 1), ("retry", 1), ("success", 2)]
    assert events[1]["error"] == "ConnectionError('dropped')"
    assert callbacks.read_events(kind="success", task_id="load")[0]["try_number"] == 2
    assert callbacks.read_events(task_id="other") == []


def test_dag_level_context_without_ti(log_path):
    callbacks.on_dag_failure({"dag": SimpleNamespace(dag_id="d"), "run_id": "r9", "reason": "task_failure"})
    (event,) = callbacks.read_events()
    assert (event["kind"], event["dag_id"], event["run_id"], event["reason"]) == ("dag_failure", "d", "r9", "task_failure")


def test_deadline_callback_reads_the_deadline_context(log_path):
    context = {"dag_run": {"dag_id": "d", "run_id": "r2"}, "deadline": {"deadline_time": "2026-01-01T00:30:00+00:00"}}
    callbacks.on_deadline_missed(context, alert_name="30m")
    (event,) = callbacks.read_events(kind="deadline_missed")
    assert event["alert_name"] == "30m" and event["run_id"] == "r2" and event["deadline_time"].startswith("2026-01-01")


def test_unknown_kind_is_rejected():
    with pytest.raises(ValueError, match="callback kind 'sla'"):
        callbacks.callback_event("sla", {})


def test_missing_log_reads_as_empty(log_path):
    assert callbacks.read_events() == []
