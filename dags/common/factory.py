"""Config-driven DAG generation (phase 15): validated YAML → dag-factory, Jinja per-environment configs, multi-tenant DAGs.

The rule throughout: a bad config is a loud import error that names the file and the field. A DAG that silently
disappears from the UI because one YAML key was misspelt is the classic failure of config-driven DAGs.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

SUPPORTED_SCHEMA_VERSIONS = ("1.0", "1.1")
OPERATORS = {
    "python": "airflow.providers.standard.operators.python.PythonOperator",
    "bash": "airflow.providers.standard.operators.bash.BashOperator",
    "empty": "airflow.providers.standard.operators.empty.EmptyOperator",
}
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class FactoryConfigError(ValueError):
    """A DAG config is invalid. The message starts with the file, then lists each bad field path."""

    def __init__(self, source: str | Path, problems: Sequence[str]) -> None:
        self.source = str(source)
        self.problems = list(problems)
        super().__init__(f"{self.source}: invalid DAG config:\n  - " + "\n  - ".join(self.problems))


class UnknownTenantError(KeyError):
    def __init__(self, tenant: str, known: Sequence[str]) -> None:
        self.tenant = tenant
        super().__init__(f"unknown tenant {tenant!r}; configured tenants: {', '.join(sorted(known))}")

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


# ---------------------------------------------------------------- loading and validation

def read_yaml(path: str | Path) -> Any:
    import yaml

    try:
        return yaml.safe_load(Path(path).read_text())
    except FileNotFoundError as exc:
        raise FactoryConfigError(path, ["file not found"]) from exc
    except yaml.YAMLError as exc:
        raise FactoryConfigError(path, [f"not valid YAML: {exc}"]) from exc


def _field_path(parts: Sequence[Any]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "<root>"


def validate(document: Any, schema: Mapping[str, Any], source: str | Path) -> None:
    """JSON-Schema validation that reports every problem with its field path (not just the first)."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        raise FactoryConfigError(source, [f"{_field_path(list(e.absolute_path))}: {e.message}" for e in errors])


def check_schema_version(document: Mapping[str, Any], source: str | Path,
                         supported: Sequence[str] = SUPPORTED_SCHEMA_VERSIONS) -> str:
    version = str(document.get("schema_version", ""))
    if version not in supported:
        raise FactoryConfigError(source, [f"schema_version: {version or '<missing>'!r} is not supported "
                                          f"(supported: {', '.join(supported)})"])
    return version


