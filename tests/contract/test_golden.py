"""The Python needs.yaml reader (local/contract.py) against contract/golden/cases.yaml; tests/ts/contract-golden.test.ts
runs the same cases through components/values/contract.ts, so the two readers cannot disagree."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from local.contract import ContractError, load, manifest_files

REPO = Path(__file__).resolve().parents[2]
CASES: list[dict[str, Any]] = yaml.safe_load((REPO / "contract/golden/cases.yaml").read_text())["cases"]


def outcome(manifests: dict[str, str], root: Path) -> Any:
    """What the reader makes of a case: "valid", the error's problems after the file name, or invalid YAML."""
    for phase, text in manifests.items():
        (root / phase).mkdir()
        (root / phase / "needs.yaml").write_text(text)
    try:
        load(manifest_files(root))
    except ContractError as error:
        message = re.sub(r"^.*?needs\.yaml: ", "", str(error))
        return {"invalid_yaml": True} if message.startswith("not valid YAML") else {"problems": message.split("; ")}
    return "valid"


def test_the_golden_file_has_cases_of_every_kind() -> None:
    assert len(CASES) >= 15
    assert len([c for c in CASES if c["expect"] == "valid"]) >= 2
    assert len({c["name"] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_golden_case(case: dict[str, Any], tmp_path: Path) -> None:
    assert outcome(case["manifests"], tmp_path) == case["expect"]
