"""The Airflow image and the DAG test environment come from one lock, and that lock covers the DAGs.

- every import statement in dags/ (module level and inside tasks) resolves in the .venv synced from
  python/requirements.lock, and the distribution that provides it is pinned in that lock;
- the .venv holds exactly the lock's pins, so what the tests run is what the image ships;
- image/Dockerfile installs exactly python/requirements.lock on the official image whose Airflow and
  Python versions the lock was compiled for;
- parsing dags/ opens no network connection.
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"
LOCK = REPO / "python" / "requirements.lock"
ML_LOCK = REPO / "python" / "ml-requirements.lock"
DOCKERFILE = REPO / "image" / "Dockerfile"
DOCKERIGNORE = REPO / "image" / "Dockerfile.dockerignore"
VENV = REPO / ".venv"

# The providers the issue names; the image must carry every one of them.
REQUIRED_PROVIDERS = [
    "standard", "postgres", "amazon", "google", "microsoft-azure", "apache-kafka", "hashicorp",
    "openlineage", "slack", "smtp", "http", "fab", "common-messaging",
]


def normalize(dist: str) -> str:
    """PEP 503 name normalisation, so `Great_Expectations` and `great-expectations` compare equal."""
    return re.sub(r"[-_.]+", "-", dist).lower()


def parse_lock(text: str) -> dict[str, str]:
    """`name==version` pins of a uv-compiled lock, keyed by normalised name (extras dropped)."""
    pins: dict[str, str] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;]+)(\s*;.*)?", line)
        assert match, f"{LOCK.name}: line is not a `name==version` pin: {line!r}"
        pins[normalize(match.group(1))] = match.group(3)
    return pins


def dag_python_files() -> list[Path]:
    return sorted(p for p in DAGS.rglob("*.py") if "__pycache__" not in p.parts)


def imported_modules(source: str, filename: str) -> Iterator[tuple[str, int]]:
    """Absolute imports of every import statement (any nesting depth), with line numbers.

    `import a.b` yields `a.b`; `from a.b import c` yields `a.b:c`, since `c` may be a submodule
    or just a name defined in `a.b`. Relative imports stay inside dags/ and are not yielded.
    """
    for node in ast.walk(ast.parse(source, filename=filename)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "__future__":
                continue
            for alias in node.names:
                yield (f"{node.module}:{alias.name}" if alias.name != "*" else node.module), node.lineno


def local_top_level_names() -> set[str]:
    """Packages and modules that live in dags/ itself (Airflow puts dags/ on sys.path)."""
    names = {p.stem for p in DAGS.glob("*.py")}
    names |= {p.name for p in DAGS.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))}
    return names


def module_file(module: str) -> Path | None:
    """Where `module` lives in the environment, found on disk without executing any package code.

    Returns the module's file (or package `__init__.py`, or the namespace directory), or None.
    """
    top, *rest = module.split(".")
    spec = importlib.util.find_spec(top)
    if spec is None:
        return None
    if not rest:
        return Path(spec.origin) if spec.origin and spec.origin not in ("built-in", "frozen") else None
    for root in spec.submodule_search_locations or []:
        base = Path(root).joinpath(*rest)
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
        extensions = sorted(base.parent.glob(f"{base.name}.*.so")) if base.parent.is_dir() else []
        if extensions:
            return extensions[0]
        if base.is_dir():
            return base
    return None


def resolve(imported: str) -> tuple[str, Path] | None:
    """The module an import names (`a.b`, or `a.b:c` = submodule `a.b.c` else module `a.b`), located."""
    module, _, name = imported.partition(":")
    for candidate in ([f"{module}.{name}"] if name else []) + [module]:
        found = module_file(candidate)
        if found is not None:
            return candidate, found
    return None


def owning_distributions(location: Path, file_owner: dict[Path, set[str]]) -> set[str]:
    """Distributions whose RECORD lists `location` (or, for a namespace directory, a file under it)."""
    location = Path(os.path.normpath(location))
    if location in file_owner:
        return file_owner[location]
    return {dist for path, dists in file_owner.items() if location in path.parents for dist in dists}


@pytest.fixture(scope="module")
def lock_pins() -> dict[str, str]:
    return parse_lock(LOCK.read_text())


@pytest.fixture(scope="module")
def file_owner() -> dict[Path, set[str]]:
    """Every installed file → the distributions that installed it, from the dists' RECORD files."""
    owner: dict[Path, set[str]] = {}
    for dist in md.distributions():
        name = normalize(dist.metadata["Name"])  # parsing METADATA once per dist, not once per file
        for file in dist.files or []:
            # normpath, not resolve(): no syscall per file (there are ~65k), and site-packages has no symlinks to follow.
            owner.setdefault(Path(os.path.normpath(dist.locate_file(file))), set()).add(name)
    return owner


