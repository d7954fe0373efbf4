"""The local harness's rendering of config/airflow-profile.json, the one definition of every Airflow setting that does
not depend on where Airflow runs.

`environment()` is the Python twin of `profileConfig()` in components/values/airflowProfile.ts: the same settings, as
AIRFLOW__SECTION__KEY variables instead of the chart's `config`. `differences()` compares two renderings (the chart's
config and the local environment, each as section → key → value) against the profile; tests/local/test_airflow_profile.py
runs it on the synthesized stacks and on local/services/airflow.py's environment().
"""

from __future__ import annotations

import json
from typing import Any

from local import paths

PROFILE_FILE = paths.REPO / "config" / "airflow-profile.json"

Sections = dict[str, dict[str, str]]


def load() -> dict[str, Any]:
    return json.loads(PROFILE_FILE.read_text())


def env_name(section: str, key: str) -> str:
    return f"AIRFLOW__{section.upper()}__{key.upper()}"


def environment(profile: dict[str, Any] | None = None) -> dict[str, str]:
    """The profile's settings as AIRFLOW__SECTION__KEY variables."""
    profile = profile or load()
    return {env_name(section, key): value for section, keys in profile["config"].items() for key, value in keys.items()}


def dag_parser_warm_up(profile: dict[str, Any] | None = None) -> dict[str, str]:
    """The variable set for the dag-processor process alone (local_settings/airflow_local_settings.py acts on it)."""
    warm = (profile or load())["dagParserWarmUp"]
    return {warm["name"]: warm["value"]}


def redis_database(use: str, profile: dict[str, Any] | None = None) -> int:
    """The Redis database of one Airflow use: `celery_broker` or `redis_default`."""
    return int((profile or load())["redisDatabases"][use])


def sections_of_environment(env: dict[str, str]) -> Sections:
    """The airflow.cfg settings an environment carries (its AIRFLOW__SECTION__KEY variables), as section → key → value."""
    sections: Sections = {}
    for name, value in env.items():
        parts = name.split("__")
        if len(parts) == 3 and parts[0] == "AIRFLOW":
            sections.setdefault(parts[1].lower(), {})[parts[2].lower()] = value
    return sections


def _flat(sections: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {f"{section}.{key}": str(value) for section, keys in sections.items() for key, value in keys.items()}


def differences(
    chart: dict[str, dict[str, Any]],
    local: dict[str, dict[str, Any]],
    profile: dict[str, Any] | None = None,
    *,
    ignore: frozenset[str] = frozenset(),
) -> list[str]:
    """What breaks the profile's promise, one line each (empty when kept): a profile setting missing from, or with
    another value in, either rendering; a key the renderings disagree on (set in one only, or to different values)
    that the profile does not list as environment-specific. `ignore` names profile settings a local opt-out replaced."""
    profile = profile or load()
    expected = _flat(profile["config"])
    specific = {entry["key"] for entry in profile["environmentSpecific"]}
    renderings = {"chart config": _flat(chart), "local environment": _flat(local)}
    problems = []
    for key, value in sorted(expected.items()):
        if key in ignore:
            continue
        for where, rendered in renderings.items():
            if key not in rendered:
                problems.append(f"{key}: profile setting missing from the {where}")
            elif rendered[key] != value:
                problems.append(f"{key}: the {where} has {rendered[key]!r}, the profile {value!r}")
    chart_flat, local_flat = renderings.values()
    for key in sorted(set(chart_flat) | set(local_flat)):
        if key in expected or key in specific or chart_flat.get(key) == local_flat.get(key):
            continue
        problems.append(
            f"{key}: chart config {chart_flat.get(key)!r}, local environment {local_flat.get(key)!r}, "
            f"and not listed in environmentSpecific of config/airflow-profile.json"
        )
    return problems
