"""Strict schema validation of everything a stack would apply.

Built-in kinds are checked against the Kubernetes OpenAPI schemas that the PyPI package kubernetes-validate
ships, in their strict form (an unknown field is an error, as server-side apply with `--validate=strict`
treats it). Custom resources are checked against every CRD known for their group, version and kind: the CRDs
the charts carry (rendered with `--include-crds`) and the upstream CRDs in `../shared/schemas/`, each made
strict the way the API server prunes (an object schema with properties and no
`x-kubernetes-preserve-unknown-fields` accepts no other field).

Every problem names the stack, the release (or "program"), the kind, the name and the field.
"""

from __future__ import annotations

import copy
import importlib.resources
import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import referencing

from cluster.render import Rendered, load_documents

KUBE_VERSIONS = ("1.33.0", "1.34.0")

Schema = dict[str, Any]


@dataclass(frozen=True)
class Problem:
    obj: Rendered
    field: str
    message: str
    against: str

    def __str__(self) -> str:
        where = f" field {self.field}" if self.field else ""
        return f"{self.obj.label()}:{where}: {self.message} (against {self.against})"


def _field_path(path: Iterable[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# ------------------------------------------------------------------------------------------ built-in kinds
def _schema_dir(version: str) -> str:
    return f"v{version}-local-strict"


@cache
def _schema_files(version: str) -> frozenset[str]:
    root = importlib.resources.files("kubernetes_validate").joinpath("kubernetes-json-schema", _schema_dir(version))
    return frozenset(entry.name for entry in root.iterdir())


def _schema_json(version: str, filename: str) -> Schema:
    root = importlib.resources.files("kubernetes_validate").joinpath("kubernetes-json-schema", _schema_dir(version))
    result: Schema = json.loads(root.joinpath(filename).read_text())
    return result


def builtin_schema_file(api_version: str, kind: str) -> str:
    """kubernetes-validate's file name: rbac.authorization.k8s.io/v1 Role -> role-rbac-v1.json, v1 Pod -> pod-v1.json."""
    group, _, version = api_version.rpartition("/")
    prefix = f"{group.split('.')[0]}-" if group else ""
    return f"{kind.lower()}-{prefix}{version}.json"


@cache
def _definitions(version: str) -> referencing.Registry[Any]:
    """The version's shared definitions, crawled once: an uncrawled registry is crawled again at every $ref."""
    definitions = _schema_json(version, "_definitions.json")
    resource = referencing.Resource.from_contents(definitions, default_specification=referencing.jsonschema.DRAFT202012)
    return referencing.Registry().with_resources([("_definitions.json", resource)]).crawl()


@cache
def _builtin_validator(version: str, filename: str) -> jsonschema.protocols.Validator | None:
    if filename not in _schema_files(version):
        return None
    schema = _schema_json(version, filename)
    registry = _definitions(version)
    validator_class = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return validator_class(schema, registry=registry)  # type: ignore[no-any-return]


def is_builtin(api_version: str, kind: str, version: str = KUBE_VERSIONS[-1]) -> bool:
    return builtin_schema_file(api_version, kind) in _schema_files(version)


# ------------------------------------------------------------------------------------------ custom resources
def strict_crd_schema(schema: Schema) -> Schema:
    """An openAPIV3Schema as a JSON schema that rejects what the API server would prune or refuse."""

    def walk(node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        out = {k: walk(v) if k in ("items", "not", "additionalProperties") else v for k, v in node.items()}
        for key in ("allOf", "anyOf", "oneOf"):
            if key in out:
                out[key] = [walk(x) for x in out[key]]
        if "properties" in out:
            out["properties"] = {k: walk(v) for k, v in out["properties"].items()}
        if out.pop("x-kubernetes-int-or-string", False):
            out.pop("type", None)
            out.pop("anyOf", None)
            out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
        if out.pop("nullable", False) and isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        preserve = out.get("x-kubernetes-preserve-unknown-fields", False)
        if out.get("type") == "object" and "additionalProperties" not in out and not preserve:
            # An object with no properties listed and no preserve flag keeps nothing: any field is unknown.
            out["additionalProperties"] = False
        return out

    strict: Schema = walk(copy.deepcopy(schema))
    props = strict.setdefault("properties", {})
    props.setdefault("apiVersion", {"type": "string"})
    props.setdefault("kind", {"type": "string"})
    props["metadata"] = {"type": "object"}
    return strict


@dataclass(frozen=True)
class CrdSchema:
    source: str
    schema: Schema


class CrdIndex:
    """(group, version, kind) -> the strict schemas of every CRD known for it."""

    def __init__(self) -> None:
        self._schemas: dict[tuple[str, str, str], list[CrdSchema]] = {}
        self._validators: dict[int, jsonschema.protocols.Validator] = {}

    def add(self, crd: dict[str, Any], source: str) -> None:
        spec = crd.get("spec") or {}
        group, kind = spec.get("group"), (spec.get("names") or {}).get("kind")
        for version in spec.get("versions") or []:
            if not version.get("served", True):
                continue
            schema = ((version.get("schema") or {}).get("openAPIV3Schema")) or {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
            self._schemas.setdefault((group, version["name"], kind), []).append(CrdSchema(source, strict_crd_schema(schema)))

    def add_files(self, files: Iterable[Path]) -> None:
        for file in files:
            for doc in load_documents(file.read_text()):
                if doc.get("kind") == "CustomResourceDefinition":
                    self.add(doc, str(file))

    def schemas(self, api_version: str, kind: str) -> list[CrdSchema]:
        group, _, version = api_version.rpartition("/")
        return self._schemas.get((group, version, kind), [])

    def validator(self, crd: CrdSchema) -> jsonschema.protocols.Validator:
        key = id(crd)
        if key not in self._validators:
            self._validators[key] = jsonschema.Draft7Validator(crd.schema)
        return self._validators[key]

    def __len__(self) -> int:
        return len(self._schemas)


def shared_crd_files(shared: Path) -> list[Path]:
    """The upstream CRDs kept in ../shared/schemas (Strimzi, CloudNativePG, prometheus-operator, KEDA)."""
    files = []
    for file in sorted((shared / "schemas").rglob("*.yaml")):
        try:
            head = file.read_text()[:4000]
        except UnicodeDecodeError:
            continue
        if "kind: CustomResourceDefinition" in head:
            files.append(file)
    return files


# ------------------------------------------------------------------------------------------ validation
def validate_object(obj: Rendered, crds: CrdIndex, versions: Iterable[str] = KUBE_VERSIONS) -> list[Problem]:
    api_version, kind = obj.api_version, obj.kind
    if not api_version or not kind:
        return [Problem(obj, "", "apiVersion and kind are required", "the Kubernetes object model")]
    problems: list[Problem] = []
    filename = builtin_schema_file(api_version, kind)
    checked = False
    for version in versions:
        validator = _builtin_validator(version, filename)
        if validator is None:
            continue
        checked = True
        for error in validator.iter_errors(obj.manifest):
            problems.append(Problem(obj, _field_path(error.absolute_path), _message(error), f"Kubernetes {version} OpenAPI (strict)"))
    for crd in crds.schemas(api_version, kind):
        checked = True
        for error in crds.validator(crd).iter_errors(obj.manifest):
            problems.append(Problem(obj, _field_path(error.absolute_path), _message(error), f"CRD from {crd.source}"))
    if not checked:
        problems.append(Problem(obj, "", f"no schema for {api_version} {kind}: not a Kubernetes {'/'.join(versions)} kind and no CRD defines it", "all known schemas"))
    return _unique(problems)


def _message(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set((error.schema or {}).get("properties", {}))
        unknown = sorted(k for k in error.instance if k not in allowed)
        return f"unknown field(s) {', '.join(unknown)}"
    text = error.message
    return text if len(text) < 300 else text[:297] + "..."


def _unique(problems: list[Problem]) -> list[Problem]:
    seen: set[tuple[str, str, str]] = set()
    out = []
    for p in problems:
        key = (p.field, p.message, p.against)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def crd_index_for(objects: Iterable[Rendered], shared: Path | None) -> CrdIndex:
    index = CrdIndex()
    for obj in objects:
        if obj.kind == "CustomResourceDefinition":
            index.add(obj.manifest, f"chart release {obj.origin}")
    if shared is not None:
        index.add_files(shared_crd_files(shared))
    return index


def validate_all(objects: list[Rendered], shared: Path | None, versions: Iterable[str] = KUBE_VERSIONS) -> list[Problem]:
    crds = crd_index_for(objects, shared)
    problems: list[Problem] = []
    for obj in objects:
        problems.extend(validate_object(obj, crds, versions))
    return problems


