"""Secrets backends: HashiCorp Vault (VaultBackend), AWS Secrets Manager (SecretsManagerBackend) and GCP Secret
Manager (CloudSecretManagerBackend) configured; rotation picked up without a restart; secure credential injection.

- `describe_backends` renders the `[secrets] backend` / `backend_kwargs` for each backend (what the Helm chart sets
  as AIRFLOW__SECRETS__* env) and instantiates the Vault and AWS backend classes to prove the kwargs are valid.
- `read_rotating_secret` asks Vault for the connection on every call: Airflow does not cache backend lookups by
  default, so a credential rotated in Vault is used by the next task without restarting any Airflow process.
  Only a fingerprint of the value is returned or logged.
- `use_injected_credentials` shows secure injection: the credential goes into the child process environment,
  masked in logs, never into the command line, XCom or rendered templates.
The Vault address and token come from the `vault_default` connection (Kubernetes auth in the cluster).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Param, task

from common.defaults import platform_default_args

VAULT_CONN_ID = "vault_default"

with DAG(
    dag_id="phase16_01_secrets_backend",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    default_args=platform_default_args("team-security"),
    params={"conn_id": Param("postgres_default", type="string", description="connection to read from Vault")},
    tags=["phase16", "security", "secrets", "vault"],
    doc_md=__doc__,
):

    @task
    def describe_backends() -> dict:
        from airflow.providers.amazon.aws.secrets.secrets_manager import SecretsManagerBackend
        from airflow.providers.hashicorp.secrets.vault import VaultBackend

        from common.governance import secrets_backend_config, secrets_env

        VaultBackend(**secrets_backend_config("vault", url="http://vault.invalid:8200")["backend_kwargs"])
        SecretsManagerBackend(**secrets_backend_config("aws")["backend_kwargs"])
        return {kind: secrets_env(kind) for kind in ("vault", "aws", "gcp")}

    @task(retries=3, retry_delay=timedelta(seconds=5), execution_timeout=timedelta(minutes=2))
    def read_rotating_secret(**context) -> dict:
        from common.secrets_rotation import connection_fingerprint, vault_backend_from_connection

        backend = vault_backend_from_connection(conn_id=VAULT_CONN_ID)
        return connection_fingerprint(backend, context["params"]["conn_id"])

    @task(execution_timeout=timedelta(minutes=2))
    def use_injected_credentials(fingerprint: dict, **context) -> dict:
        from common.secrets_rotation import run_with_injected_secret, vault_backend_from_connection

        conn = vault_backend_from_connection(conn_id=VAULT_CONN_ID).get_connection(context["params"]["conn_id"])
        if conn is None:
            raise KeyError(f"connection {context['params']['conn_id']!r} not found in Vault")
        # The child process proves it received the password (by length) without it ever being printed.
        result = run_with_injected_secret(["sh", "-c", 'printf %s "$DB_PASSWORD" | wc -c'], "DB_PASSWORD", conn.password or "")
        return {"fingerprint": fingerprint["fingerprint"], "child_saw_chars": int(result.strip())}

    use_injected_credentials(read_rotating_secret()) << describe_backends()
