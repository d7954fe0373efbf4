"""Airflow connections (JSON form) built from the local service endpoints, for the platform's fixed connection ids and
every connection the manifests declare; `environment()` is what reaches Airflow as AIRFLOW_CONN_* / AIRFLOW_VAR_* and
what the local Vault's KV is seeded with."""

from __future__ import annotations

import json
from typing import Any

from local import paths, ports
from local.contract import ContractError, Needs, load


def _http(port_name: str, path: str = "") -> dict[str, Any]:
    if path:  # HttpHook appends the port after host, so a path means a full URL as host and no port
        return {"host": f"http://{ports.HOST}:{ports.port(port_name)}{path}"}
    return {"host": ports.HOST, "port": ports.port(port_name), "schema": "http"}


def service_connection(service: str, conn_type: str, *, database: str | None = None, path: str = "",
                       role: str | None = None) -> dict[str, Any]:
    """Airflow connection (JSON form, without conn_type's extras merged) that reaches `service` locally."""
    if service == "filesystem":  # no process: a landing directory under the data dir (FileSensor's fs_default)
        landing = paths.DATA / "landing"
        landing.mkdir(parents=True, exist_ok=True)
        return {"extra": {"path": str(landing)}}
    if service == "postgres":
        from local.services import postgres

        db = database or "warehouse"
        return {"host": ports.HOST, "port": ports.port("postgres"), "login": db,
                "password": postgres.password(db), "schema": db}
    if service == "redis":
        from local import airflow_profile
        from local.services import redis

        # The database of config/airflow-profile.json `redisDatabases`, as in the cluster's redis_default.
        db = airflow_profile.redis_database("redis_default")
        return {"host": ports.HOST, "port": ports.port("redis"), "password": redis.password(), "extra": {"db": db}}
    if service == "kafka":
        # group.id: consumers that subscribe (the AssetWatcher's AwaitMessageTrigger) need one; a manifest may override.
        return {"extra": {"bootstrap.servers": f"{ports.HOST}:{ports.port('kafka')}", "group.id": "airflow",
                          "auto.offset.reset": "earliest"}}
    if service == "smtp":
        return {"host": ports.HOST, "port": ports.port("smtp"),
                "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "airflow@platform.local"}}
    if service == "slack":
        from local.services import http_standins

        # SlackHook: the bot token as password, the Web API stand-in as base_url (in the cluster: none, so slack.com).
        return {"password": http_standins.slack_bot_token(), "extra": {"base_url": http_standins.slack_api_url()}}
    if service == "s3":
        from local.services import s3

        creds = s3.credentials()
        return {"login": creds["aws_access_key_id"], "password": creds["aws_secret_access_key"],
                "extra": {"endpoint_url": s3.endpoint_url(), "region_name": creds["region_name"]}}
    if service == "azure_blob":
        from local.services import azurite

        return {"login": azurite.ACCOUNT, "extra": {"connection_string": azurite.connection_string()}}
    if service == "bigquery":
        from local.services import bigquery

        return {"extra": {"project": bigquery.PROJECT, "api_endpoint": bigquery.base_url(), "anonymous": True}}
    if service == "http_api":
        from local.services import http_standins

        return {**_http("http_standins", path), "login": http_standins.CLIENT_ID,
                "password": http_standins.client_secret(), "extra": {"token_path": "/oauth/token"}}
    if service == "vault":
        from local import vault_client

        # Logs in as one role of config/vault-layout.json (extra.role, Airflow's read-only role by default).
        return vault_client.connection_fields(role or "airflow")
    if service == "airflow_api":
        from local import airflow_endpoint

        return {**_http("airflow", path), "login": airflow_endpoint.ADMIN_USER, "password": airflow_endpoint.admin_password()}
    port_names = {"mlflow": "mlflow", "marquez": "marquez", "prometheus": "prometheus", "statsd": "statsd_metrics"}
    if service in port_names:
        return _http(port_names[service], path)
    raise ContractError(f"no local endpoint for service {service!r} (connection type {conn_type})")


def connection(conn_id: str, declared: dict[str, Any]) -> dict[str, Any]:
    """The JSON form Airflow reads from AIRFLOW_CONN_<ID>: conn_type, host, port, login, password, schema, extra."""
    service = declared["service"]
    if service == "http_api" and conn_id == "flaky_service" and not declared.get("path"):
        raise ContractError(f"connection {conn_id}: the flaky stand-in needs `path: /flaky/<name>`")
    built = service_connection(service, declared["type"], database=declared.get("database"), path=declared.get("path", ""),
                               role=(declared.get("extra") or {}).get("role"))
    extra = {**built.pop("extra", {}), **declared.get("extra", {})}
    result: dict[str, Any] = {"conn_type": declared["type"], **built}
    if extra:
        result["extra"] = extra
    return result


# The fixed connection ids of docs/team-contract.md: always provided, a manifest may refine them (database, path, extra).
PLATFORM_CONNECTIONS: dict[str, dict[str, Any]] = {
    "postgres_default": {"type": "postgres", "service": "postgres", "database": "warehouse"},
    "kafka_default": {"type": "kafka", "service": "kafka"},
    "mlflow_default": {"type": "http", "service": "mlflow"},
    "smtp_default": {"type": "smtp", "service": "smtp"},
    "slack_api_default": {"type": "slack", "service": "slack"},
    "aws_default": {"type": "aws", "service": "s3"},
    "wasb_default": {"type": "wasb", "service": "azure_blob"},
    "google_cloud_default": {"type": "google_cloud_platform", "service": "bigquery"},
    "http_api_default": {"type": "http", "service": "http_api"},
    "flaky_service": {"type": "http", "service": "http_api", "path": "/flaky/default"},
    "redis_default": {"type": "redis", "service": "redis"},
    "airflow_api": {"type": "http", "service": "airflow_api"},
}


def environment(needs: Needs | None = None) -> dict[str, str]:
    """AIRFLOW_CONN_* (JSON) and AIRFLOW_VAR_* for the platform connections and every declared connection and variable."""
    needs = needs or load()
    env: dict[str, str] = {}
    for conn_id, declared in sorted({**PLATFORM_CONNECTIONS, **needs.connections}.items()):
        env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps(connection(conn_id, declared))
    for name, value in sorted(needs.variables.items()):
        env[f"AIRFLOW_VAR_{name.upper()}"] = value if isinstance(value, str) else json.dumps(value)
    return env
