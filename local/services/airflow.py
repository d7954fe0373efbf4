"""Airflow 3.3 itself: api-server, scheduler, dag-processor and triggerer (LocalExecutor), AIRFLOW_HOME in .local/airflow,
metadata DB on the local Postgres `airflow` database, configured like the Pulumi stacks: StatsD to statsd_exporter,
OpenLineage to Marquez, pools/connections/variables from dags/phase*/needs.yaml."""

from __future__ import annotations

import json
import os
from pathlib import Path

from local import paths, ports, proc
from local.secrets import secret
from local.services import postgres, vault
from local.services.base import Endpoint, Service, ServiceError, http_ok

ADMIN_USER = "admin"
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
EXECUTORS = ("LocalExecutor", "CeleryExecutor")


def executor() -> str:
    """LOCAL_AIRFLOW_EXECUTOR: LocalExecutor (default, lighter on 2 cores) or CeleryExecutor (workers on Redis)."""
    chosen = os.environ.get("LOCAL_AIRFLOW_EXECUTOR") or "LocalExecutor"
    if chosen not in EXECUTORS:
        raise ServiceError(f"airflow: LOCAL_AIRFLOW_EXECUTOR={chosen!r} must be one of {', '.join(EXECUTORS)}")
    return chosen
OPENLINEAGE_NAMESPACE = "local-platform"
LOCAL_SETTINGS = paths.REPO / "local_settings"
# Set on the dag-processor only, as in the chart values: its airflow_local_settings then imports, once, what every
# forked DAG-file parser would import again on each parse (see local_settings/airflow_local_settings.py).
WARM_PARSER_ENV = {"AIRFLOW_PLATFORM_WARM_PARSER": "true"}


def home() -> Path:
    return paths.HOME / "airflow"


def base_url() -> str:
    return f"http://{ports.HOST}:{ports.port('airflow')}"


def admin_password() -> str:
    return secret("airflow_admin_password")


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def passwords_file() -> Path:
    """SimpleAuthManager's users file ({"admin": "<password>"}), kept with the secrets (mode 600)."""
    path = paths.SECRETS / "airflow_passwords.json"
    path.write_text(json.dumps({ADMIN_USER: admin_password()}))
    path.chmod(0o600)
    return path


def environment() -> dict[str, str]:
    """Every Airflow process (and `dag.test()` runs that want the same setup) gets exactly this environment."""
    from local import contract

    env = {
        "AIRFLOW_HOME": str(home()),
        "AIRFLOW__CORE__DAGS_FOLDER": str(paths.REPO / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": executor(),
        "AIRFLOW__CORE__PARALLELISM": "4",  # LocalExecutor forks this many workers up front; 2 cores here
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "4",
        "AIRFLOW__CORE__FERNET_KEY": secret("airflow_fernet_key", factory=_fernet_key),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base_url()}/execution/",
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(paths.SECRETS / "airflow_passwords.json"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": postgres.dsn("airflow", scheme="postgresql+psycopg2"),
        "AIRFLOW__API__HOST": ports.HOST,
        "AIRFLOW__API__PORT": str(ports.port("airflow")),
        "AIRFLOW__API__BASE_URL": base_url(),
        "AIRFLOW__API__SECRET_KEY": secret("airflow_api_secret_key"),
        "AIRFLOW__API_AUTH__JWT_SECRET": secret("airflow_jwt_secret", length=64),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home() / "logs"),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        # Task runners re-parse the DAG file; Asset URIs load every provider's URI handlers, which on a busy 2-core
        # machine can exceed the 30 s default and fail tasks with "Dag not found during start up".
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
        "AIRFLOW__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT": "180",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",  # its server binds 0.0.0.0:8974; health comes from /monitor/health
        # Metrics: StatsD → statsd_exporter → Prometheus (local/config/statsd_mapping.yml)
        "AIRFLOW__METRICS__STATSD_ON": "True",
        "AIRFLOW__METRICS__STATSD_HOST": ports.HOST,
        "AIRFLOW__METRICS__STATSD_PORT": str(ports.port("statsd")),
        "AIRFLOW__METRICS__STATSD_PREFIX": "airflow",
        # Lineage: OpenLineage HTTP transport → Marquez
        "AIRFLOW__OPENLINEAGE__NAMESPACE": OPENLINEAGE_NAMESPACE,
        # phase17_01: a custom `governance` run facet on every event the provider sends (dags/common/lineage.py)
        "AIRFLOW__OPENLINEAGE__CUSTOM_RUN_FACETS": "common.lineage.governance_run_facets",
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "http", "url": f"http://{ports.HOST}:{ports.port('marquez')}", "endpoint": "api/v1/lineage"}),
        # Secrets: Vault backend first (like the Pulumi stacks), then these env vars, then the metadata DB
        "AIRFLOW__SECRETS__BACKEND": "airflow.providers.hashicorp.secrets.vault.VaultBackend",
        "AIRFLOW__SECRETS__BACKEND_KWARGS": json.dumps(vault.secrets_backend_kwargs()),
        "PYTHONUNBUFFERED": "1",
        # dags/ too: trigger apply_functions (common.assets...) are imported by the triggerer, outside the DAG bundle.
        # local_settings/ holds the platform's airflow_local_settings, which the chart mounts into every component.
        "PYTHONPATH": f"{paths.REPO}:{paths.REPO / 'dags'}:{LOCAL_SETTINGS}",
    }
    if executor() == "CeleryExecutor":
        from local.services import redis

        env.update({
            "AIRFLOW__CELERY__BROKER_URL": redis.url(db=1),
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + postgres.dsn("airflow"),
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "4",
        })
    env.update(contract.environment())
    return env


