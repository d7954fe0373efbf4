"""Whole-bag rules for every DAG in dags/, whoever wrote it.

- the bag parses with zero import errors;
- dag ids are catalogue ids (dags/airflow_usecases.md), each in dags/phaseN/NN_name.py, and all 53 exist; a
  catalogue file may also generate variants `<catalogue id>__<variant>` (phase 15's per-tenant DAGs);
- every DAG has an owner, tags, retries in default_args, doc_md and a module docstring;
- Airflow 3 only: no legacy imports (airflow.operators, airflow.decorators, airflow.datasets), no
  `schedule_interval=`, no `execution_date`, no `Dataset`;
- top-level code stays light: no heavy library imported at module level by a DAG file or a common module, and,
  measured (tests/dags/parse_imports.py), none imported while the platform's dag-processor parses a DAG file.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"
CATALOGUE_IDS = sorted(
    set(re.findall(r"^\|\s*`(phase\d+_\d{2}_[a-z0-9_]+)`", (DAGS / "airflow_usecases.md").read_text(), re.MULTILINE))
)
DAG_FILES = sorted(DAGS.glob("phase*/[0-9][0-9]_*.py"))
COMMON_FILES = sorted((DAGS / "common").glob("*.py"))
HEAVY_MODULES = {
    "pandas",
    "numpy",
    "sklearn",
    "scipy",
    "mlflow",
    "feast",
    "great_expectations",
    "confluent_kafka",
    "torch",
    "pyarrow",
}
LEGACY_MODULES = ("airflow.operators", "airflow.decorators", "airflow.datasets", "airflow.sensors")


def _catalogue_id(dag_id: str) -> str:
    """A generated variant `<catalogue id>__<variant>` belongs to its catalogue id."""
    return dag_id.split("__", 1)[0]


def _expected_path(dag_id: str) -> Path:
    phase, number, name = re.fullmatch(r"(phase\d+)_(\d{2})_(.+)", _catalogue_id(dag_id)).groups()
    return DAGS / phase / f"{number}_{name}.py"


def test_catalogue_lists_53_distinct_ids():
    assert len(CATALOGUE_IDS) == 53


def test_bag_parses_without_import_errors(dagbag):
    assert dagbag.import_errors == {}


def test_no_dag_id_outside_the_catalogue(dagbag):
    assert {dag_id for dag_id in dagbag.dag_ids if _catalogue_id(dag_id) not in CATALOGUE_IDS} == set()


def test_every_catalogue_dag_exists(dagbag):
    missing = sorted(set(CATALOGUE_IDS) - set(dagbag.dag_ids))
    assert missing == [], f"{len(missing)} catalogue DAGs are not in the bag"


def test_each_dag_lives_in_its_catalogue_file(dagbag):
    misplaced = {
        dag_id: dag.fileloc
        for dag_id, dag in dagbag.dags.items()
        if _catalogue_id(dag_id) in CATALOGUE_IDS and Path(dag.fileloc).resolve() != _expected_path(dag_id)
    }
    assert misplaced == {}


def test_each_dag_file_defines_exactly_its_dag(dagbag):
    by_file: dict[str, set[str]] = {}
    for dag_id, dag in dagbag.dags.items():
        by_file.setdefault(str(Path(dag.fileloc).resolve()), set()).add(_catalogue_id(dag_id))
    for path in DAG_FILES:
        dag_id = f"{path.parent.name}_{path.stem}"
        assert by_file.get(str(path.resolve())) == {dag_id}, path.relative_to(REPO)


def test_every_dag_has_owner_tags_retries_and_docs(dagbag):
    problems = []
    for dag_id, dag in sorted(dagbag.dags.items()):
        args = dag.default_args or {}
        if args.get("owner") in (None, "", "airflow"):
            problems.append(f"{dag_id}: default_args has no real owner")
        if not isinstance(args.get("retries"), int):
            problems.append(f"{dag_id}: default_args has no retries")
        if not dag.tags:
            problems.append(f"{dag_id}: no tags")
        if not (dag.doc_md or "").strip():
            problems.append(f"{dag_id}: no doc_md")
        if not ast.get_docstring(ast.parse(Path(dag.fileloc).read_text())):
            problems.append(f"{dag_id}: module has no docstring")
        if any(task.owner in (None, "", "airflow") for task in dag.tasks):
            problems.append(f"{dag_id}: a task lost the owner")
    assert problems == []


def _legacy_uses(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        module = None
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if any(getattr(alias, "name", "") in ("Dataset", "DatasetAlias") for alias in node.names):
                found.append(f"imports Dataset from {module}")
        elif isinstance(node, ast.Import):
            module = " ".join(alias.name for alias in node.names)
        if module and any(module == legacy or module.startswith(legacy + ".") for legacy in LEGACY_MODULES):
            found.append(f"imports {module}")
        if isinstance(node, ast.keyword) and node.arg in ("schedule_interval", "execution_date"):
            found.append(f"passes {node.arg}=")
        if isinstance(node, ast.Name | ast.Attribute) and getattr(node, "id", getattr(node, "attr", None)) == "execution_date":
            found.append("uses execution_date")
    return found


@pytest.mark.parametrize("path", DAG_FILES + COMMON_FILES, ids=lambda p: str(p.relative_to(DAGS)))
def test_airflow3_apis_only(path):
    assert _legacy_uses(path) == []


def _module_level_imports(tree: ast.Module) -> set[str]:
    """Top-level module names imported outside functions (also under module-level if/try)."""
    names: set[str] = set()
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.If | ast.Try | ast.With):
            if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
                continue
            for field in ("body", "orelse", "finalbody", "handlers"):
                for child in getattr(node, field, []):
                    pending.extend(child.body if isinstance(child, ast.ExceptHandler) else [child])
    return names


@pytest.mark.parametrize("path", DAG_FILES + COMMON_FILES, ids=lambda p: str(p.relative_to(DAGS)))
def test_no_heavy_import_at_module_level(path):
    assert _module_level_imports(ast.parse(path.read_text())) & HEAVY_MODULES == set()


def test_the_dag_processor_lists_the_dag_files_and_not_the_shared_library():
    # dags/common mentions "airflow" and "dag": without dags/.airflowignore every refresh would parse each module.
    from airflow.utils.file import list_py_file_paths

    listed = sorted(Path(path) for path in list_py_file_paths(str(DAGS)))
    assert listed == DAG_FILES


def _parse_imports(files: list[Path], *, warm: bool) -> dict[str, list[str] | dict[str, str]]:
    """Top-level modules each file imports while parsed in a forked child of a dag-processor-like parent."""
    env = {**os.environ, "PYTHONPATH": f"{REPO}:{DAGS}"}
    cmd = [sys.executable, str(Path(__file__).parent / "parse_imports.py"), *(["--warm"] if warm else []), *map(str, files)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def warm_parse_imports() -> dict[str, list[str] | dict[str, str]]:
    return _parse_imports(DAG_FILES, warm=True)


def test_parsing_a_dag_file_imports_no_heavy_module_in_the_platforms_dag_processor(warm_parse_imports) -> None:
    """Measured, not read off the source: a provider operator that imports a heavy client at module level
    (ProduceToTopicOperator → confluent_kafka) counts, unless the platform's warm-up preloads it once."""
    assert {path: imported for path, imported in warm_parse_imports.items() if isinstance(imported, dict)} == {}
    heavy = {Path(path).relative_to(DAGS).as_posix(): sorted(set(imported) & HEAVY_MODULES)
             for path, imported in warm_parse_imports.items() if set(imported) & HEAVY_MODULES}
    assert heavy == {}


def test_the_parse_import_measurement_catches_a_heavy_top_level_import(tmp_path) -> None:
    """Negative control: a DAG file that imports pandas at module level is reported, even behind a helper module."""
    (tmp_path / "helper_mod.py").write_text("import pandas  # noqa: F401\n")
    dag = tmp_path / "01_heavy.py"
    dag.write_text(f"import sys\nsys.path.insert(0, {str(tmp_path)!r})\nimport helper_mod  # noqa: F401\n")
    (imported,) = _parse_imports([dag], warm=True).values()
    assert "pandas" in imported and "helper_mod" in imported


def test_without_the_warm_up_a_kafka_operator_would_import_confluent_kafka_at_every_parse() -> None:
    """What the measurement sees that a source scan cannot: the provider module behind ProduceToTopicOperator imports
    confluent_kafka. A stock dag-processor pays that in every parse of phase9_04; the platform's preloads it once."""
    (imported,) = _parse_imports([DAGS / "phase9" / "04_message_queues.py"], warm=False).values()
    assert "confluent_kafka" in imported
