"""Governance applied to real Postgres tables (phase 17): tagging, retention, access review, schema snapshots.

Pure decisions come from common.governance; this module only reads and writes the database. Every function takes
an open DB-API connection, so tests drive it against the local Postgres directly.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from common.governance import (
    CLASSIFICATIONS,
    Grant,
    breaking_changes,
    classify_table,
    retention_cutoff,
    retention_delete_sql,
    review_access,
)

# Governed tables: (schema, table) → timestamp column that retention is measured on.
GOVERNED_TABLES = {
    ("governed", "customers"): "created_at",
    ("governed", "invoices"): "created_at",
    ("governed", "page_views"): "viewed_at",
}


@contextmanager
def connect(conn_id: str) -> Iterator[Any]:
    """A psycopg2 connection from an Airflow connection; commits on success, rolls back on error."""
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    conn = PostgresHook(postgres_conn_id=conn_id).get_conn()
    try:
        yield conn
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.close()


def ensure_governance_schema(conn: Any) -> None:
    with conn.cursor() as cur:
        cur.execute("""
            CREATE SCHEMA IF NOT EXISTS governance;
            CREATE TABLE IF NOT EXISTS governance.retention_log (
                id bigserial PRIMARY KEY, table_name text NOT NULL, classification text NOT NULL,
                cutoff timestamptz NOT NULL, deleted_rows integer NOT NULL, run_at timestamptz NOT NULL DEFAULT now());
            CREATE TABLE IF NOT EXISTS governance.access_grants (
                principal text NOT NULL, dataset text NOT NULL, granted_at timestamptz NOT NULL,
                last_used timestamptz, approved_by text, revoked_at timestamptz, PRIMARY KEY (principal, dataset));
            CREATE TABLE IF NOT EXISTS governance.access_reviews (
                id bigserial PRIMARY KEY, principal text NOT NULL, dataset text NOT NULL, classification text NOT NULL,
                action text NOT NULL, reason text NOT NULL, reviewed_at timestamptz NOT NULL DEFAULT now());
            CREATE TABLE IF NOT EXISTS governance.schema_snapshots (
                table_name text PRIMARY KEY, columns jsonb NOT NULL, taken_at timestamptz NOT NULL DEFAULT now());
        """)


def seed_demo_tables(conn: Any, now: datetime) -> None:
    """Demo data with rows on both sides of every retention cutoff (idempotent: tables are refilled)."""
    with conn.cursor() as cur:
        cur.execute("""
            CREATE SCHEMA IF NOT EXISTS governed;
            CREATE TABLE IF NOT EXISTS governed.customers (id int PRIMARY KEY, email text, full_name text, segment text,
                                                           created_at timestamptz NOT NULL);
            CREATE TABLE IF NOT EXISTS governed.invoices (id int PRIMARY KEY, customer_id int, revenue numeric,
                                                          created_at timestamptz NOT NULL);
            CREATE TABLE IF NOT EXISTS governed.page_views (id int PRIMARY KEY, url text, viewed_at timestamptz NOT NULL);
            TRUNCATE governed.customers, governed.invoices, governed.page_views;
        """)
        ages = [1, 10, 45, 400, 1000]  # days old
        for i, age in enumerate(ages):
            ts = now - timedelta(days=age)
            cur.execute("INSERT INTO governed.customers VALUES (%s, %s, %s, %s, %s)",
                        (i, f"user{i}@example.com", f"User {i}", "smb", ts))
            cur.execute("INSERT INTO governed.invoices VALUES (%s, %s, %s, %s)", (i, i, 100 + i, ts))
            cur.execute("INSERT INTO governed.page_views VALUES (%s, %s, %s)", (i, f"/p/{i}", ts))
        cur.execute("""
            INSERT INTO governance.access_grants (principal, dataset, granted_at, last_used, approved_by) VALUES
              ('alice', 'governed.customers', %(old)s, %(recent)s, 'dpo'),
              ('bob', 'governed.customers', %(old)s, %(recent)s, NULL),
              ('carol', 'governed.invoices', %(old)s, %(stale)s, 'cfo'),
              ('dave', 'governed.page_views', %(old)s, %(recent)s, NULL)
            ON CONFLICT (principal, dataset) DO UPDATE SET last_used = EXCLUDED.last_used,
              approved_by = EXCLUDED.approved_by, revoked_at = NULL
        """, {"old": now - timedelta(days=365), "recent": now - timedelta(days=3), "stale": now - timedelta(days=200)})


def table_columns(conn: Any, schema: str, table: str) -> dict[str, str]:
    with conn.cursor() as cur:
        cur.execute("SELECT column_name, data_type FROM information_schema.columns "
                    "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position", (schema, table))
        return dict(cur.fetchall())


def _tag(classification: str) -> str:
    if classification not in CLASSIFICATIONS:
        raise ValueError(f"classification {classification!r} not one of {CLASSIFICATIONS}")
    return f"classification:{classification}"


def classify_and_tag(conn: Any) -> dict[str, Any]:
    """Classify each governed table that exists and write the tags as Postgres comments."""
    result: dict[str, Any] = {}
    for (schema, table) in GOVERNED_TABLES:
        columns = table_columns(conn, schema, table)
        if not columns:
            continue
        classes = classify_table(columns)
        with conn.cursor() as cur:
            # COMMENT takes no bind parameters; the tags come from a closed set and identifiers from the catalog.
            for column, tag in classes["columns"].items():
                cur.execute(f"COMMENT ON COLUMN \"{schema}\".\"{table}\".\"{column}\" IS '{_tag(tag)}'")
            cur.execute(f"COMMENT ON TABLE \"{schema}\".\"{table}\" IS '{_tag(classes['classification'])}'")
        result[f"{schema}.{table}"] = classes
    return result


def apply_retention(conn: Any, classes: Mapping[str, Any], now: datetime) -> dict[str, int]:
    deleted: dict[str, int] = {}
    for (schema, table), ts_column in GOVERNED_TABLES.items():
        name = f"{schema}.{table}"
        if name not in classes:
            continue
        level = classes[name]["classification"]
        cutoff = retention_cutoff(level, now)
        if cutoff is None:
            deleted[name] = 0
            continue
        with conn.cursor() as cur:
            cur.execute(retention_delete_sql(schema, table, ts_column), {"cutoff": cutoff})
            deleted[name] = cur.rowcount
            cur.execute("INSERT INTO governance.retention_log (table_name, classification, cutoff, deleted_rows) "
                        "VALUES (%s, %s, %s, %s)", (name, level, cutoff, cur.rowcount))
    return deleted


def run_access_review(conn: Any, classes: Mapping[str, Any], now: datetime) -> list[dict[str, Any]]:
    with conn.cursor() as cur:
        cur.execute("SELECT principal, dataset, granted_at, last_used, approved_by FROM governance.access_grants "
                    "WHERE revoked_at IS NULL ORDER BY principal, dataset")
        grants = [Grant(*row) for row in cur.fetchall()]
    decisions = review_access(grants, {k: v["classification"] for k, v in classes.items()}, now)
    with conn.cursor() as cur:
        for d in decisions:
            cur.execute("INSERT INTO governance.access_reviews (principal, dataset, classification, action, reason) "
                        "VALUES (%s, %s, %s, %s, %s)", (d["principal"], d["dataset"], d["classification"], d["action"], d["reason"]))
            if d["action"] == "revoke":
                cur.execute("UPDATE governance.access_grants SET revoked_at = %s WHERE principal = %s AND dataset = %s",
                            (now, d["principal"], d["dataset"]))
    return decisions


def compare_with_snapshots(conn: Any) -> dict[str, Any]:
    """Breaking changes keep the old snapshot (until someone acknowledges them); compatible ones replace it."""
    breaking: dict[str, list[str]] = {}
    updated = []
    for (schema, table) in GOVERNED_TABLES:
        name = f"{schema}.{table}"
        current = table_columns(conn, schema, table)
        if not current:
            continue
        with conn.cursor() as cur:
            cur.execute("SELECT columns FROM governance.schema_snapshots WHERE table_name = %s", (name,))
            row = cur.fetchone()
        previous = row[0] if row else None
        if isinstance(previous, str):
            previous = json.loads(previous)
        changes = breaking_changes(previous, current) if previous else []
        if changes:
            breaking[name] = changes
            continue
        with conn.cursor() as cur:
            cur.execute("INSERT INTO governance.schema_snapshots (table_name, columns) VALUES (%s, %s) "
                        "ON CONFLICT (table_name) DO UPDATE SET columns = EXCLUDED.columns, taken_at = now()",
                        (name, json.dumps(current)))
        updated.append(name)
    return {"breaking": breaking, "snapshots_updated": updated}
