"""Background processes with a pid file and a log file each; no supervisor daemon, so `status` and `down` work from any shell."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from local import paths


class LazyEnv(Mapping[str, str]):
    """An environment built on first use: `status` and `down` look processes up by name and never build it, so an
    environment that needs live credentials (Vault's AppRole secret for Airflow) is only required to start."""

    def __init__(self, factory: Callable[[], Mapping[str, str]]) -> None:
        self._factory = factory
        self._env: Mapping[str, str] | None = None

    def _resolved(self) -> Mapping[str, str]:
        if self._env is None:
            self._env = self._factory()
        return self._env

    def __getitem__(self, key: str) -> str:
        return self._resolved()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._resolved())

    def __len__(self) -> int:
        return len(self._resolved())


@dataclass(frozen=True)
class ProcSpec:
    """One long-running process of a service."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    user: str | None = None  # run as this OS user (postgres refuses to run as root)
    stop_signal: int = signal.SIGTERM
    stop_timeout: float = 30.0

    @property
    def pid_file(self) -> Path:
        return paths.RUN / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return paths.LOGS / f"{self.name}.log"


def start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc/<pid>/stat field 22): with the pid, it names one
    process for good, where a pid alone may be reused by an unrelated process after a crash or a reboot."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[19]
    except (FileNotFoundError, IndexError, ProcessLookupError):
        return None


def read_pid(spec: ProcSpec) -> int | None:
    """The pid the file names, if that process is still the one started: a pid file left by a crash whose pid now
    belongs to another process reads as None (and is never signalled)."""
    try:
        fields = spec.pid_file.read_text().split()
        pid = int(fields[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None
    if len(fields) > 1 and start_time(pid) != fields[1]:
        return None
    return pid


def pid_alive(pid: int) -> bool:
    """Alive and not a zombie (a zombie's pid answers kill(0) until its parent reaps it)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError, ProcessLookupError):
        return False
    if state == "Z":
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        return False
    return True


def running(spec: ProcSpec) -> int | None:
    pid = read_pid(spec)
    return pid if pid is not None and pid_alive(pid) else None


def start(spec: ProcSpec) -> int:
    """Start detached (own session, so a Ctrl-C in the terminal does not reach it); output appended to its log."""
    paths.ensure_dirs()
    env = {**os.environ, **spec.env}
    kwargs: dict[str, object] = {}
    if spec.user and os.geteuid() == 0:
        kwargs.update(user=spec.user, group=spec.user, extra_groups=[])
    with open(spec.log_file, "ab") as log:
        log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {spec.name}: {' '.join(spec.argv)}\n".encode())
        log.flush()
        process = subprocess.Popen(
            list(spec.argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=str(spec.cwd) if spec.cwd else None,
            env=env,
            start_new_session=True,
            **kwargs,  # type: ignore[arg-type]
        )
    spec.pid_file.write_text(f"{process.pid} {start_time(process.pid) or ''}".strip())
    return process.pid


def stop(spec: ProcSpec) -> bool:
    """Signal the process group, wait, then SIGKILL. Returns True if something was running."""
    pid = running(spec)
    if pid is None:
        spec.pid_file.unlink(missing_ok=True)
        return False
    _signal_group(pid, spec.stop_signal)
    deadline = time.monotonic() + spec.stop_timeout
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.2)
    if pid_alive(pid):
        _signal_group(pid, signal.SIGKILL)
        for _ in range(50):
            if not pid_alive(pid):
                break
            time.sleep(0.1)
    spec.pid_file.unlink(missing_ok=True)
    return True


def kill(spec: ProcSpec, sig: int = signal.SIGKILL) -> int | None:
    """Send `sig` to a running process group without cleanup (used by the crash tests)."""
    pid = running(spec)
    if pid is not None:
        _signal_group(pid, sig)
    return pid


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def tail(path: Path, lines: int = 30) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            text = handle.read().decode(errors="replace")
    except FileNotFoundError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


def run(argv: Sequence[str], *, user: str | None = None, env: Mapping[str, str] | None = None,
        cwd: Path | None = None, input_text: str | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run a one-shot command; raise with its output when it fails."""
    kwargs: dict[str, object] = {}
    if user and os.geteuid() == 0:
        kwargs.update(user=user, group=user, extra_groups=[])
    result = subprocess.run(
        list(argv), capture_output=True, text=True, env={**os.environ, **(env or {})},
        cwd=str(cwd) if cwd else None, input=input_text, timeout=timeout, **kwargs,  # type: ignore[arg-type]
    )
    if result.returncode != 0:
        raise RuntimeError(f"command failed ({result.returncode}): {' '.join(argv)}\n{result.stdout}\n{result.stderr}")
    return result
