"""Phase 10 · Schema validation: JSON Schema contracts, schema versions and compatible evolution.

Teaches:
- A versioned schema registry (`schemas/<subject>/v<N>.json`, JSON Schema draft 2020-12) loaded and checked at
  run time: every new version must be compatible with its predecessor under the chosen mode —
  BACKWARD (new readers read old data), FORWARD (old readers read new data) or FULL (both).
- Proposing a schema change through the `proposed_schema` param: an incompatible change fails the run with the
  list of violations (the CI-side gate for schema evolution).
- Each record is validated against the version its producer declared, then upcast to the latest version
  (new fields get their defaults). Invalid records and unknown versions go to quarantine with their errors.
- A gate on the invalid ratio, so a broken producer stops the pipeline instead of leaking partial data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow.sdk import Param, task

from common.dag_header import platform_dag

SCHEMA_ROOT = Path(__file__).parent / "schemas"
SUBJECT = "orders"


def _registry(compatibility: str) -> Any:
    from common.schema_registry import SchemaRegistry

    return SchemaRegistry.from_directory(SCHEMA_ROOT, compatibility)  # type: ignore[arg-type]


@task(retries=0)
def check_schema_evolution(params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Load every version (each is compatibility-checked on load), then try the proposed next version, if any."""
    p = params or {}
    registry = _registry(p["compatibility"])
    proposed = p.get("proposed_schema") or {}
    accepted = registry.register(SUBJECT, proposed) if proposed else None
    return {"subject": SUBJECT, "versions": registry.versions(SUBJECT), "accepted_proposal": accepted}


@task
def receive_records(params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    from common.synthetic import versioned_orders

    p = params or {}
    return versioned_orders(p["rows"], seed=p["seed"], invalid=p["invalid_records"])


@task
def validate_records(records: list[dict[str, Any]], evolution: dict[str, Any], params: dict[str, Any] | None = None) -> dict[str, Any]:
    from common.schema_registry import route_records

    valid, invalid = route_records(_registry((params or {})["compatibility"]), SUBJECT, records)
    return {"valid": valid, "invalid": invalid, "latest_version": evolution["versions"][-1]}


@task
def quarantine_invalid(routed: dict[str, Any], run_id: str | None = None) -> dict[str, Any]:
    from common.quality import quarantine_dir, safe_file_name, write_quarantine

    path = write_quarantine(routed["invalid"], quarantine_dir() / "phase10_02_schema_validation", safe_file_name(run_id or "manual"))
    return {"quarantined": len(routed["invalid"]), "file": str(path) if path else None}


@task(retries=0)  # a deterministic check: retrying cannot change the verdict
def invalid_ratio_gate(routed: dict[str, Any], params: dict[str, Any] | None = None) -> dict[str, Any]:
    total = len(routed["valid"]) + len(routed["invalid"])
    ratio = len(routed["invalid"]) / total if total else 0.0
    limit = float((params or {})["max_invalid_ratio"])
    if ratio > limit:
        raise ValueError(f"schema gate: {ratio:.1%} of records are invalid, above max_invalid_ratio {limit:.1%}")
    return {"valid": len(routed["valid"]), "invalid_ratio": round(ratio, 4), "latest_version": routed["latest_version"]}


with platform_dag(
    __file__, __doc__, owner="data-quality", team="data-quality", severity="P2", tags=["data-quality", "schema"],
    description="Versioned JSON Schema registry, compatibility-checked evolution, per-record validation",
    schedule="@daily", max_active_runs=1,
    params={
        "compatibility": Param("FULL", enum=["NONE", "BACKWARD", "FORWARD", "FULL"]),
        "proposed_schema": Param({}, type="object", description="A candidate next version of the orders schema"),
        "rows": Param(300, type="integer", minimum=0),
        "seed": Param(11, type="integer"),
        "invalid_records": Param(4, type="integer", minimum=0),
        "max_invalid_ratio": Param(0.05, type="number", minimum=0, maximum=1),
    },
) as dag:
    evolution = check_schema_evolution()
    routed = validate_records(receive_records(), evolution)
    quarantine_invalid(routed) >> invalid_ratio_gate(routed)
