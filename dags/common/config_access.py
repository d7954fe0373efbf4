"""Reading Airflow connections and variables so that a missing one fails loudly, naming what is missing.

Lookups go through the Task SDK (`airflow.sdk.Variable` / `Connection`), which tries the secrets backends
(environment `AIRFLOW_VAR_*` / `AIRFLOW_CONN_*`, Vault in Kubernetes) before the metadata DB. Passwords never
leave these helpers: callers get a description with the secret masked.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

_MISSING = object()


class MissingConfigurationError(LookupError):
    """A connection or variable the task needs is not defined anywhere Airflow looks."""


class InvalidConfigurationError(ValueError):
    """A variable exists but its value does not have the required shape."""


def missing_variable_message(name: str) -> str:
    return (
        f"Airflow variable '{name}' is not set: define it (UI, `airflow variables set {name} ...`, "
        f"or env AIRFLOW_VAR_{name.upper()}) and declare it in the phase's needs.yaml"
    )


def missing_connection_message(conn_id: str) -> str:
    return (
        f"Airflow connection '{conn_id}' is not defined: create it (UI, `airflow connections add {conn_id}`, "
        f"or env AIRFLOW_CONN_{conn_id.upper()}) and declare it in the phase's needs.yaml"
    )


def require_variable(name: str) -> str:
    """A plain-string variable, or MissingConfigurationError naming it."""
    from airflow.sdk import Variable

    value = Variable.get(name, default=_MISSING)
    if value is _MISSING:
        raise MissingConfigurationError(missing_variable_message(name))
    return str(value)


def require_json_variable(name: str, required_keys: Iterable[str] = ()) -> dict[str, Any]:
    """A JSON-object variable with the given keys present."""
    raw = require_variable(name)
    return parse_json_config(name, raw, required_keys)


def require_connection(conn_id: str) -> Any:
    """The connection, or MissingConfigurationError naming it (the SDK's own error is chained)."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return Connection.get(conn_id)
    except AirflowNotFoundException as error:
        raise MissingConfigurationError(missing_connection_message(conn_id)) from error


def parse_json_config(name: str, raw: str, required_keys: Iterable[str] = ()) -> dict[str, Any]:
    """Parse a JSON variable value; errors name the variable and the missing keys."""
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as error:
        raise InvalidConfigurationError(f"Airflow variable '{name}' is not valid JSON: {error.msg}") from error
    if not isinstance(value, dict):
        raise InvalidConfigurationError(f"Airflow variable '{name}' must be a JSON object, got {type(value).__name__}")
    missing = sorted(set(required_keys) - set(value))
    if missing:
        raise InvalidConfigurationError(f"Airflow variable '{name}' lacks required keys: {', '.join(missing)}")
    return value


def describe_connection(fields: Mapping[str, Any]) -> dict[str, Any]:
    """What may be logged about a connection: everything but the password, which becomes '***' when set."""
    described = {
        key: fields.get(key) for key in ("conn_id", "conn_type", "host", "port", "schema", "login")
    }
    described["password"] = "***" if fields.get("password") else None
    return described


def connection_fields(connection: Any) -> dict[str, Any]:
    """The plain fields of an SDK Connection object (so describe_connection stays Airflow-free)."""
    return {
        key: getattr(connection, key, None)
        for key in ("conn_id", "conn_type", "host", "port", "schema", "login", "password")
    }


def fail_fast_on_configuration_errors() -> Any:
    """A retry policy that fails at once on missing/invalid configuration (no retry will create it)
    while every other error keeps the task's normal retries."""
    from airflow.sdk.definitions.retry_policy import ExceptionRetryPolicy, RetryAction, RetryRule

    return ExceptionRetryPolicy(
        rules=[
            RetryRule(
                exception=[MissingConfigurationError, InvalidConfigurationError],
                action=RetryAction.FAIL,
                reason="configuration errors are fixed by an operator, not by retrying",
            )
        ]
    )
