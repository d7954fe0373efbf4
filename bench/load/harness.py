"""Load and faults on a CeleryExecutor Airflow of its own (issue #19).

Starts a private Airflow 3.3 (api-server, 1–2 schedulers, dag-processor, triggerer, Celery worker) on loopback ports
of its own, with AIRFLOW_HOME under .local/bench/load/<profile>, a scratch metadata database on the local Postgres
(`bench_load_<profile>`, copied from a migrated template; the platform's `airflow` database is never touched), its own
Redis database for the Celery broker and the DAG folder bench/load/dags. It triggers `--runs` concurrent runs of the
load DAG sized to `--tis` task instances in all (mapped tasks, a pool of 2 slots, two deferrable sensors per run, a
side-effect task keyed by (dag_run, task, map_index)), waits for every run to finish, and reports from the metadata
DB: task instances per second end to end, scheduling latency p50/p95/p99 (ready→queued: scheduled_dttm→queued_dttm;
queued→running: queued_dttm→start_date), peak RSS per process (psutil, every 0.5 s), final states, and the
invariants: 0 task instances lost, 0 left queued/running/deferred, every DAG run final, no duplicate side effects.
It exits 1 when an invariant fails.

Profiles: `platform` runs the platform's tuned settings (local/services/airflow.py environment(), which carries
config/airflow-profile.json, minus what points at the shared instance); `stock` runs Airflow's defaults except what is
needed to run at all (DB, broker, executor, ports, shared JWT secret, auth, no example DAGs).

Faults, injected mid-load (the fault-detection timeouts are shortened in fault runs, see FAULT_ENV):
  scheduler  two schedulers; one SIGKILLed at ~30 % progress
  worker     the Celery worker SIGKILLed while `effect` tasks hold their transaction; a new worker is started
  triggerer  the triggerer SIGKILLed while sensors are deferred, restarted 3 s later
  api        the api-server SIGKILLed at ~30 % progress, restarted; /api/v2/monitor/health must answer again

    .venv/bin/python bench/load/harness.py --tis 1000 --runs 10 --profile both --json out/bench/load.json --markdown out/bench/load.md
    .venv/bin/python bench/load/harness.py --smoke --fault worker
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from local import paths, ports  # noqa: E402
from local.secrets import secret  # noqa: E402

DAG_ID = "bench_load"
DAGS = REPO / "bench" / "load" / "dags"
BENCH_HOME = paths.HOME / "bench" / "load"
POOL, POOL_SLOTS = "bench_load_small", 2
ROLE = "bench_load"
TEMPLATE_DB = "bench_load_template"
# The platform's Airflow uses Redis databases 0 (broker) and 1 (redis_default): config/airflow-profile.json. Ours are
# 7 + the fault's index, so a fault run and a load run can go side by side.
REDIS_DB = 7
SENSORS = ("wait_a", "wait_b")
FINAL_TI = {"success", "failed", "skipped", "upstream_failed", "removed"}
FINAL_RUN = {"success", "failed"}
PROFILES = ("platform", "stock")
FAULTS = ("none", "scheduler", "worker", "triggerer", "api")
# Fault runs only: Airflow's detection delays (heartbeat 300 s, orphan adoption 300 s, stuck-in-queued 600 s) are
# meant for production; shortened so a killed process's tasks come back within the run.
FAULT_ENV = {
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "45",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
    "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "20",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD": "20",
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "180",
    "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": "20",
    "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "2",
}
# Settings of the platform's environment() that point at the shared instance or its services, replaced by ours.
SHARED_KEYS = (
    "AIRFLOW_HOME", "PYTHONPATH", "AIRFLOW__CORE__DAGS_FOLDER", "AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__CORE__EXECUTOR",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL", "AIRFLOW__CORE__AUTH_MANAGER", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__LOGGING__BASE_LOG_FOLDER", "AIRFLOW__METRICS__STATSD_HOST", "AIRFLOW__METRICS__STATSD_PORT",
    "AIRFLOW__CELERY__BROKER_URL", "AIRFLOW__CELERY__RESULT_BACKEND", "AIRFLOW__FAB__AUTH_ROLE_PUBLIC",
)
SHARED_PREFIXES = ("AIRFLOW__API__", "AIRFLOW__API_AUTH__", "AIRFLOW__SECRETS__", "AIRFLOW__OPENLINEAGE__",
                   "AIRFLOW__CORE__SIMPLE_AUTH", "AIRFLOW_CONN_", "AIRFLOW_VAR_")


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------------- shape
@dataclass(frozen=True)
class Shape:
    """How the load is split: per run, 3 plan + `work` + `pooled` + `effects` mapped TIs + 2 sensors + 1 done."""

    runs: int
    work: int
    pooled: int
    effects: int
    defer_seconds: int
    effect_seconds: float

    @property
    def per_run(self) -> int:
        return 3 + self.work + self.pooled + self.effects + len(SENSORS) + 1

    @property
    def total(self) -> int:
        return self.runs * self.per_run

    @classmethod
    def of(cls, tis: int, runs: int, fault: str) -> Shape:
        per_run = max(12, math.ceil(tis / runs))
        pooled = max(2, per_run // 25)
        effects = max(2, per_run // 10)
        work = per_run - pooled - effects - len(SENSORS) - 4
        # Sensors wait long enough to be deferred while the load runs (and through a triggerer restart).
        defer = 60 if fault == "triggerer" else 20
        return cls(runs=runs, work=work, pooled=pooled, effects=effects, defer_seconds=defer,
                   effect_seconds=4.0 if fault == "worker" else 0.0)

    def conf(self) -> dict[str, Any]:
        return {"work": self.work, "pooled": self.pooled, "effects": self.effects,
                "defer_seconds": self.defer_seconds, "effect_seconds": self.effect_seconds}


# ---------------------------------------------------------------------------------------------------- database
def _superuser(database: str = "postgres") -> Any:
    import psycopg

    return psycopg.connect(host=ports.HOST, port=ports.port("postgres"), user="postgres",
                           password=secret("postgres_superuser"), dbname=database, autocommit=True, connect_timeout=5)


def _password() -> str:
    return secret("postgres_bench_load")


def dsn(database: str, scheme: str = "postgresql") -> str:
    return f"{scheme}://{ROLE}:{_password()}@{ports.HOST}:{ports.port('postgres')}/{database}"


def _drop(conn: Any, database: str) -> None:
    from psycopg import sql

    conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (database,))
    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(database)))


def _airflow_version() -> str:
    from importlib.metadata import version

    return f"apache-airflow {version('apache-airflow')}"


def ensure_template(base_env: dict[str, str]) -> None:
    """A migrated metadata database to copy from: `airflow db migrate` once per Airflow version, not once per run."""
    from psycopg import sql

    with _superuser() as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (ROLE,)).fetchone()
        verb = "ALTER" if exists else "CREATE"
        conn.execute(sql.SQL(verb + " ROLE {} LOGIN CREATEDB PASSWORD {}").format(sql.Identifier(ROLE), sql.Literal(_password())))
        row = conn.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
                           (TEMPLATE_DB,)).fetchone()
        if row and row[0] == _airflow_version():
            return
        _drop(conn, TEMPLATE_DB)
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(TEMPLATE_DB), sql.Identifier(ROLE)))
    log(f"migrating the template metadata database {TEMPLATE_DB} (once per Airflow version)")
    env = {**base_env, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": dsn(TEMPLATE_DB, "postgresql+psycopg2")}
    started = time.monotonic()
    subprocess.run([str(paths.VENV_BIN / "airflow"), "db", "migrate"], env=env, check=True, capture_output=True,
                   cwd=env["AIRFLOW_HOME"], timeout=900)
    log(f"migrated in {time.monotonic() - started:.0f} s")
    with _superuser() as conn:
        conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(TEMPLATE_DB), sql.Literal(_airflow_version())))


def fresh_database(name: str) -> None:
    """`name` recreated as a copy of the template, with the side-effect tables of the `effect` task."""
    import psycopg
    from psycopg import sql

    with _superuser() as conn:
        _drop(conn, name)
        for attempt in range(30):  # a concurrent harness may be copying the template this very moment
            try:
                conn.execute(sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(ROLE), sql.Identifier(TEMPLATE_DB)))
                break
            except psycopg.errors.ObjectInUse:
                if attempt == 29:
                    raise
                time.sleep(2)

    with psycopg.connect(dsn(name), autocommit=True) as conn:
        key = "dag_id text NOT NULL, run_id text NOT NULL, task_id text NOT NULL, map_index int NOT NULL, try_number int NOT NULL"
        conn.execute(f"CREATE TABLE bench_effect ({key}, written_at timestamptz NOT NULL DEFAULT now(),"
                     " PRIMARY KEY (dag_id, run_id, task_id, map_index))")
        conn.execute(f"CREATE TABLE bench_attempt ({key}, at timestamptz NOT NULL DEFAULT now())")


# ---------------------------------------------------------------------------------------------------- environment
def free_port(start: int) -> int:
    for candidate in range(start, start + 200):
        if candidate not in ports.DEFAULTS.values() and ports.tcp_free(candidate) and ports.udp_free(candidate):
            return candidate
    raise RuntimeError(f"no free loopback port in {start}..{start + 200}")


def platform_settings() -> dict[str, str]:
    """The platform's tuned settings: environment() of local/services/airflow.py under CeleryExecutor, minus what
    points at the shared instance (DB, ports, secrets backend, Marquez, StatsD, connections)."""
    os.environ["LOCAL_AIRFLOW_EXECUTOR"] = "CeleryExecutor"
    from local.services import airflow as platform_airflow

    env = platform_airflow.environment()
    kept = {k: v for k, v in env.items()
            if k not in SHARED_KEYS and not k.startswith(SHARED_PREFIXES)}
    kept["PYTHONPATH"] = str(platform_airflow.LOCAL_SETTINGS)  # the platform's airflow_local_settings
    return kept


def environment(profile: str, fault: str, home: Path, database: str, api_port: int, statsd_port: int) -> dict[str, str]:
    from local.services import redis

    base_url = f"http://{ports.HOST}:{api_port}"
    needed = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CORE__FERNET_KEY": secret("bench_load_fernet_key", factory=lambda: __import__(
            "cryptography.fernet", fromlist=["Fernet"]).Fernet.generate_key().decode()),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base_url}/execution/",
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": dsn(database, "postgresql+psycopg2"),
        "AIRFLOW__API__HOST": ports.HOST,
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__BASE_URL": base_url,
        "AIRFLOW__API__SECRET_KEY": secret("bench_load_api_secret_key"),
        "AIRFLOW__API_AUTH__JWT_SECRET": secret("bench_load_jwt_secret", length=64),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "AIRFLOW__CELERY__BROKER_URL": redis.url(db=REDIS_DB + FAULTS.index(fault)),
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + dsn(database),
        "AIRFLOW__OPENLINEAGE__DISABLED": "True",  # the platform's transport is the shared Marquez
        "PYTHONUNBUFFERED": "1",
        "BENCH_LOAD_EFFECT_DSN": dsn(database),
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_"))}
    env.pop("LOCAL_AIRFLOW_EXECUTOR", None)
    if profile == "platform":
        env.update(platform_settings())
        # StatsD stays on (its cost is the platform's), sent to a loopback port nobody reads, not the shared exporter.
        env.update({"AIRFLOW__METRICS__STATSD_HOST": ports.HOST, "AIRFLOW__METRICS__STATSD_PORT": str(statsd_port)})
    env.update(needed)
    if fault != "none":
        env.update(FAULT_ENV)
    return env


# ---------------------------------------------------------------------------------------------------- processes
@dataclass
class Stack:
    """The private Airflow's processes, each in its own session (killed as a group), logs under home/logs."""

    home: Path
    env: dict[str, str]
    api_port: int
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    peak_tree: dict[str, int] = field(default_factory=dict)
    peak_single: dict[str, int] = field(default_factory=dict)
    _sampling: bool = False

    def start(self, name: str, extra_env: dict[str, str] | None = None) -> None:
        airflow = str(paths.VENV_BIN / "airflow")
        component = name.split("#")[0]
        argv = {
            "api-server": [airflow, "api-server", "--host", ports.HOST, "--port", str(self.api_port), "--workers", "1"],
            "scheduler": [airflow, "scheduler", "--skip-serve-logs"],
            "dag-processor": [airflow, "dag-processor"],
            "triggerer": [airflow, "triggerer", "--skip-serve-logs"],
            "celery-worker": [airflow, "celery", "worker", "--skip-serve-logs", "--celery-hostname", f"bench-{name.replace('#', '-')}@%h"],
        }[component]
        log_dir = self.home / "process-logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        with open(log_dir / f"{name.replace('#', '-')}.log", "ab") as out:
            self.processes[name] = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                                    env={**self.env, **(extra_env or {})}, cwd=str(self.home),
                                                    start_new_session=True)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        process = self.processes[name]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        if sig == signal.SIGKILL:
            process.wait(timeout=30)
            del self.processes[name]  # a killed process is no longer expected alive (its peak RSS stays recorded)

    def stop_all(self) -> None:
        self._sampling = False
        live = [(n, p) for n, p in self.processes.items() if p.poll() is None]
        for _, process in live:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 40
        for _, process in live:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
        for _, process in self.processes.items():  # the group too: task processes a worker left behind
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)

    def listening(self, name: str) -> bool:
        """True when the api-server process `name` (or a child) holds the API port: not another harness's server."""
        import psutil

        try:
            root = psutil.Process(self.processes[name].pid)
            pids = {root.pid, *(c.pid for c in root.children(recursive=True))}
        except psutil.Error:
            return False
        return any(c.pid in pids and c.laddr and c.laddr.port == self.api_port and c.status == psutil.CONN_LISTEN
                   for c in psutil.net_connections(kind="tcp"))

    def dead(self) -> list[str]:
        return [n for n, p in self.processes.items() if p.poll() is not None]

    def sample_forever(self) -> None:
        import psutil

        self._sampling = True
        while self._sampling:
            for name, process in list(self.processes.items()):
                if process.poll() is not None:
                    continue
                try:
                    root = psutil.Process(process.pid)
                    tree = [root, *root.children(recursive=True)]
                except psutil.Error:
                    continue
                rss = []
                for member in tree:
                    with contextlib.suppress(psutil.Error):
                        rss.append(member.memory_info().rss)
                component = name.split("#")[0]
                self.peak_tree[component] = max(self.peak_tree.get(component, 0), sum(rss))
                self.peak_single[component] = max(self.peak_single.get(component, 0), max(rss, default=0))
            time.sleep(0.5)


