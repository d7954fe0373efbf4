"""Hostile input to what users hand the platform — the CLI's arguments and the DAG factory's YAML (stack config and
needs.yaml have their own: tests/ts/config-fuzz.test.ts, contract/golden/). Each bad input gets a short error naming
the argument or the field; never a traceback, and `./platform up` with a bad name starts nothing."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "dags" / "phase15" / "configs"


def _cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "local.cli", *argv], cwd=REPO, capture_output=True, text=True,
                          timeout=120, check=False, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO),
                                                         "LOCAL_PLATFORM_HOME": str(REPO / ".local")})


@pytest.mark.parametrize(("argv", "named"), [
    (["up", "nosuch"], "unknown service 'nosuch'"),
    (["up", "postgres", "nosuch"], "unknown service 'nosuch'"),
    (["down", "nosuch"], "unknown service 'nosuch'"),
    (["logs"], "the following arguments are required: service"),
    (["logs", "nosuch"], "unknown service 'nosuch'"),
    (["logs", "kafka", "-n", "abc"], "argument -n/--lines: invalid int value: 'abc'"),
    (["bogus"], "invalid choice: 'bogus'"),
    (["status", "--bogus"], "unrecognized arguments: --bogus"),
    ([], "the following arguments are required: command"),
])
def test_bad_arguments_get_one_line_naming_them(argv: list[str], named: str) -> None:
    result = _cli(*argv)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Traceback" not in output
    assert named in output, output
    error_lines = [line for line in output.splitlines() if named in line]
    assert len(error_lines) == 1


def _nodes(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    here = [(path, value)] if path else []
    if isinstance(value, dict):
        return here + [n for k, v in value.items() for n in _nodes(v, (*path, k))]
    if isinstance(value, list):
        return here + [n for i, v in enumerate(value) for n in _nodes(v, (*path, i))]
    return here


def _field(path: tuple[Any, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _wrong_type(value: Any) -> Any:
    if isinstance(value, bool):
        return "yes"
    if isinstance(value, (int, float)):
        return "not-a-number"
    if isinstance(value, str):
        return 12345
    if isinstance(value, list):
        return {"bogus": 1}
    return ["bogus"]


def _judge(document: dict[str, Any], path: tuple[Any, ...], tmp_path: Path) -> str:
    """"" when the factory refuses the document naming the field (or the object holding it), else what happened."""
    from common.factory import FactoryConfigError, load_config

    target = tmp_path / "dag_definitions.yaml"
    target.write_text(yaml.safe_dump(document, sort_keys=False))
    try:
        load_config(target, CONFIGS / "dag_definitions.schema.json", env={})
    except FactoryConfigError as error:
        names = [_field(path[:n]) for n in range(len(path), 0, -1)]
        named = any(p.startswith(name) for p in error.problems for name in names[:3] if name) or any(
            f"'{path[-1]}'" in p for p in error.problems)  # an unknown key at the root is named inside the message
        multiline = any("\n" in p for p in error.problems)
        return "" if named and not multiline else f"problems {error.problems} don't name {_field(path)}"
    except Exception as error:  # noqa: BLE001 - any other error type is the finding
        return f"{type(error).__name__}: {error}"
    return "accepted"


@pytest.fixture(scope="module")
def factory_config() -> dict[str, Any]:
    return yaml.safe_load((CONFIGS / "dag_definitions.yaml").read_text())


def test_factory_yaml_wrong_types_are_refused_naming_the_field(factory_config: dict[str, Any], tmp_path: Path) -> None:
    findings = {}
    assert len(_nodes(factory_config)) > 30
    for path, value in _nodes(factory_config):
        if path and path[0] == "dags" and len(path) == 2:
            continue  # a DAG's whole entry: covered field by field
        broken = copy.deepcopy(factory_config)
        parent = broken
        for part in path[:-1]:
            parent = parent[part]
        parent[path[-1]] = _wrong_type(value)
        finding = _judge(broken, path, tmp_path)
        if finding and not _free_form(path):
            findings[_field(path)] = finding
    assert findings == {}


def test_factory_yaml_unknown_keys_are_refused_naming_them(factory_config: dict[str, Any], tmp_path: Path) -> None:
    findings = {}
    for path, value in [((), factory_config), *_nodes(factory_config)]:
        if not isinstance(value, dict) or _free_form(path) or (path and path[0] == "dags" and len(path) == 1):
            continue
        broken = copy.deepcopy(factory_config)
        target = broken
        for part in path:
            target = target[part]
        target["bogus_key"] = 1
        finding = _judge(broken, (*path, "bogus_key"), tmp_path)
        if finding:
            findings[_field((*path, "bogus_key")) or "bogus_key"] = finding
    assert findings == {}


def _free_form(path: tuple[Any, ...]) -> bool:
    """Where the schema takes any value on purpose: a task's op_kwargs and the DAG ids under `dags`."""
    return "op_kwargs" in path or path == ("dags",)
