"""Data catalog: every DAG, asset and dataset the platform knows, synced into a catalog with owners, schemas and
classification tags; tag-based discovery.

Nothing is listed by hand. `read_airflow` takes the DAGs (owners, tags) and assets (which task produces, which DAG
consumes) from Airflow's REST API; `read_marquez` takes the datasets and their columns from the lineage the
OpenLineage provider sent to Marquez. `common.catalog.build_catalog` merges them: columns are classified
(PII / Confidential / Public) by `common.governance`, so a new PII column tags its dataset the first time it shows up,
and each DAG becomes a catalog job linked to the datasets it reads and writes ("which pipeline writes this table?").
The catalog is published as OpenLineage events into its own Marquez namespace, standing in for a SaaS catalog such
as DataHub (which ingests the same facets), and `discover` answers tag queries from it.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import task

from common.dag_header import platform_dag

MARQUEZ_CONN_ID = "marquez_default"
AIRFLOW_API_CONN_ID = "airflow_api"
CATALOG_NAMESPACE = "catalog"

with platform_dag(
    __file__, __doc__, owner="team-data-platform", tags=["catalog", "governance"], schedule="@daily",
):

    @task(retries=3, retry_delay=timedelta(seconds=10), execution_timeout=timedelta(minutes=5))
    def read_airflow() -> dict:
        from common.airflow_api import AirflowApi

        api = AirflowApi.from_connection(conn_id=AIRFLOW_API_CONN_ID)
        dags = [{k: d.get(k) for k in ("dag_id", "owners", "tags", "description")} for d in api.paged("/api/v2/dags", "dags")]
        assets = [{k: a.get(k) for k in ("uri", "producing_tasks", "consuming_tasks", "scheduled_dags")}
                  for a in api.paged("/api/v2/assets", "assets")]
        return {"dags": dags, "assets": assets}

    @task(retries=3, retry_delay=timedelta(seconds=10), execution_timeout=timedelta(minutes=5))
    def read_marquez() -> list:
        from common.lineage import MarquezClient, marquez_url

        marquez = MarquezClient(marquez_url(conn_id=MARQUEZ_CONN_ID))
        return [{k: ds.get(k) for k in ("namespace", "name", "fields", "description")}
                for ns in marquez.namespaces() if ns["name"] != CATALOG_NAMESPACE
                for ds in marquez.datasets(ns["name"])]

    @task
    def build(airflow: dict, datasets: list) -> dict:
        from common.catalog import build_catalog

        return build_catalog(airflow["dags"], airflow["assets"], datasets)

    @task(retries=3, retry_delay=timedelta(seconds=5), execution_timeout=timedelta(minutes=10))
    def publish(catalog: dict) -> dict:
        """Datasets as the outputs of one catalog-sync run; each DAG as a catalog job with its inputs and outputs."""
        from common.catalog import dag_id_of
        from common.lineage import catalog_publish_events, emit, marquez_url

        url = marquez_url(conn_id=MARQUEZ_CONN_ID)
        by_urn = {e["urn"]: e for e in catalog["datasets"]}
        emit(catalog_publish_events(CATALOG_NAMESPACE, "catalog_sync", catalog["datasets"], "team-data-platform", ["catalog"]), url)
        for job in catalog["dags"]:
            emit(catalog_publish_events(CATALOG_NAMESPACE, dag_id_of(job), [by_urn[u] for u in job["outputs"]], job["owner"],
                                        job["tags"], [by_urn[u] for u in job["inputs"]]), url)
        return {"datasets": len(catalog["datasets"]), "dags": sorted(dag_id_of(j) for j in catalog["dags"])}

    @task(retries=2, execution_timeout=timedelta(minutes=5))
    def discover(published: dict) -> dict:
        """Read the catalog back: every synced DAG is a job there, and tag queries answer from what was published."""
        from common.lineage import MarquezClient, marquez_url

        catalog = MarquezClient(marquez_url(conn_id=MARQUEZ_CONN_ID))
        jobs = {j["name"] for j in catalog.jobs(CATALOG_NAMESPACE)}
        missing = sorted(set(published["dags"]) - jobs)
        if missing:
            raise RuntimeError(f"DAGs synced but not found in the catalog: {missing}")
        return {"PII": catalog.discover(CATALOG_NAMESPACE, ["PII"]),
                "Confidential": catalog.discover(CATALOG_NAMESPACE, ["Confidential"]),
                "dags": len(published["dags"])}

    discover(publish(build(read_airflow(), read_marquez())))