@pytest.fixture(scope="module")
def dag_imports() -> dict[str, list[str]]:
    """Third-party module paths imported anywhere in dags/ → the places (`file:line`) importing them."""
    skip = set(sys.stdlib_module_names) | local_top_level_names()
    found: dict[str, list[str]] = {}
    for path in dag_python_files():
        for module, line in imported_modules(path.read_text(), str(path)):
            if module.split(":")[0].split(".")[0] not in skip:
                found.setdefault(module, []).append(f"{path.relative_to(REPO)}:{line}")
    return found


def test_tests_run_in_the_venv_synced_from_the_lock() -> None:
    assert Path(sys.prefix).resolve() == VENV.resolve(), (
        f"pytest must run from {VENV} (the environment synced from {LOCK.relative_to(REPO)}), "
        f"not {sys.prefix}"
    )


def test_venv_holds_exactly_the_lock_pins(lock_pins: dict[str, str]) -> None:
    installed = {normalize(d.metadata["Name"]): d.version for d in md.distributions()}
    wrong = {n: (v, installed.get(n)) for n, v in lock_pins.items() if installed.get(n) != v}
    extra = sorted(set(installed) - set(lock_pins))
    assert not wrong, (
        f"{VENV.name} differs from {LOCK.relative_to(REPO)} (name: (locked, installed)): {wrong}; run "
        "`uv pip sync --python .venv/bin/python python/requirements.lock`"
    )
    assert not extra, f"installed in {VENV.name} but not in the lock (the image would lack them): {extra}"


