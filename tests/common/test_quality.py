"""common.quality: real Great Expectations 1.x suites, the quarantine split and the gate."""

from __future__ import annotations

import json

import pytest

from common.quality import (
    QualityGateFailed,
    enforce_quality_gate,
    run_suite,
    safe_file_name,
    split_quarantine,
    validate_suite_spec,
    write_quarantine,
)
from common.synthetic import synthetic_orders

SPEC = [
    {"expectation": "column_to_exist", "column": "amount"},
    {"expectation": "column_values_to_not_be_null", "column": "order_id", "mostly": 0.9},
    {"expectation": "column_values_to_be_between", "column": "amount", "min_value": 0, "max_value": 10000},
    {"expectation": "table_row_count_to_be_between", "min_value": 10, "max_value": 1000},
]


@pytest.fixture(scope="module")
def mixed_result():
    records = synthetic_orders(40, seed=1, null_ids=2, out_of_range=1)
    return records, run_suite("orders_test", SPEC, records)


def test_each_expectation_is_evaluated_by_great_expectations(mixed_result) -> None:
    _, result = mixed_result
    assert result.evaluated == 4
    # 2/40 null ids are within mostly=0.9; one negative amount breaks the strict range check.
    assert result.success is False and result.successful == 3
    assert [f["expectation"] for f in result.failures] == ["expect_column_values_to_be_between"]
    assert "1 unexpected value(s)" in result.failures[0]["detail"]


def test_rows_breaking_row_level_checks_are_quarantined_with_reasons_and_none_lost(mixed_result) -> None:
    records, result = mixed_result
    assert sorted(result.bad_rows) == [0, 1, 2]
    good, bad = split_quarantine(records, result)
    assert len(good) + len(bad) == len(records)
    assert [b["_quarantine_reasons"] for b in bad] == [
        ["expect_column_values_to_not_be_null(order_id)"],
        ["expect_column_values_to_not_be_null(order_id)"],
        ["expect_column_values_to_be_between(amount)"],
    ]


def test_gate_raises_naming_the_failed_expectation(mixed_result) -> None:
    _, result = mixed_result
    with pytest.raises(QualityGateFailed, match=r"1/4 expectation\(s\) failed — expect_column_values_to_be_between\(amount\)"):
        enforce_quality_gate(result)


def test_missing_column_and_row_count_fail() -> None:
    result = run_suite("tiny", SPEC, [{"order_id": 1}])
    failed = {f["expectation"] for f in result.failures}
    assert {"expect_column_to_exist", "expect_table_row_count_to_be_between"} <= failed


def test_clean_batch_passes_the_gate() -> None:
    result = run_suite("clean", SPEC, synthetic_orders(50, seed=2))
    assert enforce_quality_gate(result) is result and result.bad_rows == {}


def test_bad_suite_specs_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="unknown expectation 'column_exists'"):
        validate_suite_spec([{"expectation": "column_exists", "column": "a"}])
    with pytest.raises(ValueError, match=r"missing required key\(s\) \['column'\]"):
        validate_suite_spec([{"expectation": "column_values_to_not_be_null"}])
    with pytest.raises(ValueError, match="suite spec is empty"):
        validate_suite_spec([])


def test_quarantine_file_is_json_lines(tmp_path) -> None:
    path = write_quarantine([{"a": 1}, {"a": None}], tmp_path / "q", safe_file_name("manual__2026-01-01T00:00:00+00:00"))
    assert path is not None and path.name == "manual__2026-01-01T00_00_00_00_00.jsonl"
    assert [json.loads(line) for line in path.read_text().splitlines()] == [{"a": 1}, {"a": None}]
    assert write_quarantine([], tmp_path, "empty") is None
