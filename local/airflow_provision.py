"""Run with the Airflow environment of local.services.airflow: migrate the metadata DB, upsert the manifests' pools."""

from __future__ import annotations

from local import contract


def main() -> None:
    from airflow.models.pool import Pool
    from airflow.utils import db
    from airflow.utils.session import create_session

    db.initdb()  # creates or upgrades the schema, adds default_pool; idempotent
    needs = contract.load()
    with create_session() as session:
        for name, pool in sorted(needs.pools.items()):
            Pool.create_or_update_pool(name, slots=pool["slots"], description=pool.get("description", ""),
                                       include_deferred=False, session=session)
            print(f"pool {name}: {pool['slots']} slots")
    print("airflow metadata DB migrated; pools provisioned")


if __name__ == "__main__":
    main()
