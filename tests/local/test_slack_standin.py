"""The Slack stand-in (local/standins/http_api.py, `/slack/api/<method>`) answers slack_sdk's WebClient the way the Slack
Web API does: HTTP 200 with `{"ok": true, ...}`, or `{"ok": false, "error": ...}` for a missing or wrong token, a channel
the workspace lacks and a message without text or blocks; accepted messages are recorded with their channel.

The router is served in-process on a free port with a token of the test's own, so no platform service is needed.
"""

from __future__ import annotations

import json
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

TOKEN = f"xoxb-test-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    from local.standins import http_api
    from local.standins.httpbase import build_server

    previous = dict(http_api._settings)
    http_api._settings.update(slack_bot_token=TOKEN, record_file=None)
    server = build_server(http_api.router, "127.0.0.1", 0, "slack-standin-test")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    http_api._settings.clear()
    http_api._settings.update(previous)


def _client(api: str, token: str | None = TOKEN) -> Any:
    from slack_sdk import WebClient

    return WebClient(token=token, base_url=f"{api}/slack/api/")


def _error(call) -> tuple[int, dict[str, Any]]:
    from slack_sdk.errors import SlackApiError

    with pytest.raises(SlackApiError) as raised:
        call()
    return raised.value.response.status_code, raised.value.response.data


def _recorded(api: str, kind: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{api}/_recorded?kind={kind}", timeout=10) as response:
        return json.loads(response.read())


def test_chat_post_message_answers_like_slack_and_records_the_channel(api: str) -> None:
    from local.standins.http_api import slack_channel_id

    marker = uuid.uuid4().hex
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": marker}}]
    answer = _client(api).chat_postMessage(channel="#team-ml", text=f"hello {marker}", blocks=blocks)
    assert answer.status_code == 200
    assert answer["ok"] is True and answer["channel"] == slack_channel_id("team-ml")
    assert answer["message"]["text"] == f"hello {marker}" and answer["message"]["blocks"] == blocks
    assert answer["ts"] == answer["message"]["ts"]
    # By channel id or bare name, as Slack accepts; blocks as a JSON string (SlackNotifier) or form-encoded.
    _client(api).chat_postMessage(channel=slack_channel_id("incidents"), text=marker)
    _client(api).api_call("chat.postMessage", data={"channel": "general", "text": marker, "blocks": json.dumps(blocks)})
    posts = [r["body"] for r in _recorded(api, "slack_api") if marker in json.dumps(r["body"])]
    assert [(p["channel"], p["channel_id"]) for p in posts] == [
        ("#team-ml", slack_channel_id("team-ml")),
        ("#incidents", slack_channel_id("incidents")),
        ("#general", slack_channel_id("general")),
    ]
    assert posts[0]["blocks"] == blocks and posts[2]["blocks"] == blocks


def test_auth_test_names_the_bot(api: str) -> None:
    answer = _client(api).auth_test()
    assert answer["ok"] is True and answer["bot_id"].startswith("B") and answer["team_id"].startswith("T")


@pytest.mark.parametrize(
    ("token", "error"), [(None, "not_authed"), ("xoxb-not-this-workspace", "invalid_auth")], ids=["none", "wrong"]
)
def test_a_missing_or_wrong_token_is_refused_with_http_200(api: str, token: str | None, error: str) -> None:
    marker = uuid.uuid4().hex
    status, data = _error(lambda: _client(api, token).chat_postMessage(channel="#team-ml", text=marker))
    assert (status, data) == (200, {"ok": False, "error": error})
    assert _error(lambda: _client(api, token).auth_test())[1]["error"] == error
    assert not [r for r in _recorded(api, "slack_api") if marker in json.dumps(r["body"])]


def test_a_channel_the_workspace_lacks_is_channel_not_found(api: str) -> None:
    for channel in ("#team-nobody", "CNOTACHANNEL", ""):
        status, data = _error(lambda channel=channel: _client(api).chat_postMessage(channel=channel, text="x"))
        assert (status, data) == (200, {"ok": False, "error": "channel_not_found"}), channel
    refused = _recorded(api, "slack_api_rejected")
    assert {"channel": "#team-nobody", "error": "channel_not_found"}.items() <= refused[-3].items()
    assert all(TOKEN not in json.dumps(r) for r in refused), "a refused call is recorded without its token"


def test_a_message_without_text_or_blocks_is_no_text(api: str) -> None:
    status, data = _error(lambda: _client(api).chat_postMessage(channel="#team-ml", text="", blocks=[]))
    assert (status, data) == (200, {"ok": False, "error": "no_text"})
    status, data = _error(lambda: _client(api).chat_postMessage(channel="#team-ml", blocks="[not json"))
    assert (status, data) == (200, {"ok": False, "error": "invalid_blocks_format"})
    status, data = _error(lambda: _client(api).chat_postMessage(channel="#team-ml", text="x", blocks=[{"no": "type"}]))
    assert (status, data) == (200, {"ok": False, "error": "invalid_blocks"})


def test_an_unknown_method_is_unknown_method(api: str) -> None:
    status, data = _error(lambda: _client(api).api_call("conversations.list"))
    assert (status, data["error"]) == (404, "unknown_method")


def test_the_workspace_has_every_channel_the_alert_routing_and_the_dags_post_to() -> None:
    """A team added to common.alerting without its channel here would fail every alert to it with channel_not_found."""
    import ast

    from common.alerting import INCIDENTS_CHANNEL, TEAM_DIRECTORY
    from local import paths
    from local.standins.http_api import SLACK_CHANNELS

    source = ast.parse((paths.REPO / "dags/phase8/02_slack_notifications.py").read_text())
    digest = next(
        node.value.value
        for node in source.body
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["DIGEST_CHANNEL"]
    )
    routed = {INCIDENTS_CHANNEL, digest, *(team.slack_channel for team in TEAM_DIRECTORY.values())}
    assert sorted(c for c in routed if c.removeprefix("#") not in SLACK_CHANNELS) == []


def test_send_slack_posts_through_the_connection_and_raises_on_ok_false(api: str, monkeypatch) -> None:
    """common.notifications.send_slack: SlackHook on a `slack` connection (bot token as password, extra.base_url);
    an `{"ok": false}` answer raises SlackApiError, so a task fails and retries instead of dropping the message."""
    from slack_sdk.errors import SlackApiError

    from common.notifications import send_slack
    from local.standins.http_api import slack_channel_id

    conn = {"conn_type": "slack", "password": TOKEN, "extra": {"base_url": f"{api}/slack/api/"}}
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_STANDIN_UNIT", json.dumps(conn))
    marker = uuid.uuid4().hex
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": marker}}]
    posted = send_slack("slack_standin_unit", channel="#team-crm", text=marker, blocks=blocks)
    assert posted["channel"] == slack_channel_id("team-crm") and posted["ts"]
    with pytest.raises(SlackApiError, match="channel_not_found"):
        send_slack("slack_standin_unit", channel="#team-nobody", text=marker, blocks=blocks)
    with pytest.raises(ValueError, match="needs a channel"):
        send_slack("slack_standin_unit", channel="", text=marker, blocks=blocks)
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_STANDIN_UNIT", json.dumps({**conn, "password": "xoxb-revoked"}))
    with pytest.raises(SlackApiError, match="invalid_auth"):
        send_slack("slack_standin_unit", channel="#team-crm", text=marker, blocks=blocks)