def http(method: str, url: str, body: dict[str, Any] | None = None, timeout: float = 10) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def wait_for(what: str, check: Any, timeout: float, stack: Stack) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        with contextlib.suppress(OSError):
            if check():
                return time.monotonic() - started
        if stack.dead():
            raise RuntimeError(f"{', '.join(stack.dead())} exited while waiting for {what}; logs in {stack.home}/process-logs")
        time.sleep(1)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}; logs in {stack.home}/process-logs")


def api_healthy(base: str) -> bool:
    status, body = http("GET", f"{base}/api/v2/monitor/health", timeout=5)
    return status == 200 and isinstance(body, dict) and body.get("metadatabase", {}).get("status") == "healthy"


def dag_parsed(base: str) -> bool:
    """True once the DAG is serialized; raises on an import error of the load DAG folder."""
    status, body = http("GET", f"{base}/api/v2/importErrors")
    if status == 200 and isinstance(body, dict) and body.get("total_entries"):
        raise RuntimeError(f"the load DAG does not import: {body['import_errors'][0].get('stack_trace', body)[-600:]}")
    return http("GET", f"{base}/api/v2/dags/{DAG_ID}")[0] == 200


# ---------------------------------------------------------------------------------------------------- one run
def _query(database: str, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(dsn(database), autocommit=True) as conn:
        return conn.execute(sql, args).fetchall()


def percentiles(samples: list[float]) -> dict[str, float | None]:
    if not samples:
        return {"p50": None, "p95": None, "p99": None, "n": 0}
    if len(samples) == 1:
        return {"p50": samples[0], "p95": samples[0], "p99": samples[0], "n": 1}
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98], "n": len(samples)}


