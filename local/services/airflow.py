"""Airflow 3.3 itself: api-server, scheduler, dag-processor and triggerer (LocalExecutor), AIRFLOW_HOME in .local/airflow,
metadata DB on the local Postgres `airflow` database, configured like the Pulumi stacks: the FAB auth manager with roles
(LOCAL_AIRFLOW_AUTH=simple opts out), StatsD to statsd_exporter, OpenLineage to Marquez, pools/connections/variables
from dags/phase*/needs.yaml."""

from __future__ import annotations

import json
import os
from pathlib import Path

from local import airflow_profile, paths, ports, proc
from local.airflow_endpoint import ADMIN_USER, admin_password, base_url
from local.secrets import secret
from local.services import postgres, vault
from local.services.base import Endpoint, Service, ServiceError, http_ok

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
EXECUTORS = ("LocalExecutor", "CeleryExecutor")
# The auth manager of the Airflow profile (config/airflow-profile.json `core.auth_manager`), run in every stack and
# locally, and the lighter local opt-out.
AUTH_MANAGERS = {
    "fab": "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager",
    "simple": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
}


def auth() -> str:
    """LOCAL_AIRFLOW_AUTH: `fab` (default, as in the cluster: users and roles in the metadata DB, created at
    provisioning) or `simple` (SimpleAuthManager: one admin from a passwords file, no roles)."""
    chosen = os.environ.get("LOCAL_AIRFLOW_AUTH") or "fab"
    if chosen not in AUTH_MANAGERS:
        raise ServiceError(f"airflow: LOCAL_AIRFLOW_AUTH={chosen!r} must be one of {', '.join(AUTH_MANAGERS)}")
    return chosen


def executor() -> str:
    """LOCAL_AIRFLOW_EXECUTOR: LocalExecutor (default, lighter on 2 cores) or CeleryExecutor (workers on Redis)."""
    chosen = os.environ.get("LOCAL_AIRFLOW_EXECUTOR") or "LocalExecutor"
    if chosen not in EXECUTORS:
        raise ServiceError(f"airflow: LOCAL_AIRFLOW_EXECUTOR={chosen!r} must be one of {', '.join(EXECUTORS)}")
    return chosen
OPENLINEAGE_NAMESPACE = "local-platform"
LOCAL_SETTINGS = paths.REPO / "local_settings"
# Set on the dag-processor only, as in the chart values: its airflow_local_settings then imports, once, what every
# forked DAG-file parser would import again on each parse (see local_settings/airflow_local_settings.py). Defined in
# config/airflow-profile.json (`dagParserWarmUp`).
WARM_PARSER_ENV = airflow_profile.dag_parser_warm_up()


def home() -> Path:
    return paths.HOME / "airflow"


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def passwords_file() -> Path:
    """SimpleAuthManager's users file ({"admin": "<password>"}), kept with the secrets (mode 600)."""
    path = paths.SECRETS / "airflow_passwords.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(json.dumps({ADMIN_USER: admin_password()}))
    path.chmod(0o600)
    return path


def auth_environment() -> dict[str, str]:
    """The auth manager's settings beyond the Airflow profile. The profile runs FAB, as the cluster does: users and
    roles in the metadata DB (the admin is created by local.airflow_provision) with its defaults: AUTH_TYPE = AUTH_DB,
    and no public role (`[fab] auth_role_public` empty), so every API route but Airflow's public ones (login, token,
    health, version) needs a token. LOCAL_AIRFLOW_AUTH=simple replaces it (the profile's `localOptOuts`)."""
    if auth() == "simple":
        return {
            "AIRFLOW__CORE__AUTH_MANAGER": AUTH_MANAGERS["simple"],
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(paths.SECRETS / "airflow_passwords.json"),
        }
    return {}


