"""common.churn_data: the churn batches, validation that quarantines instead of dropping, event batches, splits."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from common import churn_data as cd
from common.drift import detect_drift


def test_batches_are_reproducible_and_churn_follows_the_features() -> None:
    batch = cd.customer_batch(4000, seed=1)
    assert batch == cd.customer_batch(4000, seed=1) and batch != cd.customer_batch(4000, seed=2)
    assert [r["seq"] for r in batch] == list(range(4000)) and cd.split_valid(batch)[1] == []
    many = [r["churned"] for r in batch if r["support_tickets"] >= 3]
    few = [r["churned"] for r in batch if r["support_tickets"] == 0]
    assert sum(many) / len(many) > sum(few) / len(few) + 0.3


def test_shift_is_real_drift_and_the_same_population_is_not() -> None:
    ref = cd.columns(cd.customer_batch(2000, seed=1))
    assert detect_drift(ref, cd.columns(cd.customer_batch(2000, seed=2))).status == "ok"
    shifted = detect_drift(ref, cd.columns(cd.customer_batch(2000, seed=3, shift=1.0)))
    assert shifted.status == "alert" and {f.feature for f in shifted.alerts} == set(cd.FEATURES)


def test_the_label_bug_only_touches_the_early_records_it_names() -> None:
    clean = cd.customer_batch(1000, seed=5, shift=1.0)
    buggy = cd.customer_batch(1000, seed=5, shift=1.0, label_bug_min_tickets=4, bug_fraction=0.5)
    changed = [i for i, (a, b) in enumerate(zip(clean, buggy, strict=True)) if a != b]
    assert changed and all(i < 500 and clean[i]["support_tickets"] >= 4 and buggy[i]["churned"] == 0 for i in changed)


def test_every_record_is_either_valid_or_quarantined_with_reasons() -> None:
    records = [*cd.with_bad_records(cd.customer_batch(20, seed=1)), "not json", {"customer_id": "b", "tenure_months": True}]
    valid, quarantined = cd.split_valid(records)
    assert len(valid) + len(quarantined) == len(records) == 26 and len(valid) == 20
    reasons = {json.dumps(q["record"], sort_keys=True, default=str): q["reasons"] for q in quarantined}
    assert any("tenure_months: missing" in r for r in reasons.values())
    assert any("monthly_spend: -5.0 is not a finite non-negative number" in r for r in reasons.values())
    assert any("support_tickets: expected a number, got str" in r for r in reasons.values())
    assert any("churned: expected 0 or 1, got None" in r for r in reasons.values())
    assert any(r == ["not an object: str"] for r in reasons.values())
    assert cd.feature_problems({"customer_id": "x", "tenure_months": 1, "monthly_spend": 2, "support_tickets": 0},
                               labelled=False) == []


def test_time_split_keeps_arrival_order() -> None:
    batch = cd.customer_batch(100, seed=1)
    train, later = cd.time_split(list(reversed(batch)), 0.6)
    assert [r["seq"] for r in train] == list(range(60)) and [r["seq"] for r in later] == list(range(60, 100))
    with pytest.raises(ValueError, match="train_fraction"):
        cd.time_split(batch, 1.0)


def test_matrix_rejects_unknown_features() -> None:
    assert cd.matrix(cd.customer_batch(3, seed=1), ["support_tickets"]).shape == (3, 1)
    with pytest.raises(ValueError, match=r"unknown feature\(s\) \['age'\]"):
        cd.matrix([], ["age"])


def _land(tmp_path: Path, lines: list[str]) -> dict:
    body = ("\n".join(lines) + "\n").encode()
    path = tmp_path / "batch.jsonl"
    path.write_bytes(body)
    return {"path": str(path), "rows": len(lines), "sha256": hashlib.sha256(body).hexdigest()}


def test_the_event_batch_is_read_only_if_it_is_what_the_event_announced(tmp_path: Path) -> None:
    extra = _land(tmp_path, [json.dumps(r) for r in cd.customer_batch(5, seed=1)] + ["{broken"])
    records = cd.read_event_batch(extra)
    assert len(records) == 6 and records[-1] == "{broken", "an unparsable line is kept for the quarantine"
    with pytest.raises(cd.BatchError, match="no batch path"):
        cd.read_event_batch({"model": "churn", "reason": "drift 0.3 > 0.2"})
    with pytest.raises(cd.BatchError, match="does not exist"):
        cd.read_event_batch({**extra, "path": str(tmp_path / "gone.jsonl")})
    with pytest.raises(cd.BatchError, match="announced 7"):
        cd.read_event_batch({**extra, "rows": 7})
    Path(extra["path"]).write_text(Path(extra["path"]).read_text().replace("c000000", "c999999"))
    with pytest.raises(cd.BatchError, match="sha256"):
        cd.read_event_batch(extra)
