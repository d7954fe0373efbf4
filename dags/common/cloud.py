"""Multi-cloud helpers: S3 (S3Hook), Azure Blob (WasbHook), BigQuery (google-cloud-bigquery) and copies between them.

Endpoints come from the Airflow connections only, so the same code reaches real clouds or local stand-ins
(moto for S3, Azurite for Azure Blob, a BigQuery emulator) depending on the deployment.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Mapping, Sequence
from typing import Any

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


def bigquery_client(conn_id: str) -> Any:
    """A google-cloud-bigquery client from a google_cloud_platform connection.

    extra.project is required; extra.api_endpoint points at a non-Google endpoint (an emulator) and extra.anonymous
    uses anonymous credentials there; otherwise Application Default Credentials are used.
    """
    from airflow.sdk import BaseHook
    from google.cloud import bigquery

    extra = BaseHook.get_connection(conn_id).extra_dejson
    project = extra.get("project") or extra.get("project_id")
    if not project:
        raise ValueError(f"connection {conn_id!r} has no extra.project")
    kwargs: dict[str, Any] = {"project": project}
    if extra.get("api_endpoint"):
        from google.api_core.client_options import ClientOptions

        kwargs["client_options"] = ClientOptions(api_endpoint=extra["api_endpoint"])
    if extra.get("anonymous"):
        from google.auth.credentials import AnonymousCredentials

        kwargs["credentials"] = AnonymousCredentials()
    return bigquery.Client(**kwargs)


BQ_ORDER_SCHEMA = (("order_id", "STRING"), ("region", "STRING"), ("amount", "FLOAT"), ("quantity", "INTEGER"))


def bigquery_replace_table(
    client: Any, dataset: str, table: str, rows: Sequence[Mapping[str, Any]], *, load_id: str
) -> int:
    """Recreate `dataset.table` with the order schema and stream `rows` in; a rerun replaces, never appends twice.

    insertIds are `<load_id>:<order_id>`: BigQuery drops a retried row of the same load, while a later load (a
    rerun, with a new load_id) is not mistaken for a retry of the previous one.
    """
    from google.cloud import bigquery

    client.create_dataset(dataset, exists_ok=True)
    table_id = f"{client.project}.{dataset}.{table}"
    client.delete_table(table_id, not_found_ok=True)
    schema = [bigquery.SchemaField(name, kind) for name, kind in BQ_ORDER_SCHEMA]
    client.create_table(bigquery.Table(table_id, schema=schema))
    errors = client.insert_rows_json(
        table_id, [dict(r) for r in rows], row_ids=[f"{load_id}:{r['order_id']}" for r in rows]
    )
    if errors:
        raise ValueError(f"BigQuery rejected rows of {table_id}: {errors[:3]}")
    result = client.query(f"SELECT COUNT(*) AS n FROM `{table_id}`").result()
    return int(next(iter(result))["n"])
