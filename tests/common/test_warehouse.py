"""common.warehouse: row building and the batch load.

The load tests run `load_batch` against the local Postgres (real), each in a schema of its own that is dropped after.
"""

from __future__ import annotations

import csv
import io
import json
import uuid

import pytest

from common.warehouse import (
    COPY_CHUNK_ROWS,
    DDL,
    DELETE_KEYS_ARRAY,
    DELETE_KEYS_JOINED,
    SimulatedLoadFailure,
    delete_keys_statement,
    latest_by_order_id,
    load_batch,
    order_rows,
    orders_csv_chunks,
    quarantine_rows,
    reconcile,
)


def test_rows_carry_the_batch_date_and_quarantine_keeps_the_reasons():
    order = {"order_id": "1", "region": "eu", "amount": 5.0, "quantity": 2}
    assert order_rows("2026-01-01", [order]) == [{**order, "batch_date": "2026-01-01"}]
    ((batch, record, reasons),) = quarantine_rows(
        "2026-01-01", [{**order, "amount": -1, "problems": ["amount must be positive"]}]
    )
    assert batch == "2026-01-01" and json.loads(record)["amount"] == -1 and reasons == ["amount must be positive"]


def test_reconcile_accepts_matching_counts_and_names_mismatches():
    assert reconcile((45, 5, 45, 5), "2026-01-01") == {"orders": 45, "quarantined": 5}
    with pytest.raises(ValueError, match="audit says 45 loaded/5 quarantined, tables hold 90/5"):
        reconcile((45, 5, 90, 5), "2026-01-01")
    with pytest.raises(ValueError, match="no audit row for batch 2026-01-02"):
        reconcile(None, "2026-01-02")


def _order(order_id, amount: float = 10.0, region: str = "eu") -> dict:
    return {"order_id": order_id, "region": region, "amount": amount, "quantity": 1}


def test_the_last_occurrence_of_an_order_id_wins():
    orders = [_order("a", 1.0), _order("b", 2.0), _order("a", 3.0)]
    assert latest_by_order_id(orders) == [_order("a", 3.0), _order("b", 2.0)]


def test_csv_chunks_split_the_batch_and_quote_awkward_text():
    orders = [_order(f"id-{i}", i + 0.5) for i in range(5)] + [_order('comma, "quote"\nnewline', 7.25)]
    chunks = list(orders_csv_chunks("2026-01-01", orders, chunk_rows=2))
    assert len(chunks) == 3
    rows = list(csv.reader(io.StringIO("".join(chunks))))
    assert rows[0] == ["id-0", "eu", "0.5", "1", "2026-01-01"]
    assert rows[-1] == ['comma, "quote"\nnewline', "eu", "7.25", "1", "2026-01-01"]
    assert len(rows) == 6


def test_csv_chunks_are_exactly_what_csv_writer_writes_for_any_value():
    """The plain-join fast path must never differ from csv.writer: awkward values fall back to it, chunk by chunk."""
    from decimal import Decimal

    awkward = ["plain", "", None, "None", "a,b", 'say "hi"', "two\nlines", "cr\rhere", " padded ", "é"]
    numbers = [1, 0.1, 1e-05, 12.5, Decimal("3.10"), True, None, float("nan")]
    orders = [
        {"order_id": f"id-{i}", "region": "eu", "amount": 9.99, "quantity": 2} for i in range(6)
    ]  # clean rows: fast path
    orders += [
        {"order_id": text, "region": region, "amount": number, "quantity": number}
        for text in awkward
        for region in ("eu", awkward[len(text or "") % len(awkward)])
        for number in numbers
    ]
    reference = io.StringIO()
    csv.writer(reference).writerows(
        (o["order_id"], o["region"], o["amount"], o["quantity"], "2026-01-01") for o in orders
    )
    for chunk_rows in (1, 3, 6, len(orders)):
        assert "".join(orders_csv_chunks("2026-01-01", orders, chunk_rows=chunk_rows)) == reference.getvalue()


def test_keys_travel_as_one_joined_text_unless_a_key_cannot_be_joined_safely():
    assert delete_keys_statement(["a", "b"]) == (DELETE_KEYS_JOINED, ("a\nb",))
    # a newline inside a key would split it on the server: the keys go as a text[] instead
    assert delete_keys_statement(["a\nb", "c"]) == (DELETE_KEYS_ARRAY, (["a\nb", "c"],))
    # a single empty key joins to '', which string_to_array reads as no key at all
    assert delete_keys_statement([""]) == (DELETE_KEYS_ARRAY, ([""],))
    # non-text keys are compared as the text the COPY writes for them
    assert delete_keys_statement([7, "8"]) == (DELETE_KEYS_ARRAY, (["7", "8"],))


