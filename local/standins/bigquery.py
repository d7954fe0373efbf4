"""Stand-in for Google BigQuery: the REST v2 subset that google-cloud-bigquery and the Airflow Google provider's
BigQueryHook call, with BigQuery's paths and JSON shapes, backed by one SQLite file (so the SQL dialect is SQLite's,
not GoogleSQL: queries should stick to the common subset; `project.dataset.table` / `dataset.table` references are
rewritten).

Covered:
- datasets insert/get/list/delete; tables insert/get/list/delete, with column partitioning (`timePartitioning`
  `{type: DAY|MONTH|YEAR|HOUR, field}` on a DATE, TIMESTAMP or DATETIME column);
- load jobs with their data in a media upload, as `Client.load_table_from_file` / `load_table_from_json` send them:
  `POST /upload/bigquery/v2/projects/{p}/jobs?uploadType=multipart` (the job resource and the data in one
  multipart/related body) or `?uploadType=resumable` (the job resource; the session URL comes back in `Location`, the
  data is PUT to it in chunks with `Content-Range`, answered 308 + `Range` until the last one, then 200 with the job).
  Formats CSV (`skipLeadingRows`, `fieldDelimiter`, `quote`, `nullMarker`, `allowJaggedRows`) and
  NEWLINE_DELIMITED_JSON (`ignoreUnknownValues`); `maxBadRecords`; `createDisposition`; `writeDisposition`
  WRITE_TRUNCATE / WRITE_APPEND / WRITE_EMPTY on a table or on one partition through a decorator (`table$20260402`),
  which, as in BigQuery, refuses rows of another partition. A load is atomic: a failed one leaves the table as it was.
- query jobs: jobs.insert (query), jobs.get, jobs.query and jobs.getQueryResults, with named query parameters (@name);
- tabledata.insertAll (insertId de-duplication, per-row insertErrors for unknown fields) and tabledata.list.

Errors have BigQuery's shape, `{"error": {"code", "message", "status", "errors": [{"reason", "message", "domain"}]}}`:
404 notFound, 409 duplicate, 400 invalid / invalidQuery. As in BigQuery, a load job that fails while it runs is not an
HTTP error: the job is DONE with `status.errorResult` (reason notFound, duplicate or invalid), which the client raises.
Every job runs within its jobs.insert request; a load job is nevertheless answered RUNNING, as BigQuery answers one,
so the client polls jobs.get (DONE) the way it does against BigQuery.

Stand-in only: `GET /_recorded?after=<id>&limit=<n>` lists the API calls served (`{"last": id, "calls": [{id, at,
api, method, path, query}]}`, `api` like `jobs.insert`, `upload.start` (uploadType in `query`), `upload.chunk`,
`tabledata.insertAll`), so a test can tell a load job from streaming inserts; `GET /_health`.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from local.standins.httpbase import Handler, HttpError, Request, Response, Router, serve

router = Router()
_lock = threading.RLock()
_db: dict[str, sqlite3.Connection] = {}
PREFIX = "/bigquery/v2/projects/{project}"
UPLOAD = "/upload/bigquery/v2/projects/{project}/jobs"
SQLITE_TYPES = {
    "STRING": "TEXT",
    "INTEGER": "INTEGER",
    "FLOAT": "REAL",
    "NUMERIC": "REAL",
    "BIGNUMERIC": "REAL",
    "BOOLEAN": "INTEGER",
    "TIMESTAMP": "TEXT",
    "DATE": "TEXT",
    "DATETIME": "TEXT",
    "JSON": "TEXT",
    "BYTES": "BLOB",
}
STANDARD_SQL_NAMES = {"INT64": "INTEGER", "FLOAT64": "FLOAT", "BOOL": "BOOLEAN"}  # the API answers the legacy names
PARTITION_DIGITS = {"YEAR": 4, "MONTH": 6, "DAY": 8, "HOUR": 10}
PARTITION_COLUMN_TYPES = ("DATE", "TIMESTAMP", "DATETIME")
SOURCE_FORMATS = ("CSV", "NEWLINE_DELIMITED_JSON")
WRITE_DISPOSITIONS = ("WRITE_APPEND", "WRITE_TRUNCATE", "WRITE_EMPTY")
CREATE_DISPOSITIONS = ("CREATE_IF_NEEDED", "CREATE_NEVER")
NAME = re.compile(r"[A-Za-z0-9_]{1,1024}")
JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,1024}")
RECORDED_KEEP = 20_000


def _err(code: int, reason: str, message: str) -> HttpError:
    status = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 409: "ALREADY_EXISTS"}.get(code, "UNKNOWN")
    body = {
        "error": {
            "code": code,
            "message": message,
            "status": status,
            "errors": [{"reason": reason, "message": message, "domain": "global"}],
        }
    }
    return HttpError(code, message, body)


def _reason(error: HttpError) -> tuple[str, str]:
    """(reason, message) of a BigQuery-shaped error."""
    detail = (error.body.get("error") or {}) if isinstance(error.body, dict) else {}
    errors = detail.get("errors") or [{}]
    return errors[0].get("reason", "invalid"), detail.get("message") or str(error)


def db() -> sqlite3.Connection:
    return _db["conn"]


def partition_key(value: Any, kind: str) -> str:
    """The partition id of a DATE/TIMESTAMP/DATETIME value (`20260402` for DAY); `__NULL__` for NULL."""
    if value is None:
        return "__NULL__"
    return re.sub(r"\D", "", str(value)[:13])[: PARTITION_DIGITS[kind]]


def _init(path: Path) -> None:
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.executescript("""
        CREATE TABLE IF NOT EXISTS _datasets (project TEXT, dataset TEXT, body TEXT, PRIMARY KEY (project, dataset));
        CREATE TABLE IF NOT EXISTS _tables (project TEXT, dataset TEXT, tbl TEXT, body TEXT,
                                            PRIMARY KEY (project, dataset, tbl));
        CREATE TABLE IF NOT EXISTS _jobs (project TEXT, job_id TEXT PRIMARY KEY, body TEXT, result TEXT);
        CREATE TABLE IF NOT EXISTS _insert_ids (project TEXT, dataset TEXT, tbl TEXT, insert_id TEXT,
                                                PRIMARY KEY (project, dataset, tbl, insert_id));
        CREATE TABLE IF NOT EXISTS _calls (id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL, api TEXT, method TEXT,
                                           path TEXT, query TEXT);
    """)
    conn.create_function("bq_partition", 2, partition_key, deterministic=True)
    _db["conn"] = conn


def api(method: str, pattern: str, name: str) -> Callable[[Handler], Handler]:
    """Register a BigQuery API route: served under the stand-in's lock (one SQLite connection) and recorded."""

    def register(handler: Handler) -> Handler:
        def served(request: Request) -> Any:
            with _lock:
                cursor = db().execute(
                    "INSERT INTO _calls (at, api, method, path, query) VALUES (?,?,?,?,?)",
                    (time.time(), name, request.method, request.path, json.dumps(request.query)),
                )
                if cursor.lastrowid and cursor.lastrowid % 1000 == 0:
                    db().execute("DELETE FROM _calls WHERE id <= ?", (cursor.lastrowid - RECORDED_KEEP,))
                return handler(request)

        router.route(method, pattern)(served)
        return handler

    return register


