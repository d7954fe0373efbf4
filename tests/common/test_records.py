from __future__ import annotations

import json

from common.records import quarantine_dir, require_fields, split_records, write_quarantine


def test_split_keeps_every_record_either_valid_or_quarantined():
    records = [{"a": 1}, {"a": None}, "junk", {"a": True}]
    split = split_records(records, lambda r: require_fields(r, {"a": int}))
    assert split.valid == [{"a": 1}]
    assert [q["reasons"] for q in split.quarantined] == [
        ["a: missing"],
        ["not an object: str"],
        ["a: expected int, got bool"],
    ]
    assert split.total == len(records)


def test_write_quarantine_writes_json_lines_under_a_safe_name(tmp_path):
    path = write_quarantine([{"record": {"x": 1}, "reasons": ["bad"]}, {"record": {"x": 2}, "reasons": ["worse"]}],
                            tmp_path, "manual__2026-01-01T00:00:00+00:00")
    assert path is not None and path.parent == tmp_path and "/" not in path.name and ":" not in path.name
    assert [json.loads(line)["record"]["x"] for line in path.read_text().splitlines()] == [1, 2]


def test_a_retried_task_replaces_its_batch_file_never_duplicates_it(tmp_path):
    rows = [{"record": {"x": 1}, "reasons": ["bad"]}]
    first = write_quarantine(rows, tmp_path, "run-1")
    second = write_quarantine(rows, tmp_path, "run-1")  # the retry writes the same batch again
    assert first == second and second is not None
    assert second.read_text().splitlines() == [json.dumps(rows[0], sort_keys=True)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run-1.jsonl"], "no partial file left behind"


def test_no_rows_leaves_no_file_and_removes_an_earlier_tries(tmp_path):
    write_quarantine([{"x": 1}], tmp_path, "run-2")
    assert write_quarantine([], tmp_path, "run-2") is None
    assert list(tmp_path.iterdir()) == []


def test_quarantine_dir_prefers_the_shared_location(monkeypatch, tmp_path):
    monkeypatch.setenv("PLATFORM_QUARANTINE_DIR", str(tmp_path))
    assert quarantine_dir("dag_a") == tmp_path / "dag_a"
