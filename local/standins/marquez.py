"""Stand-in for Marquez 0.51.1 (the OpenLineage metadata server), whose server jar Maven Central does not serve here.

Its contract is Marquez's own API specification, `../shared/schemas/marquez-api/openapi.yml`: every route below is
a path and method of that spec, and `tests/local/test_marquez_contract.py` checks that, and validates the answers
against the spec's response schemas. Paths are relative to `/api/v1`, as in the spec:

  POST /lineage                                 an OpenLineage RunEvent in; 201 and no body, as Marquez's resource does
  GET  /namespaces                              the job and dataset namespaces seen in events (limit, offset)
  GET  /namespaces/{namespace}/jobs             jobs with their latest run, by name (limit, offset; totalCount)
  GET  /namespaces/{namespace}/jobs/{job}       one job: inputs/outputs of its latest run, facets, latestRun(s)
  GET  /namespaces/{namespace}/jobs/{job}/runs  its runs, newest first (limit, offset)
  GET  /jobs/runs/{id}                          one run
  GET  /namespaces/{namespace}/datasets         datasets with the facets of their latest event (limit, offset)
  GET  /events/lineage                          the raw events (sortDirection, before, after, limit, offset)

Admin port (Dropwizard's admin connector, which the chart probes): /healthcheck, /ping.
An unknown namespace, job or run answers 404 with Dropwizard's {"code", "message"} body; an event without
eventTime/run.runId/job.namespace/job.name/producer answers 422. Events are stored as JSONB in Postgres `marquez`
(they survive restarts); jobs, runs, datasets and namespaces are derived from them on every read.
What the real server does and this does not (versions, lineage graph, search, tags, deletes): local/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from local.standins.httpbase import HttpError, Request, Response, Router, build_server

API = "/api/v1"
api = Router()
admin = Router()
_settings: dict[str, str] = {"dsn": ""}
RUN_STATES = {"START": "RUNNING", "RUNNING": "RUNNING", "COMPLETE": "COMPLETED", "FAIL": "FAILED", "ABORT": "ABORTED"}
TERMINAL = ("COMPLETE", "FAIL", "ABORT")
LATEST_RUNS = 10  # Marquez's Job.latestRuns holds the 10 most recent runs

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

# Every dataset an event names, one row per (event, dataset).
_DATASETS_SQL = """
SELECT e.id AS event_id, d->>'namespace' AS ds_namespace, d->>'name' AS ds_name, d AS dataset, side,
       e.received_at, e.event_type, e.event_time
FROM lineage_events e,
     LATERAL (SELECT 'inputs' AS side, x AS d FROM jsonb_array_elements(
                  CASE jsonb_typeof(e.payload->'inputs') WHEN 'array' THEN e.payload->'inputs' ELSE '[]' END) x
              UNION ALL
              SELECT 'outputs', x FROM jsonb_array_elements(
                  CASE jsonb_typeof(e.payload->'outputs') WHEN 'array' THEN e.payload->'outputs' ELSE '[]' END) x) s
"""


def _connect():
    import psycopg

    return psycopg.connect(_settings["dsn"], autocommit=True, connect_timeout=5)


def _rows(query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with _connect() as conn:
        return conn.execute(query, params).fetchall()


def _error(status: int, message: str) -> HttpError:
    """Dropwizard's error body, which Marquez answers with: {"code": 404, "message": "..."}."""
    return HttpError(status, message, {"code": status, "message": message})


