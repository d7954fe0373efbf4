"""After a crash: pid files left behind, pids reused by other processes, a service killed with SIGKILL. The harness
recovers on the next `up`, and never signals a process it did not start."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from local import proc


def _spec(name: str) -> proc.ProcSpec:
    return proc.ProcSpec(name=name, argv=["sleep", "300"], stop_timeout=2.0)


@pytest.fixture
def private_run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Pid and log files of these tests' own processes, away from the running platform's."""
    from local import paths

    monkeypatch.setattr(paths, "RUN", tmp_path / "run")
    monkeypatch.setattr(paths, "LOGS", tmp_path / "logs")
    (tmp_path / "run").mkdir()
    (tmp_path / "logs").mkdir()
    return tmp_path / "run"


def test_a_pid_file_whose_pid_now_belongs_to_another_process_is_stale(private_run_dir: Path, tmp_path: Path) -> None:
    stranger = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        spec = _spec("crashed-service")
        # What a crash leaves when the pid is later reused: the file names the pid, with the start time of the process
        # the harness had started (long gone), not this one's.
        spec.pid_file.write_text(f"{stranger.pid} 1")
        assert proc.running(spec) is None
        assert proc.stop(spec) is False  # nothing of ours ran: nothing signalled
        assert stranger.poll() is None, "the harness signalled a process it did not start"
        assert not spec.pid_file.exists()
    finally:
        stranger.kill()
        stranger.wait()


def test_a_started_process_is_recognised_and_stopped(private_run_dir: Path, tmp_path: Path) -> None:
    spec = _spec("ours")
    pid = proc.start(spec)
    try:
        recorded = spec.pid_file.read_text().split()
        assert recorded == [str(pid), proc.start_time(pid)]
        assert proc.running(spec) == pid
    finally:
        assert proc.stop(spec) is True
    assert proc.running(spec) is None and not spec.pid_file.exists()


def test_a_process_killed_by_sigkill_is_seen_dead_and_started_again(private_run_dir: Path, tmp_path: Path) -> None:
    spec = _spec("killed")
    first = proc.start(spec)
    proc.kill(spec, signal.SIGKILL)
    for _ in range(50):
        if proc.running(spec) is None:
            break
        time.sleep(0.1)
    assert proc.running(spec) is None, "a SIGKILLed process still reads as running"
    assert spec.pid_file.exists(), "the crash left its pid file, as a real crash does"
    second = proc.start(spec)
    try:
        assert second != first and proc.running(spec) == second
    finally:
        proc.stop(spec)


def test_an_old_pid_file_without_a_start_time_still_reads(private_run_dir: Path, tmp_path: Path) -> None:
    """Pid files written before start times were recorded (a platform started by an earlier checkout)."""
    spec = _spec("older")
    pid = proc.start(spec)
    try:
        spec.pid_file.write_text(str(pid))
        assert proc.running(spec) == pid
    finally:
        proc.stop(spec)
