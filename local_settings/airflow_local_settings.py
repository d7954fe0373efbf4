"""The platform's `airflow_local_settings`: every Airflow process imports it once at start-up.

Only the dag-processor acts on it, and only when `AIRFLOW_PLATFORM_WARM_PARSER=true` (the platform sets that for the
dag-processor process alone: in its command in the chart values, not on the container's env that probes and
`kubectl exec` share, and in the local platform). The dag-processor forks a fresh child for every
DAG file on every refresh, and a child re-imports whatever its parent had not imported yet. `warm_dag_parser()` imports
in the parent, once, what the DAG files would otherwise make each child import again:

- the provider asset-URI handlers. The first `Asset("s3://…")`, `Asset("postgres://…")` or `Asset("kafka://…")` in a
  process makes the task SDK import every installed provider's handler module, and those pull in boto3 (amazon) and
  google-cloud-storage (google): 0.4–1.4 s added to every parse of such a file (bench/parse_dags.py measures it);
- the attributes `airflow.sdk` loads lazily (the task decorators, timetables, Param…), which
  `[dag_processor] parsing_pre_import_modules` does not reach because it imports modules, not attributes;
- the providers' task decorators (`@task.branch`, `@task.short_circuit`…), resolved lazily on first use;
- the message-queue providers behind `MessageQueueTrigger`, which an `AssetWatcher` on Kafka needs;
- Jinja's extension module and dag-factory, which DAGs with template files and YAML-declared DAGs import;
- the DAG folder's own shared library (`dags/common`): the modules DAG files import at top level. A before-fork hook
  compares each preloaded file with the disk (device, inode, size, mtime) and re-imports the library when any changed
  (git-sync swapping in a new commit, an edit), so a parse never sees older code than a fresh import would. Only
  with the default bundle (the DAG folder itself): a versioned bundle parses other paths than the one preloaded;
- one representative DAG, built and discarded, so the caches parsing fills (ABC checks, jsonschema, regexes) are full;
- the ABC subclass-check caches for the checks DAG construction makes on every parse (`isinstance(x, Mapping)`,
  `isinstance(schedule, Timetable)`, `isinstance(v, AbstractOperator)`…) with the values DAG files pass (None,
  strings, numbers, timedeltas, functions, the loaded operator classes). An uncached negative check walks the ABC's
  whole subclass tree, 1–2 ms for `Collection` or `Mapping`; a child's answers die with the child, so without this
  every parse walked the same trees again: about 4 ms of an 11–15 ms parse.

The cost is paid once when the dag-processor starts. The children share that memory copy-on-write, because the manager
freezes the garbage collector before it forks.

The file is also the chart's `airflowLocalSettings` value, which the chart passes through `tpl`: so no double braces here.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

# config/airflow-profile.json `dagParserWarmUp` defines the switch; this file is mounted alone, so it names it again
# (tests/ts/airflow-values.test.ts and tests/local/test_airflow_profile.py hold the two equal).
WARM_PARSER_ENV = "AIRFLOW_PLATFORM_WARM_PARSER"

log = logging.getLogger("airflow.platform.local_settings")


def warm_dag_parser() -> dict[str, float]:
    """Import what DAG-file parsing needs, in this (the dag-processor's) process; returns seconds per step.

    A step that fails is logged and skipped: the parser child then hits the same error and reports it as the
    file's import error, which is where the DAG's author will look for it.
    """
    timings: dict[str, float] = {}
    for name, step in (
        ("airflow.sdk attributes", _load_sdk_attributes),
        ("provider asset-URI handlers", _load_asset_uri_handlers),
        ("task decorators", _load_task_decorators),
        ("message-queue providers", _load_message_queue_providers),
        ("templating", _load_templating),
        ("dag-factory", _load_dag_factory),
        ("shared DAG library", _preload_shared_dag_library),
        ("DAG construction", _build_and_discard_a_dag),
        ("ABC subclass-check caches", _fill_abc_caches),
    ):
        started = time.perf_counter()
        try:
            step()
        except Exception:  # never stop the dag-processor over a warm-up
            log.warning("dag-parser warm-up step %r failed; parsing will import it per file", name, exc_info=True)
        timings[name] = time.perf_counter() - started
    global _before_fork_registered
    if not _before_fork_registered:
        os.register_at_fork(before=_before_fork)
        _before_fork_registered = True
    return timings


_before_fork_registered = False


def _before_fork() -> None:
    """Runs in the dag-processor before it forks a parser: the library first (a re-import may call
    `ABC.register()`), then the ABC caches. Both cost microseconds when nothing changed."""
    _refresh_shared_dag_library()
    _refill_abc_caches_if_invalidated()


def _load_sdk_attributes() -> None:
    import airflow.sdk

    for name in airflow.sdk.__all__:
        try:
            getattr(airflow.sdk, name)
        except (AttributeError, ImportError):  # e.g. 3.3.2 lists `lineage` in __all__ but cannot resolve it
            log.debug("airflow.sdk.%s could not be loaded ahead of parsing", name)


def _load_asset_uri_handlers() -> None:
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    ProvidersManagerTaskRuntime().asset_uri_handlers  # noqa: B018 -- the property runs the one-time discovery


def _load_task_decorators() -> None:
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    decorators = ProvidersManagerTaskRuntime().taskflow_decorators  # @task.branch, @task.short_circuit, @task.bash…
    for name in list(decorators):
        decorators[name]  # the lazy dict imports the decorator's module on first access


def _load_templating() -> None:
    # Airflow's Jinja environment names this extension; it is imported when a DAG resolves template files at parse.
    import jinja2.ext  # noqa: F401


def _load_dag_factory() -> None:
    # The image ships dag-factory for DAGs declared in YAML (dags/phase15); a parse of such a file imports it whole.
    try:
        import dagfactory  # noqa: F401
    except ModuleNotFoundError as missing:
        log.debug("dag-factory not installed: %s", missing)


def _noop_callback(context: object) -> None:
    """Stands in for a failure callback in the throw-away DAG."""


def _build_and_discard_a_dag() -> None:
    """Build one DAG with what DAG files commonly use, then drop it.

    The first use of each of these in a process fills caches: ABC subclass checks, jsonschema validator classes (for
    Params), compiled regular expressions, cron parsing, signature inspection. Filled here, the parser children share
    them instead of rebuilding them on every parse. The DAG is never registered (no module is being parsed here, and
    auto_register is off), so it never reaches the metadata database.
    """
    from datetime import UTC, datetime, timedelta

    from airflow.providers.standard.operators.bash import BashOperator
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.sdk import DAG, Asset, Param, TaskGroup, task

    @task
    def double(value: int) -> int:
        return value * 2

    @task.branch
    def choose(rows: int = 0) -> str:
        return "stage.mapped" if rows else "stage.skip"

    with DAG(
        dag_id="platform_parser_warm_up",
        schedule="0 6 * * 1-5",
        start_date=datetime(2026, 1, 1, tzinfo=UTC),
        catchup=False,
        auto_register=False,
        default_args={
            "owner": "platform",
            "retries": 1,
            "retry_delay": timedelta(seconds=30),
            "execution_timeout": timedelta(minutes=5),
            "on_failure_callback": _noop_callback,
        },
        params={
            "rows": Param(10, type="integer", minimum=0),
            "mode": Param("full", enum=["full", "delta"]),
            "options": Param({}, type="object", description="free-form"),
        },
        tags=["platform"],
        doc_md="warm-up",
    ) as dag:
        with TaskGroup("stage"):
            skip = EmptyOperator(task_id="skip")
            mapped = double.expand(value=[1, 2])
        publish = BashOperator(
            task_id="publish",
            bash_command="echo ready",
            outlets=[Asset(name="warm_up", uri="s3://platform/warm-up/")],
        )
        choose() >> [skip, mapped] >> publish
    dag.validate()


def _abcs_checked_by_dag_construction() -> list[type]:
    """The abstract classes and runtime protocols the SDK tests DAG-file values against while building a DAG."""
    import collections.abc
    import numbers

    import pendulum
    from airflow.sdk import BaseOperator, TaskGroup
    from airflow.sdk.definitions._internal.abstractoperator import AbstractOperator
    from airflow.sdk.definitions._internal.node import DAGNode
    from airflow.timetables.base import Timetable  # the protocol `DAG(schedule=…)` is checked against

    abcs: list[type] = [
        member for name in collections.abc.__all__ if isinstance(member := getattr(collections.abc, name), type)
    ]
    abcs += [numbers.Number, numbers.Integral, numbers.Real]
    abcs += [AbstractOperator, DAGNode, BaseOperator, TaskGroup, Timetable]
    abcs += [pendulum.tz.timezone.Timezone, pendulum.tz.timezone.FixedTimezone]
    return abcs


def _values_dag_files_pass() -> list[object]:
    """One value of each type DAG files commonly pass to DAGs, tasks and Params."""
    import functools
    import pathlib
    from datetime import UTC, date, datetime, timedelta

    return [
        None, "text", 1, 1.5, True, b"bytes", {}, [], (), set(), frozenset(),
        datetime(2026, 1, 1, tzinfo=UTC), date(2026, 1, 1), timedelta(seconds=1), UTC,
        _noop_callback, functools.partial(_noop_callback), print, pathlib.PurePosixPath("/"), pathlib.Path("/"),
    ]


def _sdk_classes() -> list[type]:
    """Operators, task groups, XCom arguments and assets loaded in this process (after the warm-up)."""
    from airflow.sdk import BaseOperator, TaskGroup, XComArg
    from airflow.sdk.definitions.asset import BaseAsset
    from airflow.sdk.definitions.mappedoperator import MappedOperator

    found: list[type] = []
    pending: list[type] = [BaseOperator, MappedOperator, TaskGroup, XComArg, BaseAsset]
    while pending:
        cls = pending.pop()
        if cls not in found:
            found.append(cls)
            pending.extend(cls.__subclasses__())
    return found


DEFAULT_BUNDLE_CLASS = "airflow.dag_processing.bundles.local.LocalDagBundle"


class SharedDagLibrary:
    """The modules of a DAG folder that its DAG files import at top level, imported once in the dag-processor.

    `refresh()` keeps them equal to the disk: called before every fork, it stats each preloaded file and, when one
    changed or vanished, drops every module of the folder and imports the library again. A library that fails to
    import is dropped and left to the parses, which then report the error as the DAG file's import error.
    """

    RETRY_FAILED_LOAD_SECONDS = 60.0

    def __init__(self, dags_folder: Path) -> None:
        self.dags_folder = dags_folder
        self.signatures: dict[str, tuple[int, int, int, int]] = {}
        self.retry_at: float | None = None  # after a failed load: when to try again (the fix may have landed)

    def modules_dag_files_import(self) -> list[str]:
        """Module-level `import x.y` / `from x.y import z` in the folder's DAG files that resolve inside the folder.

        DAG files are the ones the dag-processor would parse, outside packages: the library's own modules are not
        scanned, so what they import lazily stays lazy.
        """
        import ast

        from airflow.utils.file import list_py_file_paths

        names: set[str] = set()
        # The files the dag-processor lists: .airflowignore honoured, files without "airflow" and "dag" skipped.
        for listed in list_py_file_paths(str(self.dags_folder)):
            path = Path(listed)
            if (path.parent / "__init__.py").exists():
                continue
            source = path.read_bytes()
            try:
                tree = ast.parse(source, filename=str(path))
            except SyntaxError:  # the file's own parse reports it
                continue
            for node in tree.body:
                if isinstance(node, ast.Import):
                    names.update(alias.name for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.add(node.module)
                    names.update(f"{node.module}.{alias.name}" for alias in node.names)
        return sorted(name for name in names if self._is_in_folder(name))

    def _is_in_folder(self, dotted: str) -> bool:
        relative = Path(*dotted.split("."))
        candidates = (self.dags_folder / relative.with_suffix(".py"), self.dags_folder / relative / "__init__.py")
        # Every enclosing package must be in the folder too, or it is not the folder's module.
        packages_present = all(
            (self.dags_folder / Path(*dotted.split(".")[:depth]) / "__init__.py").exists()
            for depth in range(1, len(dotted.split(".")))
        )
        return packages_present and any(candidate.exists() for candidate in candidates)

    def load(self) -> list[str]:
        """Import the library; returns the module names now preloaded."""
        import importlib

        folder = str(self.dags_folder)
        if folder not in sys.path:
            sys.path.append(folder)  # what the parser child does with its bundle path; it then skips it
        try:
            for name in self.modules_dag_files_import():
                importlib.import_module(name)
        except Exception:
            log.warning("preloading the DAG folder's shared library failed; parses import it", exc_info=True)
            self.drop()
            self.retry_at = time.monotonic() + self.RETRY_FAILED_LOAD_SECONDS
            return []
        self.retry_at = None
        self.signatures = {
            name: signature
            for name, module_file in self._folder_modules().items()
            if (signature := _file_signature(module_file)) is not None
        }
        return sorted(self.signatures)

    def _folder_modules(self) -> dict[str, str]:
        """Modules whose file is in the folder, however it was reached (a symlink, another sys.path spelling).

        Resolves every module's path: only on load and drop, never in the per-fork check.
        """
        root = os.path.join(os.path.realpath(self.dags_folder), "")
        found = {}
        for name, module in list(sys.modules.items()):
            module_file = getattr(module, "__file__", None)
            if module_file and os.path.realpath(module_file).startswith(root):
                found[name] = module_file
        return found

    def stale(self) -> bool:
        """Whether a preloaded module changed on disk. Runs before every fork: one stat per preloaded module."""
        for name, signature in self.signatures.items():
            module = sys.modules.get(name)
            module_file = getattr(module, "__file__", None)
            if module_file is None or _file_signature(module_file) != signature:
                return True
        return False

    def drop(self) -> None:
        import importlib

        for name in set(self._folder_modules()) | set(self.signatures):
            sys.modules.pop(name, None)
        self.signatures = {}
        importlib.invalidate_caches()

    def refresh(self) -> None:
        if self.signatures and self.stale():
            self.drop()
            self.load()
        elif self.retry_at is not None and time.monotonic() >= self.retry_at:
            self.load()


def _file_signature(path: str) -> tuple[int, int, int, int] | None:
    try:
        stat = os.stat(path)  # follows git-sync's symlink to the checked-out commit
    except OSError:
        return None
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)


_shared_dag_library: SharedDagLibrary | None = None


def _default_bundle_dags_folder() -> Path | None:
    """The DAG folder, when the only DAG bundle is the default one on it; otherwise None (nothing to preload)."""
    import json

    from airflow.configuration import conf

    dags_folder = Path(conf.get("core", "dags_folder"))
    bundles = json.loads(conf.get("dag_processor", "dag_bundle_config_list", fallback="[]") or "[]")
    if len(bundles) != 1 or bundles[0].get("classpath") != DEFAULT_BUNDLE_CLASS:
        return None
    path = (bundles[0].get("kwargs") or {}).get("path")
    if path is not None and Path(path) != dags_folder:
        return None
    return dags_folder if dags_folder.is_dir() else None


def _preload_shared_dag_library() -> None:
    global _shared_dag_library
    dags_folder = _default_bundle_dags_folder()
    if dags_folder is None:
        log.debug("DAG bundles other than the default one: the shared DAG library is not preloaded")
        return
    _shared_dag_library = SharedDagLibrary(dags_folder)
    _shared_dag_library.load()


def _refresh_shared_dag_library() -> None:
    if _shared_dag_library is None:
        return
    try:
        _shared_dag_library.refresh()
    except Exception:  # a fork must never fail over a preload: drop it and let the parse import
        log.warning("refreshing the preloaded DAG library failed; parses import it", exc_info=True)
        _shared_dag_library.drop()


_abc_caches_filled_at: object = None  # abc.get_cache_token() when the caches were last filled


def _fill_abc_caches() -> None:
    """Run the ABC subclass checks DAG construction repeats on every parse, and keep them valid until each fork.

    `isinstance` on an ABC caches its answer on the ABC; a negative answer first walks every registered and real
    subclass (hundreds for `Collection` and `Mapping` once the providers are loaded). Any `ABC.register()` anywhere
    invalidates every negative answer, and the dag-processor imports more modules after this file (its own, plugins,
    `parsing_pre_import_modules` before each fork), so filling once is not enough: a before-fork hook fills again
    (`_before_fork`) fills again whenever the cache token moved, which is a few times after start-up and then never.
    """
    _check_what_dag_construction_checks()


def _check_what_dag_construction_checks() -> None:
    import abc as abc_module

    global _abc_caches_filled_at
    values = _values_dag_files_pass()
    classes = _sdk_classes()
    for abc in _abcs_checked_by_dag_construction():
        for value in values:
            isinstance(value, abc)
        for cls in classes:
            try:
                issubclass(cls, abc)
            except TypeError:  # a protocol with data members: only instances can be checked, done above
                break
    _abc_caches_filled_at = abc_module.get_cache_token()


def _refill_abc_caches_if_invalidated() -> None:
    import abc as abc_module

    if abc_module.get_cache_token() == _abc_caches_filled_at:
        return
    try:
        _check_what_dag_construction_checks()
    except Exception:  # a fork must never fail over a cache
        log.debug("refilling the ABC caches before a fork failed", exc_info=True)


def _load_message_queue_providers() -> None:
    import importlib

    try:
        # Importing it instantiates every installed provider's queue (Kafka, SQS, Redis, Pub/Sub, Service Bus):
        # 0.4 s of imports for each DAG file with an AssetWatcher on a MessageQueueTrigger.
        importlib.import_module("airflow.providers.common.messaging.triggers.msg_queue")
    except ModuleNotFoundError as missing:  # event-driven scheduling not installed: nothing to warm
        log.debug("no message-queue providers to load: %s", missing)


if os.environ.get(WARM_PARSER_ENV, "").lower() == "true":
    _WARM_UP_SECONDS = warm_dag_parser()
    # Airflow configures logging only after importing this file, so an INFO record here would be dropped.
    print(
        "airflow_local_settings: dag-parser warm-up done in "
        + ", ".join(f"{step} {seconds:.2f}s" for step, seconds in _WARM_UP_SECONDS.items()),
        file=sys.stderr,
        flush=True,
    )
