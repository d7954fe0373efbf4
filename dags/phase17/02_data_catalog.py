"""Data catalog: dataset metadata and DAGs published to a catalog; tag-based discovery.

Marquez stands in for a SaaS catalog such as DataHub: entries (DataHub-shaped: urn, schema with column tags,
owner, global tags, upstreams) are published as OpenLineage dataset facets — which DataHub also ingests — and
read back from Marquez's dataset API for discovery.
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

# DAG → (owner, tags, datasets read, datasets written): the pipelines published as catalog jobs.
DAG_ENTRIES = {
    "phase14_02_dataset_consumer": ("team-analytics", ["analytics"], ["public.orders", "public.customers"], ["analytics.daily_sales"]),
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
        """Datasets → catalog: one catalog-sync run whose outputs carry schema, tag, owner and doc facets."""
        from common.lineage import catalog_publish_events, dataset_name, emit, marquez_url

        emit(catalog_publish_events(CATALOG_NAMESPACE, "catalog_sync.warehouse", entries, "team-data-platform",
                                    ["catalog"]), marquez_url(conn_id=MARQUEZ_CONN_ID))
        return sorted(dataset_name(e["urn"]) for e in entries)

    @task(retries=3, retry_delay=timedelta(seconds=5), execution_timeout=timedelta(minutes=3))
    def publish_dags(entries: list) -> list:
        """DAGs → catalog jobs with owner and tags, linked to the datasets they read and write."""
        from common.lineage import catalog_publish_events, dataset_name, emit, marquez_url

        by_name = {dataset_name(e["urn"]): e for e in entries}
        published = []
        for dag_id, (owner, tags, inputs, outputs) in DAG_ENTRIES.items():
            emit(catalog_publish_events(CATALOG_NAMESPACE, dag_id, [by_name[o] for o in outputs], owner, tags,
                                        [by_name[i] for i in inputs]),
                 marquez_url(conn_id=MARQUEZ_CONN_ID))
            published.append(dag_id)
        return published

    @task(retries=2, execution_timeout=timedelta(minutes=2))
    def discover(published: list) -> dict:
        from common.lineage import MarquezClient, marquez_url

        catalog = MarquezClient(marquez_url(conn_id=MARQUEZ_CONN_ID))
        found = {"PII": catalog.discover(CATALOG_NAMESPACE, ["PII"]),
                 "sales+Confidential": catalog.discover(CATALOG_NAMESPACE, ["sales", "Confidential"])}
        if not found["PII"] or not set(found["PII"]) <= set(published):
            raise AssertionError(f"tag discovery does not match what was published {published}: {found}")
        return found

    entries = build_entries()
    published = publish(entries)
    published >> publish_dags(entries) >> discover(published)
