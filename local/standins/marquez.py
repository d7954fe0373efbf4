"""Stand-in for Marquez (the OpenLineage metadata server), whose server jar Maven Central does not serve here.

Speaks the subset of Marquez's HTTP API that Airflow's OpenLineage provider and the tests use, with the same paths
and JSON shapes: POST /api/v1/lineage (OpenLineage RunEvents), GET /api/v1/namespaces, .../jobs, .../jobs/{job},
.../jobs/{job}/runs, .../datasets, /api/v1/events/lineage, /api/v1/runs/{id}; admin port: /healthcheck, /ping.
Events are stored as JSONB in the Postgres `marquez` database, so they survive restarts.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
from typing import Any
from urllib.parse import unquote

from local.standins.httpbase import HttpError, Request, Response, Router, build_server

api = Router()
admin = Router()
_settings: dict[str, str] = {"dsn": ""}
RUN_STATES = {"START": "RUNNING", "RUNNING": "RUNNING", "COMPLETE": "COMPLETED", "FAIL": "FAILED", "ABORT": "ABORTED"}

SCHEMA = """
CREATE TABLE IF NOT EXISTS lineage_events (
    id           bigserial PRIMARY KEY,
    event_time   timestamptz NOT NULL,
    event_type   text,
    run_uuid     text NOT NULL,
    job_namespace text NOT NULL,
    job_name     text NOT NULL,
    payload      jsonb NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS lineage_events_job ON lineage_events (job_namespace, job_name);
CREATE INDEX IF NOT EXISTS lineage_events_run ON lineage_events (run_uuid);
"""


def _connect():
    import psycopg

    return psycopg.connect(_settings["dsn"], autocommit=True, connect_timeout=5)


def _rows(query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with _connect() as conn:
        return conn.execute(query, params).fetchall()


@api.route("POST", "/api/v1/lineage")
def post_lineage(request: Request) -> Response:
    event = request.json()
    if not isinstance(event, dict):
        raise HttpError(400, "body must be an OpenLineage RunEvent object")
    missing = [k for k in ("eventTime", "run", "job", "producer") if k not in event]
    if missing or "runId" not in (event.get("run") or {}) or not {"namespace", "name"} <= set(event.get("job") or {}):
        raise HttpError(422, f"invalid OpenLineage event: missing {missing or 'run.runId/job.namespace/job.name'}")
    with _connect() as conn:
        conn.execute(
            "INSERT INTO lineage_events (event_time, event_type, run_uuid, job_namespace, job_name, payload) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (event["eventTime"], event.get("eventType"), event["run"]["runId"], event["job"]["namespace"],
             event["job"]["name"], json.dumps(event)),
        )
    return Response(201, None)


def _dataset_refs(events: list[dict[str, Any]], side: str) -> list[dict[str, str]]:
    seen: dict[tuple[str, str], dict[str, str]] = {}
    for event in events:
        for ds in event.get(side) or []:
            seen[(ds["namespace"], ds["name"])] = {"namespace": ds["namespace"], "name": ds["name"]}
    return list(seen.values())


def _run(run_uuid: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(events, key=lambda e: e["eventTime"])
    state_events = [e for e in ordered if e.get("eventType") in RUN_STATES]
    started = next((e["eventTime"] for e in ordered if e.get("eventType") == "START"), None)
    ended = next((e["eventTime"] for e in reversed(ordered) if e.get("eventType") in ("COMPLETE", "FAIL", "ABORT")), None)
    facets: dict[str, Any] = {}
    for e in ordered:
        facets.update((e.get("run") or {}).get("facets") or {})
    return {"id": run_uuid, "state": RUN_STATES[state_events[-1]["eventType"]] if state_events else "NEW",
            "createdAt": ordered[0]["eventTime"], "updatedAt": ordered[-1]["eventTime"],
            "startedAt": started, "endedAt": ended, "facets": facets,
            "jobVersion": {"namespace": ordered[0]["job"]["namespace"], "name": ordered[0]["job"]["name"]}}


def _job_events(namespace: str, name: str | None = None) -> dict[tuple[str, str], list[dict[str, Any]]]:
    query = "SELECT job_name, payload FROM lineage_events WHERE job_namespace = %s"
    params: tuple[Any, ...] = (namespace,)
    if name is not None:
        query += " AND job_name = %s"
        params += (name,)
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for job_name, payload in _rows(query + " ORDER BY event_time, id", params):
        grouped.setdefault((namespace, job_name), []).append(payload)
    return grouped


def _job(namespace: str, name: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        runs.setdefault(e["run"]["runId"], []).append(e)
    latest = max(runs.items(), key=lambda item: max(ev["eventTime"] for ev in item[1]))
    facets: dict[str, Any] = {}
    for e in events:
        facets.update((e.get("job") or {}).get("facets") or {})
    return {"id": {"namespace": namespace, "name": name}, "type": "BATCH", "name": name, "simpleName": name,
            "namespace": namespace, "createdAt": events[0]["eventTime"], "updatedAt": events[-1]["eventTime"],
            "inputs": _dataset_refs(events, "inputs"), "outputs": _dataset_refs(events, "outputs"),
            "latestRun": _run(*latest), "facets": facets}


@api.route("GET", "/api/v1/namespaces")
def namespaces(_: Request) -> dict:
    rows = _rows("SELECT job_namespace, min(received_at), max(received_at) FROM lineage_events GROUP BY 1 ORDER BY 1")
    return {"namespaces": [{"name": ns, "createdAt": created, "updatedAt": updated, "ownerName": "anonymous",
                            "description": None} for ns, created, updated in rows]}


@api.route("GET", "/api/v1/namespaces/{namespace}/jobs")
def jobs(request: Request) -> dict:
    namespace = unquote(request.params["namespace"])
    found = [_job(ns, name, events) for (ns, name), events in sorted(_job_events(namespace).items())]
    limit, offset = int(request.query.get("limit", "100")), int(request.query.get("offset", "0"))
    return {"jobs": found[offset:offset + limit], "totalCount": len(found)}


@api.route("GET", "/api/v1/namespaces/{namespace}/jobs/{job}")
def job(request: Request) -> dict:
    namespace, name = unquote(request.params["namespace"]), unquote(request.params["job"])
    events = _job_events(namespace, name).get((namespace, name))
    if not events:
        raise HttpError(404, f"Job '{name}' not found in namespace '{namespace}'")
    return _job(namespace, name, events)


@api.route("GET", "/api/v1/namespaces/{namespace}/jobs/{job}/runs")
def job_runs(request: Request) -> dict:
    namespace, name = unquote(request.params["namespace"]), unquote(request.params["job"])
    runs: dict[str, list[dict[str, Any]]] = {}
    for e in _job_events(namespace, name).get((namespace, name), []):
        runs.setdefault(e["run"]["runId"], []).append(e)
    result = sorted((_run(rid, evs) for rid, evs in runs.items()), key=lambda r: r["createdAt"], reverse=True)
    return {"runs": result, "totalCount": len(result)}


@api.route("GET", "/api/v1/runs/{run_id}")
def run(request: Request) -> dict:
    events = [p for (p,) in _rows("SELECT payload FROM lineage_events WHERE run_uuid = %s ORDER BY event_time, id",
                                  (request.params["run_id"],))]
    if not events:
        raise HttpError(404, f"Run '{request.params['run_id']}' not found")
    return _run(request.params["run_id"], events)


@api.route("GET", "/api/v1/namespaces/{namespace}/datasets")
def datasets(request: Request) -> dict:
    namespace = unquote(request.params["namespace"])
    found: dict[str, dict[str, Any]] = {}
    for (payload,) in _rows("SELECT payload FROM lineage_events ORDER BY event_time, id"):
        for side in ("inputs", "outputs"):
            for ds in payload.get(side) or []:
                if ds["namespace"] == namespace:
                    found[ds["name"]] = {"id": {"namespace": namespace, "name": ds["name"]}, "type": "DB_TABLE",
                                         "name": ds["name"], "namespace": namespace, "facets": ds.get("facets") or {}}
    return {"datasets": [found[k] for k in sorted(found)], "totalCount": len(found)}


@api.route("GET", "/api/v1/events/lineage")
def lineage_events(request: Request) -> dict:
    limit = int(request.query.get("limit", "100"))
    direction = "ASC" if request.query.get("sortDirection", "desc").lower() == "asc" else "DESC"
    rows = _rows(f"SELECT payload FROM lineage_events ORDER BY event_time {direction}, id {direction} LIMIT %s", (limit,))
    return {"events": [payload for (payload,) in rows], "totalCount": len(rows)}


@admin.route("GET", "/ping")
def ping(_: Request) -> Response:
    return Response(200, "pong")


@admin.route("GET", "/healthcheck")
def healthcheck(_: Request) -> Response:
    try:
        _rows("SELECT 1")
    except Exception as error:
        return Response(500, {"postgresql": {"healthy": False, "message": str(error)}})
    return Response(200, {"postgresql": {"healthy": True, "duration": 0}, "deadlocks": {"healthy": True}})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--admin-port", type=int, required=True)
    args = parser.parse_args()
    _settings["dsn"] = os.environ["MARQUEZ_DB_URL"]  # by environment: it carries a password
    with _connect() as conn:
        conn.execute(SCHEMA)
    admin_server = build_server(admin, args.host, args.admin_port, "marquez-admin")
    threading.Thread(target=admin_server.serve_forever, daemon=True).start()
    print(f"marquez stand-in: API http://{args.host}:{args.port}, admin http://{args.host}:{args.admin_port}", flush=True)
    build_server(api, args.host, args.port, "marquez").serve_forever()


if __name__ == "__main__":
    main()
