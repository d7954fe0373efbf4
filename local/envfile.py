"""`.local/airflow.env`: AIRFLOW_CONN_* (JSON form) and AIRFLOW_VAR_* so `dag.test()`, tests and the Airflow processes share one set."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from local import connections, paths

PATH = paths.HOME / "airflow.env"


def write(path: Path = PATH) -> dict[str, str]:
    """Write the env file (mode 600: it holds generated passwords) and return its variables."""
    env = connections.environment()
    paths.ensure_dirs()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("# Written by ./platform up from dags/phase*/needs.yaml and the local endpoints. Do not edit.\n")
        for key, value in env.items():
            handle.write(f"export {key}={shlex.quote(value)}\n")
    return env


def read(path: Path = PATH) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export "):].partition("=")
            env[key] = shlex.split(value)[0] if value else ""
    return env
