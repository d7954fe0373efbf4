"""Phase 10 (data quality): real Great Expectations suites, schema evolution and drift gates, run with dag.test()."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dag_run_helpers import get_dag, task_states, xcom_value

from common.quality import quarantine_dir, safe_file_name

PHASE10 = ["phase10_01_great_expectations", "phase10_02_schema_validation", "phase10_03_data_profiling"]


@pytest.mark.parametrize("dag_id", PHASE10)
def test_structure(dagbag, dag_id: str) -> None:
    dag = get_dag(dagbag, dag_id)
    assert dag.doc_md and "phase10" in dag.tags and dag.owner == "data-quality"
    assert dag.default_args["retries"] >= 1 and dag.default_args["execution_timeout"]


def test_ge_dag_wiring_puts_quarantine_before_the_gate_and_the_gate_before_publish(dagbag) -> None:
    dag = get_dag(dagbag, "phase10_01_great_expectations")
    assert dag.get_task("quality_gate").upstream_task_ids == {"validate_orders", "quarantine_bad_rows"}
    assert dag.get_task("publish").upstream_task_ids == {"quality_gate", "quarantine_bad_rows"}
    assert dag.get_task("quality_gate").retries == 0


def _quarantined(dag_id: str, run_id: str) -> list[dict]:
    path = quarantine_dir() / dag_id / f"{safe_file_name(run_id)}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_ge_batch_within_tolerance_publishes_clean_rows_and_quarantines_the_rest(dagbag) -> None:
    run = get_dag(dagbag, "phase10_01_great_expectations").test()
    assert run.state == "success", task_states(run)
    assert xcom_value(run, "publish") == {
        "published": 495, "quarantined": 5, "gate": {"suite": "orders", "passed": 8, "evaluated": 8},
    }
    bad = _quarantined("phase10_01_great_expectations", run.run_id)
    assert len(bad) == 5 and sum(1 for r in bad if r["order_id"] is None) == 2
    assert all(r["_quarantine_reasons"] for r in bad)


def test_ge_gate_fails_the_run_when_too_many_rows_are_bad(dagbag) -> None:
    run = get_dag(dagbag, "phase10_01_great_expectations").test(run_conf={"null_ids": 40})
    states = task_states(run)
    assert run.state == "failed", states
    assert states["quality_gate"] == "failed" and states["publish"] == "upstream_failed"
    result = xcom_value(run, "validate_orders")
    assert [f["expectation"] for f in result["failures"]] == ["expect_column_values_to_not_be_null"]
    assert len(_quarantined("phase10_01_great_expectations", run.run_id)) == 43  # kept, not dropped


def test_schema_validation_quarantines_bad_records_and_upcasts_the_rest(dagbag) -> None:
    run = get_dag(dagbag, "phase10_02_schema_validation").test()
    assert run.state == "success", task_states(run)
    assert xcom_value(run, "check_schema_evolution") == {"subject": "orders", "versions": [1, 2, 3], "accepted_proposal": None}
    assert xcom_value(run, "invalid_ratio_gate") == {"valid": 296, "invalid_ratio": 0.0133, "latest_version": 3}
    bad = _quarantined("phase10_02_schema_validation", run.run_id)
    assert len(bad) == 4 and any("has no version 99" in e for r in bad for e in r["_errors"])


def test_an_incompatible_proposed_schema_fails_the_run(dagbag) -> None:
    registry_v3 = json.loads((Path(get_dag(dagbag, "phase10_02_schema_validation").fileloc).parent / "schemas/orders/v3.json").read_text())
    breaking = {**registry_v3, "required": [*registry_v3["required"], "coupon"],
                "properties": {**registry_v3["properties"], "coupon": {"type": "string"}}}
    run = get_dag(dagbag, "phase10_02_schema_validation").test(run_conf={"proposed_schema": breaking})
    states = task_states(run)
    assert run.state == "failed" and states["check_schema_evolution"] == "failed", states
    assert states["invalid_ratio_gate"] == "upstream_failed"
    compatible = {**registry_v3, "properties": {**registry_v3["properties"], "coupon": {"type": "string"}}}
    ok = get_dag(dagbag, "phase10_02_schema_validation").test(run_conf={"proposed_schema": compatible})
    assert ok.state == "success" and xcom_value(ok, "check_schema_evolution")["accepted_proposal"] == 4


def test_stable_data_passes_the_drift_gate_with_profiles(dagbag) -> None:
    run = get_dag(dagbag, "phase10_03_data_profiling").test()
    assert run.state == "success", task_states(run)
    assert xcom_value(run, "drift_gate") == {"status": "ok", "profiled_columns": ["amount", "customer_id", "quantity"]}
    profiles = xcom_value(run, "profile")
    assert profiles["current"]["amount"]["count"] == 1000 and profiles["current"]["amount"]["nulls"] == 0


def test_drift_beyond_threshold_fails_the_gate_and_names_the_feature(dagbag) -> None:
    run = get_dag(dagbag, "phase10_03_data_profiling").test(run_conf={"amount_shift": 25.0})
    states = task_states(run)
    assert run.state == "failed" and states["drift_gate"] == "failed", states
    report = xcom_value(run, "detect")
    assert report["status"] == "alert" and report["drifted"] == ["amount"]
    psi = {f["feature"]: f["psi"] for f in report["features"]}
    assert psi["amount"] > 0.25 and psi["quantity"] < 0.1