def _parse_time(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _ts(value: Any) -> str | None:
    """Marquez's timestamp form: ISO-8601 in UTC with a `Z` (Jackson's Instant), never Python's `str(datetime)`."""
    if value is None:
        return None
    return _parse_time(value).astimezone(UTC).isoformat().replace("+00:00", "Z")


def _page(request: Request) -> tuple[int, int]:
    try:
        limit, offset = int(request.query.get("limit", "100")), int(request.query.get("offset", "0"))
    except ValueError:
        raise _error(400, "limit and offset must be integers") from None
    if limit < 0 or offset < 0:
        raise _error(400, "limit and offset must be >= 0")
    return limit, offset


def _require_namespace(namespace: str) -> None:
    found = _rows("SELECT 1 FROM lineage_events WHERE job_namespace = %s LIMIT 1", (namespace,)) or \
        _rows(f"SELECT 1 FROM ({_DATASETS_SQL}) ds WHERE ds_namespace = %s LIMIT 1", (namespace,))
    if not found:
        raise _error(404, f"Namespace '{namespace}' not found.")


# ------------------------------------------------------------------------------------------------ write side
@api.route("POST", API + "/lineage")
def post_lineage(request: Request) -> Response:
    event = request.json()
    if not isinstance(event, dict):
        raise _error(400, "Unable to process JSON: the body must be an OpenLineage RunEvent object")
    problems = [f"{k} must not be null" for k in ("eventTime", "run", "job", "producer") if not event.get(k)]
    if not problems and not (event["run"] or {}).get("runId"):
        problems.append("run.runId must not be null")
    if not problems and not {"namespace", "name"} <= set(event["job"] or {}):
        problems.append("job.namespace and job.name must not be null")
    if not problems:
        try:
            _parse_time(event["eventTime"])
            uuid.UUID(str(event["run"]["runId"]))
        except ValueError as error:
            problems.append(f"invalid eventTime or run.runId: {error}")
    if problems:
        raise HttpError(422, "; ".join(problems), {"errors": problems})
    with _connect() as conn:
        conn.execute(
            "INSERT INTO lineage_events (event_time, event_type, run_uuid, job_namespace, job_name, payload) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (_parse_time(event["eventTime"]), event.get("eventType"), str(event["run"]["runId"]),
             event["job"]["namespace"], event["job"]["name"], json.dumps(event)),
        )
    return Response(201, None)


# ------------------------------------------------------------------------------------------------ read side
def _dataset_ids(events: list[dict[str, Any]], side: str) -> list[dict[str, str]]:
    seen: dict[tuple[str, str], dict[str, str]] = {}
    for event in events:
        for ds in event.get(side) or []:
            seen[(ds["namespace"], ds["name"])] = {"namespace": ds["namespace"], "name": ds["name"]}
    return [seen[k] for k in sorted(seen)]


