"""Figures the cluster suites measure (releases rendered, objects validated and applied, workloads ready, the
engine's resource counts), collected while the tests run and printed by `./platform test` after pytest.

    .venv/bin/python -m cluster.figures            # print what the last test run recorded
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def figures_file() -> Path:
    return Path(os.environ.get("CLUSTER_FIGURES_FILE") or REPO / "out" / "test-results" / "cluster-figures.jsonl")


def record(section: str, stack: str, **values: object) -> None:
    """Appends one line of figures; a test records only what it has asserted."""
    file = figures_file()
    file.parent.mkdir(parents=True, exist_ok=True)
    with file.open("a") as out:
        out.write(json.dumps({"section": section, "stack": stack, **values}) + "\n")


def summary(file: Path | None = None) -> list[str]:
    file = file or figures_file()
    if not file.is_file():
        return []
    rows: dict[tuple[str, str], dict[str, object]] = {}
    for line in file.read_text().splitlines():
        entry = json.loads(line)
        rows.setdefault((entry.pop("section"), entry.pop("stack")), {}).update(entry)
    return [f"cluster {section} [{stack}]: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in values.items()) for (section, stack), values in rows.items()]


if __name__ == "__main__":
    lines = summary()
    print("\n".join(lines) if lines else "cluster: no figures recorded (the cluster suites did not run)")
    sys.exit(0)
