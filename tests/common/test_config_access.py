"""common.config_access: errors that name the missing piece, JSON validation, masked connection details."""

from __future__ import annotations

import pytest

from common.config_access import (
    InvalidConfigurationError,
    describe_connection,
    fail_fast_on_configuration_errors,
    missing_connection_message,
    missing_variable_message,
    parse_json_config,
)


def test_messages_name_what_is_missing_and_how_to_set_it():
    message = missing_variable_message("phase5_environment")
    assert "'phase5_environment'" in message and "AIRFLOW_VAR_PHASE5_ENVIRONMENT" in message
    message = missing_connection_message("postgres_default")
    assert "'postgres_default'" in message and "AIRFLOW_CONN_POSTGRES_DEFAULT" in message


def test_parse_json_config_validates_shape_and_keys():
    assert parse_json_config("cfg", '{"batch_size": 5, "regions": []}', ["batch_size"]) == {"batch_size": 5, "regions": []}
    with pytest.raises(InvalidConfigurationError, match="'cfg' is not valid JSON"):
        parse_json_config("cfg", "{batch_size: 5}")
    with pytest.raises(InvalidConfigurationError, match="must be a JSON object, got list"):
        parse_json_config("cfg", "[1]")
    with pytest.raises(InvalidConfigurationError, match="lacks required keys: batch_size, regions"):
        parse_json_config("cfg", "{}", ["regions", "batch_size"])


def test_describe_connection_never_returns_the_password():
    fields = {"conn_id": "pg", "conn_type": "postgres", "host": "h", "port": 5432, "schema": "w", "login": "u", "password": "s3cret"}
    described = describe_connection(fields)
    assert described["password"] == "***"
    assert "s3cret" not in repr(described)
    assert describe_connection({**fields, "password": None})["password"] is None


def test_retry_policy_fails_configuration_errors_and_keeps_retrying_others():
    from airflow.sdk.definitions.retry_policy import RetryAction

    from common.config_access import MissingConfigurationError

    policy = fail_fast_on_configuration_errors()
    assert policy.evaluate(MissingConfigurationError("x"), 1, 3).action == RetryAction.FAIL
    assert policy.evaluate(InvalidConfigurationError("x"), 1, 3).action == RetryAction.FAIL
    assert policy.evaluate(ConnectionError("x"), 1, 3).action == RetryAction.DEFAULT
