"""End to end through the real local Airflow (scheduler, LocalExecutor, triggerer), not dag.test():

- a DAG run's StatsD metrics reach Prometheus (via statsd_exporter) and can be queried from its HTTP API;
- the run's OpenLineage events reach Marquez (the Marquez stand-in, local/standins/marquez.py);
- a Kafka message flows through the triggerer (AssetWatcher + MessageQueueTrigger) to a DAG run.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
import uuid
from typing import Any

import pytest

from local.testing import eventually

LINEAGE_DAG = "phase2_02_taskflow_api"  # TaskFlow tasks, no external services: every task emits OpenLineage events
KAFKA_DAG = "phase14_03_dataset_patterns"  # scheduled on kafka_retrain_signal (common.assets)


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


@pytest.fixture(scope="module")
def airflow_client(airflow_service, prometheus_service, marquez_service):  # noqa: ANN201
    from local.airflow_client import AirflowClient

    return AirflowClient()


@pytest.fixture(scope="module")
def finished_run(airflow_client) -> dict[str, Any]:  # noqa: ANN001
    run_id = airflow_client.trigger(LINEAGE_DAG)
    run = airflow_client.wait(LINEAGE_DAG, run_id, timeout=600)
    assert run["state"] == "success", airflow_client.task_instances(LINEAGE_DAG, run_id)
    return run


def test_dag_run_statsd_metrics_are_queryable_in_prometheus(finished_run, prometheus_service) -> None:
    query = f'airflow_dagrun_duration_count{{dag_id="{LINEAGE_DAG}",state="success"}}'

    def series() -> list[dict[str, Any]]:
        url = f"{prometheus_service.url}/api/v1/query?" + urllib.parse.urlencode({"query": query})
        body = _get(url)
        assert body["status"] == "success"
        return body["data"]["result"]

    result = eventually(series, 60, f"Prometheus series {query}")
    assert float(result[0]["value"][1]) >= 1  # at least this run's duration was observed


def test_dag_run_openlineage_events_reach_marquez(finished_run, marquez_service) -> None:
    import requests

    from common.lineage import MarquezClient
    from local.services.airflow import OPENLINEAGE_NAMESPACE

    marquez = MarquezClient(marquez_service.url)

    def dag_job_for_this_run() -> dict[str, Any] | None:
        try:
            runs = marquez.runs(OPENLINEAGE_NAMESPACE, LINEAGE_DAG)
        except requests.HTTPError as error:
            if error.response is not None and error.response.status_code == 404:  # no event of the DAG yet
                return None
            raise
        for run in runs:
            facet = run["facets"].get("airflowDagRun", {}).get("dagRun", {})
            if facet.get("run_id") == finished_run["dag_run_id"] and run["state"] == "COMPLETED":
                return run
        return None

    eventually(dag_job_for_this_run, 60, f"a COMPLETED OpenLineage run of {LINEAGE_DAG} for {finished_run['dag_run_id']}")
    task_jobs = [j for j in marquez.jobs(OPENLINEAGE_NAMESPACE) if j["name"].startswith(f"{LINEAGE_DAG}.")]
    assert task_jobs, f"no task-level OpenLineage jobs for {LINEAGE_DAG}"
    assert all(j["latestRun"]["state"] == "COMPLETED" for j in task_jobs)


def test_a_kafka_message_triggers_the_event_driven_dag(airflow_client, kafka_service) -> None:
    from confluent_kafka import Producer

    from common.assets import RETRAIN_TOPIC
    from local.services import kafka

    kafka.create_topics({RETRAIN_TOPIC: (1, 86_400_000)})
    airflow_client.wait_for_dag(KAFKA_DAG)
    airflow_client.call("PATCH", f"/dags/{KAFKA_DAG}", {"is_paused": False})
    before = {r["dag_run_id"] for r in airflow_client.call("GET", f"/dags/{KAFKA_DAG}/dagRuns?limit=100")["dag_runs"]}
    time.sleep(10)  # the triggerer picks up the watcher of a newly unpaused DAG on its next loop

    marker = uuid.uuid4().hex
    producer = Producer({"bootstrap.servers": kafka.bootstrap()})
    producer.produce(RETRAIN_TOPIC, value=json.dumps({"model": "churn", "reason": f"e2e-{marker}"}).encode())
    assert producer.flush(30) == 0

    def new_asset_run() -> list[dict[str, Any]]:
        runs = airflow_client.call("GET", f"/dags/{KAFKA_DAG}/dagRuns?limit=100")["dag_runs"]
        return [r for r in runs if r["dag_run_id"] not in before and r["run_type"] == "asset_triggered"]

    runs = eventually(new_asset_run, 180, f"an asset_triggered run of {KAFKA_DAG} after the Kafka message {marker}")
    events = airflow_client.call("GET", "/assets/events?limit=50&order_by=-timestamp")["asset_events"]
    kafka_events = [e for e in events if e.get("uri", "").startswith("kafka://") and marker in json.dumps(e.get("extra"))]
    assert kafka_events, f"no asset event carrying the message {marker}; runs: {runs}"
