"""common.cicd: pytest with line coverage of a bundle, manifest-checked promotion, the served bundle."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from common.cicd import (
    StageFailed,
    bundle_sources,
    coverage_report,
    current_release,
    deploy,
    executable_lines,
    promote,
    run_tests_with_coverage,
    served_bundle,
    verify_release,
)

LOGIC = textwrap.dedent('''
    """Two functions; the tests below call only the first."""


    def double(x):
        return 2 * x


    def triple(x):
        y = 3 * x
        return y
''').lstrip()

TESTS = textwrap.dedent('''
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("logic", Path(__file__).parents[1] / "logic.py")
    logic = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(logic)


    def test_double():
        assert logic.double(2) == 4
''').lstrip()


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    folder = tmp_path / "bundle"
    (folder / "tests").mkdir(parents=True)
    (folder / "logic.py").write_text(LOGIC)
    (folder / "tests" / "test_logic.py").write_text(TESTS)
    return folder


def test_sources_exclude_tests_and_executable_lines_come_from_the_code_objects(bundle: Path) -> None:
    assert bundle_sources(bundle) == [(bundle / "logic.py").resolve()]
    # docstring (1), two defs (4, 8), their bodies (5, 9, 10); blank lines carry no code
    assert executable_lines(bundle / "logic.py") == {1, 4, 5, 8, 9, 10}


def test_coverage_report_counts_only_executable_lines(bundle: Path) -> None:
    source = (bundle / "logic.py").resolve()
    report = coverage_report(bundle.resolve(), [source], {str(source): {1, 4, 5, 8, 2, 99}})
    assert report["statements"] == 6 and report["covered"] == 4 and report["percent"] == 66.7
    assert report["files"] == {"logic.py": {"statements": 6, "covered": 4, "missing": [9, 10]}}


def test_pytest_runs_with_measured_coverage_and_the_threshold_can_fail(bundle: Path) -> None:
    result = run_tests_with_coverage(bundle, bundle / "tests", min_percent=60)
    assert (result["passed"], result["failed"], result["percent"]) == (1, 0, 66.7)
    assert result["files"]["logic.py"]["missing"] == [9, 10]  # triple's body never ran
    with pytest.raises(StageFailed, match=r"coverage 66.7% is below the 90.0% threshold"):
        run_tests_with_coverage(bundle, bundle / "tests", min_percent=90.0)
    (bundle / "tests" / "test_more.py").write_text(TESTS.replace("double(2) == 4", "triple(1) == 3")
                                                   .replace("test_double", "test_triple"))
    assert run_tests_with_coverage(bundle, bundle / "tests", min_percent=100)["percent"] == 100.0


def test_a_failing_or_missing_test_fails_the_stage(bundle: Path) -> None:
    (bundle / "tests" / "test_logic.py").write_text(TESTS.replace("== 4", "== 5"))
    with pytest.raises(StageFailed, match=r"0 passed, 1 failed"):
        run_tests_with_coverage(bundle, bundle / "tests", min_percent=0)
    with pytest.raises(StageFailed, match="no tests for the bundle"):
        run_tests_with_coverage(bundle, bundle / "nowhere", min_percent=0)


def test_promote_copies_the_tested_release_checks_its_manifest_and_audits(bundle: Path, tmp_path: Path) -> None:
    root = tmp_path / "envs"
    deploy(bundle, root, "staging", "v1")
    first = promote(root, "staging", "production", "v1", {"approved_by": "alice"})
    assert first["previous"] is None and current_release(root, "production") == "v1"
    assert verify_release(root / "production" / "releases" / "v1") == verify_release(root / "staging" / "releases" / "v1")
    log = [json.loads(line) for line in (root / "production" / "deploys.jsonl").read_text().splitlines()]
    assert log == [{"version": "v1", "previous": None, "from": "staging", "approved_by": "alice"}]
    with pytest.raises(StageFailed, match="never deployed to staging"):
        promote(root, "staging", "production", "v9")
    (bundle / "logic.py").write_text(LOGIC + "# v2\n")
    deploy(bundle, root, "staging", "v2")
    (root / "staging" / "releases" / "v2" / "logic.py").write_text("tampered = True\n")
    with pytest.raises(StageFailed, match=r"v2 differs from its manifest: \['logic.py'\]"):
        promote(root, "staging", "production", "v2")
    assert current_release(root, "production") == "v1"


def test_the_served_bundle_is_the_current_pointer(bundle: Path, tmp_path: Path) -> None:
    root = tmp_path / "envs"
    deploy(bundle, root, "production", "v1")
    served = served_bundle(root, "production")
    assert Path(served.path) == root / "production" / "current"
    assert (Path(served.path) / "logic.py").read_text() == LOGIC
