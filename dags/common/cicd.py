"""CI/CD stages for a DAG bundle: lint, validate, deploy to an environment, smoke test, promotion gate, rollback.

An environment is a directory `<root>/<env>/` holding immutable releases `releases/<version>/` and a `current`
symlink switched atomically, so a half-copied bundle is never live and rollback is one symlink flip.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ENVIRONMENTS = ("staging", "production")


class StageFailed(RuntimeError):
    """A CI/CD stage failed; the message names the stage and the reason."""

    def __init__(self, stage: str, reason: str) -> None:
        self.stage = stage
        super().__init__(f"stage {stage} failed: {reason}")


def lint(paths: Sequence[str | Path]) -> list[dict[str, Any]]:
    """ruff findings for `paths` (the same linter and config the repository's CI uses)."""
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--output-format=json", "--no-cache", *map(str, paths)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    if result.returncode not in (0, 1):  # 2 = ruff itself failed (bad config, missing path)
        raise StageFailed("lint", result.stderr.strip() or f"ruff exited {result.returncode}")
    return [
        {"file": f["filename"], "line": f["location"]["row"], "code": f["code"], "message": f["message"]}
        for f in json.loads(result.stdout or "[]")
    ]


def validate_bundle(path: str | Path) -> dict[str, Any]:
    """Parse the bundle like the dag-processor: DAG ids, import errors, and DAGs missing owner/tags/retries."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(path), safe_mode=False)
    problems = {
        dag_id: [
            issue for issue, bad in (
                ("no tags", not dag.tags),
                ("no owner", dag.owner in (None, "", "airflow")),
                ("no retries", not (dag.default_args or {}).get("retries")),
            ) if bad
        ]
        for dag_id, dag in bag.dags.items()
    }
    return {
        "dag_ids": sorted(bag.dags),
        "import_errors": {str(k): str(v) for k, v in bag.import_errors.items()},
        "policy_violations": {k: v for k, v in problems.items() if v},
    }


def bundle_digest(path: str | Path) -> dict[str, str]:
    """sha256 of every .py/.json/.yaml file, relative path → digest: the release's content identity."""
    base = Path(path)
    return {
        str(file.relative_to(base)): hashlib.sha256(file.read_bytes()).hexdigest()
        for file in sorted(base.rglob("*"))
        if file.is_file() and file.suffix in (".py", ".json", ".yaml", ".yml") and "__pycache__" not in file.parts
    }


def deploy(bundle: str | Path, root: str | Path, environment: str, version: str) -> dict[str, Any]:
    """Copy the bundle into an immutable release, then atomically point `current` at it."""
    if environment not in ENVIRONMENTS:
        raise StageFailed(f"deploy_{environment}", f"unknown environment; use one of {ENVIRONMENTS}")
    env_dir = Path(root) / environment
    release = env_dir / "releases" / version
    digest = bundle_digest(bundle)
    if release.exists():
        if json.loads((release / "MANIFEST.json").read_text())["files"] != digest:
            raise StageFailed(f"deploy_{environment}", f"release {version} already exists with different content")
    else:
        staging_copy = release.with_name(f".{version}.tmp")
        shutil.rmtree(staging_copy, ignore_errors=True)
        shutil.copytree(bundle, staging_copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        (staging_copy / "MANIFEST.json").write_text(json.dumps({"version": version, "files": digest}, indent=2))
        staging_copy.rename(release)
    previous = os.readlink(env_dir / "current") if (env_dir / "current").is_symlink() else None
    link_tmp = env_dir / ".current.tmp"
    link_tmp.unlink(missing_ok=True)
    link_tmp.symlink_to(Path("releases") / version)
    link_tmp.replace(env_dir / "current")  # rename(2) is atomic: readers see the old or the new release
    return {"environment": environment, "version": version, "path": str(release), "previous": previous, "files": len(digest)}


def current_release(root: str | Path, environment: str) -> str | None:
    link = Path(root) / environment / "current"
    return Path(os.readlink(link)).name if link.is_symlink() else None


def rollback(root: str | Path, environment: str, to_version: str) -> str:
    env_dir = Path(root) / environment
    if not (env_dir / "releases" / to_version).is_dir():
        raise StageFailed(f"rollback_{environment}", f"no release {to_version} to roll back to")
    link_tmp = env_dir / ".current.tmp"
    link_tmp.unlink(missing_ok=True)
    link_tmp.symlink_to(Path("releases") / to_version)
    link_tmp.replace(env_dir / "current")
    return to_version


def smoke_test(root: str | Path, environment: str, expected_dag_ids: Sequence[str]) -> dict[str, Any]:
    """Parse what is live in `environment` and require every expected DAG, with no import errors."""
    live = Path(root) / environment / "current"
    if not live.exists():
        raise StageFailed(f"smoke_{environment}", "nothing deployed")
    found = validate_bundle(live.resolve())
    missing = sorted(set(expected_dag_ids) - set(found["dag_ids"]))
    if found["import_errors"] or missing:
        raise StageFailed(f"smoke_{environment}", f"import errors {found['import_errors']}, missing DAGs {missing}")
    return {"environment": environment, "dag_ids": found["dag_ids"]}


def promotion_gate(stages: Mapping[str, Mapping[str, Any]], approved: bool) -> dict[str, Any]:
    """Production only after a clean lint, a clean validation, a passing staging smoke test and an approval."""
    reasons: list[str] = []
    if stages["lint"]["findings"]:
        reasons.append(f"{len(stages['lint']['findings'])} lint finding(s)")
    validation = stages["validate"]
    if validation["import_errors"]:
        reasons.append(f"import errors in {sorted(validation['import_errors'])}")
    if validation["policy_violations"]:
        reasons.append(f"policy violations {validation['policy_violations']}")
    if not stages.get("smoke_staging", {}).get("dag_ids"):
        reasons.append("staging smoke test did not pass")
    if not approved:
        reasons.append("no production approval (set param approve_production)")
    if reasons:
        raise StageFailed("promotion_gate", "; ".join(reasons))
    return {"promote": True}
