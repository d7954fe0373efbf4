"""OpenLineage custom facets and the project's one Marquez API client (phase 17).

Every Marquez call the project makes goes through here: OpenLineage events out through `emit` (the same HTTP
transport and endpoint Airflow's provider uses), reads through `MarquezClient`. `MARQUEZ_CALLS` lists them; it is
checked against Marquez 0.51.1's API specification by tests/local/test_marquez_contract.py, which also holds the
local Marquez stand-in (local/standins/marquez.py) to that specification.

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
from urllib.parse import quote

import attr
from openlineage.client.facet_v2 import RunFacet

PRODUCER = "https://github.com/airflow-platform/dags/common/lineage"
DEFAULT_NAMESPACE = "airflow-platform"

# Marquez's API root and the OpenLineage transport endpoint under a Marquez base URL (Airflow's `[openlineage]
# transport` uses the same: local/services/airflow.py, components/values/marquez.ts).
MARQUEZ_API = "/api/v1"
OPENLINEAGE_ENDPOINT = "api/v1/lineage"
# Every Marquez API call of the project: (method, path under MARQUEZ_API), as the spec's paths are written.
MARQUEZ_CALLS: tuple[tuple[str, str], ...] = (
    ("POST", "/lineage"),                                # emit(); Airflow's OpenLineage HTTP transport
    ("GET", "/namespaces"),                              # the local service's health check; the chart's helm test
    ("GET", "/namespaces/{namespace}/jobs"),             # MarquezClient.jobs
    ("GET", "/namespaces/{namespace}/jobs/{job}"),       # MarquezClient.job
    ("GET", "/namespaces/{namespace}/jobs/{job}/runs"),  # MarquezClient.runs
    ("GET", "/jobs/runs/{id}"),                          # MarquezClient.run
    ("GET", "/namespaces/{namespace}/datasets"),         # MarquezClient.datasets / discover
)
PAGE_SIZE = 100  # Marquez's default `limit`


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

    client = OpenLineageClient(transport=HttpTransport(HttpConfig(url=marquez_url, endpoint=OPENLINEAGE_ENDPOINT,
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
    """Read side of Marquez's API (lineage read-back and catalog discovery); only the paths in MARQUEZ_CALLS."""

    base_url: str
    timeout: float = 10.0

    def url(self, template: str, **path: str) -> str:
        """Full URL of a MARQUEZ_CALLS path; names are percent-encoded (job and dataset names may hold `/` or `:`)."""
        if not any(template == t for _, t in MARQUEZ_CALLS):
            raise ValueError(f"{template} is not a Marquez call of this project (common.lineage.MARQUEZ_CALLS)")
        return self.base_url.rstrip("/") + MARQUEZ_API + template.format(**{k: quote(v, safe="") for k, v in path.items()})

    def _get(self, template: str, query: Mapping[str, Any] | None = None, **path: str) -> Any:
        import requests

        resp = requests.get(self.url(template, **path), params=query, timeout=self.timeout)
        resp.raise_for_status()
        return resp.json()

    def _all(self, template: str, key: str, **path: str) -> list[dict[str, Any]]:
        """Every page of a listing (`limit`/`offset`, as Marquez pages: a namespace easily holds > 100 jobs)."""
        found: list[dict[str, Any]] = []
        previous: list[dict[str, Any]] = []
        while True:
            page = self._get(template, {"limit": PAGE_SIZE, "offset": len(found)}, **path)[key]
            if page and page == previous:
                raise RuntimeError(f"{self.url(template, **path)} ignores offset: the same page came back twice")
            found += page
            if len(page) < PAGE_SIZE:
                return found
            previous = page

    def namespaces(self) -> list[dict[str, Any]]:
        return self._all("/namespaces", "namespaces")

    def jobs(self, namespace: str) -> list[dict[str, Any]]:
        return self._all("/namespaces/{namespace}/jobs", "jobs", namespace=namespace)

    def job(self, namespace: str, name: str) -> dict[str, Any]:
        return self._get("/namespaces/{namespace}/jobs/{job}", namespace=namespace, job=name)

    def runs(self, namespace: str, job: str, limit: int = PAGE_SIZE) -> list[dict[str, Any]]:
        """The job's most recent runs, newest first."""
        return self._get("/namespaces/{namespace}/jobs/{job}/runs", {"limit": limit}, namespace=namespace, job=job)["runs"]

    def run(self, run_id: str) -> dict[str, Any] | None:
        """One run by its id, None while Marquez has not seen it (404)."""
        import requests

        try:
            return self._get("/jobs/runs/{id}", id=run_id)
        except requests.HTTPError as error:
            if error.response is not None and error.response.status_code == 404:
                return None
            raise

    def datasets(self, namespace: str) -> list[dict[str, Any]]:
        return self._all("/namespaces/{namespace}/datasets", "datasets", namespace=namespace)

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
