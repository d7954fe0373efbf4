"""A small exchange-rate feed used by the exception-handling use case: a simulated upstream and its record rules."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from common.records import require_fields
from common.resilience import PermanentError, TransientError

# What the upstream returns when healthy; one record is malformed on purpose, as real feeds sometimes are.
UPSTREAM_RATES: list[dict[str, Any]] = [
    {"currency": "EUR", "rate": 0.92},
    {"currency": "GBP", "rate": 0.79},
    {"currency": "JPY", "rate": 151.3},
    {"currency": "CHF", "rate": "n/a"},
]


def fetch_primary(mode: str) -> list[dict[str, Any]]:
    """The upstream API: `mode` chooses its behaviour (ok, unavailable, invalid_credentials)."""
    if mode == "ok":
        return [dict(record) for record in UPSTREAM_RATES]
    if mode == "unavailable":
        raise TransientError("rates API answered 503 Service Unavailable")
    if mode == "invalid_credentials":
        raise PermanentError("rates API answered 401 Unauthorized: the API key was rejected")
    raise ValueError(f"primary_mode {mode!r} is not one of ok, unavailable, invalid_credentials")


def validate_rate(record: Mapping[str, Any]) -> list[str]:
    reasons = require_fields(record, {"currency": str, "rate": (int, float)})
    if not reasons:
        if len(record["currency"]) != 3 or not record["currency"].isupper():
            reasons.append(f"currency: {record['currency']!r} is not an ISO 4217 code")
        if record["rate"] <= 0:
            reasons.append(f"rate: {record['rate']} is not positive")
    return reasons


def load_last_good(saved: Any, where: str) -> list[dict[str, Any]]:
    """The fallback data; with nothing saved yet there is nothing to degrade to, and the error says where it looked."""
    if saved is None or saved == []:
        raise PermanentError(f"no fallback available: {where} is empty (no healthy run yet)")
    data = json.loads(saved) if isinstance(saved, str) else saved
    if not isinstance(data, list):
        raise PermanentError(f"{where} must hold a list of rates, got {type(data).__name__}")
    return data
