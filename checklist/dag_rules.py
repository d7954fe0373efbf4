"""The production checklist's DAG and repository rules, judged over a real DagBag, the manifests and the source.

Each rule returns a `Result`: ok, evidence (which DAGs, tasks or files satisfy or break it) and, where a rule
can't be evaluated, ok=False with the reason. Never a ✓ without evidence.

    .venv/bin/python -m checklist.dag_rules                      # human-readable
    .venv/bin/python -m checklist.dag_rules --json out.json      # what `npm run checklist` consumes
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

REPO = Path(__file__).resolve().parents[1]
DAGS = REPO / "dags"
EXTERNAL_SERVICES = {"postgres", "redis", "kafka", "mlflow", "marquez", "vault", "smtp", "slack", "s3", "azure_blob",
                     "bigquery", "http_api", "airflow_api", "prometheus", "statsd"}
# The unreliable services the seed names for circuit breakers: third-party HTTP APIs.
UNRELIABLE_SERVICES = {"http_api"}
LOCAL_ONLY_OPERATORS = {"EmptyOperator", "BranchPythonOperator", "ShortCircuitOperator", "LatestOnlyOperator",
                        "_BranchPythonDecoratedOperator", "_ShortCircuitDecoratedOperator", "TriggerDagRunOperator",
                        "ExternalTaskSensor", "ExternalTaskMarker", "TimeSensor", "DateTimeSensor", "TimeDeltaSensor",
                        "FileSensor", "MappedOperator"}
DEFAULT_SENSOR_TIMEOUT = timedelta(days=7).total_seconds()


@dataclass
class Result:
    item: str
    group: str
    ok: bool
    evidence: list[str] = field(default_factory=list)
    #: violations waived by an explicit exception below, each with its reason (the report prints them)
    waived: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RuleException:
    item: str
    match: str  # regex over the violation line, which names the DAG and task
    reason: str


# Explicit, reasoned exceptions. Prefer fixing the DAG; each line here is printed next to what it waives.
EXCEPTIONS: tuple[RuleException, ...] = (
    RuleException(
        "Retry strategies configured for all external calls",
        r"^phase12_03_health_checks\.",
        "health probes record a failure as data for self-healing and escalation; a task retry would re-probe and "
        "delay the page (the DAG itself runs every 15 minutes)",
    ),
    RuleException(
        "Circuit breakers for unreliable services",
        r"^phase12_03_health_checks ",
        "the health DAG must observe each dependency directly; a breaker would hide the outage it exists to detect",
    ),
)


@dataclass
class Context:
    dagbag: Any
    needs: dict[str, dict[str, Any]]

    def dags(self) -> list[Any]:
        return [self.dagbag.dags[d] for d in sorted(self.dagbag.dags)]

    def dag(self, dag_id: str) -> Any | None:
        return self.dagbag.dags.get(dag_id)


Rule = Callable[[Context], Result]
RULES: list[tuple[str, str, Rule]] = []


def rule(group: str, item: str) -> Callable[[Callable[[Context], tuple[bool, list[str]]]], Rule]:
    """Registers a checklist item; the function returns (ok, evidence)."""

    def wrap(fn: Callable[[Context], tuple[bool, list[str]]]) -> Rule:
        def run(ctx: Context) -> Result:
            try:
                ok, evidence = fn(ctx)
            except Exception as exc:  # a rule that can't be evaluated is ✗ with its reason, never ✓
                return Result(item, group, False, [f"could not evaluate: {exc!r}"])
            if ok and not evidence:
                return Result(item, group, False, ["no evidence found"])
            if ok:
                return Result(item, group, True, evidence)
            waived: list[str] = []
            remaining: list[str] = []
            for line in evidence:
                exception = next((e for e in EXCEPTIONS if e.item == item and re.search(e.match, line)), None)
                (waived if exception else remaining).append(f"{line} — exception: {exception.reason}" if exception else line)
            if waived and not remaining:
                return Result(item, group, True, [f"every violation is covered by an explicit exception ({len(waived)})"], waived)
            return Result(item, group, False, remaining, waived)

        RULES.append((group, item, run))
        return run

    return wrap


CORE, ORCH, SEC, MLOPS = "Core Operations", "Orchestration", "Security & Governance", "MLOps"


def _needs_external(ctx: Context, dag_id: str) -> bool:
    return bool(set(ctx.needs.get(dag_id, {}).get("services", [])) & EXTERNAL_SERVICES)


def _source(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _dag_source(dag: Any) -> str:
    return _source(Path(dag.fileloc))


def _schedule(dag: Any | None) -> str | None:
    """A readable schedule, or None when the DAG only runs when triggered by hand."""
    if dag is None:
        return None
    timetable = dag.timetable
    kind = type(timetable).__name__
    if kind == "NullTimetable":
        return None
    detail = getattr(timetable, "_expression", None) or getattr(timetable, "description", None) or ""
    return f"{kind} {detail}".strip()


@contextmanager
def _scratch_airflow_home() -> Iterator[Path]:
    """AIRFLOW_HOME pointed at an empty directory while a rule runs DAG code, so what the code writes can be read back
    (and nothing lands in the real home)."""
    previous = os.environ.get("AIRFLOW_HOME")
    with tempfile.TemporaryDirectory(prefix="checklist-run-") as home:
        os.environ["AIRFLOW_HOME"] = home
        try:
            yield Path(home)
        finally:
            if previous is None:
                os.environ.pop("AIRFLOW_HOME", None)
            else:
                os.environ["AIRFLOW_HOME"] = previous


def _task_order(dag: Any) -> list[Any]:
    """The DAG's tasks in dependency order (upstream first), ties in declaration order."""
    tasks = list(dag.tasks)
    done: list[str] = []
    while len(done) < len(tasks):
        ready = [t for t in tasks if t.task_id not in done and set(t.upstream_task_ids) <= set(done)]
        if not ready:
            raise ValueError(f"{dag.dag_id}: dependency cycle")
        done.append(ready[0].task_id)
    return [dag.get_task(t) for t in done]


def _roots(dag: Any) -> set[str]:
    return {t.task_id for t in dag.tasks if not t.upstream_task_ids}


def run_callables(dag: Any, context: dict[str, Any], only: set[str] | None = None,
                  given: dict[str, Any] | None = None) -> dict[str, Any]:
    """A run of the DAG's own logic without a scheduler: each Python task's function (or only those of `only`), in
    dependency order, given its upstream tasks' return values (in that order; `given` stands in for tasks not run) and
    the context keys its signature takes. task_id -> return value."""
    import inspect

    order = [t.task_id for t in _task_order(dag)]
    outputs: dict[str, Any] = dict(given or {})
    for task_id in order:
        fn = getattr(dag.get_task(task_id), "python_callable", None)
        if fn is None or (only is not None and task_id not in only):
            continue
        upstream = sorted(dag.get_task(task_id).upstream_task_ids, key=order.index)
        args = [outputs[u] for u in upstream if u in outputs]
        parameters = list(inspect.signature(fn).parameters.values())
        takes_any = any(p.kind is p.VAR_KEYWORD for p in parameters)
        filled = {p.name for p in parameters[: len(args)]}
        kwargs = {k: v for k, v in context.items() if k not in filled and (takes_any or k in {p.name for p in parameters})}
        outputs[task_id] = fn(*args, **kwargs)
    return outputs


def _param_defaults(dag: Any) -> dict[str, Any]:
    params = getattr(dag, "params", None) or {}
    return {key: params[key] for key in params}


# ------------------------------------------------------------------------------------------------ Core Operations
# What a Python task's own code calls when it reaches an external system (hooks, connections, clients, SDKs).
_EXTERNAL_CALL = re.compile(r"Hook\b|conn_id|get_connection|connect\(|Client\(|requests\.|urlopen|call_service|Api\(|"
                            r"mlflow|feast|Producer|Consumer|s3_|bigquery|send_email|smtp|http", re.I)


