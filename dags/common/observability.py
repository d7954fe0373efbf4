"""Observability building blocks: Prometheus metrics, Deadline Alert callbacks, structured JSON logs, OpenTelemetry spans.

- Metrics: a prometheus_client registry per pipeline with counters, gauges and histograms, rendered in the Prometheus
  text exposition format, and mirrored to Airflow's StatsD stream (which statsd_exporter turns into Prometheus series).
- Logs: one JSON object per line carrying a correlation id that follows a request across tasks and DAGs.
- Tracing: OpenTelemetry spans; the W3C `traceparent` travels between tasks through XCom, so separate task processes
  form one distributed trace. Spans are exported as JSON lines to a file so they can be read back and shipped.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common.alerting import severity_from_tags, team_from_tags

log = logging.getLogger("airflow.platform.observability")

# Seconds; covers fast lookups up to slow batch steps.
DEFAULT_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


# --------------------------------------------------------------------------------------------------- metrics
class PipelineMetrics:
    """Counter / gauge / histogram for one pipeline, in their own registry (no clash with process-global metrics)."""

    def __init__(self, namespace: str, buckets: Sequence[float] = DEFAULT_BUCKETS) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.namespace = namespace
        self.registry = CollectorRegistry()
        self.records = Counter(
            "records_processed", "Records processed, by outcome", ["dag_id", "outcome"],
            namespace=namespace, registry=self.registry,
        )
        self.backlog = Gauge(
            "backlog_records", "Records waiting to be processed", ["dag_id"], namespace=namespace, registry=self.registry
        )
        self.last_success = Gauge(
            "last_success_timestamp_seconds", "Unix time of the last successful run", ["dag_id"],
            namespace=namespace, registry=self.registry,
        )
        self.duration = Histogram(
            "step_duration_seconds", "Duration of a pipeline step", ["dag_id", "step"],
            namespace=namespace, buckets=tuple(buckets), registry=self.registry,
        )

    def exposition(self) -> str:
        """The registry in the Prometheus text exposition format (what /metrics serves)."""
        from prometheus_client import generate_latest

        return generate_latest(self.registry).decode("utf-8")

    def write_textfile(self, path: str | Path) -> Path:
        """Write atomically for the node_exporter textfile collector (a scrape never sees half a file)."""
        from prometheus_client import write_to_textfile

        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        write_to_textfile(str(target), self.registry)
        return target


def emit_statsd(prefix: str, counters: Mapping[str, int], gauges: Mapping[str, float], timings_ms: Mapping[str, float]) -> None:
    """Send custom metrics through Airflow's own StatsD client ([metrics] statsd_on), next to Airflow's metrics."""
    from airflow.sdk.observability import stats

    for name, value in counters.items():
        stats.incr(f"{prefix}.{name}", value)
    for name, value in gauges.items():
        stats.gauge(f"{prefix}.{name}", value)
    for name, value in timings_ms.items():
        stats.timing(f"{prefix}.{name}", value)


def parse_exposition(text: str) -> dict[str, float]:
    """`name{label="v",...}` -> value for every sample; the inverse of `exposition` used by checks and tests."""
    from prometheus_client.parser import text_string_to_metric_families

    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples


# ----------------------------------------------------------------------------------------- deadline alerts
def deadline_breach(dag_id: str, tags: Sequence[str], deadline: str | None, observed_at: datetime) -> dict[str, Any]:
    """The alert for a missed deadline (the Airflow 3 replacement for SLA misses), routed like a failure alert."""
    return {
        "kind": "deadline_missed",
        "dag_id": dag_id,
        "deadline": deadline,
        "observed_at": observed_at.isoformat(),
        "severity": severity_from_tags(tags),
        "team": team_from_tags(tags),
    }


def on_deadline_missed(context: Mapping[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    """SyncCallback target for DeadlineAlert: logs one structured `deadline_missed` line and returns the alert."""
    ctx = dict(context or {})
    dag_run = ctx.get("dag_run") or {}
    dag_id = kwargs.get("dag_id") or getattr(dag_run, "dag_id", None) or (dag_run.get("dag_id") if isinstance(dag_run, Mapping) else None)
    deadline = ctx.get("deadline")
    alert = deadline_breach(
        str(dag_id), kwargs.get("tags", []), str(getattr(deadline, "deadline_time", deadline) or "") or None,
        datetime.now(UTC),
    )
    log.error("deadline_missed %s", json.dumps(alert, sort_keys=True))
    return alert


# -------------------------------------------------------------------------------------------------- logging
def correlation_id(dag_id: str, run_id: str, conf: Mapping[str, Any] | None = None) -> str:
    """Reuse the caller's id (a triggering DAG or API client passes `correlation_id` in conf), else derive a stable one."""
    if conf and conf.get("correlation_id"):
        return str(conf["correlation_id"])
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"airflow://{dag_id}/{run_id}"))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: timestamp, level, logger, message, plus the bound context and any `extra` fields."""

    _RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

    def __init__(self, static_fields: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self.static_fields = dict(static_fields or {})

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **self.static_fields,
        }
        payload.update({k: v for k, v in vars(record).items() if k not in self._RESERVED and not k.startswith("_")})
        span = _current_span_ids()
        if span:
            payload.update(span)
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str, sort_keys=True)


@contextmanager
def structured_logger(name: str, sink: str | Path, **context: Any) -> Iterator[logging.Logger]:
    """A logger writing JSON lines to `sink` (and to the task log) with `context` (e.g. correlation_id) on every line."""
    logger = logging.getLogger(name)
    path = Path(sink)
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(JsonFormatter(context))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield logger
    finally:
        logger.removeHandler(handler)
        handler.close()


def read_json_lines(path: str | Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


# -------------------------------------------------------------------------------------------------- tracing
def _current_span_ids() -> dict[str, str]:
    from opentelemetry import trace

    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return {}
    return {"trace_id": format(ctx.trace_id, "032x"), "span_id": format(ctx.span_id, "016x")}


class JsonLinesSpanExporter:
    """An OpenTelemetry SpanExporter appending each finished span as one JSON line (a file any shipper can tail)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def export(self, spans: Sequence[Any]) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        with self.path.open("a", encoding="utf-8") as handle:
            for span in spans:
                handle.write(json.dumps(json.loads(span.to_json()), separators=(",", ":")) + "\n")
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def make_tracer(service_name: str, span_file: str | Path) -> tuple[Any, Any]:
    """(tracer, provider) exporting synchronously to `span_file`; call provider.shutdown() when the task ends."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(SimpleSpanProcessor(JsonLinesSpanExporter(span_file)))  # type: ignore[arg-type]
    return provider.get_tracer("airflow.platform"), provider


def inject_trace_context() -> dict[str, str]:
    """The current span's W3C trace context (`traceparent`) as a dict: push it to XCom for the next task."""
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier)
    return carrier


def extract_trace_context(carrier: Mapping[str, str] | None) -> Any:
    """An OpenTelemetry Context continuing the upstream trace (a fresh trace when the carrier is empty)."""
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    return TraceContextTextMapPropagator().extract(dict(carrier or {}))
