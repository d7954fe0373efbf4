"""MLflow tracking server (from the Python lock), backend store on Postgres `mlflow`, artifacts served from the data dir."""

from __future__ import annotations

from local import paths, ports, proc
from local.services import postgres
from local.services.base import Endpoint, Service, http_ok


def tracking_uri() -> str:
    return f"http://{ports.HOST}:{ports.port('mlflow')}"


class Mlflow(Service):
    name = "mlflow"
    depends = ("postgres",)
    tcp_ports = ("mlflow",)
    start_timeout = 300.0

    def processes(self) -> list[proc.ProcSpec]:
        artifacts = self.data_dir() / "artifacts"
        artifacts.mkdir(exist_ok=True)
        return [proc.ProcSpec(
            name="mlflow",
            argv=[str(paths.VENV_BIN / "mlflow"), "server", "--host", ports.HOST, "--port", str(ports.port("mlflow")),
                  "--workers", "1", "--artifacts-destination", artifacts.as_uri(), "--serve-artifacts"],
            # The store URI carries a password: passed by environment, not argv (argv shows in `ps`).
            env={"MLFLOW_BACKEND_STORE_URI": postgres.dsn("mlflow"), "PYTHONUNBUFFERED": "1",
                 "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no internet: skip litellm's download
                 # GenAI job runners (huey workers) are not needed for tracking/registry and cost ~2 GiB of RSS
                 "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
            cwd=self.data_dir(),
        )]

    def health(self) -> str | None:
        return http_ok(f"{tracking_uri()}/health")

    def endpoint(self) -> Endpoint:
        return Endpoint(url=tracking_uri())
