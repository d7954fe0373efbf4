"""The teaching domain of the fundamentals phases: a day's orders, generated deterministically from the date.

Generating (not fetching) keeps phases 1-5 free of external systems while the tasks still move real data
through XCom; invalid orders are split off with their reasons so they can be quarantined, never dropped.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

REGIONS = ("us", "eu", "apac")

Order = dict[str, Any]


def sample_orders(ds: str, count: int, *, bad_every: int = 0) -> list[Order]:
    """`count` orders for day `ds` (YYYY-MM-DD); the same inputs always give the same orders.

    With `bad_every=n`, every n-th order is malformed (negative amount or unknown region) so the
    validation path has something to catch.
    """
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    rng = random.Random(f"{ds}:{count}")
    day = ds.replace("-", "")
    orders: list[Order] = []
    for index in range(count):
        order: Order = {
            "order_id": f"{day}-{index:04d}",
            "region": REGIONS[index % len(REGIONS)],
            "amount": round(rng.uniform(5, 500), 2),
            "quantity": rng.randint(1, 5),
        }
        if bad_every and (index + 1) % bad_every == 0:
            if (index // bad_every) % 2 == 0:
                order["amount"] = -order["amount"]
            else:
                order["region"] = "atlantis"
        orders.append(order)
    return orders


def order_problems(order: Mapping[str, Any]) -> list[str]:
    """Why an order is invalid; empty when it is fine."""
    problems: list[str] = []
    for field in ("order_id", "region", "amount", "quantity"):
        if field not in order:
            problems.append(f"missing field {field}")
    if "region" in order and order["region"] not in REGIONS:
        problems.append(f"unknown region {order['region']!r}")
    amount = order.get("amount")
    if amount is not None and (not isinstance(amount, (int, float)) or amount <= 0):
        problems.append(f"amount must be positive, got {amount!r}")
    quantity = order.get("quantity")
    if quantity is not None and (not isinstance(quantity, int) or quantity < 1):
        problems.append(f"quantity must be a positive integer, got {quantity!r}")
    return problems


def split_valid(orders: Iterable[Mapping[str, Any]]) -> tuple[list[Order], list[Order]]:
    """(valid orders, quarantined orders each carrying its `problems`); nothing is dropped."""
    valid: list[Order] = []
    quarantined: list[Order] = []
    for order in orders:
        problems = order_problems(order)
        if problems:
            quarantined.append({**order, "problems": problems})
        else:
            valid.append(dict(order))
    return valid, quarantined


def region_revenue(orders: Iterable[Mapping[str, Any]], region: str) -> float:
    if region not in REGIONS:
        raise ValueError(f"region {region!r} is not one of {', '.join(REGIONS)}")
    return round(sum(order["amount"] for order in orders if order["region"] == region), 2)


def summarize(orders: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Count, revenue and revenue per region."""
    return {
        "count": len(orders),
        "revenue": round(sum(order["amount"] for order in orders), 2),
        "by_region": {region: region_revenue(orders, region) for region in REGIONS},
    }


def combine_region_totals(totals: Mapping[str, float]) -> float:
    """Fan-in: every region must have reported exactly once before the totals are added up."""
    missing = sorted(set(REGIONS) - set(totals))
    unknown = sorted(set(totals) - set(REGIONS))
    if missing or unknown:
        raise ValueError(f"region totals incomplete: missing {missing}, unknown {unknown}")
    return round(sum(totals.values()), 2)


def chunk(items: Sequence[Any], size: int) -> list[list[Any]]:
    """Split into consecutive batches of at most `size` (the unit a mapped task processes)."""
    if size < 1:
        raise ValueError(f"batch size must be at least 1, got {size}")
    return [list(items[start : start + size]) for start in range(0, len(items), size)]


