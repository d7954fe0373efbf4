"""phase16_01 against each secrets backend of the catalogue, as Airflow's configured `[secrets] backend`:

| backend                                   | served by here                                  |
| ----------------------------------------- | ----------------------------------------------- |
| HashiCorp Vault (VaultBackend)            | the real Vault 1.21.4 server (test_phase16.py)  |
| AWS Secrets Manager (SecretsManagerBackend)| moto server, the stand-in for AWS (this file)  |
| GCP Secret Manager (CloudSecretManagerBackend) | no server or stand-in here: its settings are rendered and the class is instantiated only (describe_backends) |

The DAG's own task calls `Connection.get()`: which store answers is decided by Airflow's configuration alone.
"""

from __future__ import annotations

import contextlib
import json
import uuid

import pytest
from dag_run_helpers import get_dag, task_states, xcom_value

from common.governance import fingerprint, secrets_backend_config

SECRETS = "phase16_01_secrets_backend"


@pytest.fixture
def aws_secrets_manager_backend(s3_service, vault_service, platform_connections, monkeypatch):  # noqa: ANN001, ANN201
    """Airflow configured with SecretsManagerBackend on moto (the catalogue's prefixes, moto's endpoint)."""
    import boto3
    from airflow.sdk.configuration import clear_secrets_backends_cache

    from local.services import s3

    cfg = secrets_backend_config("aws", endpoint_url=s3.endpoint_url())
    kwargs = {**cfg["backend_kwargs"], **s3.credentials()}  # moto's keys; in the cluster the IRSA role supplies them
    monkeypatch.setenv("AIRFLOW__SECRETS__BACKEND", cfg["backend"])
    monkeypatch.setenv("AIRFLOW__SECRETS__BACKEND_KWARGS", json.dumps(kwargs))
    clear_secrets_backends_cache()
    client = boto3.client("secretsmanager", endpoint_url=s3.endpoint_url(), **s3.credentials())
    yield client, cfg["backend_kwargs"]
    monkeypatch.undo()
    clear_secrets_backends_cache()


def test_airflow_resolves_the_dags_connection_from_aws_secrets_manager(dagbag, aws_secrets_manager_backend) -> None:  # noqa: ANN001
    client, kwargs = aws_secrets_manager_backend
    password = f"from-secrets-manager-{uuid.uuid4().hex[:8]}"
    name = f"{kwargs['connections_prefix']}/rotating_warehouse"
    value = json.dumps({"conn_type": "postgres", "host": "warehouse.internal", "login": "etl", "password": password})
    try:
        client.create_secret(Name=name, SecretString=value)
    except client.exceptions.ResourceExistsException:
        client.put_secret_value(SecretId=name, SecretString=value)

    run = get_dag(dagbag, SECRETS).test(run_conf={"rotate": False})
    states = task_states(run)
    assert states["read_through_airflow"] == "success" and states["use_injected_credentials"] == "success", states
    read = xcom_value(run, "read_through_airflow")
    assert read == {"conn_id": "rotating_warehouse", "login": "etl", "fingerprint": fingerprint(password)}
    assert xcom_value(run, "use_injected_credentials")["child_saw_chars"] == len(password)


def test_a_connection_absent_from_every_store_fails_the_task_naming_it(dagbag, aws_secrets_manager_backend, monkeypatch) -> None:  # noqa: ANN001
    """With the secret gone from Secrets Manager and no env var, nothing answers: the task fails, it doesn't invent one."""
    client, kwargs = aws_secrets_manager_backend
    name = f"{kwargs['connections_prefix']}/rotating_warehouse"
    with contextlib.suppress(client.exceptions.ResourceNotFoundException):
        client.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    monkeypatch.delenv("AIRFLOW_CONN_ROTATING_WAREHOUSE", raising=False)
    run = get_dag(dagbag, SECRETS).test(run_conf={"rotate": False})
    assert task_states(run)["read_through_airflow"] == "failed", task_states(run)
