"""Phase 12 · Structured logging and distributed tracing across tasks.

Teaches:
- Structured JSON logs: one object per line with level, logger, message, the DAG/task/run ids and a correlation id.
  The correlation id comes from the caller (`conf.correlation_id`, e.g. set by an upstream DAG or API client) or is
  derived from the run, so every line of one request can be found across tasks and DAGs.
- Distributed tracing with OpenTelemetry: each task is a span; the W3C `traceparent` is handed to the next task
  through XCom, so spans from separate worker processes join one trace (root → extract → transform → load).
  Log lines carry the active trace_id/span_id, linking logs to traces.
- Spans are exported as JSON lines to `$AIRFLOW_HOME/observability/traces/` (an OTLP exporter would replace the
  file exporter in production; the wiring is the same).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import task

from common.dag_header import platform_dag

DAG_ID = "phase12_02_logging_tracing"
SERVICE = "airflow.phase12_02"


def _paths(run_id: str) -> tuple[Any, Any]:
    import os
    from pathlib import Path

    from common.quality import safe_file_name

    base = Path(os.environ.get("AIRFLOW_HOME", ".")) / "observability"
    name = f"{DAG_ID}__{safe_file_name(run_id)}.jsonl"
    return base / "logs" / name, base / "traces" / name


def _traced_step(step: str, carrier: dict[str, str], context: dict[str, Any], work: Any) -> dict[str, Any]:
    """Run `work(logger)` inside a span that continues the upstream trace; log JSON lines inside it."""
    from common.observability import extract_trace_context, inject_trace_context, make_tracer, structured_logger

    log_file, span_file = _paths(context["run_id"])
    tracer, provider = make_tracer(SERVICE, span_file)
    fields = {"correlation_id": carrier["correlation_id"], "dag_id": DAG_ID, "task_id": step, "run_id": context["run_id"]}
    try:
        with tracer.start_as_current_span(step, context=extract_trace_context(carrier)) as span, \
                structured_logger(f"{DAG_ID}.{step}", log_file, **fields) as logger:
            span.set_attribute("correlation_id", carrier["correlation_id"])
            span.set_attribute("airflow.task_id", step)
            result = work(logger, span)
            return {**inject_trace_context(), "correlation_id": carrier["correlation_id"], "result": result}
    finally:
        provider.shutdown()


@task
def start_trace(dag_run: Any = None, run_id: str | None = None) -> dict[str, str]:
    """The root span: fixes the correlation id and opens the trace every later task joins."""
    from common.observability import correlation_id, inject_trace_context, make_tracer, structured_logger

    rid = run_id or "manual"
    cid = correlation_id(DAG_ID, rid, getattr(dag_run, "conf", None) or {})
    log_file, span_file = _paths(rid)
    tracer, provider = make_tracer(SERVICE, span_file)
    try:
        with tracer.start_as_current_span("dag_run") as span, \
                structured_logger(f"{DAG_ID}.start", log_file, correlation_id=cid, dag_id=DAG_ID, task_id="start_trace", run_id=rid) as logger:
            span.set_attribute("correlation_id", cid)
            logger.info("run started")
            return {**inject_trace_context(), "correlation_id": cid}
    finally:
        provider.shutdown()


@task
def extract(carrier: dict[str, str], run_id: str | None = None) -> dict[str, Any]:
    def work(logger: Any, span: Any) -> int:
        rows = 120
        span.set_attribute("rows", rows)
        logger.info("extracted rows", extra={"rows": rows, "source": "orders"})
        return rows

    return _traced_step("extract", carrier, {"run_id": run_id or "manual"}, work)


@task
def transform(upstream: dict[str, Any], run_id: str | None = None) -> dict[str, Any]:
    def work(logger: Any, span: Any) -> int:
        kept = upstream["result"] - 3
        logger.warning("rejected rows", extra={"rejected": 3})
        logger.info("transformed rows", extra={"rows": kept})
        return kept

    return _traced_step("transform", upstream, {"run_id": run_id or "manual"}, work)


@task
def load(upstream: dict[str, Any], run_id: str | None = None) -> dict[str, Any]:
    def work(logger: Any, span: Any) -> int:
        logger.info("loaded rows", extra={"rows": upstream["result"], "target": "warehouse.orders"})
        return int(upstream["result"])

    return _traced_step("load", upstream, {"run_id": run_id or "manual"}, work)


with platform_dag(
    __file__, __doc__, owner="platform-observability", team="platform", severity="P3",
    tags=["observability", "logging", "tracing"],
    description="JSON logs with correlation ids and OpenTelemetry spans propagated between tasks", schedule="@daily",
    max_active_runs=1,
) as dag:
    load(transform(extract(start_trace())))
