"""The daily order facts that the notification use cases report (email and Slack)."""

from __future__ import annotations

from typing import Any

from common.orders import sample_orders, split_valid


def daily_facts(ds: str, count: int, bad_every: int) -> dict[str, Any]:
    valid, rejected = split_valid(sample_orders(ds, count, bad_every=bad_every))
    return {
        "orders": len(valid) + len(rejected),
        "valid": len(valid),
        "quarantined": len(rejected),
        "revenue": round(sum(order["amount"] for order in valid), 2),
    }


def check_bad_ratio(facts: dict[str, Any], max_bad_ratio: float) -> float:
    """The share of quarantined orders; above the limit it is an error that states both numbers."""
    ratio = facts["quarantined"] / facts["orders"] if facts["orders"] else 0.0
    if ratio > max_bad_ratio:
        raise ValueError(f"{ratio:.1%} of orders quarantined, above the {max_bad_ratio:.1%} limit")
    return ratio
