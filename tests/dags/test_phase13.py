"""Phase 13 (multi-DAG): structure of the sensors and the trigger, then cross-DAG behaviour in the local
platform's real Airflow — scheduler, dag-processor, LocalExecutor, Postgres metadata DB — which dag.test() cannot
cover: the sensor-gated DAG waits for its upstreams, the triggered child receives its conf, cross-DAG XCom flows
both ways, conditional triggering skips the child, and a child failure propagates to the parent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from airflow_live import pause, states, trigger_at, unique_day, unique_moment
from dag_run_helpers import get_dag, task_states

from common.orchestration import CHILD_DAG_ID, PARENT_DAG_ID, SENSOR_DAG_ID
from local.testing import eventually

PHASE13 = [SENSOR_DAG_ID, PARENT_DAG_ID, CHILD_DAG_ID]


@pytest.mark.parametrize("dag_id", PHASE13)
def test_policy(dagbag, dag_id: str) -> None:
    dag = get_dag(dagbag, dag_id)
    assert dag.owner == "orchestration" and "phase13" in dag.tags and "mermaid" in dag.doc_md
    assert dag.default_args["retries"] >= 1


def test_sensors_use_delta_and_date_fn_on_logical_date_with_timeouts(dagbag) -> None:
    dag = get_dag(dagbag, SENSOR_DAG_ID)
    by_delta, by_fn = dag.get_task("wait_for_parent_trigger"), dag.get_task("wait_for_child_run")
    assert (by_delta.external_dag_id, by_delta.external_task_id) == (PARENT_DAG_ID, "trigger_child")
    assert by_delta.execution_delta == timedelta(hours=1) and by_delta.execution_date_fn is None
    assert (by_fn.external_dag_id, by_fn.external_task_id) == (CHILD_DAG_ID, None)
    ours = datetime(2026, 7, 1, 2, 0, tzinfo=UTC)
    assert by_fn.execution_date_fn(ours) == datetime(2026, 7, 1, 1, 0, tzinfo=UTC)
    for sensor in (by_delta, by_fn):
        assert sensor.mode == "reschedule" and sensor.timeout == timedelta(hours=3).total_seconds()
        assert "failed" in sensor.failed_states
    assert str(dag.timetable.summary) == "0 2 * * *" and str(get_dag(dagbag, PARENT_DAG_ID).timetable.summary) == "0 1 * * *"


def test_trigger_waits_for_the_child_and_never_retries(dagbag) -> None:
    trigger = get_dag(dagbag, PARENT_DAG_ID).get_task("trigger_child")
    assert trigger.trigger_dag_id == CHILD_DAG_ID and trigger.wait_for_completion is True
    assert [str(s.value) for s in trigger.failed_states] == ["failed"] and trigger.retries == 0
    assert trigger.trigger_run_id == "child__{{ run_id }}"


def test_child_rejects_a_run_without_its_conf_contract(dagbag) -> None:
    run = get_dag(dagbag, CHILD_DAG_ID).test(run_conf={"records": "many"})
    states_ = task_states(run)
    assert run.state == "failed" and states_["read_conf"] == "failed" and states_["publish_result"] == "upstream_failed"


# ------------------------------------------------------------------------------------------ real scheduler
@pytest.fixture(scope="module")
def airflow_client(airflow_service):
    from local.airflow_client import AirflowClient

    client = AirflowClient()
    for dag_id in PHASE13:  # the child is only ever triggered, but a paused DAG's triggered runs stay queued
        client.wait_for_dag(dag_id, timeout=300)
        client.call("PATCH", f"/dags/{dag_id}", {"is_paused": False})
    yield client
    pause(client, *PHASE13)


def test_sensor_gated_dag_waits_for_upstreams_and_the_child_receives_its_conf(airflow_client) -> None:
    c = airflow_client
    day = unique_day(c, *PHASE13)
    parent_date, sensor_date = day + timedelta(hours=1), day + timedelta(hours=2)

    sensor_run = trigger_at(c, SENSOR_DAG_ID, sensor_date, prefix="gated")
    # With no upstream run yet, both sensors poke, release their slot, and wait; the report does not run.
    waiting = {"wait_for_parent_trigger": "up_for_reschedule", "wait_for_child_run": "up_for_reschedule", "build_report": None}
    eventually(lambda: states(c, SENSOR_DAG_ID, sensor_run) == waiting, 240, "both sensors to be up_for_reschedule")
    assert c.run(SENSOR_DAG_ID, sensor_run)["state"] == "running"

    parent_run = trigger_at(c, PARENT_DAG_ID, parent_date, {"correlation_id": "corr-13"}, prefix="parent")
    assert c.wait(PARENT_DAG_ID, parent_run, timeout=600)["state"] == "success"

    child = c.run(CHILD_DAG_ID, f"child__{parent_run}")
    assert child["state"] == "success" and child["run_type"] == "operator_triggered"
    assert child["conf"] == {"parent_dag_id": PARENT_DAG_ID, "parent_run_id": parent_run, "correlation_id": "corr-13",
                             "partition": "eu-west", "records": 120}
    assert datetime.fromisoformat(child["logical_date"].replace("Z", "+00:00")) == parent_date
    # Cross-DAG XCom both ways: the child read the parent's summary; the parent pulled the child's result.
    assert c.xcom(CHILD_DAG_ID, child["dag_run_id"], "pull_parent_summary") == {"partition": "eu-west", "records": 120, "invalid": 0}
    assert c.xcom(PARENT_DAG_ID, parent_run, "collect_child_result") == {
        "child_run_id": f"child__{parent_run}", "correlation_id": "corr-13", "partition": "eu-west",
        "processed": 120, "invalid_ratio": 0.0,
    }

    assert c.wait(SENSOR_DAG_ID, sensor_run, timeout=300)["state"] == "success"
    assert c.xcom(SENSOR_DAG_ID, sensor_run, "build_report") == {
        "report_for": sensor_date.isoformat(), "upstream_logical_date": parent_date.isoformat(),
    }


def test_small_batch_is_not_worth_a_child_run(airflow_client) -> None:
    c = airflow_client
    parent_run = trigger_at(c, PARENT_DAG_ID, unique_moment(), {"records": 10}, prefix="small")
    assert c.wait(PARENT_DAG_ID, parent_run, timeout=300)["state"] == "success"
    observed = states(c, PARENT_DAG_ID, parent_run)
    assert observed["nothing_to_process"] == "success"
    assert observed["build_child_conf"] == observed["trigger_child"] == "skipped"
    with pytest.raises(Exception, match="HTTP 404"):
        c.run(CHILD_DAG_ID, f"child__{parent_run}")


def test_child_failure_propagates_to_the_parent_and_fails_the_sensors_fast(airflow_client) -> None:
    c = airflow_client
    day = unique_day(c, *PHASE13)
    sensor_run = trigger_at(c, SENSOR_DAG_ID, day + timedelta(hours=2), prefix="gated_bad")
    parent_run = trigger_at(c, PARENT_DAG_ID, day + timedelta(hours=1), {"invalid": 30}, prefix="bad")
    assert c.wait(PARENT_DAG_ID, parent_run, timeout=600)["state"] == "failed"
    child_states = states(c, CHILD_DAG_ID, f"child__{parent_run}")
    assert c.run(CHILD_DAG_ID, f"child__{parent_run}")["state"] == "failed"
    assert child_states["process"] == "failed" and child_states["publish_result"] == "upstream_failed"
    parent_states = states(c, PARENT_DAG_ID, parent_run)
    assert parent_states["trigger_child"] == "failed" and parent_states["collect_child_result"] == "upstream_failed"
    # failed_states: the sensors stop waiting (fail, then retry per default_args) instead of poking for 3 hours.
    gave_up = {"up_for_retry", "failed"}
    eventually(
        lambda: {states(c, SENSOR_DAG_ID, sensor_run)[t] for t in ("wait_for_parent_trigger", "wait_for_child_run")} <= gave_up,
        240, "both sensors to fail on the failed upstreams",
    )
    assert states(c, SENSOR_DAG_ID, sensor_run)["build_report"] in (None, "upstream_failed")
    c.call("PATCH", f"/dags/{SENSOR_DAG_ID}/dagRuns/{sensor_run}", {"state": "failed"})  # stop the retries
