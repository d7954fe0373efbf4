"""Asset producer: Asset URIs, `outlets`, and asset events that carry extra metadata.

Each task declares the asset it writes in `outlets`; when the task succeeds Airflow records an asset event and
every DAG scheduled on that asset is considered for a run. The task attaches `extra` (path, row count, checksum,
schema version) to the event through `outlet_events`, so consumers find and verify the data without a query.
A task that is not asked to publish skips, and a skipped task emits no event — which is how the `publish`
param decides which assets update (the real-scheduler tests use it to prove conditional scheduling).

The asset URIs are where the data really is: each task writes its partition through `ObjectStoragePath`
(`s3://landing/orders/partition=<day>/orders.jsonl`, connection `aws_default`; common.assets.asset_object), under
the asset's own `s3://` URI, and the event's extra carries that object's URI for consumers to read back the same
way. Locally the bucket lives in the platform's S3 stand-in (moto), declared in `needs.yaml` (`buckets:`).
"""

from __future__ import annotations

from airflow.sdk import Param, task
from airflow.sdk.definitions.timetables.trigger import CronTriggerTimetable

from common.assets import CUSTOMERS, FX_RATES, ORDERS, ORDERS_SCHEMA_VERSION
from common.dag_header import platform_dag

DAG_ID = "phase14_01_dataset_producer"
AWS_CONN_ID = "aws_default"  # the object store the assets' s3:// URIs are on
ALL_ASSETS = ["orders", "customers", "fx_rates"]


def _partition(context: dict) -> str:
    """The logical date's day; a run without a logical date writes its own partition, named by its run_id."""
    return context["logical_date"].strftime("%Y-%m-%d") if context.get("logical_date") else context["run_id"]


def _selected(context, name: str) -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    if name not in context["params"]["publish"]:
        raise AirflowSkipException(f"{name} not in params.publish; no asset event for it this run")


with platform_dag(
    __file__, __doc__, owner="team-sales", team="sales", tags=["assets", "producer"],
    schedule=CronTriggerTimetable("0 2 * * *", timezone="UTC"),
    params={
        "publish": Param(
            ALL_ASSETS, type="array", items={"enum": ALL_ASSETS}, description="which assets this run updates"
        )
    },
):

    @task(outlets=[ORDERS])
    def produce_orders(**context) -> dict:
        from common.assets import asset_object, event_extra, sample_orders, write_jsonl

        _selected(context, "orders")
        partition = _partition(context)
        info = write_jsonl(
            asset_object(ORDERS, partition, "orders.jsonl", conn_id=AWS_CONN_ID), sample_orders(partition)
        )
        extra = event_extra(info, partition=partition, schema_version=ORDERS_SCHEMA_VERSION, producer=DAG_ID)
        context["outlet_events"][ORDERS].extra = extra
        return extra

    @task(outlets=[CUSTOMERS])
    def produce_customers(**context) -> dict:
        from common.assets import asset_object, event_extra, sample_customers, write_jsonl

        _selected(context, "customers")
        partition = _partition(context)
        info = write_jsonl(
            asset_object(CUSTOMERS, partition, "customers.jsonl", conn_id=AWS_CONN_ID), sample_customers()
        )
        extra = event_extra(info, partition=partition, schema_version="1.0", producer=DAG_ID)
        context["outlet_events"][CUSTOMERS].extra = extra
        return extra

    @task(outlets=[FX_RATES])
    def refresh_fx_rates(**context):
        """An API-refresh style asset: the event is emitted by yielding Metadata instead of using outlet_events."""
        from airflow.sdk import Metadata

        from common.assets import asset_object, event_extra, sample_fx_rates, write_jsonl

        _selected(context, "fx_rates")
        partition = _partition(context)
        rates = [{"currency": currency, "to_eur": rate} for currency, rate in sample_fx_rates().items()]
        info = write_jsonl(asset_object(FX_RATES, partition, "rates.jsonl", conn_id=AWS_CONN_ID), rates)
        yield Metadata(FX_RATES, event_extra(info, partition=partition, schema_version="1.0", producer=DAG_ID))

    produce_orders()
    produce_customers()
    refresh_fx_rates()