def _calls_external_system(task: Any) -> bool:
    """Operators other than the local ones do; a Python task does when its callable's source reaches out."""
    import inspect

    if type(task).__name__ in LOCAL_ONLY_OPERATORS:
        return False
    callable_ = getattr(task, "python_callable", None)
    if callable_ is None:
        return True
    try:
        return bool(_EXTERNAL_CALL.search(inspect.getsource(callable_)))
    except (OSError, TypeError):
        return True  # can't read it: judge it as external rather than wave it through


@rule(CORE, "Retry strategies configured for all external calls")
def retries_on_external_calls(ctx: Context) -> tuple[bool, list[str]]:
    checked, broken = 0, []
    for dag in ctx.dags():
        if not _needs_external(ctx, dag.dag_id):
            continue
        for task in dag.tasks:
            if not _calls_external_system(task):
                continue
            checked += 1
            if not task.retries or task.execution_timeout is None:
                broken.append(f"{dag.dag_id}.{task.task_id}: retries={task.retries}, execution_timeout={task.execution_timeout}")
    return not broken, broken or [f"{checked} tasks of DAGs that call external services have retries and execution_timeout"]


def breaker_problems(breaker: Any) -> list[str]:
    """common.circuit_breaker judged on calls: failures up to the threshold reach the service, the next call is refused
    without reaching it, and after the cooldown one successful trial closes the circuit."""

    class Store:
        state = breaker.BreakerState()

        def load(self) -> Any:
            return self.state

        def save(self, state: Any) -> None:
            self.state = state

    store, policy, clock, reached = Store(), breaker.BreakerPolicy(failure_threshold=3, cooldown_seconds=60), [0.0], []

    def failing() -> None:
        reached.append("call")
        raise ConnectionError("service down")

    problems = []
    for _ in range(4):  # three failures reach the service; the fourth call must be refused without reaching it
        with suppress(Exception):
            breaker.call_through(store, policy, failing, lambda: clock[0])
    if len(reached) != 3:
        problems.append(f"4 calls, threshold 3: {len(reached)} reached the service (3 should, then the circuit opens)")
    clock[0] = 61.0
    try:
        breaker.call_through(store, policy, lambda: "ok", lambda: clock[0])
    except Exception as exc:  # noqa: BLE001 - a refused trial is the problem being reported
        problems.append(f"after the cooldown a trial call was refused: {exc!r}")
    if store.state.state != breaker.CLOSED:
        problems.append(f"a successful trial left the circuit {store.state.state}")
    return problems


@rule(CORE, "Circuit breakers for unreliable services")
def circuit_breakers(ctx: Context) -> tuple[bool, list[str]]:
    """Every DAG calling an unreliable HTTP API reaches common.circuit_breaker, and that breaker opens after its failure
    threshold, stops calling the service, and closes after a successful trial."""
    from common import circuit_breaker
    from contract.usage import transitive_common_modules

    users: list[str] = []
    missing: list[str] = []
    for dag in ctx.dags():
        if not set(ctx.needs.get(dag.dag_id, {}).get("services", [])) & UNRELIABLE_SERVICES:
            continue
        modules = {p.stem for p in transitive_common_modules(Path(dag.fileloc))}
        (users if "circuit_breaker" in modules else missing).append(dag.dag_id)
    problems = breaker_problems(circuit_breaker)
    if missing or problems:
        return False, problems + [f"{d} calls an unreliable HTTP API without a circuit breaker" for d in missing]
    return bool(users), [f"{d} calls an unreliable HTTP API through common.circuit_breaker" for d in users] + [
        "common.circuit_breaker: opens after 3 failures, refuses without calling, closes after a successful trial"]


@rule(CORE, "Email/Slack notifications for failures")
def failure_notifications(ctx: Context) -> tuple[bool, list[str]]:
    without = [f"{d.dag_id}.{t.task_id}" for d in ctx.dags() for t in d.tasks if not t.on_failure_callback]
    total = sum(len(d.tasks) for d in ctx.dags())
    return not without, [f"task without on_failure_callback: {t}" for t in without[:20]] or [
        f"all {total} tasks of {len(ctx.dags())} DAGs have an on_failure_callback (common.alerting routes it)"
    ]


@rule(CORE, "Alert routing based on severity")
def alert_routing(ctx: Context) -> tuple[bool, list[str]]:
    from common import alerting

    dag = ctx.dag("phase8_03_alert_routing")
    severities = tuple(getattr(alerting, "SEVERITIES", ()))
    route = getattr(alerting, "route", None)
    if severities != ("P1", "P2", "P3", "P4") or not callable(route):
        return False, [f"common.alerting.SEVERITIES={severities}, route={'present' if callable(route) else 'missing'}"]
    # Route a real alert of each severity: every one reaches some channel, and each severity a different set.
    channels = {s: tuple(d.channel for d in route({"severity": s, "team": "platform"})) for s in severities}
    distinct = len(set(channels.values())) == len(severities)
    ok = dag is not None and distinct and all(channels.values())
    return ok, [f"common.alerting.route: {s} → {', '.join(c) or 'nowhere'}" for s, c in channels.items()] + [
        f"phase8_03_alert_routing {'parsed' if dag else 'missing'}"
    ]


_URI_WITH_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^\s:/@'\"]+:[^\s@'\"{}]+@", re.I)


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(REPO))
    except ValueError:
        return str(path)


@rule(CORE, "Database connections using Airflow Connections")
def db_connections(ctx: Context) -> tuple[bool, list[str]]:
    """Every DAG that uses Postgres declares a postgres connection and its code (or the common code it imports) really
    goes through one of them; no DAG file carries a credentialed database URI."""
    from contract.usage import from_dag, reachable_usage

    problems = [f"{_rel(p)}: inline database URI with credentials"
                for p in sorted(DAGS.rglob("*.py")) if _URI_WITH_PASSWORD.search(_source(p))]
    evidence = []
    for dag in ctx.dags():
        needs = ctx.needs.get(dag.dag_id, {})
        if "postgres" not in needs.get("services", []):
            continue
        declared = sorted(c for c, spec in needs.get("connections", {}).items() if spec.get("type") == "postgres")
        if not declared:
            problems.append(f"{dag.dag_id} uses Postgres without a declared postgres connection")
            continue
        used = from_dag(dag).connections | reachable_usage(Path(dag.fileloc)).connections
        through = sorted(set(declared) & used)
        if through:
            evidence.append(f"{dag.dag_id} reaches Postgres through {', '.join(through)}")
        else:
            problems.append(f"{dag.dag_id} declares {', '.join(declared)} but its code uses none of them (uses {sorted(used) or 'no connection'})")
    if not evidence and not problems:
        problems.append("no DAG declares Postgres")
    return not problems, problems or [f"{len(evidence)} DAGs reach Postgres through declared Airflow connections; no inline credentials in dags/", *evidence]


@rule(CORE, "Data validation before loading")
def validation_before_load(ctx: Context) -> tuple[bool, list[str]]:
    evidence: list[str] = []
    broken: list[str] = []
    stores = {"postgres", "s3", "bigquery", "azure_blob"}
    for dag in ctx.dags():
        if not set(ctx.needs.get(dag.dag_id, {}).get("services", [])) & stores:
            continue
        loads = [t for t in dag.tasks if re.search(r"(^|_)load(_|$)", t.task_id) and type(t).__name__ != "EmptyOperator"]
        for load in loads:
            upstream = load.get_flat_relative_ids(upstream=True)
            validators = sorted(u for u in upstream if re.search(r"valid|quality|check|gate|expect", u))
            (evidence if validators else broken).append(
                f"{dag.dag_id}.{load.task_id} after {', '.join(validators)}" if validators else f"{dag.dag_id}.{load.task_id} loads without an upstream validation task"
            )
    return not broken and bool(evidence), broken or evidence


SCHEMAS_DIR = DAGS / "phase10" / "schemas"


