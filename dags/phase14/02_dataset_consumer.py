"""Asset consumer: `schedule=[orders, customers]` — the DAG runs once BOTH assets have new events.

A list schedule is an AND: one producer run that only refreshed orders does not start this DAG; it waits until
customers also updated. The run reads `triggering_asset_events` to learn which files (and which versions)
triggered it, checks the producers' schema contract, joins the data and publishes its own asset downstream.

Storage is object storage: the events' extras name `s3://` objects under the assets' URIs, read here through
`ObjectStoragePath` (connection `aws_default`) and checked against the checksum and row count the producer
announced; the report is written the same way to `s3://curated/daily_sales/partition=<day>/daily_sales.jsonl`.
"""

from __future__ import annotations

from airflow.sdk import task

from common.assets import CUSTOMERS, DAILY_SALES, ORDERS
from common.dag_header import platform_dag

AWS_CONN_ID = "aws_default"  # the object store the assets' s3:// URIs are on

with platform_dag(
    __file__, __doc__, owner="team-analytics", team="analytics", tags=["assets", "consumer"],
    schedule=[ORDERS, CUSTOMERS],
):

    @task
    def inspect_triggering_events(**context) -> dict:
        from common.assets import check_schema_compatible, latest_events

        events = latest_events(context["triggering_asset_events"])
        missing = {ORDERS.name, CUSTOMERS.name} - set(events)
        if missing:
            raise ValueError(f"triggered without events for {sorted(missing)}")
        check_schema_compatible(events[ORDERS.name].extra, supported_major="2")
        return {name: {"extra": e.extra, "source_dag_id": e.source_dag_id} for name, e in events.items()}

    @task(outlets=[DAILY_SALES])
    def build_daily_sales(events: dict, **context) -> dict:
        from common.assets import asset_object, event_extra, join_daily_sales, read_announced, write_jsonl

        # read_announced refuses an object whose checksum or row count differs from its event: no partial data
        orders = read_announced(events[ORDERS.name]["extra"], conn_id=AWS_CONN_ID)
        customers = read_announced(events[CUSTOMERS.name]["extra"], conn_id=AWS_CONN_ID)
        report = join_daily_sales(orders, customers, {"EUR": 1.0, "USD": 0.92, "JPY": 0.0062})
        partition = events[ORDERS.name]["extra"]["partition"]
        info = write_jsonl(asset_object(DAILY_SALES, partition, "daily_sales.jsonl", conn_id=AWS_CONN_ID), [report])
        context["outlet_events"][DAILY_SALES].extra = event_extra(
            info, partition=partition, schema_version="1.0", producer="phase14_02_dataset_consumer"
        )
        return {**report, "written_to": info["path"]}

    build_daily_sales(inspect_triggering_events())
