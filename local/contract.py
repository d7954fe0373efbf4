"""The dependency contract: load and validate every dags/phaseN/needs.yaml and aggregate what the platform must provide
(docs/team-contract.md). Reading only: the connections built from it live in local/connections.py, so the services
that read the contract (buckets, pools) and the connections that read the services form no cycle."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local import paths

SCHEMA = paths.REPO / "contract" / "needs.schema.json"
DAGS = paths.REPO / "dags"


class ContractError(ValueError):
    """A needs.yaml is malformed or two DAGs declare the same thing differently; the message names file and key."""


@dataclass
class Needs:
    """Everything the manifests ask for, merged; `sources` says which dag declared each connection."""

    dags: dict[str, dict[str, Any]] = field(default_factory=dict)
    connections: dict[str, dict[str, Any]] = field(default_factory=dict)
    variables: dict[str, Any] = field(default_factory=dict)
    pools: dict[str, dict[str, Any]] = field(default_factory=dict)
    topics: dict[str, dict[str, Any]] = field(default_factory=dict)
    buckets: set[str] = field(default_factory=set)
    databases: set[str] = field(default_factory=set)
    services: set[str] = field(default_factory=set)
    roles: dict[str, list[str]] = field(default_factory=dict)  # FAB role → the DAGs whose access_control names it
    sources: dict[str, str] = field(default_factory=dict)


def manifest_files(dags_dir: Path = DAGS) -> list[Path]:
    """Each phase's manifest, in phase order (phase2 before phase10), as the TypeScript reader reads them."""
    return sorted(dags_dir.glob("phase*/needs.yaml"), key=lambda path: int(path.parent.name.removeprefix("phase") or 0))


def _location(path: list[Any]) -> str:
    """ "manifest root", "dag <id>" or "dag <id>, field <a.b.c>": the same words as components/values/contract.ts."""
    if not path:
        return "manifest root"
    dag_id, *field = (str(part) for part in path)
    return f"dag {dag_id}" + (f", field {'.'.join(field)}" if field else "")


def _schema_problems(error: Any) -> list[str]:
    """One jsonschema error in the contract's own words, identical to the TypeScript reader's (contract/golden/)."""
    at, keyword, instance = list(error.absolute_path), error.validator, error.instance
    if keyword == "required":
        return [f"{_location(at)}: missing required field '{name}'" for name in error.validator_value if name not in instance]
    if keyword == "additionalProperties":
        known = set(error.schema.get("properties", {}))
        return [f"{_location(at)}: unknown field '{name}'" for name in instance if name not in known]
    if keyword == "enum":
        return [f"{_location(at)}: must be one of {', '.join(sorted(map(str, error.validator_value)))}"]
    if keyword == "type":
        expected = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        return [f"{_location(at)}: must be {' or '.join(expected)}"]
    if keyword == "minimum":
        return [f"{_location(at)}: must be >= {error.validator_value}"]
    if keyword == "uniqueItems":
        return [f"{_location(at)}: must not repeat an item"]
    if keyword == "pattern":
        if not at:  # propertyNames: the root's keys are dag ids, checked one by one
            return [f"manifest root: dag id '{instance}' must look like phaseN_NN_name"]
        return [f"{_location(at)}: must match {error.validator_value}"]
    return [f"{_location(at)}: fails {keyword}"]


def cross_field_problems(document: dict[str, Any]) -> list[str]:
    """Rules the schema can't say, shared word for word with components/values/contract.ts."""
    return [
        f"dag {dag_id}, field connections.{conn_id}.service: '{conn['service']}' is not one of the dag's services"
        for dag_id, needs in document.items()
        for conn_id, conn in needs["connections"].items()
        if conn["service"] not in needs["services"]
    ]


