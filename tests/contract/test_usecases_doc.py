"""docs/usecases.md is generated (python -m contract.usecases) and current: every catalogue row, its DAG file, at
least one test, its services, and each stand-in with what the real service does differently."""

from __future__ import annotations

from contract import usecases


def test_committed_page_is_current() -> None:
    assert usecases.OUT.read_text() == usecases.build(), "stale: run .venv/bin/python -m contract.usecases"


def test_every_row_has_its_dag_file_and_a_test() -> None:
    rows = usecases.catalogue_rows(usecases.CATALOGUE.read_text())
    assert len(rows) == 53
    assert [d for d, _ in rows if not usecases.dag_file(d).is_file()] == []
    tests = {p: p.read_text() for p in sorted((usecases.REPO / "tests").rglob("test_*.py"))}
    named = usecases.tests_naming([d for d, _ in rows], tests)
    assert [d for d, files in named.items() if not files] == []


def test_every_stand_in_says_what_the_real_service_does() -> None:
    kinds = usecases.service_kinds()
    stand_ins = {s for s, product in kinds.items() if product}
    assert {"marquez", "bigquery", "slack", "s3"} <= stand_ins
    assert stand_ins <= set(usecases.REAL_SERVICE_DIFFERS)
    assert kinds["postgres"] is None and kinds["vault"] is None, "real servers are not listed as stand-ins"


def test_a_row_without_tests_is_shown_as_such() -> None:
    tmp_path = usecases.REPO / "tests"
    dag_id = "phase1_01_" + "hello_airflow"  # split, so this file doesn't count as a test of the row itself
    assert usecases.tests_naming([dag_id], {tmp_path / "test_x.py": "nothing here"}) == {dag_id: []}
    assert usecases.tests_naming([dag_id], {tmp_path / "test_y.py": f"get_dag({dag_id!r})"}) == {dag_id: ["tests/test_y.py"]}
