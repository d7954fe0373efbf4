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


def test_write_quarantine_appends_json_lines_with_a_safe_name(tmp_path):
    path = write_quarantine(tmp_path, "manual__2026-01-01T00:00:00+00:00", [{"record": {"x": 1}, "reasons": ["bad"]}])
    write_quarantine(tmp_path, "manual__2026-01-01T00:00:00+00:00", [{"record": {"x": 2}, "reasons": ["worse"]}])
    assert path.parent == tmp_path and "/" not in path.name and ":" not in path.name
    assert [json.loads(line)["record"]["x"] for line in path.read_text().splitlines()] == [1, 2]


def test_quarantine_dir_prefers_the_shared_location(monkeypatch, tmp_path):
    monkeypatch.setenv("PLATFORM_QUARANTINE_DIR", str(tmp_path))
    assert quarantine_dir("dag_a") == tmp_path / "dag_a"
