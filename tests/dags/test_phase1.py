"""Phase 1 (fundamentals): structure of the first DAGs and a real dag.test() run of each."""

from __future__ import annotations

from itertools import pairwise

from dag_run_helpers import get_dag, task_states, xcom_value

from common.orders import REGIONS, region_revenue, sample_orders


def test_hello_airflow_is_a_linear_chain_of_empty_operators(dagbag):
    dag = get_dag(dagbag, "phase1_01_hello_airflow")
    chain = ["start", "extract", "transform", "load", "end"]
    assert set(dag.task_ids) == set(chain)
    assert {type(t).__name__ for t in dag.tasks} == {"EmptyOperator"}
    for upstream, downstream in pairwise(chain):
        assert dag.get_task(upstream).downstream_task_ids == {downstream}
    assert dag.default_args["owner"] == "data-platform"
    assert dag.default_args["retries"] == 2
    assert "fundamentals" in dag.tags


def test_hello_airflow_runs_every_task(dagbag):
    run = get_dag(dagbag, "phase1_01_hello_airflow").test()
    assert run.state == "success"
    assert set(task_states(run).values()) == {"success"}


def test_parallel_tasks_fan_out_and_fan_in(dagbag):
    dag = get_dag(dagbag, "phase1_02_parallel_tasks")
    branches = {f"total_{region}" for region in REGIONS}
    assert dag.get_task("start").downstream_task_ids == branches
    assert dag.get_task("combine").upstream_task_ids == branches
    for branch in branches:
        assert dag.get_task(branch).upstream_task_ids == {"start"}
    assert dag.max_active_tasks == len(REGIONS)


def test_parallel_tasks_combine_adds_every_region(dagbag):
    dag = get_dag(dagbag, "phase1_02_parallel_tasks")
    run = dag.test()
    assert run.state == "success"
    ds = run.logical_date.strftime("%Y-%m-%d")
    orders = sample_orders(ds, 60)
    per_region = {}
    for region in REGIONS:
        per_region.update(xcom_value(run, f"total_{region}"))
    assert per_region == {region: region_revenue(orders, region) for region in REGIONS}
    combined = xcom_value(run, "combine")
    assert combined == round(sum(order["amount"] for order in orders), 2)
