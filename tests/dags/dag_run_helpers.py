"""Helpers for dag.test() behaviour tests: fetch a DAG from the bag, read task states and XComs of a run."""

from __future__ import annotations

from typing import Any


def get_dag(dagbag: Any, dag_id: str) -> Any:
    dag = dagbag.get_dag(dag_id)
    assert dag is not None, f"{dag_id} missing; import errors: {dagbag.import_errors}"
    return dag


def task_states(run: Any) -> dict[str, str]:
    """task_id → state for unmapped tasks; mapped instances appear as `task_id[map_index]`."""
    states: dict[str, str] = {}
    for ti in run.get_task_instances():
        key = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
        states[key] = str(ti.state.value if hasattr(ti.state, "value") else ti.state)
    return states


def mapped_indexes(run: Any, task_id: str) -> list[int]:
    return sorted(ti.map_index for ti in run.get_task_instances() if ti.task_id == task_id)


def xcom_value(run: Any, task_id: str, key: str = "return_value", map_index: int = -1) -> Any:
    """The XCom a task instance of this run stored, deserialized as a downstream task would see it."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = (
            session.query(XComModel)
            .filter_by(dag_id=run.dag_id, run_id=run.run_id, task_id=task_id, key=key, map_index=map_index)
            .one_or_none()
        )
        assert row is not None, f"no XCom {key!r} for {task_id}[{map_index}] in {run.run_id}"
        return XComModel.deserialize_value(row)


def try_history(run: Any, task_id: str) -> list[Any]:
    """Earlier tries of a task instance (TaskInstanceHistory), oldest first."""
    from airflow.models.taskinstancehistory import TaskInstanceHistory
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (
            session.query(TaskInstanceHistory)
            .filter_by(dag_id=run.dag_id, run_id=run.run_id, task_id=task_id)
            .order_by(TaskInstanceHistory.try_number)
            .all()
        )
        session.expunge_all()
        return rows