# ----------------------------------------------------------------------------------------- against Postgres (real)
@pytest.fixture(params=["psycopg", "psycopg2"])
def warehouse_conn(request, postgres_service):
    """A connection (psycopg 3, as PostgresHook gives, or psycopg2) whose search_path is a fresh schema holding the
    warehouse tables; the schema is dropped after."""
    import importlib

    from local.services import postgres

    driver = importlib.import_module(request.param)
    schema = f"test_warehouse_{uuid.uuid4().hex[:8]}"
    conn = driver.connect(postgres.dsn("warehouse"))
    with conn.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {schema}")
        cursor.execute(f"SET search_path TO {schema}")
        cursor.execute(DDL)
    conn.commit()
    yield conn
    conn.rollback()
    with conn.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA {schema} CASCADE")
    conn.commit()
    conn.close()


def _query(conn, sql: str, parameters=None) -> list[tuple]:
    with conn.cursor() as cursor:
        cursor.execute(sql, parameters)
        rows = cursor.fetchall()
    conn.commit()
    return rows


def _orders_of(conn, batch_date: str) -> dict[str, tuple]:
    rows = _query(
        conn,
        "SELECT order_id, amount::float, region FROM orders WHERE batch_date = %s ORDER BY order_id",
        (batch_date,),
    )
    return {order_id: (amount, region) for order_id, amount, region in rows}


def _reconciled(conn, batch_date: str) -> dict[str, int]:
    from common.warehouse import RECONCILE_SQL

    rows = _query(conn, RECONCILE_SQL, (batch_date,))
    return reconcile(rows[0] if rows else None, batch_date)


def test_load_replaces_by_key_and_a_rerun_adds_no_duplicates(warehouse_conn):
    day1 = [_order(f"o-{i}", 10.0 + i) for i in range(20)]
    rejected = [{**_order("bad-1", -1.0), "problems": ["amount must be positive, got -1.0"]}]
    assert load_batch(warehouse_conn, batch_date="2026-01-01", valid=day1, rejected=rejected, run_id="r1") == {
        "loaded": 20,
        "quarantined": 1,
    }
    for run_id in ("r2", "r3"):  # retries of the same batch
        load_batch(warehouse_conn, batch_date="2026-01-01", valid=day1, rejected=rejected, run_id=run_id)
    assert _query(warehouse_conn, "SELECT COUNT(*), COUNT(DISTINCT order_id) FROM orders") == [(20, 20)]
    assert _reconciled(warehouse_conn, "2026-01-01") == {"orders": 20, "quarantined": 1}
    assert _query(warehouse_conn, "SELECT record->>'order_id', reasons FROM orders_quarantine") == [
        ("bad-1", ["amount must be positive, got -1.0"])
    ]

    # a later batch correcting an earlier order replaces that row (replace by key, not by batch)
    day2 = [_order("o-3", 99.0, "apac"), _order("n-1", 5.0)]
    load_batch(warehouse_conn, batch_date="2026-01-02", valid=day2, rejected=[], run_id="r4")
    assert _query(warehouse_conn, "SELECT COUNT(*) FROM orders") == [(21,)]
    assert _orders_of(warehouse_conn, "2026-01-02") == {"n-1": (5.0, "eu"), "o-3": (99.0, "apac")}
    assert "o-3" not in _orders_of(warehouse_conn, "2026-01-01")


def test_a_repeated_order_id_in_one_batch_loads_once_and_reconciles(warehouse_conn):
    batch = [_order("a", 1.0), _order("b", 2.0), _order("a", 3.0)]
    assert load_batch(warehouse_conn, batch_date="2026-01-01", valid=batch, rejected=[], run_id="r1")["loaded"] == 2
    assert _orders_of(warehouse_conn, "2026-01-01") == {"a": (3.0, "eu"), "b": (2.0, "eu")}
    assert _reconciled(warehouse_conn, "2026-01-01") == {"orders": 2, "quarantined": 0}