def run_profile(profile: str, fault: str, shape: Shape, timeout: float, workers: int) -> dict[str, Any]:
    database = f"bench_load_{profile}_{fault}"
    home = BENCH_HOME / f"{profile}-{fault}"
    home.mkdir(parents=True, exist_ok=True)
    # A port range of its own per (profile, fault), so harnesses running side by side never race for the same one.
    api_port = free_port(28180 + 20 * FAULTS.index(fault) + 10 * PROFILES.index(profile))
    statsd_port = free_port(api_port + 1)
    env = environment(profile, fault, home, database, api_port, statsd_port)
    ensure_template(env)
    fresh_database(database)
    import redis as redis_client

    redis_client.Redis.from_url(env["AIRFLOW__CELERY__BROKER_URL"]).flushdb()  # our own broker database only
    warm = {}
    if profile == "platform":
        from local import airflow_profile

        warm = airflow_profile.dag_parser_warm_up()
    stack = Stack(home=home, env=env, api_port=api_port)
    base = f"http://{ports.HOST}:{api_port}"
    result: dict[str, Any] = {"profile": profile, "fault": fault, "shape": {**shape.conf(), "runs": shape.runs,
                              "tis_per_run": shape.per_run, "tis": shape.total}, "fault_events": []}
    sampler = threading.Thread(target=stack.sample_forever, daemon=True)
    try:
        schedulers = 2 if fault == "scheduler" else 1
        started = time.monotonic()
        stack.start("api-server")
        for n in range(1, schedulers + 1):
            stack.start(f"scheduler#{n}")
        stack.start("dag-processor", warm)
        stack.start("triggerer")
        for n in range(1, workers + 1):
            stack.start(f"celery-worker#{n}")
        sampler.start()
        wait_for("the api-server", lambda: stack.listening("api-server") and api_healthy(base), 300, stack)
        wait_for(f"DAG {DAG_ID} parsed", lambda: dag_parsed(base), 300, stack)
        status, body = http("POST", f"{base}/api/v2/pools", {"name": POOL, "slots": POOL_SLOTS, "include_deferred": False})
        if status not in (200, 201, 409):
            raise RuntimeError(f"creating pool {POOL}: {status} {body}")
        result["startup_s"] = round(time.monotonic() - started, 1)
        log(f"{profile}: Airflow up in {result['startup_s']} s on port {api_port}; triggering {shape.runs} runs, "
            f"{shape.total} task instances")
        run_ids = [f"load_{n:03d}" for n in range(shape.runs)]
        first_created = datetime.now(UTC)
        for run_id in run_ids:
            status, body = http("POST", f"{base}/api/v2/dags/{DAG_ID}/dagRuns",
                                {"dag_run_id": run_id, "logical_date": None, "conf": shape.conf()})
            if status not in (200, 201):
                raise RuntimeError(f"triggering {run_id}: {status} {body}")
        injector = FaultInjector(fault, stack, database, base, shape)
        deadline = time.monotonic() + timeout
        while True:
            states = dict(_query(database, "SELECT state, count(*) FROM dag_run WHERE dag_id = %s GROUP BY state", (DAG_ID,)))
            finished = _query(database, "SELECT count(*) FROM task_instance WHERE dag_id = %s AND state = ANY(%s)",
                              (DAG_ID, list(FINAL_TI)))[0][0]
            progress = finished / shape.total
            injector.tick(progress)
            if sum(states.get(s, 0) for s in FINAL_RUN) == shape.runs and injector.done:
                break
            if time.monotonic() > deadline:
                log(f"{profile}: timed out after {timeout:.0f} s, runs {states}")
                result["timed_out"] = True
                break
            unexpected = [n for n in stack.dead() if n not in injector.killed]
            if unexpected:
                raise RuntimeError(f"{', '.join(unexpected)} exited; logs in {home}/process-logs")
            time.sleep(2)
        result["fault_events"] = injector.events
        if fault == "api":
            result["api_answers_after_restart"] = api_healthy(base)
        time.sleep(3)  # let a late state change land before the stuck check
        result.update(collect(database, run_ids, first_created, shape, fault, injector))
    finally:
        stack.stop_all()
    result["peak_rss_mib"] = {name: round(stack.peak_tree[name] / 2**20) for name in sorted(stack.peak_tree)}
    result["peak_rss_single_process_mib"] = {name: round(stack.peak_single[name] / 2**20) for name in sorted(stack.peak_single)}
    return result


