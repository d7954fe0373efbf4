"""Data catalog: dataset metadata and DAGs published to a catalog; tag-based discovery.

The catalog API used here is Marquez's dataset/job/tag API — locally the stand-in for a SaaS catalog such as
DataHub (the entries follow DataHub's shape: urn, schema with column tags, owner, global tags, upstreams).
Classification tags (PII / Confidential / Public) are derived from column names by `common.governance`, so
a new PII column is tagged the moment its table is published. DAGs are published as jobs with their input and
output datasets ("which pipeline writes this table?"), and `discover` answers "all PII datasets owned by sales".
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, task

from common.defaults import platform_default_args

MARQUEZ_CONN_ID = "marquez_default"

CATALOG_NAMESPACE = "warehouse"
DATASETS = {
    "public.customers": {"owner": "team-crm", "tags": ["sales"], "description": "One row per customer",
                         "columns": {"customer_id": "VARCHAR", "email": "VARCHAR", "full_name": "VARCHAR", "segment": "VARCHAR"}},
    "public.orders": {"owner": "team-sales", "tags": ["sales"], "description": "Orders, one row per order line",
                      "columns": {"order_id": "VARCHAR", "customer_id": "VARCHAR", "amount": "DECIMAL", "price": "DECIMAL"}},
    "analytics.daily_sales": {"owner": "team-analytics", "tags": ["analytics"], "upstream": ["public.orders", "public.customers"],
                              "description": "Revenue per region and segment", "columns": {"region": "VARCHAR", "segment": "VARCHAR", "revenue": "DECIMAL"}},
    "reference.regions": {"owner": "team-analytics", "tags": ["reference"], "description": "Region codes",
                          "columns": {"region": "VARCHAR", "label": "VARCHAR"}},
}

with DAG(
    dag_id="phase17_02_data_catalog",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    default_args=platform_default_args("team-data-platform"),
    tags=["phase17", "catalog", "governance"],
    doc_md=__doc__,
):

    @task
    def build_entries() -> list:
        from common.governance import catalog_entry

        return [catalog_entry(f"urn:li:dataset:(urn:li:dataPlatform:postgres,{name},PROD)", description=d["description"],
                              owner=d["owner"], columns=d["columns"], tags=d["tags"], upstream=d.get("upstream", []))
                for name, d in DATASETS.items()]

    @task(retries=3, retry_delay=timedelta(seconds=5), execution_timeout=timedelta(minutes=3))
    def publish(entries: list) -> list:
        from common.lineage import MarquezClient, marquez_url

        catalog = MarquezClient(marquez_url(conn_id=MARQUEZ_CONN_ID))
        catalog.ensure_namespace(CATALOG_NAMESPACE, owner="team-data-platform", description="warehouse datasets")
        catalog.ensure_source("warehouse", "postgresql://warehouse")
        return [catalog.put_dataset(CATALOG_NAMESPACE, e, source="warehouse")["name"] for e in entries]

    @task(retries=3, retry_delay=timedelta(seconds=5), execution_timeout=timedelta(minutes=3))
    def publish_dags() -> list:
        """DAGs as catalog jobs: the producing pipeline of each dataset is one click away."""
        from common.governance import dag_catalog_entry
        from common.lineage import MarquezClient, marquez_url

        catalog = MarquezClient(marquez_url(conn_id=MARQUEZ_CONN_ID))
        jobs = [dag_catalog_entry("phase14_02_dataset_consumer", "team-analytics", ["analytics"],
                                  produces=["analytics.daily_sales"], consumes=["public.orders", "public.customers"])]
        for job in jobs:
            dag_id = job["urn"].rsplit(",", 1)[1].rstrip(")")
            catalog._call("PUT", f"/namespaces/{CATALOG_NAMESPACE}/jobs/{dag_id}", json={
                "type": "BATCH", "description": f"Airflow DAG {dag_id} (owner {job['owner']})",
                "inputs": [{"namespace": CATALOG_NAMESPACE, "name": n} for n in job["inputs"]],
                "outputs": [{"namespace": CATALOG_NAMESPACE, "name": n} for n in job["outputs"]]})
        return [j["urn"] for j in jobs]

    @task(retries=2, execution_timeout=timedelta(minutes=2))
    def discover(published: list) -> dict:
        from common.lineage import MarquezClient, marquez_url

        catalog = MarquezClient(marquez_url(conn_id=MARQUEZ_CONN_ID))
        found = {"PII": catalog.discover(CATALOG_NAMESPACE, ["PII"]),
                 "sales+Confidential": catalog.discover(CATALOG_NAMESPACE, ["sales", "Confidential"])}
        if not set(found["PII"]) <= set(published):
            raise AssertionError(f"discovery returned datasets that were not published: {found}")
        return found

    published = publish(build_entries())
    published >> publish_dags() >> discover(published)