def schema_versioning_problems(registry: Any) -> tuple[list[str], list[str]]:
    """(evidence, problems) for a loaded registry: every subject has versions, and registering a breaking next version
    (a new required field the previous version's writers never send) is refused."""
    evidence: list[str] = []
    problems: list[str] = []
    for subject in sorted(registry.subjects):
        versions = registry.versions(subject)
        latest = registry.get(subject)
        breaking = {**latest, "properties": {**latest.get("properties", {}), "checklist_probe": {"type": "string"}},
                    "required": [*latest.get("required", []), "checklist_probe"]}
        try:
            registry.register(subject, breaking)
            problems.append(f"{subject}: a breaking v{versions[-1] + 1} (new required field) was accepted")
        except Exception as exc:  # noqa: BLE001 - the refusal is the behaviour being checked
            evidence.append(f"{subject}: v{', v'.join(map(str, versions))} loaded; a breaking next version refused ({type(exc).__name__})")
        if len(versions) < 2:
            problems.append(f"{subject}: only one version, nothing is versioned")
    if not registry.subjects:
        problems.append("no schema subjects")
    return evidence, problems


@rule(CORE, "Schema versioning for data contracts")
def schema_versioning(ctx: Context) -> tuple[bool, list[str]]:
    from common.schema_registry import SchemaRegistry

    # Loading checks every stored version against the one before it (BACKWARD): a break in the files fails here.
    evidence, problems = schema_versioning_problems(SchemaRegistry.from_directory(SCHEMAS_DIR))
    if ctx.dag("phase10_02_schema_validation") is None:
        problems.append("phase10_02_schema_validation, which validates against the registry, is missing")
    return not problems, problems or evidence


COMMON_DIR = DAGS / "common"
TESTS_DIR = REPO / "tests"


@rule(CORE, "Unit tests for business logic")
def unit_tests(ctx: Context) -> tuple[bool, list[str]]:
    modules = sorted(p.stem for p in COMMON_DIR.glob("*.py") if p.stem != "__init__")
    tested_text = "\n".join(_source(p) for p in TESTS_DIR.rglob("test_*.py"))
    untested = [m for m in modules if not re.search(rf"\bcommon(\.{m}\b| import [^\n]*\b{m}\b)", tested_text)]
    if not modules:
        return False, [f"no modules in {_rel(COMMON_DIR)}"]
    return not untested, [f"common.{m} is imported by no test" for m in untested] or [f"all {len(modules)} common modules are exercised by tests"]


CI_RUN = REPO / ".ci" / "run"
PLATFORM_SCRIPT = REPO / "platform"
TEST_ALL = REPO / "scripts" / "test-all.sh"


def _shell_commands(path: Path) -> list[list[str]]:
    """Each line of a shell script as tokens, comments dropped (lines shlex can't split alone are skipped)."""
    import shlex

    commands = []
    for line in _source(path).splitlines():
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError:
            continue
        if tokens:
            commands.append(tokens)
    return commands


def ci_problems(ci_run: Path, platform: Path, test_all: Path) -> tuple[list[str], list[str]]:
    """(evidence, problems): CI execs `./platform test`, whose `test` branch execs the suite script, which runs ruff over
    dags/ and checklist/, tsc, jest and pytest over tests/."""
    evidence: list[str] = []
    problems: list[str] = []
    for path in (ci_run, platform, test_all):
        if not path.exists():
            return [], [f"{_rel(path)} missing"]
    if any(c[:3] == ["exec", "./platform", "test"] for c in _shell_commands(ci_run)):
        evidence.append(f"{_rel(ci_run)} execs ./platform test")
    else:
        problems.append(f"{_rel(ci_run)} does not exec ./platform test")
    commands = _shell_commands(platform)
    branch = next((i for i, c in enumerate(commands) if c[0] == "if" and "test" in c and "=" in c), None)
    execs = branch is not None and any(c[0] == "exec" and any(t.endswith(test_all.name) for t in c) for c in commands[branch + 1: branch + 4])
    if execs:
        evidence.append(f"{_rel(platform)} test → exec {test_all.name}")
    else:
        problems.append(f"{_rel(platform)}: its `test` command does not exec {test_all.name}")
    suite = _shell_commands(test_all)

    def runs(tool: str) -> list[list[str]]:
        """Commands that execute `tool`: as the command itself, through npx/exec, or wrapped in `check <name> <cmd>`."""
        found = []
        for c in suite:
            starts = {0, *(i + 1 for i, t in enumerate(c) if t in ("npx", "--no-install", "exec", "time"))}
            starts |= {2} if c[0] == "check" else set()
            found += [c[i:] for i in sorted(starts) if i < len(c) and (c[i] == tool or c[i].endswith(f"/{tool}"))]
        return found

    ruff = [c for c in runs("ruff") if "check" in c]
    linted = set().union(*(set(c) for c in ruff)) if ruff else set()
    for folder in ("dags", "checklist"):
        if folder not in linted:
            problems.append(f"{_rel(test_all)}: ruff does not check {folder}/")
    if not any("tests" in c for c in runs("pytest")):
        problems.append(f"{_rel(test_all)}: pytest does not run tests/")
    for tool in ("jest", "tsc"):
        if not runs(tool):
            problems.append(f"{_rel(test_all)}: {tool} never runs")
    if not problems:
        evidence.append(f"{_rel(test_all)} runs ruff (dags, checklist), tsc, jest and pytest tests/ (incl. the DagBag)")
    return evidence, problems


@rule(CORE, "CI/CD pipeline for DAG deployment")
def ci_pipeline(ctx: Context) -> tuple[bool, list[str]]:
    evidence, problems = ci_problems(CI_RUN, PLATFORM_SCRIPT, TEST_ALL)
    return not problems, problems or evidence


AIRFLOW_PROFILE = REPO / "config" / "airflow-profile.json"
METRICS_DAG = "phase12_01_metrics_monitoring"


@rule(CORE, "Metrics exported to monitoring system")
def metrics_exported(ctx: Context) -> tuple[bool, list[str]]:
    """Airflow's StatsD is on in the platform profile, and a run of the metrics DAG's code writes Prometheus exposition
    text that prometheus_client's parser reads, with series labelled by the DAG."""
    from prometheus_client.parser import text_string_to_metric_families

    problems, evidence = [], []
    metrics = json.loads(_source(AIRFLOW_PROFILE)).get("config", {}).get("metrics", {})
    if str(metrics.get("statsd_on", "")).lower() == "true":
        evidence.append(f"{_rel(AIRFLOW_PROFILE)}: [metrics] statsd_on=True, prefix {metrics.get('statsd_prefix')}")
    else:
        problems.append(f"{_rel(AIRFLOW_PROFILE)}: [metrics] statsd_on={metrics.get('statsd_on')!r}: Airflow's metrics reach no exporter")
    dag = ctx.dag(METRICS_DAG)
    if dag is None:
        return False, [*problems, f"{METRICS_DAG} missing"]
    with _scratch_airflow_home() as home:
        run_callables(dag, {"params": _param_defaults(dag), "run_id": "checklist"})
        files = sorted(home.rglob("*.prom"))
        if not files:
            problems.append(f"a run of {METRICS_DAG} wrote no Prometheus exposition (*.prom)")
        for path in files:
            try:
                families = list(text_string_to_metric_families(_source(path)))
            except Exception as exc:  # noqa: BLE001 - unparsable exposition is the failure being reported
                problems.append(f"{path.name}: not Prometheus exposition text: {exc}")
                continue
            samples = [s for f in families for s in f.samples]
            labelled = [s for s in samples if s.labels.get("dag_id") == METRICS_DAG]
            if not labelled:
                problems.append(f"{path.name}: {len(samples)} samples, none labelled dag_id={METRICS_DAG}")
            else:
                evidence.append(f"a run of {METRICS_DAG} wrote {path.name}: {len(families)} families "
                                f"({', '.join(sorted(f.type for f in families))}), {len(labelled)} samples labelled with the DAG")
    return not problems, problems or evidence


