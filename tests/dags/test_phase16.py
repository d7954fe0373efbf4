"""Phase 16 (security), run for real:

- secrets: Airflow's VaultBackend against the local Vault stand-in (local/standins/vault.py — stands in for
  HashiCorp Vault: KV v2 and token auth over Vault's HTTP API, since Vault itself has no package here); a credential
  rotated in Vault is read by the next task with no restart, and injected into a child process without leaking;
- audit: the DAG reads /api/v2/eventLogs from the local Airflow API server and produces a masked compliance report;
- RBAC: per-team roles and the DAG's access_control synced by the FAB auth manager in a test-owned Airflow home.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from dag_run_helpers import get_dag, task_states, xcom_value

from common.governance import dag_access_control, fingerprint, pseudonym

SECRETS = "phase16_01_secrets_backend"
RBAC = "phase16_02_rbac_patterns"
AUDIT = "phase16_03_audit_compliance"
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("dag_id", [SECRETS, RBAC, AUDIT])
def test_platform_conventions(dagbag, dag_id: str) -> None:
    dag = get_dag(dagbag, dag_id)
    assert dag.doc_md and "phase16" in dag.tags and "security" in dag.tags
    for t in dag.tasks:
        assert t.owner == "team-security" and t.execution_timeout is not None


# ---------------------------------------------------------------------------------------------- secrets
def _write_connection(backend, conn_id: str, password: str) -> None:  # noqa: ANN001
    backend.vault_client.client.secrets.kv.v2.create_or_update_secret(
        path=f"connections/{conn_id}", mount_point="airflow",
        secret={"conn_type": "postgres", "host": "warehouse.internal", "login": "etl", "password": password})


def test_rotation_in_vault_is_picked_up_without_restart(vault_service, platform_connections) -> None:  # noqa: ANN001
    from common.secrets_rotation import connection_fingerprint, vault_backend_from_connection

    backend = vault_backend_from_connection(conn_id="vault_default")
    conn_id = f"rotation_probe_{uuid.uuid4().hex[:8]}"
    _write_connection(backend, conn_id, "first-password")
    assert connection_fingerprint(backend, conn_id)["fingerprint"] == fingerprint("first-password")
    _write_connection(backend, conn_id, "rotated-password")
    # same backend object, same process: the next read sees the new version
    assert connection_fingerprint(backend, conn_id)["fingerprint"] == fingerprint("rotated-password")


def test_secrets_dag_reads_rotated_credentials_and_injects_them_safely(dagbag, vault_service, platform_connections, caplog) -> None:  # noqa: ANN001
    from common.secrets_rotation import vault_backend_from_connection

    backend = vault_backend_from_connection(conn_id="vault_default")
    conn_id = f"rotation_dag_{uuid.uuid4().hex[:8]}"
    dag = get_dag(dagbag, SECRETS)
    seen = []
    for password in ("pw-version-1-abc", "pw-version-2-defgh"):
        _write_connection(backend, conn_id, password)
        run = dag.test(run_conf={"conn_id": conn_id})
        assert run.state == "success", task_states(run)
        injected = xcom_value(run, "use_injected_credentials")
        assert injected["child_saw_chars"] == len(password), "the child process received the credential"
        seen.append(injected["fingerprint"])
        assert password not in json.dumps(xcom_value(run, "read_rotating_secret"))
    assert seen == [fingerprint("pw-version-1-abc"), fingerprint("pw-version-2-defgh")]
    assert "pw-version-2-defgh" not in caplog.text
    backends = xcom_value(run, "describe_backends")
    assert set(backends) == {"vault", "aws", "gcp"}
    assert backends["gcp"]["AIRFLOW__SECRETS__BACKEND"].endswith("CloudSecretManagerBackend")


def test_a_missing_secret_fails_naming_it(dagbag, vault_service, platform_connections) -> None:  # noqa: ANN001
    from common.secrets_rotation import connection_fingerprint, vault_backend_from_connection

    with pytest.raises(KeyError, match="connection 'never_written' not found in the secrets backend"):
        connection_fingerprint(vault_backend_from_connection(conn_id="vault_default"), "never_written")


def test_a_secret_variable_is_generated_once_and_kept_in_vault(vault_service, platform_connections) -> None:  # noqa: ANN001
    from common.secrets_rotation import get_or_create_variable, vault_backend_from_connection

    backend = vault_backend_from_connection(conn_id="vault_default")
    name = f"salt_probe_{uuid.uuid4().hex[:8]}"
    first = get_or_create_variable(backend, name)
    assert len(first) == 64 and get_or_create_variable(backend, name) == first
    assert backend.get_variable(name) == first


# ---------------------------------------------------------------------------------------------- audit
def test_audit_report_from_the_real_api_server_is_masked(dagbag, airflow_service, vault_service, platform_connections) -> None:  # noqa: ANN001
    from common.secrets_rotation import vault_backend_from_connection
    from local.airflow_client import AirflowClient
    from local.services import airflow

    salt = uuid.uuid4().hex  # provisioned in Vault as the platform would; the DAG reads it from there
    vault_backend_from_connection(conn_id="vault_default").vault_client.client.secrets.kv.v2.create_or_update_secret(
        path="variables/audit_pii_salt", mount_point="airflow", secret={"value": salt})
    client = AirflowClient()
    client.wait_for_dag(AUDIT)
    client.call("PATCH", f"/dags/{AUDIT}", {"is_paused": True})  # an audited user action
    run = get_dag(dagbag, AUDIT).test()
    assert run.state == "success", task_states(run)
    report = xcom_value(run, "build_report")
    assert report["total_events"] > 0 and report["controls"] == {"pii_masked": True, "actor_pseudonymised": True}
    assert any("patch" in str(e["event"]).lower() and e["dag_id"] == AUDIT for e in report["sensitive_actions"])
    assert airflow.ADMIN_USER not in report["actors"] and all(a.startswith("u_") or a == "None" for a in report["actors"])
    assert pseudonym(airflow.ADMIN_USER, salt) in report["actors"], "the salt from Vault pseudonymises the admin"
    stored = json.loads(Path(xcom_value(run, "store_report")).read_text())
    assert stored["total_events"] == report["total_events"]


# ---------------------------------------------------------------------------------------------- RBAC (FAB)
def test_access_control_is_the_team_matrix(dagbag) -> None:
    assert get_dag(dagbag, RBAC).access_control == dag_access_control("security", readers=["auditors"])


def test_rbac_dag_checks_isolation(dagbag) -> None:
    run = get_dag(dagbag, RBAC).test()
    states = task_states(run)
    assert states["build_role_matrix"] == "success" and states["check_isolation"] == "success"
    roles = xcom_value(run, "build_role_matrix")
    assert roles["team_auditors_viewer"] == {"DAG Runs": ["can_read"], "DAGs": ["can_read"]}


def _airflow(home: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update({
        "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager",
        "PYTHONPATH": str(home / "dags"),
    })
    done = subprocess.run([str(Path(sys.executable).parent / "airflow"), *args], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, f"airflow {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def test_fab_syncs_per_team_dag_permissions(tmp_path: Path) -> None:
    """The FAB auth manager turns the DAG's access_control into DAG-level permissions of the team roles."""
    dags = tmp_path / "dags"
    (dags / "phase16").mkdir(parents=True)
    (dags / "common").symlink_to(REPO / "dags" / "common")
    (dags / "phase16" / "02_rbac_patterns.py").symlink_to(REPO / "dags" / "phase16" / "02_rbac_patterns.py")
    _airflow(tmp_path, "db", "migrate")
    _airflow(tmp_path, "dags", "reserialize")
    for role in ("team_security_operator", "team_auditors_viewer", "team_sales_operator"):
        _airflow(tmp_path, "roles", "create", role)
    _airflow(tmp_path, "sync-perm", "--include-dags")
    rows = json.loads(_airflow(tmp_path, "roles", "list", "-p", "-o", "json"))  # {name, resource, action: "a,b"}

    def dag_perms(role: str) -> set[str]:
        return {a for r in rows if r["name"] == role and r["resource"] == f"DAG:{RBAC}" for a in r["action"].split(",")}

    assert dag_perms("team_security_operator") == {"can_read", "can_edit"}
    assert dag_perms("team_auditors_viewer") == {"can_read"}
    assert dag_perms("team_sales_operator") == set(), "another team's role gets nothing on this DAG"


