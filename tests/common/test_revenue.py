"""common.revenue: the pure business logic behind phase11_01_dag_testing, tested without Airflow."""

from __future__ import annotations

from decimal import Decimal

import pytest

from common.revenue import Order, OrderLineError, parse_lines, parse_order_line, revenue_by_customer, top_customers


def test_parse_a_valid_line() -> None:
    assert parse_order_line(" A1, acme ,10.50,usd") == Order("A1", "acme", Decimal("10.50"), "USD")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("A1,acme,10", "expected 4 fields"),
        (",acme,10,EUR", "order_id is empty"),
        ("A1,,10,EUR", "customer is empty"),
        ("A1,acme,ten,EUR", "amount 'ten' is not a number"),
        ("A1,acme,-1,EUR", "amount -1 is negative"),
        ("A1,acme,1,EURO", "currency 'EURO' is not an ISO 4217 code"),
    ],
)
def test_bad_lines_name_the_field(line: str, message: str) -> None:
    with pytest.raises(OrderLineError, match=message):
        parse_order_line(line)


def test_parse_lines_skips_header_and_blanks_and_rejects_duplicates() -> None:
    orders, rejects = parse_lines(["order_id,customer,amount,currency", "", "A1,a,1,EUR", "A1,a,1,EUR", "A2,b,x,EUR"])
    assert [o.order_id for o in orders] == ["A1"]
    assert [r["error"] for r in rejects] == ["duplicate order_id A1", "amount 'x' is not a number"]


def test_revenue_converts_currencies_and_rounds() -> None:
    orders = [Order("1", "a", Decimal("10"), "EUR"), Order("2", "a", Decimal("10"), "USD"), Order("3", "b", Decimal("1.005"), "EUR")]
    assert revenue_by_customer(orders, {"EUR": Decimal(1), "USD": Decimal("0.9")}) == {"a": Decimal("19.00"), "b": Decimal("1.00")}
    with pytest.raises(KeyError, match="no EUR rate for currency GBP"):
        revenue_by_customer([Order("1", "a", Decimal(1), "GBP")], {"EUR": Decimal(1)})


def test_top_customers_is_deterministic_on_ties() -> None:
    totals = {"b": Decimal("5"), "a": Decimal("5"), "c": Decimal("9")}
    assert top_customers(totals, 2) == [("c", "9"), ("a", "5")]
