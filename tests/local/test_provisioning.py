"""What the manifests (dags/phase*/needs.yaml) declare exists on the running platform: topics, buckets, pools,
databases, and the connections in Vault (the real server)."""

from __future__ import annotations

import pytest

from local import contract


@pytest.fixture(scope="module")
def needs() -> contract.Needs:
    return contract.load()


def test_declared_kafka_topics_exist_with_their_partitions(needs, kafka_service) -> None:
    from confluent_kafka.admin import AdminClient

    from local.services import kafka

    kafka.Kafka().provision()
    topics = AdminClient({"bootstrap.servers": kafka.bootstrap()}).list_topics(timeout=10).topics
    for name, declared in needs.topics.items():
        assert name in topics, f"topic {name} (declared by {needs.sources[f'topic:{name}']}) missing"
        assert len(topics[name].partitions) == declared["partitions"]


def test_declared_buckets_exist_in_s3_and_azure_stand_ins(needs, s3_service, azure_blob_service) -> None:
    from azure.storage.blob import BlobServiceClient

    from local.services import azurite, s3

    s3_buckets = {b["Name"] for b in s3.client().list_buckets()["Buckets"]}
    containers = {c.name for c in BlobServiceClient.from_connection_string(azurite.connection_string()).list_containers()}
    assert needs.buckets <= s3_buckets
    assert needs.buckets <= containers


def test_declared_pools_exist_in_airflow(needs, airflow_service) -> None:
    from local.airflow_client import AirflowClient

    pools = {p["name"]: p["slots"] for p in AirflowClient().call("GET", "/pools?limit=1000")["pools"]}
    for name, declared in needs.pools.items():
        assert pools.get(name) == declared["slots"], f"pool {name}: declared {declared['slots']}, Airflow has {pools.get(name)}"


def test_declared_databases_accept_their_role(needs, postgres_service) -> None:
    import psycopg

    from local.services import postgres

    for database in needs.databases:
        with psycopg.connect(postgres.dsn(database), connect_timeout=5) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == (database,)


def test_declared_connections_are_in_vault_as_airflow_reads_them(needs, vault_service) -> None:
    from airflow.providers.hashicorp.secrets.vault import VaultBackend

    from local.services import vault

    backend = VaultBackend(**{k: v for k, v in vault.secrets_backend_kwargs().items() if v is not None})
    for conn_id, declared in needs.connections.items():
        value = backend.get_conn_value(conn_id)
        assert value is not None, f"connection {conn_id} not in Vault"
        assert f'"conn_type": "{declared["type"]}"' in value
