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


def test_slack_stand_in_bot_is_in_every_channel_and_never_rate_limited(http_standins_service) -> None:
    """Slack stand-in (Web API): the bot is a member of every channel of the workspace's fixed list (real Slack answers
    `not_in_channel` until the app is invited, and `missing_scope` without chat:write), blocks are only checked to be
    objects with a `type` (real Slack validates Block Kit: `invalid_blocks` for an unknown block type), there is no
    rate limit (real Slack allows about one message per second per channel, then HTTP 429 `ratelimited`), and only
    chat.postMessage and auth.test are served (conversations.list, chat.update, ... answer `unknown_method`)."""
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    from local.services import http_standins

    client = WebClient(token=http_standins.slack_bot_token(), base_url=http_standins.slack_api_url())
    marker = uuid.uuid4().hex
    not_block_kit = client.chat_postMessage(channel="#team-sales", text=marker, blocks=[{"type": "no-such-block"}])
    assert not_block_kit["ok"] is True
    burst = [client.chat_postMessage(channel="#team-sales", text=f"{marker} {i}")["ok"] for i in range(5)]
    assert burst == [True] * 5
    with pytest.raises(SlackApiError) as unknown:
        client.conversations_list()
    assert unknown.value.response["error"] == "unknown_method"
    recorded = requests.get(f"{http_standins_service.url}/_recorded", params={"kind": "slack_api"}, timeout=10).json()
    assert len([r for r in recorded if marker in r["body"]["text"]]) == 6
