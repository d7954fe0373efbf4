"""Warehouse tables of the phase 18 MLOps DAGs (Postgres): the customers an experiment trains on and serves, the
outcomes that arrive after serving, the prediction log, and the quarantine.

Every writer replaces what it owns (an experiment's cohort, a run's quarantine) inside the caller's transaction,
so a retried task never duplicates rows. Functions take a DB-API connection (PostgresHook(...).get_conn()).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from common.churn_data import FEATURES

DDL = """
CREATE TABLE IF NOT EXISTS ml_churn_customers (
    experiment      TEXT NOT NULL,
    customer_id     TEXT NOT NULL,
    cohort          TEXT NOT NULL CHECK (cohort IN ('training', 'experiment')),
    seq             INTEGER NOT NULL,
    tenure_months   DOUBLE PRECISION NOT NULL,
    monthly_spend   DOUBLE PRECISION NOT NULL,
    support_tickets DOUBLE PRECISION NOT NULL,
    churned         SMALLINT,
    PRIMARY KEY (experiment, customer_id)
);
CREATE TABLE IF NOT EXISTS ml_churn_outcomes (
    experiment  TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    churned     SMALLINT NOT NULL CHECK (churned IN (0, 1)),
    PRIMARY KEY (experiment, customer_id)
);
CREATE TABLE IF NOT EXISTS ml_ab_predictions (
    experiment    TEXT NOT NULL,
    request_id    TEXT NOT NULL,
    customer_id   TEXT NOT NULL,
    variant       TEXT NOT NULL,
    model_version TEXT NOT NULL,
    score         DOUBLE PRECISION NOT NULL,
    predicted     SMALLINT NOT NULL,
    outcome       SMALLINT,
    run_id        TEXT NOT NULL,
    scored_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (experiment, request_id)
);
CREATE TABLE IF NOT EXISTS ml_quarantine (
    id             BIGSERIAL PRIMARY KEY,
    dag_id         TEXT NOT NULL,
    run_id         TEXT NOT NULL,
    source         TEXT NOT NULL,
    record         JSONB NOT NULL,
    reasons        TEXT[] NOT NULL,
    quarantined_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
"""


def ensure_tables(conn: Any) -> None:
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(1818)")  # concurrent first runs must not race on CREATE TABLE
        cur.execute(DDL)


def replace_customers(conn: Any, experiment: str, cohort: str, rows: Sequence[Mapping[str, Any]]) -> int:
    """The cohort's customers, replaced as a whole. Experiment customers are stored without their label."""
    with conn.cursor() as cur:
        cur.execute("DELETE FROM ml_churn_customers WHERE experiment = %s AND cohort = %s", (experiment, cohort))
        cur.executemany(
            "INSERT INTO ml_churn_customers (experiment, customer_id, cohort, seq, tenure_months, monthly_spend,"
            " support_tickets, churned) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            [(experiment, r["customer_id"], cohort, int(r.get("seq", 0)), *(float(r[f]) for f in FEATURES),
              r["churned"] if cohort == "training" else None) for r in rows])
    return len(rows)


def replace_outcomes(conn: Any, experiment: str, outcomes: Mapping[str, int]) -> int:
    """Observed churn of the experiment's customers (known only after they were served)."""
    with conn.cursor() as cur:
        cur.execute("DELETE FROM ml_churn_outcomes WHERE experiment = %s", (experiment,))
        cur.executemany("INSERT INTO ml_churn_outcomes (experiment, customer_id, churned) VALUES (%s, %s, %s)",
                        [(experiment, cid, int(v)) for cid, v in outcomes.items()])
    return len(outcomes)


def load_customers(conn: Any, experiment: str, cohort: str) -> list[dict[str, Any]]:
    cols = ("customer_id", "seq", *FEATURES, "churned")
    with conn.cursor() as cur:
        cur.execute(f"SELECT {', '.join(cols)} FROM ml_churn_customers WHERE experiment = %s AND cohort = %s"
                    " ORDER BY seq, customer_id", (experiment, cohort))
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


def replace_quarantine(conn: Any, dag_id: str, run_id: str, source: str, items: Sequence[Mapping[str, Any]]) -> int:
    """A run's quarantined records for one source, replaced on retry (never appended twice, never dropped)."""
    with conn.cursor() as cur:
        cur.execute("DELETE FROM ml_quarantine WHERE dag_id = %s AND run_id = %s AND source = %s", (dag_id, run_id, source))
        cur.executemany(
            "INSERT INTO ml_quarantine (dag_id, run_id, source, record, reasons) VALUES (%s, %s, %s, %s::jsonb, %s)",
            [(dag_id, run_id, source, json.dumps(i["record"], default=str, sort_keys=True), list(i["reasons"]))
             for i in items])
    return len(items)


def quarantined(conn: Any, dag_id: str, run_id: str) -> list[dict[str, Any]]:
    with conn.cursor() as cur:
        cur.execute("SELECT source, record, reasons FROM ml_quarantine WHERE dag_id = %s AND run_id = %s ORDER BY id",
                    (dag_id, run_id))
        return [{"source": s, "record": r, "reasons": list(reasons)}  # the driver decodes JSONB
                for s, r, reasons in cur.fetchall()]


def replace_predictions(conn: Any, experiment: str, run_id: str, predictions: Sequence[Mapping[str, Any]]) -> int:
    """The experiment's prediction log (one row per served request), replaced when the experiment is re-run."""
    with conn.cursor() as cur:
        cur.execute("DELETE FROM ml_ab_predictions WHERE experiment = %s", (experiment,))
        cur.executemany(
            "INSERT INTO ml_ab_predictions (experiment, request_id, customer_id, variant, model_version, score,"
            " predicted, run_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            [(experiment, p["request_id"], p["customer_id"], p["variant"], str(p["model_version"]), float(p["score"]),
              int(p["predicted"]), run_id) for p in predictions])
    return len(predictions)


def attach_outcomes(conn: Any, experiment: str) -> dict[str, int]:
    """Join the observed outcomes onto the logged predictions; predictions still waiting for one stay NULL."""
    with conn.cursor() as cur:
        cur.execute(
            "UPDATE ml_ab_predictions p SET outcome = o.churned FROM ml_churn_outcomes o"
            " WHERE p.experiment = %s AND o.experiment = p.experiment AND o.customer_id = p.customer_id",
            (experiment,))
        cur.execute("SELECT count(*) FILTER (WHERE outcome IS NOT NULL), count(*) FILTER (WHERE outcome IS NULL)"
                    " FROM ml_ab_predictions WHERE experiment = %s", (experiment,))
        joined, pending = cur.fetchone()
    return {"joined": int(joined), "pending": int(pending)}


def variant_outcomes(conn: Any, experiment: str) -> dict[str, dict[str, int]]:
    """Per variant, from the prediction log: requests with an outcome, and how many predictions were right."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT variant, count(*), count(*) FILTER (WHERE predicted = outcome) FROM ml_ab_predictions"
            " WHERE experiment = %s AND outcome IS NOT NULL GROUP BY variant ORDER BY variant", (experiment,))
        return {variant: {"users": int(n), "conversions": int(correct)} for variant, n, correct in cur.fetchall()}