def physical(dataset: str, table: str) -> str:
    return f'"{dataset}__{table}"'


def _quoted(names: list[str]) -> str:
    return ", ".join(f'"{n}"' for n in names)


def _now_ms() -> str:
    return str(int(time.time() * 1000))


def _dataset(project: str, dataset: str) -> dict[str, Any]:
    row = db().execute("SELECT body FROM _datasets WHERE project=? AND dataset=?", (project, dataset)).fetchone()
    if row is None:
        raise _err(404, "notFound", f"Not found: Dataset {project}:{dataset}")
    return json.loads(row[0])


def _table(project: str, dataset: str, table: str) -> dict[str, Any]:
    query = "SELECT body FROM _tables WHERE project=? AND dataset=? AND tbl=?"
    row = db().execute(query, (project, dataset, table)).fetchone()
    if row is None:
        raise _err(404, "notFound", f"Not found: Table {project}:{dataset}.{table}")
    return json.loads(row[0])


def _save_table(project: str, dataset: str, table: str, resource: dict[str, Any]) -> None:
    db().execute(
        "UPDATE _tables SET body=? WHERE project=? AND dataset=? AND tbl=?",
        (json.dumps(resource), project, dataset, table),
    )


# --- datasets ----------------------------------------------------------------------------
@api("POST", PREFIX + "/datasets", "datasets.insert")
def dataset_insert(request: Request) -> dict:
    body = request.json() or {}
    project = request.params["project"]
    ref = body.get("datasetReference") or {}
    dataset = ref.get("datasetId") or ""
    if not NAME.fullmatch(dataset):
        raise _err(400, "invalid", f'Invalid dataset ID "{dataset}"')
    resource = {
        "kind": "bigquery#dataset",
        "id": f"{project}:{dataset}",
        "location": body.get("location", "US"),
        "datasetReference": {"projectId": project, "datasetId": dataset},
        "creationTime": _now_ms(),
        "etag": uuid.uuid4().hex,
    }
    try:
        db().execute("INSERT INTO _datasets VALUES (?,?,?)", (project, dataset, json.dumps(resource)))
    except sqlite3.IntegrityError:
        raise _err(409, "duplicate", f"Already Exists: Dataset {project}:{dataset}") from None
    return resource


@api("GET", PREFIX + "/datasets", "datasets.list")
def dataset_list(request: Request) -> dict:
    rows = db().execute("SELECT body FROM _datasets WHERE project=? ORDER BY dataset", (request.params["project"],))
    return {"kind": "bigquery#datasetList", "datasets": [json.loads(b) for (b,) in rows]}


@api("GET", PREFIX + "/datasets/{dataset}", "datasets.get")
def dataset_get(request: Request) -> dict:
    return _dataset(request.params["project"], request.params["dataset"])


