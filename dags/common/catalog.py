"""The data catalog built from what the platform already knows (phase 17): DAGs and assets from Airflow's REST API,
datasets and their schemas from Marquez's lineage. Nothing is listed by hand, so a new DAG, asset or table appears in
the next sync without a code change.

Plain functions over the two APIs' JSON; phase17_02 does the I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from common.governance import catalog_entry, dag_catalog_entry

UNOWNED = "unowned"


def platform_of(namespace_or_uri: str) -> str:
    """`postgres://host:5432` → postgres, `s3://bucket/key` → s3, `file:///x` → file; a bare name is its own platform."""
    scheme = urlsplit(namespace_or_uri).scheme
    return scheme or namespace_or_uri.split(":", 1)[0] or "unknown"


# Platforms whose OpenLineage dataset names are `db.schema.table` under a host namespace: the host is not part of the
# name. Elsewhere (s3, gcs, kafka, ...) the namespace's authority (bucket, broker) is.
DATABASE_PLATFORMS = frozenset({"postgres", "postgresql", "mysql", "bigquery", "snowflake", "redshift", "sqlite"})


def dataset_urn(platform: str, name: str) -> str:
    return f"urn:li:dataset:(urn:li:dataPlatform:{platform},{name.replace(',', '%2C')},PROD)"


def lineage_urn(namespace: str, name: str) -> str:
    """An OpenLineage (namespace, name) pair as a catalog URN, so an Airflow asset and the dataset Marquez received
    for the same table or object meet in one entry."""
    platform = platform_of(namespace)
    authority = urlsplit(namespace).netloc
    key = name if platform in DATABASE_PLATFORMS or not authority else f"{authority}/{name.lstrip('/')}"
    return dataset_urn(platform, key.strip("/"))


def asset_urn(uri: str) -> str:
    """An Airflow asset by its URI, converted as the OpenLineage provider converts it: `s3://b/k` is namespace
    `s3://b`, name `k`; `postgres://h:5432/db/schema/table` is namespace `postgres://h:5432`, name `db.schema.table`."""
    parts = urlsplit(uri)
    if not parts.scheme:
        return dataset_urn("airflow", uri)
    path = parts.path.strip("/")
    name = ".".join(path.split("/")) if parts.scheme in DATABASE_PLATFORMS else path
    return lineage_urn(f"{parts.scheme}://{parts.netloc}", name)


def marquez_urn(dataset: Mapping[str, Any]) -> str:
    return lineage_urn(str(dataset["namespace"]), str(dataset["name"]))


def asset_owners(dags: Sequence[Mapping[str, Any]], assets: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Asset URN → owner of the first DAG that produces it (Airflow's `owners` of that DAG)."""
    owner_of = {d["dag_id"]: (d.get("owners") or [UNOWNED])[0] for d in dags}
    out: dict[str, str] = {}
    for asset in assets:
        producers = sorted({t["dag_id"] for t in asset.get("producing_tasks") or []})
        if producers:
            out[asset_urn(asset["uri"])] = owner_of.get(producers[0], UNOWNED)
    return out


def build_catalog(dags: Sequence[Mapping[str, Any]], assets: Sequence[Mapping[str, Any]],
                  marquez_datasets: Iterable[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Dataset entries (Marquez's datasets with their columns, then Airflow's assets Marquez doesn't know) and one
    job entry per DAG with the assets it produces and consumes. Columns are classified, so a PII column tags its
    dataset PII the first time the dataset shows up."""
    owners = asset_owners(dags, assets)
    datasets: dict[str, dict[str, Any]] = {}
    for ds in marquez_datasets:
        urn = marquez_urn(ds)
        columns = {f["name"]: str(f.get("type") or "UNKNOWN") for f in ds.get("fields") or []}
        datasets[urn] = catalog_entry(urn, description=ds.get("description") or f"{ds['namespace']}/{ds['name']}",
                                      owner=owners.get(urn, UNOWNED), columns=columns, tags=[platform_of(str(ds["namespace"]))],
                                      platform=platform_of(str(ds["namespace"])))
    for asset in assets:
        urn = asset_urn(asset["uri"])
        if urn not in datasets:
            datasets[urn] = catalog_entry(urn, description=f"Airflow asset {asset['uri']}", owner=owners.get(urn, UNOWNED),
                                          columns={}, tags=["asset"], platform=platform_of(asset["uri"]))

    produced: dict[str, set[str]] = {}
    consumed: dict[str, set[str]] = {}
    for asset in assets:
        urn = asset_urn(asset["uri"])
        for task in asset.get("producing_tasks") or []:
            produced.setdefault(task["dag_id"], set()).add(urn)
        for ref in [*(asset.get("consuming_tasks") or []), *(asset.get("scheduled_dags") or [])]:
            consumed.setdefault(ref["dag_id"], set()).add(urn)
    jobs = [dag_catalog_entry(d["dag_id"], (d.get("owners") or [UNOWNED])[0], [t["name"] for t in d.get("tags") or []],
                              produced.get(d["dag_id"], ()), consumed.get(d["dag_id"], ()))
            for d in sorted(dags, key=lambda d: d["dag_id"])]
    return {"datasets": sorted(datasets.values(), key=lambda e: e["urn"]), "dags": jobs}


def dag_id_of(job: Mapping[str, Any]) -> str:
    """`urn:li:dataJob:(urn:li:dataFlow:(airflow,<dag_id>,prod),<dag_id>)` → dag_id."""
    return str(job["urn"]).rsplit(",", 1)[1].rstrip(")")
