"""Phase 11 · CI/CD patterns: a DAG bundle promoted lint → test → validate → staging → smoke → approval → production.

Teaches:
- CI stages: ruff lint (the repository's CI rules), pytest on the bundle's tests with line coverage of the bundle's
  files and a `min_coverage` bar (the figure is the stage's XCom), and a DagBag parse that fails on import errors and
  flags DAGs without owner, tags or retries.
- Deployment as immutable releases: staging gets a release built from the bundle, production gets that same
  release copied after a manifest check (build once, deploy many), never a rebuild from source.
- What an environment serves is the DAG bundle folder `<environments_root>/<env>/current`, a symlink switched
  atomically to the new release (`common.cicd.served_bundle` is the LocalDagBundle a dag-processor would load).
  Smoke tests parse what that pointer serves at that moment, not the source tree.
- A two-part gate: a machine gate (every stage clean) and then a person. `approve_production` is Airflow's
  human-in-the-loop ApprovalOperator: the task waits (state `awaiting_input`, holding no worker slot) until someone
  answers in the UI's Required Actions or through the REST API
  (PATCH /api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/approve_production/-1/hitlDetails with
  {"chosen_options": ["Approve"]}). Who may answer: anyone allowed to edit this DAG's HITL details (FAB roles User,
  Op and Admin; Viewer may only read), unless `assigned_users` narrows it. "Reject" skips the production deploy,
  so production keeps serving its release; no answer within 12 hours counts as Reject.
- A failed production smoke test rolls production back to its previous release (trigger_rule=one_failed).

Locally the environments live under $AIRFLOW_HOME/deployments (or the `environments_root` param), never the folder
the running platform parses. On the cluster the same `deploy_production` step is a pointer move too: the git-sync
sidecar / GitDagBundle `tracking_ref` of the production release is set to the tag staging tested (or, with DAGs
baked into the image, the chart's image tag is set to the digest staging ran), and the dag-processor picks it up.
The repository's own CI (.ci/run → ./platform test) runs the same ruff config, tests and DagBag checks before merge.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import DAG, Param, TriggerRule, task

from common.defaults import platform_default_args

# The bundle promoted by default: this phase's own DAG folder, and the repository's tests for it.
DEFAULT_BUNDLE = str(Path(__file__).parent)
DEFAULT_TESTS = str(Path(__file__).resolve().parents[2] / "tests" / "common" / "test_phase11_bundle.py")


def _environments_root(params: dict[str, Any] | None) -> Path:
    import os

    chosen = (params or {}).get("environments_root")
    return Path(chosen) if chosen else Path(os.environ.get("AIRFLOW_HOME", ".")) / "deployments"


def _version(params: dict[str, Any] | None, run_id: str | None) -> str:
    from common.quality import safe_file_name

    return (params or {}).get("version") or safe_file_name(run_id or "manual")


@task(retries=0)
def lint_bundle(params: dict[str, Any] | None = None) -> dict[str, Any]:
    from common.cicd import lint

    return {"findings": lint([(params or {})["bundle"]])}


@task(retries=0)
def test_coverage(params: dict[str, Any] | None = None) -> dict[str, Any]:
    """pytest on the bundle's tests (`<bundle>/tests` when the `tests` param is empty); fails below min_coverage."""
    from common.cicd import run_tests_with_coverage

    params = params or {}
    tests = params["tests"] or str(Path(params["bundle"]) / "tests")
    return run_tests_with_coverage(params["bundle"], tests, float(params["min_coverage"]))


@task(retries=0)
def validate(params: dict[str, Any] | None = None) -> dict[str, Any]:
    from common.cicd import StageFailed, validate_bundle

    result = validate_bundle((params or {})["bundle"])
    if result["import_errors"]:
        raise StageFailed("validate", f"import errors: {result['import_errors']}")
    return result


@task
def deploy_staging(lint_result: dict[str, Any], tests: dict[str, Any], validation: dict[str, Any],
                   params: dict[str, Any] | None = None, run_id: str | None = None) -> dict[str, Any]:
    from common.cicd import StageFailed, deploy
    from common.resilience import no_retry_on

    with no_retry_on(StageFailed):  # a gate refusal: the same bundle is refused on every try
        if lint_result["findings"]:
            raise StageFailed("deploy_staging", f"refusing to deploy with {len(lint_result['findings'])} lint finding(s)")
    return deploy((params or {})["bundle"], _environments_root(params), "staging", _version(params, run_id))


