"""Transactional, idempotent loading of a day's orders into the Postgres warehouse, with a quarantine table.

One batch = one logical date. Re-running a batch replaces that batch (upsert by order_id, quarantine rows of the
batch rewritten), so a rerun never adds duplicates. Everything of a batch commits together or not at all.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

ORDERS_TABLE = "orders"
QUARANTINE_TABLE = "orders_quarantine"
AUDIT_TABLE = "orders_load_audit"

DDL = f"""
CREATE TABLE IF NOT EXISTS {ORDERS_TABLE} (
    order_id   TEXT PRIMARY KEY,
    region     TEXT NOT NULL,
    amount     NUMERIC(12, 2) NOT NULL CHECK (amount > 0),
    quantity   INTEGER NOT NULL CHECK (quantity > 0),
    batch_date DATE NOT NULL,
    loaded_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS {QUARANTINE_TABLE} (
    id             BIGSERIAL PRIMARY KEY,
    batch_date     DATE NOT NULL,
    record         JSONB NOT NULL,
    reasons        TEXT[] NOT NULL,
    quarantined_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS {AUDIT_TABLE} (
    batch_date  DATE PRIMARY KEY,
    loaded      INTEGER NOT NULL,
    quarantined INTEGER NOT NULL,
    run_id      TEXT NOT NULL,
    loaded_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
"""

# Rows are streamed with COPY into a per-transaction staging table (temp: not WAL-logged), then merged in one
# statement: close to COPY itself for large batches, still idempotent. Within one batch the last occurrence of an
# order_id wins (deduplicated before the COPY, since one INSERT can't upsert the same key twice).
STAGE_ORDERS = """
CREATE TEMP TABLE orders_stage (
    order_id TEXT, region TEXT, amount NUMERIC(12, 2), quantity INTEGER, batch_date DATE
) ON COMMIT DROP
"""
COPY_STAGE = "COPY orders_stage (order_id, region, amount, quantity, batch_date) FROM STDIN WITH (FORMAT csv)"
# Replace-by-key rather than INSERT ... ON CONFLICT: same result (the batch's rows replace any earlier copies of
# those order_ids), but a plain insert avoids per-row speculative insertion and runs at about COPY speed.
DELETE_STAGED = f"DELETE FROM {ORDERS_TABLE} o USING orders_stage s WHERE o.order_id = s.order_id"
INSERT_STAGED = f"""
INSERT INTO {ORDERS_TABLE} (order_id, region, amount, quantity, batch_date)
SELECT order_id, region, amount, quantity, batch_date FROM orders_stage
"""


class SimulatedLoadFailure(RuntimeError):
    """Raised after the writes and before the commit, to show that nothing of the batch survives a failure."""


def order_rows(batch_date: str, orders: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "order_id": o["order_id"],
            "region": o["region"],
            "amount": o["amount"],
            "quantity": o["quantity"],
            "batch_date": batch_date,
        }
        for o in orders
    ]


def quarantine_rows(batch_date: str, rejected: Sequence[Mapping[str, Any]]) -> list[tuple[str, str, list[str]]]:
    rows = []
    for item in rejected:
        record = {k: v for k, v in item.items() if k != "problems"}
        rows.append((batch_date, json.dumps(record, sort_keys=True, default=str), list(item["problems"])))
    return rows


def orders_csv(batch_date: str, orders: Sequence[Mapping[str, Any]]) -> str:
    """The batch as CSV text in the staging table's column order, one row per order_id (the last one wins)."""
    last = {o["order_id"]: o for o in orders}
    buffer = io.StringIO()
    csv.writer(buffer).writerows((o["order_id"], o["region"], o["amount"], o["quantity"], batch_date) for o in last.values())
    return buffer.getvalue()


def _copy_into(cursor: Any, statement: str, text: str) -> None:
    """COPY FROM STDIN on psycopg2 (copy_expert) or psycopg 3 (cursor.copy)."""
    if hasattr(cursor, "copy_expert"):
        cursor.copy_expert(statement, io.StringIO(text))
    else:
        with cursor.copy(statement) as copy:
            copy.write(text)


def load_batch(
    conn: Any,
    *,
    batch_date: str,
    valid: Sequence[Mapping[str, Any]],
    rejected: Sequence[Mapping[str, Any]],
    run_id: str,
    fail_before_commit: bool = False,
) -> dict[str, int]:
    """Write a batch in ONE transaction on a DB-API connection: commit on success, roll back on any error."""
    try:
        with conn.cursor() as cursor:
            cursor.execute(STAGE_ORDERS)
            _copy_into(cursor, COPY_STAGE, orders_csv(batch_date, valid))
            cursor.execute("ANALYZE orders_stage")  # lets the planner hash-join the delete instead of a nested loop
            cursor.execute(DELETE_STAGED)
            cursor.execute(INSERT_STAGED)
            cursor.execute(f"DELETE FROM {QUARANTINE_TABLE} WHERE batch_date = %s", (batch_date,))
            cursor.executemany(
                f"INSERT INTO {QUARANTINE_TABLE} (batch_date, record, reasons) VALUES (%s, %s::jsonb, %s)",
                quarantine_rows(batch_date, rejected),
            )
            cursor.execute(
                f"INSERT INTO {AUDIT_TABLE} (batch_date, loaded, quarantined, run_id) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (batch_date) DO UPDATE SET loaded = EXCLUDED.loaded, "
                "quarantined = EXCLUDED.quarantined, run_id = EXCLUDED.run_id, loaded_at = now()",
                (batch_date, len(valid), len(rejected), run_id),
            )
            if fail_before_commit:
                raise SimulatedLoadFailure(f"failing batch {batch_date} after writing, before commit")
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return {"loaded": len(valid), "quarantined": len(rejected)}


RECONCILE_SQL = f"""
SELECT a.loaded, a.quarantined,
       (SELECT COUNT(*) FROM {ORDERS_TABLE} o WHERE o.batch_date = a.batch_date),
       (SELECT COUNT(*) FROM {QUARANTINE_TABLE} q WHERE q.batch_date = a.batch_date)
FROM {AUDIT_TABLE} a WHERE a.batch_date = %s
"""


def reconcile(row: Sequence[Any] | None, batch_date: str) -> dict[str, int]:
    """Audit counts must equal what the tables hold for the batch; any mismatch is an error naming both sides."""
    if row is None:
        raise ValueError(f"no audit row for batch {batch_date}: the load did not commit")
    audit_loaded, audit_quarantined, orders, quarantined = (int(v) for v in row)
    if (audit_loaded, audit_quarantined) != (orders, quarantined):
        raise ValueError(
            f"batch {batch_date}: audit says {audit_loaded} loaded/{audit_quarantined} quarantined, "
            f"tables hold {orders}/{quarantined}"
        )
    return {"orders": orders, "quarantined": quarantined}
