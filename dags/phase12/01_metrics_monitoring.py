"""Phase 12 · Metrics and monitoring: counters, gauges and histograms in Prometheus format, and deadline-based SLAs.

Teaches:
- The three metric types: a counter (records by outcome, only goes up), gauges (backlog, last success time — go up
  and down) and a histogram (step durations in buckets, for latency percentiles).
- The Prometheus text exposition format, written atomically to a textfile-collector file and readable back.
- The same numbers sent through Airflow's StatsD client, which the platform's statsd_exporter turns into
  Prometheus series next to Airflow's own metrics.
- SLA tracking with Deadline Alerts (Airflow 3's replacement for SLAs): the run must finish within 30 minutes of
  being queued and within 2 hours of its logical date; a miss calls common.observability.on_deadline_missed.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import DAG, Param, task
from airflow.sdk.definitions.callback import SyncCallback
from airflow.sdk.definitions.deadline import DeadlineAlert, DeadlineReference

from common.defaults import platform_default_args
from common.observability import on_deadline_missed

DAG_ID = "phase12_01_metrics_monitoring"
TAGS = ["phase12", "observability", "metrics", "severity:P2", "team:platform"]


def _timed_step(step: str, work: int) -> dict[str, Any]:
    start = time.perf_counter()
    checksum = sum(i * i for i in range(work))  # stands in for the step's real work
    return {"step": step, "seconds": time.perf_counter() - start, "checksum": checksum}


@task
def extract(params: dict[str, Any] | None = None) -> dict[str, Any]:
    p = params or {}
    return {**_timed_step("extract", p["records"] * 100), "records": p["records"]}


@task
def transform(extracted: dict[str, Any], params: dict[str, Any] | None = None) -> dict[str, Any]:
    p = params or {}
    failed = min(p["failed_records"], extracted["records"])
    return {**_timed_step("transform", extracted["records"] * 200), "ok": extracted["records"] - failed, "failed": failed}


@task
def load(transformed: dict[str, Any]) -> dict[str, Any]:
    return _timed_step("load", transformed["ok"] * 50)


@task
def publish_metrics(
    extracted: dict[str, Any], transformed: dict[str, Any], loaded: dict[str, Any], params: dict[str, Any] | None = None
) -> dict[str, Any]:
    import os
    from pathlib import Path

    from common.observability import PipelineMetrics, emit_statsd, parse_exposition

    metrics = PipelineMetrics("airflow_pipeline")
    metrics.records.labels(DAG_ID, "ok").inc(transformed["ok"])
    metrics.records.labels(DAG_ID, "failed").inc(transformed["failed"])
    metrics.backlog.labels(DAG_ID).set((params or {})["backlog"])
    metrics.last_success.labels(DAG_ID).set(time.time())
    steps = (extracted, transformed, loaded)
    for step in steps:
        metrics.duration.labels(DAG_ID, step["step"]).observe(step["seconds"])
    path = metrics.write_textfile(Path(os.environ.get("AIRFLOW_HOME", ".")) / "metrics" / f"{DAG_ID}.prom")
    emit_statsd(
        f"custom.{DAG_ID}",
        counters={"records_ok": transformed["ok"], "records_failed": transformed["failed"]},
        gauges={"backlog": (params or {})["backlog"]},
        timings_ms={f"{s['step']}_duration": s["seconds"] * 1000 for s in steps},
    )
    samples = parse_exposition(path.read_text(encoding="utf-8"))
    return {"textfile": str(path), "series": len(samples)}


with DAG(
    dag_id=DAG_ID,
    description="Counter/gauge/histogram in Prometheus format, StatsD mirror, Deadline Alerts as SLAs",
    doc_md=__doc__,
    schedule="@hourly",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args=platform_default_args("platform-observability"),
    tags=TAGS,
    params={
        "records": Param(1000, type="integer", minimum=0),
        "failed_records": Param(7, type="integer", minimum=0),
        "backlog": Param(42, type="integer", minimum=0),
    },
    deadline=[
        DeadlineAlert(
            reference=DeadlineReference.DAGRUN_QUEUED_AT,
            interval=timedelta(minutes=30),
            callback=SyncCallback(on_deadline_missed, kwargs={"dag_id": DAG_ID, "tags": TAGS, "sla": "runtime"}),
        ),
        DeadlineAlert(
            reference=DeadlineReference.DAGRUN_LOGICAL_DATE,
            interval=timedelta(hours=2),
            callback=SyncCallback(on_deadline_missed, kwargs={"dag_id": DAG_ID, "tags": TAGS, "sla": "freshness"}),
        ),
    ],
) as dag:
    extracted = extract()
    transformed = transform(extracted)
    publish_metrics(extracted, transformed, load(transformed))