def test_keys_with_newlines_and_awkward_text_load_and_replace(warehouse_conn):
    batch = [_order("line\nbreak", 1.0), _order('comma, "quoted"', 2.0), _order("plain", 3.0)]
    for run_id in ("r1", "r2"):
        load_batch(warehouse_conn, batch_date="2026-01-01", valid=batch, rejected=[], run_id=run_id)
    assert _orders_of(warehouse_conn, "2026-01-01") == {
        'comma, "quoted"': (2.0, "eu"),
        "line\nbreak": (1.0, "eu"),
        "plain": (3.0, "eu"),
    }


def test_an_order_id_already_loaded_late_in_a_large_batch_is_replaced(warehouse_conn):
    """The clash surfaces mid-COPY, chunks after the start: the batch is still written whole, the old row replaced."""
    load_batch(warehouse_conn, batch_date="2026-01-01", valid=[_order("z-old", 1.0)], rejected=[], run_id="r1")
    batch = [_order(f"n-{i:05d}", 2.0) for i in range(COPY_CHUNK_ROWS + 1000)] + [_order("z-old", 7.5, "us")]
    assert load_batch(warehouse_conn, batch_date="2026-01-02", valid=batch, rejected=[], run_id="r2")["loaded"] == len(
        batch
    )
    assert _query(warehouse_conn, "SELECT COUNT(*), COUNT(DISTINCT order_id) FROM orders") == [(len(batch), len(batch))]
    assert _orders_of(warehouse_conn, "2026-01-01") == {}
    assert _orders_of(warehouse_conn, "2026-01-02")["z-old"] == (7.5, "us")
    assert _reconciled(warehouse_conn, "2026-01-02") == {"orders": len(batch), "quarantined": 0}


def test_a_failure_before_commit_leaves_nothing_behind(warehouse_conn):
    first = [_order(f"o-{i}", 10.0) for i in range(10)]
    load_batch(warehouse_conn, batch_date="2026-01-01", valid=first, rejected=[], run_id="r1")
    before = _query(warehouse_conn, "SELECT order_id, amount, batch_date, loaded_at FROM orders ORDER BY order_id")

    # a failing rerun that would replace every order and add more, plus a quarantined row and a new batch's audit
    changed = [_order(f"o-{i}", 20.0) for i in range(15)]
    rejected = [{**_order("bad", -1.0), "problems": ["amount must be positive"]}]
    for batch_date in ("2026-01-01", "2026-01-02"):
        with pytest.raises(SimulatedLoadFailure):
            load_batch(
                warehouse_conn,
                batch_date=batch_date,
                valid=changed,
                rejected=rejected,
                run_id="failing",
                fail_before_commit=True,
            )
    assert (
        _query(warehouse_conn, "SELECT order_id, amount, batch_date, loaded_at FROM orders ORDER BY order_id") == before
    )
    assert _query(warehouse_conn, "SELECT COUNT(*) FROM orders_quarantine") == [(0,)]
    assert _query(warehouse_conn, "SELECT batch_date::text, run_id FROM orders_load_audit") == [("2026-01-01", "r1")]
    # the load makes no tables of its own: only the warehouse's three are in the schema afterwards
    assert sorted(
        r[0] for r in _query(warehouse_conn, "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    ) == ["orders", "orders_load_audit", "orders_quarantine"]


def test_a_row_the_table_rejects_rolls_back_the_whole_batch(warehouse_conn):
    load_batch(warehouse_conn, batch_date="2026-01-01", valid=[_order("keep", 1.0)], rejected=[], run_id="r1")
    # amount 0 breaks the table's CHECK: the COPY fails, and the delete of 'keep' before it is rolled back too
    broken = [_order("keep", 2.0), _order("zero", 0.0)]
    with pytest.raises(Exception, match="amount_check"):
        load_batch(warehouse_conn, batch_date="2026-01-01", valid=broken, rejected=[], run_id="r2")
    assert _orders_of(warehouse_conn, "2026-01-01") == {"keep": (1.0, "eu")}


def test_an_autocommit_connection_is_refused_before_anything_is_written(warehouse_conn):
    warehouse_conn.rollback()
    warehouse_conn.autocommit = True
    with pytest.raises(ValueError, match="autocommit off"):
        load_batch(warehouse_conn, batch_date="2026-01-01", valid=[_order("a")], rejected=[], run_id="r1")
    assert _query(warehouse_conn, "SELECT COUNT(*) FROM orders") == [(0,)]
