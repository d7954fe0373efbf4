"""OpenLineage custom facets and a Marquez API client (phase 17).

Marquez is both the lineage backend (OpenLineage events in, lineage graph out) and, through its dataset/tag API,
the local stand-in for a SaaS data catalog such as DataHub: datasets with schemas, owners and tags, DAGs as jobs,
tag-based discovery.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import attr
from openlineage.client.facet_v2 import RunFacet

PRODUCER = "https://github.com/airflow-platform/dags/common/lineage"
DEFAULT_NAMESPACE = "airflow-platform"


@attr.define
class GovernanceRunFacet(RunFacet):
    """Custom run facet: who owns the run's data, how it is classified, how long it is kept, which contract applies."""

    ownerTeam: str
    classification: str
    retentionDays: int | None
    dataContractVersion: str

    @staticmethod
    def _get_schema() -> str:
        return "https://airflow-platform.local/schemas/GovernanceRunFacet.json"


def governance_run_facets(ti: Any, ti_state: Any) -> dict[str, RunFacet]:
    """`[openlineage] custom_run_facets` hook: the provider calls it for every task event it emits."""
    from common.governance import RETENTION_DAYS

    tags = list(getattr(getattr(ti, "task", None), "dag", None).tags or []) if getattr(ti, "task", None) else []
    level = next((t.split(":", 1)[1] for t in tags if t.startswith("classification:")), "Public")
    team = next((t.split(":", 1)[1] for t in tags if t.startswith("team:")), "platform")
    return {"governance": GovernanceRunFacet(ownerTeam=team, classification=level,
                                             retentionDays=RETENTION_DAYS.get(level), dataContractVersion="1.0")}


def schema_facet(columns: Mapping[str, str]) -> Any:
    from openlineage.client.facet_v2 import schema_dataset

    return schema_dataset.SchemaDatasetFacet(
        fields=[schema_dataset.SchemaDatasetFacetFields(name=n, type=t) for n, t in columns.items()])


def build_run_events(*, namespace: str, job_name: str, inputs: Sequence[tuple[str, str, Mapping[str, str]]],
                     outputs: Sequence[tuple[str, str, Mapping[str, str]]], run_facets: Mapping[str, RunFacet],
                     run_id: str | None = None) -> list[Any]:
    """START and COMPLETE events for one run; datasets are (namespace, name, columns)."""
    from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState

    rid = run_id or str(uuid.uuid4())
    ins = [InputDataset(namespace=ns, name=n, facets={"schema": schema_facet(c)}) for ns, n, c in inputs]
    outs = [OutputDataset(namespace=ns, name=n, facets={"schema": schema_facet(c)}) for ns, n, c in outputs]
    events = []
    for state in (RunState.START, RunState.COMPLETE):
        events.append(RunEvent(eventType=state, eventTime=datetime.now(UTC).isoformat(),
                               run=Run(runId=rid, facets=dict(run_facets)), job=Job(namespace=namespace, name=job_name),
                               producer=PRODUCER, inputs=ins, outputs=outs))
    return events


def emit(events: Iterable[Any], marquez_url: str, timeout: float = 10) -> int:
    """Send events with the OpenLineage HTTP transport (the same one the Airflow provider uses)."""
    from openlineage.client import OpenLineageClient
    from openlineage.client.transport.http import HttpConfig, HttpTransport

    client = OpenLineageClient(transport=HttpTransport(HttpConfig(url=marquez_url, endpoint="api/v1/lineage",
                                                                  timeout=timeout)))
    count = 0
    for event in events:
        client.emit(event)
        count += 1
    return count


@dataclass
class MarquezClient:
    base_url: str
    timeout: float = 10.0

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        import requests

        resp = requests.request(method, f"{self.base_url.rstrip('/')}/api/v1{path}", timeout=self.timeout, **kwargs)
        resp.raise_for_status()
        return resp.json() if resp.content else None

    # lineage read-back
    def job(self, namespace: str, name: str) -> dict[str, Any]:
        return self._call("GET", f"/namespaces/{namespace}/jobs/{name}")

    def runs(self, namespace: str, job: str) -> list[dict[str, Any]]:
        return self._call("GET", f"/namespaces/{namespace}/jobs/{job}/runs")["runs"]

    def lineage(self, namespace: str, job: str, depth: int = 5) -> dict[str, Any]:
        return self._call("GET", "/lineage", params={"nodeId": f"job:{namespace}:{job}", "depth": depth})

    # catalog (stand-in for DataHub)
    def ensure_namespace(self, namespace: str, owner: str, description: str = "") -> None:
        self._call("PUT", f"/namespaces/{namespace}", json={"ownerName": owner, "description": description})

    def ensure_source(self, name: str, connection_url: str, kind: str = "POSTGRESQL") -> None:
        self._call("PUT", f"/sources/{name}", json={"type": kind, "connectionUrl": connection_url})

    def ensure_tag(self, tag: str, description: str = "") -> None:
        self._call("PUT", f"/tags/{tag}", json={"description": description or tag})

    def put_dataset(self, namespace: str, entry: Mapping[str, Any], source: str) -> dict[str, Any]:
        """Publish a catalog entry (common.governance.catalog_entry shape) as a Marquez DB_TABLE dataset."""
        for tag in {*entry["tags"], *(t for f in entry["schema"] for t in f["tags"])}:
            self.ensure_tag(tag)
        name = entry["urn"].split(",")[1] if "," in entry["urn"] else entry["urn"]
        body = {"type": "DB_TABLE", "physicalName": name, "sourceName": source, "description": entry["description"],
                "fields": [{"name": f["name"], "type": f["type"], "tags": f["tags"]} for f in entry["schema"]],
                "tags": entry["tags"]}
        return self._call("PUT", f"/namespaces/{namespace}/datasets/{name}", json=body)

    def datasets(self, namespace: str) -> list[dict[str, Any]]:
        return self._call("GET", f"/namespaces/{namespace}/datasets", params={"limit": 500})["datasets"]

    def discover(self, namespace: str, required_tags: Iterable[str]) -> list[str]:
        need = set(required_tags)
        return sorted(d["name"] for d in self.datasets(namespace) if need <= set(d.get("tags", [])))


def marquez_url(conn_id: str = "marquez_default") -> str:
    """Marquez's base URL from an http connection (the provider's own transport is configured by the platform)."""
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    if not conn.host:
        raise ValueError(f"connection {conn_id!r} has no host (the Marquez API)")
    if "://" in conn.host:
        return conn.host.rstrip("/")
    return f"{conn.schema or 'http'}://{conn.host}:{conn.port or 5000}"


def openlineage_transport(url: str) -> dict[str, str]:
    """The `[openlineage] transport` value that sends the provider's events to this Marquez."""
    return {"type": "http", "url": url, "endpoint": "api/v1/lineage"}


def openlineage_namespace() -> str:
    from airflow.configuration import conf

    return conf.get("openlineage", "namespace", fallback="") or DEFAULT_NAMESPACE
