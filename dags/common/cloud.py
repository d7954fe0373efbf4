"""Multi-cloud helpers: S3 (S3Hook), Azure Blob (WasbHook), BigQuery (BigQueryHook: load and query jobs) and copies.

Endpoints come from the Airflow connections only, so the same code reaches real clouds or local stand-ins
(moto for S3, Azurite for Azure Blob, a BigQuery emulator) depending on the deployment.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from airflow.providers.google.cloud.hooks.bigquery import BigQueryHook
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import Credentials
    from google.cloud.bigquery import Client, Row

ORDER_COLUMNS = ("order_id", "region", "amount", "quantity")


def orders_csv(orders: Sequence[Mapping[str, Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=ORDER_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for order in orders:
        writer.writerow({column: order[column] for column in ORDER_COLUMNS})
    return buffer.getvalue().encode()


def parse_orders_csv(data: bytes) -> list[dict[str, Any]]:
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    return [
        {"order_id": r["order_id"], "region": r["region"], "amount": float(r["amount"]), "quantity": int(r["quantity"])}
        for r in rows
    ]


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def s3_put(bucket: str, key: str, data: bytes, *, aws_conn_id: str) -> str:
    """Create the bucket if needed, write the object (replacing it: idempotent), return its MD5."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    hook = S3Hook(aws_conn_id=aws_conn_id)
    if not hook.check_for_bucket(bucket):
        hook.create_bucket(bucket_name=bucket)
    hook.load_bytes(data, key=key, bucket_name=bucket, replace=True)
    return md5_hex(data)