def validate(document: Any, where: str) -> dict[str, Any]:
    """Every problem of one parsed manifest, each naming the file, the DAG and the field."""
    import jsonschema

    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    problems = sorted({problem for error in validator.iter_errors(document) for problem in _schema_problems(error)})
    if problems:
        raise ContractError(f"{where}: {'; '.join(problems)}")
    problems = sorted(cross_field_problems(document))
    if problems:
        raise ContractError(f"{where}: {'; '.join(problems)}")
    return document


def _without_description(value: Any) -> Any:
    """Each DAG may describe why it uses a shared connection; only the rest must agree."""
    return {k: v for k, v in value.items() if k != "description"} if isinstance(value, dict) else value


def _merge(kind: str, key: str, value: Any, target: dict[str, Any], sources: dict[str, str], dag_id: str) -> None:
    source_key = f"{kind}:{key}"
    if key in target and _without_description(target[key]) != _without_description(value):
        raise ContractError(f"{kind} '{key}' is declared differently by {sources[source_key]} and {dag_id}")
    target[key] = value
    sources.setdefault(source_key, dag_id)


def load(files: Iterable[Path] | None = None) -> Needs:
    needs = Needs()
    for path in manifest_files() if files is None else files:
        document = _read_yaml(path)
        validate(document, str(path))
        phase = path.parent.name
        for dag_id, dag_needs in document.items():
            if phase.startswith("phase") and not dag_id.startswith(f"{phase}_"):
                raise ContractError(f"{path}: dag {dag_id} belongs to another phase's manifest")
            if dag_id in needs.dags:
                raise ContractError(f"{path}: dag {dag_id} is declared twice")
            needs.dags[dag_id] = dag_needs
            needs.services.update(dag_needs["services"])
            needs.buckets.update(dag_needs["buckets"])
            needs.databases.update(dag_needs["databases"])
            for conn_id, conn in dag_needs["connections"].items():
                _merge("connection", conn_id, conn, needs.connections, needs.sources, dag_id)
            for name, variable in dag_needs["variables"].items():
                _merge("variable", name, variable["value"], needs.variables, needs.sources, dag_id)
            for name, pool in dag_needs["pools"].items():
                _merge("pool", name, pool, needs.pools, needs.sources, dag_id)
            for topic in dag_needs["topics"]:
                _merge("topic", topic["name"], topic, needs.topics, needs.sources, dag_id)
            for role in dag_needs.get("roles", []):
                needs.roles.setdefault(role, []).append(dag_id)
    needs.roles = {role: sorted(dag_ids) for role, dag_ids in sorted(needs.roles.items())}
    for topic in needs.topics.values():
        source = topic.get("dead_letter_for")
        if source is not None and source not in needs.topics:
            raise ContractError(f"topic '{topic['name']}' is the dead-letter topic of '{source}', which no shipped DAG declares")
    return needs


def _read_yaml(path: Path) -> dict[str, Any]:
    """A manifest; a key twice in one mapping is an error (PyYAML would keep the last one silently, js-yaml refuses)."""
    import yaml

    class _UniqueKeys(yaml.SafeLoader):
        pass

    def _mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
        keys = [loader.construct_object(key, deep=True) for key, _ in node.value]
        repeated = sorted({str(k) for k in keys if keys.count(k) > 1})
        if repeated:
            raise yaml.constructor.ConstructorError(None, None, f"duplicated mapping key {', '.join(repeated)}", node.start_mark)
        return loader.construct_mapping(node, deep=True)

    _UniqueKeys.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
    try:
        return yaml.load(path.read_text(), Loader=_UniqueKeys) or {}  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        raise ContractError(f"{path}: not valid YAML: {error}") from None


def all_buckets() -> set[str]:
    return load().buckets


# Manifest services that are not processes of their own.
NO_PROCESS = {"filesystem"}


def platform_services(services: Iterable[str]) -> list[str]:
    """Manifest service names → `./platform up` names (aliases resolved, process-less ones dropped)."""
    return [s for s in services if s not in NO_PROCESS]
