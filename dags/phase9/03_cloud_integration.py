"""Phase 9 · Cloud integration: S3Hook, WasbHook and BigQueryHook in one pipeline, with a cross-cloud copy.

Teaches: landing a day's extract in S3 (S3Hook, `aws_default`), copying it to Azure Blob Storage by streaming the S3
body into a block blob (WasbHook, `wasb_default`) and verifying the checksum, and loading the rows into BigQuery
through the Google provider's BigQueryHook (`google_cloud_default`) the batch way:

- a LOAD JOB, not streaming inserts (`insertAll`): the day's rows go as newline-delimited JSON in the job's media
  upload, are applied atomically (all rows or none), cost no streaming quota and leave no streaming buffer;
- one table partitioned by day on `batch_date`, created once when missing (`exists_ok`) and never dropped or recreated;
- idempotency per day through the partition decorator: the job writes to `orders$YYYYMMDD` with WRITE_TRUNCATE, so a
  rerun or a retry replaces that day's partition (same row count, no duplicates) and leaves every other day alone;
- reconciliation that reads BigQuery back with a query job through the hook (`insert_job`) and compares it with S3.

Malformed orders are split off before anything is loaded and go to an S3 quarantine prefix, never dropped; the load
itself allows no bad records, so BigQuery cannot silently skip a row either. Endpoints come only from connections: the
same DAG runs against the clouds or local stand-ins.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import task

from common.dag_header import platform_dag
from common.run_dates import batch_date, batch_date_nodash

LANDING_BUCKET = "platform-landing"
ARCHIVE_CONTAINER = "platform-archive"
BQ_DATASET = "platform"
BQ_TABLE = "orders"
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
def load_bigquery(landed: dict[str, Any], ds: str | None = None, dag_run: Any = None) -> dict[str, Any]:
    """Replace the day's partition of BigQuery `platform.orders` with the landed extract, in one load job."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from common.cloud import (
        BQ_ORDER_FIELDS,
        BQ_PARTITION_FIELD,
        bigquery_ensure_partitioned_table,
        bigquery_hook,
        bigquery_load_partition,
        parse_orders_csv,
    )

    day = batch_date(ds, dag_run)
    data = S3Hook(aws_conn_id="aws_default").get_key(landed["key"], bucket_name=LANDING_BUCKET).get()["Body"].read()
    rows = [{**order, BQ_PARTITION_FIELD: day} for order in parse_orders_csv(data)]
    if len(rows) != landed["rows"]:
        raise ValueError(f"s3://{LANDING_BUCKET}/{landed['key']} has {len(rows)} orders, {landed['rows']} were landed")
    hook = bigquery_hook(gcp_conn_id="google_cloud_default")
    table = bigquery_ensure_partitioned_table(hook, BQ_DATASET, BQ_TABLE, BQ_ORDER_FIELDS, BQ_PARTITION_FIELD)
    loaded = bigquery_load_partition(
        hook,
        BQ_DATASET,
        BQ_TABLE,
        day,
        rows,
        BQ_ORDER_FIELDS,
        job_id_prefix=f"phase9_03_orders_{batch_date_nodash(ds, dag_run)}_",
        timeout=CLOUD_TIMEOUT.total_seconds() / 2,
    )
    if loaded["rows"] != len(rows):
        raise ValueError(f"load job {loaded['job_id']} wrote {loaded['rows']} rows of {len(rows)}")
    return {**loaded, "table": table["table"], "table_created": table["created"], "batch_date": day}


@task(retries=3, retry_delay=timedelta(seconds=20), execution_timeout=CLOUD_TIMEOUT)
def reconcile(landed: dict[str, Any], archived: dict[str, Any], warehouse: dict[str, Any]) -> dict[str, Any]:
    """Read the day back from BigQuery with a query job and compare it with the S3 extract."""
    from common.cloud import bigquery_hook, bigquery_query

    [counts] = bigquery_query(
        bigquery_hook(gcp_conn_id="google_cloud_default"),
        f"SELECT COUNT(*) AS n, COUNT(DISTINCT order_id) AS ids FROM `{warehouse['table']}` WHERE batch_date = @day",
        {"day": ("DATE", warehouse["batch_date"])},
        timeout=CLOUD_TIMEOUT.total_seconds() / 2,
    )
    where = f"{warehouse['table']} for {warehouse['batch_date']}"
    if counts["n"] != landed["rows"]:
        raise ValueError(f"BigQuery {where} has {counts['n']} rows, the S3 extract {landed['rows']}")
    if counts["ids"] != counts["n"]:
        raise ValueError(f"BigQuery {where} has {counts['n'] - counts['ids']} duplicate orders")
    return {"rows": landed["rows"], "md5": archived["md5"], "quarantined": landed["quarantined"]}


with platform_dag(
    __file__, __doc__, owner="data-eng", team="data-eng", severity="P3",
    tags=["integrations", "cloud", "s3", "azure", "bigquery"],
    description="S3 → Azure Blob cross-cloud copy and an idempotent BigQuery partition load job, reconciled",
    schedule="@daily", max_active_runs=1,
) as dag:
    landed = land_in_s3(validate_orders())
    reconcile(landed, copy_to_azure(landed), load_bigquery(landed))
