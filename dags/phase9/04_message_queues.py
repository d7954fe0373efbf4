"""Phase 9 · Message queues: Kafka produce and consume, event publishing and a dead-letter queue.

Teaches: producing a batch with delivery reports (KafkaProducerHook), consuming exactly that batch's offsets,
validating each message and re-publishing bad ones to a DLQ topic with headers saying why (never dropping them),
checking produced = valid + dead-lettered, and publishing a domain event with ProduceToTopicOperator.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.providers.apache.kafka.operators.produce import ProduceToTopicOperator
from airflow.sdk import Param, task

from common.dag_header import platform_dag
from common.messaging import DLQ_TOPIC, EVENTS_TOPIC, ORDERS_TOPIC
from common.run_dates import batch_date

KAFKA_CONN_ID = "kafka_default"
KAFKA_TIMEOUT = timedelta(minutes=5)


@task(retries=2, execution_timeout=KAFKA_TIMEOUT)
def produce_orders(
    params: dict[str, Any], ds: str | None = None, dag_run: Any = None, run_id: str | None = None
) -> dict[str, Any]:
    from common.messaging import batch_events, produce_batch

    events = batch_events(run_id or "", batch_date(ds, dag_run), params["count"], params["bad_every"])
    return {**produce_batch(KAFKA_CONN_ID, ORDERS_TOPIC, events), "batch_id": run_id}


@task(retries=2, execution_timeout=KAFKA_TIMEOUT)
def consume_orders(produced: dict[str, Any]) -> dict[str, Any]:
    from common.messaging import consume_and_route

    routed = consume_and_route(KAFKA_CONN_ID, ORDERS_TOPIC, produced["offsets"], produced["batch_id"], DLQ_TOPIC)
    if routed["consumed"] != produced["produced"] or routed["valid"] + routed["dead_lettered"] != produced["produced"]:
        raise RuntimeError(f"records lost: produced {produced['produced']}, routed {routed}")
    return {
        "batch_id": produced["batch_id"],
        "produced": produced["produced"],
        "valid": routed["valid"],
        "dead_lettered": routed["dead_lettered"],
        "revenue": round(sum(order["amount"] for order in routed["orders"]), 2),
    }


with platform_dag(
    __file__, __doc__, owner="data-eng", team="data-eng", severity="P2", tags=["integrations", "kafka"],
    description="Kafka produce/consume with a dead-letter queue and a published completion event", schedule="@hourly",
    max_active_runs=1,
    params={
        "count": Param(30, type="integer", minimum=1, maximum=10000, description="orders produced per run"),
        "bad_every": Param(5, type="integer", minimum=0, description="every n-th order is malformed (0: none)"),
    },
) as dag:
    summary = consume_orders(produce_orders())
    publish_batch_event = ProduceToTopicOperator(
        task_id="publish_batch_event",
        kafka_config_id=KAFKA_CONN_ID,
        topic=EVENTS_TOPIC,
        producer_function="common.messaging.summary_event",
        producer_function_kwargs={"summary_json": "{{ ti.xcom_pull(task_ids='consume_orders') | tojson }}"},
        retries=2,
        execution_timeout=KAFKA_TIMEOUT,
    )
    summary >> publish_batch_event
