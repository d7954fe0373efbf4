"""YAML-driven DAG generation with dag-factory 1.x, validated against a JSON schema, with env-var substitution.

`configs/dag_definitions.yaml` declares the DAG; `configs/dag_definitions.schema.json` is its contract.
Loading order: schema_version check → JSON-Schema validation (every bad field reported with its path) →
`${VAR:-default}` substitution → task-graph check → dag-factory builds the DAG. Any failure raises
FactoryConfigError naming the file and field, so the DagBag shows an import error for this file instead of
the DAG silently vanishing. (This file mentions `DAG` so Airflow's safe-mode parser reads it.)
"""

from __future__ import annotations

from pathlib import Path

from common.defaults import platform_default_args
from common.factory import build_dags

CONFIGS = Path(__file__).resolve().parent / "configs"

globals().update(
    build_dags(CONFIGS / "dag_definitions.yaml", CONFIGS / "dag_definitions.schema.json",
               platform_default_args("team-data-platform"))
)
