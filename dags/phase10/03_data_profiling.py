"""Phase 10 · Data profiling: statistical profiles of each batch and drift detection with alert thresholds.

Teaches:
- Profiling numeric columns (count, null rate, distinct, mean, std, quartiles) for the reference and the new batch.
- Drift detection per feature with the Population Stability Index and the two-sample Kolmogorov–Smirnov test
  (common.drift, the same code phase 18 uses to trigger retraining).
- Thresholds as configuration (`thresholds` param, validated: an unknown key is an error).
- Alerting: a `warn` is logged as a P3 alert and the run continues; an `alert` fails the gate with DriftAlert,
  whose failure callback raises the platform alert for the DAG's severity and team.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from airflow.sdk import Param, task

from common.dag_header import platform_dag

FEATURES = ["amount", "quantity", "customer_id"]
log = logging.getLogger("airflow.platform.alerts")


@task
def load_reference(params: dict[str, Any] | None = None) -> dict[str, list[Any]]:
    """The training-time / last-accepted snapshot the new data is compared with."""
    from common.synthetic import columns, synthetic_orders

    return columns(synthetic_orders(2000, seed=(params or {})["reference_seed"]), FEATURES)


@task
def load_current(params: dict[str, Any] | None = None) -> dict[str, list[Any]]:
    from common.synthetic import columns, synthetic_orders

    p = params or {}
    batch = synthetic_orders(p["rows"], seed=p["seed"], amount_shift=p["amount_shift"], amount_scale=p["amount_scale"])
    return columns(batch, FEATURES)


@task
def profile(reference: dict[str, list[Any]], current: dict[str, list[Any]]) -> dict[str, Any]:
    from common.drift import profile_column

    return {
        "reference": {name: profile_column(values) for name, values in reference.items()},
        "current": {name: profile_column(values) for name, values in current.items()},
    }


@task
def detect(reference: dict[str, list[Any]], current: dict[str, list[Any]], params: dict[str, Any] | None = None) -> dict[str, Any]:
    from common.drift import DriftThresholds, detect_drift

    thresholds = DriftThresholds.from_mapping((params or {}).get("thresholds") or {})
    return detect_drift(reference, current, thresholds).to_dict()


@task(retries=0)  # a deterministic check: retrying cannot change the verdict
def drift_gate(report: dict[str, Any], profiles: dict[str, Any]) -> dict[str, Any]:
    """warn → logged P3 alert, run continues; alert → DriftAlert fails the run (and the failure alert fires)."""
    from common.drift import DriftAlert, DriftReport, DriftThresholds, FeatureDrift

    rebuilt = DriftReport(
        tuple(FeatureDrift(**f) for f in report["features"]), DriftThresholds(**report["thresholds"])
    )
    if rebuilt.warnings:
        log.warning("drift_warning %s", json.dumps({"severity": "P3", "features": [f.feature for f in rebuilt.warnings]}))
    if rebuilt.alerts:
        raise DriftAlert(rebuilt)
    return {"status": rebuilt.status, "profiled_columns": sorted(profiles["current"])}


with platform_dag(
    __file__, __doc__, owner="data-quality", team="data-quality", severity="P2", tags=["data-quality", "drift"],
    description="Column profiles, PSI/KS drift detection and a threshold gate that raises alerts", schedule="@daily",
    max_active_runs=1,
    params={
        "rows": Param(1000, type="integer", minimum=1),
        "seed": Param(3, type="integer"),
        "reference_seed": Param(1, type="integer"),
        "amount_shift": Param(0.0, type="number", description="Add to every amount: simulates a price change"),
        "amount_scale": Param(1.0, type="number", description="Multiply every amount"),
        "thresholds": Param({}, type="object", description="Overrides for common.drift.DriftThresholds"),
    },
) as dag:
    reference = load_reference()
    current = load_current()
    drift_gate(detect(reference, current), profile(reference, current))