def _job_version(namespace: str, name: str, inputs: list[dict[str, str]], outputs: list[dict[str, str]]) -> str:
    """A version UUID derived from the job and its datasets, as Marquez derives job versions from their content."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, json.dumps([namespace, name, inputs, outputs], sort_keys=True)))


def _run(run_id: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(events, key=lambda e: _parse_time(e["eventTime"]))
    state_events = [e for e in ordered if e.get("eventType") in RUN_STATES]
    started = next((e["eventTime"] for e in ordered if e.get("eventType") == "START"), None)
    ended = next((e["eventTime"] for e in reversed(ordered) if e.get("eventType") in TERMINAL), None)
    facets: dict[str, Any] = {}
    for e in ordered:
        facets.update((e.get("run") or {}).get("facets") or {})
    nominal = facets.get("nominalTime") or {}
    job = ordered[-1]["job"]
    inputs, outputs = _dataset_ids(ordered, "inputs"), _dataset_ids(ordered, "outputs")
    duration = None
    if started and ended:
        duration = int((_parse_time(ended) - _parse_time(started)).total_seconds() * 1000)
    return {"id": run_id, "createdAt": _ts(ordered[0]["eventTime"]), "updatedAt": _ts(ordered[-1]["eventTime"]),
            "nominalStartTime": _ts(nominal.get("nominalStartTime")), "nominalEndTime": _ts(nominal.get("nominalEndTime")),
            "state": RUN_STATES[state_events[-1]["eventType"]] if state_events else "NEW",
            "startedAt": _ts(started), "endedAt": _ts(ended), "durationMs": duration, "args": {},
            "jobVersion": {"namespace": job["namespace"], "name": job["name"],
                           "version": _job_version(job["namespace"], job["name"], inputs, outputs)},
            "facets": facets}


def _runs_of(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Runs newest first, as Marquez lists them."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        grouped.setdefault(str(e["run"]["runId"]), []).append(e)
    runs = [_run(rid, evs) for rid, evs in grouped.items()]
    return sorted(runs, key=lambda r: _parse_time(r["createdAt"]), reverse=True)


def _job_events(namespace: str, name: str | None = None) -> dict[str, list[dict[str, Any]]]:
    query = "SELECT job_name, payload FROM lineage_events WHERE job_namespace = %s"
    params: tuple[Any, ...] = (namespace,)
    if name is not None:
        query += " AND job_name = %s"
        params += (name,)
    grouped: dict[str, list[dict[str, Any]]] = {}
    for job_name, payload in _rows(query + " ORDER BY event_time, id", params):
        grouped.setdefault(job_name, []).append(payload)
    return grouped


def _job(namespace: str, name: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    runs = _runs_of(events)
    latest_events = [e for e in events if str(e["run"]["runId"]) == runs[0]["id"]]
    inputs, outputs = _dataset_ids(latest_events, "inputs"), _dataset_ids(latest_events, "outputs")
    facets: dict[str, Any] = {}
    for e in events:
        facets.update((e.get("job") or {}).get("facets") or {})
    job = {"id": {"namespace": namespace, "name": name}, "type": "BATCH", "name": name, "simpleName": name,
           "createdAt": _ts(events[0]["eventTime"]), "updatedAt": _ts(events[-1]["eventTime"]),
           "namespace": namespace, "inputs": inputs, "outputs": outputs,
           "latestRun": runs[0], "latestRuns": runs[:LATEST_RUNS], "facets": facets,
           "currentVersion": runs[0]["jobVersion"]["version"]}
    description = (facets.get("documentation") or {}).get("description")
    if description:
        job["description"] = description
    return job


@api.route("GET", API + "/namespaces")
def namespaces(request: Request) -> dict:
    limit, offset = _page(request)
    rows = _rows(f"""
        SELECT ns, min(received_at), max(received_at) FROM (
            SELECT job_namespace AS ns, received_at FROM lineage_events
            UNION ALL
            SELECT ds_namespace, received_at FROM ({_DATASETS_SQL}) ds
        ) s GROUP BY ns ORDER BY ns LIMIT %s OFFSET %s""", (limit, offset))
    return {"namespaces": [{"name": ns, "createdAt": _ts(created), "updatedAt": _ts(updated),
                            "ownerName": "anonymous", "description": None} for ns, created, updated in rows]}


@api.route("GET", API + "/namespaces/{namespace}/jobs")
def jobs(request: Request) -> dict:
    namespace = unquote(request.params["namespace"])
    limit, offset = _page(request)
    _require_namespace(namespace)
    grouped = _job_events(namespace)
    names = sorted(grouped)
    return {"jobs": [_job(namespace, n, grouped[n]) for n in names[offset:offset + limit]], "totalCount": len(names)}


@api.route("GET", API + "/namespaces/{namespace}/jobs/{job}")
def job(request: Request) -> dict:
    namespace, name = unquote(request.params["namespace"]), unquote(request.params["job"])
    _require_namespace(namespace)
    events = _job_events(namespace, name).get(name)
    if not events:
        raise _error(404, f"Job '{name}' not found.")
    return _job(namespace, name, events)


@api.route("GET", API + "/namespaces/{namespace}/jobs/{job}/runs")
def job_runs(request: Request) -> dict:
    namespace, name = unquote(request.params["namespace"]), unquote(request.params["job"])
    limit, offset = _page(request)
    _require_namespace(namespace)
    events = _job_events(namespace, name).get(name)
    if not events:
        raise _error(404, f"Job '{name}' not found.")
    return {"runs": _runs_of(events)[offset:offset + limit]}


@api.route("GET", API + "/jobs/runs/{id}")
def run(request: Request) -> dict:
    run_id = unquote(request.params["id"])
    events = [p for (p,) in _rows("SELECT payload FROM lineage_events WHERE run_uuid = %s ORDER BY event_time, id",
                                  (run_id,))]
    if not events:
        raise _error(404, f"Run '{run_id}' not found.")
    return _run(run_id, events)


Sighting = tuple[dict[str, Any], str, datetime, str | None, datetime]  # dataset JSON, side, received, event type/time


def _dataset(namespace: str, name: str, seen: list[Sighting]) -> dict[str, Any]:
    """Marquez's Dataset from every event naming it; facets are those of its latest event (its current version)."""
    facets = seen[-1][0].get("facets") or {}
    fields = []
    for field in (facets.get("schema") or {}).get("fields") or []:
        entry = {"name": field["name"], "tags": []}
        if field.get("type"):
            entry["type"] = field["type"]
        if field.get("description"):
            entry["description"] = field["description"]
        fields.append(entry)
    modified = [at for _, side, _, event_type, at in seen if side == "outputs" and event_type == "COMPLETE"]
    dataset = {"id": {"namespace": namespace, "name": name}, "type": "DB_TABLE", "name": name, "physicalName": name,
               "createdAt": _ts(seen[0][2]), "updatedAt": _ts(seen[-1][2]), "namespace": namespace,
               "sourceName": namespace, "fields": fields, "tags": [],
               "lastModifiedAt": _ts(max(modified)) if modified else None, "facets": facets, "deleted": False}
    description = (facets.get("documentation") or {}).get("description")
    if description:
        dataset["description"] = description
    return dataset


