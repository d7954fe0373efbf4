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
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

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
            waived, remaining = [], []
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


@rule(CORE, "Circuit breakers for unreliable services")
def circuit_breakers(ctx: Context) -> tuple[bool, list[str]]:
    from contract.usage import transitive_common_modules

    users, missing = [], []
    for dag in ctx.dags():
        if not set(ctx.needs.get(dag.dag_id, {}).get("services", [])) & UNRELIABLE_SERVICES:
            continue
        modules = {p.stem for p in transitive_common_modules(Path(dag.fileloc))}
        (users if "circuit_breaker" in modules else missing).append(dag.dag_id)
    if missing:
        return False, [f"{d} calls an unreliable HTTP API without a circuit breaker" for d in missing]
    return bool(users), [f"{d} calls an unreliable HTTP API through common.circuit_breaker" for d in users]


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


@rule(CORE, "Database connections using Airflow Connections")
def db_connections(ctx: Context) -> tuple[bool, list[str]]:
    inline = [f"{p.relative_to(REPO)}: inline database URI with credentials"
              for p in sorted(DAGS.rglob("*.py")) if _URI_WITH_PASSWORD.search(_source(p))]
    db_dags = [d for d, n in ctx.needs.items() if "postgres" in n["services"]]
    declared = [d for d in db_dags if any(c["type"] == "postgres" for c in ctx.needs[d]["connections"].values())]
    missing = sorted(set(db_dags) - set(declared))
    return not inline and not missing, inline + [f"{d} uses Postgres without a declared postgres connection" for d in missing] or [
        f"{len(declared)} DAGs reach Postgres through declared Airflow connections; no inline credentials in dags/"
    ]


@rule(CORE, "Data validation before loading")
def validation_before_load(ctx: Context) -> tuple[bool, list[str]]:
    evidence, broken = [], []
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


@rule(CORE, "Unit tests for business logic")
def unit_tests(ctx: Context) -> tuple[bool, list[str]]:
    modules = sorted(p.stem for p in (DAGS / "common").glob("*.py") if p.stem != "__init__")
    tested_text = "\n".join(_source(p) for p in (REPO / "tests").rglob("test_*.py"))
    untested = [m for m in modules if not re.search(rf"\bcommon(\.{m}\b| import [^\n]*\b{m}\b)", tested_text)]
    return not untested, [f"common.{m} is imported by no test" for m in untested] or [f"all {len(modules)} common modules are exercised by tests"]


@rule(CORE, "CI/CD pipeline for DAG deployment")
def ci_pipeline(ctx: Context) -> tuple[bool, list[str]]:
    run = REPO / ".ci" / "run"
    text = _source(run) if run.exists() else ""
    suite = _source(REPO / "scripts" / "test-all.sh") if (REPO / "scripts" / "test-all.sh").exists() else ""
    ok = "./platform test" in text and "ruff" in suite and "pytest" in suite
    return ok, [".ci/run → ./platform test (ruff, tsc, synth, jest, pytest incl. DagBag)", "phase11_02_cicd_patterns teaches staging → prod gates"]


@rule(CORE, "Metrics exported to monitoring system")
def metrics_exported(ctx: Context) -> tuple[bool, list[str]]:
    dag = ctx.dag("phase12_01_metrics_monitoring")
    return dag is not None, ["phase12_01_metrics_monitoring emits Prometheus exposition; Airflow's StatsD → statsd_exporter → Prometheus (tests/local)"]


@rule(CORE, "Structured logging with correlation IDs")
def structured_logging(ctx: Context) -> tuple[bool, list[str]]:
    from common import observability

    src = _source(Path(observability.__file__))
    ok = ctx.dag("phase12_02_logging_tracing") is not None and "correlation" in src
    return ok, ["common/observability.py: JSON log records carry a correlation id; phase12_02_logging_tracing"]


@rule(CORE, "Health checks for dependencies")
def health_checks(ctx: Context) -> tuple[bool, list[str]]:
    schedule = _schedule(ctx.dag("phase12_03_health_checks"))
    return schedule is not None, [f"phase12_03_health_checks schedule: {schedule}"]


# The DAGs where the seed asks for SLAs: callbacks/SLA monitoring (phase 5) and SLA tracking (phase 12).
SLA_DAGS = ("phase5_04_callbacks", "phase12_01_metrics_monitoring")


@rule(CORE, "SLA definitions and monitoring")
def deadline_alerts(ctx: Context) -> tuple[bool, list[str]]:
    evidence, ok = [], True
    for dag_id in SLA_DAGS:
        dag = ctx.dag(dag_id)
        deadline = getattr(dag, "deadline", None) if dag else None
        ok &= bool(deadline)
        evidence.append(f"{dag_id}: {'Deadline Alert ' + repr(deadline) if deadline else 'no Deadline Alert'}")
    return ok, evidence


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
    return bool(sensors) and not broken, broken or [f"{d}.{t.task_id}: timeout {t.timeout:.0f}s, mode {t.mode}" for d, t in sensors]


@rule(ORCH, "Dataset producers/consumers mapped")
def assets_mapped(ctx: Context) -> tuple[bool, list[str]]:
    from contract.usage import from_dag

    broken, mapped = [], 0
    for dag in ctx.dags():
        found, declared = from_dag(dag), ctx.needs.get(dag.dag_id, {}).get("assets", {"produces": [], "consumes": []})
        if found.produces != set(declared["produces"]) or found.consumes != set(declared["consumes"]):
            broken.append(f"{dag.dag_id}: code produces {sorted(found.produces)} consumes {sorted(found.consumes)}, manifest says otherwise")
        mapped += len(found.produces) + len(found.consumes)
    return not broken and mapped > 0, broken or [f"{mapped} producer/consumer links declared in needs.yaml and drawn in docs/contract"]


