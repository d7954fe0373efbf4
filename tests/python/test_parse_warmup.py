"""The dag-processor the platform deploys: its airflow_local_settings warm-up, and what a DAG-file parse still imports.

The parse runs go through bench/parse_dags.py, which forks one parser per file from a parent set up like the
dag-processor (pre-imports, frozen GC, and, with `--parser platform`, the platform's airflow_local_settings).
"""

from __future__ import annotations

import importlib
import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
LOCAL_SETTINGS = REPO / "local_settings"


def _parse_report(tmp_path: Path, parser: str) -> dict[str, Any]:
    out = tmp_path / f"parse-{parser}.json"
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "parse_dags.py"), "--rounds", "1", "--only-ours", "--parser", parser,
         "--json", str(out)],
        capture_output=True, text=True, timeout=600, cwd=REPO,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(out.read_text())


def test_a_parse_on_the_deployed_dag_processor_imports_nothing(tmp_path: Path) -> None:
    report = _parse_report(tmp_path, "platform")
    assert report["ours"]["import_errors"] == 0
    assert report["ours"]["files"] >= 53 and report["ours"]["dags"] >= 53
    # Anything else a file imports at parse time is paid again on every re-parse: move it into the task.
    assert report["third_party_parse_imports"] == {}, json.dumps(report["third_party_parse_imports"], indent=1)
    # The shared library (dags/common) is preloaded by the dag-processor's parent, so a parse imports no module.
    imports = {row["file"]: row["imported"] for row in report["per_file"] if row["group"] == "ours" and row["imported"]}
    assert imports == {}, json.dumps(imports, indent=1)


def test_without_the_warm_up_asset_and_watcher_dags_import_provider_modules_on_every_parse(tmp_path: Path) -> None:
    heavy = _parse_report(tmp_path, "stock")["third_party_parse_imports"]
    # s3:// assets make the SDK load every provider's asset-URI handler (boto3 and google-cloud-storage among them).
    assert any(m.startswith("airflow.providers.amazon") for m in heavy["dags/phase14/01_dataset_producer.py"])
    # The Kafka AssetWatcher's MessageQueueTrigger instantiates every installed queue provider.
    assert "airflow.providers.apache.kafka.queues.kafka" in heavy["dags/phase14/03_dataset_patterns.py"]


