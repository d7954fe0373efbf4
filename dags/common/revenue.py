"""Revenue aggregation for the phase-11 testing use case: pure functions, so every rule is unit-tested alone.

The DAG only moves data between these functions; tests/common/test_revenue.py pins their behaviour.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

HEADER = ("order_id", "customer", "amount", "currency")


@dataclass(frozen=True)
class Order:
    order_id: str
    customer: str
    amount: Decimal
    currency: str


class OrderLineError(ValueError):
    """A line that cannot become an Order; the message names the field."""


def parse_order_line(line: str) -> Order:
    fields = [f.strip() for f in line.split(",")]
    if len(fields) != len(HEADER):
        raise OrderLineError(f"expected {len(HEADER)} fields {HEADER}, got {len(fields)}: {line!r}")
    order_id, customer, raw_amount, currency = fields
    if not order_id:
        raise OrderLineError(f"order_id is empty: {line!r}")
    if not customer:
        raise OrderLineError(f"customer is empty: {line!r}")
    try:
        amount = Decimal(raw_amount)
    except InvalidOperation as exc:
        raise OrderLineError(f"amount {raw_amount!r} is not a number") from exc
    if amount < 0:
        raise OrderLineError(f"amount {amount} is negative")
    if len(currency) != 3 or not currency.isalpha():
        raise OrderLineError(f"currency {currency!r} is not an ISO 4217 code")
    return Order(order_id, customer, amount, currency.upper())


def parse_lines(lines: Iterable[str]) -> tuple[list[Order], list[dict[str, str]]]:
    """(orders, rejects with their error); duplicates of an order_id are rejected, not double-counted."""
    orders: list[Order] = []
    rejects: list[dict[str, str]] = []
    seen: set[str] = set()
    for line in lines:
        if not line.strip() or line.startswith(HEADER[0]):
            continue
        try:
            order = parse_order_line(line)
        except OrderLineError as exc:
            rejects.append({"line": line, "error": str(exc)})
            continue
        if order.order_id in seen:
            rejects.append({"line": line, "error": f"duplicate order_id {order.order_id}"})
            continue
        seen.add(order.order_id)
        orders.append(order)
    return orders, rejects


def revenue_by_customer(orders: Iterable[Order], rates_to_eur: dict[str, Decimal]) -> dict[str, Decimal]:
    """Sum per customer in EUR; an unknown currency is an error naming it (never silently treated as EUR)."""
    totals: dict[str, Decimal] = {}
    for order in orders:
        if order.currency not in rates_to_eur:
            raise KeyError(f"no EUR rate for currency {order.currency} (order {order.order_id})")
        totals[order.customer] = totals.get(order.customer, Decimal(0)) + order.amount * rates_to_eur[order.currency]
    return {customer: total.quantize(Decimal("0.01")) for customer, total in totals.items()}


def top_customers(totals: dict[str, Decimal], n: int) -> Sequence[tuple[str, str]]:
    """Highest revenue first; ties broken by name so the result is deterministic."""
    ranked = sorted(totals.items(), key=lambda item: (-item[1], item[0]))
    return [(customer, str(total)) for customer, total in ranked[:n]]