def test_lock_resolves_without_conflicts_so_no_separate_ml_environment_is_needed() -> None:
    """Everything, heavy ML libraries included, resolves in the one lock today.

    Should a package ever conflict with Airflow's pins, it moves to python/ml-requirements.lock, which
    the Dockerfile builds into its own interpreter for @task.external_python (docs/image.md).
    """
    result = subprocess.run(
        ["uv", "pip", "check", "--python", str(VENV / "bin" / "python")],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, f"the lock does not resolve cleanly:\n{result.stdout}{result.stderr}"
    assert ML_LOCK.exists() or "mlflow" in parse_lock(LOCK.read_text()), (
        "heavy ML libraries are neither in the main lock nor in python/ml-requirements.lock"
    )


def test_lock_carries_every_required_provider(lock_pins: dict[str, str]) -> None:
    missing = [p for p in REQUIRED_PROVIDERS if f"apache-airflow-providers-{p}" not in lock_pins]
    assert not missing, f"providers missing from {LOCK.relative_to(REPO)}: {missing}"


def test_every_dag_import_resolves_and_its_distribution_is_pinned(
    dag_imports: dict[str, list[str]], lock_pins: dict[str, str], file_owner: dict[Path, set[str]]
) -> None:
    assert any(m.startswith("airflow") for m in dag_imports), (
        "no airflow import found in dags/: the import walk is not seeing the DAG code"
    )
    unresolved: dict[str, list[str]] = {}
    unpinned: dict[str, tuple[set[str], list[str]]] = {}
    for module, places in sorted(dag_imports.items()):
        resolved = resolve(module)
        if resolved is None:
            unresolved[module] = places
            continue
        owners = owning_distributions(resolved[1], file_owner)
        if not owners or not owners & set(lock_pins):
            unpinned[module] = (owners, places)
    assert not unresolved, f"imports in dags/ that do not resolve in {VENV.name}: {unresolved}"
    assert not unpinned, (
        f"imports in dags/ whose distribution is not pinned in {LOCK.relative_to(REPO)} "
        f"(module: (providing distributions, where imported)): {unpinned}"
    )


def test_needs_manifest_packages_are_pinned(lock_pins: dict[str, str]) -> None:
    """Each phase's needs.yaml lists the packages its DAGs need; the image must carry all of them."""
    unpinned: dict[str, list[str]] = {}
    for manifest in sorted(DAGS.glob("phase*/needs.yaml")):
        for dag_id, needs in (yaml.safe_load(manifest.read_text()) or {}).items():
            for package in (needs or {}).get("packages", []):
                name = normalize(re.split(r"[\[<>=!~; ]", package, maxsplit=1)[0])
                if name not in lock_pins:
                    unpinned.setdefault(f"{manifest.relative_to(REPO)}:{dag_id}", []).append(package)
    assert not unpinned, f"packages declared in needs.yaml but not pinned in the lock: {unpinned}"


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with line continuations joined and comments dropped."""
    logical: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        logical.append(current + stripped)
        current = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in logical]


def test_dockerfile_builds_on_the_official_image_the_lock_was_compiled_for(lock_pins: dict[str, str]) -> None:
    instructions = dockerfile_instructions(DOCKERFILE.read_text())
    args = dict(a.split("=", 1) for op, a in instructions if op == "ARG" and "=" in a)
    froms = [a for op, a in instructions if op == "FROM"]
    assert froms[0] == "${AIRFLOW_BASE_IMAGE} AS airflow", f"the first stage must build on AIRFLOW_BASE_IMAGE: {froms}"
    assert all(f.startswith(("airflow ", "dags-")) for f in froms[1:]), f"later stages must build on that one: {froms}"
    python_version = re.search(r"--python-version (\d+\.\d+)", LOCK.read_text())
    assert python_version, f"{LOCK.name} header does not record the --python-version it was compiled for"
    expected = f"apache/airflow:{lock_pins['apache-airflow']}-python{python_version.group(1)}"
    assert args.get("AIRFLOW_BASE_IMAGE") == expected, (
        f"AIRFLOW_BASE_IMAGE default must be the official image of the locked Airflow and Python: {expected}"
    )


def test_dockerfile_installs_exactly_the_lock() -> None:
    instructions = dockerfile_instructions(DOCKERFILE.read_text())
    copies = [a for op, a in instructions if op == "COPY" and "requirements.lock" in a]
    assert copies == ["--chown=airflow:0 python/requirements.lock /opt/airflow/requirements.lock"], copies
    main_installs = [
        shlex.split(a) for op, a in instructions
        if op == "RUN" and "pip install" in a and "ml-venv" not in a
    ]
    assert len(main_installs) == 1, f"expected one pip install into Airflow's environment: {main_installs}"
    words = main_installs[0]
    install = words[words.index("install") + 1:words.index("&&") if "&&" in words else None]
    packages = [w for w in install if not w.startswith("-") and words[words.index(w) - 1] != "-r"]
    requirement_files = [install[i + 1] for i, w in enumerate(install) if w == "-r"]
    assert requirement_files == ["/opt/airflow/requirements.lock"], requirement_files
    # Only the base image's own Airflow pin may appear beside the lock: nothing unpinned sneaks in.
    assert packages == ["apache-airflow==${AIRFLOW_VERSION}"], packages
    assert "pip check" in " ".join(words), "the install must be followed by `pip check`"


def test_dags_are_bundled_only_for_the_bundled_source() -> None:
    """The final stage is picked by DAGS_SOURCE: only `bundled` copies dags/ and byte-compiles it (git-sync stacks mount theirs)."""
    instructions = dockerfile_instructions(DOCKERFILE.read_text())
    args = dict(a.split("=", 1) for op, a in instructions if op == "ARG" and "=" in a)
    assert args.get("DAGS_SOURCE") == "bundled"
    stages: dict[str, list[tuple[str, str]]] = {"": []}  # "" holds the global ARGs
    current = ""
    for op, arg in instructions:
        if op == "FROM":
            current = arg.split(" AS ")[-1] if " AS " in arg else arg
            stages[current] = []
        else:
            stages[current].append((op, arg))
    assert list(stages)[-1] == "dags-${DAGS_SOURCE}", "the last stage must be chosen by DAGS_SOURCE"
    # Copied, then byte-compiled in place: each parse is a freshly forked process, and baked .pyc spare it compiling.
    assert stages["dags-bundled"] == [
        ("COPY", "--chown=airflow:0 dags/ /opt/airflow/dags/"),
        ("RUN", "python -m compileall -q /opt/airflow/dags"),
    ]
    assert stages["dags-gitsync"] == []


def test_build_context_sends_the_lock_files() -> None:
    patterns = [ln.strip() for ln in DOCKERIGNORE.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    assert patterns[0] == "*", "the context should start from nothing: node_modules and .venv stay out"
    assert "!python/requirements.lock" in patterns
    assert "!python/ml-requirements.lock" in patterns
    assert "!dags" in patterns, "bundled DAGs are copied from dags/"


NETWORK_GUARD = textwrap.dedent(
    """
    import json, socket, sys
    attempts = []
    def refuse(kind):
        def guard(*args, **kwargs):
            attempts.append(f"{kind}{args[1:] if kind == 'connect' else args[:2]}")
            raise OSError(f"network access at DAG parse time: {kind}")
        return guard
    socket.socket.connect = refuse("connect")
    socket.socket.connect_ex = refuse("connect")
    socket.getaddrinfo = refuse("getaddrinfo")
    socket.create_connection = refuse("create_connection")
    from airflow.dag_processing.dagbag import DagBag
    bag = DagBag(dag_folder=sys.argv[1], safe_mode=False)
    print(json.dumps({"attempts": attempts, "dags": len(bag.dag_ids), "errors": bag.import_errors}))
    """
)


def parse_with_network_guard(dag_folder: Path, airflow_home: Path) -> dict[str, object]:
    """Parse `dag_folder` like the dag-processor, in a fresh interpreter whose sockets refuse to open."""
    env = {**os.environ, "AIRFLOW_HOME": str(airflow_home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home}/airflow.db",
           "PYTHONPATH": str(dag_folder)}
    result = subprocess.run(
        [sys.executable, "-c", NETWORK_GUARD, str(dag_folder)],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )
    assert result.returncode == 0, f"parsing {dag_folder} crashed:\n{result.stderr[-4000:]}"
    report: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def test_network_guard_catches_a_dag_file_that_fetches_at_parse_time(tmp_path: Path) -> None:
    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / "fetching_dag.py").write_text(
        "import urllib.request\n"
        "from airflow.sdk import DAG\n"
        "CONFIG = urllib.request.urlopen('http://127.0.0.1:9/config.json', timeout=1).read()\n"
        "with DAG(dag_id='fetching', schedule=None):\n    pass\n"
    )
    report = parse_with_network_guard(folder, tmp_path)
    assert report["attempts"], f"the guard missed a module-level fetch: {report}"
    assert "fetching_dag.py" in " ".join(report["errors"]), report  # type: ignore[arg-type]


def test_parsing_dags_opens_no_network_connection(tmp_path: Path) -> None:
    report = parse_with_network_guard(DAGS, tmp_path)
    assert report["attempts"] == [], f"DAG files reached for the network while being parsed: {report}"
    errors: dict[str, str] = report["errors"]  # type: ignore[assignment]
    network_errors = {f: e for f, e in errors.items() if "network access at DAG parse time" in e}
    assert not network_errors, network_errors
