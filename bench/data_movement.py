"""Data movement against the native tools, on the same rows and the same local services, in one run.

1. Postgres: the database-integration DAG's load path (`common.warehouse.load_batch`, what `load_orders` runs,
   one transaction, idempotent upsert, quarantine) against `psql \\copy` of the same rows from CSV.
2. Kafka: the message-queue DAG's produce and consume path (`common.messaging.produce_batch` and
   `consume_and_route`, with delivery reports and DLQ routing) against Kafka's own
   `ProducerPerformance` / `ConsumerPerformance` (the classes behind kafka-producer-perf-test and
   kafka-consumer-perf-test), from the same jars the local broker runs.

Needs the local platform up (`./platform up postgres kafka`). Each side runs `--repeat` times, alternating.

    .venv/bin/python bench/data_movement.py --rows 100000 --messages 100000 --repeat 3 [--markdown FILE] [--json FILE]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "dags")]

BENCH_SCHEMA = "bench_data_movement"


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def _stats(samples: list[float]) -> dict[str, float]:
    return {"median_s": statistics.median(samples), "min_s": min(samples), "max_s": max(samples), "runs": len(samples)}


def _connection_env() -> None:
    """The same AIRFLOW_CONN_* the local platform gives Airflow."""
    from local import envfile

    os.environ.update(envfile.read())
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="bench-data-home-"))


# ----------------------------------------------------------------------------------------------- Postgres
def _orders(rows: int) -> list[dict[str, Any]]:
    from common.orders import sample_orders, split_valid

    valid, _ = split_valid(sample_orders("2026-01-01", rows, bad_every=0))
    return valid


def bench_postgres(rows: int, repeat: int) -> dict[str, Any]:
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    from common.warehouse import DDL, load_batch, order_rows

    hook = PostgresHook(postgres_conn_id="postgres_default")
    conn_info = hook.get_connection("postgres_default")
    orders = _orders(rows)
    csv_path = Path(tempfile.mkdtemp(prefix="bench-copy-")) / "orders.csv"
    with csv_path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        for r in order_rows("2026-01-01", orders):
            writer.writerow([r["order_id"], r["region"], r["amount"], r["quantity"], r["batch_date"]])

    def reset() -> None:
        conn = hook.get_conn()
        with conn.cursor() as cursor:
            cursor.execute(f"DROP SCHEMA IF EXISTS {BENCH_SCHEMA} CASCADE; CREATE SCHEMA {BENCH_SCHEMA}")
            cursor.execute(f"SET search_path TO {BENCH_SCHEMA}; {DDL}")
        conn.commit()
        conn.close()

    def dag_load() -> int:
        conn = hook.get_conn()
        with conn.cursor() as cursor:
            cursor.execute(f"SET search_path TO {BENCH_SCHEMA}")
        try:
            return load_batch(conn, batch_date="2026-01-01", valid=orders, rejected=[], run_id="bench")["loaded"]
        finally:
            conn.close()

    def psql_copy() -> int:
        env = {**os.environ, "PGPASSWORD": conn_info.password or ""}
        command = (f"SET search_path TO {BENCH_SCHEMA};\n"
                   f"\\copy orders (order_id, region, amount, quantity, batch_date) FROM '{csv_path}' WITH (FORMAT csv)")
        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", conn_info.host, "-p", str(conn_info.port),
                        "-U", conn_info.login, "-d", conn_info.schema, "-c", command.split("\n")[0], "-c", command.split("\n")[1]],
                       check=True, env=env, capture_output=True)
        return rows

    def count() -> int:
        return int(hook.get_first(f"SELECT COUNT(*) FROM {BENCH_SCHEMA}.orders")[0])

    samples: dict[str, list[float]] = {"dag_load": [], "psql_copy": []}
    for round_no in range(repeat):
        for name, fn in (("dag_load", dag_load), ("psql_copy", psql_copy)):
            reset()
            seconds, _ = _timed(fn)
            loaded = count()
            if loaded != len(orders):
                raise RuntimeError(f"{name}: table holds {loaded} rows, expected {len(orders)}")
            samples[name].append(seconds)
            print(f"postgres round {round_no + 1}/{repeat}: {name} {len(orders)} rows in {seconds:.2f}s", file=sys.stderr)
    reset()
    dag, native = _stats(samples["dag_load"]), _stats(samples["psql_copy"])
    return {"rows": len(orders), "dag_load": dag, "psql_copy": native, "ratio": dag["median_s"] / native["median_s"]}


# ----------------------------------------------------------------------------------------------- Kafka
def producer_rate(report: str) -> float:
    """records/sec from ProducerPerformance's summary line ('N records sent, R records/sec ...')."""
    match = re.search(r"\d+ records sent, ([\d.]+) records/sec", report)
    if not match:
        raise RuntimeError(f"ProducerPerformance printed no summary: {report[-300:]}")
    return float(match.group(1))