LOGGING_DAG = "phase12_02_logging_tracing"


def logging_helper_problems() -> list[str]:
    """common.observability's JSON logger judged on its output: every line parses and carries the correlation id,
    derived ids are stable per run, and a caller's id (conf.correlation_id) is reused."""
    from common import observability

    problems = []
    derived = observability.correlation_id("checklist_dag", "run_1")
    if derived != observability.correlation_id("checklist_dag", "run_1") or derived == observability.correlation_id("checklist_dag", "run_2"):
        problems.append("correlation_id is not one stable id per run")
    if observability.correlation_id("checklist_dag", "run_1", {"correlation_id": "upstream-42"}) != "upstream-42":
        problems.append("correlation_id ignores the caller's conf.correlation_id")
    with tempfile.TemporaryDirectory(prefix="checklist-log-") as scratch:
        sink = Path(scratch) / "log.jsonl"
        with observability.structured_logger("checklist.structured_logging", sink, correlation_id=derived) as logger:
            logger.info("first", extra={"rows": 3})
            logger.warning("second")
        lines = [line for line in sink.read_text(encoding="utf-8").splitlines() if line.strip()] if sink.exists() else []
        if len(lines) != 2:
            problems.append(f"2 records logged, {len(lines)} JSON lines written")
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                problems.append(f"not JSON: {line[:80]}")
                continue
            if record.get("correlation_id") != derived:
                problems.append(f"a log line without the correlation id: {line[:120]}")
    return problems


@rule(CORE, "Structured logging with correlation IDs")
def structured_logging(ctx: Context) -> tuple[bool, list[str]]:
    """The logging helper emits JSON with the correlation id, and a run of the logging DAG's code writes JSON log lines
    from each task that all carry the correlation id its trigger passed."""
    problems = logging_helper_problems()
    dag = ctx.dag(LOGGING_DAG)
    if dag is None:
        return False, [*problems, f"{LOGGING_DAG} missing"]
    cid = "checklist-correlation-0001"
    with _scratch_airflow_home() as home:
        run_callables(dag, {"dag_run": SimpleNamespace(conf={"correlation_id": cid}, run_id="checklist"),
                            "run_id": "checklist", "params": _param_defaults(dag)})
        records = []
        for path in sorted(home.rglob("*.jsonl")):
            for line in _source(path).splitlines():
                try:
                    record = json.loads(line)
                except ValueError:
                    problems.append(f"{path.name}: not JSON: {line[:80]}")
                    continue
                if isinstance(record, dict) and "message" in record and "level" in record:
                    records.append(record)
    tasks = sorted({str(r.get("task_id") or r.get("logger")) for r in records})
    without = [r for r in records if r.get("correlation_id") != cid]
    if not records:
        problems.append(f"a run of {LOGGING_DAG} wrote no JSON log records")
    if without:
        problems.append(f"{len(without)} of {len(records)} log records of {LOGGING_DAG} lack correlation_id={cid}: {without[0]}")
    if len(tasks) < 2:
        problems.append(f"the correlation id is not followed across tasks (records from {tasks})")
    return not problems, problems or [
        "common.observability.structured_logger: JSON lines carrying correlation_id; conf.correlation_id is reused",
        f"a run of {LOGGING_DAG}: {len(records)} JSON records from {', '.join(tasks)}, each with the trigger's correlation id",
    ]


HEALTH_DAG = "phase12_03_health_checks"
# The platform's own dependencies a health check must watch: the database, the message queue, Airflow itself.
HEALTH_CORE_SERVICES = frozenset({"postgres", "kafka", "airflow_api"})


@rule(CORE, "Health checks for dependencies")
def health_checks(ctx: Context) -> tuple[bool, list[str]]:
    """The health DAG is scheduled, and a run of its probe tasks (with every connection refused) asks for a connection of
    each service its manifest declares and of the platform's core services, and reports each missing one unhealthy."""
    from common import health_targets
    from common.airflow_api import AirflowApi

    dag = ctx.dag(HEALTH_DAG)
    if dag is None:
        return False, [f"{HEALTH_DAG} missing"]
    problems, asked = [], []
    schedule = _schedule(dag)
    if schedule is None:
        problems.append(f"{HEALTH_DAG} has no schedule: dependencies are only checked by hand")

    def refuse(conn_id: str = "airflow_api") -> Any:
        asked.append(conn_id)
        raise LookupError(f"checklist: connection {conn_id!r} withheld")

    with mock.patch.object(health_targets, "_connection", refuse), \
            mock.patch.object(AirflowApi, "from_connection", classmethod(lambda cls, conn_id="airflow_api": refuse(conn_id))), \
            _scratch_airflow_home():
        outputs = run_callables(dag, {"run_id": "checklist", "params": _param_defaults(dag)}, only=_roots(dag))
    results = [r for out in outputs.values() if isinstance(out, list) for r in out if isinstance(r, dict)]
    declared = ctx.needs.get(HEALTH_DAG, {}).get("connections", {})
    undeclared = sorted(set(asked) - set(declared))
    if undeclared:
        problems.append(f"{HEALTH_DAG} probes through connections its needs.yaml does not declare: {undeclared}")
    probed = {declared[c]["service"] for c in asked if c in declared}
    required = set(ctx.needs.get(HEALTH_DAG, {}).get("services", [])) | HEALTH_CORE_SERVICES
    if required - probed:
        problems.append(f"{HEALTH_DAG}'s probes never reach {sorted(required - probed)} (probed: {sorted(probed) or 'nothing'})")
    healthy_without_target = [r["component"] for r in results if r.get("status") == "healthy" and any(c in str(r.get("detail")) for c in asked)]
    if healthy_without_target:
        problems.append(f"components reported healthy with their connection withheld: {healthy_without_target}")
    return not problems, problems or [
        f"{HEALTH_DAG} schedule: {schedule}",
        f"its probes ({', '.join(r['component'] for r in results)}) reach {', '.join(sorted(probed))} through "
        f"{', '.join(sorted(set(asked)))}; a withheld connection is reported unhealthy",
    ]


# The DAGs where the seed asks for SLAs: callbacks/SLA monitoring (phase 5) and SLA tracking (phase 12).
SLA_DAGS = ("phase5_04_callbacks", "phase12_01_metrics_monitoring")


@rule(CORE, "SLA definitions and monitoring")
def deadline_alerts(ctx: Context) -> tuple[bool, list[str]]:
    """Each SLA DAG carries Deadline Alerts, each with a positive interval and a callback to call on a miss."""
    evidence, problems = [], []
    for dag_id in SLA_DAGS:
        dag = ctx.dag(dag_id)
        deadline = getattr(dag, "deadline", None) if dag else None
        alerts = deadline if isinstance(deadline, list | tuple) else [deadline] if deadline else []
        if not alerts:
            problems.append(f"{dag_id}: {'missing' if dag is None else 'no Deadline Alert'}")
            continue
        for alert in alerts:
            interval, callback = getattr(alert, "interval", None), getattr(alert, "callback", None)
            if not interval or interval.total_seconds() <= 0 or callback is None:
                problems.append(f"{dag_id}: Deadline Alert without a positive interval and a callback ({alert!r})")
            else:
                reference = type(getattr(alert, "reference", None)).__name__
                evidence.append(f"{dag_id}: Deadline Alert {reference} + {interval} → {getattr(callback, 'path', callback)}")
    return not problems, problems or evidence


# ------------------------------------------------------------------------------------------------ Orchestration
@rule(ORCH, "Cross-DAG dependencies documented")
def cross_dag_documented(ctx: Context) -> tuple[bool, list[str]]:
    from contract.docs import OUT, build

    stale = [n for n, text in build().items() if not (OUT / n).exists() or (OUT / n).read_text() != text]
    return not stale, [f"stale: docs/contract/{n}" for n in stale] or ["docs/contract/dependencies.svg and needs.md are current"]