@dataclass
class FaultInjector:
    fault: str
    stack: Stack
    database: str
    base: str
    shape: Shape
    events: list[str] = field(default_factory=list)
    killed: set[str] = field(default_factory=set)
    injected: bool = False
    killed_effect_keys: list[tuple[str, int]] = field(default_factory=list)
    killed_at: datetime | None = None
    deferred_at_kill: int = 0
    _started: float = field(default_factory=time.monotonic)

    @property
    def done(self) -> bool:
        return self.fault == "none" or self.injected

    def _event(self, message: str) -> None:
        stamped = f"+{time.monotonic() - self._started:.0f}s {message}"
        self.events.append(stamped)
        log(f"fault: {stamped}")

    def tick(self, progress: float) -> None:
        if self.done:
            return
        if self.fault == "scheduler" and progress >= 0.3:
            self.stack.kill("scheduler#2")
            self.killed.add("scheduler#2")
            self._event(f"SIGKILL scheduler#2 at {progress:.0%} of task instances finished; scheduler#1 carries on")
            self.injected = True
        elif self.fault == "api" and progress >= 0.3:
            self.stack.kill("api-server")
            self.killed.add("api-server")
            self._event(f"SIGKILL api-server at {progress:.0%}")
            time.sleep(2)
            self.stack.start("api-server#2")
            took = wait_for("the restarted api-server",
                            lambda: self.stack.listening("api-server#2") and api_healthy(self.base), 300, self.stack)
            self._event(f"api-server restarted; /api/v2/monitor/health answered healthy {took:.0f} s after the restart")
            self.injected = True
        elif self.fault == "worker":
            holding = _query(self.database, "SELECT a.run_id, a.map_index FROM bench_attempt a LEFT JOIN bench_effect e"
                             " USING (dag_id, run_id, task_id, map_index) WHERE e.run_id IS NULL")
            if holding:
                self.stack.kill("celery-worker#1")
                self.killed.add("celery-worker#1")
                self.killed_effect_keys = [(r, m) for r, m in holding]
                self._event(f"SIGKILL celery-worker#1 (and its task processes) while {len(holding)} effect task(s) "
                            f"held their insert uncommitted: {holding[:4]}")
                time.sleep(1)
                self.stack.start("celery-worker#2")
                self._event("started celery-worker#2")
                self.injected = True
        elif self.fault == "triggerer":
            deferred = _query(self.database, "SELECT count(*) FROM task_instance WHERE dag_id = %s AND state = 'deferred'",
                              (DAG_ID,))[0][0]
            if deferred >= min(len(SENSORS) * self.shape.runs, 4):
                self.stack.kill("triggerer")
                self.killed.add("triggerer")
                self.killed_at = datetime.now(UTC)
                self.deferred_at_kill = deferred
                self._event(f"SIGKILL triggerer with {deferred} sensor(s) deferred")
                time.sleep(3)
                self.stack.start("triggerer#2")
                self._event("started triggerer#2")
                self.injected = True


