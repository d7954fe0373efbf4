"""OpenLineage custom facets and a Marquez API client (phase 17).

Marquez is both the lineage backend (OpenLineage events in, jobs/runs/datasets out) and the local stand-in for a
SaaS data catalog such as DataHub: catalog metadata is published as OpenLineage dataset facets (schema, tags,
ownership, documentation) — the same events DataHub's OpenLineage endpoint ingests — and discovered by tag from
Marquez's dataset API.
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

    dag = getattr(getattr(ti, "task", None), "dag", None)
    tags = list(getattr(dag, "tags", None) or [])
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


def catalog_dataset(namespace: str, entry: Mapping[str, Any], kind: str = "output") -> Any:
    """A catalog entry (common.governance.catalog_entry shape) as an OpenLineage dataset with schema, tags (dataset
    and column level), ownership and documentation facets — the metadata DataHub/Marquez index for discovery."""
    from openlineage.client.event_v2 import InputDataset, OutputDataset
    from openlineage.client.facet_v2 import documentation_dataset, ownership_dataset, tags_dataset

    tags = [tags_dataset.TagsDatasetFacetFields(key=t, value="true", source="governance") for t in entry["tags"]]
    tags += [tags_dataset.TagsDatasetFacetFields(key=t, value="true", source="governance", field=f["name"])
             for f in entry["schema"] for t in f["tags"]]
    dataset_class = OutputDataset if kind == "output" else InputDataset
    return dataset_class(namespace=namespace, name=dataset_name(entry["urn"]), facets={
        "schema": schema_facet({f["name"]: f["type"] for f in entry["schema"]}),
        "tags": tags_dataset.TagsDatasetFacet(tags=tags),
        "ownership": ownership_dataset.OwnershipDatasetFacet(owners=[ownership_dataset.Owner(name=entry["owner"], type="OWNER")]),
        "documentation": documentation_dataset.DocumentationDatasetFacet(description=entry["description"]),
    })


def dataset_name(urn: str) -> str:
    """`urn:li:dataset:(urn:li:dataPlatform:postgres,public.orders,PROD)` → `public.orders`."""
    inner = urn.removeprefix("urn:li:dataset:(").removesuffix(")")
    parts = inner.split(",")
    if len(parts) != 3:
        raise ValueError(f"not a dataset urn: {urn!r}")
    return parts[1]


def catalog_publish_events(namespace: str, job_name: str, entries: Sequence[Mapping[str, Any]],
                           job_owner: str, job_tags: Iterable[str],
                           inputs: Sequence[Mapping[str, Any]] = ()) -> list[Any]:
    """One run of a catalog job whose outputs are the published datasets; the job itself carries owner/tags facets,
    so DAGs are published as catalog jobs the same way. Inputs are catalog entries too and carry their full facets,
    so a reader that keeps the latest event's view of a dataset never sees it stripped of its tags."""
    from openlineage.client.event_v2 import Job, Run, RunEvent, RunState
    from openlineage.client.facet_v2 import documentation_job, ownership_job, tags_job

    job_facets = {
        "ownership": ownership_job.OwnershipJobFacet(owners=[ownership_job.Owner(name=job_owner, type="OWNER")]),
        "tags": tags_job.TagsJobFacet(tags=[tags_job.TagsJobFacetFields(key=t, value="true", source="governance")
                                            for t in sorted(job_tags)]),
        "documentation": documentation_job.DocumentationJobFacet(description=f"catalog entry for {job_name}"),
    }
    run = Run(runId=str(uuid.uuid4()))
    ins = [catalog_dataset(namespace, e, kind="input") for e in inputs]
    outs = [catalog_dataset(namespace, e) for e in entries]
    now = datetime.now(UTC).isoformat()
    return [RunEvent(eventType=state, eventTime=now, run=run, job=Job(namespace=namespace, name=job_name, facets=job_facets),
                     producer=PRODUCER, inputs=ins, outputs=outs) for state in (RunState.START, RunState.COMPLETE)]


def dataset_tags(dataset: Mapping[str, Any]) -> set[str]:
    """Dataset-level tag keys from a Marquez dataset JSON (column-level tags are also lifted: a PII column makes a
    PII dataset)."""
    facet = (dataset.get("facets") or {}).get("tags") or {}
    return {t["key"] for t in facet.get("tags") or []}


@dataclass
class MarquezClient:
    """Read side of Marquez's API (lineage read-back and catalog discovery)."""

    base_url: str
    timeout: float = 10.0

    def _get(self, path: str, **params: Any) -> Any:
        import requests

        resp = requests.get(f"{self.base_url.rstrip('/')}/api/v1{path}", params=params or None, timeout=self.timeout)
        resp.raise_for_status()
        return resp.json()

    def job(self, namespace: str, name: str) -> dict[str, Any]:
        return self._get(f"/namespaces/{namespace}/jobs/{name}")

    def runs(self, namespace: str, job: str) -> list[dict[str, Any]]:
        return self._get(f"/namespaces/{namespace}/jobs/{job}/runs")["runs"]

    def datasets(self, namespace: str) -> list[dict[str, Any]]:
        return self._get(f"/namespaces/{namespace}/datasets", limit=1000)["datasets"]

    def discover(self, namespace: str, required_tags: Iterable[str]) -> list[str]:
        """Tag-based discovery: names of datasets carrying every required tag."""
        need = set(required_tags)
        return sorted(d["name"] for d in self.datasets(namespace) if need <= dataset_tags(d))


def marquez_url(conn_id: str = "marquez_default") -> str:
    """Marquez's base URL from an http connection (the provider's own transport is configured by the platform)."""
    from common.connections import http_base_url

    return http_base_url(conn_id, "the Marquez API")


def openlineage_namespace() -> str:
    from airflow.configuration import conf

    return conf.get("openlineage", "namespace", fallback="") or DEFAULT_NAMESPACE
