"""Where the cluster tooling finds things: the repo, the tools cache every clone shares, and `../shared`."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def tools_root() -> Path:
    """The tools cache shared by every clone: `$AIRFLOW_PLATFORM_TOOLS` or ~/.cache/airflow-platform/tools."""
    raw = os.environ.get("AIRFLOW_PLATFORM_TOOLS")
    return Path(raw) if raw else Path.home() / ".cache" / "airflow-platform" / "tools"


def shared_dir() -> Path | None:
    """`../shared` beside the checkout (CI lays it there), else the workplace copy; None when neither exists."""
    for candidate in (REPO.parent / "shared", Path("/work/shared")):
        if candidate.is_dir():
            return candidate
    return None


def charts_dir() -> Path | None:
    """The pinned charts as `helm package` tarballs (`../shared/charts`, see its SOURCE.md)."""
    shared = shared_dir()
    return shared / "charts" if shared and (shared / "charts").is_dir() else None