@pytest.fixture
def local_settings(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.syspath_prepend(str(LOCAL_SETTINGS))
    monkeypatch.delenv("AIRFLOW_PLATFORM_WARM_PARSER", raising=False)
    sys.modules.pop("airflow_local_settings", None)
    # Fork hooks cannot be unregistered: record them instead of leaving them in the test process.
    fork_hooks: list[Any] = []
    monkeypatch.setattr("os.register_at_fork", lambda **hooks: fork_hooks.append(hooks))
    module = importlib.import_module("airflow_local_settings")
    module.recorded_fork_hooks = fork_hooks
    yield module
    sys.modules.pop("airflow_local_settings", None)


def test_other_components_skip_the_warm_up(local_settings: Any) -> None:
    # Scheduler, API server, triggerer and workers import the same file but do not parse DAG files.
    assert not hasattr(local_settings, "_WARM_UP_SECONDS")


def test_warm_up_runs_every_step_and_leaves_the_provider_registry_loaded(local_settings: Any) -> None:
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    timings = local_settings.warm_dag_parser()
    assert set(timings) == {
        "airflow.sdk attributes", "provider asset-URI handlers", "task decorators", "message-queue providers",
        "templating", "dag-factory", "shared DAG library", "DAG construction", "ABC subclass-check caches",
    }
    handlers = ProvidersManagerTaskRuntime().asset_uri_handlers
    assert {"s3", "postgres", "kafka"} <= set(handlers)
    assert "airflow.providers.common.messaging.triggers.msg_queue" in sys.modules
    before_fork = [hooks.get("before") for hooks in local_settings.recorded_fork_hooks]
    assert before_fork.count(local_settings._before_fork) == 1


def test_a_failing_warm_up_step_is_logged_and_never_stops_the_dag_processor(
    local_settings: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise RuntimeError("provider registry unavailable")

    monkeypatch.setattr(local_settings, "_load_asset_uri_handlers", broken)
    with caplog.at_level(logging.WARNING, logger="airflow.platform.local_settings"):
        timings = local_settings.warm_dag_parser()
    assert "provider asset-URI handlers" in timings
    assert any("provider asset-URI handlers" in r.getMessage() and r.exc_info for r in caplog.records)


def test_the_file_survives_the_charts_tpl() -> None:
    # The chart renders airflowLocalSettings through `tpl`: double braces would be evaluated as a template.
    assert "{{" not in (LOCAL_SETTINGS / "airflow_local_settings.py").read_text()


# The dag-processor forks one parser per file; these run a real fork from a parent that imported the local settings
# with the warm-up on, as the deployed dag-processor does, and look at what the child inherits.
FORK_PROBE = r"""
import json, os, sys
import airflow  # runs airflow_local_settings, with the warm-up: the dag-processor's parent

def in_child(probe):
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write_fd, json.dumps(probe()).encode())
        os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd) as reader:
        answer = json.loads(reader.read())
    os.waitpid(pid, 0)
    return answer
"""


def _run_fork_probe(script: str, dags_folder: Path, **env: str) -> Any:
    import os

    environment = {
        **os.environ,
        "PYTHONPATH": str(LOCAL_SETTINGS),
        "AIRFLOW_PLATFORM_WARM_PARSER": "true",
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        **env,
    }
    result = subprocess.run(
        [sys.executable, "-c", FORK_PROBE + script], capture_output=True, text=True, timeout=300, env=environment
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def _dags_folder_with_a_shared_library(root: Path) -> Path:
    dags = root / "dags"
    (dags / "shared").mkdir(parents=True)
    (dags / "shared" / "__init__.py").write_text("")
    (dags / "shared" / "settings.py").write_text("RETRIES = 1\n")
    (dags / "shared" / "only_for_tasks.py").write_text("raise RuntimeError('imported at parse time')\n")
    (dags / "team").mkdir()
    (dags / "team" / "orders_dag.py").write_text(
        '"""An airflow DAG file."""\nfrom shared.settings import RETRIES\n\n\ndef run():\n'
        "    from shared.only_for_tasks import x  # inside a task: never preloaded\n"
    )
    return dags


FRESHNESS_PROBE = r"""
from pathlib import Path
settings = Path(sys.argv[1]) / "shared" / "settings.py"

def probe():
    preloaded = "shared.settings" in sys.modules
    from shared.settings import RETRIES
    return {"preloaded": preloaded, "retries": RETRIES, "tasks_module": "shared.only_for_tasks" in sys.modules}

answers = [in_child(probe)]
settings.write_text("RETRIES = 5  # edited, as git-sync or an editor would\n")
answers.append(in_child(probe))
settings.unlink()
(settings.parent / "settings").mkdir()
(settings.parent / "settings" / "__init__.py").write_text("RETRIES = 7\n")
answers.append(in_child(probe))
print(json.dumps(answers))
"""


def test_the_shared_dag_library_is_preloaded_and_every_parse_sees_it_as_on_disk(tmp_path: Path) -> None:
    dags = _dags_folder_with_a_shared_library(tmp_path)
    script = FRESHNESS_PROBE.replace("sys.argv[1]", repr(str(dags)))
    first, after_edit, after_replacement = _run_fork_probe(script, dags)
    # Imported once in the parent: the parse does not import it again. Task-time imports stay out.
    assert first == {"preloaded": True, "retries": 1, "tasks_module": False}
    # Changed on disk: the before-fork hook re-imports it, so the child gets the new code, still preloaded.
    assert after_edit == {"preloaded": True, "retries": 5, "tasks_module": False}
    assert after_replacement == {"preloaded": True, "retries": 7, "tasks_module": False}


BROKEN_LIBRARY_PROBE = r"""
def probe():
    preloaded = "shared.settings" in sys.modules
    try:
        from shared.settings import RETRIES
    except RuntimeError as error:
        return {"preloaded": preloaded, "error": str(error)}
    return {"preloaded": preloaded, "retries": RETRIES}

print(json.dumps(in_child(probe)))
"""


def test_a_library_that_fails_to_import_is_left_to_the_parse_which_reports_it(tmp_path: Path) -> None:
    dags = _dags_folder_with_a_shared_library(tmp_path)
    (dags / "shared" / "settings.py").write_text("raise RuntimeError('settings: VAULT_ADDR is not set')\n")
    # The dag-processor keeps running; the DAG file's own parse hits the error and shows it as its import error.
    assert _run_fork_probe(BROKEN_LIBRARY_PROBE, dags) == {
        "preloaded": False, "error": "settings: VAULT_ADDR is not set"
    }


def test_with_other_dag_bundles_nothing_is_preloaded(tmp_path: Path) -> None:
    # A versioned (git) bundle parses other paths than the DAG folder: a preload from there could be the wrong code.
    dags = _dags_folder_with_a_shared_library(tmp_path)
    bundles = json.dumps([{"name": "repo", "classpath": "airflow.providers.git.bundles.git.GitDagBundle",
                           "kwargs": {"git_conn_id": "git_default", "tracking_ref": "main"}}])
    script = "print(json.dumps(in_child(lambda: 'shared.settings' in sys.modules)))"
    assert _run_fork_probe(script, dags, AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST=bundles) is False


ABC_PROBE = r"""
import abc, collections.abc

def negative_answers():
    _, _, negative, version = abc._get_dump(collections.abc.Collection)
    valid = version == abc.get_cache_token()
    return sorted(ref().__name__ for ref in negative if ref() is not None) if valid else "invalidated"

class Late:  # registering anything invalidates every negative cache in the process
    pass
collections.abc.Sized.register(Late)
print(json.dumps(in_child(negative_answers)))
"""


def test_a_parse_inherits_the_abc_answers_dag_construction_needs(tmp_path: Path) -> None:
    # isinstance(None, Collection) and friends walk hundreds of subclasses when not cached (1-2 ms each, every parse).
    answers = _run_fork_probe(ABC_PROBE, _dags_folder_with_a_shared_library(tmp_path))
    assert answers != "invalidated"  # the before-fork hook filled them again after the late register()
    assert {"NoneType", "function", "int", "float", "timedelta"} <= set(answers)


def test_a_failed_preload_is_tried_again_after_a_minute(
    tmp_path: Path, local_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    dags = _dags_folder_with_a_shared_library(tmp_path)
    settings = dags / "shared" / "settings.py"
    settings.write_text("raise RuntimeError('broken')\n")
    monkeypatch.setattr(sys, "path", list(sys.path))  # load() appends the DAG folder, as the parser child does
    library = local_settings.SharedDagLibrary(dags)
    try:
        assert library.load() == []
        settings.write_text("RETRIES = 3\n")  # the fix lands
        library.refresh()
        assert "shared.settings" not in sys.modules  # not on every fork: a still-broken library would run each time
        library.retry_at -= library.RETRY_FAILED_LOAD_SECONDS
        library.refresh()
        assert sys.modules["shared.settings"].RETRIES == 3
        assert set(library.signatures) == {"shared", "shared.settings"}
    finally:
        library.drop()
    assert "shared.settings" not in sys.modules
