"""local/contract.py (manifests validated against contract/needs.schema.json, merged) and local/connections.py (turned into connections)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from local import connections, contract, ports

NEEDS = {
    "services": ["postgres"], "connections": {}, "variables": {}, "pools": {},
    "assets": {"produces": [], "consumes": []}, "topics": [], "databases": [], "buckets": [], "packages": [],
}


def _manifest(tmp_path: Path, name: str, document: dict) -> Path:
    path = tmp_path / name / "needs.yaml"
    path.parent.mkdir()
    path.write_text(json.dumps(document))  # JSON is YAML
    return path


def test_repository_manifests_are_valid_and_merge() -> None:
    needs = contract.load()
    assert needs.dags, "no dags/phase*/needs.yaml found"
    assert all(dag_id.startswith("phase") for dag_id in needs.dags)


def test_schema_error_names_file_and_key(tmp_path: Path) -> None:
    bad = {"phase1_01_x": {**NEEDS, "pools": {"p": {"slots": 0}}}}
    path = _manifest(tmp_path, "phase1", bad)
    with pytest.raises(contract.ContractError, match=r"needs.yaml: dag phase1_01_x, field pools.p.slots: must be >= 1"):
        contract.load([path])


def test_conflicting_declarations_name_both_dags(tmp_path: Path) -> None:
    one = {"phase1_01_a": {**NEEDS, "pools": {"shared": {"slots": 2}}}}
    two = {"phase2_01_b": {**NEEDS, "pools": {"shared": {"slots": 3}}}}
    with pytest.raises(contract.ContractError, match="pool 'shared' is declared differently by phase1_01_a and phase2_01_b"):
        contract.load([_manifest(tmp_path, "phase1", one), _manifest(tmp_path, "phase2", two)])


def test_postgres_connection_opens_the_declared_database_with_its_own_role() -> None:
    conn = connections.connection("pg", {"type": "postgres", "service": "postgres", "database": "feast"})
    assert conn["conn_type"] == "postgres"
    assert (conn["host"], conn["port"], conn["login"], conn["schema"]) == ("127.0.0.1", ports.port("postgres"), "feast", "feast")
    assert conn["password"] and conn["password"] != connections.connection(
        "pg2", {"type": "postgres", "service": "postgres", "database": "warehouse"})["password"]


def test_http_connection_with_path_is_a_full_url_and_extras_merge() -> None:
    conn = connections.connection("flaky_service", {"type": "http", "service": "http_api", "path": "/flaky/payments",
                                                 "extra": {"timeout": 5}})
    assert conn["host"] == f"http://127.0.0.1:{ports.port('http_standins')}/flaky/payments"
    assert "port" not in conn
    assert conn["extra"] == {"token_path": "/oauth/token", "timeout": 5}


def test_ports_follow_env_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCAL_PORT_KAFKA", "29092")
    conn = connections.connection("kafka_default", {"type": "kafka", "service": "kafka"})
    assert conn["extra"]["bootstrap.servers"] == "127.0.0.1:29092"


def test_unknown_service_is_an_error_naming_it() -> None:
    with pytest.raises(contract.ContractError, match="no local endpoint for service 'nosuch'"):
        connections.service_connection("nosuch", "http")


def test_environment_has_json_connections_and_variables(vault_service) -> None:  # noqa: ANN001 - AppRole credentials come from Vault
    env = connections.environment()
    for conn_id in connections.PLATFORM_CONNECTIONS:
        assert json.loads(env[f"AIRFLOW_CONN_{conn_id.upper()}"])["conn_type"]
    for name, value in contract.load().variables.items():
        assert env[f"AIRFLOW_VAR_{name.upper()}"] == (value if isinstance(value, str) else json.dumps(value))
