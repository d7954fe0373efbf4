"""The BigQuery stand-in (local/standins/bigquery.py) serves what google-cloud-bigquery and the Google provider call
for load jobs: media uploads (multipart and resumable), partition decorators with write dispositions, CSV and NDJSON,
jobs.get polling; a failing load is a DONE job with an errorResult; bad requests get BigQuery-shaped HTTP errors."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

PARTITIONED = [
    {"name": "id", "type": "INTEGER", "mode": "REQUIRED"},
    {"name": "name", "type": "STRING", "mode": "NULLABLE"},
    {"name": "day", "type": "DATE", "mode": "REQUIRED"},
]


@pytest.fixture
def dataset(bigquery_service) -> Iterator[str]:
    from local.services import bigquery

    client = bigquery.client()
    name = f"ds_{uuid.uuid4().hex[:10]}"
    client.create_dataset(name)
    yield name
    client.delete_dataset(name, delete_contents=True, not_found_ok=True)


def _client() -> Any:
    from local.services import bigquery

    return bigquery.client()


def _schema() -> list[Any]:
    from google.cloud import bigquery

    return [bigquery.SchemaField.from_api_repr(field) for field in PARTITIONED]


def _partitioned_table(dataset: str, name: str = "events") -> Any:
    from google.cloud import bigquery

    table = bigquery.Table(f"{_client().project}.{dataset}.{name}", schema=_schema())
    table.time_partitioning = bigquery.TimePartitioning(type_=bigquery.TimePartitioningType.DAY, field="day")
    return _client().create_table(table)


def _load(dataset: str, target: str, data: bytes, *, multipart: bool = True, **options: Any) -> Any:
    """A load job through load_table_from_file: a known size is a multipart upload, an unknown one resumable."""
    from google.cloud import bigquery

    options.setdefault("source_format", bigquery.SourceFormat.NEWLINE_DELIMITED_JSON)
    options.setdefault("write_disposition", bigquery.WriteDisposition.WRITE_TRUNCATE)
    config = bigquery.LoadJobConfig(**options)
    size = len(data) if multipart else None
    job = _client().load_table_from_file(io.BytesIO(data), f"{dataset}.{target}", size=size, job_config=config)
    return job


def _ndjson(*rows: dict[str, Any]) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


def _day(dataset: str, day: str) -> list[tuple]:
    sql = f"SELECT id, name FROM `{dataset}.events` WHERE day = '{day}' ORDER BY id"
    return [tuple(row.values()) for row in _client().query(sql).result()]


def _calls(base: str, after: int) -> list[dict[str, Any]]:
    return requests.get(f"{base}/_recorded", params={"after": after, "limit": 10_000}, timeout=10).json()["calls"]


def _mark(base: str) -> int:
    return requests.get(f"{base}/_recorded", params={"limit": 0}, timeout=10).json()["last"]


def test_load_jobs_replace_one_partition_through_multipart_and_resumable_uploads(bigquery_service, dataset) -> None:
    from google.cloud import bigquery

    table = _partitioned_table(dataset)
    mark = _mark(bigquery_service.url)
    csv_data = b"id,name,day\n1,a,2026-04-02\n2,,2026-04-02\n3,c,2026-04-02\n"
    first = _load(dataset, "events$20260402", csv_data, source_format="CSV", skip_leading_rows=1, schema=_schema())
    assert first.result().output_rows == 3
    assert (first.job_type, first.state, first.destination.table_id) == ("load", "DONE", "events$20260402")
    assert first.write_disposition == "WRITE_TRUNCATE"
    other = _load(
        dataset,
        "events$20260403",
        _ndjson({"id": 10, "name": "x", "day": "2026-04-03"}, {"id": 11, "name": "y", "day": "2026-04-03"}),
        multipart=False,
        write_disposition=bigquery.WriteDisposition.WRITE_APPEND,
    )
    assert other.result().output_rows == 2
    assert _day(dataset, "2026-04-02") == [(1, "a"), (2, None), (3, "c")], "an empty CSV field is NULL"

    replaced = _load(dataset, "events$20260402", _ndjson({"id": 4, "name": "d", "day": "2026-04-02"}))
    assert replaced.result().output_rows == 1
    assert _day(dataset, "2026-04-02") == [(4, "d")], "WRITE_TRUNCATE replaced the partition"
    assert _day(dataset, "2026-04-03") == [(10, "x"), (11, "y")], "and left the other one alone"
    appended = _load(
        dataset,
        "events$20260403",
        _ndjson({"id": 12, "name": "z", "day": "2026-04-03"}),
        write_disposition=bigquery.WriteDisposition.WRITE_APPEND,
    )
    appended.result()
    assert _day(dataset, "2026-04-03") == [(10, "x"), (11, "y"), (12, "z")]
    fetched = _client().get_table(f"{dataset}.events")
    assert (fetched.created, fetched.num_rows) == (table.created, 4)

    calls = _calls(bigquery_service.url, mark)
    starts = [c["query"].get("uploadType") for c in calls if c["api"] == "upload.start"]
    assert starts.count("multipart") == 3 and starts.count("resumable") == 1
    assert any(c["api"] == "upload.chunk" for c in calls)
    polled = {c["path"].rsplit("/", 1)[1] for c in calls if c["api"] == "jobs.get"}
    assert {first.job_id, other.job_id, replaced.job_id} <= polled, "the client polled jobs.get until DONE"


def test_resumable_upload_in_chunks_answers_308_with_the_range(bigquery_service, dataset) -> None:
    from local.services import bigquery

    _partitioned_table(dataset)
    base = f"{bigquery_service.url}/upload/bigquery/v2/projects/{bigquery.PROJECT}/jobs"
    job_id = f"chunked_{uuid.uuid4().hex}"
    job = {
        "jobReference": {"projectId": bigquery.PROJECT, "jobId": job_id},
        "configuration": {
            "load": {
                "destinationTable": {"projectId": bigquery.PROJECT, "datasetId": dataset, "tableId": "events$20260405"},
                "sourceFormat": "NEWLINE_DELIMITED_JSON",
                "writeDisposition": "WRITE_TRUNCATE",
            }
        },
    }
    start = requests.post(base, params={"uploadType": "resumable"}, json=job, timeout=10)
    assert start.status_code == 200
    session = start.headers["Location"]
    assert "upload_id=" in session
    data = _ndjson(*({"id": i, "day": "2026-04-05"} for i in range(5)))
    head, tail = data[:10], data[10:]
    partial = requests.put(session, data=head, headers={"Content-Range": f"bytes 0-9/{len(data)}"}, timeout=10)
    assert (partial.status_code, partial.headers.get("Range")) == (308, "bytes=0-9")
    last = requests.put(
        session, data=tail, headers={"Content-Range": f"bytes 10-{len(data) - 1}/{len(data)}"}, timeout=10
    )
    assert last.status_code == 200
    assert last.json()["jobReference"]["jobId"] == job_id and last.json()["status"] == {"state": "RUNNING"}
    done = _client().get_job(job_id)
    assert (done.state, done.output_rows, done.error_result) == ("DONE", 5, None)
    assert requests.put(session, data=b"", headers={"Content-Range": "bytes */0"}, timeout=10).status_code == 404


def test_a_failing_load_is_a_done_job_with_an_error_result_and_changes_nothing(bigquery_service, dataset) -> None:
    from google.api_core.exceptions import BadRequest, Conflict, NotFound
    from google.cloud import bigquery

    _partitioned_table(dataset)
    _load(dataset, "events$20260402", _ndjson({"id": 1, "name": "kept", "day": "2026-04-02"})).result()

    stray = _load(dataset, "events$20260402", _ndjson({"id": 2, "day": "2026-04-02"}, {"id": 3, "day": "2026-04-09"}))
    with pytest.raises(BadRequest, match="different partitions rather than destination partition 20260402"):
        stray.result()
    assert (stray.state, stray.error_result["reason"]) == ("DONE", "invalid")

    not_integer = _ndjson({"id": "two", "day": "2026-04-02"}, {"id": 5, "day": "2026-04-02"})
    with pytest.raises(BadRequest, match="Could not parse 'two' as INTEGER"):
        _load(dataset, "events$20260402", not_integer).result()
    with pytest.raises(BadRequest, match="Missing required field: day"):
        _load(dataset, "events$20260402", _ndjson({"id": 6})).result()
    with pytest.raises(BadRequest, match="no such field: colour"):
        _load(dataset, "events$20260402", _ndjson({"id": 7, "day": "2026-04-02", "colour": "red"})).result()
    with pytest.raises(Conflict, match="Already Exists"):
        empty_only = bigquery.WriteDisposition.WRITE_EMPTY
        _load(
            dataset, "events$20260402", _ndjson({"id": 8, "day": "2026-04-02"}), write_disposition=empty_only
        ).result()
    with pytest.raises(BadRequest, match="Invalid partition decorator"):
        _load(dataset, "events$20261340", _ndjson({"id": 9, "day": "2026-04-02"})).result()
    with pytest.raises(BadRequest, match="Provided Schema does not match"):
        other_schema = [bigquery.SchemaField("id", "STRING"), bigquery.SchemaField("day", "DATE")]
        _load(dataset, "events$20260402", _ndjson({"id": "x", "day": "2026-04-02"}), schema=other_schema).result()
    assert _day(dataset, "2026-04-02") == [(1, "kept")], "no failed load changed the partition"

    skipped = _load(dataset, "events$20260402", not_integer, max_bad_records=1)
    assert skipped.result().output_rows == 1, "maxBadRecords lets a load skip that many bad rows"
    assert _day(dataset, "2026-04-02") == [(5, None)]

    never = bigquery.CreateDisposition.CREATE_NEVER
    with pytest.raises(NotFound, match=f"Not found: Table .*{dataset}.missing"):
        _load(dataset, "missing", _ndjson({"id": 1}), create_disposition=never).result()
    plain = _client().create_table(bigquery.Table(f"{_client().project}.{dataset}.plain", schema=_schema()))
    with pytest.raises(BadRequest, match="is not partitioned"):
        _load(dataset, "plain$20260402", _ndjson({"id": 1, "day": "2026-04-02"})).result()
    created = _load(dataset, "created", _ndjson({"id": 1, "day": "2026-04-02"}), schema=_schema())
    assert created.result().output_rows == 1, "CREATE_IF_NEEDED with a schema creates the table"
    assert plain.created is not None


def _error(response: requests.Response) -> tuple[int, str, str]:
    error = response.json()["error"]
    assert error["code"] == response.status_code and error["message"] == error["errors"][0]["message"]
    return response.status_code, error["status"], error["errors"][0]["reason"]


def test_bad_requests_get_bigquery_shaped_errors(bigquery_service, dataset) -> None:
    from google.api_core.exceptions import BadRequest, Conflict, NotFound
    from google.cloud import bigquery as bq

    from local.services import bigquery

    api = f"{bigquery_service.url}/bigquery/v2/projects/{bigquery.PROJECT}"
    upload = f"{bigquery_service.url}/upload/bigquery/v2/projects/{bigquery.PROJECT}/jobs"
    table_body = {"tableReference": {"tableId": "t"}, "schema": {"fields": PARTITIONED}}

    assert _error(requests.get(f"{api}/datasets/nope_{uuid.uuid4().hex}", timeout=10)) == (404, "NOT_FOUND", "notFound")
    duplicate = requests.post(f"{api}/datasets", json={"datasetReference": {"datasetId": dataset}}, timeout=10)
    assert _error(duplicate) == (409, "ALREADY_EXISTS", "duplicate")
    bad_id = {**table_body, "tableReference": {"tableId": "no-dashes"}}
    assert _error(requests.post(f"{api}/datasets/{dataset}/tables", json=bad_id, timeout=10))[2] == "invalid"
    assert requests.post(f"{api}/datasets/{dataset}/tables", json=table_body, timeout=10).status_code == 200
    again = requests.post(f"{api}/datasets/{dataset}/tables", json=table_body, timeout=10)
    assert _error(again) == (409, "ALREADY_EXISTS", "duplicate")
    assert _error(requests.get(f"{api}/jobs/nope_{uuid.uuid4().hex}", timeout=10)) == (404, "NOT_FOUND", "notFound")

    query_job = {"jobReference": {"jobId": f"q_{uuid.uuid4().hex}"}, "configuration": {"query": {"query": "SELECT 1"}}}
    assert requests.post(f"{api}/jobs", json=query_job, timeout=10).status_code == 200
    assert _error(requests.post(f"{api}/jobs", json=query_job, timeout=10)) == (409, "ALREADY_EXISTS", "duplicate")
    copy_job = {"configuration": {"copy": {"sourceTable": {}, "destinationTable": {}}}}
    assert _error(requests.post(f"{api}/jobs", json=copy_job, timeout=10))[0] == 400
    no_destination = {"configuration": {"load": {"sourceFormat": "CSV"}}}
    assert _error(requests.post(upload, params={"uploadType": "resumable"}, json=no_destination, timeout=10))[0] == 400
    assert _error(requests.post(upload, params={"uploadType": "media"}, data=b"x", timeout=10))[0] == 400
    not_multipart = requests.post(upload, params={"uploadType": "multipart"}, data=b"x", timeout=10)
    assert _error(not_multipart) == (400, "INVALID_ARGUMENT", "invalid")
    unknown_session = requests.put(upload, params={"upload_id": "nope"}, data=b"x", timeout=10)
    assert _error(unknown_session) == (404, "NOT_FOUND", "notFound")
    bad_format = {
        "configuration": {"load": {"destinationTable": {"datasetId": dataset, "tableId": "t"}, "sourceFormat": "XML"}}
    }
    assert _error(requests.post(upload, params={"uploadType": "resumable"}, json=bad_format, timeout=10))[0] == 400

    client = _client()
    with pytest.raises(NotFound) as missing:
        client.get_table(f"{dataset}.missing")
    assert missing.value.errors[0]["reason"] == "notFound"
    with pytest.raises(Conflict):
        client.create_dataset(dataset)
    load = _load(dataset, "t", _ndjson({"id": 1, "day": "2026-04-02"}))
    load.result()
    assert _error(requests.get(f"{api}/queries/{load.job_id}", timeout=10))[0] == 400, "a load job has no results"
    with pytest.raises(BadRequest, match=r"timePartitioning\.field"):
        ingestion_time = bq.Table(f"{client.project}.{dataset}.by_ingestion", schema=_schema())
        ingestion_time.time_partitioning = bq.TimePartitioning(type_=bq.TimePartitioningType.DAY)
        client.create_table(ingestion_time)


def test_streaming_inserts_are_still_served_and_recorded(bigquery_service, dataset) -> None:
    """The DAGs load; insertAll stays served for clients that stream, and shows in /_recorded as such."""
    mark = _mark(bigquery_service.url)
    table = _partitioned_table(dataset)
    assert _client().insert_rows_json(table, [{"id": 1, "day": "2026-04-02"}]) == []
    apis = [c["api"] for c in _calls(bigquery_service.url, mark) if f"/datasets/{dataset}/" in c["path"]]
    assert "tabledata.insertAll" in apis
