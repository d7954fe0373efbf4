"""One line per DAG header: `platform_dag` derives a catalogue DAG's id, phase tag and team/severity tags from its file.

    with platform_dag(__file__, __doc__, owner="data-quality", team="data-quality", severity="P2",
                      tags=["data-quality"], schedule="@daily", description="...") as dag:

gives the DAG `phase10_01_great_expectations` (from `dags/phase10/01_great_expectations.py`) with doc_md `__doc__`,
the platform's fixed start date, `catchup=False`, `default_args=platform_default_args(owner, **task_defaults)` and the
tags `[phase10, *tags, severity:P2, team:data-quality]`. `team` and `severity` are optional: a DAG without a `team:`
tag today passes no team, so the tags the alert routing and the checklist read stay exactly what they were.
Anything else (params, max_active_runs, access_control, deadline, user_defined_macros...) passes through to `DAG`,
as do `start_date` and `catchup` when a DAG needs others.

Imported at parse time by every DAG file (and preloaded by the dag-processor with the rest of `common`): it imports
only the standard library and `common.defaults`; `airflow.sdk.DAG` is imported when a DAG is built, which a DAG file
has already done.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from common.defaults import platform_default_args

if TYPE_CHECKING:
    from airflow.sdk import DAG

PLATFORM_START_DATE = datetime(2026, 1, 1, tzinfo=UTC)
"""The start date every catalogue DAG shares: no DAG backfills before it (catchup is off anyway)."""

_DAG_FILE = re.compile(r"(?P<phase>phase[1-9]\d*)/(?P<name>\d{2}_[a-z0-9]+(?:_[a-z0-9]+)*)\.py")


def dag_id_for(file: str | PurePath) -> str:
    """`.../dags/phase10/01_great_expectations.py` → `phase10_01_great_expectations`; any other name is refused."""
    path = PurePath(file)
    match = _DAG_FILE.fullmatch(f"{path.parent.name}/{path.name}")
    if match is None:
        raise ValueError(
            f"{file}: a catalogue DAG file is named phaseN/NN_name.py (e.g. phase10/01_great_expectations.py, "
            "lower-case name, words joined by _), so its dag_id can be derived from it"
        )
    return f"{match['phase']}_{match['name']}"


def platform_tags(
    phase: str, tags: Sequence[str] = (), *, severity: str | None = None, team: str | None = None
) -> list[str]:
    """`[phase, *tags, severity:<severity>, team:<team>]`, the last two only when given."""
    if isinstance(tags, str):
        raise TypeError(f"tags must be a sequence of tags, not the string {tags!r}")
    result = [phase, *tags]
    if severity is not None:
        result.append(f"severity:{severity}")
    if team is not None:
        result.append(f"team:{team}")
    duplicated = sorted({tag for tag in result if result.count(tag) > 1})
    if duplicated:
        raise ValueError(f"tags repeated (the phase, severity and team tags are added for you): {duplicated}")
    return result


def platform_dag(
    file: str | PurePath,
    doc: str | None,
    *,
    owner: str,
    tags: Sequence[str] = (),
    severity: str | None = None,
    team: str | None = None,
    schedule: Any = None,
    description: str | None = None,
    task_defaults: Mapping[str, Any] | None = None,
    **dag_kwargs: Any,
) -> DAG:
    """A catalogue DAG whose id, phase tag and doc come from its file; usable as `with platform_dag(...) as dag:`.

    `owner` and `task_defaults` go to `platform_default_args` (retries, retry_delay, callbacks... override there);
    `dag_kwargs` go to `airflow.sdk.DAG` and may replace the platform's `start_date` and `catchup=False`.
    """
    from airflow.sdk import DAG

    for derived in ("dag_id", "doc_md", "default_args"):
        if derived in dag_kwargs:
            raise TypeError(f"platform_dag derives {derived}: pass the file, doc or owner/task_defaults instead")
    dag_id = dag_id_for(file)
    dag_kwargs.setdefault("start_date", PLATFORM_START_DATE)
    dag_kwargs.setdefault("catchup", False)
    return DAG(
        dag_id=dag_id,
        description=description,
        doc_md=doc,
        schedule=schedule,
        default_args=platform_default_args(owner, **(task_defaults or {})),
        tags=platform_tags(dag_id.split("_", 1)[0], tags, severity=severity, team=team),
        **dag_kwargs,
    )
