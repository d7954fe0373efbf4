"""Phase 9 · API integration: HttpHook, OAuth2 client credentials, pagination and 429 rate limits.

Teaches: getting a bearer token with the client-credentials grant (client id/secret come from the connection, never
the code), following `next_page` until the last page, honouring `429 Too Many Requests` by sleeping for its
`Retry-After`, refreshing an expired token once, and quarantining malformed items instead of dropping them.
The whole fetch goes through the partner API's circuit breaker (common.circuit_breaker, state in Postgres), so a
partner outage opens the circuit and later runs fail fast instead of hammering it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import Param, task

from common.dag_header import platform_dag

API_CONN_ID = "http_api_default"
BREAKER_NAME = "partner_api"


@task(retries=3, retry_delay=timedelta(seconds=10), execution_timeout=timedelta(minutes=10))
def fetch_all_items(params: dict[str, Any]) -> dict[str, Any]:
    import time

    from common.circuit_breaker import BreakerPolicy, PostgresStateStore, call_through
    from common.partner_api import PartnerApi, paginate

    api = PartnerApi(conn_id=API_CONN_ID)
    items, stats = call_through(
        PostgresStateStore(BREAKER_NAME),
        BreakerPolicy(failure_threshold=3, cooldown_seconds=300),
        lambda: paginate(lambda page: api.fetch_page("/api/items", page, params["page_size"]), api.refresh_token),
        time.time,
    )
    return {
        "items": items,
        "pages": stats.pages,
        "rate_limited": stats.rate_limited,
        "waits": stats.waits,
        "token_requests": api.token_requests,
    }


@task
def validate_items(fetched: dict[str, Any], dag_run: Any = None) -> dict[str, Any]:
    from common.partner_api import validate_item
    from common.records import quarantine_dir, safe_file_name, split_records, write_quarantine

    split = split_records(fetched["items"], validate_item)
    ids = [item["id"] for item in split.valid]
    if len(ids) != len(set(ids)):
        raise ValueError("pagination returned duplicate item ids: pages overlapped")
    quarantine_file = None
    if split.quarantined:
        quarantine_file = str(write_quarantine(split.quarantined, quarantine_dir(dag_run.dag_id), safe_file_name(dag_run.run_id)))
    return {
        "valid": len(split.valid),
        "quarantined": len(split.quarantined),
        "quarantine_file": quarantine_file,
        "pages": fetched["pages"],
        "rate_limited": fetched["rate_limited"],
        "token_requests": fetched["token_requests"],
    }


with platform_dag(
    __file__, __doc__, owner="data-eng", team="data-eng", severity="P3", tags=["integrations", "http", "oauth2"],
    description="OAuth2 client credentials, pagination and Retry-After handling with HttpHook", schedule="@hourly",
    max_active_runs=1,
    params={"page_size": Param(50, type="integer", minimum=1, maximum=100, description="items per API page")},
) as dag:
    validate_items(fetch_all_items())
