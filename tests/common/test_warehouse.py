from __future__ import annotations

import json

import pytest

from common.warehouse import order_rows, quarantine_rows, reconcile


def test_rows_carry_the_batch_date_and_quarantine_keeps_the_reasons():
    order = {"order_id": "1", "region": "eu", "amount": 5.0, "quantity": 2}
    assert order_rows("2026-01-01", [order]) == [{**order, "batch_date": "2026-01-01"}]
    ((batch, record, reasons),) = quarantine_rows(
        "2026-01-01", [{**order, "amount": -1, "problems": ["amount must be positive"]}]
    )
    assert batch == "2026-01-01" and json.loads(record)["amount"] == -1 and reasons == ["amount must be positive"]


def test_reconcile_accepts_matching_counts_and_names_mismatches():
    assert reconcile((45, 5, 45, 5), "2026-01-01") == {"orders": 45, "quarantined": 5}
    with pytest.raises(ValueError, match="audit says 45 loaded/5 quarantined, tables hold 90/5"):
        reconcile((45, 5, 90, 5), "2026-01-01")
    with pytest.raises(ValueError, match="no audit row for batch 2026-01-02"):
        reconcile(None, "2026-01-02")
