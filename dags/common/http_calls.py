"""HTTP calls through Airflow HttpHook connections, with failures classified as transient or permanent."""

from __future__ import annotations

from typing import Any

from common.resilience import PermanentError, TransientError, classify_http_status


def call_service(conn_id: str, endpoint: str = "", *, method: str = "GET", timeout: float = 5.0) -> Any:
    """The JSON body of a 2xx answer; 429/5xx/connection problems raise TransientError, other 4xx PermanentError."""
    import requests
    from airflow.providers.http.hooks.http import HttpHook

    hook = HttpHook(method=method, http_conn_id=conn_id)
    try:
        response = hook.run(endpoint, extra_options={"check_response": False, "timeout": timeout})
    except (requests.ConnectionError, requests.Timeout) as error:
        raise TransientError(f"{conn_id}: {type(error).__name__}") from error
    error_class = classify_http_status(response.status_code)
    if error_class is not None:
        raise error_class(f"{conn_id} answered HTTP {response.status_code}: {response.text[:200]}")
    return response.json()


__all__ = ["PermanentError", "TransientError", "call_service"]
