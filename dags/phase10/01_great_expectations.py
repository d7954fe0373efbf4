"""Phase 10 · Great Expectations: an expectation suite on every batch and a quality gate that fails the run.

Teaches:
- A real Great Expectations 1.x suite (ephemeral context, pandas dataframe batch, ValidationDefinition) with
  `expect_column_to_exist`, `expect_column_values_to_not_be_null`, `expect_column_values_to_be_between` and
  `expect_table_row_count_to_be_between`. The suite is data (`suites/orders.json`), validated before it runs.
- `mostly`: tolerate a few bad rows; those rows are still quarantined (JSON lines with their reasons), never dropped.
- The quality gate: a failed suite raises QualityGateFailed, so the run fails and `publish` never sees bad data.
- GE is imported inside the task (it takes seconds to import), keeping DAG parsing fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from airflow.sdk import Param, task

from common.dag_header import platform_dag

SUITE_FILE = Path(__file__).parent / "suites" / "orders.json"


@task
def extract_orders(params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    from common.synthetic import synthetic_orders

    p = params or {}
    return synthetic_orders(
        p["rows"], seed=p["seed"], null_ids=p["null_ids"], out_of_range=p["out_of_range"]
    )


@task
def validate_orders(records: list[dict[str, Any]]) -> dict[str, Any]:
    from common.quality import run_suite

    spec = json.loads(SUITE_FILE.read_text(encoding="utf-8"))
    return run_suite("orders", spec, records).to_dict()


@task
def quarantine_bad_rows(records: list[dict[str, Any]], result: dict[str, Any], run_id: str | None = None) -> dict[str, Any]:
    """Runs before the gate, so failing rows are kept for inspection even when the gate then fails the run."""
    from common.quality import QualityResult, quarantine_dir, safe_file_name, split_quarantine, write_quarantine

    quality = QualityResult(**{**result, "bad_rows": {int(k): v for k, v in result["bad_rows"].items()}})
    good, bad = split_quarantine(records, quality)
    path = write_quarantine(bad, quarantine_dir() / "phase10_01_great_expectations", safe_file_name(run_id or "manual"))
    return {"good": good, "quarantined": len(bad), "quarantine_file": str(path) if path else None}


@task(retries=0)  # a deterministic check: retrying cannot change the verdict
def quality_gate(result: dict[str, Any]) -> dict[str, Any]:
    from common.quality import QualityResult, enforce_quality_gate

    enforce_quality_gate(QualityResult(**{**result, "bad_rows": {}}))
    return {"suite": result["suite"], "passed": result["successful"], "evaluated": result["evaluated"]}


@task
def publish(split: dict[str, Any], gate: dict[str, Any]) -> dict[str, Any]:
    """Only reached when the gate passed: hands the clean rows on (a warehouse load in a real pipeline)."""
    return {"published": len(split["good"]), "quarantined": split["quarantined"], "gate": gate}


with platform_dag(
    __file__, __doc__, owner="data-quality", team="data-quality", severity="P2",
    tags=["data-quality", "great-expectations"],
    description="Great Expectations suite, quarantine of failing rows, and a gate that fails the run",
    schedule="@daily", max_active_runs=1,
    params={
        "rows": Param(500, type="integer", minimum=0, description="Batch size"),
        "seed": Param(7, type="integer", description="Reproducible batch"),
        "null_ids": Param(2, type="integer", minimum=0, description="Orders missing their order_id"),
        "out_of_range": Param(3, type="integer", minimum=0, description="Orders with a negative amount"),
    },
) as dag:
    orders = extract_orders()
    result = validate_orders(orders)
    split = quarantine_bad_rows(orders, result)
    gate = quality_gate(result)
    split >> gate
    publish(split, gate)
