"""Where the local platform keeps its state: everything lives under `.local/` at the repo root (or $LOCAL_PLATFORM_HOME)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HOME = Path(os.environ.get("LOCAL_PLATFORM_HOME") or REPO / ".local")
OPT = HOME / "opt"  # installed software (jars, go binaries, npm packages)
BIN = OPT / "bin"
DATA = HOME / "data"  # service state that survives restarts
RUN = HOME / "run"  # pid files
LOGS = HOME / "logs"
SECRETS = HOME / "secrets"
VENV_BIN = REPO / ".venv" / "bin"
PYTHON = VENV_BIN / "python"


def ensure_dirs() -> None:
    for directory in (OPT, BIN, DATA, RUN, LOGS):
        directory.mkdir(parents=True, exist_ok=True)
    SECRETS.mkdir(parents=True, exist_ok=True)
    SECRETS.chmod(0o700)
