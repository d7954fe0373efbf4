"""Every checklist rule has a failing fixture: each tests/checklist/test_*.py names the rules it proves can fail in a
module-level `COVERED` list, and a rule no file covers (say, a new one) fails this suite. A file that claims coverage
must also assert a failure (`not ... .ok`) somewhere."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from checklist import dag_rules

HERE = Path(__file__).resolve().parent


def covered_by_file() -> dict[str, list[str]]:
    """test file name -> the rule items its module-level COVERED list names (read from source, not imported)."""
    found: dict[str, list[str]] = {}
    for path in sorted(HERE.glob("test_*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "COVERED" for t in node.targets):
                found.setdefault(path.name, []).extend(ast.literal_eval(node.value))
    return found


def test_every_rule_has_a_failing_fixture() -> None:
    covered = {item for items in covered_by_file().values() for item in items}
    missing = sorted(item for _, item, _ in dag_rules.RULES if item not in covered)
    assert missing == [], f"rules without a failing fixture in tests/checklist (add one and name it in COVERED): {missing}"


def test_covered_names_are_rules_and_their_files_assert_failures() -> None:
    rules = {item for _, item, _ in dag_rules.RULES}
    for name, items in covered_by_file().items():
        assert set(items) <= rules, f"{name}: COVERED names no rule: {sorted(set(items) - rules)}"
        assert re.search(r"^\s*assert not .*\.ok\b", (HERE / name).read_text(), re.M), f"{name} asserts no failure"


def test_a_rule_without_a_fixture_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dag_rules, "RULES", [*dag_rules.RULES, ("Core Operations", "A rule nobody tests", lambda ctx: None)])
    covered = {item for items in covered_by_file().values() for item in items}
    assert [item for _, item, _ in dag_rules.RULES if item not in covered] == ["A rule nobody tests"]