def environment() -> dict[str, str]:
    """Every Airflow process (and `dag.test()` runs that want the same setup) gets exactly this environment: the
    Airflow profile (config/airflow-profile.json, shared with the cluster's chart config), then the settings the
    profile lists as environment-specific, with their local values."""
    from local import connections

    env = {
        "AIRFLOW_HOME": str(home()),
        **airflow_profile.environment(),
        "AIRFLOW__CORE__DAGS_FOLDER": str(paths.REPO / "dags"),
        "AIRFLOW__CORE__EXECUTOR": executor(),
        "AIRFLOW__CORE__PARALLELISM": "4",  # LocalExecutor forks this many workers up front; 2 cores here
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "4",
        "AIRFLOW__CORE__FERNET_KEY": secret("airflow_fernet_key", factory=_fernet_key),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base_url()}/execution/",
        **auth_environment(),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": postgres.dsn("airflow", scheme="postgresql+psycopg2"),
        "AIRFLOW__API__HOST": ports.HOST,
        "AIRFLOW__API__PORT": str(ports.port("airflow")),
        "AIRFLOW__API__BASE_URL": base_url(),
        "AIRFLOW__API__SECRET_KEY": secret("airflow_api_secret_key"),
        "AIRFLOW__API_AUTH__JWT_SECRET": secret("airflow_jwt_secret", length=64),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home() / "logs"),
        # Metrics: StatsD → statsd_exporter → Prometheus (local/config/statsd_mapping.yml)
        "AIRFLOW__METRICS__STATSD_HOST": ports.HOST,
        "AIRFLOW__METRICS__STATSD_PORT": str(ports.port("statsd")),
        # Lineage: OpenLineage HTTP transport → Marquez
        "AIRFLOW__OPENLINEAGE__NAMESPACE": OPENLINEAGE_NAMESPACE,
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
            "AIRFLOW__CELERY__BROKER_URL": redis.url(db=airflow_profile.redis_database("celery_broker")),
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + postgres.dsn("airflow"),
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "4",
        })
    env.update(connections.environment())
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
        """Changes when a migration or pool upsert is due: Airflow version, the manifests' pools, the DB cluster, the
        auth manager (FAB's tables are migrated only when it is the configured one)."""
        import hashlib
        from importlib.metadata import version

        from local import contract

        cluster = postgres.Postgres()._datadir() / "PG_VERSION"
        identity = f"{cluster.stat().st_ino}:{cluster.stat().st_mtime_ns}" if cluster.exists() else "none"
        pools = json.dumps(contract.load().pools, sort_keys=True)
        return hashlib.sha256(f"{version('apache-airflow')}|{pools}|{identity}|{auth()}".encode()).hexdigest()

    def _auth_fingerprint(self, migrated: str) -> str:
        """Changes when the FAB admin or roles are due: a new migration, the admin password, or a DAG file (its
        `access_control` may name a new role). Empty under SimpleAuthManager, which keeps no users in the DB."""
        import hashlib

        if auth() != "fab":
            return ""
        digest = hashlib.sha256(f"{migrated}|{admin_password()}".encode())
        for path in sorted((paths.REPO / "dags").rglob("*")):
            if path.suffix in (".py", ".yaml", ".yml", ".json") and "__pycache__" not in path.parts:
                stat = path.stat()
                digest.update(f"{path.relative_to(paths.REPO)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
        return digest.hexdigest()

    def prepare(self) -> None:
        home().mkdir(parents=True, exist_ok=True)
        if auth() == "simple":
            passwords_file()
        else:  # FAB keeps only a hash, in the metadata DB
            (paths.SECRETS / "airflow_passwords.json").unlink(missing_ok=True)
        _byte_compile_dags()
        # Migrate the metadata DB and upsert the pools of the manifests before any component starts, then (FAB) the
        # admin and the roles DAGs name; each skipped on a warm start when nothing it depends on changed (each costs
        # a full Airflow import).
        marker, auth_marker = home() / ".provisioned", home() / ".auth-provisioned"
        fingerprint = self._provision_fingerprint()
        auth_fingerprint = self._auth_fingerprint(fingerprint)
        migrate = not (marker.exists() and marker.read_text() == fingerprint)
        provision_auth = bool(auth_fingerprint) and not (auth_marker.exists() and auth_marker.read_text() == auth_fingerprint)
        if not migrate and not provision_auth:
            return
        argv = [str(paths.PYTHON), "-m", "local.airflow_provision", *([] if migrate else ["--auth"])]
        result = proc.run(argv, env=environment(), cwd=paths.REPO, timeout=900)
        (paths.LOGS / "airflow-provision.log").write_text(result.stdout + result.stderr)
        marker.write_text(fingerprint)
        if auth_fingerprint:
            auth_marker.write_text(auth_fingerprint)
        else:
            auth_marker.unlink(missing_ok=True)

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
        return Endpoint(url=base_url(), login=f"{ADMIN_USER} / password in {paths.SECRETS}/airflow_admin_password"
                                               f" ({'FAB auth manager, role Admin' if auth() == 'fab' else 'SimpleAuthManager'})")


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
