"""CI/CD stages for a DAG bundle: lint, test with coverage, validate, deploy, smoke test, promotion gate, rollback.

An environment is a directory `<root>/<env>/` holding immutable releases `releases/<version>/` and a `current`
symlink switched atomically, so a half-copied bundle is never live and rollback is one symlink flip. `current` is
what the environment serves: a dag-processor configured with a LocalDagBundle whose `path` is `<root>/<env>/current`
parses exactly that release (see `served_bundle`). Production is never built from source: `promote` copies the
release staging tested, after checking it against its manifest (build once, deploy many).

Coverage is measured without coverage.py (not in python/requirements.lock): pytest runs in a subprocess under a
`sys.settrace` line tracer limited to the bundle's files, and the executable lines come from the compiled code
objects (`co_lines`), the same notion of a "statement line" the interpreter reports.
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
MANIFEST = "MANIFEST.json"


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


def _switch(env_dir: Path, version: str) -> str | None:
    """Point `<env>/current` at `releases/<version>` atomically; returns the previous target."""
    previous = os.readlink(env_dir / "current") if (env_dir / "current").is_symlink() else None
    link_tmp = env_dir / ".current.tmp"
    link_tmp.unlink(missing_ok=True)
    link_tmp.symlink_to(Path("releases") / version)
    link_tmp.replace(env_dir / "current")  # rename(2) is atomic: readers see the old or the new release
    return previous


def deploy(bundle: str | Path, root: str | Path, environment: str, version: str) -> dict[str, Any]:
    """Copy the bundle into an immutable release, then atomically point `current` at it."""
    if environment not in ENVIRONMENTS:
        raise StageFailed(f"deploy_{environment}", f"unknown environment; use one of {ENVIRONMENTS}")
    env_dir = Path(root) / environment
    release = env_dir / "releases" / version
    digest = bundle_digest(bundle)
    if release.exists():
        if json.loads((release / MANIFEST).read_text())["files"] != digest:
            raise StageFailed(f"deploy_{environment}", f"release {version} already exists with different content")
    else:
        staging_copy = release.with_name(f".{version}.tmp")
        shutil.rmtree(staging_copy, ignore_errors=True)
        shutil.copytree(bundle, staging_copy, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        (staging_copy / MANIFEST).write_text(json.dumps({"version": version, "files": digest}, indent=2))
        staging_copy.rename(release)
    previous = _switch(env_dir, version)
    return {"environment": environment, "version": version, "path": str(release), "previous": previous, "files": len(digest)}


def verify_release(release: str | Path) -> dict[str, str]:
    """The release's files must be exactly those its manifest lists, byte for byte; returns the manifest's files."""
    release = Path(release)
    if not (release / MANIFEST).is_file():
        raise StageFailed("verify_release", f"{release} has no {MANIFEST}")
    expected = json.loads((release / MANIFEST).read_text())["files"]
    actual = {name: sha for name, sha in bundle_digest(release).items() if name != MANIFEST}
    if actual != expected:
        changed = sorted(set(actual.items()) ^ set(expected.items()))
        raise StageFailed("verify_release", f"{release.name} differs from its manifest: {sorted({n for n, _ in changed})}")
    return expected


def promote(root: str | Path, source: str, target: str, version: str, audit: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Copy the release `version` that `source` tested into `target` (unchanged, manifest checked) and switch
    `target`'s `current` to it. `audit` (who approved, when) is appended to `<target>/deploys.jsonl`."""
    for environment in (source, target):
        if environment not in ENVIRONMENTS:
            raise StageFailed(f"deploy_{target}", f"unknown environment {environment}; use one of {ENVIRONMENTS}")
    built = Path(root) / source / "releases" / version
    if not built.is_dir():
        raise StageFailed(f"deploy_{target}", f"release {version} was never deployed to {source}")
    files = verify_release(built)
    env_dir = Path(root) / target
    release = env_dir / "releases" / version
    if release.exists():
        verify_release(release)
        if json.loads((release / MANIFEST).read_text())["files"] != files:
            raise StageFailed(f"deploy_{target}", f"release {version} already exists with different content")
    else:
        release.parent.mkdir(parents=True, exist_ok=True)
        copy = release.with_name(f".{version}.tmp")
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(built, copy, symlinks=False)
        copy.rename(release)
    previous = _switch(env_dir, version)
    entry = {"version": version, "previous": previous, "from": source, **(audit or {})}
    with (env_dir / "deploys.jsonl").open("a") as log:
        log.write(json.dumps(entry, default=str) + "\n")
    return {"environment": target, "version": version, "path": str(release), "previous": previous, "files": len(files)}


