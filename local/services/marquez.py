"""Marquez stand-in (local/standins/marquez.py): the OpenLineage receiver and lineage API, on Postgres `marquez`.
Marquez's server jar is not served by Maven Central here, so the stand-in speaks its HTTP API subset."""

from __future__ import annotations

from local import ports, proc
from local.services import postgres
from local.services.base import Endpoint, Service, http_ok, python_module_proc


def base_url() -> str:
    return f"http://{ports.HOST}:{ports.port('marquez')}"


class Marquez(Service):
    name = "marquez"
    depends = ("postgres",)
    tcp_ports = ("marquez", "marquez_admin")
    stand_in_for = "Marquez (OpenLineage server)"

    def processes(self) -> list[proc.ProcSpec]:
        return [python_module_proc("marquez", "local.standins.marquez", "--host", ports.HOST,
                                   "--port", str(ports.port("marquez")), "--admin-port", str(ports.port("marquez_admin")),
                                   env={"MARQUEZ_DB_URL": postgres.dsn("marquez")})]

    def health(self) -> str | None:
        return http_ok(f"http://{ports.HOST}:{ports.port('marquez_admin')}/healthcheck") or \
            http_ok(f"{base_url()}/api/v1/namespaces")

    def endpoint(self) -> Endpoint:
        return Endpoint(url=base_url(), extra={"admin": f"http://{ports.HOST}:{ports.port('marquez_admin')}"})
