"""The pools-and-roles Job (components/pools.ts) runs for real: its rendered command, with its rendered env, against a
fresh metadata DB migrated as the chart's migrate Job does.

Without the FAB roles that DAGs' `access_control` names, the cluster's dag-processor records phase16_02 and the
phase15_03 tenant DAGs as import errors. The manifests declare those roles (`roles`, checked against the DagBag in
tests/contract/test_needs_match_code.py); here the dev stack's Job must create every one of them, and import its pools.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from cluster.render import StackRender
from local import contract

MOUNTED_POOLS = "/pools/pools.json"


def _program_object(render: StackRender, kind: str, prefix: str) -> dict[str, Any]:
    found = [o.manifest for o in render.applied if o.origin == "program" and o.kind == kind and o.name.startswith(prefix)]
    assert len(found) == 1, f"stack {render.stack}: expected one {kind} {prefix}*, found {[m['metadata']['name'] for m in found]}"
    return found[0]


def _job_environment(container: dict[str, Any], home: Path, database: Path) -> dict[str, str]:
    """The container's env as the kubelet would give it; the one secretKeyRef (the metadata DB) points at `database`."""
    env = {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "AIRFLOW_HOME": str(home)}
    for entry in container["env"]:
        if "value" in entry:
            env[entry["name"]] = entry["value"]
        else:
            assert entry["valueFrom"]["secretKeyRef"]["key"] == "connection", entry
            env[entry["name"]] = f"sqlite:///{database}"
    return env


def _run(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


def test_the_dev_job_creates_every_declared_role_and_pool(renders: dict[str, StackRender], tmp_path: Path) -> None:
    render = renders["dev"]
    job = _program_object(render, "Job", "platform-pools-import-")
    config_map = _program_object(render, "ConfigMap", "platform-pools-definitions")
    container = job["spec"]["template"]["spec"]["containers"][0]
    (tmp_path / "pools.json").write_text(config_map["data"]["pools.json"])
    env = _job_environment(container, tmp_path, tmp_path / "metadata.db")

    # The chart's migrate Job, under the same auth manager: the metadata schema with FAB's tables.
    migrated = _run(["airflow", "db", "migrate"], env, tmp_path)
    assert migrated.returncode == 0, migrated.stderr[-2000:]

    script = container["args"][2]
    assert script.count(MOUNTED_POOLS) == 1, script
    probe = "bootstrap_probe"  # not declared anywhere: shows the roles come from the arguments, not the DB
    argv = [*container["args"][:2], script.replace(MOUNTED_POOLS, str(tmp_path / "pools.json")), *container["args"][3:], probe]
    ran = _run(argv, env, tmp_path)
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]

    stack_dir = render.releases[0].values.parents[1]  # out/<stack>/values/<release>.yaml
    shipped = set(json.loads((stack_dir / "dags.json").read_text())["shipped"])
    declared = {role for role, dag_ids in contract.load().roles.items() if shipped & set(dag_ids)}
    assert {"team_security_operator", "tenant_acme"} <= declared
    with sqlite3.connect(tmp_path / "metadata.db") as db:
        roles = {name for (name,) in db.execute("SELECT name FROM ab_role")}
        pools = dict(db.execute("SELECT pool, slots FROM slot_pool").fetchall())
    assert declared | {probe} <= roles, f"roles the Job did not create: {sorted(declared - roles)}"
    expected_pools = {name: spec["slots"] for name, spec in json.loads(config_map["data"]["pools.json"]).items()}
    assert {name: pools.get(name) for name in expected_pools} == expected_pools

    again = _run(argv, env, tmp_path)  # a re-run (a new pools digest) keeps what exists
    assert again.returncode == 0, again.stderr[-2000:]


def test_without_the_fab_auth_manager_the_roles_command_cannot_work(renders: dict[str, StackRender], tmp_path: Path) -> None:
    """Negative control: the env entry is what makes `airflow roles` exist (Airflow 3's default is SimpleAuthManager)."""
    container = _program_object(renders["dev"], "Job", "platform-pools-import-")["spec"]["template"]["spec"]["containers"][0]
    env = _job_environment(container, tmp_path, tmp_path / "metadata.db")
    env.pop("AIRFLOW__CORE__AUTH_MANAGER")
    assert _run(["airflow", "db", "migrate"], env, tmp_path).returncode == 0
    refused = _run(["airflow", "roles", "create", "team_security_operator"], env, tmp_path)
    assert refused.returncode != 0

