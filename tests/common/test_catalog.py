"""common.catalog: the catalog is derived from Airflow's and Marquez's answers, never listed by hand."""

from __future__ import annotations

from common.catalog import asset_urn, build_catalog, dag_id_of, marquez_urn, platform_of

DAGS = [
    {"dag_id": "orders_ingest", "owners": ["team-sales"], "tags": [{"name": "sales"}]},
    {"dag_id": "daily_sales", "owners": ["team-analytics"], "tags": [{"name": "analytics"}]},
]
ASSETS = [
    {"uri": "s3://lake/orders/", "producing_tasks": [{"dag_id": "orders_ingest", "task_id": "load"}],
     "consuming_tasks": [], "scheduled_dags": [{"dag_id": "daily_sales"}]},
]
MARQUEZ = [
    {"namespace": "postgres://db:5432", "name": "warehouse.public.customers", "description": None,
     "fields": [{"name": "customer_id", "type": "VARCHAR"}, {"name": "email", "type": "VARCHAR"}]},
    {"namespace": "s3://lake", "name": "orders", "fields": []},
]


def test_platforms_and_urns_come_from_namespaces_and_uris() -> None:
    assert platform_of("postgres://db:5432") == "postgres" and platform_of("kafka://broker:9092") == "kafka"
    assert asset_urn("s3://lake/orders/") == "urn:li:dataset:(urn:li:dataPlatform:s3,lake/orders,PROD)"
    assert marquez_urn(MARQUEZ[0]) == "urn:li:dataset:(urn:li:dataPlatform:postgres,warehouse.public.customers,PROD)"
    assert asset_urn("postgres://db:5432/warehouse/public/customers") == marquez_urn(MARQUEZ[0]), "the host is not part of a table's name"
    assert "%2C" in asset_urn("file:///a,b")  # a comma would break the urn's three parts


def test_every_dag_becomes_a_job_with_the_assets_it_produces_and_consumes() -> None:
    catalog = build_catalog(DAGS, ASSETS, MARQUEZ)
    jobs = {dag_id_of(j): j for j in catalog["dags"]}
    assert set(jobs) == {"orders_ingest", "daily_sales"}
    lake = asset_urn("s3://lake/orders/")
    assert jobs["orders_ingest"]["outputs"] == [lake] and jobs["orders_ingest"]["inputs"] == []
    assert jobs["daily_sales"]["inputs"] == [lake] and jobs["daily_sales"]["owner"] == "team-analytics"
    assert jobs["orders_ingest"]["tags"] == ["sales"]


def test_a_new_dag_or_table_appears_without_a_code_change() -> None:
    before = build_catalog(DAGS, ASSETS, MARQUEZ)
    new_dag = {"dag_id": "churn_model", "owners": ["team-ml"], "tags": []}
    new_table = {"namespace": "postgres://db:5432", "name": "warehouse.ml.churn", "fields": [{"name": "phone", "type": "TEXT"}]}
    after = build_catalog([*DAGS, new_dag], ASSETS, [*MARQUEZ, new_table])
    assert {dag_id_of(j) for j in after["dags"]} - {dag_id_of(j) for j in before["dags"]} == {"churn_model"}
    (churn,) = [d for d in after["datasets"] if d["urn"].endswith(",warehouse.ml.churn,PROD)")]
    assert "PII" in churn["tags"], "a phone column is PII the first time the table shows up"


def test_columns_are_classified_and_assets_marquez_lacks_still_appear_with_their_producers_owner() -> None:
    catalog = build_catalog(DAGS, [*ASSETS, {"uri": "kafka://broker/orders", "producing_tasks": [{"dag_id": "orders_ingest"}]}], MARQUEZ)
    by_urn = {d["urn"]: d for d in catalog["datasets"]}
    customers = by_urn[marquez_urn(MARQUEZ[0])]
    assert "PII" in customers["tags"] and {c["name"]: c["tags"] for c in customers["schema"]}["email"] == ["PII"]
    topic = by_urn[asset_urn("kafka://broker/orders")]
    assert topic["owner"] == "team-sales" and "asset" in topic["tags"]
    assert by_urn[asset_urn("s3://lake/orders/")]["owner"] == "team-sales"
    assert len(by_urn) == 3, "the s3 asset and Marquez's s3 dataset are one entry"
