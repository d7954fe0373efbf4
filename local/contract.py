"""The dependency contract: load and validate every dags/phaseN/needs.yaml, aggregate what the platform must provide,
and build Airflow connections (JSON form) from the local service endpoints (docs/team-contract.md)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local import paths, ports

SCHEMA = paths.REPO / "contract" / "needs.schema.json"
DAGS = paths.REPO / "dags"


class ContractError(ValueError):
    """A needs.yaml is malformed or two DAGs declare the same thing differently; the message names file and key."""


@dataclass
class Needs:
    """Everything the manifests ask for, merged; `sources` says which dag declared each connection."""

    dags: dict[str, dict[str, Any]] = field(default_factory=dict)
    connections: dict[str, dict[str, Any]] = field(default_factory=dict)
    variables: dict[str, Any] = field(default_factory=dict)
    pools: dict[str, dict[str, Any]] = field(default_factory=dict)
    topics: dict[str, dict[str, Any]] = field(default_factory=dict)
    buckets: set[str] = field(default_factory=set)
    databases: set[str] = field(default_factory=set)
    services: set[str] = field(default_factory=set)
    roles: dict[str, list[str]] = field(default_factory=dict)  # FAB role → the DAGs whose access_control names it
    sources: dict[str, str] = field(default_factory=dict)


def manifest_files(dags_dir: Path = DAGS) -> list[Path]:
    """Each phase's manifest, in phase order (phase2 before phase10), as the TypeScript reader reads them."""
    return sorted(dags_dir.glob("phase*/needs.yaml"), key=lambda path: int(path.parent.name.removeprefix("phase") or 0))


def _location(path: list[Any]) -> str:
    """ "manifest root", "dag <id>" or "dag <id>, field <a.b.c>": the same words as components/values/contract.ts."""
    if not path:
        return "manifest root"
    dag_id, *field = (str(part) for part in path)
    return f"dag {dag_id}" + (f", field {'.'.join(field)}" if field else "")


def _schema_problems(error: Any) -> list[str]:
    """One jsonschema error in the contract's own words, identical to the TypeScript reader's (contract/golden/)."""
    at, keyword, instance = list(error.absolute_path), error.validator, error.instance
    if keyword == "required":
        return [f"{_location(at)}: missing required field '{name}'" for name in error.validator_value if name not in instance]
    if keyword == "additionalProperties":
        known = set(error.schema.get("properties", {}))
        return [f"{_location(at)}: unknown field '{name}'" for name in instance if name not in known]
    if keyword == "enum":
        return [f"{_location(at)}: must be one of {', '.join(sorted(map(str, error.validator_value)))}"]
    if keyword == "type":
        expected = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        return [f"{_location(at)}: must be {' or '.join(expected)}"]
    if keyword == "minimum":
        return [f"{_location(at)}: must be >= {error.validator_value}"]
    if keyword == "uniqueItems":
        return [f"{_location(at)}: must not repeat an item"]
    if keyword == "pattern":
        if not at:  # propertyNames: the root's keys are dag ids, checked one by one
            return [f"manifest root: dag id '{instance}' must look like phaseN_NN_name"]
        return [f"{_location(at)}: must match {error.validator_value}"]
    return [f"{_location(at)}: fails {keyword}"]


def cross_field_problems(document: dict[str, Any]) -> list[str]:
    """Rules the schema can't say, shared word for word with components/values/contract.ts."""
    return [
        f"dag {dag_id}, field connections.{conn_id}.service: '{conn['service']}' is not one of the dag's services"
        for dag_id, needs in document.items()
        for conn_id, conn in needs["connections"].items()
        if conn["service"] not in needs["services"]
    ]


def validate(document: Any, where: str) -> dict[str, Any]:
    """Every problem of one parsed manifest, each naming the file, the DAG and the field."""
    import jsonschema

    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    problems = sorted({problem for error in validator.iter_errors(document) for problem in _schema_problems(error)})
    if problems:
        raise ContractError(f"{where}: {'; '.join(problems)}")
    problems = sorted(cross_field_problems(document))
    if problems:
        raise ContractError(f"{where}: {'; '.join(problems)}")
    return document


