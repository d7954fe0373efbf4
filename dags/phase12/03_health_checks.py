"""Phase 12 · Health checks: probe every platform component, heal what is safe to heal, escalate the rest.

Teaches:
- Health probes for the database (SELECT 1 on postgres_default), an external API (OAuth2 token + one authenticated
  call on http_api_default; 429 = degraded), storage (write/read/delete on the data volume), the message queue
  (Kafka broker on kafka_default) and Airflow itself (/api/v2/monitor/health on airflow_api: metadatabase,
  scheduler, triggerer, dag-processor). Targets come from connections; a missing one is reported by name.
- Failed tasks: DAGs tagged `self-heal:clear` (idempotent tasks) opt in; their failed task instances of the last
  24 h are found through the REST API.
- Self-healing: a registered remediation runs, then the component is probed again; a successful heal is recorded as
  `remediated`. Failed tasks are cleared through the REST API (`clearTaskInstances`, only failed, run reset) and
  the scheduler re-runs them; a missing storage directory is recreated; a transient DB/API fault is waited out.
- Escalation: still unhealthy → P1 components (database, Airflow) page on-call and fail the run; others open a
  ticket (P2); degraded components open a P3 ticket. Tickets are rows in the warehouse's `ops.health_tickets`
  (one per run and component), where on-call tooling reads them. The report is one JSON document for dashboards.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from airflow.sdk import task

from common.dag_header import platform_dag

log = logging.getLogger("airflow.platform.alerts")


@task(retries=0, execution_timeout=timedelta(minutes=2))
def probe_components() -> list[dict[str, Any]]:
    """No task retries: a failing probe is data for the next tasks, not a reason to rerun the probe task."""
    from common.health_targets import run_all

    return [asdict(r) for r in run_all()]


@task(retries=0, execution_timeout=timedelta(minutes=10))  # waits for cleared tasks to re-run
def self_heal(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from common.health import HealthResult, heal
    from common.health_targets import REMEDIATIONS, recheckers

    healed = heal([HealthResult(**r) for r in results], REMEDIATIONS, recheckers())
    return [asdict(r) for r in healed]


@task(retries=0)
def escalate_and_report(results: list[dict[str, Any]], **context: Any) -> dict[str, Any]:
    from common.health import HealthReport, HealthResult, enforce_health, escalate
    from common.health_targets import open_tickets

    checked = [HealthResult(**r) for r in results]
    report = HealthReport(checked, escalate(checked))
    for escalation in report.escalations:
        log.error("health_escalation %s", json.dumps(asdict(escalation), sort_keys=True))
    tickets = open_tickets(report.escalations, context["run_id"])
    enforce_health(report)
    return {**report.to_dict(), "tickets": tickets}


with platform_dag(
    __file__, __doc__, owner="platform-observability", team="platform", severity="P1", tags=["observability", "health"],
    description="Database/API/storage/queue/Airflow health, self-healing remediation and severity-based escalation",
    schedule=timedelta(minutes=15), max_active_runs=1,
) as dag:
    escalate_and_report(self_heal(probe_components()))
