"""Where a stand-in knowingly differs from the service it stands in for, pinned, so that a change to either side is
seen (local/README.md, "Stand-ins", names each difference and its test). Conformance is tested elsewhere:
tests/local/test_marquez_contract.py (Marquez), tests/local/test_services.py (each stand-in's API subset).
"""

from __future__ import annotations

import uuid

import pytest
import requests


def test_bigquery_stand_in_speaks_sqlite_not_googlesql(bigquery_service) -> None:
    """BigQuery stand-in: queries run on SQLite; a GoogleSQL-only function (SAFE_DIVIDE) is refused as invalidQuery,
    naming the dialect, where BigQuery would answer NULL. DAG SQL must stay in the common subset."""
    from google.api_core.exceptions import BadRequest

    from local.services import bigquery

    client = bigquery.client()
    assert [tuple(r.values()) for r in client.query("SELECT 7 / 2 AS x").result()] == [(3,)]  # SQLite integer division
    with pytest.raises(BadRequest, match=r"SQLite dialect in the BigQuery stand-in"):
        list(client.query("SELECT SAFE_DIVIDE(1, 0) AS x").result())


def test_bigquery_stand_in_loads_uploaded_data_only(bigquery_service) -> None:
    """BigQuery stand-in: load jobs take their data from a media upload only; a load from Cloud Storage (sourceUris,
    which BigQuery reads) and extract or copy jobs are refused (400 invalid), and tables partition by a column only
    (BigQuery also partitions by ingestion time). Jobs run within jobs.insert; a load is still answered RUNNING."""
    from local.services import bigquery

    api = f"{bigquery_service.url}/bigquery/v2/projects/{bigquery.PROJECT}"
    destination = {"projectId": bigquery.PROJECT, "datasetId": "d", "tableId": "t"}
    from_gcs = {"configuration": {"load": {"sourceUris": ["gs://bucket/orders.csv"], "destinationTable": destination}}}
    response = requests.post(f"{api}/jobs", json=from_gcs, timeout=10)
    assert response.status_code == 400 and "loads uploaded data only" in response.json()["error"]["message"]
    copy = {"configuration": {"copy": {"sourceTable": destination, "destinationTable": destination}}}
    response = requests.post(f"{api}/jobs", json=copy, timeout=10)
    assert response.status_code == 400 and "copy jobs are not served" in response.json()["error"]["message"]
    dataset = f"ds_{uuid.uuid4().hex[:10]}"
    requests.post(f"{api}/datasets", json={"datasetReference": {"datasetId": dataset}}, timeout=10).raise_for_status()
    by_ingestion = {
        "tableReference": {"tableId": "t"},
        "schema": {"fields": [{"name": "id", "type": "INTEGER"}]},
        "timePartitioning": {"type": "DAY"},
    }
    response = requests.post(f"{api}/datasets/{dataset}/tables", json=by_ingestion, timeout=10)
    assert response.status_code == 400 and "ingestion-time partitioning" in response.json()["error"]["message"]
    requests.delete(f"{api}/datasets/{dataset}", params={"deleteContents": "true"}, timeout=10).raise_for_status()


def test_slack_stand_in_does_not_check_the_webhook_token(http_standins_service) -> None:
    """Slack stand-in: any `/slack/services/T/B/<token>` path is a valid webhook (real Slack answers 403
    invalid_token or 404 no_service for an unknown one), and blocks are not validated against Block Kit (real Slack
    answers 400 invalid_blocks); only a payload without text, blocks or attachments is refused."""
    base = http_standins_service.url
    marker = uuid.uuid4().hex
    hook = f"services/TNOPE/BNOPE/{uuid.uuid4().hex}"
    wrong_token = requests.post(f"{base}/slack/{hook}", json={"text": marker}, timeout=10)
    not_block_kit = requests.post(f"{base}/slack/{hook}", json={"blocks": [{"type": "no-such-block"}]}, timeout=10)
    assert (wrong_token.status_code, wrong_token.text) == (200, "ok")
    assert (not_block_kit.status_code, not_block_kit.text) == (200, "ok")
    recorded = requests.get(f"{base}/_recorded", params={"kind": "slack"}, timeout=10).json()
    assert [r["hook"] for r in recorded if r["body"].get("text") == marker] == [hook]