def _without_description(value: Any) -> Any:
    """Each DAG may describe why it uses a shared connection; only the rest must agree."""
    return {k: v for k, v in value.items() if k != "description"} if isinstance(value, dict) else value


def _merge(kind: str, key: str, value: Any, target: dict[str, Any], sources: dict[str, str], dag_id: str) -> None:
    source_key = f"{kind}:{key}"
    if key in target and _without_description(target[key]) != _without_description(value):
        raise ContractError(f"{kind} '{key}' is declared differently by {sources[source_key]} and {dag_id}")
    target[key] = value
    sources.setdefault(source_key, dag_id)


def load(files: Iterable[Path] | None = None) -> Needs:
    needs = Needs()
    for path in manifest_files() if files is None else files:
        document = _read_yaml(path)
        validate(document, str(path))
        phase = path.parent.name
        for dag_id, dag_needs in document.items():
            if phase.startswith("phase") and not dag_id.startswith(f"{phase}_"):
                raise ContractError(f"{path}: dag {dag_id} belongs to another phase's manifest")
            if dag_id in needs.dags:
                raise ContractError(f"{path}: dag {dag_id} is declared twice")
            needs.dags[dag_id] = dag_needs
            needs.services.update(dag_needs["services"])
            needs.buckets.update(dag_needs["buckets"])
            needs.databases.update(dag_needs["databases"])
            for conn_id, conn in dag_needs["connections"].items():
                _merge("connection", conn_id, conn, needs.connections, needs.sources, dag_id)
            for name, variable in dag_needs["variables"].items():
                _merge("variable", name, variable["value"], needs.variables, needs.sources, dag_id)
            for name, pool in dag_needs["pools"].items():
                _merge("pool", name, pool, needs.pools, needs.sources, dag_id)
            for topic in dag_needs["topics"]:
                _merge("topic", topic["name"], topic, needs.topics, needs.sources, dag_id)
            for role in dag_needs.get("roles", []):
                needs.roles.setdefault(role, []).append(dag_id)
    needs.roles = {role: sorted(dag_ids) for role, dag_ids in sorted(needs.roles.items())}
    for topic in needs.topics.values():
        source = topic.get("dead_letter_for")
        if source is not None and source not in needs.topics:
            raise ContractError(f"topic '{topic['name']}' is the dead-letter topic of '{source}', which no shipped DAG declares")
    return needs


def _read_yaml(path: Path) -> dict[str, Any]:
    """A manifest; a key twice in one mapping is an error (PyYAML would keep the last one silently, js-yaml refuses)."""
    import yaml

    class _UniqueKeys(yaml.SafeLoader):
        pass

    def _mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
        keys = [loader.construct_object(key, deep=True) for key, _ in node.value]
        repeated = sorted({str(k) for k in keys if keys.count(k) > 1})
        if repeated:
            raise yaml.constructor.ConstructorError(None, None, f"duplicated mapping key {', '.join(repeated)}", node.start_mark)
        return loader.construct_mapping(node, deep=True)

    _UniqueKeys.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
    try:
        return yaml.load(path.read_text(), Loader=_UniqueKeys) or {}  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        raise ContractError(f"{path}: not valid YAML: {error}") from None


def all_buckets() -> set[str]:
    return load().buckets


# Manifest services that are not processes of their own.
NO_PROCESS = {"filesystem"}


def platform_services(services: Iterable[str]) -> list[str]:
    """Manifest service names → `./platform up` names (aliases resolved, process-less ones dropped)."""
    return [s for s in services if s not in NO_PROCESS]


# --- connections from endpoints ---------------------------------------------------------
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
        from local.services import vault

        # Logs in as one role of config/vault-layout.json (extra.role, Airflow's read-only role by default).
        return vault.connection_fields(role or "airflow")
    if service == "airflow_api":
        from local.services import airflow

        return {**_http("airflow", path), "login": airflow.ADMIN_USER, "password": airflow.admin_password()}
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
