"""Run with the Airflow environment of local.services.airflow: migrate the metadata DB, upsert the manifests' pools, and
under the FAB auth manager create the generated admin and every role the manifests declare (`roles`: what DAGs'
`access_control` names).

    python -m local.airflow_provision            # all of it
    python -m local.airflow_provision --auth     # only the FAB admin and roles (the DB is already migrated)

Every step is idempotent: run twice, the second run changes nothing. The admin's password is read from
`.local/secrets/airflow_admin_password` in this process; it never appears on a command line or in the log.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from local import contract
from local.services import airflow as airflow_service

ADMIN_ROLE = "Admin"


def migrate_and_pools() -> None:
    from airflow.models.pool import Pool
    from airflow.utils import db
    from airflow.utils.session import create_session

    db.initdb()  # creates or upgrades the schema (the FAB tables too, under FAB), adds default_pool; idempotent
    needs = contract.load()
    with create_session() as session:
        for name, pool in sorted(needs.pools.items()):
            Pool.create_or_update_pool(name, slots=pool["slots"], description=pool.get("description", ""),
                                       include_deferred=False, session=session)
            print(f"pool {name}: {pool['slots']} slots")
    print("airflow metadata DB migrated; pools provisioned")


def ensure_admin(security_manager: Any, username: str, password: str) -> str:
    """The generated admin: created once; on later runs its Admin role, active flag and password are put back if
    someone changed them. Returns what was done."""
    from werkzeug.security import check_password_hash

    admin = security_manager.find_role(ADMIN_ROLE)
    if admin is None:
        raise RuntimeError(f"FAB role {ADMIN_ROLE!r} missing after role sync")
    user = security_manager.find_user(username=username)
    if user is None:
        security_manager.add_user(username, "Airflow", "Admin", f"{username}@localhost", admin, password)
        return "created"
    repaired = []
    if admin not in user.roles:
        user.roles = [*user.roles, admin]
        repaired.append("role")
    if not user.active:
        user.active = True
        repaired.append("active")
    if repaired:
        security_manager.update_user(user)
    if not check_password_hash(user.password, password):
        security_manager.reset_password(user.id, password)
        repaired.append("password")
    return f"repaired {', '.join(repaired)}" if repaired else "unchanged"


def ensure_roles(security_manager: Any, wanted: Mapping[str, list[str]]) -> list[str]:
    """Create the missing roles with no permission of their own: the dag-processor grants each its DAG-level
    permissions from `access_control`, and phase16_02_rbac_patterns applies the team roles' full matrix."""
    created = []
    for role in wanted:
        if security_manager.find_role(role) is None:
            security_manager.add_role(role)
            created.append(role)
    return created


def provision_fab() -> None:
    from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder

    # The manifests' `roles`, as the cluster's bootstrap Job creates them; tests/contract checks them against the
    # DagBag's access_control.
    roles = contract.load().roles
    with get_application_builder() as appbuilder:
        security_manager = appbuilder.sm
        security_manager.sync_roles()  # Admin, Viewer, User, Op, Public with their permissions
        done = ensure_admin(security_manager, airflow_service.ADMIN_USER, airflow_service.admin_password())
        created = ensure_roles(security_manager, roles)
    print(f"FAB admin {airflow_service.ADMIN_USER!r}: {done}")
    for role, dag_ids in roles.items():
        print(f"FAB role {role}{' (created)' if role in created else ''}: access_control of {', '.join(dag_ids)}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m local.airflow_provision", description=__doc__.splitlines()[0])
    parser.add_argument("--auth", action="store_true", help="only the FAB admin and roles")
    args = parser.parse_args(argv)
    if not args.auth:
        migrate_and_pools()
    if airflow_service.auth() == "fab":
        provision_fab()


if __name__ == "__main__":
    main()
