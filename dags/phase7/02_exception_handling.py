"""Phase 7 · Exception handling: transient vs permanent errors, graceful degradation and fallbacks.

Teaches: classifying failures (TransientError → retry, PermanentError → AirflowFailException so Airflow does not
waste retries), in-task retries with backoff before giving up, falling back to the last known good data (the XCom
`last_good_rates` of the latest healthy run) with the result marked `degraded`, and quarantining malformed records instead of dropping them.
`primary_mode` simulates the upstream: ok, unavailable (transient) or invalid_credentials (permanent).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import Param, task

from common.dag_header import platform_dag

LAST_GOOD_KEY = "last_good_rates"  # XCom key pushed by validate_rates only when the data came from the primary


@task(retries=2, execution_timeout=timedelta(minutes=2))
def fetch_rates(params: dict[str, Any], ti: Any = None) -> dict[str, Any]:
    from airflow.sdk.exceptions import AirflowFailException

    from common.exchange_rates import fetch_primary, load_last_good
    from common.resilience import PermanentError, retry_transient, with_fallback

    def primary() -> list[Any]:
        return retry_transient(lambda: fetch_primary(params["primary_mode"]), attempts=3, base_delay_seconds=0.2)

    def fallback() -> list[Any]:
        previous = ti.xcom_pull(task_ids="validate_rates", key=LAST_GOOD_KEY, include_prior_dates=True)
        return load_last_good(previous, f"XCom {LAST_GOOD_KEY!r} of validate_rates")

    try:
        outcome = with_fallback(primary, fallback, primary_name="primary_api", fallback_name="last_good_rates")
    except PermanentError as error:
        raise AirflowFailException(f"permanent upstream error, not retrying: {error}") from error
    return {"records": outcome.value, "source": outcome.source, "degraded": outcome.degraded, "error": outcome.error}


@task
def validate_rates(fetched: dict[str, Any], dag_run: Any = None, ti: Any = None) -> dict[str, Any]:
    from common.exchange_rates import validate_rate
    from common.records import quarantine_dir, safe_file_name, split_records, write_quarantine

    split = split_records(fetched["records"], validate_rate)
    quarantine_file = None
    if split.quarantined:
        quarantine_file = str(write_quarantine(split.quarantined, quarantine_dir(dag_run.dag_id), safe_file_name(dag_run.run_id)))
    if not split.valid:
        raise ValueError(f"no valid exchange rates among {split.total} records; all quarantined in {quarantine_file}")
    if not fetched["degraded"]:
        ti.xcom_push(key=LAST_GOOD_KEY, value=split.valid)
    return {
        "rates": split.valid,
        "quarantined": len(split.quarantined),
        "quarantine_file": quarantine_file,
        "source": fetched["source"],
        "degraded": fetched["degraded"],
    }


@task
def publish(validated: dict[str, Any]) -> dict[str, Any]:
    """Downstream consumers see whether the data is degraded instead of silently getting stale rates."""
    return {key: validated[key] for key in ("source", "degraded", "quarantined")} | {"rates": len(validated["rates"])}


with platform_dag(
    __file__, __doc__, owner="resilience", team="platform", severity="P3", tags=["resilience", "exceptions"],
    description="TransientError vs PermanentError, fallback to last known good, quarantine of bad records",
    schedule=None,
    params={
        "primary_mode": Param(
            "ok", enum=["ok", "unavailable", "invalid_credentials"], description="simulated upstream"
        ),
    },
) as dag:
    publish(validate_rates(fetch_rates()))
