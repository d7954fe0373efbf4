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


def test_a_parse_on_the_deployed_dag_processor_imports_only_the_shared_dag_library(tmp_path: Path) -> None:
    report = _parse_report(tmp_path, "platform")
    assert report["ours"]["import_errors"] == 0
    assert report["ours"]["files"] >= 53 and report["ours"]["dags"] >= 53
    # Anything else a file imports at parse time is paid again on every re-parse: move it into the task.
    assert report["third_party_parse_imports"] == {}, json.dumps(report["third_party_parse_imports"], indent=1)


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
    module = importlib.import_module("airflow_local_settings")
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
        "templating", "dag-factory", "DAG construction",
    }
    handlers = ProvidersManagerTaskRuntime().asset_uri_handlers
    assert {"s3", "postgres", "kafka"} <= set(handlers)
    assert "airflow.providers.common.messaging.triggers.msg_queue" in sys.modules


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
