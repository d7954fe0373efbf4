"""Audit and compliance: the audit trail read from the Airflow REST API v2 `/api/v2/eventLogs` of the running API
server, access tracking (who triggered, paused, cleared, or read variables/connections), PII masking, and a
compliance report.

Actors are pseudonymised with a salted hash (stable across reports, not reversible without the salt) and
e-mail addresses / IPs in free text are redacted before anything is stored; a final check fails the run if any
original identity survived into the report. The salt is a secret kept in Vault (`airflow/variables/audit_pii_salt`,
generated there on first use), never a constant in code or config. The DAG logs in to Vault as the layout's `audit`
role (connection `vault_audit`), whose policy may create and read that one variable and nothing else.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import task

from common.dag_header import platform_dag

with platform_dag(
    __file__, __doc__, owner="team-security", team="security", tags=["security", "audit", "compliance"],
    schedule="@daily",
):

    @task(retries=3, retry_delay=timedelta(seconds=10), execution_timeout=timedelta(minutes=5))
    def fetch_event_logs(**context) -> list:
        from common.airflow_api import AirflowApi
        from common.governance import audit_window_start
        from common.run_dates import data_interval

        # A run without a logical date has no data interval: it audits the day up to its run_after.
        start, end = data_interval(
            context.get("data_interval_start"), context.get("data_interval_end"), context["dag_run"]
        )
        since = audit_window_start(start, end)
        return AirflowApi.from_connection("airflow_api").event_logs(since=since.isoformat())

    @task(retries=2, execution_timeout=timedelta(minutes=2))
    def build_report(events: list, **context) -> dict:
        from common.governance import assert_no_pii, compliance_report
        from common.secrets_rotation import get_or_create_variable, vault_backend_from_connection

        salt = get_or_create_variable(vault_backend_from_connection(conn_id="vault_audit"), "audit_pii_salt")
        report = compliance_report(events, salt)
        assert_no_pii(report, {str(e.get("owner")) for e in events if e.get("owner")})
        report["run_id"] = context["run_id"]
        return report

    @task
    def store_report(report: dict, **context) -> str:
        import json
        from pathlib import Path

        from common.assets import lake_root

        path = Path(lake_root()) / "compliance" / f"audit_{context['run_id'].replace(':', '_')}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2, sort_keys=True, default=str))
        return str(path)

    store_report(build_report(fetch_event_logs()))