def collect(database: str, run_ids: list[str], first_created: datetime, shape: Shape, fault: str,
            injector: FaultInjector) -> dict[str, Any]:
    runs = dict(_query(database, "SELECT state, count(*) FROM dag_run WHERE dag_id = %s GROUP BY state", (DAG_ID,)))
    rows = _query(database, "SELECT task_id, map_index, state, try_number, pool, scheduled_dttm, queued_dttm, start_date,"
                  " end_date FROM task_instance WHERE dag_id = %s AND run_id = ANY(%s)", (DAG_ID, run_ids))
    states: dict[str, int] = {}
    for row in rows:
        states[str(row[2])] = states.get(str(row[2]), 0) + 1
    finished = [r for r in rows if r[2] in FINAL_TI]
    last_end = max((r[8] for r in finished if r[8] is not None), default=None)
    elapsed = (last_end - first_created).total_seconds() if last_end else None
    ready_queued, queued_running, pool_wait = [], [], []
    for task_id, _, _, _, pool, scheduled, queued, start, _ in rows:
        if task_id in SENSORS:  # resumed from deferral: their queued_dttm is the resumption's
            continue
        if scheduled and queued:
            (pool_wait if pool == POOL else ready_queued).append((queued - scheduled).total_seconds())
        if queued and start and start >= queued:
            queued_running.append((start - queued).total_seconds())
    effects = _query(database, "SELECT count(*), count(DISTINCT (dag_id, run_id, task_id, map_index)) FROM bench_effect")[0]
    attempts = _query(database, "SELECT count(*) FROM bench_attempt")[0][0]
    retried = _query(database, "SELECT count(*) FROM task_instance WHERE dag_id = %s AND try_number > 1", (DAG_ID,))[0][0]
    stuck = sum(n for s, n in states.items() if s not in FINAL_TI)
    expected_effects = shape.runs * shape.effects
    checks = {
        "tis_expected": shape.total,
        "tis_in_db": len(rows),
        "tis_lost": shape.total - len(finished),
        "tis_stuck": stuck,
        "tis_not_success": sum(n for s, n in states.items() if s != "success"),
        "runs_final": sum(runs.get(s, 0) for s in FINAL_RUN),
        "runs_not_final": sum(n for s, n in runs.items() if s not in FINAL_RUN),
        "runs_failed": runs.get("failed", 0),
        "effect_rows": effects[0],
        "effect_rows_expected": expected_effects,
        "effect_duplicates": effects[0] - effects[1],
        "effect_attempts": attempts,
        "tis_retried": retried,
    }
    if fault == "worker" and injector.killed_effect_keys:
        redone = _query(database, "SELECT count(*) FROM (SELECT run_id, map_index FROM bench_attempt GROUP BY run_id,"
                        " map_index HAVING count(*) > 1) AS t")[0][0]
        checks["effect_keys_reattempted"] = redone
    if fault == "triggerer" and injector.killed_at:
        checks["sensors_finished_after_restart"] = _query(
            database, "SELECT count(*) FROM task_instance WHERE dag_id = %s AND task_id = ANY(%s) AND state = 'success'"
            " AND end_date > %s", (DAG_ID, list(SENSORS), injector.killed_at))[0][0]
    problems = []
    if checks["tis_lost"]:
        problems.append(f"{checks['tis_lost']} task instance(s) lost (expected {shape.total})")
    if stuck:
        problems.append(f"{stuck} task instance(s) not final: {states}")
    if checks["tis_not_success"]:
        problems.append(f"{checks['tis_not_success']} task instance(s) not success: {states}")
    if checks["runs_final"] != shape.runs or checks["runs_failed"]:
        problems.append(f"DAG runs: {runs} (expected {shape.runs} success)")
    if checks["effect_duplicates"] or effects[0] != expected_effects:
        problems.append(f"side effects: {effects[0]} rows, {checks['effect_duplicates']} duplicate(s), expected {expected_effects}")
    if fault != "none" and not injector.injected:
        problems.append(f"fault {fault} was never injected")
    if fault == "triggerer" and checks.get("sensors_finished_after_restart", 0) < injector.deferred_at_kill:
        problems.append(f"only {checks.get('sensors_finished_after_restart')} of the {injector.deferred_at_kill} sensors "
                        "deferred at the kill finished after the triggerer's restart")
    if fault == "worker" and injector.injected and not checks.get("effect_keys_reattempted"):
        problems.append("the worker was killed mid-task but no effect key was attempted twice")
    return {
        "first_run_created": first_created.isoformat(),
        "last_ti_finished": last_end.isoformat() if last_end else None,
        "elapsed_s": round(elapsed, 1) if elapsed else None,
        "tis_per_s": round(len(finished) / elapsed, 2) if elapsed else None,
        "latency_ready_to_queued_s": percentiles(ready_queued),
        "latency_pool_wait_ready_to_queued_s": percentiles(pool_wait),
        "latency_queued_to_running_s": percentiles(queued_running),
        "ti_states": states,
        "run_states": runs,
        "checks": checks,
        "problems": problems,
        "ok": not problems,
    }


