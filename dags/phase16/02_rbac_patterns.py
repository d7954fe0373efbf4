"""RBAC under the FAB auth manager: per-team roles, DAG-level `access_control`, team isolation.

Each team gets two roles, `team_<team>_operator` (read, edit, trigger its DAGs) and `team_<team>_viewer`
(read only). This DAG is owned by team security and readable by the auditors; its `access_control` is exactly
what `dag_access_control` builds, so `airflow sync-perm --include-dags` grants the roles their DAG-level
permissions (`DAG:phase16_02_rbac_patterns`). The tasks check the team matrix for isolation violations (a role
that could edit another team's DAG) and apply the roles through the FAB REST API of the Airflow API server.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, task

from common.defaults import platform_default_args
from common.governance import dag_access_control

TEAMS = {"security": ["auditors"], "sales": ["analytics"], "analytics": [], "auditors": []}

with DAG(
    dag_id="phase16_02_rbac_patterns",
    schedule="@weekly",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    default_args=platform_default_args("team-security"),
    access_control=dag_access_control("security", readers=["auditors"]),
    tags=["phase16", "security", "rbac", "team:security"],
    doc_md=__doc__,
):

    @task
    def build_role_matrix() -> dict:
        from common.governance import TEAM_PERMISSIONS, team_role

        roles = {}
        for team in TEAMS:
            for level, perms in TEAM_PERMISSIONS.items():
                roles[team_role(team, level)] = {res: sorted(actions) for res, actions in perms.items()}
        return roles

    @task
    def check_isolation() -> list:
        from common.governance import isolation_violations

        acls = {f"{team}_pipeline": dag_access_control(team, readers) for team, readers in TEAMS.items()}
        violations = isolation_violations(acls, {f"{team}_pipeline": team for team in TEAMS})
        if violations:
            raise PermissionError("team isolation broken: " + "; ".join(violations))
        return sorted(acls)

    @task(retries=3, retry_delay=timedelta(seconds=10), execution_timeout=timedelta(minutes=5))
    def apply_roles(roles: dict) -> list:
        """Create missing roles through the FAB API (`/auth/fab/v1/roles`); permissions on DAGs come from sync-perm."""
        from common.airflow_api import AirflowApi

        api = AirflowApi.from_connection("airflow_api")
        existing = {r["name"] for r in api.get("/auth/fab/v1/roles", params={"limit": 500})["roles"]}
        created = []
        for name in sorted(set(roles) - existing):
            api.post("/auth/fab/v1/roles", json={"name": name, "actions": []})
            created.append(name)
        return created

    matrix = build_role_matrix()
    check_isolation() >> apply_roles(matrix)
