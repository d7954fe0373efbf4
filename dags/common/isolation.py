"""Where isolated task interpreters live: the cache directory of `@task.virtualenv` environments.

A virtualenv task builds its environment from its requirements on first use and, with `venv_cache_path`, reuses it
on later runs on the same worker (keyed by a hash of requirements, Python version and options), instead of paying
for a fresh environment on every try. The cache sits under AIRFLOW_HOME so every worker of an image agrees on it.
"""

from __future__ import annotations

import os
from pathlib import Path


def venv_cache_dir() -> str:
    """$AIRFLOW_HOME/venvs (AIRFLOW_HOME defaults to ~/airflow, as in Airflow itself)."""
    home = os.environ.get("AIRFLOW_HOME") or str(Path.home() / "airflow")
    return str(Path(home) / "venvs")
