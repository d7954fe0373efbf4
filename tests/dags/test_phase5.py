"""Phase 5 (configuration): connections and variables (and what happens when one is missing), pools and
priority weights, nested task groups, and callbacks plus a Deadline Alert recorded in the durable log."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from dag_run_helpers import get_dag, task_states, try_history, xcom_value

from common import callbacks
from common.orders import REGIONS, region_revenue, sample_orders, split_valid

NEEDS = yaml.safe_load((Path(__file__).resolve().parents[2] / "dags" / "phase5" / "needs.yaml").read_text())


# --- phase5_01: connections and variables (live: the platform's Postgres, its generated credentials) ----


@pytest.fixture
def warehouse(platform_connections, postgres_service, monkeypatch):
    """The platform's own postgres_default (generated password) and the variables from needs.yaml.

    Set through monkeypatch so tests that unset one get it back afterwards.
    """
    for name, spec in NEEDS["phase5_01_connections_variables"]["variables"].items():
        value = spec["value"]
        monkeypatch.setenv(f"AIRFLOW_VAR_{name.upper()}", value if isinstance(value, str) else json.dumps(value))
    monkeypatch.setenv("AIRFLOW_CONN_POSTGRES_DEFAULT", platform_connections["AIRFLOW_CONN_POSTGRES_DEFAULT"])
    return json.loads(platform_connections["AIRFLOW_CONN_POSTGRES_DEFAULT"])


def test_connections_variables_declared_in_needs():
    needs = NEEDS["phase5_01_connections_variables"]
    assert set(needs["variables"]) == {"phase5_environment", "phase5_pipeline_config"}
    assert isinstance(needs["variables"]["phase5_pipeline_config"]["value"], dict)
    assert needs["connections"]["postgres_default"]["type"] == "postgres"


def test_credentials_log_in_and_never_leave_the_connection(dagbag, warehouse):
    run = get_dag(dagbag, "phase5_01_connections_variables").test()
    assert run.state == "success", task_states(run)
    described = xcom_value(run, "describe_warehouse")
    assert described["password"] == "***" and described["host"] == warehouse["host"]
    assert xcom_value(run, "check_warehouse_login") == {"user": warehouse["login"], "database": "warehouse"}
    plan = xcom_value(run, "plan_run")
    assert plan == {
        "environment": "local",
        "batch_size": 500,
        "regions": ["us", "eu", "apac"],
        "target": f"postgres://{warehouse['host']}:{warehouse['port']}/warehouse",
        "authenticated_as": warehouse["login"],
    }
    assert xcom_value(run, "templated_config") == f"env=local batch=500 host={warehouse['host']}"
    for task_id in ("read_environment", "read_pipeline_config", "describe_warehouse", "check_warehouse_login", "plan_run"):
        assert warehouse["password"] not in json.dumps(xcom_value(run, task_id))


@pytest.mark.parametrize(
    ("unset", "failing_tasks", "message"),
    [
        ("AIRFLOW_VAR_PHASE5_ENVIRONMENT", {"read_environment"}, "Airflow variable 'phase5_environment' is not set"),
        (
            "AIRFLOW_VAR_PHASE5_PIPELINE_CONFIG",
            {"read_pipeline_config"},
            "Airflow variable 'phase5_pipeline_config' is not set",
        ),
        (
            "AIRFLOW_CONN_POSTGRES_DEFAULT",
            {"describe_warehouse", "check_warehouse_login"},
            "Airflow connection 'postgres_default' is not defined",
        ),
    ],
)
def test_missing_configuration_fails_at_once_naming_it(dagbag, warehouse, monkeypatch, capfd, unset, failing_tasks, message):
    monkeypatch.delenv(unset)
    run = get_dag(dagbag, "phase5_01_connections_variables").test()
    states = task_states(run)
    assert run.state == "failed"
    assert {task_id for task_id, state in states.items() if state == "failed"} == failing_tasks
    assert states["plan_run"] == "upstream_failed"
    for task_id in failing_tasks:
        # the retry policy refused the 2 configured retries: a missing setting does not appear by waiting
        assert run.get_task_instance(task_id).try_number == 1
        assert try_history(run, task_id) == []
    assert message in capfd.readouterr().out


def test_invalid_json_variable_fails_naming_the_missing_keys(dagbag, warehouse, monkeypatch, capfd):
    monkeypatch.setenv("AIRFLOW_VAR_PHASE5_PIPELINE_CONFIG", json.dumps({"batch_size": 10}))
    run = get_dag(dagbag, "phase5_01_connections_variables").test()
    assert task_states(run)["read_pipeline_config"] == "failed"
    assert "Airflow variable 'phase5_pipeline_config' lacks required keys: regions" in capfd.readouterr().out


# --- phase5_02: pools and priority ---------------------------------------------------------------------


def test_pool_usage_matches_needs_and_weights_follow_their_rules(dagbag):
    dag = get_dag(dagbag, "phase5_02_pools_priority")
    declared = NEEDS["phase5_02_pools_priority"]["pools"]
    used = {task.pool for task in dag.tasks if task.pool != "default_pool"}
    assert used == set(declared) == {"phase5_warehouse_pool"}
    assert max(task.pool_slots for task in dag.tasks) <= declared["phase5_warehouse_pool"]["slots"]
    assert dag.get_task("rebuild_aggregates").pool_slots == 2
    rules = {task.task_id: task.weight_rule for task in dag.tasks}
    assert {getattr(rule, "value", rule) for rule in rules.values()} == {"downstream", "upstream", "absolute"}


@pytest.fixture(scope="module")
def pool_run(dagbag):
    """The needs.yaml pool created as the platform creates it, then one real run of the DAG."""
    from airflow.models.pool import Pool

    for name, spec in NEEDS["phase5_02_pools_priority"]["pools"].items():
        Pool.create_or_update_pool(name=name, slots=spec["slots"], description=spec.get("description", ""), include_deferred=False)
    run = get_dag(dagbag, "phase5_02_pools_priority").test()
    assert run.state == "success", task_states(run)
    return run


def test_pool_run_records_slots_and_priorities(pool_run):
    run = pool_run
    # the weights Airflow computed for each task instance from its weight rule
    recorded = {ti.task_id: (ti.pool, ti.pool_slots, ti.priority_weight) for ti in run.get_task_instances()}
    for region in REGIONS:  # downstream: own 1 + rebuild 10 + publish 5
        assert recorded[f"extract_{region}"] == ("phase5_warehouse_pool", 1, 16)
    assert recorded["publish"] == ("default_pool", 1, 18)  # upstream: own 5 + rebuild 10 + 3 extracts
    # absolute: exactly the given weight, whatever the graph
    assert recorded["rebuild_aggregates"] == ("phase5_warehouse_pool", 2, 10)
    assert recorded["executive_dashboard"] == ("phase5_warehouse_pool", 1, 100)
    assert recorded["ad_hoc_export"] == ("phase5_warehouse_pool", 1, 1)
    ds = run.logical_date.strftime("%Y-%m-%d")
    orders = sample_orders(ds, 90)
    assert xcom_value(run, "rebuild_aggregates") == round(sum(region_revenue(orders, r) for r in REGIONS), 2)


# --- phase5_03: task groups ----------------------------------------------------------------------------


def test_task_groups_nest_and_connect_as_groups(dagbag):
    dag = get_dag(dagbag, "phase5_03_task_groups")
    root = dag.task_group
    assert set(root.children) == {"extract", "transform", "done"}
    extract = root.children["extract"]
    assert set(extract.children) == {"extract.orders", "extract.refunds"}
    assert set(extract.children["extract.orders"].children) == {"extract.orders.pull", "extract.orders.validate"}
    transform = root.children["transform"]
    assert set(transform.children) == {f"transform.{region}" for region in REGIONS}
    # extract >> transform wires every leaf of extract to every root of transform
    assert dag.get_task("transform.us.revenue").upstream_task_ids == {"extract.orders.validate", "extract.refunds.validate"}
    assert dag.get_task("done").upstream_task_ids == {f"transform.{region}.check" for region in REGIONS}


def test_task_groups_run(dagbag):
    run = get_dag(dagbag, "phase5_03_task_groups").test()
    assert run.state == "success", task_states(run)
    ds = run.logical_date.strftime("%Y-%m-%d")
    valid, _ = split_valid(sample_orders(ds, 48, bad_every=12))
    for region in REGIONS:
        assert xcom_value(run, f"transform.{region}.check") == region_revenue(valid, region)
    assert xcom_value(run, "extract.orders.validate") == {"valid": 44, "quarantined": 4}


# --- phase5_04: callbacks and the Deadline Alert --------------------------------------------------------


@pytest.fixture
def callback_log(tmp_path, monkeypatch):
    path = tmp_path / "callbacks.jsonl"
    monkeypatch.setenv(callbacks.CALLBACK_LOG_ENV, str(path))
    return path


def test_callbacks_and_deadline_are_wired(dagbag):
    dag = get_dag(dagbag, "phase5_04_callbacks")
    task = dag.get_task("flaky_source")
    assert task.on_execute_callback == [callbacks.on_execute]
    assert task.on_retry_callback == [callbacks.on_retry]
    assert callbacks.on_failure in task.on_failure_callback
    assert dag.on_success_callback == callbacks.on_dag_success
    (alert,) = dag.deadline
    assert alert.interval == timedelta(minutes=30)
    assert type(alert.reference).__name__ == "DagRunLogicalDateDeadline"
    assert alert.callback.path == "common.callbacks.on_deadline_missed"


def _events(run):
    return [(e["kind"], e["task_id"], e["try_number"]) for e in callbacks.read_events(run_id=run.run_id)]


def test_success_run_records_execute_retry_and_success_callbacks(dagbag, callback_log, monkeypatch):
    dag = get_dag(dagbag, "phase5_04_callbacks")
    # dag.test() hands the scheduler a DAG whose deadline list is still serialized, and pruning the
    # deadlines of a successful run then crashes; the deadline itself is exercised in the failure test.
    monkeypatch.setattr(dag, "deadline", None)
    run = dag.test()
    assert run.state == "success", task_states(run)
    assert _events(run) == [
        ("execute", "prepare", 1),
        ("success", "prepare", 1),
        ("execute", "flaky_source", 1),
        ("retry", "flaky_source", 1),
        ("execute", "flaky_source", 2),
        ("success", "flaky_source", 2),
        ("execute", "enrich", 1),
        ("success", "enrich", 1),
        ("dag_success", "enrich", 1),  # DAG callbacks get the context of the last task that finished
    ]
    (retry,) = callbacks.read_events(run_id=run.run_id, kind="retry")
    assert "TransientSourceError" in retry["error"]


def test_failure_run_records_failure_and_the_missed_deadline_fires(dagbag, callback_log):
    from airflow.models.deadline import Deadline
    from airflow.sdk.execution_time.callback_supervisor import execute_callback
    from airflow.utils.session import create_session

    dag = get_dag(dagbag, "phase5_04_callbacks")
    logical_date = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    run = dag.test(logical_date=logical_date, run_conf={"fail_enrichment": True})
    assert run.state == "failed"
    kinds = _events(run)
    assert ("failure", "enrich", 1) in kinds and ("dag_failure", "enrich", 1) in kinds
    assert ("retry", "flaky_source", 1) in kinds and ("success", "flaky_source", 2) in kinds
    (failure,) = callbacks.read_events(run_id=run.run_id, kind="failure")
    assert "fail_enrichment=true" in failure["error"]

    # The run outlived its Deadline Alert (logical date + 30 min): do what the scheduler does with an
    # expired deadline (handle_miss queues the callback) and what the executor does (execute_callback).
    with create_session() as session:
        (deadline,) = session.query(Deadline).filter(Deadline.dagrun_id == run.id).all()
        assert deadline.deadline_time == logical_date + timedelta(minutes=30)
        assert deadline.deadline_time < datetime.now(UTC)
        deadline.handle_miss(session)
        session.flush()
        assert deadline.missed
        data = dict(deadline.callback.data)
    ok, error = execute_callback(data["path"], data["kwargs"], Path(dag.fileloc), Path(dag.fileloc).parents[1], log=_Log())
    assert ok, error
    (missed,) = callbacks.read_events(kind="deadline_missed", run_id=run.run_id)
    assert missed["alert_name"] == "phase5_04_run_30m"
    assert missed["dag_id"] == "phase5_04_callbacks"


class _Log:
    """The structlog-style logger execute_callback expects."""

    def debug(self, *args, **kwargs):
        pass

    info = warning = error = exception = debug


def test_scheduler_fills_the_pool_by_priority(pool_run):
    """The scheduler's own queueing step on a fresh run: 2 slots go to the highest weights, the rest wait."""
    from airflow import settings
    from airflow.executors.local_executor import LocalExecutor
    from airflow.jobs.job import Job
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner
    from airflow.models.dag import DagModel
    from airflow.models.dagbag import DBDagBag
    from airflow.utils.state import DagRunState, TaskInstanceState
    from airflow.utils.types import DagRunTriggeredByType, DagRunType

    ready = {"extract_us", "extract_eu", "extract_apac", "executive_dashboard", "ad_hoc_export"}
    session = settings.Session()
    try:
        session.query(DagModel).filter(DagModel.dag_id == pool_run.dag_id).update({"is_paused": False})
        scheduler_dag = DBDagBag().get_latest_version_of_dag(pool_run.dag_id, session=session)
        now = datetime.now(UTC)
        run = scheduler_dag.create_dagrun(
            run_id=f"pool_probe_{now:%H%M%S%f}",
            logical_date=now,
            data_interval=(now, now),
            run_after=now,
            run_type=DagRunType.MANUAL,
            triggered_by=DagRunTriggeredByType.TEST,
            state=DagRunState.RUNNING,
            session=session,
        )
        session.flush()
        for ti in run.get_task_instances(session=session):
            if ti.task_id in ready:
                ti.state = TaskInstanceState.SCHEDULED
        session.flush()
        runner = SchedulerJobRunner(job=Job(), executors=[LocalExecutor()])
        queued = runner._executable_task_instances_to_queued(max_tis=32, session=session)
        by_id = {ti.task_id: ti.priority_weight for ti in queued}
        # the pool has 2 slots: the dashboard (100) and one extract (16); the export (1) waits
        assert len(queued) == 2
        assert by_id.pop("executive_dashboard") == 100
        ((extract, weight),) = by_id.items()
        assert extract.startswith("extract_") and weight == 16
        waiting = {ti.task_id for ti in run.get_task_instances(session=session) if ti.state == TaskInstanceState.SCHEDULED}
        assert "ad_hoc_export" in waiting and len(waiting) == 3
    finally:
        session.rollback()
        session.close()
