"""Phase 3 · Sensors: waiting for a file, a condition and a time of day.

Teaches:
- FileSensor in `poke` mode: holds its worker slot and checks every `poke_interval` seconds — right for
  short waits. The landing directory is the `fs_default` connection's `path`, so no path is hard-coded.
- PythonSensor in `reschedule` mode: releases the slot between checks (state `up_for_reschedule`) — right
  for long waits. Its condition (enough complete partner files) lives in common.file_arrival.
- TimeSensor in `reschedule` mode: waits for the daily cut-off.
- `timeout`: how long a sensor may wait in total before failing with AirflowSensorTimeout; in poke mode
  `execution_timeout` must be larger than `timeout`, or the task is killed before the sensor times out.
"""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path
from typing import Any

from airflow.providers.standard.sensors.filesystem import FileSensor
from airflow.providers.standard.sensors.python import PythonSensor
from airflow.providers.standard.sensors.time import TimeSensor
from airflow.sdk import task

from common.config_access import require_connection
from common.dag_header import platform_dag
from common.file_arrival import count_data_lines, enough_files_arrived, landing_file_name
from common.run_dates import BATCH_DATE_MACROS, batch_date_nodash

LANDING_CONN_ID = "fs_default"
PARTNER_FILES_EXPECTED = 3


def landing_dir() -> Path:
    return Path(require_connection(LANDING_CONN_ID).extra_dejson.get("path", ""))


def partner_files_ready(ds_nodash: str, expected: int) -> bool:
    return enough_files_arrived(landing_dir() / f"partners_{ds_nodash}", expected, pattern="*.csv")


@task
def load_orders(ds: str | None = None, dag_run: Any = None) -> int:
    return count_data_lines(landing_dir() / landing_file_name("orders", batch_date_nodash(ds, dag_run)))


with platform_dag(
    __file__, __doc__, owner="data-platform", severity="P3", tags=["sensors"],
    description="FileSensor (poke), PythonSensor and TimeSensor (reschedule) with intervals and timeouts",
    schedule="@daily", max_active_runs=1,
    user_defined_macros=BATCH_DATE_MACROS,  # {{ batch_date_nodash() }}: ds_nodash, or run_after's UTC day
) as dag:
    wait_for_orders_file = FileSensor(
        task_id="wait_for_orders_file",
        fs_conn_id=LANDING_CONN_ID,
        filepath="orders_{{ batch_date_nodash() }}.csv",
        mode="poke",
        poke_interval=30,
        timeout=timedelta(minutes=30).total_seconds(),
        execution_timeout=timedelta(minutes=35),
    )

    wait_for_partner_files = PythonSensor(
        task_id="wait_for_partner_files",
        python_callable=partner_files_ready,
        op_kwargs={"ds_nodash": "{{ batch_date_nodash() }}", "expected": PARTNER_FILES_EXPECTED},
        mode="reschedule",
        poke_interval=timedelta(minutes=5).total_seconds(),
        timeout=timedelta(hours=6).total_seconds(),
    )

    wait_for_cutoff = TimeSensor(
        task_id="wait_for_cutoff",
        target_time=time(5, 0),
        mode="reschedule",
        poke_interval=timedelta(minutes=10).total_seconds(),
        timeout=timedelta(hours=24).total_seconds(),
    )

    [wait_for_orders_file, wait_for_partner_files, wait_for_cutoff] >> load_orders()
