"""Per-run scratch space in the Postgres warehouse: a schema a setup task creates and its teardown drops.

A run's scratch schema is named from the DAG id and run id, so concurrent runs (and a rerun of one run after its
teardown) never share or collide on scratch tables, and a leaked schema can be traced back to the run that made it.
Everything here is plain SQL through a PostgresHook, imported inside the functions so DAG files that use this
module stay cheap to parse.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

SCRATCH_PREFIX = "scratch_"
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def scratch_schema_name(dag_id: str, run_id: str) -> str:
    """`scratch_<12 hex>`: stable for one (dag_id, run_id), distinct across runs, always a safe SQL identifier."""
    digest = hashlib.sha256(f"{dag_id}/{run_id}".encode()).hexdigest()[:12]
    return f"{SCRATCH_PREFIX}{digest}"


def _checked(identifier: str) -> str:
    """Identifiers are interpolated into DDL (they cannot be bind parameters), so only plain lower-case names pass."""
    if not _IDENTIFIER.match(identifier):
        raise ValueError(f"{identifier!r} is not a plain lower-case SQL identifier")
    return identifier


def _hook(conn_id: str) -> Any:
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    return PostgresHook(postgres_conn_id=conn_id)


def create_scratch_schema(schema: str, tables: Mapping[str, str], *, postgres_conn_id: str) -> list[str]:
    """Create `schema` and its tables (name → column list) in one transaction; returns the table names.

    Idempotent: a retried setup finds the schema and tables already there and succeeds.
    """
    statements = [f"CREATE SCHEMA IF NOT EXISTS {_checked(schema)}"]
    statements += [
        f"CREATE TABLE IF NOT EXISTS {schema}.{_checked(name)} ({columns})" for name, columns in tables.items()
    ]
    _hook(postgres_conn_id).run(statements, autocommit=False)
    return sorted(tables)


def insert_rows(
    schema: str, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], *, postgres_conn_id: str
) -> int:
    """Append rows to a scratch table; returns how many rows the table holds afterwards."""
    hook = _hook(postgres_conn_id)
    target = f"{_checked(schema)}.{_checked(table)}"
    hook.insert_rows(target, [tuple(row) for row in rows], target_fields=[_checked(c) for c in columns])
    return int(hook.get_first(f"SELECT count(*) FROM {target}")[0])


def scratch_contents(schema: str, *, postgres_conn_id: str) -> dict[str, int]:
    """Row count of every table in `schema` (empty if the schema does not exist)."""
    hook = _hook(postgres_conn_id)
    tables = hook.get_records(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY table_name",
        parameters=(schema,),
    )
    return {
        name: int(hook.get_first(f"SELECT count(*) FROM {_checked(schema)}.{_checked(name)}")[0]) for (name,) in tables
    }


def drop_scratch_schema(schema: str, *, postgres_conn_id: str) -> dict[str, Any]:
    """Drop the schema with everything in it; returns what it held. Idempotent: a retried teardown finds nothing."""
    if not schema.startswith(SCRATCH_PREFIX):
        raise ValueError(f"refusing to drop {schema!r}: only {SCRATCH_PREFIX}* schemas are scratch space")
    held = scratch_contents(schema, postgres_conn_id=postgres_conn_id)
    _hook(postgres_conn_id).run(f"DROP SCHEMA IF EXISTS {_checked(schema)} CASCADE")
    return {"schema": schema, "dropped_tables": held}


def schema_exists(schema: str, *, postgres_conn_id: str) -> bool:
    row = _hook(postgres_conn_id).get_first(
        "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", parameters=(schema,)
    )
    return row is not None
