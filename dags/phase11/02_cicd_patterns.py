"""Phase 11 · CI/CD patterns: a DAG bundle promoted lint → validate → staging → smoke test → gate → production.

Teaches:
- CI validation stages: ruff lint (same rules as this repository's CI) and a DagBag parse that fails on import
  errors and on DAGs without owner, tags or retries.
- Deployment as immutable releases with an atomic `current` symlink per environment (staging, then production).
- Smoke tests against what is live in the environment, not against the source tree.
- A deployment gate: production needs clean stages and an explicit approval param; a failed production smoke
  test rolls production back to its previous release (trigger_rule=one_failed).
The repository's own CI (.ci/run → ./platform test) runs the same ruff config and DagBag checks before merge.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Param, TriggerRule, task

from common.defaults import platform_default_args

# The bundle promoted by default: this phase's own DAG folder (small enough to parse quickly).
DEFAULT_BUNDLE = str(Path(__file__).parent)


def _deploy_root() -> Path:
    import os

    return Path(os.environ.get("AIRFLOW_HOME", ".")) / "deployments"


@task(retries=0)
def lint_bundle(params: dict[str, Any] | None = None) -> dict[str, Any]:
    from common.cicd import lint

    return {"findings": lint([(params or {})["bundle"]])}


@task(retries=0)
def validate(params: dict[str, Any] | None = None) -> dict[str, Any]:
    from common.cicd import StageFailed, validate_bundle

    result = validate_bundle((params or {})["bundle"])
    if result["import_errors"]:
        raise StageFailed("validate", f"import errors: {result['import_errors']}")
    return result


@task
def deploy_staging(lint_result: dict[str, Any], validation: dict[str, Any], params: dict[str, Any] | None = None, run_id: str | None = None) -> dict[str, Any]:
    from common.cicd import StageFailed, deploy

    if lint_result["findings"]:
        raise StageFailed("deploy_staging", f"refusing to deploy with {len(lint_result['findings'])} lint finding(s)")
    return deploy((params or {})["bundle"], _deploy_root(), "staging", (params or {})["version"] or _version(run_id))


@task(retries=0)
def smoke_staging(validation: dict[str, Any], deployed: dict[str, Any]) -> dict[str, Any]:
    from common.cicd import smoke_test

    return smoke_test(_deploy_root(), "staging", validation["dag_ids"])


@task(retries=0)
def gate(lint_result: dict[str, Any], validation: dict[str, Any], smoke: dict[str, Any], params: dict[str, Any] | None = None) -> dict[str, Any]:
    from common.cicd import promotion_gate

    stages = {"lint": lint_result, "validate": validation, "smoke_staging": smoke}
    return promotion_gate(stages, approved=bool((params or {})["approve_production"]))


@task
def deploy_production(decision: dict[str, Any], staged: dict[str, Any], params: dict[str, Any] | None = None) -> dict[str, Any]:
    from common.cicd import deploy

    return deploy((params or {})["bundle"], _deploy_root(), "production", staged["version"])


@task(retries=0)
def smoke_production(validation: dict[str, Any], deployed: dict[str, Any]) -> dict[str, Any]:
    from common.cicd import smoke_test

    return smoke_test(_deploy_root(), "production", validation["dag_ids"])


@task(trigger_rule=TriggerRule.ONE_FAILED, retries=0)
def rollback_production(deployed: dict[str, Any]) -> None:
    """Remediate, then still fail: a rolled-back release is a failed deployment, and the run must say so."""
    from common.cicd import StageFailed, rollback

    if not deployed["previous"]:
        raise StageFailed("rollback_production", "first release failed its smoke test and has nothing to roll back to")
    restored = rollback(_deploy_root(), "production", Path(deployed["previous"]).name)
    raise StageFailed("smoke_production", f"release {deployed['version']} rolled back to {restored}")


def _version(run_id: str | None) -> str:
    from common.quality import safe_file_name

    return safe_file_name(run_id or "manual")


with DAG(
    dag_id="phase11_02_cicd_patterns",
    description="Lint, validate, deploy to staging, smoke test, gated promotion to production, rollback",
    doc_md=__doc__,
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=platform_default_args("platform-quality"),
    tags=["phase11", "cicd", "severity:P3", "team:platform"],
    params={
        "bundle": Param(DEFAULT_BUNDLE, type="string", description="DAG folder to promote"),
        "version": Param("", type="string", description="Release name; defaults to the run id"),
        "approve_production": Param(False, type="boolean", description="The manual approval of the gate"),
    },
) as dag:
    lint_result = lint_bundle()
    validation = validate()
    staged = deploy_staging(lint_result, validation)
    smoke = smoke_staging(validation, staged)
    released = deploy_production(gate(lint_result, validation, smoke), staged)
    smoke_production(validation, released) >> rollback_production(released)
