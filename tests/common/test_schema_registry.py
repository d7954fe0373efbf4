"""common.schema_registry: versions, BACKWARD/FORWARD/FULL rules, validation, upcasting and record routing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from common.schema_registry import (
    SchemaCompatibilityError,
    SchemaError,
    SchemaRegistry,
    compatibility_violations,
    route_records,
)
from common.synthetic import versioned_orders

SCHEMAS = Path(__file__).resolve().parents[2] / "dags" / "phase10" / "schemas"
BASE = {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}}


def _with(**changes) -> dict:
    schema = json.loads(json.dumps(BASE))
    for key, value in changes.items():
        schema[key] = value
    return schema


def test_the_shipped_orders_versions_are_fully_compatible() -> None:
    registry = SchemaRegistry.from_directory(SCHEMAS, "FULL")
    assert registry.versions("orders") == [1, 2, 3]
    assert registry.latest_version("orders") == 3


def test_adding_a_required_field_without_default_breaks_backward_only() -> None:
    new = _with(required=["id", "email"], properties={**BASE["properties"], "email": {"type": "string"}})
    assert compatibility_violations(BASE, new, "FORWARD") == []
    assert compatibility_violations(BASE, new, "BACKWARD") == [
        "backward: field 'email' is required by the reader but optional or absent in the writer"
    ]
    with_default = _with(properties={**BASE["properties"], "email": {"type": "string", "default": ""}},
                         required=["id", "email"])
    assert compatibility_violations(BASE, with_default, "BACKWARD") == []


def test_removing_a_required_field_breaks_forward_only() -> None:
    new = _with(required=[], properties={"name": {"type": "string"}})
    assert compatibility_violations(BASE, new, "BACKWARD") == []
    assert compatibility_violations(BASE, new, "FORWARD") == [
        "forward: field 'id' is required by the reader but optional or absent in the writer"
    ]


def test_type_changes_and_closed_schemas() -> None:
    widened = _with(properties={**BASE["properties"], "id": {"type": "number"}})
    assert compatibility_violations(BASE, widened, "BACKWARD") == []  # integer data is a number
    assert compatibility_violations(BASE, widened, "FORWARD")  # old readers reject 1.5
    closed_old = _with(additionalProperties=False)
    new = _with(properties={**BASE["properties"], "extra": {"type": "string"}})
    assert compatibility_violations(closed_old, new, "FORWARD") == [
        "forward: field 'extra' is written but the reader forbids additional properties"
    ]


def test_register_refuses_incompatible_versions_gaps_and_invalid_schemas() -> None:
    registry = SchemaRegistry(compatibility="FULL")
    assert registry.register("s", BASE) == 1
    with pytest.raises(SchemaCompatibilityError, match="schema s v2 is not FULL-compatible"):
        registry.register("s", _with(properties={"id": {"type": "string"}}))
    with pytest.raises(SchemaError, match="expected version 2, got 5"):
        registry.register("s", BASE, version=5)
    with pytest.raises(SchemaError, match="invalid JSON Schema"):
        registry.register("s", {"type": "object", "properties": {"id": {"type": "integr"}}})
    with pytest.raises(SchemaError, match="unknown compatibility mode"):
        compatibility_violations(BASE, BASE, "SIDEWAYS")  # type: ignore[arg-type]


def test_unknown_subject_and_version_name_what_exists() -> None:
    registry = SchemaRegistry.from_directory(SCHEMAS)
    with pytest.raises(SchemaError, match=r"schema orders has no version 7; known versions: \[1, 2, 3\]"):
        registry.get("orders", 7)
    with pytest.raises(SchemaError, match="unknown schema subject 'users'"):
        registry.get("users")


def test_directory_errors(tmp_path) -> None:
    with pytest.raises(SchemaError, match="does not exist"):
        SchemaRegistry.from_directory(tmp_path / "nope")
    (tmp_path / "orders").mkdir()
    (tmp_path / "orders" / "latest.json").write_text("{}")
    with pytest.raises(SchemaError, match=r"must be named v<N>\.json"):
        SchemaRegistry.from_directory(tmp_path)


def test_routing_validates_against_the_declared_version_and_upcasts_to_latest() -> None:
    registry = SchemaRegistry.from_directory(SCHEMAS, "FULL")
    records = versioned_orders(9, seed=3, invalid=2)
    valid, invalid = route_records(registry, "orders", records)
    assert len(valid) == 7 and len(invalid) == 2
    assert all(r["schema_version"] == 3 and "currency" in r and "channel" in r for r in valid)
    v1 = next(r for r in valid if r["order_id"] == records[0]["order_id"])
    assert v1["currency"] == "EUR" and v1["channel"] == "unknown"  # defaults of v2 and v3
    assert "is not of type 'number'" in invalid[0]["_errors"][0]
    assert "has no version 99" in invalid[1]["_errors"][0]
    assert route_records(registry, "orders", [{"order_id": 1}])[1][0]["_errors"] == [
        "schema_version: missing or not an integer (None)"
    ]