@rule(ORCH, "DAG factory configurations validated")
def factory_validated(ctx: Context) -> tuple[bool, list[str]]:
    from common.factory import load_validated

    configs = DAGS / "phase15" / "configs"
    config = configs / "dag_definitions.yaml"
    load_validated(config, configs / "dag_definitions.schema.json")  # raises FactoryConfigError naming the field
    factory_dags = [d for d in ctx.dagbag.dags if d.startswith("phase15_01")]
    return bool(factory_dags), [f"{config.relative_to(REPO)} validates against its schema", f"factory DAGs parsed: {', '.join(sorted(factory_dags))}"]


@rule(ORCH, "Multi-tenant isolation verified")
def tenant_isolation(ctx: Context) -> tuple[bool, list[str]]:
    tenants = [d for d in ctx.dags() if d.dag_id.startswith("phase15_03")]
    seen_pools: dict[str, str] = {}
    broken, evidence = [], []
    for dag in tenants:
        pools = {t.pool for t in dag.tasks}
        owners = {t.owner for t in dag.tasks}
        for pool in pools:
            if pool in seen_pools and seen_pools[pool] != dag.dag_id and pool != "default_pool":
                broken.append(f"{dag.dag_id} shares pool {pool} with {seen_pools[pool]}")
            seen_pools.setdefault(pool, dag.dag_id)
        evidence.append(f"{dag.dag_id}: pools {sorted(pools)}, owners {sorted(owners)}, access_control {sorted((dag.access_control or {}).keys())}")
    return bool(tenants) and not broken, broken or evidence


# ------------------------------------------------------------------------------------------------ Security & Governance
@rule(SEC, "No hardcoded credentials in DAGs")
def no_hardcoded_credentials(ctx: Context) -> tuple[bool, list[str]]:
    suspicious = re.compile(r"(password|passwd|secret|token|api_key|apikey)\s*[=:]\s*['\"][^'\"{}\s]{6,}['\"]", re.I)
    found = []
    for path in sorted(DAGS.rglob("*")):
        if path.suffix not in (".py", ".yaml", ".yml", ".json", ".sql", ".j2"):
            continue
        for number, line in enumerate(_source(path).splitlines(), 1):
            if suspicious.search(line) or _URI_WITH_PASSWORD.search(line):
                found.append(f"{path.relative_to(REPO)}:{number}")
    files = sum(1 for p in DAGS.rglob("*") if p.is_file())
    return not found, found or [f"scanned {files} files under dags/: no literal passwords, tokens or credentialed URIs"]


@rule(SEC, "RBAC roles defined per team")
def rbac(ctx: Context) -> tuple[bool, list[str]]:
    controlled = [(d.dag_id, sorted(d.access_control)) for d in ctx.dags() if d.access_control]
    return bool(controlled), [f"{d}: access_control for roles {roles}" for d, roles in controlled]


@rule(SEC, "Audit logging enabled")
def audit_dag(ctx: Context) -> tuple[bool, list[str]]:
    dag = ctx.dag("phase16_03_audit_compliance")
    return dag is not None, ["phase16_03_audit_compliance reads the REST API v2 eventLogs into a compliance report (infra rule checks the platform side)"]


@rule(SEC, "Data classification tags applied")
def classification(ctx: Context) -> tuple[bool, list[str]]:
    levels = {"pii", "confidential", "public"}
    tagged = []
    for dag in ctx.dags():
        for task in dag.tasks:
            for outlet in getattr(task, "outlets", None) or []:
                extra = getattr(outlet, "extra", None) or {}
                label = str(extra.get("classification", "")).lower()
                if label in levels:
                    tagged.append(f"{outlet.uri}: {label} ({dag.dag_id})")
    for dag in ctx.dags():
        labels = [t.split(":", 1)[1] for t in dag.tags if t.startswith("classification:")]
        tagged += [f"{dag.dag_id}: tag classification:{label}" for label in labels if label.lower() in levels]
    governed = ctx.dag("phase17_03_governance_workflows")
    return governed is not None and bool(tagged), sorted(set(tagged)) or ["no asset or DAG carries a classification"]


@rule(SEC, "Retention policies automated")
def retention(ctx: Context) -> tuple[bool, list[str]]:
    dag = ctx.dag("phase17_03_governance_workflows")
    schedule = _schedule(dag)
    tasks = [t.task_id for t in dag.tasks if "retention" in t.task_id] if dag else []
    return schedule is not None and bool(tasks), [f"phase17_03_governance_workflows schedule: {schedule}; retention tasks {tasks}"]


# ------------------------------------------------------------------------------------------------ MLOps
@rule(MLOPS, "Feature store materialization scheduled")
def feature_store(ctx: Context) -> tuple[bool, list[str]]:
    dag = ctx.dag("phase18_01_feature_store")
    schedule = _schedule(dag)
    tasks = [t.task_id for t in dag.tasks if "materiali" in t.task_id] if dag else []
    return schedule is not None and bool(tasks), [f"phase18_01_feature_store schedule: {schedule}; materialisation tasks {tasks}"]


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


@rule(MLOPS, "Champion/Challenger framework in place")
def champion_challenger(ctx: Context) -> tuple[bool, list[str]]:
    text = "\n".join(_source(p) for p in (DAGS / "common").glob("*.py"))
    ok = ctx.dag("phase18_03_auto_retraining") is not None and "champion" in text and "challenger" in text
    return ok, ["MLflow registry aliases champion/challenger (common.model_promotion), phase18_03_auto_retraining"]


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
    schedule = _schedule(ctx.dag("phase18_03_auto_retraining"))
    return schedule is not None, [f"phase18_03_auto_retraining schedule: {schedule}"]


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
