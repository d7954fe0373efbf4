"""What the DAG code really uses, found two ways, so the dependency manifests can be checked against it.

- Static analysis (`ast`) of each DAG file and of the `common` modules it imports: connection ids passed as
  `*_conn_id=` / `*_config_id=` arguments or defaults, `"conn_id": Param("x")` defaults, `get_connection("x")`, `Connection.get("x")`,
  `Variable.get("x")`, and Jinja `{{ var.value.x }}`, `{{ var.json.x }}`, `{{ conn.x }}` in strings.
- DagBag introspection (`from_dagbag`): pools of tasks, assets of outlets, inlets and asset schedules, and
  connection ids held by operator attributes.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DAGS = REPO / "dags"
DEFAULT_POOL = "default_pool"

_CONN_ARG = re.compile(r"(^|_)(conn_id|config_id)$")
_JINJA_VAR = re.compile(r"var\.(?:value|json)\.([A-Za-z_][A-Za-z0-9_]*)")
_JINJA_CONN = re.compile(r"\bconn\.([A-Za-z_][A-Za-z0-9_]*)\b")


@dataclass
class Usage:
    connections: set[str] = field(default_factory=set)
    variables: set[str] = field(default_factory=set)

    def update(self, other: Usage) -> None:
        self.connections |= other.connections
        self.variables |= other.variables


def _module_constants(tree: ast.Module) -> dict[str, str]:
    """Module-level NAME = "string" assignments, so `conn_id=POSTGRES_CONN` resolves."""
    constants: dict[str, str] = {}
    for node in tree.body:
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            for target in targets:
                if isinstance(target, ast.Name):
                    constants[target.id] = value.value
    return constants


def _string(node: ast.AST | None, constants: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    return None


def _call_name(func: ast.expr) -> tuple[str | None, str | None]:
    """(receiver, method) of a call such as Variable.get → ("Variable", "get")."""
    if isinstance(func, ast.Attribute):
        receiver = func.value
        name = receiver.id if isinstance(receiver, ast.Name) else receiver.attr if isinstance(receiver, ast.Attribute) else None
        return name, func.attr
    if isinstance(func, ast.Name):
        return None, func.id
    return None, None


def analyse_source(source: str) -> Usage:
    tree = ast.parse(source)
    constants = _module_constants(tree)
    usage = Usage()
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg and _CONN_ARG.search(node.arg):
            if (value := _string(node.value, constants)) is not None:
                usage.connections.add(value)
        elif isinstance(node, ast.arguments):
            positional = node.posonlyargs + node.args
            for arg, default in zip(positional[len(positional) - len(node.defaults):], node.defaults, strict=True):
                if _CONN_ARG.search(arg.arg) and (value := _string(default, constants)) is not None:
                    usage.connections.add(value)
            for arg, default in zip(node.kwonlyargs, node.kw_defaults, strict=True):
                if default is not None and _CONN_ARG.search(arg.arg) and (value := _string(default, constants)) is not None:
                    usage.connections.add(value)
        elif isinstance(node, ast.Call):
            receiver, method = _call_name(node.func)
            first = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg in ("key", "conn_id")), None)
            name = _string(first, constants)
            if name is None:
                continue
            if method in ("get_connection", "get_connection_from_secrets") or (receiver == "Connection" and method == "get"):
                usage.connections.add(name)
            elif receiver == "Variable" and method in ("get", "set"):
                usage.variables.add(name)
        elif isinstance(node, ast.Dict):
            # params={"conn_id": Param("x", ...)}: a run uses connection x unless its conf names another
            for key, value in zip(node.keys, node.values, strict=True):
                if (isinstance(key, ast.Constant) and isinstance(key.value, str) and _CONN_ARG.search(key.value)
                        and isinstance(value, ast.Call) and _call_name(value.func)[1] == "Param" and value.args
                        and (default := _string(value.args[0], constants)) is not None):
                    usage.connections.add(default)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "{{" in node.value:
            usage.variables.update(_JINJA_VAR.findall(node.value))
            usage.connections.update(_JINJA_CONN.findall(node.value))
    return usage


def common_imports(source: str) -> set[str]:
    """Names of `common.<module>` modules a source imports."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and (node.module == "common" or node.module.startswith("common.")):
            if node.module == "common":
                modules.update(f"common.{alias.name}" for alias in node.names)
            else:
                modules.add(node.module)
        elif isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names if alias.name.startswith("common."))
    return modules


def _module_path(module: str, dags: Path) -> Path | None:
    path = dags.joinpath(*module.split(".")).with_suffix(".py")
    if path.exists():
        return path
    package = dags.joinpath(*module.split("."), "__init__.py")
    return package if package.exists() else None


def transitive_common_modules(path: Path, dags: Path = DAGS) -> list[Path]:
    """Every common module a file imports, directly or through other common modules."""
    seen: dict[str, Path] = {}
    pending = list(common_imports(path.read_text()))
    while pending:
        module = pending.pop()
        if module in seen or (module_path := _module_path(module, dags)) is None:
            continue
        seen[module] = module_path
        pending.extend(common_imports(module_path.read_text()))
    return sorted(seen.values())


def file_usage(path: Path) -> Usage:
    """What one DAG file uses by itself."""
    return analyse_source(path.read_text())


def reachable_usage(path: Path, dags: Path = DAGS) -> Usage:
    """What a DAG file and all the common code it imports can use."""
    usage = file_usage(path)
    for module in transitive_common_modules(path, dags):
        usage.update(analyse_source(module.read_text()))
    return usage


# ---------------------------------------------------------------------------------------- DagBag introspection
def _asset_uris(obj: Any) -> set[str]:
    """URIs of Assets inside an outlet/inlet list or an asset schedule expression (AssetAll/AssetAny trees)."""
    uris: set[str] = set()
    if obj is None:
        return uris
    uri = getattr(obj, "uri", None)
    if isinstance(uri, str) and type(obj).__name__ in ("Asset", "Model", "Dataset"):
        uris.add(uri)
        return uris
    children = getattr(obj, "objects", None)
    if children is not None:
        for child in children:
            uris |= _asset_uris(child)
        return uris
    if isinstance(obj, (list, tuple, set)):
        for child in obj:
            uris |= _asset_uris(child)
    return uris


@dataclass
class DagUsage:
    pools: set[str] = field(default_factory=set)
    produces: set[str] = field(default_factory=set)
    consumes: set[str] = field(default_factory=set)
    connections: set[str] = field(default_factory=set)
    roles: set[str] = field(default_factory=set)  # FAB roles the DAG's access_control names


def from_dag(dag: Any) -> DagUsage:
    found = DagUsage()
    timetable = getattr(dag, "timetable", None)
    found.consumes |= _asset_uris(getattr(timetable, "asset_condition", None))
    found.roles |= set(getattr(dag, "access_control", None) or {})
    for task in dag.tasks:
        if task.pool and task.pool != DEFAULT_POOL:
            found.pools.add(task.pool)
        found.produces |= _asset_uris(list(getattr(task, "outlets", None) or []))
        found.consumes |= _asset_uris(list(getattr(task, "inlets", None) or []))
        for attribute, value in vars(task).items():
            if _CONN_ARG.search(attribute) and isinstance(value, str) and value and "{{" not in value:
                found.connections.add(value)
    return found
