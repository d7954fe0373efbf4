"""Phase 17 (lineage and governance), run for real:

- governance on the local Postgres `warehouse` database: tags written as column comments, retention deleting rows,
  access reviews revoking grants, and a dropped column failing the run as a breaking schema change;
- OpenLineage events with the custom governance facet sent to Marquez and read back through its API, and the
  catalog published to / discovered from it. Locally Marquez is the Marquez stand-in (local/standins/marquez.py),
  since Maven Central does not serve Marquez's server jar here; tests/local/test_marquez_contract.py holds it and
  the calls of common.lineage to Marquez 0.51.1's API specification. It also stands in for the SaaS catalog
  (DataHub) in the catalog test.
"""

from __future__ import annotations

from typing import Any

import pytest
from dag_run_helpers import get_dag, task_states, xcom_value

GOVERNANCE = "phase17_03_governance_workflows"
LINEAGE = "phase17_01_openlineage"
CATALOG = "phase17_02_data_catalog"


def _query(sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    from common.warehouse_governance import connect

    with connect(conn_id="postgres_default") as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall() if cur.description else []


@pytest.mark.parametrize("dag_id", [LINEAGE, CATALOG, GOVERNANCE])
def test_platform_conventions(dagbag, dag_id: str) -> None:
    dag = get_dag(dagbag, dag_id)
    assert dag.doc_md and "phase17" in dag.tags
    for t in dag.tasks:
        assert t.owner.startswith("team-") and t.execution_timeout is not None


def test_lineage_dag_declares_asset_inlets_and_outlets(dagbag) -> None:
    task = get_dag(dagbag, LINEAGE).get_task("aggregate_sales")
    assert {a.name for a in task.inlets} == {"raw_orders", "raw_customers"} and [a.name for a in task.outlets] == ["daily_sales"]


# ---------------------------------------------------------------------------------------------- governance
@pytest.fixture
def clean_governed_tables(postgres_service, platform_connections) -> None:  # noqa: ANN001
    _query("DROP SCHEMA IF EXISTS governed CASCADE")
    _query("CREATE SCHEMA IF NOT EXISTS governance")
    _query("DROP TABLE IF EXISTS governance.schema_snapshots, governance.access_grants, governance.access_reviews, "
           "governance.retention_log")


def test_governance_tags_enforces_retention_and_reviews_access(dagbag, clean_governed_tables) -> None:
    run = get_dag(dagbag, GOVERNANCE).test(run_conf={"seed_demo_data": True})
    assert run.state == "success", task_states(run)

    classes = xcom_value(run, "classify")
    assert {k: v["classification"] for k, v in classes.items()} == {
        "governed.customers": "PII", "governed.invoices": "Confidential", "governed.page_views": "Public"}
    comments = dict(_query("SELECT a.attname, col_description(a.attrelid, a.attnum) FROM pg_attribute a "
                           "WHERE a.attrelid = 'governed.customers'::regclass AND a.attnum > 0 AND NOT a.attisdropped"))
    assert comments["email"] == "classification:PII" and comments["segment"] == "classification:Public"

    # seeded rows are 1, 10, 45, 400 and 1000 days old: PII keeps 30 days, Confidential 365, Public forever
    assert xcom_value(run, "enforce_retention") == {"governed.customers": 3, "governed.invoices": 2, "governed.page_views": 0}
    counts = {t: _query(f"SELECT count(*) FROM governed.{t}")[0][0] for t in ("customers", "invoices", "page_views")}
    assert counts == {"customers": 2, "invoices": 3, "page_views": 5}
    logged = dict(_query("SELECT table_name, deleted_rows FROM governance.retention_log"))
    assert logged == {"governed.customers": 3, "governed.invoices": 2}, "every table with a retention policy is logged"

    decisions = {d["principal"]: (d["action"], d["reason"]) for d in xcom_value(run, "review_access")}
    assert decisions["bob"] == ("revoke", "PII access without an approver")
    assert decisions["carol"] == ("revoke", "unused for 200 days")
    assert decisions["alice"][0] == "keep" and decisions["dave"][0] == "keep"
    revoked = {r[0] for r in _query("SELECT principal FROM governance.access_grants WHERE revoked_at IS NOT NULL")}
    assert revoked == {"bob", "carol"}


def test_a_dropped_column_fails_the_run_as_a_breaking_change(dagbag, clean_governed_tables) -> None:
    dag = get_dag(dagbag, GOVERNANCE)
    assert dag.test(run_conf={"seed_demo_data": True}).state == "success"  # takes the schema snapshots

    _query("ALTER TABLE governed.customers DROP COLUMN full_name")
    _query("ALTER TABLE governed.invoices ADD COLUMN currency text")  # additive: not breaking
    run = dag.test(run_conf={"seed_demo_data": False})
    states = task_states(run)
    assert run.state == "failed" and states["detect_schema_changes"] == "failed"
    assert states["enforce_retention"] == "success"
    snapshot = _query("SELECT columns FROM governance.schema_snapshots WHERE table_name = 'governed.customers'")[0][0]
    assert "full_name" in snapshot, "the breaking change keeps the old snapshot until acknowledged"
    invoices = _query("SELECT columns FROM governance.schema_snapshots WHERE table_name = 'governed.invoices'")[0][0]
    assert "currency" in invoices, "a compatible change updates the snapshot"


def test_breaking_change_message_names_table_and_column(clean_governed_tables) -> None:
    from datetime import UTC, datetime

    from common.warehouse_governance import compare_with_snapshots, connect, ensure_governance_schema, seed_demo_tables

    with connect(conn_id="postgres_default") as conn:
        ensure_governance_schema(conn)
        seed_demo_tables(conn, datetime.now(UTC))
        assert compare_with_snapshots(conn)["breaking"] == {}
    _query("ALTER TABLE governed.page_views ALTER COLUMN url TYPE varchar(50)")
    with connect(conn_id="postgres_default") as conn:
        assert compare_with_snapshots(conn)["breaking"] == {
            "governed.page_views": ["column url type changed text -> character varying"]}


# ---------------------------------------------------------------------------------------------- Marquez
def test_openlineage_custom_facet_is_read_back_from_marquez(dagbag, marquez_service, platform_connections) -> None:  # noqa: ANN001
    from common.lineage import MarquezClient

    run = get_dag(dagbag, LINEAGE).test()
    assert run.state == "success", task_states(run)
    emitted = xcom_value(run, "emit_segmentation_lineage")
    verified = xcom_value(run, "verify_in_marquez")
    assert verified == {"run_state": "COMPLETED", "inputs": ["daily_sales"], "outputs": ["analytics.customer_segments"]}
    # read back independently of the DAG's own check
    marquez = MarquezClient(marquez_service.url)
    (stored,) = [r for r in marquez.runs(emitted["namespace"], emitted["job"]) if r["id"] == emitted["run_id"]]
    assert marquez.run(emitted["run_id"]) == stored  # GET /api/v1/jobs/runs/{id}: the same run as in the job's list
    governance = stored["facets"]["governance"]
    assert governance["classification"] == "Confidential" and governance["retentionDays"] == 365
    assert governance["_schemaURL"].endswith("GovernanceRunFacet.json")


def test_operators_report_their_own_lineage_to_marquez_with_the_governance_facet(
        airflow_service, marquez_service, postgres_service, s3_service, kafka_service) -> None:  # noqa: ANN001
    """phase17_01 through the real scheduler: the OpenLineage provider's listener in the task processes sends each
    operator's own lineage (parsed SQL, S3 objects, the Kafka topic of its asset outlet) to Marquez, and every run
    carries the platform's custom governance facet ([openlineage] custom_run_facets)."""
    from common.lineage import MarquezClient
    from local.airflow_client import AirflowClient
    from local.services.airflow import OPENLINEAGE_NAMESPACE

    client = AirflowClient()
    run_id = client.trigger(LINEAGE)
    run = client.wait(LINEAGE, run_id)
    states = {t["task_id"]: t["state"] for t in client.task_instances(LINEAGE, run_id)}
    assert run["state"] == "success", states
    marquez = MarquezClient(marquez_service.url)

    def edges(task_id: str) -> dict[str, set[tuple[str, str]]]:
        job = marquez.job(OPENLINEAGE_NAMESPACE, f"{LINEAGE}.{task_id}")
        return {side: {(d["namespace"], d["name"]) for d in job[side]} for side in ("inputs", "outputs")}

    sql = edges("summarise_sql")
    assert {name for _, name in sql["inputs"]} == {"warehouse.lineage_demo.orders"}, sql
    assert {name for _, name in sql["outputs"]} == {"warehouse.lineage_demo.region_revenue"}, sql
    assert all(ns.startswith("postgres://") for ns, _ in sql["inputs"] | sql["outputs"])
    assert edges("export_to_s3")["outputs"] == {("s3://platform-landing", "lineage/region_revenue.csv")}
    assert edges("publish_to_curated") == {"inputs": {("s3://platform-landing", "lineage/region_revenue.csv")},
                                           "outputs": {("s3://platform-landing", "curated/region_revenue.csv")}}
    assert edges("announce_on_kafka")["outputs"] == {("kafka://kafka_default", "platform.events")}
    for task_id in ("summarise_sql", "export_to_s3", "announce_on_kafka"):
        (latest, *_) = marquez.runs(OPENLINEAGE_NAMESPACE, f"{LINEAGE}.{task_id}")
        governance = latest["facets"].get("governance")
        assert governance and governance["ownerTeam"] == "analytics", (task_id, latest["facets"].keys())


def test_catalog_is_synced_from_airflow_and_marquez_and_discovered_by_tag(dagbag, airflow_service, marquez_service, platform_connections) -> None:  # noqa: ANN001
    """Nothing in the catalog is listed by hand: every DAG Airflow's API lists becomes a catalog job, and a table the
    DAG code has never heard of, seen only in Marquez's lineage, is catalogued and classified by its columns."""
    import uuid

    from common.catalog import asset_urn
    from common.lineage import MarquezClient, build_run_events, dataset_name, emit
    from local.airflow_client import AirflowClient

    table = f"warehouse.public.signups_{uuid.uuid4().hex[:8]}"  # a new table, with a PII column, from some pipeline
    emit(build_run_events(namespace="team-growth", job_name="signup_loader", inputs=[], run_facets={},
                          outputs=[("postgres://warehouse.internal:5432", table, {"signup_id": "BIGINT", "email": "VARCHAR"})]),
         marquez_service.url)

    run = get_dag(dagbag, CATALOG).test()
    assert run.state == "success", task_states(run)
    client = AirflowClient()
    dag_ids = sorted(d["dag_id"] for d in client.call("GET", "/dags?limit=1000")["dags"])
    published = xcom_value(run, "publish")
    assert published["dags"] == dag_ids and len(dag_ids) >= 53
    found = xcom_value(run, "discover")
    assert table in found["PII"], "the new table's email column makes it PII in the catalog"
    assert found["dags"] == len(dag_ids)

    # The catalog job of a DAG carries the assets Airflow says it produces, and its owner.
    assets = client.call("GET", "/assets?limit=1000")["assets"]
    producer, asset = next((t["dag_id"], a) for a in assets for t in a["producing_tasks"])
    job = MarquezClient(marquez_service.url).job("catalog", producer)
    assert dataset_name(asset_urn(asset["uri"])) in {d["name"] for d in job["outputs"]}
    owner = client.call("GET", f"/dags/{producer}")["owners"][0]
    assert job["facets"]["ownership"]["owners"][0]["name"] == owner
