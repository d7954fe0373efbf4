"""Phases 6-9: structure of every DAG (ids, edges, schedules, tags, operator choices) without any service."""

from __future__ import annotations

from datetime import timedelta

import pytest
from dag_run_helpers import get_dag

PHASE_6_TO_9 = {
    "phase6_01_mlflow_integration": (None, {"train_and_log": {"promote_to_candidate"}}),
    "phase6_02_complete_ml_pipeline": (
        "@weekly",
        {
            "ingest": {"validate"},
            "validate": {"train"},
            "train": {"evaluate"},
            "decide": {"deploy_model", "keep_current_model"},
        },
    ),
    "phase7_01_retry_strategies": (None, {"call_unstable_upstream": {"summarize"}, "bounded_slow_call": {"summarize"}}),
    "phase7_02_exception_handling": (None, {"fetch_rates": {"validate_rates"}, "validate_rates": {"publish"}}),
    "phase7_03_circuit_breaker": (None, {"call_through_breaker": {"report"}}),
    "phase8_01_email_notifications": (
        "@daily",
        {"summarize_orders": {"check_thresholds"}, "check_thresholds": {"send_report"}},
    ),
    "phase8_02_slack_notifications": ("@daily", {"build_digest": {"post_digest"}}),
    "phase8_03_alert_routing": (None, {"routing_table": {"fire_drill"}, "fire_drill": {"guarded_step"}}),
    "phase9_01_database_integration": (
        "@daily",
        {
            "create_tables": {"load_orders"},
            "extract_orders": {"validate_orders"},
            "validate_orders": {"load_orders"},
            "load_orders": {"quality_checks", "reconcile_counts"},
        },
    ),
    "phase9_02_api_integration": ("@hourly", {"fetch_all_items": {"validate_items"}}),
    "phase9_03_cloud_integration": (
        "@daily",
        {
            "validate_orders": {"land_in_s3"},
            "land_in_s3": {"copy_to_azure", "load_bigquery", "reconcile"},
            "copy_to_azure": {"reconcile"},
            "load_bigquery": {"reconcile"},
        },
    ),
    "phase9_04_message_queues": (
        "@hourly",
        {"produce_orders": {"consume_orders"}, "consume_orders": {"publish_batch_event"}},
    ),
}

# Tasks that talk to an external system: each must retry and be bounded in time.
EXTERNAL_TASKS = {
    "phase6_01_mlflow_integration": ["train_and_log", "promote_to_candidate"],
    "phase6_02_complete_ml_pipeline": ["train", "evaluate", "deploy_model"],
    "phase7_03_circuit_breaker": ["call_through_breaker"],
    "phase8_01_email_notifications": ["send_report"],
    "phase8_02_slack_notifications": ["post_digest"],
    "phase8_03_alert_routing": ["fire_drill"],
    "phase9_01_database_integration": ["create_tables", "load_orders", "reconcile_counts", "quality_checks"],
    "phase9_02_api_integration": ["fetch_all_items"],
    "phase9_03_cloud_integration": ["land_in_s3", "copy_to_azure", "load_bigquery"],
    "phase9_04_message_queues": ["produce_orders", "consume_orders", "publish_batch_event"],
}


@pytest.mark.parametrize("dag_id", sorted(PHASE_6_TO_9))
def test_schedule_edges_and_metadata(dagbag, dag_id):
    schedule, edges = PHASE_6_TO_9[dag_id]
    dag = get_dag(dagbag, dag_id)
    assert dag.schedule == schedule
    assert dag.catchup is False
    for upstream, downstream in edges.items():
        assert dag.get_task(upstream).downstream_task_ids == downstream, upstream
    assert dag.doc_md and len(dag.doc_md) > 100
    assert dag.owner and dag.owner != "airflow"
    phase = dag_id.split("_")[0]
    assert (
        phase in dag.tags
        and any(t.startswith("team:") for t in dag.tags)
        and any(t.startswith("severity:") for t in dag.tags)
    )
    for task in dag.tasks:
        assert task.on_failure_callback, f"{task.task_id} has no failure callback"


@pytest.mark.parametrize("dag_id", sorted(EXTERNAL_TASKS))
def test_external_calls_retry_and_time_out(dagbag, dag_id):
    dag = get_dag(dagbag, dag_id)
    for task_id in EXTERNAL_TASKS[dag_id]:
        task = dag.get_task(task_id)
        assert task.retries >= 1, f"{task_id} must retry"
        assert task.execution_timeout is not None and task.execution_timeout <= timedelta(minutes=10), task_id


def test_operators_come_from_the_providers(dagbag):
    kinds = {
        ("phase8_01_email_notifications", "send_report"): "EmailOperator",
        ("phase9_01_database_integration", "create_tables"): "SQLExecuteQueryOperator",
        ("phase9_01_database_integration", "quality_checks"): "SQLTableCheckOperator",
        ("phase9_04_message_queues", "publish_batch_event"): "ProduceToTopicOperator",
        ("phase6_02_complete_ml_pipeline", "keep_current_model"): "EmptyOperator",
    }
    for (dag_id, task_id), name in kinds.items():
        assert type(get_dag(dagbag, dag_id).get_task(task_id)).__name__ == name


def test_email_template_file_and_failure_notifier(dagbag):
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    from common.defaults import on_task_failure

    dag = get_dag(dagbag, "phase8_01_email_notifications")
    # The .html path is a template file: parsing loaded templates/daily_report.html into the field.
    assert '{% set report = ti.xcom_pull(task_ids="summarize_orders") %}' in dag.get_task("send_report").html_content
    first, second = dag.get_task("check_thresholds").on_failure_callback
    assert first is on_task_failure and isinstance(second, SmtpNotifier)


def test_backoff_is_configured_only_where_it_is_taught(dagbag):
    dag = get_dag(dagbag, "phase7_01_retry_strategies")
    upstream = dag.get_task("call_unstable_upstream")
    assert (upstream.retry_delay, upstream.retry_exponential_backoff, upstream.max_retry_delay) == (
        timedelta(seconds=1),
        2.0,
        timedelta(seconds=4),
    )
    assert dag.get_task("bounded_slow_call").retries == 0