@rule(ORCH, "ExternalTaskSensor timeouts configured")
def sensor_timeouts(ctx: Context) -> tuple[bool, list[str]]:
    sensors = [(d.dag_id, t) for d in ctx.dags() for t in d.tasks if type(t).__name__ == "ExternalTaskSensor"]
    broken = [f"{d}.{t.task_id}: timeout {t.timeout}s" for d, t in sensors if not t.timeout or t.timeout >= DEFAULT_SENSOR_TIMEOUT]
    if not sensors:
        return False, ["no ExternalTaskSensor in the DagBag"]
    return not broken, broken or [f"{d}.{t.task_id}: timeout {t.timeout:.0f}s, mode {t.mode}" for d, t in sensors]


@rule(ORCH, "Dataset producers/consumers mapped")
def assets_mapped(ctx: Context) -> tuple[bool, list[str]]:
    from contract.usage import from_dag

    broken, mapped = [], 0
    for dag in ctx.dags():
        found, declared = from_dag(dag), ctx.needs.get(dag.dag_id, {}).get("assets", {"produces": [], "consumes": []})
        if found.produces != set(declared["produces"]) or found.consumes != set(declared["consumes"]):
            broken.append(f"{dag.dag_id}: code produces {sorted(found.produces)} consumes {sorted(found.consumes)}, manifest says otherwise")
        mapped += len(found.produces) + len(found.consumes)
    if not broken and not mapped:
        return False, ["no DAG produces or consumes an asset"]
    return not broken, broken or [f"{mapped} producer/consumer links declared in needs.yaml and drawn in docs/contract"]


FACTORY_CONFIGS = DAGS / "phase15" / "configs"


def factory_problems(ctx: Context, config: Path, schema: Path) -> tuple[list[str], list[str]]:
    """(evidence, problems): the config loads against its schema, a copy missing a required field is refused, and each
    DAG it defines is in the DagBag with the config's tasks and dependencies."""
    import yaml

    from common.factory import load_config, load_validated

    evidence: list[str] = []
    problems: list[str] = []
    document = load_config(config, schema)  # raises FactoryConfigError naming the field
    evidence.append(f"{_rel(config)} validates against {schema.name}")
    broken = json.loads(json.dumps(document))
    first = next(iter(broken.get("dags", {}).values()), None)
    if first is None:
        return evidence, [f"{_rel(config)} defines no DAGs"]
    first.pop("schedule", None)
    with tempfile.TemporaryDirectory(prefix="checklist-factory-") as scratch:
        copy = Path(scratch) / config.name
        copy.write_text(yaml.safe_dump(broken))
        try:
            load_validated(copy, schema)
            problems.append(f"{schema.name} accepted a DAG definition without its schedule")
        except Exception as exc:  # noqa: BLE001 - the refusal is the behaviour being checked
            evidence.append(f"a definition without its schedule is refused ({type(exc).__name__})")
    for dag_id, definition in document["dags"].items():
        dag = ctx.dag(dag_id)
        if dag is None:
            problems.append(f"{dag_id}: defined in {config.name} but not in the DagBag")
            continue
        wanted = {t["id"]: set(t.get("dependencies", [])) for t in definition["tasks"]}
        built = {t.task_id: set(t.upstream_task_ids) for t in dag.tasks}
        if wanted != built:
            problems.append(f"{dag_id}: config tasks {wanted}, DagBag tasks {built}")
        else:
            evidence.append(f"{dag_id}: {len(built)} tasks and their dependencies as configured")
    return evidence, problems


@rule(ORCH, "DAG factory configurations validated")
def factory_validated(ctx: Context) -> tuple[bool, list[str]]:
    evidence, problems = factory_problems(ctx, FACTORY_CONFIGS / "dag_definitions.yaml", FACTORY_CONFIGS / "dag_definitions.schema.json")
    return not problems, problems or evidence


@rule(ORCH, "Multi-tenant isolation verified")
def tenant_isolation(ctx: Context) -> tuple[bool, list[str]]:
    """Each DAG tagged `tenant:<name>` runs every task in a pool no other DAG uses, and only that tenant's roles may
    act on it."""
    tenants = [(d, t.split(":", 1)[1]) for d in ctx.dags() for t in sorted(d.tags) if t.startswith("tenant:")]
    users: dict[str, set[str]] = {}
    for dag in ctx.dags():
        for task in dag.tasks:
            users.setdefault(task.pool, set()).add(dag.dag_id)
    broken, evidence = [], []
    for dag, tenant in tenants:
        pools = {t.pool for t in dag.tasks}
        for pool in sorted(pools):
            if pool == "default_pool":
                broken.append(f"{dag.dag_id} runs tasks in default_pool, shared with every DAG")
            elif users[pool] != {dag.dag_id}:
                broken.append(f"{dag.dag_id} shares pool {pool} with {sorted(users[pool] - {dag.dag_id})}")
        roles = sorted((dag.access_control or {}).keys())
        foreign = [r for r in roles if tenant not in r]
        if not roles or foreign:
            broken.append(f"{dag.dag_id}: access_control {roles} is not the tenant {tenant}'s own")
        evidence.append(f"{dag.dag_id}: pools {sorted(pools)}, access_control {roles}")
    if not tenants:
        broken.append("no DAG is tagged tenant:<name>")
    return not broken, broken or evidence


# ------------------------------------------------------------------------------------------------ Security & Governance
_SUSPICIOUS_ASSIGNMENT = re.compile(r"(password|passwd|secret|token|api_key|apikey)\s*[=:]\s*['\"][^'\"{}\s]{6,}['\"]", re.I)


def _task_strings(value: Any, depth: int = 0) -> Iterator[str]:
    """The strings inside a task attribute (nested dicts, lists, tuples)."""
    if isinstance(value, str):
        yield value
    elif depth < 4 and isinstance(value, dict):
        for key, item in value.items():
            yield from _task_strings(item, depth + 1)
            if isinstance(item, str) and re.search(r"password|passwd|secret|token|api_key", str(key), re.I):
                yield f"{key}='{item}'"
    elif depth < 4 and isinstance(value, list | tuple):
        for item in value:
            yield from _task_strings(item, depth + 1)


@rule(SEC, "No hardcoded credentials in DAGs")
def no_hardcoded_credentials(ctx: Context) -> tuple[bool, list[str]]:
    """No literal password, token or credentialed URI in the files under dags/ nor in the parsed tasks' own arguments
    (what a DAG built at parse time from config or code would carry)."""
    found = []
    for path in sorted(DAGS.rglob("*")):
        if path.suffix not in (".py", ".yaml", ".yml", ".json", ".sql", ".j2"):
            continue
        for number, line in enumerate(_source(path).splitlines(), 1):
            if _SUSPICIOUS_ASSIGNMENT.search(line) or _URI_WITH_PASSWORD.search(line):
                found.append(f"{_rel(path)}:{number}")
    tasks = 0
    for dag in ctx.dags():
        for task in dag.tasks:
            tasks += 1
            for attribute, value in vars(task).items():
                if attribute.startswith("_") or attribute in ("dag", "task_group", "doc_md"):
                    continue
                for text in _task_strings(value):
                    if _URI_WITH_PASSWORD.search(text) or (
                            "{{" not in text and re.fullmatch(r"\w*(password|passwd|secret|token|api_key)\w*='[^'{}\s]{6,}'", text, re.I)):
                        found.append(f"{dag.dag_id}.{task.task_id}.{attribute}: a literal credential")
    files = sum(1 for p in DAGS.rglob("*") if p.is_file())
    return not found, found or [f"scanned {files} files under dags/ and the arguments of {tasks} parsed tasks: "
                                "no literal passwords, tokens or credentialed URIs"]


