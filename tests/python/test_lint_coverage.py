"""ruff in ./platform test covers every folder of the repository that holds Python, so a new folder can't slip by."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NOT_OURS = {".venv", "node_modules", ".local", "dist", "out", ".git"}


def _python_folders() -> set[str]:
    return {
        path.relative_to(REPO).parts[0]
        for path in REPO.rglob("*.py")
        if len(path.relative_to(REPO).parts) > 1 and not NOT_OURS & set(path.relative_to(REPO).parts)
    }


def test_ruff_checks_every_python_folder() -> None:
    command = re.search(r"^check ruff \.venv/bin/ruff check (.+)$", (REPO / "scripts/test-all.sh").read_text(), re.MULTILINE)
    assert command, "scripts/test-all.sh has no `check ruff` line"
    checked = set(command.group(1).split())
    folders = _python_folders()
    assert {"dags", "local", "contract", "checklist"} <= folders
    assert folders - checked == set(), "folders with Python that ruff does not check"
