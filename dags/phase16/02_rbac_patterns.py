"""RBAC under the FAB auth manager: per-team roles, DAG-level `access_control`, team isolation proven through the API.

What it teaches: in FAB, a permission on the global resource "DAGs" covers every DAG, so team isolation means DAG-level
permissions only (`DAG:<dag_id>`, `DAG Run:<dag_id>`); a role's matrix is applied through FAB's roles API; and
isolation is only shown by calling the API as users of each role and getting the 403s and 200s the matrix predicts.

- Each team has `team_<team>_operator` (read, edit and trigger its DAGs) and `team_<team>_viewer` (read them only);
  `TEAMS` lists which other teams read a team's DAGs (the auditors read security's). A DAG's team is its
  `team:<name>` tag, read from the REST API, so a new team DAG joins the matrix with no change here.
- The matrix (`common.governance`: TEAM_PERMISSIONS per DAG plus a baseline that names no DAG) is checked for
  cross-team editors and global DAG grants, then applied with `/auth/fab/v1/roles`, replacing each role's permissions
  exactly, and read back. This DAG's own `access_control` is the same matrix for itself, so the dag-processor's
  permission sync (which revokes anything else on a DAG that declares one) agrees with it.
- One probe user per role is created or reset through `/auth/fab/v1/users` with a password generated for this run
  (never stored), logs in at `/auth/token`, reads and triggers DAGs, and lists DAGs. Every status must match the
  matrix and each list must be exactly the DAGs the role may read, or the run fails. FAB caches a user's permissions
  for `[fab] cache_ttl` seconds, so a mismatch is retried for that long before it counts.
- The one run a probe creates (team_security_operator triggering this DAG) carries `probe_trigger: false`, so it
  never probes again, and is deleted while still queued.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Param, task

from common.dag_header import platform_dag
from common.governance import team_dag_access_control

DAG_ID = "phase16_02_rbac_patterns"
TEAMS = {"security": ["auditors"], "sales": ["analytics"], "analytics": [], "auditors": []}
PROBED_ROLES = ["team_security_operator", "team_auditors_viewer", "team_sales_operator", "team_analytics_viewer"]
API_TASK = {"retries": 2, "retry_delay": timedelta(seconds=10), "execution_timeout": timedelta(minutes=5)}

with platform_dag(
    __file__, __doc__, owner="team-security", team="security", tags=["security", "rbac"], schedule="@weekly",
    access_control=team_dag_access_control("security", readers=TEAMS["security"]),
    params={"probe_trigger": Param(True, type="boolean", description="also prove a permitted trigger (creates one run)")},
):

    @task(**API_TASK)
    def read_team_dags() -> dict:
        """Every DAG on the API server and, per team of TEAMS, the ones its `team:` tag gives it."""
        from common.airflow_api import AirflowApi
        from common.governance import team_dags

        dags = AirflowApi.from_connection("airflow_api").paged("/api/v2/dags", "dags")
        return {"owned": team_dags(dags, TEAMS), "all": sorted(d["dag_id"] for d in dags)}

    @task
    def build_role_matrix(dags: dict) -> dict:
        from common.governance import role_permissions, team_access_controls

        roles = role_permissions(team_access_controls(dags["owned"], TEAMS), TEAMS)
        return {role: sorted([action, resource] for action, resource in perms) for role, perms in roles.items()}

    @task
    def check_isolation(dags: dict, matrix: dict) -> dict:
        """No role may edit another team's DAG, and none may hold a permission on every DAG."""
        from common.governance import global_dag_grants, isolation_violations, team_access_controls

        acls = team_access_controls(dags["owned"], TEAMS)
        owners = {dag_id: team for team, dag_ids in dags["owned"].items() for dag_id in dag_ids}
        violations = isolation_violations(acls, owners) + global_dag_grants({r: map(tuple, p) for r, p in matrix.items()})
        if violations:
            raise PermissionError("team isolation broken: " + "; ".join(violations))
        return {"dags": len(acls), "roles": len(matrix)}

    @task(**API_TASK)
    def apply_roles(matrix: dict) -> dict:
        """Each role's permissions set to exactly its matrix through FAB's roles API, then read back."""
        from common.airflow_api import AirflowApi
        from common.governance import fab_role_body, role_perms_of

        api = AirflowApi.from_connection("airflow_api")
        outcome = {name: api.upsert_role(fab_role_body(name, map(tuple, perms))) for name, perms in sorted(matrix.items())}
        for name, perms in matrix.items():
            held = role_perms_of(api.get(f"/auth/fab/v1/roles/{name}"))
            if held != set(map(tuple, perms)):
                raise RuntimeError(f"role {name} holds {sorted(held)}, not its matrix {perms}")
        return outcome

    @task(**API_TASK)
    def prove_isolation(matrix: dict, dags: dict, applied: dict, params: dict | None = None) -> dict:
        """As one probe user per role: every read/trigger answers as the matrix says, every DAG list is exactly the
        DAGs the role may read."""
        import secrets
        import time

        from common.airflow_api import AirflowApi
        from common.governance import isolation_probes, pending_probes, probe_mismatches, visible_dags_mismatch

        admin = AirflowApi.from_connection("airflow_api")
        team_dag_ids = [dag_id for ids in dags["owned"].values() for dag_id in ids]
        probes = isolation_probes({r: map(tuple, p) for r, p in matrix.items()}, PROBED_ROLES, team_dag_ids, DAG_ID)
        if not (params or {}).get("probe_trigger", True):
            probes = [p for p in probes if not (p["access"] == "trigger" and p["allowed"])]
        users = {}
        for role in PROBED_ROLES:
            password = secrets.token_urlsafe(24)
            admin.upsert_user(f"rbac_probe_{role}", [role], password)
            users[role] = admin.as_user(f"rbac_probe_{role}", password)

        created_runs, visible = [], {}
        deadline = time.monotonic() + 45  # > [fab] cache_ttl (30 s): a user's permissions are cached that long
        while True:
            for probe in pending_probes(probes):
                status, run_id = users[probe["role"]].dag_access(probe["dag_id"], probe["access"],
                                                                 conf={"probe_trigger": False})
                probe["status"] = status
                if run_id:
                    created_runs.append(run_id)
            for role in PROBED_ROLES:
                listed = [d["dag_id"] for d in users[role].paged("/api/v2/dags", "dags")]
                visible[role] = visible_dags_mismatch(map(tuple, matrix[role]), listed, dags["all"])
            wrong = probe_mismatches(probes) + [f"{role} lists {diff}" for role, diff in visible.items()
                                                if diff["unexpected"] or diff["missing"]]
            if not wrong or time.monotonic() > deadline:
                break
            time.sleep(5)
        for run_id in created_runs:  # a probe's run is evidence, not work: deleted unless it already started
            run = admin.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}")
            if run["state"] == "queued":
                admin.delete(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}")
        if wrong:
            raise PermissionError("RBAC isolation not as the matrix says: " + "; ".join(wrong))
        return {"probes": probes, "roles": applied, "probe_runs": created_runs}

    dags = read_team_dags()
    matrix = build_role_matrix(dags)
    applied = apply_roles(matrix)
    check_isolation(dags, matrix) >> applied
    prove_isolation(matrix, dags, applied)