@api.route("GET", API + "/namespaces/{namespace}/datasets")
def datasets(request: Request) -> dict:
    namespace = unquote(request.params["namespace"])
    limit, offset = _page(request)
    _require_namespace(namespace)
    seen: dict[str, list[Sighting]] = {}
    rows = _rows(f"SELECT ds_name, dataset, side, received_at, event_type, event_time FROM ({_DATASETS_SQL}) ds "
                 "WHERE ds_namespace = %s ORDER BY event_time, event_id", (namespace,))
    for name, ds, side, received, event_type, event_time in rows:
        seen.setdefault(name, []).append((ds, side, received, event_type, event_time))
    names = sorted(seen)
    return {"datasets": [_dataset(namespace, n, seen[n]) for n in names[offset:offset + limit]],
            "totalCount": len(names)}


@api.route("GET", API + "/events/lineage")
def lineage_events(request: Request) -> dict:
    limit, offset = _page(request)
    direction = "ASC" if request.query.get("sortDirection", "desc").lower() == "asc" else "DESC"
    where, params = [], []
    for key, op in (("before", "<"), ("after", ">")):
        if request.query.get(key):
            try:
                params.append(_parse_time(request.query[key]))
            except ValueError:
                raise _error(400, f"{key} must be an ISO-8601 date-time") from None
            where.append(f"event_time {op} %s")
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    total = _rows(f"SELECT count(*) FROM lineage_events {clause}", tuple(params))[0][0]
    rows = _rows(f"SELECT payload FROM lineage_events {clause} ORDER BY event_time {direction}, id {direction} "
                 "LIMIT %s OFFSET %s", (*params, limit, offset))
    return {"events": [payload for (payload,) in rows], "totalCount": total}


# ------------------------------------------------------------------------------------------------ admin port
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
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--admin-port", type=int, required=True)
    args = parser.parse_args()
    _settings["dsn"] = os.environ["MARQUEZ_DB_URL"]  # by environment: it carries a password
    with _connect() as conn:
        conn.execute(SCHEMA)
    admin_server = build_server(admin, args.host, args.admin_port, "marquez-admin")
    threading.Thread(target=admin_server.serve_forever, daemon=True).start()
    print(f"marquez stand-in: API http://{args.host}:{args.port}{API}, admin http://{args.host}:{args.admin_port}",
          flush=True)
    build_server(api, args.host, args.port, "marquez").serve_forever()


if __name__ == "__main__":
    main()
