"""Stand-in for Google BigQuery: the REST v2 subset that google-cloud-bigquery and the Airflow Google provider call,
with BigQuery's paths and JSON shapes, backed by one SQLite file (so the SQL dialect is SQLite's, not GoogleSQL:
queries should stick to the common subset; `project.dataset.table` / `dataset.table` references are rewritten).

Covered: datasets insert/get/list/delete; tables insert/get/list/delete; tabledata.insertAll (with insertId
de-duplication, per-row insertErrors for unknown fields) and tabledata.list; jobs.insert (query), jobs.get,
jobs.query and jobs.getQueryResults, with named query parameters (@name).
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from local.standins.httpbase import HttpError, Request, Response, Router, serve

router = Router()
_lock = threading.RLock()
_db: dict[str, sqlite3.Connection] = {}
PREFIX = "/bigquery/v2/projects/{project}"
SQLITE_TYPES = {"STRING": "TEXT", "INTEGER": "INTEGER", "INT64": "INTEGER", "FLOAT": "REAL", "FLOAT64": "REAL",
                "NUMERIC": "REAL", "BOOLEAN": "INTEGER", "BOOL": "INTEGER", "TIMESTAMP": "TEXT", "DATE": "TEXT",
                "DATETIME": "TEXT", "JSON": "TEXT", "BYTES": "BLOB"}


def _err(code: int, reason: str, message: str) -> HttpError:
    status = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 409: "ALREADY_EXISTS"}.get(code, "UNKNOWN")
    return HttpError(code, message, {"error": {"code": code, "message": message, "status": status,
                                               "errors": [{"reason": reason, "message": message, "domain": "global"}]}})


def db() -> sqlite3.Connection:
    return _db["conn"]


def _init(path: Path) -> None:
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.executescript("""
        CREATE TABLE IF NOT EXISTS _datasets (project TEXT, dataset TEXT, body TEXT, PRIMARY KEY (project, dataset));
        CREATE TABLE IF NOT EXISTS _tables (project TEXT, dataset TEXT, tbl TEXT, body TEXT, PRIMARY KEY (project, dataset, tbl));
        CREATE TABLE IF NOT EXISTS _jobs (project TEXT, job_id TEXT PRIMARY KEY, body TEXT, result TEXT);
        CREATE TABLE IF NOT EXISTS _insert_ids (project TEXT, dataset TEXT, tbl TEXT, insert_id TEXT,
                                                PRIMARY KEY (project, dataset, tbl, insert_id));
    """)
    _db["conn"] = conn


def physical(dataset: str, table: str) -> str:
    return f'"{dataset}__{table}"'


def _dataset(project: str, dataset: str) -> dict[str, Any]:
    row = db().execute("SELECT body FROM _datasets WHERE project=? AND dataset=?", (project, dataset)).fetchone()
    if row is None:
        raise _err(404, "notFound", f"Not found: Dataset {project}:{dataset}")
    return json.loads(row[0])


def _table(project: str, dataset: str, table: str) -> dict[str, Any]:
    row = db().execute("SELECT body FROM _tables WHERE project=? AND dataset=? AND tbl=?",
                       (project, dataset, table)).fetchone()
    if row is None:
        raise _err(404, "notFound", f"Not found: Table {project}:{dataset}.{table}")
    return json.loads(row[0])


# --- datasets ----------------------------------------------------------------------------
@router.route("POST", PREFIX + "/datasets")
def dataset_insert(request: Request) -> dict:
    body = request.json() or {}
    project = request.params["project"]
    ref = body.get("datasetReference") or {}
    dataset = ref.get("datasetId") or ""
    if not re.fullmatch(r"[A-Za-z0-9_]{1,1024}", dataset):
        raise _err(400, "invalid", f"Invalid dataset ID \"{dataset}\"")
    resource = {"kind": "bigquery#dataset", "id": f"{project}:{dataset}", "location": body.get("location", "US"),
                "datasetReference": {"projectId": project, "datasetId": dataset},
                "creationTime": str(int(time.time() * 1000)), "etag": uuid.uuid4().hex}
    with _lock:
        try:
            db().execute("INSERT INTO _datasets VALUES (?,?,?)", (project, dataset, json.dumps(resource)))
        except sqlite3.IntegrityError:
            raise _err(409, "duplicate", f"Already Exists: Dataset {project}:{dataset}") from None
    return resource


@router.route("GET", PREFIX + "/datasets")
def dataset_list(request: Request) -> dict:
    rows = db().execute("SELECT body FROM _datasets WHERE project=? ORDER BY dataset", (request.params["project"],))
    return {"kind": "bigquery#datasetList", "datasets": [json.loads(b) for (b,) in rows]}


@router.route("GET", PREFIX + "/datasets/{dataset}")
def dataset_get(request: Request) -> dict:
    return _dataset(request.params["project"], request.params["dataset"])


@router.route("DELETE", PREFIX + "/datasets/{dataset}")
def dataset_delete(request: Request) -> Response:
    project, dataset = request.params["project"], request.params["dataset"]
    _dataset(project, dataset)
    with _lock:
        tables = db().execute("SELECT tbl FROM _tables WHERE project=? AND dataset=?", (project, dataset)).fetchall()
        if tables and request.query.get("deleteContents") != "true":
            raise _err(400, "resourceInUse", f"Dataset {project}:{dataset} is still in use")
        for (table,) in tables:
            db().execute(f"DROP TABLE IF EXISTS {physical(dataset, table)}")
        db().execute("DELETE FROM _tables WHERE project=? AND dataset=?", (project, dataset))
        db().execute("DELETE FROM _datasets WHERE project=? AND dataset=?", (project, dataset))
    return Response(204)


# --- tables ------------------------------------------------------------------------------
@router.route("POST", PREFIX + "/datasets/{dataset}/tables")
def table_insert(request: Request) -> dict:
    project, dataset = request.params["project"], request.params["dataset"]
    _dataset(project, dataset)
    body = request.json() or {}
    table = (body.get("tableReference") or {}).get("tableId") or ""
    fields = (body.get("schema") or {}).get("fields") or []
    if not re.fullmatch(r"[A-Za-z0-9_]{1,1024}", table):
        raise _err(400, "invalid", f"Invalid table ID \"{table}\"")
    if not fields:
        raise _err(400, "invalid", "The stand-in needs a schema to create a table")
    columns = []
    for field in fields:
        kind = field.get("type", "STRING").upper()
        if kind not in SQLITE_TYPES:
            raise _err(400, "invalid", f"Field {field.get('name')}: type {kind} is not supported by the stand-in")
        null = " NOT NULL" if field.get("mode") == "REQUIRED" else ""
        columns.append(f'"{field["name"]}" {SQLITE_TYPES[kind]}{null}')
    resource = {"kind": "bigquery#table", "id": f"{project}:{dataset}.{table}", "type": "TABLE",
                "tableReference": {"projectId": project, "datasetId": dataset, "tableId": table},
                "schema": {"fields": [{"mode": "NULLABLE", **f, "type": f.get("type", "STRING").upper()} for f in fields]},
                "creationTime": str(int(time.time() * 1000)), "etag": uuid.uuid4().hex}
    with _lock:
        try:
            db().execute("INSERT INTO _tables VALUES (?,?,?,?)", (project, dataset, table, json.dumps(resource)))
        except sqlite3.IntegrityError:
            raise _err(409, "duplicate", f"Already Exists: Table {project}:{dataset}.{table}") from None
        db().execute(f"CREATE TABLE {physical(dataset, table)} ({', '.join(columns)})")
    return resource


@router.route("GET", PREFIX + "/datasets/{dataset}/tables")
def table_list(request: Request) -> dict:
    project, dataset = request.params["project"], request.params["dataset"]
    rows = db().execute("SELECT body FROM _tables WHERE project=? AND dataset=? ORDER BY tbl", (project, dataset))
    tables = [json.loads(b) for (b,) in rows]
    return {"kind": "bigquery#tableList", "tables": tables, "totalItems": len(tables)}


@router.route("GET", PREFIX + "/datasets/{dataset}/tables/{table}")
def table_get(request: Request) -> dict:
    p = request.params
    resource = _table(p["project"], p["dataset"], p["table"])
    count = db().execute(f"SELECT count(*) FROM {physical(p['dataset'], p['table'])}").fetchone()[0]
    return {**resource, "numRows": str(count)}


@router.route("DELETE", PREFIX + "/datasets/{dataset}/tables/{table}")
def table_delete(request: Request) -> Response:
    p = request.params
    _table(p["project"], p["dataset"], p["table"])
    with _lock:
        db().execute(f"DROP TABLE IF EXISTS {physical(p['dataset'], p['table'])}")
        db().execute("DELETE FROM _tables WHERE project=? AND dataset=? AND tbl=?", (p["project"], p["dataset"], p["table"]))
    return Response(204)


# --- tabledata ---------------------------------------------------------------------------
@router.route("POST", PREFIX + "/datasets/{dataset}/tables/{table}/insertAll")
def insert_all(request: Request) -> dict:
    p = request.params
    resource = _table(p["project"], p["dataset"], p["table"])
    names = [f["name"] for f in resource["schema"]["fields"]]
    body = request.json() or {}
    errors = []
    with _lock:
        for index, row in enumerate(body.get("rows") or []):
            values = row.get("json") or {}
            unknown = sorted(set(values) - set(names))
            if unknown and not body.get("ignoreUnknownValues"):
                errors.append({"index": index, "errors": [{"reason": "invalid", "location": unknown[0],
                                                           "message": f"no such field: {unknown[0]}."}]})
                continue
            insert_id = row.get("insertId")
            if insert_id:  # BigQuery de-duplicates retried rows by insertId (best effort); so does the stand-in
                try:
                    db().execute("INSERT INTO _insert_ids VALUES (?,?,?,?)", (p["project"], p["dataset"], p["table"], insert_id))
                except sqlite3.IntegrityError:
                    continue
            cols = [n for n in names if n in values]
            try:
                db().execute(f"INSERT INTO {physical(p['dataset'], p['table'])} ({', '.join(chr(34) + c + chr(34) for c in cols)}) "
                             f"VALUES ({', '.join('?' for _ in cols)})", [_to_sql(values[c]) for c in cols])
            except sqlite3.IntegrityError as error:
                errors.append({"index": index, "errors": [{"reason": "invalid", "message": str(error)}]})
    response: dict[str, Any] = {"kind": "bigquery#tableDataInsertAllResponse"}
    if errors:
        response["insertErrors"] = errors
    return response


def _to_sql(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return value


def _cell(value: Any) -> dict[str, Any]:
    if value is None:
        return {"v": None}
    if isinstance(value, bool):
        return {"v": "true" if value else "false"}
    if isinstance(value, float) and value.is_integer():
        return {"v": repr(value)}
    return {"v": str(value)}


@router.route("GET", PREFIX + "/datasets/{dataset}/tables/{table}/data")
def tabledata_list(request: Request) -> dict:
    p = request.params
    resource = _table(p["project"], p["dataset"], p["table"])
    names = [f["name"] for f in resource["schema"]["fields"]]
    start = int(request.query.get("pageToken") or request.query.get("startIndex") or 0)
    limit = int(request.query.get("maxResults") or 1000)
    total = db().execute(f"SELECT count(*) FROM {physical(p['dataset'], p['table'])}").fetchone()[0]
    rows = db().execute(f"SELECT {', '.join(chr(34) + n + chr(34) for n in names)} FROM {physical(p['dataset'], p['table'])} "
                        "ORDER BY rowid LIMIT ? OFFSET ?", (limit, start)).fetchall()
    result: dict[str, Any] = {"kind": "bigquery#tableDataList", "totalRows": str(total),
                              "rows": [{"f": [_cell(v) for v in row]} for row in rows]}
    if start + len(rows) < total:
        result["pageToken"] = str(start + len(rows))
    return result


# --- jobs --------------------------------------------------------------------------------
_REF = re.compile(r"`(?:([A-Za-z0-9_-]+)\.)?([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)`|\b([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)\b")


def rewrite(sql: str, known: set[tuple[str, str]]) -> str:
    """`project.dataset.table` / dataset.table → the SQLite table; other dotted names (alias.column) are left alone."""
    def replace(match: re.Match[str]) -> str:
        if match.group(2):
            return physical(match.group(2), match.group(3))
        dataset, table = match.group(4), match.group(5)
        return physical(dataset, table) if (dataset, table) in known else match.group(0)

    return _REF.sub(replace, sql)


def _bq_type(values: list[Any]) -> str:
    sample = next((v for v in values if v is not None), None)
    if isinstance(sample, bool):
        return "BOOLEAN"
    if isinstance(sample, int):
        return "INTEGER"
    if isinstance(sample, float):
        return "FLOAT"
    return "STRING"


def _params(config: dict[str, Any]) -> dict[str, Any]:
    params = {}
    for param in config.get("queryParameters") or []:
        value = (param.get("parameterValue") or {}).get("value")
        kind = (param.get("parameterType") or {}).get("type", "STRING")
        if value is not None and kind in ("INT64", "INTEGER"):
            value = int(value)
        elif value is not None and kind in ("FLOAT64", "FLOAT", "NUMERIC"):
            value = float(value)
        elif value is not None and kind in ("BOOL", "BOOLEAN"):
            value = value.lower() == "true"
        params[param["name"]] = value
    return params


def run_query(project: str, config: dict[str, Any]) -> dict[str, Any]:
    sql = config.get("query") or ""
    known = {(d, t) for d, t in db().execute("SELECT dataset, tbl FROM _tables WHERE project=?", (project,))}
    translated = re.sub(r"@(\w+)", r":\1", rewrite(sql, known))
    with _lock:
        try:
            cursor = db().execute(translated, _params(config))
            rows = cursor.fetchall()
        except sqlite3.Error as error:
            raise _err(400, "invalidQuery", f"{error} [SQLite dialect in the BigQuery stand-in] at: {sql[:200]}") from None
    names = [d[0] for d in cursor.description or []]
    statement = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else "SELECT"
    result: dict[str, Any] = {"schema": {"fields": [{"name": n, "type": _bq_type([r[i] for r in rows]), "mode": "NULLABLE"}
                                                    for i, n in enumerate(names)]},
                              "rows": [{"f": [_cell(v) for v in row]} for row in rows], "totalRows": str(len(rows)),
                              "statementType": statement}
    if statement in ("INSERT", "UPDATE", "DELETE", "MERGE"):
        result["numDmlAffectedRows"] = str(cursor.rowcount)
    return result


def _job_resource(project: str, job_id: str, config: dict[str, Any], result: dict[str, Any], location: str) -> dict[str, Any]:
    now = str(int(time.time() * 1000))
    return {"kind": "bigquery#job", "id": f"{project}:{location}.{job_id}",
            "jobReference": {"projectId": project, "jobId": job_id, "location": location},
            "configuration": {"query": config, "jobType": "QUERY"}, "status": {"state": "DONE"},
            "statistics": {"creationTime": now, "startTime": now, "endTime": now,
                           "query": {"statementType": result["statementType"], "totalBytesProcessed": "0",
                                     **({"numDmlAffectedRows": result["numDmlAffectedRows"]} if "numDmlAffectedRows" in result else {})}}}


@router.route("POST", PREFIX + "/jobs")
def job_insert(request: Request) -> dict:
    project = request.params["project"]
    body = request.json() or {}
    config = (body.get("configuration") or {}).get("query")
    if config is None:
        raise _err(400, "invalid", "the stand-in runs query jobs only (configuration.query)")
    ref = body.get("jobReference") or {}
    job_id = ref.get("jobId") or f"job_{uuid.uuid4().hex}"
    location = ref.get("location") or "US"
    result = run_query(project, config)
    resource = _job_resource(project, job_id, config, result, location)
    with _lock:
        try:
            db().execute("INSERT INTO _jobs VALUES (?,?,?,?)", (project, job_id, json.dumps(resource), json.dumps(result)))
        except sqlite3.IntegrityError:
            raise _err(409, "duplicate", f"Already Exists: Job {project}:{location}.{job_id}") from None
    return resource


def _stored_job(project: str, job_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    row = db().execute("SELECT body, result FROM _jobs WHERE project=? AND job_id=?", (project, job_id)).fetchone()
    if row is None:
        raise _err(404, "notFound", f"Not found: Job {project}:{job_id}")
    return json.loads(row[0]), json.loads(row[1])


@router.route("GET", PREFIX + "/jobs/{job_id}")
def job_get(request: Request) -> dict:
    return _stored_job(request.params["project"], request.params["job_id"])[0]


def _page(result: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
    start = int(query.get("pageToken") or query.get("startIndex") or 0)
    limit = int(query.get("maxResults") or 10000)
    rows = result["rows"][start:start + limit]
    page: dict[str, Any] = {"schema": result["schema"], "rows": rows, "totalRows": result["totalRows"], "jobComplete": True,
                            "totalBytesProcessed": "0", "cacheHit": False}
    if start + len(rows) < len(result["rows"]):
        page["pageToken"] = str(start + len(rows))
    if "numDmlAffectedRows" in result:
        page["numDmlAffectedRows"] = result["numDmlAffectedRows"]
    return page


@router.route("GET", PREFIX + "/queries/{job_id}")
def get_query_results(request: Request) -> dict:
    resource, result = _stored_job(request.params["project"], request.params["job_id"])
    return {"kind": "bigquery#getQueryResultsResponse", "jobReference": resource["jobReference"], **_page(result, request.query)}


@router.route("POST", PREFIX + "/queries")
def jobs_query(request: Request) -> dict:
    project = request.params["project"]
    body = request.json() or {}
    config = {k: body[k] for k in ("query", "queryParameters", "useLegacySql", "parameterMode") if k in body}
    job_id = f"job_{uuid.uuid4().hex}"
    result = run_query(project, config)
    resource = _job_resource(project, job_id, config, result, body.get("location") or "US")
    with _lock:
        db().execute("INSERT INTO _jobs VALUES (?,?,?,?)", (project, job_id, json.dumps(resource), json.dumps(result)))
    query = {"maxResults": str(body["maxResults"])} if body.get("maxResults") else {}
    return {"kind": "bigquery#queryResponse", "jobReference": resource["jobReference"], **_page(result, query)}


@router.route("GET", "/_health")
def health(_: Request) -> dict:
    return {"status": "ok"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", type=Path, required=True)
    args = parser.parse_args()
    _init(args.db)
    serve(router, args.host, args.port, "bigquery-stand-in")


if __name__ == "__main__":
    main()