def served_bundle(root: str | Path, environment: str) -> Any:
    """The DAG bundle the environment serves: a LocalDagBundle on `<root>/<env>/current`, as the dag-processor's
    `[dag_processor] dag_bundle_config_list` entry {"name": "<env>", "classpath": "...LocalDagBundle",
    "kwargs": {"path": "<root>/<env>/current"}} would define it."""
    from airflow.dag_processing.bundles.local import LocalDagBundle

    return LocalDagBundle(name=f"cicd-{environment}", path=str(Path(root) / environment / "current"))


def current_release(root: str | Path, environment: str) -> str | None:
    link = Path(root) / environment / "current"
    return Path(os.readlink(link)).name if link.is_symlink() else None


def rollback(root: str | Path, environment: str, to_version: str) -> str:
    env_dir = Path(root) / environment
    if not (env_dir / "releases" / to_version).is_dir():
        raise StageFailed(f"rollback_{environment}", f"no release {to_version} to roll back to")
    _switch(env_dir, to_version)
    return to_version


def smoke_test(root: str | Path, environment: str, expected_dag_ids: Sequence[str]) -> dict[str, Any]:
    """Parse what `environment` serves (its bundle's `current`, resolved now) and require the release to match its
    manifest, every expected DAG to be there, and no import errors."""
    live = Path(served_bundle(root, environment).path)
    if not live.exists():
        raise StageFailed(f"smoke_{environment}", "nothing deployed")
    release = live.resolve()
    try:
        verify_release(release)
    except StageFailed as error:
        raise StageFailed(f"smoke_{environment}", str(error)) from error
    found = validate_bundle(release)
    missing = sorted(set(expected_dag_ids) - set(found["dag_ids"]))
    if found["import_errors"] or missing:
        raise StageFailed(f"smoke_{environment}", f"import errors {found['import_errors']}, missing DAGs {missing}")
    return {"environment": environment, "version": release.name, "dag_ids": found["dag_ids"]}