def test_audit_runs_without_a_logical_date(dagbag, airflow_service, vault_service, platform_connections) -> None:  # noqa: ANN001
    """An undated run has no data_interval_*: fetch_event_logs audits the day before its run_after instead of
    failing on the missing keys. (Masking is the dated test's subject; here only the window is.)"""
    from datetime import UTC, datetime, timedelta

    from common.secrets_rotation import vault_backend_from_connection
    from local.airflow_client import AirflowClient

    vault_backend_from_connection(conn_id="vault_default").vault_client.client.secrets.kv.v2.create_or_update_secret(
        path="variables/audit_pii_salt", mount_point="airflow", secret={"value": uuid.uuid4().hex})
    client = AirflowClient()
    client.wait_for_dag(AUDIT)
    client.call("PATCH", f"/dags/{AUDIT}", {"is_paused": True})  # an audited action inside the window
    now = datetime.now(UTC)
    run = get_dag(dagbag, AUDIT).test(logical_date=None, run_after=now)
    assert run.logical_date is None
    assert task_states(run)["fetch_event_logs"] == "success", task_states(run)
    events = xcom_value(run, "fetch_event_logs")
    assert events and all(now - timedelta(days=1) <= datetime.fromisoformat(e["when"]) for e in events)
    assert any("patch" in str(e["event"]).lower() and e["dag_id"] == AUDIT for e in events)