@api("DELETE", PREFIX + "/datasets/{dataset}", "datasets.delete")
def dataset_delete(request: Request) -> Response:
    project, dataset = request.params["project"], request.params["dataset"]
    _dataset(project, dataset)
    tables = db().execute("SELECT tbl FROM _tables WHERE project=? AND dataset=?", (project, dataset)).fetchall()
    if tables and request.query.get("deleteContents") != "true":
        raise _err(400, "resourceInUse", f"Dataset {project}:{dataset} is still in use")
    for (table,) in tables:
        db().execute(f"DROP TABLE IF EXISTS {physical(dataset, table)}")
    db().execute("DELETE FROM _tables WHERE project=? AND dataset=?", (project, dataset))
    db().execute("DELETE FROM _datasets WHERE project=? AND dataset=?", (project, dataset))
    return Response(204)


# --- tables ------------------------------------------------------------------------------
def _schema(schema: Any) -> list[dict[str, Any]]:
    """The fields of a table schema, types in the API's (legacy) names; 400 invalid for what the stand-in can't hold."""
    fields = (schema or {}).get("fields") or []
    result = []
    for field in fields:
        name = field.get("name") or ""
        kind = str(field.get("type") or "STRING").upper()
        kind = STANDARD_SQL_NAMES.get(kind, kind)
        mode = str(field.get("mode") or "NULLABLE").upper()
        if not NAME.fullmatch(name):
            raise _err(
                400,
                "invalid",
                f'Invalid field name "{name}". Fields must contain only letters, numbers and underscores',
            )
        if kind not in SQLITE_TYPES:
            raise _err(400, "invalid", f"Field {name}: type {kind} is not supported by the BigQuery stand-in")
        if mode not in ("NULLABLE", "REQUIRED"):
            raise _err(400, "invalid", f"Field {name}: mode {mode} is not supported by the BigQuery stand-in")
        result.append({**field, "name": name, "type": kind, "mode": mode})
    return result


