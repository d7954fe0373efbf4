"""Churn data for the phase 18 MLOps DAGs: customer records with a real feature → churn relationship, validation
that quarantines instead of dropping, and the feature matrix the models are trained and scored on.

`customer_batch` draws customers whose churn follows a fixed logistic relationship (short tenure, many support
tickets and high spend raise churn), so a model that uses more of the signal really is better, drift is a real
change of the feature distributions (`shift`), and a labelling bug (`label_bug_min_tickets`: customers with that
many tickets exported as retained — a broken join) produces a model that looks fine offline and fails on traffic.
numpy is imported inside the functions so DAG files stay light to parse.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

FEATURES = ("tenure_months", "monthly_spend", "support_tickets")
LABEL = "churned"


def customer_batch(n: int, *, seed: int, shift: float = 0.0, prefix: str = "c",
                   label_bug_min_tickets: int | None = None, bug_fraction: float = 1.0) -> list[dict[str, Any]]:
    """`n` customers in arrival order (`seq`), each with the three features and the observed churn outcome.

    `shift` moves the population (shorter tenure, higher spend, more tickets); the churn relationship stays the same.
    `label_bug_min_tickets` mislabels customers with at least that many tickets as retained in the first
    `bug_fraction` of the batch (the export bug was fixed afterwards, so later outcomes are true again).
    """
    import numpy as np

    if n < 1:
        raise ValueError("a batch needs at least one customer")
    rng = np.random.default_rng(seed)
    tenure = np.clip(rng.gamma(2.0, 12.0, n) * (1 - 0.5 * shift), 1, 120).round(1)
    spend = rng.lognormal(3.6 + 0.4 * shift, 0.4, n).round(2)
    tickets = rng.poisson(max(0.1, 1.2 + 1.5 * shift), n)
    logit = 0.4 - 0.07 * tenure + 0.9 * tickets + 0.01 * (spend - 40)
    churned = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    rows = []
    for i in range(n):
        label = int(churned[i])
        if label_bug_min_tickets is not None and i < n * bug_fraction and tickets[i] >= label_bug_min_tickets:
            label = 0
        rows.append({"customer_id": f"{prefix}{i:06d}", "seq": i, "tenure_months": float(tenure[i]),
                     "monthly_spend": float(spend[i]), "support_tickets": int(tickets[i]), LABEL: label})
    return rows


def with_bad_records(rows: Sequence[Mapping[str, Any]], prefix: str = "bad") -> list[dict[str, Any]]:
    """The batch plus the broken records real exports contain: a null, a negative, a string, a missing label."""
    bad = [
        {"customer_id": f"{prefix}-null-tenure", "tenure_months": None, "monthly_spend": 30.0, "support_tickets": 1, LABEL: 0},
        {"customer_id": f"{prefix}-negative-spend", "tenure_months": 12.0, "monthly_spend": -5.0, "support_tickets": 0, LABEL: 0},
        {"customer_id": f"{prefix}-text-tickets", "tenure_months": 3.0, "monthly_spend": 50.0, "support_tickets": "n/a", LABEL: 1},
        {"customer_id": f"{prefix}-no-label", "tenure_months": 7.0, "monthly_spend": 20.0, "support_tickets": 2},
    ]
    out = [dict(r) for r in rows]
    for i, record in enumerate(bad):  # spread through the batch, not appended where a filter might skip them
        out.insert(min(len(out), (i + 1) * max(1, len(out) // (len(bad) + 1))), record)
    return out


def feature_problems(record: Mapping[str, Any], *, labelled: bool = True) -> list[str]:
    """Why a record can't be used (empty list: it can). Features must be finite, non-negative numbers."""
    problems: list[str] = []
    if not record.get("customer_id"):
        problems.append("customer_id: missing")
    for name in FEATURES:
        value = record.get(name)
        if value is None:
            problems.append(f"{name}: missing")
        elif isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(f"{name}: expected a number, got {type(value).__name__}")
        elif not math.isfinite(value) or value < 0:
            problems.append(f"{name}: {value} is not a finite non-negative number")
    if labelled and record.get(LABEL) not in (0, 1):
        problems.append(f"{LABEL}: expected 0 or 1, got {record.get(LABEL)!r}")
    return problems


def split_valid(records: Sequence[Any], *, labelled: bool = True) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(valid records, quarantined {"record", "reasons"}); every input lands in exactly one of the two."""
    valid, quarantined = [], []
    for record in records:
        if not isinstance(record, Mapping):
            quarantined.append({"record": record, "reasons": [f"not an object: {type(record).__name__}"]})
            continue
        problems = feature_problems(record, labelled=labelled)
        if problems:
            quarantined.append({"record": dict(record), "reasons": problems})
        else:
            valid.append(dict(record))
    return valid, quarantined


def matrix(records: Sequence[Mapping[str, Any]], features: Sequence[str] = FEATURES) -> Any:
    import numpy as np

    unknown = sorted(set(features) - set(FEATURES))
    if unknown:
        raise ValueError(f"unknown feature(s) {unknown}; known: {list(FEATURES)}")
    return np.asarray([[float(r[f]) for f in features] for r in records], dtype=float).reshape(len(records), len(features))


def labels(records: Sequence[Mapping[str, Any]]) -> list[int]:
    return [int(r[LABEL]) for r in records]


def columns(records: Sequence[Mapping[str, Any]], features: Sequence[str] = FEATURES) -> dict[str, list[float]]:
    """Feature name → values: the shape common.drift compares."""
    return {f: [float(r[f]) for r in records] for f in features}


def time_split(records: Sequence[Mapping[str, Any]], train_fraction: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Earlier records train, later ones are the traffic that follows: split by arrival order, never shuffled."""
    if not 0 < train_fraction < 1:
        raise ValueError(f"train_fraction must be in (0, 1), got {train_fraction}")
    ordered = sorted(records, key=lambda r: (r.get("seq", 0), r["customer_id"]))
    cut = int(len(ordered) * train_fraction)
    if cut == 0 or cut == len(ordered):
        raise ValueError(f"{len(ordered)} records can't be split {train_fraction:.0%} / {1 - train_fraction:.0%}")
    return [dict(r) for r in ordered[:cut]], [dict(r) for r in ordered[cut:]]


class BatchError(ValueError):
    """The batch an asset event points to is missing, or is not the data the producer announced."""


def read_event_batch(extra: Mapping[str, Any]) -> list[Any]:
    """The records behind an asset event: extra["path"] (JSON lines), checked against extra["sha256"] and ["rows"].

    A line that isn't JSON is returned as its raw text, so the caller quarantines it instead of losing it.
    """
    import hashlib
    import json
    from pathlib import Path

    path = extra.get("path")
    if not path:
        raise BatchError(f"the event carries no batch path (extra: {dict(extra)!r})")
    file = Path(str(path))
    if not file.is_file():
        raise BatchError(f"batch {file} announced by the event does not exist")
    body = file.read_bytes()
    if extra.get("sha256") and hashlib.sha256(body).hexdigest() != extra["sha256"]:
        raise BatchError(f"batch {file} does not match the sha256 in the event: changed after it was announced")
    records: list[Any] = []
    for line in body.decode().splitlines():
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            records.append(line)
    if extra.get("rows") is not None and int(extra["rows"]) != len(records):
        raise BatchError(f"batch {file} has {len(records)} records, the event announced {extra['rows']}")
    return records