def substitute_env(value: Any, env: Mapping[str, str], where: str = "") -> Any:
    """Replace `${VAR}` / `${VAR:-default}` in every string; a missing variable without a default is an error."""
    if isinstance(value, str):
        def repl(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            raise KeyError(f"{where or '<value>'}: environment variable {name} is not set and has no default")
        return _ENV_REF.sub(repl, value)
    if isinstance(value, Mapping):
        return {k: substitute_env(v, env, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute_env(v, env, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def load_validated(path: str | Path, schema_path: str | Path) -> dict[str, Any]:
    """Read a YAML config, check its schema_version, validate it against its JSON schema."""
    document = read_yaml(path)
    if not isinstance(document, dict):
        raise FactoryConfigError(path, ["<root>: must be a mapping"])
    schema = json.loads(Path(schema_path).read_text())
    check_schema_version(document, path, schema["properties"]["schema_version"]["enum"])
    validate(document, schema, path)
    return document


def load_config(path: str | Path, schema_path: str | Path, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Read, version-check, schema-validate and env-substitute a factory config."""
    document = load_validated(path, schema_path)
    try:
        resolved = substitute_env(document, os.environ if env is None else env)
    except KeyError as exc:
        raise FactoryConfigError(path, [str(exc.args[0])]) from exc
    _check_task_graph(resolved, path)
    return resolved


def _check_task_graph(config: Mapping[str, Any], source: str | Path) -> None:
    """Schema can't express cross-references: every dependency must name a task of the same DAG."""
    problems = []
    for dag_id, dag in config.get("dags", {}).items():
        ids = [t["id"] for t in dag["tasks"]]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            problems.append(f"dags.{dag_id}.tasks: duplicate task id(s) {dupes}")
        for i, t in enumerate(dag["tasks"]):
            for dep in t.get("dependencies", []):
                if dep not in ids:
                    problems.append(f"dags.{dag_id}.tasks[{i}].dependencies: unknown task {dep!r}")
    if problems:
        raise FactoryConfigError(source, problems)


# ---------------------------------------------------------------- dag-factory translation

def to_dag_factory(config: Mapping[str, Any], default_args: Mapping[str, Any]) -> dict[str, Any]:
    """Our validated config → the dict dag-factory 1.x builds DAGs from (one key per DAG).

    `default_args` (the platform's, with callbacks) are passed to dag-factory separately as its global defaults;
    the per-DAG owner and retries from the YAML override them.
    """
    defaults = config.get("defaults", {})
    out: dict[str, Any] = {}
    for dag_id, dag in config["dags"].items():
        tasks = []
        for t in dag["tasks"]:
            task: dict[str, Any] = {"task_id": t["id"], "operator": OPERATORS[t.get("operator", "python")]}
            if "callable" in t:
                task["python_callable"] = t["callable"]
            for key in ("op_kwargs", "bash_command", "pool", "retries"):
                if key in t:
                    task[key] = t[key]
            if "execution_timeout_minutes" in t:
                task["execution_timeout"] = timedelta(minutes=t["execution_timeout_minutes"])
            if t.get("dependencies"):
                task["dependencies"] = list(t["dependencies"])
            tasks.append(task)
        owner = dag.get("owner", defaults.get("owner"))
        out[dag_id] = {
            "default_args": {"owner": owner, "retries": dag.get("retries", defaults.get("retries", 2))},
            "description": dag["description"],
            "doc_md": dag.get("doc_md", dag["description"]),
            "schedule": dag.get("schedule"),
            "start_date": datetime.fromisoformat(str(dag.get("start_date", defaults.get("start_date", "2026-01-01")))),
            "catchup": False,
            "tags": sorted(set(dag.get("tags", [])) | set(defaults.get("tags", []))),
            "render_template_as_native_obj": True,
            "tasks": tasks,
        }
    return out


def callbacks_as_paths(default_args: Mapping[str, Any]) -> dict[str, Any]:
    """dag-factory accepts callbacks only as dotted import paths, so callables become `module.name` strings."""
    out = dict(default_args)
    for key, value in default_args.items():
        if key.endswith("_callback") and callable(value):
            out[key] = f"{value.__module__}.{value.__qualname__}"
    return out


def build_dags(config_path: str | Path, schema_path: str | Path, default_args: Mapping[str, Any],
               env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Validated YAML → DAG objects via dag-factory; returns {dag_id: DAG} for the loader file's globals()."""
    from dagfactory.dagfactory import _DagFactory

    config = load_config(config_path, schema_path, env)
    factory = _DagFactory(config_dict=to_dag_factory(config, default_args),
                          defaults_config_dict={"default_args": callbacks_as_paths(default_args)})
    dags = factory.build_dags()
    missing = sorted(set(config["dags"]) - set(dags))
    if missing:  # never let a configured DAG vanish without an import error
        raise FactoryConfigError(config_path, [f"dags.{d}: dag-factory built no DAG" for d in missing])
    return dags


# Callables the YAML refers to by dotted path. Kept tiny and pure; XCom carries their return values.

def extract_records(source: str, count: int = 5) -> list[dict[str, Any]]:
    """Stand-in extraction: deterministic records named after their source."""
    return [{"id": i, "source": source, "amount": float(10 * (i + 1))} for i in range(int(count))]


def transform_records(records: Sequence[Mapping[str, Any]], multiplier: float = 1.0) -> list[dict[str, Any]]:
    if not isinstance(records, list | tuple):
        raise TypeError(f"transform_records expects a list of records, got {type(records).__name__}")
    return [{**r, "amount": round(float(r["amount"]) * float(multiplier), 2)} for r in records]


def load_summary(records: Sequence[Mapping[str, Any]], target: str) -> dict[str, Any]:
    return {"target": target, "rows": len(records), "total": round(sum(float(r["amount"]) for r in records), 2)}


# ---------------------------------------------------------------- Jinja per-environment configs

ENVIRONMENTS = ("dev", "staging", "prod")


def current_environment(env: Mapping[str, str] | None = None) -> str:
    value = (os.environ if env is None else env).get("PLATFORM_ENV", "dev")
    if value not in ENVIRONMENTS:
        raise ValueError(f"PLATFORM_ENV={value!r} is not one of {', '.join(ENVIRONMENTS)}")
    return value


def _jinja_cache_dir() -> Path:
    """A per-user directory for compiled templates (private: compiled templates are code that gets executed)."""
    import tempfile

    directory = Path(tempfile.gettempdir()) / f"dag-jinja-bytecode-{os.getuid()}"
    directory.mkdir(mode=0o700, exist_ok=True)
    if directory.stat().st_uid != os.getuid() or directory.stat().st_mode & 0o077:
        raise PermissionError(f"{directory} must be owned by uid {os.getuid()} and private (mode 700)")
    return directory


def render_environment_config(template_path: str | Path, environment: str,
                              env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Render a Jinja2 YAML template for one environment. StrictUndefined: a typo in the template is an error."""
    import jinja2
    import yaml

    if environment not in ENVIRONMENTS:
        raise ValueError(f"environment {environment!r} is not one of {', '.join(ENVIRONMENTS)}")
    environ = dict(os.environ if env is None else env)

    def env_var(name: str, default: str | None = None) -> str:
        if name in environ:
            return environ[name]
        if default is None:
            raise FactoryConfigError(template_path, [f"env_var({name!r}): environment variable not set and no default"])
        return default

    template_file = Path(template_path)
    jenv = jinja2.Environment(
        loader=jinja2.FileSystemLoader(template_file.parent),
        # The DAG renders this at parse time, in a fresh process per parse: compiling the template costs more than
        # the rest of the file. The cache is keyed by the template's source checksum, so an edit is picked up.
        bytecode_cache=jinja2.FileSystemBytecodeCache(str(_jinja_cache_dir())),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )
    jenv.globals["env_var"] = env_var
    try:
        rendered = jenv.get_template(template_file.name).render(environment=environment)
    except jinja2.UndefinedError as exc:
        raise FactoryConfigError(template_path, [f"template: {exc.message}"]) from exc
    config = yaml.safe_load(rendered)
    for key in ("schedule", "pool", "target_schema", "batch_size", "alert_channel"):
        if key not in config:
            raise FactoryConfigError(template_path, [f"{environment}.{key}: missing after rendering"])
    return config


# ---------------------------------------------------------------- multi-tenant DAGs

@dataclass(frozen=True)
class TenantSpec:
    """One tenant's pipeline: the base pipeline with this tenant's overrides (inheritance by merge)."""

    name: str
    owner: str
    pool: str
    role: str
    schedule: str | None
    steps: tuple[str, ...]
    retries: int
    max_active_runs: int
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def dag_id(self) -> str:
        return f"phase15_03_dynamic_dag_patterns__{self.name}"

    def access_control(self) -> dict[str, dict[str, set[str]]]:
        """Only the tenant's own role may see or run its DAG (plus the platform admins, implicitly)."""
        return {self.role: {"DAGs": {"can_read", "can_edit"}, "DAG Runs": {"can_read", "can_create"}}}


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Deep merge: nested mappings merge, everything else in `override` wins."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def tenant_specs(config: Mapping[str, Any]) -> dict[str, TenantSpec]:
    base = config["base_pipeline"]
    specs = {}
    pools: dict[str, str] = {}
    for name, override in config["tenants"].items():
        merged = merge(base, override)
        spec = TenantSpec(name=name, owner=merged["owner"], pool=merged["pool"], role=merged["role"],
                          schedule=merged.get("schedule"), steps=tuple(merged["steps"]), retries=int(merged["retries"]),
                          max_active_runs=int(merged["max_active_runs"]), params=dict(merged.get("params", {})))
        if spec.pool in pools:  # a shared pool would let one tenant starve another
            raise FactoryConfigError("tenants", [f"tenants.{name}.pool: {spec.pool!r} already used by tenant {pools[spec.pool]!r}"])
        pools[spec.pool] = name
        specs[name] = spec
    return specs


def resolve_tenant(name: str, specs: Mapping[str, TenantSpec]) -> TenantSpec:
    if name not in specs:
        raise UnknownTenantError(name, list(specs))
    return specs[name]


def tenant_step_payload(tenant: str, step: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """What one parameterised step does for a tenant; the tenant id is stamped on every output (isolation check)."""
    return {"tenant": tenant, "step": step, "source": params.get("source", f"s3://tenants/{tenant}/in/"),
            "target": params.get("target", f"s3://tenants/{tenant}/out/")}


def assert_tenant_isolation(payloads: Sequence[Mapping[str, Any]], tenant: str) -> None:
    """Every path a tenant's run touches must live under that tenant's prefix."""
    for p in payloads:
        for key in ("source", "target"):
            if f"/{tenant}/" not in str(p[key]):
                raise PermissionError(f"tenant {tenant!r} step {p['step']!r} {key} {p[key]!r} is outside its prefix")
