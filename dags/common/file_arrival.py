"""File-arrival helpers for sensors: where a day's file lands and when a landing directory is "ready".

Producers write `name.part` and rename to `name` when complete, so a sensor never picks up half a file.
"""

from __future__ import annotations

import os
from pathlib import Path

IN_PROGRESS_SUFFIXES = (".part", ".tmp")


def landing_file_name(dataset: str, ds_nodash: str, extension: str = "csv") -> str:
    """`orders`, `20260101` → `orders_20260101.csv`; rejects names that could escape the landing dir."""
    for label, value in (("dataset", dataset), ("ds_nodash", ds_nodash), ("extension", extension)):
        if not value or "/" in value or value.startswith("."):
            raise ValueError(f"{label} {value!r} must be a plain, non-empty file-name part")
    return f"{dataset}_{ds_nodash}.{extension}"


def ready_files(directory: str | Path, pattern: str = "*", min_bytes: int = 1) -> list[Path]:
    """Complete files in `directory` matching `pattern`: not in-progress, at least `min_bytes` long."""
    root = Path(directory)
    if not root.is_dir():
        return []
    return sorted(
        path
        for path in root.glob(pattern)
        if path.is_file() and path.suffix not in IN_PROGRESS_SUFFIXES and path.stat().st_size >= min_bytes
    )


def enough_files_arrived(directory: str | Path, expected: int, pattern: str = "*") -> bool:
    """The PythonSensor condition: at least `expected` complete files are present."""
    if expected < 1:
        raise ValueError(f"expected must be at least 1, got {expected}")
    return len(ready_files(directory, pattern)) >= expected


def write_atomically(path: str | Path, content: str) -> Path:
    """Write `path.part`, then rename: readers see either nothing or the whole file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    partial.write_text(content, encoding="utf-8")
    os.replace(partial, target)
    return target


def count_data_lines(path: str | Path) -> int:
    """Rows in a CSV landing file, header excluded."""
    lines = [line for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    return max(len(lines) - 1, 0)
