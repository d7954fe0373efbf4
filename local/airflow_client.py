"""A small client for the local Airflow REST API (v2), logged in as the generated admin: trigger runs, wait, inspect."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from local.services import airflow
from local.services.base import ServiceError

TERMINAL = {"success", "failed"}


class AirflowClient:
    def __init__(self) -> None:
        self.base = airflow.base_url()
        self._token = airflow.token()

    def call(self, method: str, path: str, body: Any = None) -> Any:
        request = urllib.request.Request(
            f"{self.base}/api/v2{path}", method=method, data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {self._token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
        except urllib.error.HTTPError as error:
            raise ServiceError(f"airflow API {method} {path}: HTTP {error.code}: {error.read().decode()[:500]}") from error
        return json.loads(raw) if raw else None

    def wait_for_dag(self, dag_id: str, timeout: float = 180) -> dict[str, Any]:
        """Wait until the dag-processor has serialized `dag_id`; fail with its import error if it has one."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.call("GET", f"/dags/{dag_id}")
            except ServiceError as error:
                if "HTTP 404" not in str(error):
                    raise
            if time.monotonic() > deadline:
                errors = self.call("GET", "/importErrors?limit=100").get("import_errors", [])
                detail = "; ".join(f"{e['filename']}: {e['stack_trace'][-300:]}" for e in errors)
                raise ServiceError(f"airflow: dag {dag_id} not parsed after {timeout:.0f}s. Import errors: {detail or 'none'}")
            time.sleep(3)

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None, *, with_logical_date: bool = True) -> str:
        """Unpause and trigger a run with logical_date = now (tasks templated on `ds` need one); with
        `with_logical_date=False`, a run with `logical_date: null`, as a manual UI/REST trigger without one."""
        from datetime import UTC, datetime

        self.wait_for_dag(dag_id)
        self.call("PATCH", f"/dags/{dag_id}", {"is_paused": False})
        logical_date = datetime.now(UTC).isoformat() if with_logical_date else None
        run = self.call("POST", f"/dags/{dag_id}/dagRuns", {"logical_date": logical_date, "conf": conf or {}})
        return run["dag_run_id"]

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        from urllib.parse import quote

        return self.call("GET", f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        from urllib.parse import quote

        return self.call("GET", f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances")["task_instances"]

    def wait(self, dag_id: str, run_id: str, timeout: float = 600) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            run = self.run(dag_id, run_id)
            if run["state"] in TERMINAL:
                return run
            if time.monotonic() > deadline:
                states = {ti["task_id"]: ti["state"] for ti in self.task_instances(dag_id, run_id)}
                raise ServiceError(f"airflow: run {run_id} of {dag_id} still {run['state']} after {timeout:.0f}s: {states}")
            time.sleep(2)

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        from urllib.parse import quote

        return self.call("GET", f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}/xcomEntries/{key}")["value"]