def _owner_prefixes(dag: Any) -> list[str]:
    """The role-name prefixes of a DAG's owners: `team:<t>` → team_<t>_*, `tenant:<t>` → tenant_<t>."""
    return ([f"team_{t.split(':', 1)[1]}_" for t in dag.tags if t.startswith("team:")]
            + [f"tenant_{t.split(':', 1)[1]}" for t in dag.tags if t.startswith("tenant:")])


DAG_LEVEL_RESOURCES = frozenset({"DAGs", "DAG Runs"})


@rule(SEC, "RBAC roles defined per team")
def rbac(ctx: Context) -> tuple[bool, list[str]]:
    """Every role a DAG's access_control names is declared in its needs.yaml `roles` (the platform creates those), grants
    only DAG-level permissions on that DAG, and only the owning team's (or tenant's) roles may do more than read."""
    problems, evidence = [], []
    controlled = [d for d in ctx.dags() if d.access_control]
    for dag in controlled:
        declared = set(ctx.needs.get(dag.dag_id, {}).get("roles", []))
        owners = _owner_prefixes(dag)
        if not owners:
            problems.append(f"{dag.dag_id}: access_control but no team:/tenant: tag names its owner")
        for role, grants in sorted(dag.access_control.items()):
            if role not in declared:
                problems.append(f"{dag.dag_id}: access_control names {role}, not declared in its needs.yaml roles")
            by_resource = grants if isinstance(grants, dict) else {"DAGs": set(grants)}
            for resource, actions in sorted(by_resource.items()):
                if resource not in DAG_LEVEL_RESOURCES:
                    problems.append(f"{dag.dag_id}: {role} holds {sorted(actions)} on {resource}, not a DAG-level permission")
            writes = sorted({a for actions in by_resource.values() for a in actions} - {"can_read"})
            if writes and not any(role.startswith(prefix) for prefix in owners):
                problems.append(f"{dag.dag_id}: {role} may {writes} but the DAG belongs to {owners or 'nobody'}")
        unused = sorted(declared - set(dag.access_control))
        if unused:
            problems.append(f"{dag.dag_id}: needs.yaml declares roles {unused} its access_control never names")
        evidence.append(f"{dag.dag_id}: {', '.join(f'{r} {sorted(set().union(*map(set, g.values())) if isinstance(g, dict) else g)}' for r, g in sorted(dag.access_control.items()))}")
    if not controlled:
        problems.append("no DAG declares access_control")
    return not problems, problems or evidence


AUDIT_DAG = "phase16_03_audit_compliance"
_SAMPLE_EVENT = {"event_log_id": 1, "when": "2026-01-01T12:00:00+00:00", "event": "trigger", "owner": "checklist",
                 "dag_id": "phase1_01", "extra": None}


class _EmptyPage(dict[str, Any]):
    """An empty API answer: any collection key reads as no items."""

    def __missing__(self, key: str) -> list[Any]:
        return []


@rule(SEC, "Audit logging enabled")
def audit_dag(ctx: Context) -> tuple[bool, list[str]]:
    """A run of the audit DAG's first tasks, against a recording API, reads /api/v2/eventLogs through an airflow_api
    connection its needs.yaml declares and hands the events on."""
    from common.airflow_api import AirflowApi

    dag = ctx.dag(AUDIT_DAG)
    if dag is None:
        return False, [f"{AUDIT_DAG} missing"]
    calls: list[tuple[str, str, str]] = []

    class RecordingApi(AirflowApi):
        def _request(self, method: str, path: str, **kwargs: Any) -> Any:
            calls.append((self.base_url.removeprefix("recorded://"), method, path))
            if path.endswith("/eventLogs"):
                return {"event_logs": [_SAMPLE_EVENT], "total_entries": 1}
            return _EmptyPage(total_entries=0)

    end = datetime(2026, 1, 2, tzinfo=UTC)
    context = {"data_interval_start": end - timedelta(days=1), "data_interval_end": end, "run_id": "checklist",
               "dag_run": SimpleNamespace(run_after=end, conf={}), "params": _param_defaults(dag)}
    recorder = classmethod(lambda cls, conn_id="airflow_api": RecordingApi(f"recorded://{conn_id}", "checklist", "checklist"))
    with mock.patch.object(AirflowApi, "from_connection", recorder):
        outputs = run_callables(dag, context, only=_roots(dag))
    api_conns = {c for c, spec in ctx.needs.get(AUDIT_DAG, {}).get("connections", {}).items() if spec.get("service") == "airflow_api"}
    reads = [(conn, path) for conn, method, path in calls if method == "GET" and path.endswith("/api/v2/eventLogs")]
    problems = []
    if not reads:
        problems.append(f"a run of {AUDIT_DAG}'s first tasks read no /api/v2/eventLogs (calls: {calls or 'none'})")
    undeclared = sorted({conn for conn, _ in reads} - api_conns)
    if undeclared:
        problems.append(f"{AUDIT_DAG} reads eventLogs through {undeclared}, not an airflow_api connection of its needs.yaml ({sorted(api_conns)})")
    if reads and not any(_SAMPLE_EVENT in out for out in outputs.values() if isinstance(out, list)):
        problems.append(f"{AUDIT_DAG} read eventLogs but handed no event on")
    return not problems, problems or [f"a run of {', '.join(sorted(outputs))} reads /api/v2/eventLogs through "
                                      f"{', '.join(sorted({c for c, _ in reads}))} (declared, service airflow_api) and hands the events to the report"]


GOVERNANCE_DAG = "phase17_03_governance_workflows"


def classifier_problems(classify_table: Callable[[list[str]], dict[str, Any]]) -> list[str]:
    """The column classifier judged on columns: the most sensitive column sets the table's level."""
    cases = {("id", "email", "salary"): "PII", ("id", "salary"): "Confidential", ("id", "created_at"): "Public"}
    return [f"columns {list(columns)} classified {got}, not {want}" for columns, want in cases.items()
            if (got := classify_table(list(columns))["classification"]) != want]


@rule(SEC, "Data classification tags applied")
def classification(ctx: Context) -> tuple[bool, list[str]]:
    """Assets and DAGs carry a known classification, the classifier the governance DAG tags tables with classifies
    sample columns right, and its retention runs on the classification (downstream of classify)."""
    from common.governance import classify_table

    levels = {"pii", "confidential", "public"}
    tagged: list[str] = []
    problems: list[str] = []
    for dag in ctx.dags():
        for task in dag.tasks:
            for outlet in getattr(task, "outlets", None) or []:
                extra = getattr(outlet, "extra", None) or {}
                if "classification" in extra:
                    label = str(extra["classification"]).lower()
                    (tagged if label in levels else problems).append(
                        f"{outlet.uri}: {label} ({dag.dag_id})" if label in levels else f"{outlet.uri}: unknown classification {label!r}")
        labels = [t.split(":", 1)[1] for t in dag.tags if t.startswith("classification:")]
        tagged += [f"{dag.dag_id}: tag classification:{label}" for label in labels if label.lower() in levels]
    if not tagged:
        problems.append("no asset or DAG carries a classification")
    problems += classifier_problems(classify_table)
    governed = ctx.dag(GOVERNANCE_DAG)
    classify = [t for t in governed.tasks if "classif" in t.task_id] if governed else []
    if not classify:
        problems.append(f"{GOVERNANCE_DAG} {'missing' if governed is None else 'has no classify task'}")
    elif not any("retention" in d for t in classify for d in t.get_flat_relative_ids(upstream=False)):
        problems.append(f"{GOVERNANCE_DAG}: retention does not run on the classification (not downstream of {classify[0].task_id})")
    return not problems, problems or [*sorted(set(tagged)), "common.governance.classify_table: the most sensitive column sets the level"]


class _RecordingCursor:
    def __init__(self, log: list[tuple[str, Any]]) -> None:
        self.log, self.rowcount = log, 0

    def __enter__(self) -> _RecordingCursor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def execute(self, sql: str, params: Any = None) -> None:
        self.log.append((" ".join(sql.split()), params))

    def fetchall(self) -> list[Any]:
        return []


