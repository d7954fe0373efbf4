from __future__ import annotations

import pytest

from common.exchange_rates import fetch_primary, load_last_good, validate_rate
from common.order_report import check_bad_ratio, daily_facts
from common.resilience import PermanentError, TransientError


def test_daily_facts_count_everything():
    facts = daily_facts("2026-01-01", 60, 10)
    assert facts["orders"] == 60 and facts["valid"] + facts["quarantined"] == 60 and facts["quarantined"] == 6


def test_bad_ratio_limit_states_both_numbers():
    assert check_bad_ratio({"orders": 10, "quarantined": 1}, 0.2) == 0.1
    with pytest.raises(ValueError, match=r"50.0% of orders quarantined, above the 20.0% limit"):
        check_bad_ratio({"orders": 10, "quarantined": 5}, 0.2)


def test_exchange_rate_upstream_modes_and_rules():
    assert len(fetch_primary("ok")) == 4
    with pytest.raises(TransientError):
        fetch_primary("unavailable")
    with pytest.raises(PermanentError):
        fetch_primary("invalid_credentials")
    with pytest.raises(ValueError, match="'sideways'"):
        fetch_primary("sideways")
    assert validate_rate({"currency": "eur", "rate": -1}) == [
        "currency: 'eur' is not an ISO 4217 code",
        "rate: -1 is not positive",
    ]


def test_last_good_fallback_needs_saved_data():
    assert load_last_good([{"currency": "EUR", "rate": 1.0}], "x") == [{"currency": "EUR", "rate": 1.0}]
    assert load_last_good('[{"currency": "EUR", "rate": 1.0}]', "x")[0]["currency"] == "EUR"
    with pytest.raises(PermanentError, match="no fallback available: XCom 'k' is empty"):
        load_last_good(None, "XCom 'k'")