# ---------------------------------------------------------------------------------------------------- report
def _fmt(value: Any, digits: int = 2) -> str:
    return "–" if value is None else f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"


def markdown(results: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    by = {r["profile"]: r for r in results}
    headers = [r["profile"] for r in results]
    ratio = "platform" in by and "stock" in by
    lines = [f"### Load: {meta['tis']:,} task instances requested in {meta['runs']} concurrent DAG runs, fault: {meta['fault']}",
             "", f"Command: `{meta['command']}`. {meta['machine']}", ""]
    lines += ["| figure | " + " | ".join(headers) + (" | platform / stock |" if ratio else " |"),
              "| --- | " + " | ".join("---:" for _ in headers) + (" | ---: |" if ratio else " |")]

    def row(label: str, values: list[Any], higher_better: bool = False) -> None:
        cells = [_fmt(v) for v in values]
        if ratio:
            p, s = values[headers.index("platform")], values[headers.index("stock")]
            cells.append(f"{p / s:.2f}×" if isinstance(p, (int, float)) and isinstance(s, (int, float)) and s else "–")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    row("task instances finished", [r["checks"]["tis_expected"] - r["checks"]["tis_lost"] for r in results])
    row("end to end, first run created → last TI finished (s)", [r["elapsed_s"] for r in results])
    row("**task instances per second**", [r["tis_per_s"] for r in results], higher_better=True)
    for key, label in (("latency_ready_to_queued_s", "ready → queued"), ("latency_queued_to_running_s", "queued → running"),
                       ("latency_pool_wait_ready_to_queued_s", "ready → queued, pool of 2 slots")):
        for p in ("p50", "p95", "p99"):
            row(f"{label} {p} (s)", [r[key][p] for r in results])
    components = sorted({c for r in results for c in r["peak_rss_mib"]})
    for component in components:
        row(f"peak RSS {component}, process tree (MiB)", [r["peak_rss_mib"].get(component) for r in results])
    for component in components:
        row(f"peak RSS {component}, largest single process (MiB)",
            [r["peak_rss_single_process_mib"].get(component) for r in results])
    row("Airflow start-up until the DAG is parsed (s)", [r.get("startup_s") for r in results])
    lines.append("")
    lines.append("| invariant | " + " | ".join(headers) + " |")
    lines.append("| --- | " + " | ".join("---:" for _ in headers) + " |")
    for key in results[0]["checks"]:
        lines.append(f"| {key} | " + " | ".join(_fmt(r["checks"].get(key)) for r in results) + " |")
    lines.append("| ok | " + " | ".join("yes" if r["ok"] else "**no**: " + "; ".join(r["problems"]) for r in results) + " |")
    for r in results:
        if r["fault_events"]:
            lines += ["", f"Fault events ({r['profile']}):", *[f"- {e}" for e in r["fault_events"]]]
    return "\n".join(lines) + "\n"


def machine() -> str:
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"Machine: {os.cpu_count()} CPUs, shared with other work (load average {load} at the end); every Airflow "
            "process of the run on the same machine.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tis", type=int, default=1000, help="task instances in all, split evenly over the runs (default 1000)")
    parser.add_argument("--runs", type=int, default=10, help="concurrent DAG runs (default 10)")
    parser.add_argument("--profile", choices=(*PROFILES, "both"), default="both",
                        help="platform: the platform's tuned settings; stock: Airflow's defaults; both: one after the other (default)")
    parser.add_argument("--fault", choices=FAULTS, default="none", help="fault injected mid-load (default none)")
    parser.add_argument("--workers", type=int, default=1, help="Celery workers (default 1)")
    parser.add_argument("--smoke", action="store_true", help="a short run: 60 task instances in 3 runs, platform profile, unless given")
    parser.add_argument("--timeout", type=float, default=None, help="seconds to wait for the runs per profile (default: scaled to --tis)")
    parser.add_argument("--json", type=Path, help="write the results as JSON here")
    parser.add_argument("--markdown", type=Path, help="write the report table here")
    args = parser.parse_args(argv)
    given = set(argv if argv is not None else sys.argv[1:])
    if args.smoke:
        if "--tis" not in given:
            args.tis = 60
        if "--runs" not in given:
            args.runs = 3
        if "--profile" not in given:
            args.profile = "platform"
    profiles = PROFILES if args.profile == "both" else (args.profile,)
    shape = Shape.of(args.tis, args.runs, args.fault)
    timeout = args.timeout or max(600.0, shape.total * 2.5)
    BENCH_HOME.mkdir(parents=True, exist_ok=True)

    def interrupted(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupted)
    results = []
    for profile in profiles:
        log(f"profile {profile}, fault {args.fault}: {shape.runs} runs x {shape.per_run} = {shape.total} task instances")
        results.append(run_profile(profile, args.fault, shape, timeout, args.workers))
        r = results[-1]
        log(f"{profile}: {r['tis_per_s']} TI/s, {r['elapsed_s']} s, ok={r['ok']} {r['problems']}")
    meta = {"tis": shape.total, "runs": shape.runs, "fault": args.fault, "machine": machine(),
            "command": "bench/load/harness.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "date": datetime.now(UTC).isoformat(timespec="seconds")}
    report = {"meta": meta, "results": results}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=str))
    table = markdown(results, meta)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(table)
    print(table)
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
