"""Secrets backends: Airflow resolving connections and variables through its configured `[secrets] backend`
(HashiCorp Vault), a credential rotated by a task and read back by a later run without any restart, secure
credential injection, and a team's Vault identity refused outside its own subtree.

- `describe_backends` renders the `[secrets] backend` / `backend_kwargs` for the catalogue's backends (what the Helm
  chart sets as AIRFLOW__SECRETS__* env) and instantiates the Vault and AWS classes to prove the kwargs are valid.
  Which store answers `Connection.get()` is Airflow's configuration alone; the tests run this DAG against each:
  HashiCorp Vault (the platform's backend; the real server locally), AWS Secrets Manager (moto, the stand-in for
  AWS), GCP Secret Manager (no server or stand-in here: rendered and instantiated only).
- `rotate_credential` logs in as the layout's `secrets-rotation` role (connection `vault_rotation`), whose policy
  writes only `connections/rotating_*`, and writes a new version of the connection with check-and-set.
- `read_through_airflow` calls `Connection.get()`: Airflow itself asks the configured VaultBackend (read-only role
  `airflow`), before environment variables, so the rotated version is what the task gets, with no cache and no
  restart. Only a fingerprint of the value is returned or logged.
- `use_injected_credentials` puts the credential into a child process's environment, masked in logs, never into the
  command line, XCom or rendered templates.
- `read_team_variable` reads `teams/<team>/<key>` as team analytics (connection `vault_team_analytics`): its own
  subtree is readable, another team's is refused by Vault, and the task fails naming the path.
In the cluster the same roles are Kubernetes auth roles (config/vault-layout.json); a team's role is bound to the
team's service accounts, so only pods running as those can use it.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Param, task

from common.dag_header import platform_dag

ROTATION_CONN_ID = "vault_rotation"
TEAM_CONN_ID = "vault_team_analytics"
TEAM = "analytics"

with platform_dag(
    __file__, __doc__, owner="team-security", tags=["security", "secrets", "vault"], schedule=None,
    params={
        "conn_id": Param("rotating_warehouse", type="string", pattern="^rotating_[a-z0-9_]+$",
                         description="connection to rotate in Vault and read back through Airflow"),
        "rotate": Param(True, type="boolean", description="write a new credential first (false: only read back)"),
        "team_variable": Param("analytics/warehouse_api_key", type="string", pattern="^[a-z][a-z0-9-]*/[a-z0-9_]+$",
                               description="<team>/<key> under variables/teams, read as team analytics"),
    },
):

    @task
    def describe_backends() -> dict:
        from airflow.providers.amazon.aws.secrets.secrets_manager import SecretsManagerBackend
        from airflow.providers.hashicorp.secrets.vault import VaultBackend

        from common.governance import secrets_backend_config, secrets_env

        VaultBackend(**secrets_backend_config("vault", url="http://vault.invalid:8200")["backend_kwargs"])
        SecretsManagerBackend(**secrets_backend_config("aws")["backend_kwargs"])
        return {kind: secrets_env(kind) for kind in ("vault", "aws", "gcp")}

    @task(retries=2, retry_delay=timedelta(seconds=5), execution_timeout=timedelta(minutes=2))
    def rotate_credential(**context) -> dict:
        import secrets as random

        from airflow.sdk.log import mask_secret

        from common.secrets_rotation import rotate_connection, vault_backend_from_connection

        if not context["params"]["rotate"]:
            return {"conn_id": context["params"]["conn_id"], "rotated": False}
        new_password = random.token_urlsafe(24)
        mask_secret(new_password)
        rotated = rotate_connection(vault_backend_from_connection(conn_id=ROTATION_CONN_ID), context["params"]["conn_id"], new_password)
        return {**rotated, "rotated": True}

    @task(retries=3, retry_delay=timedelta(seconds=5), execution_timeout=timedelta(minutes=2))
    def read_through_airflow(rotation: dict) -> dict:
        from airflow.sdk import Connection

        from common.governance import fingerprint

        conn = Connection.get(rotation["conn_id"])  # resolved by the [secrets] backend: Vault first
        seen = fingerprint(conn.password or "")
        if rotation["rotated"] and seen != rotation["fingerprint"]:
            raise RuntimeError(f"Airflow resolved {rotation['conn_id']!r} to an older credential than the one just rotated")
        return {"conn_id": rotation["conn_id"], "login": conn.login or "", "fingerprint": seen}

    @task(execution_timeout=timedelta(minutes=2))
    def use_injected_credentials(read: dict) -> dict:
        from airflow.sdk import Connection

        from common.secrets_rotation import run_with_injected_secret

        conn = Connection.get(read["conn_id"])
        # The child process proves it received the password (by length) without it ever being printed.
        result = run_with_injected_secret(["sh", "-c", 'printf %s "$DB_PASSWORD" | wc -c'], "DB_PASSWORD", conn.password or "")
        return {"fingerprint": read["fingerprint"], "child_saw_chars": int(result.strip())}

    @task(retries=2, retry_delay=timedelta(seconds=5), execution_timeout=timedelta(minutes=2))
    def read_team_variable(**context) -> dict:
        from airflow.sdk.exceptions import AirflowFailException

        from common.governance import fingerprint
        from common.secrets_rotation import VaultPermissionError, vault_backend_from_connection
        from common.secrets_rotation import read_team_variable as read_as_team

        team, key = context["params"]["team_variable"].split("/", 1)
        try:
            value = read_as_team(vault_backend_from_connection(conn_id=TEAM_CONN_ID), team, key)
        except (VaultPermissionError, KeyError) as error:
            # A policy refusal or a missing key is not transient: fail now (no retry), saying what to fix.
            raise AirflowFailException(str(error)) from error
        return {"team": team, "key": key, "read_as": TEAM, "fingerprint": fingerprint(value)}

    described = describe_backends()
    read = read_through_airflow(rotate_credential())
    described >> read
    use_injected_credentials(read)
    described >> read_team_variable()
