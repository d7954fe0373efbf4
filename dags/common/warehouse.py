"""Transactional, idempotent loading of a day's orders into the Postgres warehouse, with a quarantine table.

One batch = one logical date. Re-running a batch replaces that batch (upsert by order_id, quarantine rows of the
batch rewritten), so a rerun never adds duplicates. Everything of a batch commits together or not at all.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
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

# Replace-by-key without a staging table: the batch is copied straight into the table; only if that hits an order_id
# already there (a rerun, a correction) is the COPY rolled back to a savepoint, every row holding one of the batch's
# order_ids deleted, and the COPY repeated. Same result as an upsert: the batch's rows replace any earlier copies of
# those order_ids, wherever they were loaded. Measured on 100k rows: a staging table cost a second COPY, an ANALYZE
# and an INSERT ... SELECT; deleting up front cost a 100k-key lookup even for a day of new order_ids (the usual
# case). Within one batch the last occurrence of an order_id wins (deduplicated first: one row per order_id).
COPY_ORDERS = f"COPY {ORDERS_TABLE} (order_id, region, amount, quantity, batch_date) FROM STDIN WITH (FORMAT csv)"
# The keys travel as ONE text parameter split on the server: far cheaper than adapting a 100k-element array on the
# client, and `= ANY(<constant array>)` is hashed by Postgres. Keys that can't be newline-joined safely go as an array.
DELETE_KEYS_JOINED = f"DELETE FROM {ORDERS_TABLE} WHERE order_id = ANY(string_to_array(%s, E'\\n'))"
DELETE_KEYS_ARRAY = f"DELETE FROM {ORDERS_TABLE} WHERE order_id = ANY(%s::text[])"
UNIQUE_VIOLATION = "23505"
# CSV is built and sent in chunks so the server inserts one chunk while Python formats the next.
COPY_CHUNK_ROWS = 5000


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


def latest_by_order_id(orders: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """One order per order_id, the last occurrence winning (a batch may repeat an order with a correction)."""
    return list({o["order_id"]: o for o in orders}.values())


def orders_csv_chunks(
    batch_date: str, orders: Sequence[Mapping[str, Any]], chunk_rows: int = COPY_CHUNK_ROWS
) -> Iterator[str]:
    """CSV text in the orders table's COPY column order, `chunk_rows` orders per chunk, exactly as csv.writer writes it."""
    for start in range(0, len(orders), chunk_rows):
        yield _csv_chunk(batch_date, orders[start : start + chunk_rows])


def _csv_chunk(batch_date: str, orders: Sequence[Mapping[str, Any]]) -> str:
    # A plain join is what csv.writer writes whenever no value needs quoting and none is None (csv writes ''): then
    # each row holds exactly 4 commas and one CRLF, and no quote or 'None' appears. It costs a third of csv.writer;
    # any chunk failing that check is written by csv.writer instead.
    text = "".join([f"{o['order_id']},{o['region']},{o['amount']},{o['quantity']},{batch_date}\r\n" for o in orders])
    rows = len(orders)
    if (text.count(","), text.count("\r"), text.count("\n")) == (4 * rows, rows, rows) and not (
        '"' in text or "None" in text
    ):
        return text
    buffer = io.StringIO()
    csv.writer(buffer).writerows((o["order_id"], o["region"], o["amount"], o["quantity"], batch_date) for o in orders)
    return buffer.getvalue()


def delete_keys_statement(order_ids: Sequence[Any]) -> tuple[str, tuple[Any]]:
    """The DELETE of these order_ids with its parameter: newline-joined text when no key holds a newline, else text[]."""
    try:
        joined = "\n".join(order_ids)
    except TypeError:  # a non-text key: the array path turns it into the text the COPY would write
        joined = None
    if joined is not None and joined.count("\n") == len(order_ids) - 1 and (joined or not order_ids):
        return DELETE_KEYS_JOINED, (joined,)
    return DELETE_KEYS_ARRAY, ([None if k is None else str(k) for k in order_ids],)


def _copy_into(cursor: Any, statement: str, chunks: Iterable[str]) -> None:
    """COPY FROM STDIN on psycopg 3 (cursor.copy, streamed chunk by chunk) or psycopg2 (copy_expert)."""
    if hasattr(cursor, "copy_expert"):
        cursor.copy_expert(statement, io.StringIO("".join(chunks)))
    else:
        with cursor.copy(statement) as copy:
            for chunk in chunks:
                copy.write(chunk)


def _sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE of a psycopg 3 (`sqlstate`) or psycopg2 (`pgcode`) error."""
    return getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)


def _replace_orders(cursor: Any, batch_date: str, orders: Sequence[Mapping[str, Any]]) -> None:
    """Write `orders` (one per order_id), replacing any row already holding one of their order_ids."""
    cursor.execute("SAVEPOINT replace_orders")
    try:
        _copy_into(cursor, COPY_ORDERS, orders_csv_chunks(batch_date, orders))
    except Exception as error:
        if _sqlstate(error) != UNIQUE_VIOLATION:
            raise
        cursor.execute("ROLLBACK TO SAVEPOINT replace_orders")
        cursor.execute(*delete_keys_statement([o["order_id"] for o in orders]))
        _copy_into(cursor, COPY_ORDERS, orders_csv_chunks(batch_date, orders))
    cursor.execute("RELEASE SAVEPOINT replace_orders")


def load_batch(
    conn: Any,
    *,
    batch_date: str,
    valid: Sequence[Mapping[str, Any]],
    rejected: Sequence[Mapping[str, Any]],
    run_id: str,
    fail_before_commit: bool = False,
) -> dict[str, int]:
    """Write a batch in ONE transaction on a DB-API connection: commit on success, roll back on any error.

    `loaded` counts the distinct orders written (what the table holds for the batch, so `reconcile` agrees even
    when the batch repeated an order_id).
    """
    if getattr(conn, "autocommit", False):
        raise ValueError("load_batch needs a connection with autocommit off: the whole batch is one transaction")
    try:
        with conn.cursor() as cursor:
            orders = latest_by_order_id(valid)
            if orders:
                _replace_orders(cursor, batch_date, orders)
            cursor.execute(f"DELETE FROM {QUARANTINE_TABLE} WHERE batch_date = %s", (batch_date,))
            cursor.executemany(
                f"INSERT INTO {QUARANTINE_TABLE} (batch_date, record, reasons) VALUES (%s, %s::jsonb, %s)",
                quarantine_rows(batch_date, rejected),
            )
            cursor.execute(
                f"INSERT INTO {AUDIT_TABLE} (batch_date, loaded, quarantined, run_id) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (batch_date) DO UPDATE SET loaded = EXCLUDED.loaded, "
                "quarantined = EXCLUDED.quarantined, run_id = EXCLUDED.run_id, loaded_at = now()",
                (batch_date, len(orders), len(rejected), run_id),
            )
            if fail_before_commit:
                raise SimulatedLoadFailure(f"failing batch {batch_date} after writing, before commit")
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return {"loaded": len(orders), "quarantined": len(rejected)}


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
