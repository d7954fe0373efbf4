"""The generated contract docs (graph + needs table) are built from a real DagBag and the manifests, and are current."""

from __future__ import annotations

from types import SimpleNamespace

from contract.docs import Edge, dag_edges, needs_table, service_edges, to_dot


def _task(kind: str, **attrs):
    return type(kind, (), {"outlets": [], "inlets": [], "pool": "default_pool", "task_id": attrs.get("task_id", "t"), **attrs})()


def test_edges_follow_assets_triggers_and_sensors() -> None:
    from airflow.sdk import Asset

    orders = Asset("s3://lake/orders")
    producer = SimpleNamespace(dag_id="phase14_01_p", timetable=None, tasks=[_task("PythonOperator", outlets=[orders])])
    consumer = SimpleNamespace(dag_id="phase14_02_c", timetable=SimpleNamespace(asset_condition=orders), tasks=[])
    parent = SimpleNamespace(dag_id="phase13_02_t", timetable=None,
                             tasks=[_task("TriggerDagRunOperator", trigger_dag_id="phase13_03_d", task_id="go")])
    sensor = SimpleNamespace(dag_id="phase13_01_s", timetable=None,
                             tasks=[_task("ExternalTaskSensor", external_dag_id="phase13_02_t", task_id="wait")])
    assert dag_edges([producer, consumer, parent, sensor]) == [
        Edge("phase13_02_t", "phase13_01_s", "sensor", "wait"),
        Edge("phase13_02_t", "phase13_03_d", "trigger", "go"),
        Edge("phase14_01_p", "phase14_02_c", "asset", "s3://lake/orders"),
    ]


def test_dot_and_table_name_every_dag_and_service() -> None:
    manifest = {
        "phase9_01_db": {"services": ["postgres"], "connections": {"postgres_default": {}}, "variables": {}, "pools": {"etl": {"slots": 2}},
                         "assets": {"produces": ["postgres://w/orders"], "consumes": []}, "topics": [], "databases": ["warehouse"],
                         "buckets": [], "packages": []},
    }
    dot = to_dot(manifest, service_edges(manifest))
    assert '"phase9_01_db" -> "svc:postgres"' in dot and 'subgraph "cluster_phase9"' in dot
    table = needs_table(manifest, {"phase9_01_db": "dags/phase9/01_database_integration.py"})
    assert "| [`phase9_01_db`](../../dags/phase9/01_database_integration.py) | `postgres` | `postgres_default` | — | `etl (2)` |" in table


def test_committed_docs_are_current() -> None:
    from contract.docs import OUT, build

    for name, text in build().items():
        assert (OUT / name).read_text() == text, f"docs/contract/{name} is stale: run .venv/bin/python -m contract.docs"