@rule(SEC, "Retention policies automated")
def retention(ctx: Context) -> tuple[bool, list[str]]:
    """The governance DAG is scheduled, and a run of its retention task against a recording database deletes PII rows
    older than 30 days and keeps Public tables whole."""
    from common import warehouse_governance

    dag = ctx.dag(GOVERNANCE_DAG)
    if dag is None:
        return False, [f"{GOVERNANCE_DAG} missing"]
    problems = []
    schedule = _schedule(dag)
    if schedule is None:
        problems.append(f"{GOVERNANCE_DAG} has no schedule: retention only runs by hand")
    tasks = {t.task_id for t in dag.tasks if "retention" in t.task_id}
    if not tasks:
        return False, [*problems, f"{GOVERNANCE_DAG} has no retention task"]
    names = [f"{schema}.{table}" for schema, table in warehouse_governance.GOVERNED_TABLES]
    pii, public = names[0], names[-1] if len(names) > 1 else None
    classes = {pii: {"classification": "PII"}, **({public: {"classification": "Public"}} if public else {})}
    statements: list[tuple[str, Any]] = []

    @contextmanager
    def recording_connect(*args: Any, **kwargs: Any) -> Iterator[Any]:
        yield SimpleNamespace(cursor=lambda: _RecordingCursor(statements), commit=lambda: None, rollback=lambda: None)

    now = datetime.now(UTC)
    with mock.patch.object(warehouse_governance, "connect", recording_connect):
        upstream = {u: classes for t in tasks for u in dag.get_task(t).upstream_task_ids}
        run_callables(dag, {"run_id": "checklist", "params": _param_defaults(dag)}, only=tasks, given=upstream)
    deletes = [(sql, params) for sql, params in statements if sql.upper().startswith("DELETE")]
    pii_table = '"{}"."{}"'.format(*pii.split("."))
    pii_cutoffs = [params.get("cutoff") for sql, params in deletes if pii_table in sql and isinstance(params, dict)]
    if not any(c is not None and abs((now - c) - timedelta(days=30)) < timedelta(hours=1) for c in pii_cutoffs):
        problems.append(f"a run of {sorted(tasks)} deleted no {pii} (PII) rows older than 30 days (statements: {deletes or 'none'})")
    if public and any('"{}"."{}"'.format(*public.split(".")) in sql for sql, _ in deletes):
        problems.append(f"a run of {sorted(tasks)} deleted rows of {public}, classified Public (kept forever)")
    return not problems, problems or [f"{GOVERNANCE_DAG} schedule: {schedule}",
                                      f"a run of {', '.join(sorted(tasks))} deletes {pii} (PII) rows older than 30 days and keeps {public} (Public)"]


# ------------------------------------------------------------------------------------------------ MLOps
FEATURE_DAG = "phase18_01_feature_store"


@rule(MLOPS, "Feature store materialization scheduled")
def feature_store(ctx: Context) -> tuple[bool, list[str]]:
    """The feature DAG is scheduled, materialises after the feature definitions are applied, and checks the online
    store's freshness after materialising."""
    dag = ctx.dag(FEATURE_DAG)
    if dag is None:
        return False, [f"{FEATURE_DAG} missing"]
    problems = []
    schedule = _schedule(dag)
    if schedule is None:
        problems.append(f"{FEATURE_DAG} has no schedule: features are only materialised by hand")
    materialise = [t for t in dag.tasks if "materiali" in t.task_id]
    if not materialise:
        return False, [*problems, f"{FEATURE_DAG} has no materialisation task"]
    for task in materialise:
        before = task.get_flat_relative_ids(upstream=True)
        after = task.get_flat_relative_ids(upstream=False)
        if not any("definition" in u or "apply" in u for u in before):
            problems.append(f"{FEATURE_DAG}.{task.task_id} runs without applying the feature definitions first (upstream {sorted(before)})")
        if not any("fresh" in d for d in after):
            problems.append(f"{FEATURE_DAG}.{task.task_id}: nothing checks the online store's freshness after it (downstream {sorted(after)})")
    return not problems, problems or [f"{FEATURE_DAG} schedule: {schedule}",
                                      *(f"{t.task_id} after {sorted(t.get_flat_relative_ids(upstream=True))}, "
                                        f"before {sorted(t.get_flat_relative_ids(upstream=False))}" for t in materialise)]


def drift_gate_problems(detect: Callable[..., Any], gate: Callable[..., Any]) -> list[str]:
    """The drift gate judged on data: a shifted feature must stop it, the same distribution must pass it."""
    import random

    rng = random.Random(7)
    reference = {"x": [rng.gauss(0, 1) for _ in range(2000)]}
    problems = []
    try:
        gate(detect(reference, {"x": [rng.gauss(0, 1) for _ in range(2000)]}))
    except Exception as exc:  # noqa: BLE001 - any refusal of stable data is the problem being reported
        problems.append(f"a batch from the reference distribution was refused: {exc}")
    try:
        gate(detect(reference, {"x": [rng.gauss(1.5, 1) for _ in range(2000)]}))
        problems.append("a batch shifted by 1.5 sd passed the drift gate")
    except Exception:  # noqa: BLE001 - the gate raising is the expected outcome
        pass
    return problems


@rule(MLOPS, "Model drift detection thresholds set")
def drift_thresholds(ctx: Context) -> tuple[bool, list[str]]:
    from dataclasses import asdict as as_dict

    from common.drift import DriftThresholds, detect_drift, enforce_drift_gate

    users = [d.dag_id for d in ctx.dags() if "common.drift" in _dag_source(d) or "from common import drift" in _dag_source(d)]
    problems = drift_gate_problems(detect_drift, enforce_drift_gate)
    evidence = [f"common.drift.DriftThresholds defaults {as_dict(DriftThresholds())}",
                "a 1.5 sd shift stops the gate, a same-distribution batch passes", f"drift gates in {', '.join(users)}"]
    return not problems and bool(users), problems or evidence


RETRAIN_DAG = "phase18_03_auto_retraining"


class _FakeRegistry:
    """An in-memory MLflow registry client: aliases and version tags of one model."""

    def __init__(self) -> None:
        self.aliases: dict[str, str] = {}
        self.tags: dict[tuple[str, str], str] = {}

    def get_model_version_by_alias(self, name: str, alias: str) -> Any:
        from mlflow.exceptions import MlflowException

        if alias not in self.aliases:
            raise MlflowException(f"no alias {alias}")
        return SimpleNamespace(version=self.aliases[alias])

    def set_registered_model_alias(self, name: str, alias: str, version: str) -> None:
        self.aliases[alias] = str(version)

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        self.aliases.pop(alias, None)

    def set_model_version_tag(self, name: str, version: str, key: str, value: str) -> None:
        self.tags[(str(version), key)] = value


def champion_challenger_problems(promotion: Any) -> list[str]:
    """common.model_promotion judged on a model's life: a worse challenger loses, a better one wins; promoting the
    challenger keeps the old champion as previous_champion, and rollback restores it."""
    problems = []
    if promotion.challenger_beats_champion({"roc_auc": 0.70}, {"roc_auc": 0.80}):
        problems.append("a challenger with a worse roc_auc (0.70 < 0.80) beats the champion")
    if not promotion.challenger_beats_champion({"roc_auc": 0.85}, {"roc_auc": 0.80}):
        problems.append("a challenger with a better roc_auc (0.85 > 0.80) does not beat the champion")
    aliases = promotion.MlflowAliases.__new__(promotion.MlflowAliases)
    aliases.name, aliases.client = "checklist_model", _FakeRegistry()
    aliases.promote("1", "production")
    aliases.promote("2", "registered")
    if aliases.version_for("challenger") != "2" or aliases.version_for("champion") != "1":
        problems.append(f"registering v2 did not make it the challenger next to champion v1: {aliases.client.aliases}")
    aliases.promote("2", "production")
    if aliases.version_for("champion") != "2" or aliases.version_for("previous_champion") != "1" or aliases.version_for("challenger"):
        problems.append(f"promoting challenger v2 did not make it champion with v1 kept as previous_champion: {aliases.client.aliases}")
    try:
        restored = aliases.rollback("checklist")
    except Exception as exc:  # noqa: BLE001 - a failing rollback is the problem being reported
        restored = f"error {exc}"
    if restored != "1" or aliases.version_for("champion") != "1":
        problems.append(f"rollback did not restore champion v1 ({restored}): {aliases.client.aliases}")
    return problems


