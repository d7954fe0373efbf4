"""checklist.dag_rules, Security & Governance group: a failing fixture per rule (fake DagBags of real DAG objects,
altered needs, temp files, monkeypatched modules), each naming the problem, and passing cases where cheap."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.providers.standard.operators.bash import BashOperator
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, Asset, task
from rule_fixtures import run

from checklist import dag_rules

COVERED = [
    "No hardcoded credentials in DAGs",
    "RBAC roles defined per team",
    "Audit logging enabled",
    "Data classification tags applied",
    "Retention policies automated",
]


# --- hardcoded credentials --------------------------------------------------------------------------------------------
@pytest.fixture
def clean_dags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "dags"
    (folder / "phase5").mkdir(parents=True)
    (folder / "phase5" / "ok.py").write_text('PASSWORD = "{{ conn.warehouse.password }}"\nconn_id = "postgres_default"\n')
    monkeypatch.setattr(dag_rules, "DAGS", folder)
    return folder


def test_clean_files_and_tasks_pass(clean_dags: Path) -> None:
    with DAG("phase5_99_creds", schedule=None) as dag:
        BashOperator(task_id="query", bash_command="psql {{ conn.warehouse.get_uri() }}", env={"PGPASSWORD": "{{ conn.warehouse.password }}"})
    result = run("No hardcoded credentials in DAGs", [dag])
    assert result.ok, result.evidence


def test_a_literal_password_in_a_dag_file_fails(clean_dags: Path) -> None:
    (clean_dags / "phase5" / "leaky.yaml").write_text("warehouse:\n  password: 'hunter2hunter2'\n")
    result = run("No hardcoded credentials in DAGs", [])
    assert not result.ok
    assert result.evidence == [f"{clean_dags / 'phase5' / 'leaky.yaml'}:2"]


@pytest.mark.parametrize("kwargs,attribute", [
    ({"bash_command": "psql postgresql://app:s3cretpw@db.internal/warehouse"}, "bash_command"),
    ({"bash_command": "psql", "env": {"PGPASSWORD": "s3cretpw99"}}, "env"),
])
def test_a_credential_in_a_parsed_tasks_arguments_fails(clean_dags: Path, kwargs: dict[str, Any], attribute: str) -> None:
    with DAG("phase5_99_creds", schedule=None) as dag:
        BashOperator(task_id="query", **kwargs)
    result = run("No hardcoded credentials in DAGs", [dag])
    assert not result.ok
    assert result.evidence == [f"phase5_99_creds.query.{attribute}: a literal credential"]


# --- RBAC -------------------------------------------------------------------------------------------------------------
OPERATOR = {"DAGs": {"can_read", "can_edit"}, "DAG Runs": {"can_read", "can_create"}}
VIEWER = {"DAGs": {"can_read"}, "DAG Runs": {"can_read"}}


def _team_dag(access_control: dict[str, Any], tags: list[str] | None = None) -> Any:
    with DAG("phase16_99_rbac", schedule=None, tags=["team:sales"] if tags is None else tags, access_control=access_control) as dag:
        EmptyOperator(task_id="work")
    return dag


def test_owning_team_operates_and_declared_readers_read_passes() -> None:
    dag = _team_dag({"team_sales_operator": OPERATOR, "team_auditors_viewer": VIEWER})
    result = run("RBAC roles defined per team", [dag], {"phase16_99_rbac": {"roles": ["team_auditors_viewer", "team_sales_operator"]}})
    assert result.ok, result.evidence


def test_an_undeclared_role_or_another_teams_editor_fails() -> None:
    dag = _team_dag({"team_sales_operator": OPERATOR, "team_ops_operator": OPERATOR})
    result = run("RBAC roles defined per team", [dag], {"phase16_99_rbac": {"roles": ["team_sales_operator", "team_sales_viewer"]}})
    assert not result.ok
    assert result.evidence == [
        "phase16_99_rbac: access_control names team_ops_operator, not declared in its needs.yaml roles",
        "phase16_99_rbac: team_ops_operator may ['can_create', 'can_edit'] but the DAG belongs to ['team_sales_']",
        "phase16_99_rbac: needs.yaml declares roles ['team_sales_viewer'] its access_control never names",
    ]


def test_an_ownerless_dag_or_no_access_control_at_all_fails() -> None:
    dag = _team_dag({"team_sales_viewer": VIEWER}, tags=[])
    result = run("RBAC roles defined per team", [dag], {"phase16_99_rbac": {"roles": ["team_sales_viewer"]}})
    assert not result.ok
    assert result.evidence == ["phase16_99_rbac: access_control but no team:/tenant: tag names its owner"]
    assert run("RBAC roles defined per team", []).evidence == ["no DAG declares access_control"]


def test_a_grant_beyond_dag_level_permissions_fails() -> None:
    # What the rule reads of a DAG: an access_control naming a resource other than the DAG's own (DAGs, DAG Runs).
    dag = SimpleNamespace(dag_id="phase16_99_rbac", tags=["team:sales"], tasks=[],
                          access_control={"team_sales_operator": {"DAGs": {"can_read"}, "Variables": {"can_edit"}}})
    result = run("RBAC roles defined per team", [dag], {"phase16_99_rbac": {"roles": ["team_sales_operator"]}})
    assert not result.ok
    assert result.evidence == ["phase16_99_rbac: team_sales_operator holds ['can_edit'] on Variables, not a DAG-level permission"]


# --- audit ------------------------------------------------------------------------------------------------------------
AUDIT_NEEDS = {dag_rules.AUDIT_DAG: {"connections": {"airflow_api": {"type": "http", "service": "airflow_api"},
                                                     "vault_audit": {"type": "vault", "service": "vault"}}}}


def _audit_dag(conn_id: str, path: str | None) -> Any:
    with DAG(dag_rules.AUDIT_DAG, schedule="@daily") as dag:

        @task
        def fetch_event_logs() -> list:
            from common.airflow_api import AirflowApi

            api = AirflowApi.from_connection(conn_id)
            return api.event_logs(since="2026-01-01T00:00:00+00:00") if path is None else api.paged(path, "dags")

        @task
        def build_report(events: list) -> dict:
            return {"events": len(events)}

        build_report(fetch_event_logs())  # type: ignore[arg-type]  # an XComArg at parse time
    return dag


def test_reading_event_logs_through_the_declared_api_connection_passes() -> None:
    result = run("Audit logging enabled", [_audit_dag("airflow_api", None)], AUDIT_NEEDS)
    assert result.ok, result.evidence


def test_an_audit_dag_that_reads_no_event_logs_fails() -> None:
    result = run("Audit logging enabled", [_audit_dag("airflow_api", "/api/v2/dags")], AUDIT_NEEDS)
    assert not result.ok
    assert result.evidence == ["a run of phase16_03_audit_compliance's first tasks read no /api/v2/eventLogs "
                               "(calls: [('airflow_api', 'GET', '/api/v2/dags')])"]


def test_event_logs_through_an_undeclared_connection_fail() -> None:
    result = run("Audit logging enabled", [_audit_dag("vault_audit", None)], AUDIT_NEEDS)
    assert not result.ok
    assert result.evidence == ["phase16_03_audit_compliance reads eventLogs through ['vault_audit'], "
                               "not an airflow_api connection of its needs.yaml (['airflow_api'])"]
    assert run("Audit logging enabled", [], AUDIT_NEEDS).evidence == ["phase16_03_audit_compliance missing"]


# --- classification ---------------------------------------------------------------------------------------------------
def _governance_dag(retention_after_classify: bool = True, schedule: Any = "@daily") -> Any:
    with DAG(dag_rules.GOVERNANCE_DAG, schedule=schedule) as dag:
        classify, retention = EmptyOperator(task_id="classify"), EmptyOperator(task_id="enforce_retention")
        if retention_after_classify:
            classify >> retention
    return dag


def _classified_dag(label: str) -> Any:
    with DAG("phase17_99_assets", schedule=None) as dag:
        EmptyOperator(task_id="publish", outlets=[Asset("s3://fixture/customers", extra={"classification": label})])
    return dag


def test_classified_assets_and_a_classifying_governance_dag_pass() -> None:
    result = run("Data classification tags applied", [_classified_dag("PII"), _governance_dag()])
    assert result.ok, result.evidence
    assert "s3://fixture/customers: pii (phase17_99_assets)" in result.evidence


def test_no_classification_or_an_unknown_label_fails() -> None:
    result = run("Data classification tags applied", [_governance_dag(retention_after_classify=False)])
    assert not result.ok
    assert result.evidence == ["no asset or DAG carries a classification",
                               "phase17_03_governance_workflows: retention does not run on the classification (not downstream of classify)"]
    result = run("Data classification tags applied", [_classified_dag("secret-ish"), _governance_dag()])
    assert not result.ok and "s3://fixture/customers: unknown classification 'secret-ish'" in result.evidence


def test_a_classifier_that_calls_everything_public_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    from common import governance

    monkeypatch.setattr(governance, "classify_column", lambda name: "Public")
    result = run("Data classification tags applied", [_classified_dag("PII"), _governance_dag()])
    assert not result.ok
    assert result.evidence == ["columns ['id', 'email', 'salary'] classified Public, not PII",
                               "columns ['id', 'salary'] classified Public, not Confidential"]


# --- retention --------------------------------------------------------------------------------------------------------
def _retention_dag(mode: str, schedule: Any = "@daily") -> Any:
    """mode: apply (common.warehouse_governance.apply_retention), nothing, or everything (deletes every table)."""
    with DAG(dag_rules.GOVERNANCE_DAG, schedule=schedule) as dag:

        @task
        def classify() -> dict:
            return {}

        @task
        def enforce_retention(classes: dict) -> dict:
            from datetime import UTC, datetime

            from common import warehouse_governance as wg
            from common.governance import retention_delete_sql

            with wg.connect(conn_id="postgres_default") as conn:
                if mode == "apply":
                    return wg.apply_retention(conn, classes, now=datetime.now(UTC))
                if mode == "everything":
                    for (schema, table), column in wg.GOVERNED_TABLES.items():
                        with conn.cursor() as cur:
                            cur.execute(retention_delete_sql(schema, table, column), {"cutoff": datetime.now(UTC) - timedelta(days=30)})
            return {}

        enforce_retention(classify())  # type: ignore[arg-type]  # an XComArg at parse time
    return dag


def test_retention_by_classification_on_a_schedule_passes() -> None:
    result = run("Retention policies automated", [_retention_dag("apply")])
    assert result.ok, result.evidence


def test_unscheduled_retention_that_deletes_nothing_fails() -> None:
    result = run("Retention policies automated", [_retention_dag("nothing", schedule=None)])
    assert not result.ok
    assert result.evidence == ["phase17_03_governance_workflows has no schedule: retention only runs by hand",
                               "a run of ['enforce_retention'] deleted no governed.customers (PII) rows older than 30 days (statements: none)"]


def test_retention_that_ignores_the_classification_fails() -> None:
    result = run("Retention policies automated", [_retention_dag("everything")])
    assert not result.ok
    assert result.evidence == ["a run of ['enforce_retention'] deleted rows of governed.page_views, classified Public (kept forever)"]
    assert run("Retention policies automated", []).evidence == ["phase17_03_governance_workflows missing"]
