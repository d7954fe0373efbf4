"""Phase 5 · Connections and variables: credentials and configuration kept out of the code.

Teaches: a connection (`postgres_default`) read through the Task SDK with its password masked before
anything is logged, then used to log in to the warehouse (PostgresHook) — the credentials are proven without
ever being printed; a plain variable (`phase5_environment`) and a JSON variable (`phase5_pipeline_config`,
validated for required keys); the same values through Jinja (`{{ var.value.* }}`, `{{ var.json.* }}`,
`{{ conn.* }}`); and failing fast: a missing connection or variable raises an error naming it, and the
retry policy does not retry configuration errors. Locally the values come from `AIRFLOW_CONN_*` /
`AIRFLOW_VAR_*` env vars, in Kubernetes from Vault; both are declared in needs.yaml.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import task

from common.config_access import (
    connection_fields,
    describe_connection,
    fail_fast_on_configuration_errors,
    require_connection,
    require_json_variable,
    require_variable,
)
from common.dag_header import platform_dag

WAREHOUSE_CONN_ID = "postgres_default"
ENVIRONMENT_VARIABLE = "phase5_environment"
PIPELINE_CONFIG_VARIABLE = "phase5_pipeline_config"
PIPELINE_CONFIG_KEYS = ("batch_size", "regions")


@task
def read_environment() -> str:
    return require_variable(ENVIRONMENT_VARIABLE)


@task
def read_pipeline_config() -> dict[str, Any]:
    return require_json_variable(PIPELINE_CONFIG_VARIABLE, PIPELINE_CONFIG_KEYS)


@task
def describe_warehouse() -> dict[str, Any]:
    return describe_connection(connection_fields(require_connection(WAREHOUSE_CONN_ID)))


@task
def check_warehouse_login() -> dict[str, str]:
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    require_connection(WAREHOUSE_CONN_ID)  # a missing connection fails here, by name
    user, database = PostgresHook(postgres_conn_id=WAREHOUSE_CONN_ID).get_first("SELECT current_user, current_database()")
    return {"user": user, "database": database}


@task
def plan_run(
    environment: str, config: dict[str, Any], warehouse: dict[str, Any], login: dict[str, str]
) -> dict[str, Any]:
    return {
        "environment": environment,
        "batch_size": config["batch_size"],
        "regions": config["regions"],
        "target": f"{warehouse['conn_type']}://{warehouse['host']}:{warehouse['port']}/{warehouse['schema']}",
        "authenticated_as": login["user"],
    }


with platform_dag(
    __file__, __doc__, owner="data-platform", severity="P3", tags=["configuration"],
    task_defaults={"retry_policy": fail_fast_on_configuration_errors()},
    description="Connections and plain/JSON variables, failing clearly when one is missing", schedule=None,
) as dag:
    plan = plan_run(read_environment(), read_pipeline_config(), describe_warehouse(), check_warehouse_login())

    templated_config = BashOperator(
        task_id="templated_config",
        bash_command=(
            'echo "env={{ var.value.phase5_environment }} '
            'batch={{ var.json.phase5_pipeline_config.batch_size }} '
            'host={{ conn.postgres_default.host }}"'
        ),
    )
    plan >> templated_config