def consumer_rate(report: str) -> float:
    """nMsg.sec from ConsumerPerformance's CSV line (header: ..., data.consumed.in.nMsg, nMsg.sec, ...)."""
    # log4j output interleaves with the report on stdout: take the header, then the last line of dated values.
    lines = report.splitlines()
    columns = [c.strip() for c in next(line for line in lines if line.startswith("start.time")).split(",")]
    rows = [line for line in lines if re.match(r"^\d{4}-\d\d-\d\d \d", line) and line.count(",") == len(columns) - 1]
    if not rows:
        raise RuntimeError(f"ConsumerPerformance printed no result line: {report[-300:]}")
    values = [v.strip() for v in rows[-1].split(",")]
    return float(values[columns.index("nMsg.sec")])


def bench_kafka(messages: int, repeat: int) -> dict[str, Any]:
    from common.messaging import batch_events, consume_and_route, produce_batch
    from local.services import kafka

    def events(batch_id: str) -> list[tuple[str, bytes]]:
        """The message-queue DAG's own order events (all valid here, so nothing is dead-lettered)."""
        return batch_events(batch_id, "2026-01-01", messages, 0)

    # The native tool sends records of the same size as the DAG's events.
    sample = events("size-probe")
    record_size = round(sum(len(v) for _, v in sample) / len(sample))

    def topic(prefix: str) -> str:
        name = f"bench.{prefix}.{uuid.uuid4().hex[:8]}"
        kafka.create_topics({name: (1, 3_600_000)})
        return name

    def run_java(main_class: str, *args: str) -> str:
        result = subprocess.run(kafka.java_command(main_class, *args), check=True, capture_output=True, text=True)
        return result.stdout

    samples: dict[str, list[float]] = {"dag_produce": [], "native_produce": [], "native_produce_wall": [],
                                       "dag_consume": [], "native_consume": [], "native_consume_wall": []}
    for round_no in range(repeat):
        batch_id = f"bench-{round_no}"
        dag_topic, dlq = topic("dag"), topic("dlq")
        batch = events(batch_id)
        seconds, produced = _timed(lambda t=dag_topic, b=batch: produce_batch("kafka_default", t, b))
        samples["dag_produce"].append(seconds)
        seconds, routed = _timed(lambda t=dag_topic, o=produced["offsets"], b=batch_id, d=dlq:
                                 consume_and_route("kafka_default", t, o, b, d, timeout=300))
        if routed["consumed"] != messages or routed["dead_lettered"] != 0:
            raise RuntimeError(f"DAG path consumed {routed['consumed']} of {messages}, {routed['dead_lettered']} to DLQ")
        samples["dag_consume"].append(seconds)

        native_topic = topic("native")
        seconds, report = _timed(lambda t=native_topic: run_java(
            "org.apache.kafka.tools.ProducerPerformance", "--topic", t, "--num-records", str(messages),
            "--record-size", str(record_size), "--throughput", "-1",
            "--producer-props", f"bootstrap.servers={kafka.bootstrap()}", "acks=all"))
        samples["native_produce_wall"].append(seconds)
        samples["native_produce"].append(messages / producer_rate(report))
        seconds, report = _timed(lambda t=native_topic: run_java(
            "org.apache.kafka.tools.ConsumerPerformance", "--bootstrap-server", kafka.bootstrap(), "--topic", t,
            "--messages", str(messages), "--timeout", "300000"))
        samples["native_consume_wall"].append(seconds)
        samples["native_consume"].append(messages / consumer_rate(report))
        print(f"kafka round {round_no + 1}/{repeat}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in samples.items()), file=sys.stderr)
    out: dict[str, Any] = {"messages": messages, "record_size": record_size}
    for key, values in samples.items():
        out[key] = _stats(values)
    out["produce_ratio"] = out["dag_produce"]["median_s"] / out["native_produce"]["median_s"]
    out["consume_ratio"] = out["dag_consume"]["median_s"] / out["native_consume"]["median_s"]
    return out


def to_markdown(pg: dict[str, Any], kf: dict[str, Any], repeat: int) -> str:
    def row(name: str, s: dict[str, float], count: int) -> str:
        return f"| {name} | {s['median_s']:.2f} s | {s['min_s']:.2f}–{s['max_s']:.2f} s | {count / s['median_s']:,.0f}/s |"

    return "\n".join([
        "## Data movement against native tools",
        "",
        f"Same rows and the same local services, {repeat} alternating runs per side. For Kafka's tools the figure is the "
        "rate they report themselves (JVM start-up excluded); their wall time, start-up included, is shown beside it.",
        "",
        f"### Postgres: {pg['rows']:,} orders",
        "",
        "| path | median | min–max | throughput |",
        "| --- | ---: | ---: | ---: |",
        row("DAG load (`common.warehouse.load_batch`, one transaction, idempotent upsert)", pg["dag_load"], pg["rows"]),
        row("`psql \\copy` from CSV", pg["psql_copy"], pg["rows"]),
        "",
        f"**Ratio DAG / native: {pg['ratio']:.2f}×** (goal ≤ 2×)",
        "",
        f"### Kafka: {kf['messages']:,} order events of {kf['record_size']} bytes on average (the DAG's own payloads)",
        "",
        "| path | median | min–max | throughput |",
        "| --- | ---: | ---: | ---: |",
        row("DAG produce (`produce_batch`, delivery reports)", kf["dag_produce"], kf["messages"]),
        row("`ProducerPerformance` (kafka-producer-perf-test), its own rate", kf["native_produce"], kf["messages"]),
        row("`ProducerPerformance`, wall time with JVM start-up", kf["native_produce_wall"], kf["messages"]),
        row("DAG consume (`consume_and_route`, validation + DLQ)", kf["dag_consume"], kf["messages"]),
        row("`ConsumerPerformance` (kafka-consumer-perf-test), its own rate", kf["native_consume"], kf["messages"]),
        row("`ConsumerPerformance`, wall time with JVM start-up", kf["native_consume_wall"], kf["messages"]),
        "",
        f"**Ratios DAG / native: produce {kf['produce_ratio']:.2f}×, consume {kf['consume_ratio']:.2f}×** (goal ≤ 2×)",
        "",
    ])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000, help="orders to load (default 100000)")
    parser.add_argument("--messages", type=int, default=100_000, help="Kafka messages (default 100000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per side (default 3)")
    parser.add_argument("--only", choices=("postgres", "kafka"), help="run one half only (the report needs both)")
    parser.add_argument("--markdown", type=Path, help="write the report section here")
    parser.add_argument("--json", type=Path, help="write the figures as JSON here")
    args = parser.parse_args()
    if min(args.rows, args.messages, args.repeat) < 1:
        parser.error("--rows, --messages and --repeat must be at least 1")
    _connection_env()
    if args.only:
        result = bench_postgres(args.rows, args.repeat) if args.only == "postgres" else bench_kafka(args.messages, args.repeat)
        print(json.dumps(result, indent=2))
        return 0
    pg = bench_postgres(args.rows, args.repeat)
    kf = bench_kafka(args.messages, args.repeat)
    markdown = to_markdown(pg, kf, args.repeat)
    print(markdown)
    for target, text in ((args.markdown, markdown), (args.json, json.dumps({"postgres": pg, "kafka": kf}, indent=2))):
        if target:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
