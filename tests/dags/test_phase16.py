"""Phase 16 (security), run for real:

- secrets: HashiCorp Vault's real server (local/services/vault.py) with the layout's policies; Airflow's own
  Connection.get() resolves through the configured VaultBackend; the rotation task rotates a credential that a later
  run reads back with no restart; a team's role is refused another team's subtree, naming the path;
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
@pytest.fixture
def airflow_secrets_backend(vault_service, platform_connections, monkeypatch):  # noqa: ANN001, ANN201
    """This process's Airflow configured like the platform's: [secrets] backend = VaultBackend as role `airflow`."""
    from airflow.sdk.configuration import clear_secrets_backends_cache

    from local.services import vault

    monkeypatch.setenv("AIRFLOW__SECRETS__BACKEND", "airflow.providers.hashicorp.secrets.vault.VaultBackend")
    monkeypatch.setenv("AIRFLOW__SECRETS__BACKEND_KWARGS", json.dumps(vault.secrets_backend_kwargs()))
    clear_secrets_backends_cache()
    yield vault
    monkeypatch.undo()
    clear_secrets_backends_cache()


def _airflow_reader():  # noqa: ANN202
    """The backend Airflow itself builds from [secrets] backend_kwargs: role `airflow`, read only."""
    from airflow.providers.hashicorp.secrets.vault import VaultBackend

    from local.services import vault

    backend = VaultBackend(**{k: v for k, v in vault.secrets_backend_kwargs().items() if v is not None})
    backend.identity = "airflow"
    return backend


@pytest.fixture
def team_secrets(airflow_secrets_backend):  # noqa: ANN001, ANN201
    """Each team writes its own secret into its own subtree, with its own role (as a team's CI job would)."""
    from local.services import vault

    values = {"analytics": ("warehouse_api_key", "analytics-key"), "payments": ("ledger_key", "payments-key")}
    for team, (key, value) in values.items():
        token = vault.request("POST", f"/v1/auth/{vault.approle_path()}/login", vault.approle_credentials(f"team-{team}"),
                              token="")["auth"]["client_token"]
        vault.request("POST", f"/v1/{vault.mount()}/data/variables/teams/{team}/{key}", {"data": {"value": value}}, token=token)
    return values


def _root_write(path: str, data: dict) -> None:
    from local.services import vault

    vault.request("POST", f"/v1/{vault.mount()}/data/{path}", {"data": data})


def test_rotation_role_rotates_and_airflows_role_reads_the_new_version(airflow_secrets_backend) -> None:  # noqa: ANN001
    from common.secrets_rotation import (
        VaultPermissionError,
        connection_fingerprint,
        rotate_connection,
        vault_backend_from_connection,
    )

    conn_id = f"rotating_probe_{uuid.uuid4().hex[:8]}"
    _root_write(f"connections/{conn_id}", {"conn_type": "postgres", "host": "warehouse.internal", "login": "etl", "password": "first"})
    rotation = vault_backend_from_connection("vault_rotation")
    reader = _airflow_reader()
    assert connection_fingerprint(reader, conn_id)["fingerprint"] == fingerprint("first")
    rotated = rotate_connection(rotation, conn_id, "rotated-password")
    assert rotated == {"conn_id": conn_id, "version": 2, "fingerprint": fingerprint("rotated-password")}
    # same reader object, same process: the next read sees the new version
    assert connection_fingerprint(reader, conn_id) == {"conn_id": conn_id, "login": "etl", "fingerprint": fingerprint("rotated-password")}
    with pytest.raises(ValueError, match="only connections named rotating_"):
        rotate_connection(rotation, "postgres_default", "x")
    with pytest.raises(VaultPermissionError, match=r"Vault refused airflow/data/connections/rotating_\w+ to role 'airflow'"):
        rotate_connection(reader, conn_id, "not-allowed")


def test_the_secrets_dag_rotates_and_a_later_run_reads_it_back_through_airflow(dagbag, airflow_secrets_backend, team_secrets) -> None:  # noqa: ANN001
    """Run 1 rotates rotating_warehouse in Vault; Connection.get() in the same run and in run 2 (no rotation) resolves
    the new credential through Airflow's [secrets] backend. The env var AIRFLOW_CONN_ROTATING_WAREHOUSE still holds
    the provisioned password, so a lookup that skipped Vault would return the old fingerprint."""
    dag = get_dag(dagbag, SECRETS)
    first = dag.test(run_conf={"rotate": True})
    assert first.state == "success", task_states(first)
    rotated = xcom_value(first, "rotate_credential")
    assert rotated["rotated"] and rotated["conn_id"] == "rotating_warehouse" and rotated["version"] >= 2
    assert xcom_value(first, "read_through_airflow")["fingerprint"] == rotated["fingerprint"]
    env_password = json.loads(os.environ["AIRFLOW_CONN_ROTATING_WAREHOUSE"])["password"]
    assert fingerprint(env_password) != rotated["fingerprint"], "the rotated credential differs from the env var's"

    later = dag.test(run_conf={"rotate": False})
    assert later.state == "success", task_states(later)
    assert xcom_value(later, "rotate_credential") == {"conn_id": "rotating_warehouse", "rotated": False}
    assert xcom_value(later, "read_through_airflow")["fingerprint"] == rotated["fingerprint"]
    injected = xcom_value(later, "use_injected_credentials")
    assert injected["fingerprint"] == rotated["fingerprint"] and injected["child_saw_chars"] == 32  # token_urlsafe(24)
    backends = xcom_value(later, "describe_backends")
    assert set(backends) == {"vault", "aws", "gcp"}
    assert backends["gcp"]["AIRFLOW__SECRETS__BACKEND"].endswith("CloudSecretManagerBackend")
    assert "password" not in json.dumps(xcom_value(first, "rotate_credential"))


def test_a_team_reads_its_own_variable_and_is_refused_another_teams_by_path(dagbag, team_secrets) -> None:  # noqa: ANN001
    from common.secrets_rotation import VaultPermissionError, read_team_variable, vault_backend_from_connection
    dag = get_dag(dagbag, SECRETS)
    own = dag.test(run_conf={"rotate": False})
    assert task_states(own)["read_team_variable"] == "success", task_states(own)
    assert xcom_value(own, "read_team_variable")["fingerprint"] == fingerprint("analytics-key")

    other = dag.test(run_conf={"rotate": False, "team_variable": "payments/ledger_key"})
    assert task_states(other)["read_team_variable"] == "failed", task_states(other)
    assert task_states(other)["read_through_airflow"] == "success", "only the out-of-policy read fails"
    with pytest.raises(VaultPermissionError, match="Vault refused airflow/data/variables/teams/payments/ledger_key to role 'team-analytics'"):
        read_team_variable(vault_backend_from_connection("vault_team_analytics"), "payments", "ledger_key")


def test_a_missing_secret_fails_naming_it(airflow_secrets_backend) -> None:  # noqa: ANN001
    from common.secrets_rotation import connection_fingerprint

    with pytest.raises(KeyError, match="connection 'never_written' not found in the secrets backend"):
        connection_fingerprint(_airflow_reader(), "never_written")


def test_the_audit_salt_is_generated_once_by_the_audit_role_only(airflow_secrets_backend) -> None:  # noqa: ANN001
    from common.secrets_rotation import VaultPermissionError, get_or_create_variable, vault_backend_from_connection

    audit = vault_backend_from_connection("vault_audit")
    first = get_or_create_variable(audit, "audit_pii_salt")
    assert len(first) == 64 and get_or_create_variable(audit, "audit_pii_salt") == first
    assert _airflow_reader().get_variable("audit_pii_salt") == first
    with pytest.raises(VaultPermissionError, match="variables/other_salt to role 'audit'"):
        get_or_create_variable(audit, "other_salt")


# ---------------------------------------------------------------------------------------------- audit
def test_audit_report_from_the_real_api_server_is_masked(dagbag, airflow_service, vault_service, platform_connections) -> None:  # noqa: ANN001
    from local.airflow_client import AirflowClient
    from local.services import airflow

    salt = uuid.uuid4().hex  # provisioned in Vault as the platform would; the DAG reads it from there
    _root_write("variables/audit_pii_salt", {"value": salt})
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

    from local.airflow_client import AirflowClient

    _root_write("variables/audit_pii_salt", {"value": uuid.uuid4().hex})
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
