"""common.dag_header: a catalogue DAG's id, tags and defaults derived from its file.

That every converted DAG kept its id, tags, owner and the rest is checked on the whole DagBag by tests/dags/test_dagbag.py
and the checklist rules; this file checks the helper itself.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from common.dag_header import PLATFORM_START_DATE, dag_id_for, platform_dag, platform_tags
from common.defaults import on_task_failure

DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.mark.parametrize(
    ("file", "dag_id"),
    [
        ("/opt/airflow/dags/phase10/01_orders_quality_demo.py", "phase10_01_orders_quality_demo"),
        ("dags/phase1/09_hello_example.py", "phase1_09_hello_example"),
        (Path("phase18/07_retraining_example.py"), "phase18_07_retraining_example"),
    ],
)
def test_the_dag_id_is_the_phase_folder_and_the_file_name(file: str | Path, dag_id: str) -> None:
    assert dag_id_for(file) == dag_id


@pytest.mark.parametrize(
    "file",
    [
        "dags/common/defaults.py",  # not in a phase folder
        "dags/phase1/hello_example.py",  # no two-digit number
        "dags/phase1/1_hello_example.py",
        "dags/phase1/01-hello-airflow.py",  # not a Python identifier
        "dags/phase1/01_Hello_Airflow.py",
        "dags/phase1/09_hello_example.yaml",
        "dags/phase0/09_hello_example.py",
        "dags/phase1/01_.py",
        "09_hello_example.py",
    ],
)
def test_a_file_not_named_phase_n_nn_name_is_refused(file: str) -> None:
    with pytest.raises(ValueError, match=r"phaseN/NN_name\.py"):
        dag_id_for(file)
    with pytest.raises(ValueError, match=r"phaseN/NN_name\.py"):
        platform_dag(file, None, owner="data-platform")


def test_every_catalogue_file_name_derives_its_dag_id() -> None:
    files = sorted(DAGS.glob("phase*/[0-9][0-9]_*.py"))
    assert len(files) >= 53
    for file in files:
        assert dag_id_for(file) == f"{file.parent.name}_{file.stem}"


def test_tags_are_the_phase_then_the_dag_s_own_then_severity_and_team() -> None:
    assert platform_tags("phase10", ["data-quality", "drift"], severity="P2", team="data-quality") == [
        "phase10", "data-quality", "drift", "severity:P2", "team:data-quality",
    ]
    # No team tag unless one is given: the DAGs that have none today keep having none.
    assert platform_tags("phase1", ["fundamentals"], severity="P4") == ["phase1", "fundamentals", "severity:P4"]
    assert platform_tags("phase14", ["assets"], team="sales") == ["phase14", "assets", "team:sales"]
    assert platform_tags("phase17") == ["phase17"]


def test_a_tag_the_helper_adds_is_not_given_twice() -> None:
    with pytest.raises(ValueError, match="repeated"):
        platform_tags("phase10", ["phase10"])
    with pytest.raises(ValueError, match="repeated"):
        platform_tags("phase10", ["team:ml"], team="ml")
    with pytest.raises(TypeError, match="sequence of tags"):
        platform_tags("phase10", "data-quality")


def test_the_dag_carries_the_platform_header() -> None:
    from airflow.sdk import DAG

    dag = platform_dag(
        "dags/phase10/01_orders_quality_demo.py", "The doc.", owner="data-quality", team="data-quality", severity="P2",
        tags=["data-quality"], schedule="@daily", description="A description", max_active_runs=1,
    )
    assert isinstance(dag, DAG)
    assert dag.dag_id == "phase10_01_orders_quality_demo"
    assert dag.doc_md == "The doc." and dag.description == "A description"
    assert set(dag.tags) == {"phase10", "data-quality", "severity:P2", "team:data-quality"}
    assert dag.start_date == PLATFORM_START_DATE == datetime(2026, 1, 1, tzinfo=UTC)
    assert dag.catchup is False and dag.max_active_runs == 1
    assert dag.default_args["owner"] == "data-quality"
    assert dag.default_args["retries"] == 2 and dag.default_args["on_failure_callback"] is on_task_failure


def test_task_defaults_and_dag_arguments_override_the_platform_s() -> None:
    start = datetime(2026, 6, 1, tzinfo=UTC)
    dag = platform_dag(
        "phase7/08_retry_example.py", None, owner="resilience",
        task_defaults={"retries": 5, "retry_delay": timedelta(seconds=1), "pool": "p"},
        start_date=start, catchup=True,
    )
    assert dag.default_args["retries"] == 5 and dag.default_args["retry_delay"] == timedelta(seconds=1)
    assert dag.default_args["pool"] == "p" and dag.default_args["owner"] == "resilience"
    assert dag.start_date == start and dag.catchup is True


@pytest.mark.parametrize("derived", ["dag_id", "doc_md", "default_args"])
def test_what_the_helper_derives_cannot_also_be_passed(derived: str) -> None:
    with pytest.raises(TypeError, match=f"derives {derived}"):
        platform_dag("phase1/09_hello_example.py", None, owner="data-platform", **{derived: None})


def test_it_is_a_context_manager_that_collects_tasks() -> None:
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.sdk import task

    @task
    def hello() -> str:
        return "hello"

    with platform_dag("phase1/09_hello_example.py", None, owner="data-platform") as dag:
        EmptyOperator(task_id="start") >> hello()
    assert sorted(dag.task_ids) == ["hello", "start"]
    assert dag.get_task("start").owner == "data-platform"


def test_importing_it_imports_no_airflow() -> None:
    # Every DAG file imports it at parse time: what it imports is paid by every parse that has not preloaded it.
    code = "import sys; import common.dag_header; print(sorted(m for m in sys.modules if m.split('.')[0] == 'airflow'))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=DAGS, capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
