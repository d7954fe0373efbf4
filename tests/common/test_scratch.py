"""common.scratch: per-run scratch schema names and the guards on the identifiers it puts into DDL.

The Postgres round trip (create, stage, drop) runs in tests/dags/test_phase4.py through phase4_03's setup/teardown.
"""

from __future__ import annotations

import pytest

from common import scratch


def test_a_run_always_gets_the_same_schema_and_other_runs_another() -> None:
    first = scratch.scratch_schema_name("phase4_03_trigger_rules", "manual__2026-01-02T00:00:00+00:00")
    assert first == scratch.scratch_schema_name("phase4_03_trigger_rules", "manual__2026-01-02T00:00:00+00:00")
    assert first != scratch.scratch_schema_name("phase4_03_trigger_rules", "manual__2026-01-03T00:00:00+00:00")
    assert first != scratch.scratch_schema_name("phase4_02_branching", "manual__2026-01-02T00:00:00+00:00")
    assert first.startswith(scratch.SCRATCH_PREFIX) and first.isidentifier() and len(first) <= 63


@pytest.mark.parametrize("identifier", ["Staged", "a b", "x;drop schema public", "1abc", "", "a" * 64])
def test_identifiers_that_are_not_plain_names_are_refused(identifier: str) -> None:
    with pytest.raises(ValueError, match="plain lower-case SQL identifier"):
        scratch.create_scratch_schema(identifier, {"t": "x int"}, postgres_conn_id="unused")


def test_only_scratch_schemas_can_be_dropped() -> None:
    with pytest.raises(ValueError, match="only scratch_\\* schemas"):
        scratch.drop_scratch_schema("public", postgres_conn_id="unused")
