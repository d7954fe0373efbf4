"""BigQuery stand-in (local/standins/bigquery.py): the REST v2 subset on SQLite that google-cloud-bigquery and the
Google provider's BigQueryHook call (datasets, tables, load jobs from media uploads, query jobs)."""

from __future__ import annotations

from typing import Any

from local import ports, proc
from local.services.base import Endpoint, Service, http_ok, python_module_proc

PROJECT = "local-platform"


def base_url() -> str:
    return f"http://{ports.HOST}:{ports.port('bigquery')}"


def client(project: str = PROJECT) -> Any:
    """A google-cloud-bigquery Client talking to the stand-in (anonymous credentials, custom endpoint)."""
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    return bigquery.Client(
        project=project, credentials=AnonymousCredentials(), client_options=ClientOptions(api_endpoint=base_url())
    )


class BigQuery(Service):
    name = "bigquery"
    tcp_ports = ("bigquery",)
    stand_in_for = "Google BigQuery (REST v2 subset on SQLite: load and query jobs)"

    def processes(self) -> list[proc.ProcSpec]:
        return [
            python_module_proc(
                "bigquery",
                "local.standins.bigquery",
                "--host",
                ports.HOST,
                "--port",
                str(ports.port("bigquery")),
                "--db",
                str(self.data_dir() / "bigquery.sqlite"),
            )
        ]

    def health(self) -> str | None:
        return http_ok(f"{base_url()}/_health")

    def endpoint(self) -> Endpoint:
        return Endpoint(url=base_url(), login=f"anonymous; project {PROJECT}")
