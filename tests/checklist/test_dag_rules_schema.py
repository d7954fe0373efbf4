"""checklist.dag_rules "Schema versioning for data contracts": judged by loading the registry and trying a breaking
version, with a registry that accepts anything as the failing fixture."""

from __future__ import annotations

from types import SimpleNamespace

from checklist import dag_rules
from common.schema_registry import SchemaRegistry

COVERED = ["Schema versioning for data contracts"]


def _rule() -> dag_rules.Rule:
    return next(run for _, item, run in dag_rules.RULES if item == "Schema versioning for data contracts")


def test_the_stored_schemas_are_versioned_and_a_breaking_version_is_refused() -> None:
    result = _rule()(dag_rules.Context(SimpleNamespace(dags={"phase10_02_schema_validation": object()}), {}))
    assert result.ok, result.evidence
    assert any(e.startswith("orders: v1, v2, v3 loaded; a breaking next version refused") for e in result.evidence)


def test_a_registry_that_accepts_a_breaking_version_fails_the_rule() -> None:
    class Permissive(SchemaRegistry):
        def register(self, subject, schema, version=None):  # noqa: ANN001, ANN202 - no compatibility check at all
            existing = self.subjects.setdefault(subject, {})
            version = version or max(existing, default=0) + 1
            existing[version] = dict(schema)
            return version

    registry = Permissive.from_directory(dag_rules.SCHEMAS_DIR)
    _, problems = dag_rules.schema_versioning_problems(registry)
    assert problems == ["orders: a breaking v4 (new required field) was accepted"]


def test_a_single_version_or_a_missing_dag_fails_the_rule(tmp_path) -> None:
    (tmp_path / "events").mkdir()
    (tmp_path / "events" / "v1.json").write_text('{"type": "object", "properties": {"id": {"type": "string"}}}')
    _, problems = dag_rules.schema_versioning_problems(SchemaRegistry.from_directory(tmp_path))
    assert problems == ["events: only one version, nothing is versioned"]
    assert not _rule()(dag_rules.Context(SimpleNamespace(dags={}), {})).ok
