"""Data quality with Great Expectations 1.x: suites declared as data, run on a batch, and a gate that fails the run.

A suite spec is a list of `{"expectation": <name>, ...kwargs}` so the checks live next to the data contract and a typo
is a clear error instead of a check that silently never runs. great_expectations and pandas are imported inside the
functions: they take seconds to import and DAG files must parse fast.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# One quarantine writer and one file-name rule for every DAG, re-exported for this module's callers.
from common.records import safe_file_name as safe_file_name
from common.records import write_quarantine as write_quarantine

# spec name -> (GX expectation class, kwargs it requires)
EXPECTATIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "column_to_exist": ("ExpectColumnToExist", ("column",)),
    "column_values_to_not_be_null": ("ExpectColumnValuesToNotBeNull", ("column",)),
    "column_values_to_be_between": ("ExpectColumnValuesToBeBetween", ("column",)),
    "table_row_count_to_be_between": ("ExpectTableRowCountToBeBetween", ()),
    "column_values_to_be_unique": ("ExpectColumnValuesToBeUnique", ("column",)),
    "column_values_to_be_in_set": ("ExpectColumnValuesToBeInSet", ("column", "value_set")),
}


class QualityGateFailed(RuntimeError):
    """The batch failed its suite: the message lists each failed expectation."""

    def __init__(self, result: QualityResult) -> None:
        self.result = result
        lines = "; ".join(f"{f['expectation']}({f.get('column') or 'table'}): {f['detail']}" for f in result.failures)
        super().__init__(
            f"quality gate failed for suite {result.suite!r}: "
            f"{len(result.failures)}/{result.evaluated} expectation(s) failed — {lines}"
        )


@dataclass(frozen=True)
class QualityResult:
    suite: str
    success: bool
    evaluated: int
    successful: int
    failures: list[dict[str, Any]] = field(default_factory=list)
    # Row positions (0-based) that broke a row-level expectation, with the reasons: these rows get quarantined.
    bad_rows: dict[int, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["bad_rows"] = {str(k): v for k, v in self.bad_rows.items()}
        return out


def validate_suite_spec(spec: Sequence[Mapping[str, Any]]) -> None:
    """Reject unknown expectations and missing required kwargs, naming the offending entry."""
    if not spec:
        raise ValueError("suite spec is empty: a suite with no expectations would pass any data")
    for i, entry in enumerate(spec):
        name = entry.get("expectation")
        if name not in EXPECTATIONS:
            raise ValueError(f"suite entry {i}: unknown expectation {name!r}; known: {sorted(EXPECTATIONS)}")
        missing = [k for k in EXPECTATIONS[name][1] if k not in entry]
        if missing:
            raise ValueError(f"suite entry {i} ({name}): missing required key(s) {missing}")


def build_suite(name: str, spec: Sequence[Mapping[str, Any]]) -> Any:
    """A gx.ExpectationSuite from the spec."""
    import great_expectations as gx

    validate_suite_spec(spec)
    suite = gx.ExpectationSuite(name=name)
    for entry in spec:
        kwargs = {k: v for k, v in entry.items() if k != "expectation"}
        cls = getattr(gx.expectations, EXPECTATIONS[entry["expectation"]][0])
        suite.add_expectation(cls(**kwargs))
    return suite


def _detail(result: Mapping[str, Any]) -> str:
    if "unexpected_count" in result:
        sample = result.get("partial_unexpected_list", [])[:5]
        return f"{result['unexpected_count']} unexpected value(s), e.g. {sample}"
    if "observed_value" in result:
        return f"observed {result['observed_value']}"
    return "failed"


def run_suite(suite_name: str, spec: Sequence[Mapping[str, Any]], records: Sequence[Mapping[str, Any]]) -> QualityResult:
    """Validate `records` against the suite with an ephemeral GX context and a pandas dataframe batch."""
    import great_expectations as gx
    import pandas as pd

    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    context = gx.get_context(mode="ephemeral")
    batch_definition = (
        context.data_sources.add_pandas(f"{suite_name}_source")
        .add_dataframe_asset(f"{suite_name}_asset")
        .add_batch_definition_whole_dataframe(f"{suite_name}_batch")
    )
    suite = context.suites.add(build_suite(suite_name, spec))
    validation = context.validation_definitions.add(
        gx.ValidationDefinition(data=batch_definition, suite=suite, name=f"{suite_name}_validation")
    )
    frame = pd.DataFrame(list(records))
    outcome = validation.run(
        batch_parameters={"dataframe": frame}, result_format={"result_format": "COMPLETE"}
    )
    failures: list[dict[str, Any]] = []
    bad_rows: dict[int, list[str]] = {}
    for item in outcome.results:
        config = item.expectation_config
        column = config.kwargs.get("column")
        result = dict(item.result or {})
        for index in result.get("unexpected_index_list") or []:
            # A row breaking a row-level check is quarantined even when `mostly` lets the expectation pass.
            row = int(index["index"] if isinstance(index, Mapping) else index)
            bad_rows.setdefault(row, []).append(f"{config.type}({column})")
        if not item.success:
            failures.append({"expectation": config.type, "column": column, "detail": _detail(result)})
    stats = outcome.statistics
    return QualityResult(
        suite=suite_name,
        success=bool(outcome.success),
        evaluated=int(stats["evaluated_expectations"]),
        successful=int(stats["successful_expectations"]),
        failures=failures,
        bad_rows=dict(sorted(bad_rows.items())),
    )


def enforce_quality_gate(result: QualityResult) -> QualityResult:
    """Pass the result through, or raise QualityGateFailed so the task (and the run) fails."""
    if not result.success:
        raise QualityGateFailed(result)
    return result


def split_quarantine(
    records: Sequence[Mapping[str, Any]], result: QualityResult
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(good rows, quarantined rows with `_quarantine_reasons`); no row is lost."""
    good: list[dict[str, Any]] = []
    bad: list[dict[str, Any]] = []
    for i, record in enumerate(records):
        if i in result.bad_rows:
            bad.append({**record, "_quarantine_reasons": result.bad_rows[i]})
        else:
            good.append(dict(record))
    return good, bad


def quarantine_dir() -> Path:
    """Where quarantined rows land: $AIRFLOW_HOME/quarantine (shared storage on Kubernetes)."""
    return Path(os.environ.get("AIRFLOW_HOME", ".")) / "quarantine"