def promotion_gate(stages: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Production may be asked for only after a clean lint, passing tests at the coverage bar, a clean validation
    and a passing staging smoke test. The human approval comes after this gate (an ApprovalOperator in the DAG)."""
    reasons: list[str] = []
    if stages["lint"]["findings"]:
        reasons.append(f"{len(stages['lint']['findings'])} lint finding(s)")
    tests = stages.get("test")
    if tests is None or tests.get("failed") or not tests.get("passed") or not tests.get("meets_threshold"):
        reasons.append("tests did not pass at the coverage threshold")
    validation = stages["validate"]
    if validation["import_errors"]:
        reasons.append(f"import errors in {sorted(validation['import_errors'])}")
    if validation["policy_violations"]:
        reasons.append(f"policy violations {validation['policy_violations']}")
    if not stages.get("smoke_staging", {}).get("dag_ids"):
        reasons.append("staging smoke test did not pass")
    if reasons:
        raise StageFailed("promotion_gate", "; ".join(reasons))
    return {"promote": True}


# --- tests with coverage -----------------------------------------------------------------------------------------


def bundle_sources(bundle: str | Path) -> list[Path]:
    """The bundle's own Python files, the ones coverage is measured on (its tests excluded)."""
    base = Path(bundle).resolve()
    return [
        file for file in sorted(base.rglob("*.py"))
        if "__pycache__" not in file.parts and "tests" not in file.relative_to(base).parts[:-1]
        and not file.name.startswith("test_") and file.name != "conftest.py"
    ]


def executable_lines(path: str | Path) -> set[int]:
    """Line numbers that carry bytecode in `path`'s compiled module and every code object nested in it."""
    code = compile(Path(path).read_text(), str(path), "exec")
    lines: set[int] = set()
    pending = [code]
    while pending:
        current = pending.pop()
        lines.update(line for _, _, line in current.co_lines() if line)
        pending.extend(const for const in current.co_consts if hasattr(const, "co_lines"))
    return lines


def coverage_report(base: Path, sources: Sequence[Path], hits: Mapping[str, set[int]]) -> dict[str, Any]:
    """Per-file (relative to `base`) and total line coverage of `sources` given the executed lines `hits`
    (real path → line numbers)."""
    files: dict[str, Any] = {}
    total = covered = 0
    for source in sources:
        wanted = executable_lines(source)
        ran = wanted & set(hits.get(os.path.realpath(source), ()))
        files[str(source.relative_to(base))] = {
            "statements": len(wanted), "covered": len(ran), "missing": sorted(wanted - ran)}
        total += len(wanted)
        covered += len(ran)
    return {"percent": round(100.0 * covered / total, 1) if total else 0.0, "statements": total, "covered": covered,
            "files": files}


def _pytest_under_tracer(bundle: str, tests: str, report: str) -> int:
    """Subprocess entry point: run pytest on `tests` while recording the lines executed in the bundle's files."""
    import threading

    import pytest

    prefix = os.path.realpath(bundle) + os.sep
    hits: dict[str, set[int]] = {}
    real: dict[str, str] = {}

    def trace(frame: Any, event: str, arg: Any) -> Any:
        filename = frame.f_code.co_filename
        path = real.get(filename)
        if path is None:
            path = real[filename] = os.path.realpath(filename)
        if not path.startswith(prefix):
            return None
        lines = hits.setdefault(path, set())

        def line(frame: Any, event: str, arg: Any) -> Any:
            if event == "line":
                lines.add(frame.f_lineno)
            return line

        return line

    outcomes = {"passed": 0, "failed": 0, "skipped": 0}

    class Outcomes:
        @staticmethod
        def pytest_runtest_logreport(report: Any) -> None:
            if report.when == "call" or report.outcome != "passed":
                outcomes[report.outcome] = outcomes.get(report.outcome, 0) + 1

    threading.settrace(trace)
    sys.settrace(trace)
    try:
        code = pytest.main([tests, "-q", "-p", "no:cacheprovider", "--noconftest", "-o", "addopts="],
                           plugins=[Outcomes()])
    finally:
        sys.settrace(None)
        threading.settrace(None)  # type: ignore[arg-type]
    Path(report).write_text(json.dumps({"exit_code": int(code), **outcomes,
                                        "hits": {path: sorted(lines) for path, lines in hits.items()}}))
    return int(code)


def run_tests_with_coverage(bundle: str | Path, tests: str | Path, min_percent: float, timeout: int = 900) -> dict[str, Any]:
    """Run pytest on the bundle's `tests` in a fresh interpreter with line coverage of the bundle's sources.

    Fails (StageFailed) when a test fails, no test runs, or coverage is below `min_percent`; otherwise returns the
    figure (the stage's XCom): percent, statements, covered, per-file missing lines and the test outcomes.
    """
    import tempfile

    bundle, tests = Path(bundle).resolve(), Path(tests).resolve()
    if not tests.exists():
        raise StageFailed("test", f"no tests for the bundle at {tests}")
    sources = bundle_sources(bundle)
    if not sources:
        raise StageFailed("test", f"no Python sources in {bundle}")
    common_dir = Path(__file__).resolve().parents[1]  # the folder holding the `common` package (dags/)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        dict.fromkeys([str(common_dir), str(bundle.parent), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]))
    with tempfile.TemporaryDirectory(prefix="cicd-coverage-") as scratch:
        # A throwaway Airflow home and metadata DB, as CI has: a worker's own settings point at no database
        # (Airflow 3 tasks get `airflow-db-not-allowed:///`), and tests must never touch a live one anyway.
        env.update({"AIRFLOW_HOME": scratch, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{scratch}/airflow.db"})
        report_file = Path(scratch) / "report.json"
        runner = ("import sys; from common.cicd import _pytest_under_tracer as run; "
                  "sys.exit(run(sys.argv[1], sys.argv[2], sys.argv[3]))")
        result = subprocess.run([sys.executable, "-c", runner, str(bundle), str(tests), str(report_file)],
                                capture_output=True, text=True, timeout=timeout, cwd=scratch, env=env, check=False)
        if not report_file.exists():
            raise StageFailed("test", f"pytest did not report (exit {result.returncode}): {(result.stderr or result.stdout)[-2000:]}")
        raw = json.loads(report_file.read_text())
    figures = coverage_report(bundle, sources, {path: set(lines) for path, lines in raw["hits"].items()})
    summary = {**figures, "passed": raw["passed"], "failed": raw["failed"], "skipped": raw["skipped"],
               "exit_code": raw["exit_code"], "min_percent": min_percent,
               "meets_threshold": figures["percent"] >= min_percent}
    if raw["exit_code"] != 0 or raw["failed"] or not raw["passed"]:
        raise StageFailed("test", f"pytest exit {raw['exit_code']}: {raw['passed']} passed, {raw['failed']} failed\n"
                                  f"{result.stdout[-3000:]}")
    if not summary["meets_threshold"]:
        raise StageFailed("test", f"coverage {figures['percent']}% is below the {min_percent}% threshold; missing lines "
                                  f"{ {name: f['missing'] for name, f in figures['files'].items() if f['missing']} }")
    return summary
