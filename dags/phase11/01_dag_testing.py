"""Phase 11 · DAG testing: a pipeline written to be tested.

Teaches:
- Business logic lives in plain functions (common.revenue) with no Airflow imports: unit-tested with pytest alone
  (tests/common/test_revenue.py), fast and exhaustive.
- The DAG file is thin wiring: tasks call those functions, so the DAG tests (tests/dags/test_phase11.py) check
  structure — imports, task ids, dependencies, no cycles, default_args — and run the whole DAG with `dag.test()`.
- Inputs come through Params (overridable per run), so tests feed edge cases without touching files.
- Rejected lines are returned as data (a reject list), so a test can assert on them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow.sdk import DAG, Param, task

from common.defaults import platform_default_args

SAMPLE_LINES = [
    "order_id,customer,amount,currency",
    "A1,acme,100.00,EUR",
    "A2,acme,50.50,USD",
    "A3,globex,75.25,EUR",
    "A4,initech,-5,EUR",
    "A3,globex,75.25,EUR",
]


@task
def extract(params: dict[str, Any] | None = None) -> list[str]:
    return list((params or {})["lines"])


@task
def parse(lines: list[str]) -> dict[str, Any]:
    from common.revenue import parse_lines

    orders, rejects = parse_lines(lines)
    return {
        "orders": [{"order_id": o.order_id, "customer": o.customer, "amount": str(o.amount), "currency": o.currency} for o in orders],
        "rejects": rejects,
    }


@task
def aggregate(parsed: dict[str, Any], params: dict[str, Any] | None = None) -> dict[str, str]:
    from decimal import Decimal

    from common.resilience import no_retry_on
    from common.revenue import Order, revenue_by_customer

    rates = {code: Decimal(str(rate)) for code, rate in (params or {})["rates_to_eur"].items()}
    orders = [Order(o["order_id"], o["customer"], Decimal(o["amount"]), o["currency"]) for o in parsed["orders"]]
    with no_retry_on(KeyError):  # a currency without a rate stays without one on the next try
        totals = revenue_by_customer(orders, rates)
    return {customer: str(total) for customer, total in totals.items()}


@task
def report(totals: dict[str, str], parsed: dict[str, Any], params: dict[str, Any] | None = None) -> dict[str, Any]:
    from decimal import Decimal

    from common.revenue import top_customers

    ranking = top_customers({c: Decimal(v) for c, v in totals.items()}, (params or {})["top_n"])
    return {"top": [list(pair) for pair in ranking], "rejected": len(parsed["rejects"])}


# Not common.dag_header.platform_dag: phase11_02 deploys this folder's files flat into releases/<version>/, where
# an id derived from a phaseN/ parent folder could not be found, so these two DAGs name their ids themselves.
with DAG(
    dag_id="phase11_01_dag_testing",
    description="Thin DAG over pure functions: unit tests, structure tests and dag.test()",
    doc_md=__doc__,
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    default_args=platform_default_args("platform-quality"),
    tags=["phase11", "testing", "severity:P4", "team:platform"],
    params={
        "lines": Param(SAMPLE_LINES, type="array", items={"type": "string"}),
        "rates_to_eur": Param({"EUR": 1.0, "USD": 0.9}, type="object"),
        "top_n": Param(2, type="integer", minimum=1),
    },
) as dag:
    parsed = parse(extract())
    report(aggregate(parsed), parsed)
