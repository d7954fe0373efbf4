"""Phase 4 (control flow): XCom push/pull, branches skipping the right tasks, trigger rules reacting to a
real failure, setup/teardown tasks managing a real Postgres scratch schema (local platform's Postgres, warehouse DB),
and mapped tasks expanding to as many instances as the data needs — all in dag.test()."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from dag_run_helpers import get_dag, mapped_indexes, task_states, xcom_value

from common.orders import sample_orders, split_valid, summarize


def test_xcom_push_pull_and_templated_pull(dagbag):
    dag = get_dag(dagbag, "phase4_01_xcom_basics")
    assert dag.get_task("reconcile").upstream_task_ids == {"extract_orders", "extract_refunds"}
    run = dag.test()
    assert run.state == "success", task_states(run)
    ds = run.logical_date.strftime("%Y-%m-%d")
    valid, quarantined = split_valid(sample_orders(ds, 30, bad_every=7))
    assert xcom_value(run, "extract_orders", key="valid_count") == len(valid)
    reconciled = xcom_value(run, "reconcile")
    assert reconciled["valid_count"] == len(valid) == reconciled["orders_returned"]
    assert reconciled["rejected_ids"] == [order["order_id"] for order in quarantined]
    assert reconciled["refunds_returned"] == 10
    assert reconciled["net_orders"] == len(valid) - 10
    assert xcom_value(run, "announce") == f"net orders: {len(valid) - 10}"


MONDAY = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SATURDAY = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("row_count", "logical_date", "taken", "skipped"),
    [
        (1200, MONDAY, {"full_reload", "weekday_report"}, {"incremental_merge", "weekend_summary"}),
        (10, SATURDAY, {"incremental_merge", "weekend_summary"}, {"full_reload", "weekday_report"}),
    ],
)
def test_branching_skips_the_branches_not_taken(dagbag, row_count, logical_date, taken, skipped):
    dag = get_dag(dagbag, "phase4_02_branching")
    assert type(dag.get_task("choose_strategy")).__name__ == "BranchPythonOperator"
    assert dag.get_task("loaded").trigger_rule == "none_failed_min_one_success"
    run = dag.test(logical_date=logical_date, run_conf={"row_count": row_count, "bulk_threshold": 1000})
    states = task_states(run)
    assert run.state == "success", states
    assert {task_id for task_id in taken | skipped if states[task_id] == "success"} == taken
    assert {task_id for task_id in taken | skipped if states[task_id] == "skipped"} == skipped
    # the joins still ran although one of their upstreams was skipped
    assert states["loaded"] == states["published"] == "success"


TRIGGER_RULES = "phase4_03_trigger_rules"


def test_every_trigger_rule_is_shown(dagbag):
    from airflow.sdk import TriggerRule

    dag = get_dag(dagbag, TRIGGER_RULES)
    work = ("create_scratch", "extract_orders", "extract_payments")
    rules = {task.trigger_rule for task in dag.tasks if task.task_id not in work}
    # the twelve reactions show every rule but all_done_setup_success, which is the teardown's
    assert rules == set(TriggerRule)
    assert dag.get_task("drop_scratch").trigger_rule == TriggerRule.ALL_DONE_SETUP_SUCCESS


def test_scratch_setup_and_teardown_enclose_the_whole_run(dagbag):
    dag = get_dag(dagbag, TRIGGER_RULES)
    setup, teardown = dag.get_task("create_scratch"), dag.get_task("drop_scratch")
    assert setup.is_setup and not setup.is_teardown
    assert teardown.is_teardown and not teardown.is_setup
    assert teardown.on_failure_fail_dagrun is False, "a teardown that decides the run's state would mask failures"
    assert setup.task_id in teardown.upstream_task_ids, "the teardown is paired with its setup"
    # every work task sits between the two: downstream of the setup, upstream of the teardown
    work = set(dag.task_ids) - {setup.task_id, teardown.task_id}
    assert work <= setup.get_flat_relative_ids(upstream=False)
    assert work <= teardown.get_flat_relative_ids(upstream=True)
    assert teardown.downstream_task_ids == set()


FAILURE_OUTCOME = {
    "create_scratch": "success",
    "extract_orders": "success",
    "extract_payments": "failed",
    "publish": "upstream_failed",
    "alert_on_failure": "success",
    "proceed_with_partial": "success",
    "react_to_first_finisher": "success",
    "validate_no_failures": "upstream_failed",
    "join_if_any_succeeded": "upstream_failed",
    "audit_no_skips": "success",
    "cleanup": "success",
    "summarize_if_any_succeeded": "success",
    "escalate_total_outage": "skipped",
    "note_nothing_ran": "skipped",
    "record_run": "success",
    "drop_scratch": "success",
}


def _schema_exists(schema: str) -> bool:
    from common.scratch import schema_exists

    return schema_exists(schema, postgres_conn_id="postgres_default")


def test_one_failed_fires_after_a_real_failure_and_the_teardown_still_drops_the_scratch(
    dagbag, postgres_service, platform_connections
):
    run = get_dag(dagbag, TRIGGER_RULES).test(run_conf={"simulate_failure": True})
    assert task_states(run) == FAILURE_OUTCOME
    # the teardown succeeded after the failure, yet the run is failed: a teardown does not mask the failure
    assert run.state == "failed"
    scratch = xcom_value(run, "create_scratch")
    assert scratch.startswith("scratch_")
    dropped = xcom_value(run, "drop_scratch")
    # the scratch was real and shared: orders staged their rows in it, the failed payments extract none
    assert dropped == {"schema": scratch, "dropped_tables": {"staged_rows": 5}}
    assert xcom_value(run, "extract_orders") == 5
    assert not _schema_exists(scratch), "the teardown ran although a work task failed: no scratch schema left"


def test_without_a_failure_one_failed_is_skipped_and_the_scratch_is_gone(
    dagbag, postgres_service, platform_connections
):
    run = get_dag(dagbag, TRIGGER_RULES).test(run_conf={"simulate_failure": False})
    states = task_states(run)
    assert run.state == "success", states
    assert states["alert_on_failure"] == "skipped"
    assert states["escalate_total_outage"] == "skipped"
    assert states["note_nothing_ran"] == "skipped"
    ran = {task_id for task_id, state in states.items() if state == "success"}
    assert ran == set(FAILURE_OUTCOME) - {"alert_on_failure", "escalate_total_outage", "note_nothing_ran"}
    scratch = xcom_value(run, "create_scratch")
    assert xcom_value(run, "drop_scratch") == {"schema": scratch, "dropped_tables": {"staged_rows": 10}}
    assert not _schema_exists(scratch)


def test_mapped_task_expands_to_one_instance_per_batch(dagbag):
    dag = get_dag(dagbag, "phase4_04_dynamic_tasks")
    assert dag.get_task("process_batch").partial_kwargs["op_kwargs"] == {"tax_rate": 0.2}
    run = dag.test(run_conf={"order_count": 61, "batch_size": 10, "region_target": 3000.0, "bad_every": 9})
    assert run.state == "success", task_states(run)
    assert mapped_indexes(run, "process_batch") == list(range(7))  # ceil(61 / 10)
    assert mapped_indexes(run, "check_region") == [0, 1, 2]  # expand_kwargs: one per dict
    assert mapped_indexes(run, "announce_region") == [0, 1, 2]  # a classic operator mapped over env
    batch_results = [xcom_value(run, "process_batch", map_index=index) for index in range(7)]
    ds = run.logical_date.strftime("%Y-%m-%d")
    orders = sample_orders(ds, 61, bad_every=9)
    valid, rejected = split_valid(orders)
    valid_ids = {order["order_id"] for order in valid}
    expected = [
        round(summarize([o for o in orders[i : i + 10] if o["order_id"] in valid_ids])["revenue"] * 1.2, 2)
        for i in range(0, 61, 10)
    ]
    assert [result["gross_revenue"] for result in batch_results] == expected
    # every malformed order is reported by the batch that met it: 61 // 9 = 6 of them
    assert xcom_value(run, "total_revenue") == {
        "gross_revenue": round(sum(expected), 2),
        "batches": 7,
        "rejected_ids": [order["order_id"] for order in rejected],
    }
    assert len(rejected) == 6
    regions = [xcom_value(run, "check_region", map_index=index) for index in range(3)]
    by_region = summarize(valid)["by_region"]
    assert [(r["region"], r["revenue"], r["met_target"]) for r in regions] == [
        (region, by_region[region], by_region[region] >= 3000.0) for region in ("us", "eu", "apac")
    ]
    assert xcom_value(run, "announce_region", map_index=1) == "region eu done"
