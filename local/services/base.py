"""What every local service implements: install (idempotent), prepare (config + data dir), processes, health, provision."""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from local import paths, ports, proc


class ServiceError(RuntimeError):
    """A service could not be installed, started or reached; the message names it."""


@dataclass(frozen=True)
class Endpoint:
    """What the closing table and the test fixtures show for a service."""

    url: str
    login: str = ""
    extra: dict[str, str] = field(default_factory=dict)


class Service:
    name: str = ""
    depends: tuple[str, ...] = ()
    tcp_ports: tuple[str, ...] = ()  # names in local.ports, checked free before start
    udp_ports: tuple[str, ...] = ()
    install_script: str | None = None  # scripts/install/<name>
    start_timeout: float = 60.0
    stand_in_for: str | None = None  # the real product a stand-in replaces, shown in status

    def describe(self) -> str:
        """What runs, for the status table: 'stand-in for <product>', or the real server and version where known."""
        return f"stand-in for {self.stand_in_for}" if self.stand_in_for else ""

    # --- install -------------------------------------------------------------------------
    def installed(self) -> bool:
        return True

    def install(self) -> None:
        if self.install_script is None or self.installed():
            return
        script = paths.REPO / "scripts" / "install" / self.install_script
        result = subprocess.run(["bash", str(script)], capture_output=True, text=True)
        if result.returncode != 0 or not self.installed():
            raise ServiceError(
                f"{self.name}: install step {script.relative_to(paths.REPO)} failed (exit {result.returncode})\n"
                + "\n".join((result.stdout + result.stderr).splitlines()[-30:])
            )

    # --- lifecycle -----------------------------------------------------------------------
    def prepare(self) -> None:
        """Write config, initialise the data dir. Must be idempotent."""

    def processes(self) -> list[proc.ProcSpec]:
        raise NotImplementedError

    def health(self) -> str | None:
        """None when healthy, else why not."""
        for name in self.tcp_ports:
            if not ports.tcp_open(ports.port(name)):
                return f"port {ports.port(name)} ({name}) not accepting connections"
        return None

    def provision(self) -> None:
        """After the first healthy check: create databases, topics, buckets... Must be idempotent."""

    def endpoint(self) -> Endpoint:
        raise NotImplementedError

    # --- helpers -------------------------------------------------------------------------
    def data_dir(self) -> Path:
        path = paths.DATA / self.name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def running_pids(self) -> dict[str, int | None]:
        return {spec.name: proc.running(spec) for spec in self.processes()}

    def is_running(self) -> bool:
        return all(pid is not None for pid in self.running_pids().values())

    def logs(self) -> list[Path]:
        return [spec.log_file for spec in self.processes()]

    def wait_healthy(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (timeout or self.start_timeout)
        reason: str | None = "not checked"
        while time.monotonic() < deadline:
            dead = [name for name, pid in self.running_pids().items() if pid is None]
            if dead:
                raise ServiceError(f"{self.name}: process {', '.join(dead)} exited during start-up")
            reason = self.health()
            if reason is None:
                return
            time.sleep(0.5)
        raise ServiceError(f"{self.name}: not healthy after {timeout or self.start_timeout:.0f}s: {reason}")


def http_ok(url: str, *, timeout: float = 2.0, expect: tuple[int, ...] = (200,)) -> str | None:
    """None when GET url answers one of `expect`, else the reason."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    except (urllib.error.URLError, OSError) as error:
        return f"GET {url}: {error}"
    return None if status in expect else f"GET {url}: HTTP {status}"


def python_module_proc(name: str, module: str, *args: str, env: dict[str, str] | None = None) -> proc.ProcSpec:
    """A process running `python -m module args` from the project venv, with the repo on sys.path."""
    return proc.ProcSpec(
        name=name,
        argv=[str(paths.PYTHON), "-m", module, *args],
        env={"PYTHONPATH": str(paths.REPO), "PYTHONUNBUFFERED": "1", **(env or {})},
        cwd=paths.REPO,
    )