@rule(MLOPS, "Champion/Challenger framework in place")
def champion_challenger(ctx: Context) -> tuple[bool, list[str]]:
    from common import model_promotion

    problems = champion_challenger_problems(model_promotion)
    dag = ctx.dag(RETRAIN_DAG)
    branches = [t for t in dag.tasks if "Branch" in type(t).__name__] if dag else []
    outcomes = sorted({d for b in branches for d in b.downstream_task_ids})
    if dag is None:
        problems.append(f"{RETRAIN_DAG} missing")
    elif not (any("promote" in o for o in outcomes) and any("rollback" in o for o in outcomes)):
        problems.append(f"{RETRAIN_DAG}: no decision branches to both a promotion and a rollback (branches lead to {outcomes})")
    return not problems, problems or [
        "common.model_promotion: a better challenger wins, a worse one loses; promotion keeps previous_champion, rollback restores it",
        f"{RETRAIN_DAG}: {', '.join(b.task_id for b in branches)} → {', '.join(outcomes)}",
    ]


def ab_decision_problems(decide: Callable[..., Any], experiment: Any) -> list[str]:
    """The A/B decision judged on outcomes: a clear uplift on enough users must win, noise and small samples not."""
    def outcomes(control: tuple[int, int], treatment: tuple[int, int]) -> dict[str, dict[str, int]]:
        return {"control": {"users": control[0], "conversions": control[1]},
                "treatment": {"users": treatment[0], "conversions": treatment[1]}}

    problems = []
    if decide(experiment, outcomes((5000, 500), (5000, 650)))["winner"] != "treatment":
        problems.append("a 30% uplift on 5,000 users per arm did not win")
    if decide(experiment, outcomes((5000, 500), (5000, 505)))["winner"] != "control":
        problems.append("a 1% difference (noise) won")
    if decide(experiment, outcomes((50, 5), (50, 9)))["winner"] != "control":
        problems.append("50 users per arm were enough to decide")
    return problems


@rule(MLOPS, "A/B test statistical significance defined")
def ab_significance(ctx: Context) -> tuple[bool, list[str]]:
    from common.experiments import Experiment, decide

    experiment = Experiment("checklist", {"control": 0.5, "treatment": 0.5}, "control")
    problems = ab_decision_problems(decide, experiment)
    evidence = [f"common.experiments.decide: alpha {experiment.alpha}, min {experiment.min_samples_per_variant} per arm",
                "a clear uplift wins; noise and small samples keep control", "used by phase18_02_ab_testing"]
    return ctx.dag("phase18_02_ab_testing") is not None and not problems, problems or evidence


@rule(MLOPS, "Automated retraining triggers configured")
def retraining_triggers(ctx: Context) -> tuple[bool, list[str]]:
    """The retraining DAG runs on its own: on a schedule, or on assets that some other DAG of the DagBag produces (or a
    watcher updates), and it measures drift before training."""
    from contract.usage import from_dag

    dag = ctx.dag(RETRAIN_DAG)
    if dag is None:
        return False, [f"{RETRAIN_DAG} missing"]
    problems, evidence = [], []
    schedule = _schedule(dag)
    consumed = from_dag(dag).consumes if "Asset" in type(dag.timetable).__name__ else set()
    if schedule is None:
        problems.append(f"{RETRAIN_DAG} has no schedule and no asset trigger: retraining only runs by hand")
    for uri in sorted(consumed):
        producers = sorted(d.dag_id for d in ctx.dags() if d.dag_id != RETRAIN_DAG and uri in from_dag(d).produces)
        if producers:
            evidence.append(f"{RETRAIN_DAG} runs on {uri}, produced by {', '.join(producers)}")
        else:
            problems.append(f"{RETRAIN_DAG} waits on {uri}, which no DAG produces: it never triggers")
    if schedule is not None and not consumed:
        evidence.append(f"{RETRAIN_DAG} schedule: {schedule}")
    train = [t for t in dag.tasks if t.task_id == "train" or t.task_id.startswith("train_")]
    if not train or not any("drift" in u for t in train for u in t.get_flat_relative_ids(upstream=True)):
        problems.append(f"{RETRAIN_DAG}: training does not wait on a drift check")
    else:
        evidence.append(f"{RETRAIN_DAG}: {train[0].task_id} runs after the drift check")
    return not problems, problems or evidence


ROLLBACK_RUNBOOK = REPO / "docs" / "runbooks" / "model-rollback.md"
_TRIGGER = re.compile(r"airflow dags trigger (\S+) --conf '(\{.*?\})'")


def runbook_trigger_problems(ctx: Context, text: str) -> tuple[list[str], list[str]]:
    """(evidence, problems) for each `airflow dags trigger <dag> --conf '<json>'` of a runbook: the DAG must exist and
    take every conf key as a param, with a value its Param accepts (enum)."""
    evidence: list[str] = []
    problems: list[str] = []
    for dag_id, raw in _TRIGGER.findall(text):
        dag = ctx.dag(dag_id)
        if dag is None:
            problems.append(f"{dag_id}: no such DAG")
            continue
        conf = json.loads(raw)
        params = dict(dag.params.items()) if getattr(dag, "params", None) else {}
        for key, value in conf.items():
            if key not in params:
                problems.append(f"{dag_id}: conf key {key!r} is not a param ({', '.join(sorted(params))})")
                continue
            allowed = (getattr(dag.params.get_param(key), "schema", None) or {}).get("enum")
            if allowed is not None and value not in allowed:
                problems.append(f"{dag_id}: {key}={value!r} is not one of {allowed}")
        evidence.append(f"{dag_id} --conf {raw}")
    return evidence, problems


@rule(MLOPS, "Model rollback procedures documented")
def rollback_doc(ctx: Context) -> tuple[bool, list[str]]:
    """The runbook's rollback command must be one the DAG really takes (a documented path that doesn't exist fails)."""
    if not ROLLBACK_RUNBOOK.exists():
        return False, [f"{ROLLBACK_RUNBOOK.relative_to(REPO)} missing"]
    evidence, problems = runbook_trigger_problems(ctx, _source(ROLLBACK_RUNBOOK))
    if not evidence:
        return False, [f"{ROLLBACK_RUNBOOK.relative_to(REPO)} documents no rollback trigger"]
    return not problems, problems or [f"{ROLLBACK_RUNBOOK.relative_to(REPO)}: {e}" for e in evidence]


def evaluate() -> list[Result]:
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="checklist-"))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    sys.path[:0] = [str(REPO), str(DAGS)]
    from airflow.dag_processing.dagbag import DagBag

    from local.contract import load

    bag = DagBag(dag_folder=str(DAGS))
    ctx = Context(bag, load().dags)
    results = [run(ctx) for _, _, run in RULES]
    if bag.import_errors:
        results.insert(0, Result("DAGs import without errors", CORE, False, [f"{f}: {e.splitlines()[-1]}" for f, e in bag.import_errors.items()]))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, metavar="FILE", help="write results as JSON to FILE (for npm run checklist)")
    args = parser.parse_args()
    results = evaluate()
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))
    else:
        for r in results:
            print(f"{'✓' if r.ok else '✗'} [{r.group}] {r.item}")
            for line in r.evidence:
                print(f"    {line}")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
