"""common.file_arrival: landing names, readiness (complete files only) and atomic writes."""

from __future__ import annotations

import pytest

from common.file_arrival import (
    count_data_lines,
    enough_files_arrived,
    landing_file_name,
    ready_files,
    write_atomically,
)


def test_landing_file_name_and_rejects_path_escapes():
    assert landing_file_name("orders", "20260101") == "orders_20260101.csv"
    for bad in ("../etc", "", ".hidden", "a/b"):
        with pytest.raises(ValueError, match="dataset"):
            landing_file_name(bad, "20260101")


def test_only_complete_non_empty_files_count(tmp_path):
    (tmp_path / "a.csv").write_text("id\n1\n")
    (tmp_path / "b.csv.part").write_text("id\n")  # still being written
    (tmp_path / "c.csv").write_text("")  # empty
    (tmp_path / "d.txt").write_text("x")
    assert [p.name for p in ready_files(tmp_path, "*.csv")] == ["a.csv"]
    assert enough_files_arrived(tmp_path, 1, "*.csv")
    assert not enough_files_arrived(tmp_path, 2, "*.csv")
    assert ready_files(tmp_path / "absent") == []
    with pytest.raises(ValueError, match="at least 1"):
        enough_files_arrived(tmp_path, 0)


def test_write_atomically_leaves_no_partial_file(tmp_path):
    target = write_atomically(tmp_path / "sub" / "orders.csv", "id,amount\n1,2\n3,4\n")
    assert target.read_text() == "id,amount\n1,2\n3,4\n"
    assert list(target.parent.iterdir()) == [target]
    assert count_data_lines(target) == 2