def _partitioning(spec: Any, fields: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not spec:
        return None
    kind = str(spec.get("type") or "DAY").upper()
    if kind not in PARTITION_DIGITS:
        raise _err(400, "invalid", f"Invalid timePartitioning.type {kind}: DAY, HOUR, MONTH or YEAR")
    column = spec.get("field")
    if not column:
        raise _err(
            400,
            "invalid",
            "The BigQuery stand-in partitions by a column only (timePartitioning.field); "
            "ingestion-time partitioning (_PARTITIONTIME) is not served",
        )
    found = next((f for f in fields if f["name"] == column), None)
    if found is None:
        raise _err(400, "invalid", f"The field specified for partitioning cannot be found in the schema: {column}")
    if found["type"] not in PARTITION_COLUMN_TYPES or (kind == "HOUR" and found["type"] == "DATE"):
        raise _err(
            400,
            "invalid",
            f"The field specified for {kind} partitioning can only be of type TIMESTAMP, DATE or DATETIME "
            f"(DATE not for HOUR). The type found is: {found['type']}.",
        )
    return {**spec, "type": kind, "field": column}


def _create_table(project: str, dataset: str, table: str, body: dict[str, Any]) -> dict[str, Any]:
    _dataset(project, dataset)
    if not NAME.fullmatch(table):
        raise _err(400, "invalid", f'Invalid table ID "{table}"')
    fields = _schema(body.get("schema"))
    if not fields:
        raise _err(400, "invalid", "The BigQuery stand-in needs a schema to create a table")
    partitioning = _partitioning(body.get("timePartitioning"), fields)
    columns = [
        f'"{f["name"]}" {SQLITE_TYPES[f["type"]]}{" NOT NULL" if f["mode"] == "REQUIRED" else ""}' for f in fields
    ]
    now = _now_ms()
    resource: dict[str, Any] = {
        "kind": "bigquery#table",
        "id": f"{project}:{dataset}.{table}",
        "type": "TABLE",
        "tableReference": {"projectId": project, "datasetId": dataset, "tableId": table},
        "schema": {"fields": fields},
        "creationTime": now,
        "lastModifiedTime": now,
        "etag": uuid.uuid4().hex,
    }
    if partitioning:
        resource["timePartitioning"] = partitioning
    try:
        db().execute("INSERT INTO _tables VALUES (?,?,?,?)", (project, dataset, table, json.dumps(resource)))
    except sqlite3.IntegrityError:
        raise _err(409, "duplicate", f"Already Exists: Table {project}:{dataset}.{table}") from None
    db().execute(f"CREATE TABLE {physical(dataset, table)} ({', '.join(columns)})")
    return resource


@api("POST", PREFIX + "/datasets/{dataset}/tables", "tables.insert")
def table_insert(request: Request) -> dict:
    project, dataset = request.params["project"], request.params["dataset"]
    body = request.json() or {}
    return _create_table(project, dataset, (body.get("tableReference") or {}).get("tableId") or "", body)


@api("GET", PREFIX + "/datasets/{dataset}/tables", "tables.list")
def table_list(request: Request) -> dict:
    project, dataset = request.params["project"], request.params["dataset"]
    rows = db().execute("SELECT body FROM _tables WHERE project=? AND dataset=? ORDER BY tbl", (project, dataset))
    tables = [json.loads(b) for (b,) in rows]
    return {"kind": "bigquery#tableList", "tables": tables, "totalItems": len(tables)}


@api("GET", PREFIX + "/datasets/{dataset}/tables/{table}", "tables.get")
def table_get(request: Request) -> dict:
    p = request.params
    resource = _table(p["project"], p["dataset"], p["table"])
    count = db().execute(f"SELECT count(*) FROM {physical(p['dataset'], p['table'])}").fetchone()[0]
    return {**resource, "numRows": str(count)}


@api("DELETE", PREFIX + "/datasets/{dataset}/tables/{table}", "tables.delete")
def table_delete(request: Request) -> Response:
    p = request.params
    _table(p["project"], p["dataset"], p["table"])
    db().execute(f"DROP TABLE IF EXISTS {physical(p['dataset'], p['table'])}")
    db().execute(
        "DELETE FROM _tables WHERE project=? AND dataset=? AND tbl=?", (p["project"], p["dataset"], p["table"])
    )
    db().execute(
        "DELETE FROM _insert_ids WHERE project=? AND dataset=? AND tbl=?", (p["project"], p["dataset"], p["table"])
    )
    return Response(204)


# --- tabledata ---------------------------------------------------------------------------
@api("POST", PREFIX + "/datasets/{dataset}/tables/{table}/insertAll", "tabledata.insertAll")
def insert_all(request: Request) -> dict:
    p = request.params
    resource = _table(p["project"], p["dataset"], p["table"])
    names = [f["name"] for f in resource["schema"]["fields"]]
    body = request.json() or {}
    errors = []
    for index, row in enumerate(body.get("rows") or []):
        values = row.get("json") or {}
        unknown = sorted(set(values) - set(names))
        if unknown and not body.get("ignoreUnknownValues"):
            problem = {"reason": "invalid", "location": unknown[0], "message": f"no such field: {unknown[0]}."}
            errors.append({"index": index, "errors": [problem]})
            continue
        insert_id = row.get("insertId")
        if insert_id:  # BigQuery de-duplicates retried rows by insertId (best effort); so does the stand-in
            try:
                db().execute(
                    "INSERT INTO _insert_ids VALUES (?,?,?,?)", (p["project"], p["dataset"], p["table"], insert_id)
                )
            except sqlite3.IntegrityError:
                continue
        cols = [n for n in names if n in values]
        try:
            db().execute(
                f"INSERT INTO {physical(p['dataset'], p['table'])} ({_quoted(cols)}) VALUES ({', '.join('?' for _ in cols)})",
                [_to_sql(values[c]) for c in cols],
            )
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


@api("GET", PREFIX + "/datasets/{dataset}/tables/{table}/data", "tabledata.list")
def tabledata_list(request: Request) -> dict:
    p = request.params
    resource = _table(p["project"], p["dataset"], p["table"])
    names = [f["name"] for f in resource["schema"]["fields"]]
    start = int(request.query.get("pageToken") or request.query.get("startIndex") or 0)
    limit = int(request.query.get("maxResults") or 1000)
    table = physical(p["dataset"], p["table"])
    total = db().execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    rows = db().execute(f"SELECT {_quoted(names)} FROM {table} ORDER BY rowid LIMIT ? OFFSET ?", (limit, start))
    cells = [{"f": [_cell(v) for v in row]} for row in rows.fetchall()]
    result: dict[str, Any] = {"kind": "bigquery#tableDataList", "totalRows": str(total), "rows": cells}
    if start + len(cells) < total:
        result["pageToken"] = str(start + len(cells))
    return result


# --- query jobs --------------------------------------------------------------------------
_REF = re.compile(
    r"`(?:([A-Za-z0-9_-]+)\.)?([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)`|\b([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)\b"
)


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
    try:
        cursor = db().execute(translated, _params(config))
        rows = cursor.fetchall()
    except sqlite3.Error as error:
        message = f"{error} [SQLite dialect in the BigQuery stand-in] at: {sql[:200]}"
        raise _err(400, "invalidQuery", message) from None
    names = [d[0] for d in cursor.description or []]
    statement = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else "SELECT"
    fields = [{"name": n, "type": _bq_type([r[i] for r in rows]), "mode": "NULLABLE"} for i, n in enumerate(names)]
    result: dict[str, Any] = {
        "schema": {"fields": fields},
        "rows": [{"f": [_cell(v) for v in row]} for row in rows],
        "totalRows": str(len(rows)),
        "statementType": statement,
    }
    if statement in ("INSERT", "UPDATE", "DELETE", "MERGE"):
        result["numDmlAffectedRows"] = str(cursor.rowcount)
    return result


# --- load jobs ---------------------------------------------------------------------------
class BadRecord(ValueError):
    """One row a load cannot take (counted against maxBadRecords)."""


def _coerce(value: Any, field: dict[str, Any]) -> Any:
    name, kind = field["name"], field["type"]
    if value is None:
        if field["mode"] == "REQUIRED":
            raise BadRecord(f"Missing required field: {name}.")
        return None
    if isinstance(value, (dict, list)) and kind != "JSON":
        raise BadRecord(f"Field {name}: a {type(value).__name__} where a {kind} was expected")
    try:
        if kind == "INTEGER":
            if isinstance(value, bool) or not re.fullmatch(r"[+-]?\d+", str(value).strip()):
                raise ValueError
            return int(str(value).strip())
        if kind in ("FLOAT", "NUMERIC", "BIGNUMERIC"):
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind == "BOOLEAN":
            text = str(value).strip().lower()
            if text not in ("true", "false", "1", "0"):
                raise ValueError
            return int(text in ("true", "1"))
        if kind == "DATE":
            return date.fromisoformat(str(value).strip()).isoformat()
        if kind in ("TIMESTAMP", "DATETIME"):
            if isinstance(value, (int, float)) and not isinstance(value, bool) and kind == "TIMESTAMP":
                return datetime.fromtimestamp(value, UTC).isoformat()
            date.fromisoformat(str(value).strip()[:10])
            return str(value).strip()
        if kind == "JSON":
            return value if isinstance(value, str) else json.dumps(value)
    except (ValueError, OverflowError):
        raise BadRecord(f"Could not parse '{value}' as {kind} for field {name}") from None
    return str(value)


def _csv_rows(data: bytes, config: dict[str, Any], fields: list[dict[str, Any]]) -> tuple[list[list[Any]], list[str]]:
    encoding = str(config.get("encoding") or "UTF-8").upper()
    text = data.decode("latin-1" if encoding == "ISO-8859-1" else "utf-8", errors="strict")
    delimiter = str(config.get("fieldDelimiter") or ",")
    delimiter = "\t" if delimiter in ("\\t", "tab") else delimiter
    quote = config.get("quote", '"')
    null_marker = config.get("nullMarker", "")
    skip = int(config.get("skipLeadingRows") or 0)
    reader = csv.reader(
        io.StringIO(text, newline=""),
        delimiter=delimiter,
        quotechar=quote or '"',
        quoting=csv.QUOTE_MINIMAL if quote else csv.QUOTE_NONE,
    )
    rows: list[list[Any]] = []
    bad: list[str] = []
    for line, record in enumerate(reader, 1):
        if line <= skip or not record:
            continue
        try:
            if len(record) > len(fields) and not config.get("ignoreUnknownValues"):
                raise BadRecord(f"Too many values in line {line}: {len(record)} for {len(fields)} columns")
            if len(record) < len(fields) and not config.get("allowJaggedRows"):
                raise BadRecord(
                    f"CSV table references column position {len(fields) - 1}, but line {line} contains "
                    f"only {len(record)} columns"
                )
            values = [None if v == null_marker else v for v in record[: len(fields)]]
            values += [None] * (len(fields) - len(values))
            rows.append([_coerce(v, f) for v, f in zip(values, fields, strict=True)])
        except BadRecord as problem:
            bad.append(f"Error while reading data, error message: line {line}: {problem}")
    return rows, bad


def _json_rows(data: bytes, config: dict[str, Any], fields: list[dict[str, Any]]) -> tuple[list[list[Any]], list[str]]:
    names = {f["name"] for f in fields}
    rows: list[list[Any]] = []
    bad: list[str] = []
    for line, text in enumerate(data.decode("utf-8").splitlines(), 1):
        if not text.strip():
            continue
        try:
            try:
                record = json.loads(text)
            except json.JSONDecodeError as error:
                raise BadRecord(f"JSON parsing error: {error}") from None
            if not isinstance(record, dict):
                raise BadRecord("JSON object expected")
            unknown = sorted(set(record) - names)
            if unknown and not config.get("ignoreUnknownValues"):
                raise BadRecord(f"no such field: {unknown[0]}.")
            rows.append([_coerce(record.get(f["name"]), f) for f in fields])
        except BadRecord as problem:
            bad.append(f"Error while reading data, error message: JSON table, row {line}: {problem}")
    return rows, bad


def _validate_load(config: dict[str, Any], *, uploaded: bool) -> None:
    """What jobs.insert refuses outright (HTTP 400), before the job runs."""
    destination = config.get("destinationTable") or {}
    if not destination.get("datasetId") or not destination.get("tableId"):
        raise _err(400, "invalid", "Required parameter is missing: configuration.load.destinationTable")
    if config.get("sourceUris"):
        raise _err(
            400,
            "invalid",
            "The BigQuery stand-in loads uploaded data only (POST /upload/bigquery/v2/projects/{project}/jobs with "
            "uploadType=multipart or resumable); sourceUris (gs://) cannot be read here",
        )
    if not uploaded:
        raise _err(400, "invalid", "Load configuration must specify at least one source URI")
    checks = (
        ("sourceFormat", "CSV", SOURCE_FORMATS),
        ("writeDisposition", "WRITE_APPEND", WRITE_DISPOSITIONS),
        ("createDisposition", "CREATE_IF_NEEDED", CREATE_DISPOSITIONS),
    )
    for key, default, allowed in checks:
        value = config.get(key) or default
        if value not in allowed:
            raise _err(400, "invalid", f"Invalid value for {key}: {value} (the stand-in serves {', '.join(allowed)})")
    if config.get("schemaUpdateOptions"):
        raise _err(400, "invalid", "schemaUpdateOptions are not served by the BigQuery stand-in")


def _same_schema(given: list[dict[str, Any]], table: list[dict[str, Any]]) -> str | None:
    """Why a load's schema differs from the table's, or None."""
    have = {f["name"]: f for f in table}
    for field in given:
        existing = have.get(field["name"])
        if existing is None:
            return f"Cannot add fields (field: {field['name']})"
        if existing["type"] != field["type"]:
            return f"Field {field['name']} has changed type from {existing['type']} to {field['type']}"
        if existing["mode"] != field["mode"]:
            return f"Field {field['name']} has changed mode from {existing['mode']} to {field['mode']}"
    missing = [name for name in have if name not in {f["name"] for f in given}]
    if missing and any(have[name]["mode"] == "REQUIRED" for name in missing):
        return f"Field {missing[0]} is missing in new schema"
    return None


def run_load(project: str, config: dict[str, Any], data: bytes) -> dict[str, Any]:
    """Apply a load job to the tables; its statistics.load, or HttpError when the job fails (then nothing changed:
    the caller runs this in a transaction)."""
    destination = config["destinationTable"]
    dest_project = destination.get("projectId") or project
    dataset = destination["datasetId"]
    table, _, decorator = str(destination["tableId"]).partition("$")
    _dataset(dest_project, dataset)
    given = _schema(config.get("schema")) if config.get("schema") else None
    try:
        resource = _table(dest_project, dataset, table)
    except HttpError:
        if (config.get("createDisposition") or "CREATE_IF_NEEDED") == "CREATE_NEVER":
            raise
        if given is None:
            detail = "autodetect is not served by the BigQuery stand-in" if config.get("autodetect") else ""
            raise _err(400, "invalid", f"No schema specified on job or table. {detail}".strip()) from None
        spec = {"schema": {"fields": given}, "timePartitioning": config.get("timePartitioning")}
        resource = _create_table(dest_project, dataset, table, spec)
    fields = resource["schema"]["fields"]
    full_name = f"{dest_project}:{dataset}.{table}"
    if given is not None:
        problem = _same_schema(given, fields)
        if problem:
            raise _err(400, "invalid", f"Provided Schema does not match Table {full_name}. {problem}.")
    partitioning: dict[str, Any] = resource.get("timePartitioning") or {}
    if decorator:
        if not partitioning:
            raise _err(
                400, "invalid", f"Cannot use partition decorator ${decorator}: table {full_name} is not partitioned"
            )
        kind = partitioning["type"]
        valid = decorator == "__NULL__" or (decorator.isdigit() and len(decorator) == PARTITION_DIGITS[kind])
        if valid and kind == "DAY" and decorator.isdigit():
            try:
                date(int(decorator[:4]), int(decorator[4:6]), int(decorator[6:]))
            except ValueError:
                valid = False
        if not valid:
            raise _err(
                400, "invalid", f"Invalid partition decorator ${decorator} for {kind} partitioning of {full_name}"
            )

    parse = _json_rows if (config.get("sourceFormat") or "CSV") == "NEWLINE_DELIMITED_JSON" else _csv_rows
    try:
        rows, bad = parse(data, config, fields)
    except UnicodeDecodeError as error:
        raise _err(400, "invalid", f"Error while reading data, error message: {error}") from None
    if len(bad) > int(config.get("maxBadRecords") or 0):
        summary = (
            f"Error while reading data: too many errors, giving up. Rows: {len(rows) + len(bad)}; errors: {len(bad)}"
        )
        raise _err(400, "invalid", f"{summary}. First: {bad[0]}")

    scope, scope_args = "", []
    if decorator:
        index = [f["name"] for f in fields].index(partitioning["field"])
        strays = [row for row in rows if partition_key(row[index], partitioning["type"]) != decorator]
        if strays:
            raise _err(
                400,
                "invalid",
                f"Some rows belong to different partitions rather than destination partition {decorator} "
                f"({len(strays)} of {len(rows)} rows)",
            )
        scope, scope_args = f' WHERE bq_partition("{partitioning["field"]}", ?) = ?', [partitioning["type"], decorator]
    target = physical(dataset, table)
    disposition = config.get("writeDisposition") or "WRITE_APPEND"
    if disposition == "WRITE_EMPTY" and db().execute(f"SELECT count(*) FROM {target}{scope}", scope_args).fetchone()[0]:
        raise _err(409, "duplicate", f"Already Exists: Table {full_name}{'$' + decorator if decorator else ''}")
    if disposition == "WRITE_TRUNCATE":
        db().execute(f"DELETE FROM {target}{scope}", scope_args)
    names = [f["name"] for f in fields]
    db().executemany(f"INSERT INTO {target} ({_quoted(names)}) VALUES ({', '.join('?' for _ in names)})", rows)
    _save_table(dest_project, dataset, table, {**resource, "lastModifiedTime": _now_ms(), "etag": uuid.uuid4().hex})
    return {
        "inputFiles": "1",
        "inputFileBytes": str(len(data)),
        "outputRows": str(len(rows)),
        "outputBytes": str(len(data)),
        "badRecords": str(len(bad)),
    }


# --- jobs --------------------------------------------------------------------------------
def _job_resource(
    project: str,
    job_id: str,
    location: str,
    configuration: dict[str, Any],
    status: dict[str, Any],
    stats: dict[str, Any],
) -> dict[str, Any]:
    now = _now_ms()
    return {
        "kind": "bigquery#job",
        "id": f"{project}:{location}.{job_id}",
        "jobReference": {"projectId": project, "jobId": job_id, "location": location},
        "configuration": configuration,
        "status": status,
        "statistics": {"creationTime": now, "startTime": now, "endTime": now, **stats},
        "user_email": "anonymous@bigquery-stand-in",
    }


def _query_stats(result: dict[str, Any]) -> dict[str, Any]:
    query = {"statementType": result["statementType"], "totalBytesProcessed": "0"}
    if "numDmlAffectedRows" in result:
        query["numDmlAffectedRows"] = result["numDmlAffectedRows"]
    return {"query": query}


def insert_job(project: str, body: dict[str, Any], data: bytes | None) -> dict[str, Any]:
    """jobs.insert: runs the job within the request and stores it DONE; answers a query job DONE, a load job RUNNING."""
    configuration = body.get("configuration") or {}
    ref = body.get("jobReference") or {}
    job_id = ref.get("jobId") or f"job_{uuid.uuid4().hex}"
    location = ref.get("location") or "US"
    if not JOB_ID.fullmatch(job_id):
        raise _err(400, "invalid", f'Invalid job ID "{job_id}"')
    if db().execute("SELECT 1 FROM _jobs WHERE job_id=?", (job_id,)).fetchone():
        raise _err(409, "duplicate", f"Already Exists: Job {project}:{location}.{job_id}")
    result: dict[str, Any] = {}
    if "query" in configuration and data is None:
        result = run_query(project, configuration["query"])
        config = {"query": configuration["query"], "jobType": "QUERY"}
        resource = _job_resource(project, job_id, location, config, {"state": "DONE"}, _query_stats(result))
    elif "load" in configuration:
        load = configuration["load"]
        _validate_load(load, uploaded=data is not None)
        status: dict[str, Any] = {"state": "DONE"}
        stats: dict[str, Any] = {}
        db().execute("BEGIN")
        try:
            stats = {"load": run_load(project, load, data or b"")}
        except HttpError as error:
            db().execute("ROLLBACK")
            reason, message = _reason(error)
            status["errorResult"] = {"reason": reason, "message": message}
            status["errors"] = [{"reason": reason, "message": message}]
        else:
            db().execute("COMMIT")
        resource = _job_resource(project, job_id, location, {"load": load, "jobType": "LOAD"}, status, stats)
    else:
        raise _err(
            400,
            "invalid",
            "The BigQuery stand-in runs query jobs (configuration.query) and load jobs of uploaded data "
            "(configuration.load); extract and copy jobs are not served",
        )
    db().execute("INSERT INTO _jobs VALUES (?,?,?,?)", (project, job_id, json.dumps(resource), json.dumps(result)))
    if "load" in configuration:  # as BigQuery answers a load: RUNNING; the client polls jobs.get, which says DONE
        statistics = {k: v for k, v in resource["statistics"].items() if k in ("creationTime", "startTime")}
        return {**resource, "status": {"state": "RUNNING"}, "statistics": statistics}
    return resource


@api("POST", PREFIX + "/jobs", "jobs.insert")
def job_insert(request: Request) -> dict:
    return insert_job(request.params["project"], request.json() or {}, None)


def _multipart(request: Request) -> tuple[dict[str, Any], bytes]:
    """(job resource, data) of a multipart/related upload: a JSON part, then the data part."""
    content_type = request.headers.get("content-type", "")
    boundary = re.search(r'boundary="?([^";]+)"?', content_type)
    if not content_type.lower().startswith("multipart/related") or boundary is None:
        raise _err(400, "invalid", "uploadType=multipart needs a multipart/related body with a boundary")
    parts = []
    for chunk in request.body.split(b"--" + boundary.group(1).encode())[1:]:
        if chunk.startswith(b"--"):
            break
        _, found, content = chunk.partition(b"\r\n\r\n")
        if found:
            parts.append(content[:-2] if content.endswith(b"\r\n") else content)
    if len(parts) != 2:
        raise _err(400, "invalid", f"a multipart upload has 2 parts (metadata, data), got {len(parts)}")
    try:
        metadata = json.loads(parts[0])
    except json.JSONDecodeError as error:
        raise _err(400, "invalid", f"the metadata part is not JSON: {error}") from None
    return metadata, parts[1]


@dataclass
class Upload:
    project: str
    metadata: dict[str, Any]
    data: bytearray


_uploads: dict[str, Upload] = {}
_CONTENT_RANGE = re.compile(r"bytes (?:(\d+)-(\d+)|\*)/(\d+|\*)")


@api("POST", UPLOAD, "upload.start")
def upload_start(request: Request) -> Response | dict:
    project = request.params["project"]
    kind = request.query.get("uploadType")
    if kind == "multipart":
        metadata, data = _multipart(request)
        return insert_job(project, metadata, data)
    if kind == "resumable":
        metadata = request.json() or {}
        if "load" not in (metadata.get("configuration") or {}):
            raise _err(400, "invalid", "an upload carries a load job (configuration.load)")
        _validate_load(metadata["configuration"]["load"], uploaded=True)
        upload_id = uuid.uuid4().hex
        _uploads[upload_id] = Upload(project, metadata, bytearray())
        host = request.headers.get("host", "127.0.0.1")
        location = f"http://{host}{request.path}?uploadType=resumable&upload_id={upload_id}"
        return Response(200, None, {"Location": location})
    raise _err(400, "invalid", f"uploadType must be multipart or resumable, got {kind!r}")


@api("PUT", UPLOAD, "upload.chunk")
def upload_chunk(request: Request) -> Response | dict:
    upload = _uploads.get(request.query.get("upload_id") or "")
    if upload is None:
        raise _err(404, "notFound", f"Not found: upload session {request.query.get('upload_id')!r}")
    match = _CONTENT_RANGE.fullmatch(request.headers.get("content-range", "").strip())
    if match is None:
        raise _err(400, "invalid", "a chunk needs Content-Range: bytes <first>-<last>/<total or *>")
    if match.group(1) is not None:
        first, last = int(match.group(1)), int(match.group(2))
        if first > len(upload.data) or last - first + 1 != len(request.body):
            raise _err(400, "invalid", f"chunk {first}-{last} does not follow the {len(upload.data)} bytes received")
        del upload.data[first:]
        upload.data.extend(request.body)
    total = None if match.group(3) == "*" else int(match.group(3))
    if total is not None and len(upload.data) >= total:
        del _uploads[request.query["upload_id"]]
        return insert_job(upload.project, upload.metadata, bytes(upload.data))
    headers = {"Range": f"bytes=0-{len(upload.data) - 1}"} if upload.data else {}
    return Response(308, None, headers)


def _stored_job(project: str, job_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    row = db().execute("SELECT body, result FROM _jobs WHERE project=? AND job_id=?", (project, job_id)).fetchone()
    if row is None:
        raise _err(404, "notFound", f"Not found: Job {project}:{job_id}")
    return json.loads(row[0]), json.loads(row[1])


@api("GET", PREFIX + "/jobs/{job_id}", "jobs.get")
def job_get(request: Request) -> dict:
    return _stored_job(request.params["project"], request.params["job_id"])[0]


def _page(result: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
    start = int(query.get("pageToken") or query.get("startIndex") or 0)
    limit = int(query.get("maxResults") or 10000)
    rows = result["rows"][start : start + limit]
    page: dict[str, Any] = {
        "schema": result["schema"],
        "rows": rows,
        "totalRows": result["totalRows"],
        "jobComplete": True,
        "totalBytesProcessed": "0",
        "cacheHit": False,
    }
    if start + len(rows) < len(result["rows"]):
        page["pageToken"] = str(start + len(rows))
    if "numDmlAffectedRows" in result:
        page["numDmlAffectedRows"] = result["numDmlAffectedRows"]
    return page


@api("GET", PREFIX + "/queries/{job_id}", "jobs.getQueryResults")
def get_query_results(request: Request) -> dict:
    resource, result = _stored_job(request.params["project"], request.params["job_id"])
    if "query" not in resource["configuration"]:
        raise _err(400, "invalid", f"Job {resource['id']} is not a query job")
    page = _page(result, request.query)
    return {"kind": "bigquery#getQueryResultsResponse", "jobReference": resource["jobReference"], **page}


@api("POST", PREFIX + "/queries", "jobs.query")
def jobs_query(request: Request) -> dict:
    project = request.params["project"]
    body = request.json() or {}
    config = {k: body[k] for k in ("query", "queryParameters", "useLegacySql", "parameterMode") if k in body}
    job_id = f"job_{uuid.uuid4().hex}"
    result = run_query(project, config)
    location = body.get("location") or "US"
    configuration = {"query": config, "jobType": "QUERY"}
    resource = _job_resource(project, job_id, location, configuration, {"state": "DONE"}, _query_stats(result))
    db().execute("INSERT INTO _jobs VALUES (?,?,?,?)", (project, job_id, json.dumps(resource), json.dumps(result)))
    query = {"maxResults": str(body["maxResults"])} if body.get("maxResults") else {}
    return {"kind": "bigquery#queryResponse", "jobReference": resource["jobReference"], **_page(result, query)}


# --- stand-in only -------------------------------------------------------------------------
@router.route("GET", "/_recorded")
def recorded(request: Request) -> dict:
    """The API calls served: after=<id> for those since a mark, else the newest `limit` (default 100)."""
    limit = int(request.query.get("limit") or 100)
    columns = "id, at, api, method, path, query"
    with _lock:
        last = db().execute("SELECT coalesce(max(id), 0) FROM _calls").fetchone()[0]
        if request.query.get("after") is not None:
            query = f"SELECT {columns} FROM _calls WHERE id > ? ORDER BY id LIMIT ?"
            rows = db().execute(query, (int(request.query["after"]), limit)).fetchall()
        else:
            query = f"SELECT * FROM (SELECT {columns} FROM _calls ORDER BY id DESC LIMIT ?) ORDER BY id"
            rows = db().execute(query, (limit,)).fetchall()
    calls = [
        {"id": i, "at": at, "api": name, "method": method, "path": path, "query": json.loads(params)}
        for i, at, name, method, path, params in rows
    ]
    return {"last": last, "calls": calls}


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
