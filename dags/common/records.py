"""Record validation that never drops anything: every input ends up either accepted or quarantined with its reasons."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Validator = Callable[[Mapping[str, Any]], list[str]]


@dataclass
class Split:
    valid: list[dict[str, Any]] = field(default_factory=list)
    quarantined: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.valid) + len(self.quarantined)


def split_records(records: Iterable[Any], validate: Validator) -> Split:
    """Accepted records unchanged; rejected ones as {"record": ..., "reasons": [...]}. Non-dict inputs are rejected too."""
    split = Split()
    for record in records:
        if not isinstance(record, Mapping):
            split.quarantined.append({"record": record, "reasons": [f"not an object: {type(record).__name__}"]})
            continue
        reasons = validate(record)
        if reasons:
            split.quarantined.append({"record": dict(record), "reasons": reasons})
        else:
            split.valid.append(dict(record))
    return split


def require_fields(record: Mapping[str, Any], types: Mapping[str, type | tuple[type, ...]]) -> list[str]:
    """Reasons for missing, null or wrongly typed fields (bool is not accepted as a number)."""
    reasons: list[str] = []
    for name, expected in types.items():
        value = record.get(name)
        if value is None:
            reasons.append(f"{name}: missing")
        elif isinstance(value, bool) and bool not in (expected if isinstance(expected, tuple) else (expected,)):
            reasons.append(f"{name}: expected {_type_names(expected)}, got bool")
        elif not isinstance(value, expected):
            reasons.append(f"{name}: expected {_type_names(expected)}, got {type(value).__name__}")
    return reasons


def _type_names(expected: type | tuple[type, ...]) -> str:
    types = expected if isinstance(expected, tuple) else (expected,)
    return "|".join(t.__name__ for t in types)


def write_quarantine(directory: Path, batch_id: str, rejected: list[dict[str, Any]]) -> Path:
    """Append rejected records as JSON lines to <directory>/<batch_id>.jsonl; the path is returned for the audit trail."""
    safe_batch = "".join(c if c.isalnum() or c in "-_." else "_" for c in batch_id)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{safe_batch}.jsonl"
    with path.open("a", encoding="utf-8") as handle:
        for item in rejected:
            handle.write(json.dumps(item, sort_keys=True, default=str) + "\n")
    return path


QUARANTINE_DIR_ENV = "PLATFORM_QUARANTINE_DIR"


def quarantine_dir(dag_id: str) -> Path:
    """Where file quarantines live: $PLATFORM_QUARANTINE_DIR (shared storage in a deployment) or $AIRFLOW_HOME/quarantine."""
    import os

    root = os.environ.get(QUARANTINE_DIR_ENV) or str(Path(os.environ.get("AIRFLOW_HOME", ".")) / "quarantine")
    return Path(root) / dag_id
