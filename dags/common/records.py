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


def safe_file_name(name: str) -> str:
    """Run ids contain ':' and '+'; keep file names portable across filesystems and object stores."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def write_quarantine(rows: Iterable[Mapping[str, Any]], directory: str | Path, name: str) -> Path | None:
    """The quarantined rows of one batch as JSON lines in `<directory>/<name>.jsonl` (name made file-safe).

    Idempotent: the file is written whole to a temporary name and renamed over the batch's file, so a retried task
    replaces what its earlier try wrote (never duplicates it) and a reader never sees half a file. No rows: no file
    (an earlier try's file is removed), and None is returned; else the path, for the audit trail."""
    target = Path(directory) / f"{safe_file_name(name)}.jsonl"
    items = [json.dumps(dict(row), sort_keys=True, default=str) for row in rows]
    if not items:
        target.unlink(missing_ok=True)
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".jsonl.partial")
    partial.write_text("".join(f"{line}\n" for line in items), encoding="utf-8")
    partial.replace(target)
    return target


QUARANTINE_DIR_ENV = "PLATFORM_QUARANTINE_DIR"


def quarantine_dir(dag_id: str) -> Path:
    """Where file quarantines live: $PLATFORM_QUARANTINE_DIR (shared storage in a deployment) or $AIRFLOW_HOME/quarantine."""
    import os

    root = os.environ.get(QUARANTINE_DIR_ENV) or str(Path(os.environ.get("AIRFLOW_HOME", ".")) / "quarantine")
    return Path(root) / dag_id
