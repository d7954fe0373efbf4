"""Phase 9 · Cloud integration: S3Hook, WasbHook and BigQuery in one pipeline, with a cross-cloud copy.

Teaches: landing a day's extract in S3 (S3Hook, `aws_default`), copying it to Azure Blob Storage by streaming the S3
body into a block blob (WasbHook, `wasb_default`) and verifying the checksum, loading the rows into a BigQuery table
(`google_cloud_default`) idempotently, and reconciling the three. Malformed orders go to an S3 quarantine prefix.
Endpoints come only from connections: the same DAG runs against the clouds or local stand-ins.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import DAG, task

from common.defaults import platform_default_args
from common.run_dates import batch_date, batch_date_nodash

LANDING_BUCKET = "platform-landing"
ARCHIVE_CONTAINER = "platform-archive"
BQ_DATASET = "platform"
CLOUD_TIMEOUT = timedelta(minutes=10)
ORDERS_PER_DAY = 40
BAD_EVERY = 8


def _key(ds: str) -> str:
    return f"orders/{ds}.csv"


@task
def validate_orders(ds: str | None = None, dag_run: Any = None) -> dict[str, Any]:
    """Validation before anything is loaded: malformed orders are split off for quarantine, never dropped."""
    from common.orders import sample_orders, split_valid

    valid, rejected = split_valid(sample_orders(batch_date(ds, dag_run), ORDERS_PER_DAY, bad_every=BAD_EVERY))
    return {"valid": valid, "rejected": rejected}


@task(retries=3, retry_delay=timedelta(seconds=20), execution_timeout=CLOUD_TIMEOUT)
def land_in_s3(batch: dict[str, Any], ds: str | None = None, dag_run: Any = None) -> dict[str, Any]:
    import json

    from common.cloud import orders_csv, s3_put

    day = batch_date(ds, dag_run)
    valid, rejected = batch["valid"], batch["rejected"]
    md5 = s3_put(LANDING_BUCKET, _key(day), orders_csv(valid), aws_conn_id="aws_default")
    quarantine_key = f"quarantine/orders/{day}.jsonl"
    lines = "".join(json.dumps(r, sort_keys=True) + "\n" for r in rejected).encode()
    s3_put(LANDING_BUCKET, quarantine_key, lines, aws_conn_id="aws_default")
    return {
        "key": _key(day),
        "rows": len(valid),
        "md5": md5,
        "quarantine_key": quarantine_key,
        "quarantined": len(rejected),
    }


@task(retries=3, retry_delay=timedelta(seconds=20), execution_timeout=CLOUD_TIMEOUT)
def copy_to_azure(landed: dict[str, Any]) -> dict[str, Any]:
    from common.cloud import copy_s3_to_wasb

    copied = copy_s3_to_wasb(
        aws_conn_id="aws_default",
        bucket=LANDING_BUCKET,
        key=landed["key"],
        wasb_conn_id="wasb_default",
        container=ARCHIVE_CONTAINER,
        blob=landed["key"],
    )
    if copied["md5"] != landed["md5"]:
        raise ValueError(f"archive copy {copied['target']} does not match the landed extract")
    return copied


@task(retries=3, retry_delay=timedelta(seconds=20), execution_timeout=CLOUD_TIMEOUT)
def load_bigquery(
    landed: dict[str, Any], ds: str | None = None, dag_run: Any = None, run_id: str | None = None
) -> dict[str, Any]:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from common.cloud import bigquery_client, bigquery_replace_table, parse_orders_csv

    data = S3Hook(aws_conn_id="aws_default").get_key(landed["key"], bucket_name=LANDING_BUCKET).get()["Body"].read()
    table = f"orders_{batch_date_nodash(ds, dag_run)}"
    count = bigquery_replace_table(
        bigquery_client(conn_id="google_cloud_default"),
        BQ_DATASET,
        table,
        parse_orders_csv(data),
        load_id=run_id or "",
    )
    return {"table": f"{BQ_DATASET}.{table}", "rows": count}


@task
def reconcile(landed: dict[str, Any], archived: dict[str, Any], warehouse: dict[str, Any]) -> dict[str, Any]:
    if warehouse["rows"] != landed["rows"]:
        raise ValueError(f"BigQuery {warehouse['table']} has {warehouse['rows']} rows, S3 extract {landed['rows']}")
    return {"rows": landed["rows"], "md5": archived["md5"], "quarantined": landed["quarantined"]}


with DAG(
    dag_id="phase9_03_cloud_integration",
    description="S3 → Azure Blob cross-cloud copy and a BigQuery load, reconciled",
    doc_md=__doc__,
    schedule="@daily",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=platform_default_args("data-eng"),
    tags=["phase9", "integrations", "cloud", "s3", "azure", "bigquery", "team:data-eng", "severity:P3"],
) as dag:
    landed = land_in_s3(validate_orders())
    reconcile(landed, copy_to_azure(landed), load_bigquery(landed))
