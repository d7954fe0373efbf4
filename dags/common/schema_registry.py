"""A file-backed JSON Schema registry: versioned subjects, record validation and compatibility rules for evolution.

Layout: `<root>/<subject>/v<N>.json`, each a JSON Schema (draft 2020-12) object schema. Compatibility follows the
Confluent Schema Registry vocabulary, checked structurally on the object's properties:
- BACKWARD: the new schema can read data written with the old one (consumers upgrade first);
- FORWARD: the old schema can read data written with the new one (producers upgrade first);
- FULL: both.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Compatibility = Literal["NONE", "BACKWARD", "FORWARD", "FULL"]
COMPATIBILITY_MODES: tuple[Compatibility, ...] = ("NONE", "BACKWARD", "FORWARD", "FULL")
_VERSION_FILE = re.compile(r"^v(\d+)\.json$")


class SchemaError(ValueError):
    """Unknown subject/version, an invalid schema document, or a record naming a version that does not exist."""


class SchemaCompatibilityError(SchemaError):
    def __init__(self, subject: str, version: int, mode: Compatibility, violations: list[str]) -> None:
        self.violations = violations
        super().__init__(
            f"schema {subject} v{version} is not {mode}-compatible with its predecessor: " + "; ".join(violations)
        )


def _types(prop: Mapping[str, Any]) -> set[str]:
    declared = prop.get("type")
    if declared is None:
        return {"any"}
    types = {declared} if isinstance(declared, str) else set(declared)
    if "number" in types:  # JSON Schema: every integer is a number
        types.add("integer")
    return types


def reader_violations(reader: Mapping[str, Any], writer: Mapping[str, Any]) -> list[str]:
    """Why data valid under `writer` could be rejected by `reader` (empty list = reader can read it)."""
    problems: list[str] = []
    r_props: Mapping[str, Any] = reader.get("properties", {})
    w_props: Mapping[str, Any] = writer.get("properties", {})
    w_required = set(writer.get("required", []))
    for name in reader.get("required", []):
        if name not in w_required and "default" not in r_props.get(name, {}):
            problems.append(f"field {name!r} is required by the reader but optional or absent in the writer")
    for name, r_prop in r_props.items():
        if name not in w_props:
            continue
        r_types, w_types = _types(r_prop), _types(w_props[name])
        if "any" not in r_types and not w_types <= r_types:
            problems.append(f"field {name!r} type {sorted(w_types)} is not accepted by reader type {sorted(r_types)}")
        if "enum" in r_prop:
            extra = set(map(json.dumps, w_props[name].get("enum", []))) - set(map(json.dumps, r_prop["enum"]))
            if "enum" not in w_props[name] or extra:
                problems.append(f"field {name!r} enum was narrowed; writer may send {sorted(extra) or 'any value'}")
    if reader.get("additionalProperties") is False:
        for name in sorted(set(w_props) - set(r_props)):
            problems.append(f"field {name!r} is written but the reader forbids additional properties")
    return problems


def compatibility_violations(old: Mapping[str, Any], new: Mapping[str, Any], mode: Compatibility) -> list[str]:
    if mode not in COMPATIBILITY_MODES:
        raise SchemaError(f"unknown compatibility mode {mode!r}; use one of {COMPATIBILITY_MODES}")
    problems: list[str] = []
    if mode in ("BACKWARD", "FULL"):
        problems += [f"backward: {p}" for p in reader_violations(reader=new, writer=old)]
    if mode in ("FORWARD", "FULL"):
        problems += [f"forward: {p}" for p in reader_violations(reader=old, writer=new)]
    return problems


@dataclass
class SchemaRegistry:
    compatibility: Compatibility = "BACKWARD"
    subjects: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)

    @classmethod
    def from_directory(cls, root: str | Path, compatibility: Compatibility = "BACKWARD") -> SchemaRegistry:
        """Load every `<subject>/v<N>.json`, registering versions in order so each one is compatibility-checked."""
        registry = cls(compatibility=compatibility)
        base = Path(root)
        if not base.is_dir():
            raise SchemaError(f"schema registry directory {base} does not exist")
        for subject_dir in sorted(p for p in base.iterdir() if p.is_dir()):
            versions: dict[int, Path] = {}
            for file in subject_dir.iterdir():
                match = _VERSION_FILE.match(file.name)
                if not match:
                    raise SchemaError(f"{file}: schema files must be named v<N>.json")
                versions[int(match.group(1))] = file
            for version in sorted(versions):
                try:
                    document = json.loads(versions[version].read_text(encoding="utf-8"))
                except json.JSONDecodeError as exc:
                    raise SchemaError(f"{versions[version]}: not valid JSON ({exc})") from exc
                registry.register(subject_dir.name, document, version=version)
        return registry

    def register(self, subject: str, schema: Mapping[str, Any], version: int | None = None) -> int:
        """Add the next version of `subject`; refuses a gap in numbering, an invalid schema or a compatibility break."""
        from jsonschema import Draft202012Validator
        from jsonschema.exceptions import SchemaError as JsonSchemaError

        try:
            Draft202012Validator.check_schema(schema)
        except JsonSchemaError as exc:
            raise SchemaError(f"schema {subject}: invalid JSON Schema: {exc.message}") from exc
        if schema.get("type") != "object":
            raise SchemaError(f"schema {subject}: top-level type must be 'object'")
        existing = self.subjects.setdefault(subject, {})
        expected = max(existing, default=0) + 1
        version = expected if version is None else version
        if version != expected:
            raise SchemaError(f"schema {subject}: expected version {expected}, got {version}")
        if existing:
            violations = compatibility_violations(existing[expected - 1], schema, self.compatibility)
            if violations:
                raise SchemaCompatibilityError(subject, version, self.compatibility, violations)
        existing[version] = dict(schema)
        return version

    def versions(self, subject: str) -> list[int]:
        if subject not in self.subjects:
            raise SchemaError(f"unknown schema subject {subject!r}; known: {sorted(self.subjects)}")
        return sorted(self.subjects[subject])

    def latest_version(self, subject: str) -> int:
        return self.versions(subject)[-1]

    def get(self, subject: str, version: int | None = None) -> dict[str, Any]:
        known = self.versions(subject)
        version = known[-1] if version is None else version
        if version not in self.subjects[subject]:
            raise SchemaError(f"schema {subject} has no version {version}; known versions: {known}")
        return self.subjects[subject][version]

    def validate(self, subject: str, record: Mapping[str, Any], version: int | None = None) -> list[str]:
        """Every validation error for `record`, as `path: message` strings (empty = valid)."""
        from jsonschema import Draft202012Validator

        validator = Draft202012Validator(self.get(subject, version))
        return [
            f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in sorted(validator.iter_errors(record), key=lambda e: list(map(str, e.absolute_path)))
        ]

    def upcast(self, subject: str, record: Mapping[str, Any], to_version: int | None = None) -> dict[str, Any]:
        """Read an older record with a newer schema: fill fields the new schema adds with their defaults."""
        target = self.get(subject, to_version)
        out = dict(record)
        for name, prop in target.get("properties", {}).items():
            if name not in out and "default" in prop:
                out[name] = prop["default"]
        return out


def route_records(
    registry: SchemaRegistry, subject: str, records: list[Mapping[str, Any]], version_field: str = "schema_version"
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(valid records upcast to the latest version, invalid records with `_errors`) — nothing is dropped.

    Each record is validated against the version it declares (its writer schema), then read with the latest.
    """
    valid: list[dict[str, Any]] = []
    invalid: list[dict[str, Any]] = []
    latest = registry.latest_version(subject)
    for record in records:
        declared = record.get(version_field)
        if not isinstance(declared, int):
            invalid.append({**record, "_errors": [f"{version_field}: missing or not an integer ({declared!r})"]})
            continue
        try:
            errors = registry.validate(subject, record, declared)
        except SchemaError as exc:
            errors = [str(exc)]
        if errors:
            invalid.append({**record, "_errors": errors})
        else:
            valid.append({**registry.upcast(subject, record, latest), version_field: latest})
    return valid, invalid
