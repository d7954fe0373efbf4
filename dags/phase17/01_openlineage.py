"""OpenLineage: automatic lineage from the Airflow provider, custom facets, and lineage read back from Marquez.

- The provider's listener emits START/COMPLETE events for every task to the `[openlineage] transport` (Marquez in
  the cluster; locally the Marquez stand-in, local/standins/marquez.py, with the same API).
- Operators report their own lineage, with no extractor code in this repository: `summarise_sql`
  (SQLExecuteQueryOperator on Postgres) has its INSERT ... SELECT parsed into input and output tables;
  `export_to_s3` and `publish_to_curated` (S3CreateObjectOperator, S3CopyObjectOperator) report the objects they
  write and read; `announce_on_kafka` (ProduceToTopicOperator) reports its topic through its Kafka asset outlet.
  Tasks that declare `inlets`/`outlets` Assets get those turned into input/output datasets too.
- `[openlineage] custom_run_facets = common.lineage.governance_run_facets` adds a custom `governance` run facet
  (owner team, classification, retention, data contract) to every event the provider sends.
- `emit_segmentation_lineage` sends a hand-built run with schema facets and the same custom facet for a step
  that happens outside Airflow's view (e.g. a Spark job launched elsewhere).
- `verify_in_marquez` reads the run (by id) and its job back through Marquez's API and fails unless the custom
  facet and both datasets are there: lineage is tested, not assumed.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from airflow.providers.amazon.aws.operators.s3 import S3CopyObjectOperator, S3CreateObjectOperator
from airflow.providers.apache.kafka.operators.produce import ProduceToTopicOperator
from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator
from airflow.sdk import Asset, task

from common.assets import CUSTOMERS, DAILY_SALES, ORDERS
from common.dag_header import platform_dag

MARQUEZ_CONN_ID = "marquez_default"
POSTGRES_CONN_ID = "postgres_default"
AWS_CONN_ID = "aws_default"
KAFKA_CONN_ID = "kafka_default"
LINEAGE_BUCKET = "platform-landing"
EXPORT_KEY = "lineage/region_revenue.csv"
CURATED_KEY = "curated/region_revenue.csv"
EVENTS_TOPIC = "platform.events"
# Kafka assets name the connection, not a broker address, so one DAG file serves every environment.
REVENUE_EVENTS = Asset(uri=f"kafka://{KAFKA_CONN_ID}/{EVENTS_TOPIC}", name="region_revenue_events")

JOB = "phase17_01_openlineage.customer_segmentation"
SEGMENT_COLUMNS = {"customer_id": "VARCHAR", "segment": "VARCHAR", "revenue_eur": "DECIMAL"}

with platform_dag(
    __file__, __doc__, owner="team-analytics", team="analytics",
    tags=["lineage", "openlineage", "classification:Confidential"], schedule="@daily",
    template_searchpath=[str(Path(__file__).parent)],
):

    @task(inlets=[ORDERS, CUSTOMERS], outlets=[DAILY_SALES])
    def aggregate_sales() -> dict:
        from common.assets import join_daily_sales, sample_customers, sample_orders

        return join_daily_sales(sample_orders("lineage"), sample_customers(), {"EUR": 1.0, "USD": 0.92, "JPY": 0.0062})

    @task(retries=3, retry_delay=timedelta(seconds=5), execution_timeout=timedelta(minutes=2))
    def emit_segmentation_lineage(**context) -> dict:
        from common.governance import RETENTION_DAYS
        from common.lineage import (
            GovernanceRunFacet,
            build_run_events,
            emit,
            marquez_url,
            openlineage_namespace,
        )

        facet = GovernanceRunFacet(ownerTeam="analytics", classification="Confidential",
                                   retentionDays=RETENTION_DAYS["Confidential"], dataContractVersion="1.0")
        events = build_run_events(
            namespace=openlineage_namespace(), job_name=JOB,
            inputs=[("s3://curated", "daily_sales", {"region": "VARCHAR", "revenue_eur": "DECIMAL"})],
            outputs=[("postgres://warehouse", "analytics.customer_segments", SEGMENT_COLUMNS)],
            run_facets={"governance": facet})
        emit(events, marquez_url(conn_id=MARQUEZ_CONN_ID))
        return {"namespace": openlineage_namespace(), "job": JOB, "run_id": str(events[0].run.runId)}

    @task(retries=5, retry_delay=timedelta(seconds=3), execution_timeout=timedelta(minutes=2))
    def verify_in_marquez(emitted: dict) -> dict:
        from common.lineage import MarquezClient, marquez_url

        marquez = MarquezClient(marquez_url(conn_id=MARQUEZ_CONN_ID))
        run = marquez.run(emitted["run_id"])  # GET /api/v1/jobs/runs/{id}
        if run is None:
            raise LookupError(f"run {emitted['run_id']} of {emitted['job']} not (yet) in Marquez")
        if (run.get("jobVersion") or {}).get("name") not in (None, emitted["job"]):
            raise AssertionError(f"run {emitted['run_id']} belongs to {run['jobVersion']}, not to {emitted['job']}")
        if run.get("facets", {}).get("governance", {}).get("classification") != "Confidential":
            raise AssertionError(f"custom governance facet missing from Marquez run: {run.get('facets')}")
        job = marquez.job(emitted["namespace"], emitted["job"])
        edges = {"inputs": sorted(d["name"] for d in job["inputs"]), "outputs": sorted(d["name"] for d in job["outputs"])}
        if edges != {"inputs": ["daily_sales"], "outputs": ["analytics.customer_segments"]}:
            raise AssertionError(f"unexpected lineage edges in Marquez: {edges}")
        return {"run_state": run["state"], **edges}

    prepare_sql = SQLExecuteQueryOperator(
        task_id="prepare_sql", conn_id=POSTGRES_CONN_ID, execution_timeout=timedelta(minutes=2),
        sql="sql/lineage_demo_prepare.sql")
    summarise_sql = SQLExecuteQueryOperator(
        task_id="summarise_sql", conn_id=POSTGRES_CONN_ID, execution_timeout=timedelta(minutes=2),
        sql="INSERT INTO lineage_demo.region_revenue (region, revenue) "
            "SELECT region, SUM(amount) FROM lineage_demo.orders GROUP BY region")
    export_to_s3 = S3CreateObjectOperator(
        task_id="export_to_s3", aws_conn_id=AWS_CONN_ID, s3_bucket=LINEAGE_BUCKET, s3_key=EXPORT_KEY, replace=True,
        data="{{ ti.xcom_pull(task_ids='aggregate_sales') | tojson }}", execution_timeout=timedelta(minutes=2))
    publish_to_curated = S3CopyObjectOperator(
        task_id="publish_to_curated", aws_conn_id=AWS_CONN_ID, source_bucket_name=LINEAGE_BUCKET, source_bucket_key=EXPORT_KEY,
        dest_bucket_name=LINEAGE_BUCKET, dest_bucket_key=CURATED_KEY, execution_timeout=timedelta(minutes=2))
    announce_on_kafka = ProduceToTopicOperator(
        task_id="announce_on_kafka", kafka_config_id=KAFKA_CONN_ID, topic=EVENTS_TOPIC, outlets=[REVENUE_EVENTS],
        producer_function="common.messaging.keyed_event",
        producer_function_kwargs={"key": CURATED_KEY, "event_json": '{"type": "region_revenue.published", "key": "' + CURATED_KEY + '"}'},
        retries=2, execution_timeout=timedelta(minutes=2))

    sales = aggregate_sales()
    sales >> verify_in_marquez(emit_segmentation_lineage())
    prepare_sql >> summarise_sql
    sales >> export_to_s3 >> publish_to_curated >> announce_on_kafka