def copy_s3_to_wasb(aws_conn_id: str, bucket: str, key: str, wasb_conn_id: str, container: str, blob: str) -> dict:
    """Cross-cloud copy that streams the S3 body into an Azure block blob, then verifies size and MD5 on both sides."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.providers.microsoft.azure.hooks.wasb import WasbHook

    source = S3Hook(aws_conn_id=aws_conn_id).get_key(key, bucket_name=bucket).get()
    wasb = WasbHook(wasb_conn_id=wasb_conn_id)
    wasb.upload(container, blob, source["Body"], length=source["ContentLength"], create_container=True, overwrite=True)
    copied = wasb.download(container, blob).readall()
    original = S3Hook(aws_conn_id=aws_conn_id).get_key(key, bucket_name=bucket).get()["Body"].read()
    if md5_hex(copied) != md5_hex(original):
        raise ValueError(f"copy of s3://{bucket}/{key} to wasb://{container}/{blob} differs from the source")
    return {"bytes": len(copied), "md5": md5_hex(copied), "target": f"wasb://{container}/{blob}"}


BQ_ORDER_FIELDS: tuple[dict[str, str], ...] = (
    {"name": "order_id", "type": "STRING", "mode": "REQUIRED"},
    {"name": "region", "type": "STRING", "mode": "REQUIRED"},
    {"name": "amount", "type": "FLOAT", "mode": "REQUIRED"},
    {"name": "quantity", "type": "INTEGER", "mode": "REQUIRED"},
    {"name": "batch_date", "type": "DATE", "mode": "REQUIRED"},
)
BQ_PARTITION_FIELD = "batch_date"


@functools.cache
def _bigquery_hook_class() -> type[BigQueryHook]:
    """The provider's BigQueryHook plus the two connection extras an emulator needs (built on first use: importing
    the Google provider is too heavy for DAG parsing)."""
    from airflow.providers.google.cloud.hooks.bigquery import BigQueryHook

    class EndpointAwareBigQueryHook(BigQueryHook):
        """BigQueryHook that also honours `extra.api_endpoint` (the stock hook always calls Google's endpoint) and
        `extra.anonymous` (AnonymousCredentials, like the provider's own `is_anonymous`). A connection to real
        BigQuery has neither, and then this is the stock hook."""

        def get_client_options(self, api_endpoint_override: str | None = None) -> ClientOptions:
            return super().get_client_options(api_endpoint_override or self._get_field("api_endpoint", None))

        def get_credentials_and_project_id(self) -> tuple[Credentials, str | None]:
            if self._cached_credentials is None and self._get_field("anonymous", False):
                from google.auth.credentials import AnonymousCredentials

                self._cached_credentials = AnonymousCredentials()
                self._cached_project_id = self._get_field("project", None)
            return super().get_credentials_and_project_id()

    return EndpointAwareBigQueryHook


def bigquery_hook(gcp_conn_id: str) -> BigQueryHook:
    """The Google provider's BigQueryHook for a google_cloud_platform connection, GoogleSQL (not legacy SQL).

    extra.project is required; extra.api_endpoint points at a non-Google endpoint (an emulator) and extra.anonymous
    uses anonymous credentials there; otherwise the connection's credentials or Application Default Credentials.
    """
    hook = _bigquery_hook_class()(gcp_conn_id=gcp_conn_id, use_legacy_sql=False)
    if not hook.project_id:
        raise ValueError(f"connection {gcp_conn_id!r} has no extra.project")
    return hook


def bigquery_client(conn_id: str) -> Client:
    """The google-cloud-bigquery Client of `bigquery_hook(conn_id)` (for what the hook has no method for)."""
    hook = bigquery_hook(gcp_conn_id=conn_id)
    return hook.get_client(project_id=hook.project_id)


def bigquery_ensure_partitioned_table(
    hook: BigQueryHook, dataset: str, table: str, fields: Sequence[Mapping[str, str]], partition_field: str
) -> dict[str, Any]:
    """Create the dataset and the table, partitioned by day on `partition_field`, when they are missing.

    `exists_ok`: an existing table is kept (never dropped, never recreated, its rows untouched). One that is not
    partitioned on `partition_field` is reported rather than replaced. Returns the table's id and creation time.
    """
    hook.create_empty_dataset(dataset_id=dataset, project_id=hook.project_id, exists_ok=True)
    resource = {
        "schema": {"fields": [dict(field) for field in fields]},
        "timePartitioning": {"type": "DAY", "field": partition_field},
    }
    created = hook.create_table(
        dataset_id=dataset, table_id=table, table_resource=resource, project_id=hook.project_id, exists_ok=True
    )
    partitioning = created.time_partitioning
    if partitioning is None or partitioning.field != partition_field or partitioning.type_ != "DAY":
        raise ValueError(
            f"{created.full_table_id} exists but is not partitioned by day on {partition_field}: "
            "migrate it deliberately, this task does not drop tables"
        )
    return {
        "table": f"{created.project}.{created.dataset_id}.{created.table_id}",
        "created": created.created.isoformat(),
    }


def bigquery_load_partition(
    hook: BigQueryHook,
    dataset: str,
    table: str,
    day: str,
    rows: Sequence[Mapping[str, Any]],
    fields: Sequence[Mapping[str, str]],
    *,
    job_id_prefix: str,
    timeout: float,
) -> dict[str, Any]:
    """Replace the `day` (YYYY-MM-DD) partition of `dataset.table` with `rows` in one load job; returns the job.

    The rows go as newline-delimited JSON in the job's media upload (`load_table_from_json`: no GCS staging, no
    streaming inserts) to the partition decorator `table$YYYYMMDD` with WRITE_TRUNCATE: the load is atomic, a rerun
    of the day replaces the partition instead of appending to it, and other days' partitions are untouched.
    CREATE_NEVER: only `bigquery_ensure_partitioned_table` creates the table; max_bad_records=0: a row the load
    cannot take fails the job rather than being dropped.
    """
    from google.cloud import bigquery

    client = hook.get_client(project_id=hook.project_id)
    destination = f"{hook.project_id}.{dataset}.{table}${day.replace('-', '')}"
    config = bigquery.LoadJobConfig(
        source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
        schema=[bigquery.SchemaField.from_api_repr(dict(field)) for field in fields],
        write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
        create_disposition=bigquery.CreateDisposition.CREATE_NEVER,
        max_bad_records=0,
    )
    job = client.load_table_from_json(
        [dict(row) for row in rows], destination, job_config=config, job_id_prefix=job_id_prefix, timeout=timeout
    )
    job.result(timeout=timeout)
    return {"job_id": job.job_id, "location": job.location, "destination": destination, "rows": job.output_rows}


def bigquery_query(
    hook: BigQueryHook, sql: str, parameters: Mapping[str, tuple[str, Any]] | None = None, *, timeout: float
) -> list[dict[str, Any]]:
    """Rows of a GoogleSQL query job run through `BigQueryHook.insert_job`; parameters are `{name: (type, value)}`,
    referenced as `@name`."""
    query: dict[str, Any] = {"query": sql, "useLegacySql": False}
    if parameters:
        query["parameterMode"] = "NAMED"
        query["queryParameters"] = [
            {"name": name, "parameterType": {"type": kind}, "parameterValue": {"value": str(value)}}
            for name, (kind, value) in parameters.items()
        ]
    job = hook.insert_job(configuration={"query": query}, project_id=hook.project_id, timeout=timeout)
    rows = cast("Iterable[Row]", job.result(timeout=timeout))  # a query job's result is its rows
    return [dict(row.items()) for row in rows]
