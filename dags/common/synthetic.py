"""Deterministic synthetic order batches for the data-quality use cases (phase 10).

A seed makes every batch reproducible, so a quality or drift failure can be replayed exactly; the knobs inject
the defects the checks are meant to catch (null keys, out-of-range amounts, a shifted distribution).
"""

from __future__ import annotations

import random
from typing import Any

CHANNELS = ("web", "store", "partner")


def synthetic_orders(
    rows: int,
    *,
    seed: int = 0,
    null_ids: int = 0,
    out_of_range: int = 0,
    amount_shift: float = 0.0,
    amount_scale: float = 1.0,
) -> list[dict[str, Any]]:
    """`rows` orders; the first `null_ids` lose their order_id, the next `out_of_range` get a negative amount.

    Amounts are log-normal like real basket values; `amount_shift`/`amount_scale` move the distribution to
    simulate drift (a price change, a new market).
    """
    if rows < 0 or null_ids < 0 or out_of_range < 0 or null_ids + out_of_range > rows:
        raise ValueError(f"need 0 <= null_ids + out_of_range <= rows; got rows={rows}, null_ids={null_ids}, out_of_range={out_of_range}")
    rng = random.Random(seed)
    orders: list[dict[str, Any]] = []
    for i in range(rows):
        amount = round(rng.lognormvariate(3.5, 0.6) * amount_scale + amount_shift, 2)
        orders.append({
            "order_id": 100_000 + i,
            "customer_id": rng.randint(1, 500),
            "amount": amount,
            "quantity": rng.randint(1, 10),
            "channel": rng.choice(CHANNELS),
        })
    for order in orders[:null_ids]:
        order["order_id"] = None
    for order in orders[null_ids:null_ids + out_of_range]:
        order["amount"] = -abs(order["amount"]) - 1
    return orders


def columns(records: list[dict[str, Any]], names: list[str]) -> dict[str, list[Any]]:
    """Row records → column lists (what profiling and drift work on)."""
    return {name: [r.get(name) for r in records] for name in names}


def versioned_orders(rows: int, *, seed: int = 0, invalid: int = 0) -> list[dict[str, Any]]:
    """Orders written by producers on schema v1, v2 and v3 (round-robin); the last `invalid` records are broken:
    alternately a wrong-typed amount and an unknown schema version."""
    if not 0 <= invalid <= rows:
        raise ValueError(f"need 0 <= invalid <= rows; got rows={rows}, invalid={invalid}")
    records: list[dict[str, Any]] = []
    for i, order in enumerate(synthetic_orders(rows, seed=seed)):
        version = i % 3 + 1
        record: dict[str, Any] = {k: order[k] for k in ("order_id", "customer_id", "amount")}
        record["schema_version"] = version
        if version >= 2:
            record["currency"] = "USD" if i % 2 else "EUR"
        if version >= 3:
            record["channel"] = order["channel"]
        records.append(record)
    for n, record in enumerate(records[rows - invalid:]):
        if n % 2 == 0:
            record["amount"] = str(record["amount"])
        else:
            record["schema_version"] = 99
    return records
