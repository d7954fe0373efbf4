"""Phase 16 (security), run for real:

- secrets: HashiCorp Vault's real server (local/services/vault.py) with the layout's policies; Airflow's own
  Connection.get() resolves through the configured VaultBackend; the rotation task rotates a credential that a later
  run reads back with no restart; a team's role is refused another team's subtree, naming the path;
- audit: the DAG reads /api/v2/eventLogs from the local Airflow API server and produces a masked compliance report;
- RBAC: the team matrix applied through FAB's roles API of the live api-server (FAB auth manager) and proven by
  probe users of four roles getting the 403s and 200s it predicts; access_control synced by FAB in a test-owned home.
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
    assert first and get_or_create_variable(audit, "audit_pii_salt") == first  # generated once, or kept from earlier
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
OWNED = {"security": ["sec_a", "sec_b"], "sales": ["sales_a"], "analytics": ["ana_a"], "auditors": []}
READERS = {"security": ["auditors"], "sales": ["analytics"]}


def _matrix() -> dict:
    from common.governance import role_permissions, team_access_controls

    return role_permissions(team_access_controls(OWNED, READERS), OWNED)


def test_access_control_is_the_team_matrix(dagbag) -> None:  # noqa: ANN001
    from common.governance import team_access_controls

    acl = get_dag(dagbag, RBAC).access_control
    assert acl == {**dag_access_control("security", readers=["auditors"]),
                   "team_security_viewer": {"DAGs": {"can_read"}, "DAG Runs": {"can_read"}}}
    assert acl == team_access_controls({"security": [RBAC]}, {"security": ["auditors"]})[RBAC]


def test_the_role_matrix_grants_dag_level_permissions_only() -> None:
    from common.governance import ROLE_BASELINE, global_dag_grants

    roles = _matrix()
    assert set(roles) == {f"team_{t}_{lvl}" for t in OWNED for lvl in ("operator", "viewer")}
    assert roles["team_security_operator"] - ROLE_BASELINE == {
        (action, f"DAG:{d}") for d in ("sec_a", "sec_b") for action in ("can_read", "can_edit")} | {
        (action, f"DAG Run:{d}") for d in ("sec_a", "sec_b") for action in ("can_read", "can_create")}
    assert roles["team_auditors_viewer"] - ROLE_BASELINE == {
        ("can_read", f"{prefix}{d}") for d in ("sec_a", "sec_b") for prefix in ("DAG:", "DAG Run:")}
    assert roles["team_analytics_viewer"] - ROLE_BASELINE == {
        ("can_read", f"{prefix}{d}") for d in ("sales_a", "ana_a") for prefix in ("DAG:", "DAG Run:")}
    assert roles["team_auditors_operator"] == ROLE_BASELINE, "a team without DAGs holds the baseline only"
    assert global_dag_grants(roles) == []
    leaky = {**roles, "team_sales_viewer": roles["team_sales_viewer"] | {("can_read", "DAGs")}}
    assert global_dag_grants(leaky) == ["team_sales_viewer holds can_read on all DAGs"]


def test_the_matrix_refuses_what_fab_would_not_scope() -> None:
    from common.governance import role_permissions

    with pytest.raises(ValueError, match="names 'Viewer', not a team role"):
        role_permissions({"d": {"Viewer": {"DAGs": {"can_read"}}}}, ["sales"])
    with pytest.raises(ValueError, match="resource 'Connections' is not one of"):
        role_permissions({"d": {"team_sales_viewer": {"Connections": {"can_read"}}}}, ["sales"])


def test_team_dags_come_from_team_tags_as_the_api_lists_them() -> None:
    from common.governance import team_dags

    listed = [{"dag_id": "p16", "tags": [{"name": "phase16"}, {"name": "team:security"}]},
              {"dag_id": "p14", "tags": [{"name": "team:sales"}]}, {"dag_id": "ml", "tags": [{"name": "team:ml"}]},
              {"dag_id": "untagged", "tags": []}]
    assert team_dags(listed, ["security", "sales", "auditors"]) == {"auditors": [], "sales": ["p14"], "security": ["p16"]}


def test_fab_role_bodies_round_trip() -> None:
    from common.governance import fab_role_body, role_perms_of

    perms = _matrix()["team_security_operator"]
    body = fab_role_body("team_security_operator", perms)
    assert body["name"] == "team_security_operator" and role_perms_of(body) == perms
    assert {"action": {"name": "can_create"}, "resource": {"name": "DAG Run:sec_a"}} in body["actions"]


def test_probes_predict_each_403_and_200_and_create_at_most_the_own_run() -> None:
    from common.governance import allowed, isolation_probes, pending_probes, probe_mismatches, visible_dags_mismatch

    roles = _matrix()
    probes = isolation_probes(roles, ["team_security_operator", "team_auditors_viewer", "team_sales_operator"],
                              ["sec_a", "sales_a"], own_dag="sec_a")
    table = {(p["role"], p["access"], p["dag_id"]): p["allowed"] for p in probes}
    assert table == {
        ("team_security_operator", "read", "sec_a"): True, ("team_security_operator", "trigger", "sec_a"): True,
        ("team_security_operator", "read", "sales_a"): False, ("team_security_operator", "trigger", "sales_a"): False,
        ("team_auditors_viewer", "read", "sec_a"): True, ("team_auditors_viewer", "trigger", "sec_a"): False,
        ("team_auditors_viewer", "read", "sales_a"): False, ("team_auditors_viewer", "trigger", "sales_a"): False,
        # sales may trigger its own DAG, but that would start real work: only the refused trigger is probed
        ("team_sales_operator", "read", "sec_a"): False, ("team_sales_operator", "trigger", "sec_a"): False,
        ("team_sales_operator", "read", "sales_a"): True,
    }
    assert allowed(roles["team_sales_operator"], "sales_a", "trigger")
    with pytest.raises(ValueError, match="access 'delete'"):
        allowed(roles["team_sales_operator"], "sales_a", "delete")
    assert len(pending_probes(probes)) == len(probes)
    for probe in probes:
        probe["status"] = 200 if probe["allowed"] else 403
    assert probe_mismatches(probes) == [] and pending_probes(probes) == []
    own_read = next(p for p in probes if (p["role"], p["access"], p["dag_id"]) == ("team_security_operator", "read", "sec_a"))
    own_read["status"] = 403
    assert probe_mismatches(probes) == ["team_security_operator read sec_a: HTTP 403, expected 200"]
    assert pending_probes(probes) == [own_read]
    assert visible_dags_mismatch(roles["team_auditors_viewer"], ["sec_a", "sales_a"], ["sec_a", "sec_b", "sales_a"]) == {
        "unexpected": ["sales_a"], "missing": ["sec_b"]}


def test_rbac_dag_applies_the_matrix_and_proves_isolation_as_each_role(
        dagbag, airflow_service, platform_connections) -> None:  # noqa: ANN001
    """On the live api-server under FAB: the roles hold exactly the matrix, and probe users of four roles get the
    200s and 403s it predicts (the run fails otherwise; the matrix functions are tested above)."""
    from common.airflow_api import AirflowApi
    from common.governance import role_perms_of
    from local.services import airflow

    if airflow.auth() != "fab":
        pytest.skip("LOCAL_AIRFLOW_AUTH=simple: no roles to isolate")
    run = get_dag(dagbag, RBAC).test()
    states = task_states(run)
    assert run.state == "success", states
    assert set(states.values()) == {"success"}, states
    matrix = xcom_value(run, "build_role_matrix")
    assert set(map(tuple, matrix["team_auditors_viewer"])) >= {("can_read", f"DAG Run:{RBAC}"), ("can_read", f"DAG:{RBAC}")}
    assert ["can_read", "DAGs"] not in matrix["team_auditors_viewer"]
    proof = xcom_value(run, "prove_isolation")
    status = {(p["role"], p["access"], p["dag_id"]): p["status"] for p in proof["probes"]}
    assert status[("team_security_operator", "read", RBAC)] == 200
    assert status[("team_security_operator", "trigger", RBAC)] == 200, "the owning team triggers its DAG"
    assert status[("team_security_operator", "read", "phase14_01_dataset_producer")] == 403, "not another team's DAG"
    assert status[("team_security_operator", "trigger", "phase14_01_dataset_producer")] == 403
    assert status[("team_auditors_viewer", "read", RBAC)] == 200
    assert status[("team_auditors_viewer", "trigger", RBAC)] == 403, "auditors read, never trigger"
    assert status[("team_sales_operator", "read", RBAC)] == 403
    assert status[("team_analytics_viewer", "read", "phase14_01_dataset_producer")] == 200, "analytics reads sales"
    assert status[("team_analytics_viewer", "trigger", "phase14_01_dataset_producer")] == 403
    assert len(proof["probe_runs"]) == 1
    admin = AirflowApi.from_connection("airflow_api")
    assert role_perms_of(admin.get("/auth/fab/v1/roles/team_sales_operator")) == set(map(tuple, matrix["team_sales_operator"]))
    probe_run = admin.response("GET", f"/api/v2/dags/{RBAC}/dagRuns/{proof['probe_runs'][0]}")
    assert probe_run.status_code == 404 or probe_run.json()["conf"] == {"probe_trigger": False}


def test_the_probes_catch_a_role_that_reads_every_dag(airflow_service, platform_connections) -> None:  # noqa: ANN001
    """The negative control on the live server: a user holding team_sales_operator and FAB's stock Viewer (which
    grants can_read on the global "DAGs") is caught by the same probes and list check the DAG runs."""
    import secrets

    from common.airflow_api import AirflowApi
    from common.governance import isolation_probes, probe_mismatches, visible_dags_mismatch
    from local.services import airflow

    if airflow.auth() != "fab":
        pytest.skip("LOCAL_AIRFLOW_AUTH=simple: no roles to isolate")
    admin = AirflowApi.from_connection("airflow_api")
    sales = {(a["action"]["name"], a["resource"]["name"]) for a in admin.get("/auth/fab/v1/roles/team_sales_operator")["actions"]}
    password = secrets.token_urlsafe(24)
    admin.upsert_user("rbac_probe_leaky", ["team_sales_operator", "Viewer"], password)
    try:
        leaky = admin.as_user("rbac_probe_leaky", password)
        probes = [p for p in isolation_probes({"team_sales_operator": sales}, ["team_sales_operator"], [RBAC], RBAC)
                  if p["access"] == "read"]
        for probe in probes:
            probe["status"], _ = leaky.dag_access(probe["dag_id"], "read")
        assert probe_mismatches(probes) == [f"team_sales_operator read {RBAC}: HTTP 200, expected 403"]
        all_dags = [d["dag_id"] for d in admin.paged("/api/v2/dags", "dags")]
        listed = [d["dag_id"] for d in leaky.paged("/api/v2/dags", "dags")]
        assert RBAC in visible_dags_mismatch(sales, listed, all_dags)["unexpected"]
    finally:
        admin.delete("/auth/fab/v1/users/rbac_probe_leaky")


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
    for role in ("team_security_operator", "team_security_viewer", "team_auditors_viewer", "team_sales_operator"):
        _airflow(tmp_path, "roles", "create", role)
    _airflow(tmp_path, "dags", "reserialize")
    _airflow(tmp_path, "sync-perm", "--include-dags")
    rows = json.loads(_airflow(tmp_path, "roles", "list", "-p", "-o", "json"))  # {name, resource, action: "a,b"}

    def dag_perms(role: str, prefix: str = "DAG:") -> set[str]:
        return {a for r in rows if r["name"] == role and r["resource"] == f"{prefix}{RBAC}" for a in r["action"].split(",")}

    assert dag_perms("team_security_operator") == {"can_read", "can_edit"}
    assert dag_perms("team_security_operator", "DAG Run:") == {"can_read", "can_create"}
    assert dag_perms("team_security_viewer") == {"can_read"}
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
