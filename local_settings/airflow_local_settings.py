"""The platform's `airflow_local_settings`: every Airflow process imports it once at start-up.

Only the dag-processor acts on it, and only when `AIRFLOW_PLATFORM_WARM_PARSER=true` (the platform sets that on the
dag-processor alone, in the chart values and in the local platform). The dag-processor forks a fresh child for every
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
- one representative DAG, built and discarded, so the caches parsing fills (ABC checks, jsonschema, regexes) are full.

The cost is paid once when the dag-processor starts. The children share that memory copy-on-write, because the manager
freezes the garbage collector before it forks.

The file is also the chart's `airflowLocalSettings` value, which the chart passes through `tpl`: so no double braces here.
"""

from __future__ import annotations

import logging
import os
import sys
import time

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
        ("DAG construction", _build_and_discard_a_dag),
    ):
        started = time.perf_counter()
        try:
            step()
        except Exception:  # never stop the dag-processor over a warm-up
            log.warning("dag-parser warm-up step %r failed; parsing will import it per file", name, exc_info=True)
        timings[name] = time.perf_counter() - started
    return timings


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