def _byte_compile_dags() -> None:
    """Write dags/**/__pycache__ ahead, as the image build does: each parse runs in a freshly forked process, and a
    shell with PYTHONDONTWRITEBYTECODE=1 would otherwise leave every parse recompiling dags/common from source.
    A DAG edited later is simply recompiled in memory until the next start."""
    import compileall

    compileall.compile_dir(str(paths.REPO / "dags"), quiet=1, workers=1)


class Airflow(Service):
    name = "airflow"
    @property
    def depends(self) -> tuple[str, ...]:  # type: ignore[override]
        base = ("postgres", "statsd", "prometheus", "marquez", "vault")
        return (*base, "redis") if executor() == "CeleryExecutor" else base

    tcp_ports = ("airflow",)
    start_timeout = 420.0

    def _provision_fingerprint(self) -> str:
        """Changes when a migration or pool upsert is due: Airflow version, the manifests' pools, the DB cluster."""
        import hashlib
        from importlib.metadata import version

        from local import contract

        cluster = postgres.Postgres()._datadir() / "PG_VERSION"
        identity = f"{cluster.stat().st_ino}:{cluster.stat().st_mtime_ns}" if cluster.exists() else "none"
        pools = json.dumps(contract.load().pools, sort_keys=True)
        return hashlib.sha256(f"{version('apache-airflow')}|{pools}|{identity}".encode()).hexdigest()

    def prepare(self) -> None:
        home().mkdir(parents=True, exist_ok=True)
        passwords_file()
        _byte_compile_dags()
        # Migrate the metadata DB and upsert the pools of the manifests before any component starts; skipped on a
        # warm start when nothing it depends on changed (it costs a full Airflow import).
        marker = home() / ".provisioned"
        fingerprint = self._provision_fingerprint()
        if marker.exists() and marker.read_text() == fingerprint:
            return
        result = proc.run([str(paths.PYTHON), "-m", "local.airflow_provision"], env=environment(), cwd=paths.REPO,
                          timeout=900)
        (paths.LOGS / "airflow-provision.log").write_text(result.stdout + result.stderr)
        marker.write_text(fingerprint)

    def processes(self) -> list[proc.ProcSpec]:
        airflow_bin = str(paths.VENV_BIN / "airflow")
        env = proc.LazyEnv(environment)
        specs = []
        for component in COMPONENTS:
            argv = [airflow_bin, component]
            if component == "api-server":
                argv += ["--host", ports.HOST, "--port", str(ports.port("airflow")), "--workers", "1"]
            if component in ("scheduler", "triggerer"):
                # Airflow's log server binds every interface (no host option); logs are local files the api-server
                # reads directly, so it is not started: loopback only, and no fixed ports 8793/8794 to collide on.
                argv.append("--skip-serve-logs")
            component_env = proc.LazyEnv(lambda: {**env, **WARM_PARSER_ENV}) if component == "dag-processor" else env
            specs.append(proc.ProcSpec(name=f"airflow-{component}", argv=argv, env=component_env, cwd=home(),
                                       stop_timeout=45))
        worker_pid_file = paths.RUN / "airflow-celery-worker.pid"
        if executor() == "CeleryExecutor" or worker_pid_file.exists():  # so `down` stops a worker of an earlier Celery run
            specs.append(proc.ProcSpec(name="airflow-celery-worker", argv=[airflow_bin, "celery", "worker", "--skip-serve-logs"],
                                       env=env, cwd=home(), stop_timeout=60))
        return specs

    def health(self) -> str | None:
        reason = http_ok(f"{base_url()}/api/v2/monitor/health")
        if reason:
            return reason
        import urllib.request

        with urllib.request.urlopen(f"{base_url()}/api/v2/monitor/health", timeout=3) as response:
            report = json.load(response)
        unhealthy = [part for part, state in report.items() if isinstance(state, dict) and state.get("status") != "healthy"]
        return f"unhealthy: {', '.join(unhealthy)}" if unhealthy else None

    def endpoint(self) -> Endpoint:
        return Endpoint(url=base_url(), login=f"{ADMIN_USER} / password in {paths.SECRETS}/airflow_admin_password")


def token() -> str:
    """A JWT for the Airflow REST API, logged in as the generated admin."""
    import urllib.request

    request = urllib.request.Request(
        f"{base_url()}/auth/token", method="POST", headers={"Content-Type": "application/json"},
        data=json.dumps({"username": ADMIN_USER, "password": admin_password()}).encode())
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)["access_token"]
    except OSError as error:
        raise ServiceError(f"airflow: cannot log in to {base_url()}/auth/token: {error}") from error


def unused_env_keys() -> list[str]:
    """Airflow reads config from env; a stale AIRFLOW__ in the caller's shell would override ours, so report it."""
    return sorted(k for k in os.environ if k.startswith("AIRFLOW__") and k not in environment())
