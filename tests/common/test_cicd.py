"""common.cicd: ruff lint, DagBag validation, immutable releases with an atomic switch, smoke tests, gate, rollback."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from common.cicd import (
    StageFailed,
    bundle_digest,
    current_release,
    deploy,
    lint,
    promotion_gate,
    rollback,
    smoke_test,
    validate_bundle,
)

GOOD_DAG = textwrap.dedent('''
    """A tiny DAG used as a deployable bundle."""
    from datetime import datetime

    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.sdk import DAG

    with DAG(
        dag_id="cicd_probe",
        schedule=None,
        start_date=datetime(2026, 1, 1),
        default_args={"owner": "qa", "retries": 1},
        tags=["test"],
    ):
        EmptyOperator(task_id="noop")
''').lstrip()


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    folder = tmp_path / "bundle"
    folder.mkdir()
    (folder / "probe.py").write_text(GOOD_DAG)
    return folder


def test_lint_uses_ruff_and_reports_findings(bundle: Path) -> None:
    assert lint([bundle]) == []
    (bundle / "bad.py").write_text("import os\n")
    findings = lint([bundle])
    assert [(Path(f["file"]).name, f["code"]) for f in findings] == [("bad.py", "F401")]


def test_validate_finds_dags_import_errors_and_policy_violations(bundle: Path, airflow_db: str) -> None:
    assert validate_bundle(bundle) == {"dag_ids": ["cicd_probe"], "import_errors": {}, "policy_violations": {}}
    (bundle / "broken.py").write_text("from airflow.sdk import DAG\nraise RuntimeError('cannot import')\n")
    (bundle / "untagged.py").write_text(GOOD_DAG.replace("cicd_probe", "untagged").replace('tags=["test"],', ""))
    result = validate_bundle(bundle)
    assert any("cannot import" in error for error in result["import_errors"].values())
    assert result["policy_violations"] == {"untagged": ["no tags"]}


def test_deploy_is_immutable_and_switches_atomically_then_rolls_back(bundle: Path, tmp_path: Path) -> None:
    root = tmp_path / "deployments"
    first = deploy(bundle, root, "staging", "v1")
    assert first["previous"] is None and current_release(root, "staging") == "v1"
    assert (root / "staging" / "current" / "probe.py").read_text() == GOOD_DAG
    (bundle / "probe.py").write_text(GOOD_DAG + "# v2\n")
    second = deploy(bundle, root, "staging", "v2")
    assert second["previous"] == os.path.join("releases", "v1") and current_release(root, "staging") == "v2"
    with pytest.raises(StageFailed, match="release v1 already exists with different content"):
        deploy(bundle, root, "staging", "v1")
    assert rollback(root, "staging", "v1") == "v1" and current_release(root, "staging") == "v1"
    with pytest.raises(StageFailed, match="no release v9"):
        rollback(root, "staging", "v9")
    with pytest.raises(StageFailed, match="unknown environment"):
        deploy(bundle, root, "qa", "v1")
    assert set(bundle_digest(root / "staging" / "releases" / "v2")) == {"probe.py", "MANIFEST.json"}


def test_smoke_test_reads_what_is_live(bundle: Path, tmp_path: Path, airflow_db: str) -> None:
    root = tmp_path / "deployments"
    with pytest.raises(StageFailed, match="nothing deployed"):
        smoke_test(root, "production", ["cicd_probe"])
    deploy(bundle, root, "production", "v1")
    assert smoke_test(root, "production", ["cicd_probe"])["dag_ids"] == ["cicd_probe"]
    with pytest.raises(StageFailed, match=r"missing DAGs \['other'\]"):
        smoke_test(root, "production", ["cicd_probe", "other"])


def test_promotion_gate_lists_every_reason() -> None:
    clean = {"lint": {"findings": []}, "test": {"passed": 4, "failed": 0, "meets_threshold": True},
             "validate": {"import_errors": {}, "policy_violations": {}}, "smoke_staging": {"dag_ids": ["a"]}}
    assert promotion_gate(clean) == {"promote": True}
    dirty = {"lint": {"findings": [{}]}, "test": {"passed": 4, "failed": 0, "meets_threshold": False},
             "validate": {"import_errors": {"x.py": "boom"}, "policy_violations": {}}, "smoke_staging": {}}
    with pytest.raises(StageFailed, match=r"1 lint finding\(s\); tests did not pass at the coverage threshold; "
                                          r"import errors in \['x.py'\]; staging smoke test did not pass"):
        promotion_gate(dirty)