@task(retries=0)
def smoke_staging(validation: dict[str, Any], deployed: dict[str, Any], params: dict[str, Any] | None = None) -> dict[str, Any]:
    from common.cicd import smoke_test

    return smoke_test(_environments_root(params), "staging", validation["dag_ids"])


@task(retries=0)
def gate(lint_result: dict[str, Any], tests: dict[str, Any], validation: dict[str, Any], smoke: dict[str, Any]) -> dict[str, Any]:
    from common.cicd import promotion_gate

    return promotion_gate({"lint": lint_result, "test": tests, "validate": validation, "smoke_staging": smoke})


@task
def deploy_production(approval: dict[str, Any], staged: dict[str, Any], params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Runs only after "Approve": promote the release staging tested, recording who approved it."""
    from common.cicd import promote

    audit = {"approved_by": (approval.get("responded_by_user") or {}).get("name"), "approved_at": approval.get("responded_at")}
    return {**promote(_environments_root(params), "staging", "production", staged["version"], audit), **audit}


@task(retries=0)
def smoke_production(validation: dict[str, Any], deployed: dict[str, Any], params: dict[str, Any] | None = None) -> dict[str, Any]:
    from common.cicd import smoke_test

    return smoke_test(_environments_root(params), "production", validation["dag_ids"])


@task(trigger_rule=TriggerRule.ONE_FAILED, retries=0)
def rollback_production(deployed: dict[str, Any] | None, params: dict[str, Any] | None = None) -> None:
    """Remediate, then still fail: a rolled-back release is a failed deployment, and the run must say so."""
    from common.cicd import StageFailed, rollback

    if deployed is None:  # an earlier stage failed: production was never switched, and this leaf fails the run
        raise StageFailed("rollback_production", "an earlier stage failed; production was not switched")
    if not deployed["previous"]:
        raise StageFailed("rollback_production", "first release failed its smoke test and has nothing to roll back to")
    restored = rollback(_environments_root(params), "production", Path(deployed["previous"]).name)
    raise StageFailed("smoke_production", f"release {deployed['version']} rolled back to {restored}")


# Not common.dag_header.platform_dag: phase11_02 deploys this folder's files flat into releases/<version>/, where
# an id derived from a phaseN/ parent folder could not be found, so these two DAGs name their ids themselves.
with DAG(
    dag_id="phase11_02_cicd_patterns",
    description="Lint, tests with coverage, validate, staging, smoke test, human approval, production, rollback",
    doc_md=__doc__,
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=platform_default_args("platform-quality"),
    tags=["phase11", "cicd", "hitl", "severity:P3", "team:platform"],
    params={
        "bundle": Param(DEFAULT_BUNDLE, type="string", description="DAG folder to promote"),
        "tests": Param(DEFAULT_TESTS, type="string", description="Its tests (file or folder); empty: <bundle>/tests"),
        "min_coverage": Param(80, type="number", minimum=0, maximum=100, description="Line coverage bar, percent"),
        "version": Param("", type="string", description="Release name; defaults to the run id"),
        "environments_root": Param("", type="string", description="Where staging/ and production/ live; "
                                   "empty: $AIRFLOW_HOME/deployments"),
    },
) as dag:
    lint_result = lint_bundle()
    tests = test_coverage()
    validation = validate()
    staged = deploy_staging(lint_result, tests, validation)
    smoke = smoke_staging(validation, staged)
    approve_production = ApprovalOperator(
        task_id="approve_production",
        subject="Promote {{ ti.xcom_pull(task_ids='deploy_staging')['version'] }} to production?",
        body=(
            "Release **{{ ti.xcom_pull(task_ids='deploy_staging')['version'] }}** of `{{ params.bundle }}` passed lint, "
            "{{ ti.xcom_pull(task_ids='test_coverage')['passed'] }} tests at "
            "{{ ti.xcom_pull(task_ids='test_coverage')['percent'] }}% line coverage, validation and the staging smoke "
            "test. Approve to make production serve it; Reject keeps the current production release."
        ),
        defaults="Reject",
        response_timeout=timedelta(hours=12),
        retries=0,
    )
    gate(lint_result, tests, validation, smoke) >> approve_production
    released = deploy_production(approve_production.output, staged)
    smoke_production(validation, released) >> rollback_production(released)
