"""Phase 3 (operators, sensors): templated Bash, PythonOperator arguments, and sensors really waiting.

The sensor runs shrink poke intervals and timeouts on the loaded DAG (minutes → seconds) so a real wait
fits in a test; the modes, the sensors and the landing-directory connection are the DAG's own.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from dag_run_helpers import get_dag, task_states, try_history, xcom_value
from test_runs_without_logical_date import RUN_AFTER, SAME_UTC_DAY, run_xcoms

from common.file_arrival import write_atomically
from common.orders import sample_orders


def test_bash_operator_templates_env_and_command(dagbag):
    dag = get_dag(dagbag, "phase3_01_bash_operator")
    write_report = dag.get_task("write_report")
    assert write_report.env["RUN_DATE"] == "{{ batch_date() }}"  # ds, or run_after's UTC day (common.run_dates)
    assert write_report.append_env is True
    assert "{{ batch_date() }}" in dag.get_task("print_date").bash_command


def test_bash_operator_run_renders_ds_into_command_and_env(dagbag, tmp_path):
    dag = get_dag(dagbag, "phase3_01_bash_operator")
    run = dag.test(run_conf={"output_dir": str(tmp_path)})
    assert run.state == "success", task_states(run)
    ds = run.logical_date.strftime("%Y-%m-%d")
    assert xcom_value(run, "print_date") == ds  # last stdout line of the templated command
    report = Path(xcom_value(run, "write_report"))
    assert report == tmp_path / f"report_{ds.replace('-', '')}.txt"
    lines = report.read_text().splitlines()
    assert lines == [f"run_date={ds}", f"run_id={run.run_id}", f"uid={os.getuid()}"]
    assert int(xcom_value(run, "count_lines")) == 3


def test_python_operator_passes_op_args_op_kwargs_and_context(dagbag):
    dag = get_dag(dagbag, "phase3_02_python_operator")
    assert dag.get_task("generate_orders").op_args == [40, 8]
    assert dag.get_task("summarize_eu").op_kwargs["region"] == "eu"
    run = dag.test()
    assert run.state == "success", task_states(run)
    ds = run.logical_date.strftime("%Y-%m-%d")
    orders = xcom_value(run, "generate_orders")
    assert orders == sample_orders(ds, 40, bad_every=8)
    summary = xcom_value(run, "summarize_eu")
    assert summary["label"] == f"eu-{ds.replace('-', '')}"  # op_kwargs are templated
    assert summary["valid"] == 35 and len(summary["invalid_ids"]) == 5
    assert summary["try_number"] == 1


def test_virtualenv_task_runs_in_its_own_interpreter_and_returns_through_xcom(dagbag):
    """@task.virtualenv: another interpreter (sys.executable, sys.prefix), no Airflow in it, the result an XCom."""
    import statistics
    import sys

    from common.isolation import venv_cache_dir

    dag = get_dag(dagbag, "phase3_02_python_operator")
    isolated = dag.get_task("profile_amounts")
    assert type(isolated).__name__ == "_PythonVirtualenvDecoratedOperator"
    assert isolated.system_site_packages is False and isolated.venv_cache_path == venv_cache_dir()
    assert isolated.upstream_task_ids == {"generate_orders"}
    run = dag.test()
    assert run.state == "success", task_states(run)
    report = xcom_value(run, "profile_amounts")
    # a different interpreter, in an environment of its own under the cache, without the host's packages
    assert report["interpreter"] != sys.executable
    assert report["prefix"] != sys.prefix and report["prefix"].startswith(venv_cache_dir())
    assert report["airflow_importable"] is False
    # it computed on the upstream task's XCom, handed in as its argument
    amounts = sorted(o["amount"] for o in sample_orders(run.logical_date.strftime("%Y-%m-%d"), 40, bad_every=8))
    positive = [a for a in amounts if a > 0]
    assert report["positive_amounts"] == len(positive) < 40  # negative amounts of malformed orders are left out
    assert report["median_amount"] == statistics.median(positive)


def test_sensor_modes_intervals_and_timeouts(dagbag):
    dag = get_dag(dagbag, "phase3_03_sensors")
    file_sensor = dag.get_task("wait_for_orders_file")
    python_sensor = dag.get_task("wait_for_partner_files")
    time_sensor = dag.get_task("wait_for_cutoff")
    assert (type(file_sensor).__name__, file_sensor.mode) == ("FileSensor", "poke")
    assert (type(python_sensor).__name__, python_sensor.mode) == ("PythonSensor", "reschedule")
    assert (type(time_sensor).__name__, time_sensor.mode) == ("TimeSensor", "reschedule")
    assert file_sensor.poke_interval == 30 and file_sensor.timeout == 1800
    # poke mode holds the slot for the whole wait: the kill switch must outlast the sensor's own timeout
    assert file_sensor.execution_timeout.total_seconds() > file_sensor.timeout
    assert python_sensor.timeout == 6 * 3600
    assert dag.get_task("load_orders").upstream_task_ids == {
        "wait_for_orders_file",
        "wait_for_partner_files",
        "wait_for_cutoff",
    }


@pytest.fixture
def landing(tmp_path, monkeypatch):
    """The fs_default connection pointing at a fresh landing directory, as the platform defines it."""
    monkeypatch.setenv("AIRFLOW_CONN_FS_DEFAULT", json.dumps({"conn_type": "fs", "extra": {"path": str(tmp_path)}}))
    return tmp_path


def _fast_sensors(dag, monkeypatch, *, timeout: float) -> None:
    """Seconds instead of minutes, restored after the test (the DagBag is shared by the session)."""
    for task_id in ("wait_for_orders_file", "wait_for_partner_files", "wait_for_cutoff"):
        sensor = dag.get_task(task_id)
        monkeypatch.setattr(sensor, "poke_interval", 1)
        monkeypatch.setattr(sensor, "timeout", timeout)


def _reschedules(run, task_id: str) -> int:
    from airflow.models.taskreschedule import TaskReschedule
    from airflow.utils.session import create_session

    with create_session() as session:
        ti = run.get_task_instance(task_id, session=session)
        return session.query(TaskReschedule).filter(TaskReschedule.ti_id == ti.id).count()


def _state_of(dag_id: str, task_id: str, logical_date: datetime) -> str | None:
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        ti = (
            session.query(TaskInstance)
            .join(DagRun, DagRun.run_id == TaskInstance.run_id)
            .filter(TaskInstance.dag_id == dag_id, DagRun.dag_id == dag_id, TaskInstance.task_id == task_id)
            .filter(DagRun.logical_date == logical_date)
            .one_or_none()
        )
        return None if ti is None or ti.state is None else str(ti.state.value if hasattr(ti.state, "value") else ti.state)


def test_sensors_wait_for_late_files_and_the_cutoff(dagbag, landing, monkeypatch):
    dag = get_dag(dagbag, "phase3_03_sensors")
    _fast_sensors(dag, monkeypatch, timeout=300)
    logical_date = datetime.now(UTC).replace(microsecond=0)
    day = logical_date.strftime("%Y%m%d")
    write_atomically(landing / f"orders_{day}.csv", "order_id,amount\n1,10\n2,20\n3,30\n")
    cutoff = dag.get_task("wait_for_cutoff")
    monkeypatch.setattr(cutoff, "target_datetime", datetime.now(UTC) + timedelta(hours=1))
    released: list[str] = []
    stop = threading.Event()

    def release_when_rescheduled() -> None:
        """Only once a sensor is parked in up_for_reschedule does its condition become true."""
        while not stop.is_set() and len(released) < 2:
            if "partners" not in released and _state_of(dag.dag_id, "wait_for_partner_files", logical_date) == "up_for_reschedule":
                for index in range(3):
                    write_atomically(landing / f"partners_{day}" / f"partner_{index}.csv", "id\n1\n")
                released.append("partners")
            if "cutoff" not in released and _state_of(dag.dag_id, "wait_for_cutoff", logical_date) == "up_for_reschedule":
                cutoff.target_datetime = datetime.now(UTC) - timedelta(seconds=1)
                released.append("cutoff")
            stop.wait(0.5)

    watcher = threading.Thread(target=release_when_rescheduled, daemon=True)
    watcher.start()
    try:
        run = dag.test(logical_date=logical_date)
    finally:
        stop.set()
        watcher.join(timeout=5)
    assert sorted(released) == ["cutoff", "partners"]
    assert run.state == "success", task_states(run)
    assert xcom_value(run, "load_orders") == 3
    # reschedule mode gave the slot back between pokes; poke mode never did
    assert _reschedules(run, "wait_for_partner_files") >= 1
    assert _reschedules(run, "wait_for_cutoff") >= 1
    assert _reschedules(run, "wait_for_orders_file") == 0


def test_file_sensor_times_out_when_the_file_never_lands(dagbag, landing, monkeypatch):
    dag = get_dag(dagbag, "phase3_03_sensors")
    _fast_sensors(dag, monkeypatch, timeout=3)
    monkeypatch.setattr(dag.get_task("wait_for_cutoff"), "target_datetime", datetime.now(UTC) - timedelta(minutes=1))
    run = dag.test()
    states = task_states(run)
    assert run.state == "failed"
    assert states["wait_for_orders_file"] == "failed"
    assert states["load_orders"] == "upstream_failed"
    # a sensor timeout is final: no retries were spent waiting again
    assert run.get_task_instance("wait_for_orders_file").try_number == 1
    assert try_history(run, "wait_for_orders_file") == []


def test_sensors_use_the_platforms_landing_directory(dagbag, platform_connections, monkeypatch):
    """The fs_default the local platform builds from needs.yaml (service `filesystem`) is what FileSensor reads."""
    landing_dir = Path(json.loads(platform_connections["AIRFLOW_CONN_FS_DEFAULT"])["extra"]["path"])
    monkeypatch.setenv("AIRFLOW_CONN_FS_DEFAULT", platform_connections["AIRFLOW_CONN_FS_DEFAULT"])
    dag = get_dag(dagbag, "phase3_03_sensors")
    _fast_sensors(dag, monkeypatch, timeout=30)
    monkeypatch.setattr(dag.get_task("wait_for_cutoff"), "target_datetime", datetime.now(UTC) - timedelta(minutes=1))
    logical_date = datetime.now(UTC).replace(microsecond=0)
    day = logical_date.strftime("%Y%m%d")
    written = [write_atomically(landing_dir / f"orders_{day}.csv", "order_id\n1\n2\n")]
    written += [write_atomically(landing_dir / f"partners_{day}" / f"p{index}.csv", "id\n1\n") for index in range(3)]
    try:
        run = dag.test(logical_date=logical_date)
        assert run.state == "success", task_states(run)
        assert xcom_value(run, "load_orders") == 2
    finally:
        for path in written:
            path.unlink(missing_ok=True)
        (landing_dir / f"partners_{day}").rmdir()


def test_sensors_wait_for_the_run_after_day_in_a_run_without_a_logical_date(dagbag, landing, monkeypatch):
    """Undated run: both sensors' templates (`{{ batch_date_nodash() }}`) and load_orders use run_after's UTC day."""
    dag = get_dag(dagbag, "phase3_03_sensors")
    _fast_sensors(dag, monkeypatch, timeout=30)
    monkeypatch.setattr(dag.get_task("wait_for_cutoff"), "target_datetime", datetime.now(UTC) - timedelta(minutes=1))
    write_atomically(landing / "orders_20260308.csv", "order_id\n1\n")  # New York's day: must not be read
    write_atomically(landing / "orders_20260309.csv", "order_id\n1\n2\n")  # UTC day of RUN_AFTER
    for index in range(3):
        write_atomically(landing / "partners_20260309" / f"p{index}.csv", "id\n1\n")
    undated = dag.test(logical_date=None, run_after=RUN_AFTER)
    assert undated.logical_date is None
    assert undated.state == "success", task_states(undated)
    assert xcom_value(undated, "load_orders") == 2
    dated = dag.test(logical_date=SAME_UTC_DAY)
    assert dated.state == "success", task_states(dated)
    assert run_xcoms(dated) == run_xcoms(undated)
