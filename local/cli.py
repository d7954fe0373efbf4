"""`./platform` sub-commands: up, down, status, logs."""

from __future__ import annotations

import argparse
import sys

from local import paths, proc
from local import platform as plat
from local.services.base import ServiceError


def _table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [line.format(*header), line.format(*("-" * w for w in widths))]
    out.extend(line.format(*row) for row in rows)
    return "\n".join(out)


def cmd_up(args: argparse.Namespace) -> int:
    try:
        endpoints = plat.up(args.services)
    except ServiceError as error:
        print(f"\nplatform up failed: {error}", file=sys.stderr)
        return 1
    from local import envfile

    rows = [(name, ep.url, ep.login, plat.service(name).describe()) for name, ep in endpoints.items()]
    print("\n" + _table(rows, ("service", "url", "login", "server")))
    try:
        envfile.write()
    except ServiceError as error:  # a partial `up` (no Vault yet): the services run, the env file waits for Vault
        print(f"\n{paths.HOME / 'airflow.env'} not written: {error}")
        return 0
    print(f"\nConnections/variables for dag.test(): source {paths.HOME / 'airflow.env'}")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    plat.down(args.services)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    rows = [(name, state, url, plat.service(name).describe()) for name, state, url in plat.status()]
    print(_table(rows, ("service", "state", "url", "server")))
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    svc = plat.service(args.service)
    for log in svc.logs():
        print(f"--- {log} ---")
        print(proc.tail(log, args.lines))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="platform",
        description="The local platform: Airflow 3.3 and its dependencies as processes on 127.0.0.1. "
        f"State lives in {paths.HOME}. Ports: env LOCAL_PORT_<NAME>.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="install what is missing and start services (all by default)")
    up.add_argument("services", nargs="*", help=f"any of: {', '.join(plat.SERVICES)}")
    up.set_defaults(func=cmd_up)
    down = sub.add_parser("down", help="stop services (all by default); state is kept")
    down.add_argument("services", nargs="*")
    down.set_defaults(func=cmd_down)
    sub.add_parser("status", help="what is running").set_defaults(func=cmd_status)
    logs = sub.add_parser("logs", help="tail a service's log")
    logs.add_argument("service")
    logs.add_argument("-n", "--lines", type=int, default=60)
    logs.set_defaults(func=cmd_logs)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ServiceError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
