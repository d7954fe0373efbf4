"""Local platform start-up: cold start (fresh state dir: installs from the machine's package caches, initdb, Kafka
storage format, Airflow DB migration) vs warm start (state kept, everything already installed), and the memory the
platform holds once up (RSS of every process it started and their descendants: workers, Postgres backends).

Each start runs `./platform up` in a subprocess, so the figures include interpreter start-up like a user's terminal.
The benchmark's own state dir is a temp dir, removed at the end unless --keep. With --port-offset N every port is
shifted by N (LOCAL_PORT_<NAME>), so a platform already running on the default ports stays up (and competes for
CPU: say so next to the figures); without it the default platform is stopped first.

    .venv/bin/python bench/local_start.py [--services postgres kafka ...] [--port-offset 1000] [--json out/bench/local_start.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def port_env(offset: int) -> dict[str, str]:
    sys.path.insert(0, str(REPO))
    from local.ports import DEFAULTS

    return {f"LOCAL_PORT_{name.upper()}": str(port + offset) for name, port in DEFAULTS.items()} if offset else {}


def platform(args: list[str], home: Path, env: dict[str, str]) -> float:
    began = time.monotonic()
    result = subprocess.run([str(REPO / "platform"), *args],
                            env={**os.environ, **env, "LOCAL_PLATFORM_HOME": str(home)}, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"./platform {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return time.monotonic() - began


def memory_mib(home: Path) -> dict[str, float]:
    """RSS per service: its process and every descendant (Postgres backends and LocalExecutor workers included;
    Postgres backends call setsid, so a process-group sum would miss them)."""
    rss: dict[int, int] = {}
    children: dict[int, list[int]] = {}
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid=,rss="], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        pid, ppid, kib = (int(x) for x in line.split())
        rss[pid] = kib
        children.setdefault(ppid, []).append(pid)

    def tree(pid: int) -> int:
        return rss.get(pid, 0) + sum(tree(child) for child in children.get(pid, []))

    return {pid_file.stem: round(tree(int(pid_file.read_text().split()[0])) / 1024, 1)
            for pid_file in sorted((home / "run").glob("*.pid"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", nargs="*", default=[], help="default: every service")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark's state dir")
    parser.add_argument("--port-offset", type=int, default=0, help="shift every port; keeps the default platform up")
    args = parser.parse_args()

    env = port_env(args.port_offset)
    if not args.port_offset:
        subprocess.run([str(REPO / "platform"), "down"], check=True, capture_output=True)
    home = Path(tempfile.mkdtemp(prefix="local-platform-bench-"))
    home.chmod(0o755)  # services running as their own OS user (postgres) must reach their data dirs
    try:
        cold = platform(["up", *args.services], home, env)
        time.sleep(5)  # let workers and connection pools settle before measuring memory
        memory = memory_mib(home)
        platform(["down"], home, env)
        warm = platform(["up", *args.services], home, env)
        platform(["down"], home, env)
    finally:
        subprocess.run([str(REPO / "platform"), "down"], capture_output=True,  # never leave a failed run's processes
                       env={**os.environ, **env, "LOCAL_PLATFORM_HOME": str(home)})
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)
    report = {"services": args.services or "all", "cold_start_s": round(cold, 1), "warm_start_s": round(warm, 1),
              "memory_mib_total": round(sum(memory.values()), 1), "memory_mib_by_process": memory,
              "port_offset": args.port_offset,
              "machine": {"cpus": os.cpu_count(), "load_avg_1m": os.getloadavg()[0]}}
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
