"""common.observability: exposition format, JSON logs, span propagation between 'tasks', deadline alerts."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from common.observability import (
    JsonFormatter,
    PipelineMetrics,
    correlation_id,
    deadline_breach,
    extract_trace_context,
    inject_trace_context,
    make_tracer,
    on_deadline_missed,
    parse_exposition,
    read_json_lines,
    structured_logger,
)


def test_counter_gauge_histogram_in_prometheus_text_format(tmp_path) -> None:
    metrics = PipelineMetrics("t", buckets=(0.1, 1.0))
    metrics.records.labels("d", "ok").inc(3)
    metrics.records.labels("d", "ok").inc(2)
    metrics.backlog.labels("d").set(7)
    metrics.backlog.labels("d").dec(2)
    for seconds in (0.05, 0.5, 5.0):
        metrics.duration.labels("d", "load").observe(seconds)
    text = metrics.exposition()
    assert "# TYPE t_records_processed_total counter" in text
    assert "# TYPE t_backlog_records gauge" in text
    assert "# TYPE t_step_duration_seconds histogram" in text
    samples = parse_exposition(text)
    assert samples['t_records_processed_total{dag_id="d",outcome="ok"}'] == 5
    assert samples['t_backlog_records{dag_id="d"}'] == 5
    assert samples['t_step_duration_seconds_bucket{dag_id="d",le="0.1",step="load"}'] == 1
    assert samples['t_step_duration_seconds_bucket{dag_id="d",le="1.0",step="load"}'] == 2
    assert samples['t_step_duration_seconds_bucket{dag_id="d",le="+Inf",step="load"}'] == 3
    assert samples['t_step_duration_seconds_sum{dag_id="d",step="load"}'] == 5.55
    path = metrics.write_textfile(tmp_path / "m" / "t.prom")
    assert parse_exposition(path.read_text()) == samples


def test_correlation_id_prefers_the_callers_and_is_stable_otherwise() -> None:
    assert correlation_id("d", "r", {"correlation_id": "abc"}) == "abc"
    assert correlation_id("d", "r") == correlation_id("d", "r", {}) != correlation_id("d", "r2")


def test_json_lines_carry_context_extra_fields_and_exceptions(tmp_path) -> None:
    sink = tmp_path / "log.jsonl"
    with structured_logger("test.obs", sink, correlation_id="c-1", dag_id="d") as logger:
        logger.info("loaded", extra={"rows": 3})
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("failed")
    lines = read_json_lines(sink)
    assert [(line["level"], line["message"], line["correlation_id"]) for line in lines] == [
        ("INFO", "loaded", "c-1"), ("ERROR", "failed", "c-1")
    ]
    assert lines[0]["rows"] == 3 and lines[0]["dag_id"] == "d" and "trace_id" not in lines[0]
    assert "ValueError: boom" in lines[1]["exception"]
    formatted = json.loads(JsonFormatter().format(logging.makeLogRecord({"msg": "x %s", "args": ("y",), "levelname": "INFO"})))
    assert formatted["message"] == "x y"


def test_trace_context_crosses_a_process_boundary_as_a_plain_dict(tmp_path) -> None:
    spans_file, logs_file = tmp_path / "spans.jsonl", tmp_path / "logs.jsonl"
    tracer, provider = make_tracer("svc", spans_file)
    with tracer.start_as_current_span("root"):
        carrier = json.loads(json.dumps(inject_trace_context()))  # what XCom stores
    provider.shutdown()
    assert carrier["traceparent"].startswith("00-")
    tracer2, provider2 = make_tracer("svc", spans_file)  # a new provider, as in the next task's process
    with tracer2.start_as_current_span("child", context=extract_trace_context(carrier)), \
            structured_logger("test.trace", logs_file) as logger:
        logger.info("inside")
    provider2.shutdown()
    root, child = read_json_lines(spans_file)
    assert root["context"]["trace_id"] == child["context"]["trace_id"]
    assert child["parent_id"] == root["context"]["span_id"]
    line = read_json_lines(logs_file)[0]
    assert "0x" + line["trace_id"] == child["context"]["trace_id"]
    assert "0x" + line["span_id"] == child["context"]["span_id"]


def test_deadline_alert_routes_by_tags(caplog) -> None:
    alert = deadline_breach("d", ["severity:P1", "team:ml"], "2026-01-01T00:30:00+00:00", datetime(2026, 1, 1, 1, tzinfo=UTC))
    assert alert["severity"] == "P1" and alert["team"] == "ml" and alert["kind"] == "deadline_missed"
    with caplog.at_level(logging.ERROR, logger="airflow.platform.observability"):
        fired = on_deadline_missed(context={}, dag_id="phase12_01", tags=["severity:P2"], sla="freshness")
    assert fired["dag_id"] == "phase12_01" and fired["severity"] == "P2"
    assert any("deadline_missed" in r.getMessage() for r in caplog.records)
