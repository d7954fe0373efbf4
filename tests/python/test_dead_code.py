"""No dead code in the platform's Python: every module-level function and class in the library folders is used
somewhere other than its own definition (another file of the repository, its tests or docs included, or a second
mention in its own file). Decorated definitions are registered by their decorator (routes, checklist rules) and count
as used."""

from __future__ import annotations

import ast
import re
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LIBRARY = ["local", "contract", "checklist", "cluster", "dags/common", "bench", "local_settings"]
REFERENCES = [*LIBRARY, "dags", "tests", "scripts", "docs", "components", "config", "offline", "policy", "image", "platform", "README.md"]
TEXT_SUFFIXES = {".py", ".ts", ".sh", ".md", ".yaml", ".yml", ".json", ".cfg", ".toml", ""}
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _texts() -> dict[Path, str]:
    texts: dict[Path, str] = {}
    for entry in REFERENCES:
        root = REPO / entry
        files = [root] if root.is_file() else [f for f in root.rglob("*") if f.is_file() and f.suffix in TEXT_SUFFIXES]
        for file in files:
            if "__pycache__" in file.parts or file.parts[-3:-1] == ("docs", "api"):
                continue
            try:
                texts[file] = file.read_text()
            except (UnicodeDecodeError, OSError):
                continue
    return texts


def unused_definitions(texts: dict[Path, str], library: list[Path], root: Path = REPO) -> list[str]:
    """`path: name` of each undecorated module-level def/class no other text mentions and its own file names once."""
    per_file = {path: Counter(IDENTIFIER.findall(text)) for path, text in texts.items()}
    total: Counter[str] = Counter()
    for counts in per_file.values():
        total.update(counts)
    unused = []
    for path in library:
        for node in ast.parse(path.read_text()).body:
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) or node.decorator_list:
                continue
            if node.name.startswith("__"):
                continue
            own = per_file.get(path, Counter())[node.name]
            if total[node.name] - own == 0 and own <= 1:
                unused.append(f"{path.relative_to(root)}: {node.name}")
    return unused


def test_no_unused_functions_or_classes() -> None:
    library = [f for entry in LIBRARY for f in sorted((REPO / entry).rglob("*.py")) if "__pycache__" not in f.parts]
    assert len(library) > 60
    assert unused_definitions(_texts(), library) == []


def test_the_check_finds_an_unused_function(tmp_path: Path) -> None:
    module = tmp_path / "module.py"
    module.write_text("def used() -> int:\n    return 1\n\n\ndef forgotten() -> int:\n    return used()\n")
    caller = tmp_path / "caller.py"
    caller.write_text("from module import used\n")
    texts = {module: module.read_text(), caller: caller.read_text()}
    assert unused_definitions(texts, [module], root=tmp_path) == ["module.py: forgotten"]
