"""One process, three stand-ins plus a recorder:

- `/slack/api/<method>` the Slack Web API (`chat.postMessage`, `auth.test`) of a workspace with a fixed list of
                 channels (SLACK_CHANNELS), bot token checked, answered like Slack (HTTP 200, `{"ok": ...}`)
- `/oauth/token` OAuth2 client-credentials token endpoint, `/api/items` a paginated partner API that
                 answers 429 with Retry-After on every Nth request (rate limit), 401 without a valid token
- `/flaky/<name>` a controllable flaky dependency for circuit-breaker DAGs
- `/_recorded`   everything received (GET to read, DELETE to clear); `/_control/...` switches behaviour
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import itertools
import json
import secrets
import threading
import time
from pathlib import Path
from typing import Any

from local.standins.httpbase import HttpError, Request, Response, Router, serve

ITEM_COUNT = 237  # not a multiple of any page size, so the last page is short
TOKEN_TTL_SECONDS = 300

router = Router()
_lock = threading.Lock()
_recorded: list[dict[str, Any]] = []
_tokens: dict[str, float] = {}
_rate = {"every": 4, "retry_after": 1, "count": 0}
_flaky: dict[str, dict[str, Any]] = {}
_settings: dict[str, Any] = {"client_id": "", "client_secret": "", "slack_bot_token": "", "record_file": None}


def _record(kind: str, request: Request, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    try:
        body: Any = json.loads(request.body) if request.body else None
    except json.JSONDecodeError:
        body = request.body.decode(errors="replace")
    entry = {"kind": kind, "method": request.method, "path": request.path, "query": request.query,
             "body": body, "at": time.time(), **(extra or {})}
    with _lock:
        _recorded.append(entry)
        if _settings["record_file"]:
            with open(_settings["record_file"], "a") as handle:
                handle.write(json.dumps(entry) + "\n")
    return entry


@router.route("GET", "/_health")
def health(_: Request) -> dict:
    return {"status": "ok"}


@router.route("GET", "/_recorded")
def recorded(request: Request) -> list:
    kind = request.query.get("kind")
    with _lock:
        return [e for e in _recorded if kind is None or e["kind"] == kind]


@router.route("DELETE", "/_recorded")
def clear_recorded(_: Request) -> dict:
    with _lock:
        _recorded.clear()
    return {"cleared": True}


# --- Slack Web API ---------------------------------------------------------------------
# The workspace's channels, fixed: #general (every workspace has it), #incidents and #team-<team> for each team of
# dags/common/alerting.py TEAM_DIRECTORY (the alert routing; the phase8 digest goes to #team-data-eng).
# tests/local/test_slack_standin.py fails when the routing names a channel missing here.
SLACK_CHANNELS = (
    "general", "incidents",
    "team-platform", "team-data-eng", "team-ml", "team-analytics", "team-data-quality", "team-orchestration",
    "team-security", "team-crm", "team-sales",
)
SLACK_TEAM_ID = "T0LOCAL"
SLACK_BOT = {"user": "airflow", "user_id": "U0AIRFLOW", "bot_id": "B0AIRFLOW"}
_slack_seq = itertools.count(1)


def slack_channel_id(name: str) -> str:
    """A stable Slack-style channel id (C + 10 upper-case hex digits) for a channel name of the workspace."""
    return "C" + hashlib.sha1(name.encode()).hexdigest()[:10].upper()


_SLACK_BY_ID = {slack_channel_id(name): name for name in SLACK_CHANNELS}


def _slack_params(request: Request) -> dict[str, Any]:
    """Arguments as Slack reads them: the query string, then a JSON object body or a form body."""
    params: dict[str, Any] = dict(request.query)
    if request.headers.get("content-type", "").startswith("application/json"):
        body = json.loads(request.body) if request.body else {}
        if not isinstance(body, dict):
            raise ValueError("not an object")
        params.update(body)
    elif request.body:
        params.update(request.form())
    return params


def _slack_auth_error(request: Request, params: dict[str, Any]) -> str | None:
    """not_authed without a token, invalid_auth for any token but the workspace's bot token (Bearer header or `token`)."""
    auth = request.headers.get("authorization", "")
    given = auth[7:].strip() if auth.lower().startswith("bearer ") else str(params.get("token") or "")
    if not given:
        return "not_authed"
    expected = _settings["slack_bot_token"]
    return None if expected and secrets.compare_digest(given, expected) else "invalid_auth"


def _slack_list(value: Any) -> list[Any] | None:
    """blocks / attachments: a JSON array, or a string holding one (form bodies and SlackNotifier send strings)."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return None
    return value if isinstance(value, list) else None


def _slack_reject(request: Request, api: str, error: str, detail: dict[str, Any] | None = None) -> dict[str, Any]:
    # Recorded without the request body or headers: they may hold the token.
    _record("slack_api_rejected", Request(request.method, request.path, {}, {}, {}, b""),
            {"api": api, "error": error, **(detail or {})})
    return {"ok": False, "error": error}


def _chat_post_message(request: Request, params: dict[str, Any]) -> dict[str, Any]:
    requested = str(params.get("channel") or "")
    name = _SLACK_BY_ID.get(requested) or requested.removeprefix("#")
    if name not in SLACK_CHANNELS:
        return _slack_reject(request, "chat.postMessage", "channel_not_found", {"channel": requested})
    blocks, attachments = _slack_list(params.get("blocks")), _slack_list(params.get("attachments"))
    if blocks is None:
        return _slack_reject(request, "chat.postMessage", "invalid_blocks_format", {"channel": requested})
    if not all(isinstance(b, dict) and isinstance(b.get("type"), str) for b in blocks):
        return _slack_reject(request, "chat.postMessage", "invalid_blocks", {"channel": requested})
    if attachments is None:
        return _slack_reject(request, "chat.postMessage", "invalid_attachments", {"channel": requested})
    text = str(params.get("text") or "")
    if not (text or blocks or attachments):
        return _slack_reject(request, "chat.postMessage", "no_text", {"channel": requested})
    channel_id, ts = slack_channel_id(name), f"{int(time.time())}.{next(_slack_seq):06d}"
    message = {"type": "message", "subtype": "bot_message", "text": text, "bot_id": SLACK_BOT["bot_id"],
               "user": SLACK_BOT["user_id"], "ts": ts, "blocks": blocks,
               **({"attachments": attachments} if attachments else {})}
    posted = {"channel": f"#{name}", "channel_id": channel_id, "text": text, "blocks": blocks,
              "attachments": attachments, "ts": ts}
    _record("slack_api", Request(request.method, request.path, {}, {}, {}, json.dumps(posted).encode()),
            {"api": "chat.postMessage"})
    return {"ok": True, "channel": channel_id, "ts": ts, "message": message}


def _auth_test(request: Request, _: dict[str, Any]) -> dict[str, Any]:
    host = request.headers.get("host", "127.0.0.1")
    return {"ok": True, "url": f"http://{host}/slack/", "team": "Local platform", "team_id": SLACK_TEAM_ID,
            **SLACK_BOT, "is_enterprise_install": False}


_SLACK_METHODS = {"chat.postMessage": _chat_post_message, "auth.test": _auth_test}


def slack_api(request: Request) -> Response:
    """POST (or GET) /slack/api/<method>: HTTP 200 and `{"ok": true, ...}` or `{"ok": false, "error": ...}`, as Slack."""
    api = request.params["method"]
    handler = _SLACK_METHODS.get(api)
    if handler is None:
        return Response(404, {"ok": False, "error": "unknown_method", "req_method": api})
    try:
        params = _slack_params(request)
    except (ValueError, HttpError):
        return Response(200, _slack_reject(request, api, "invalid_json"))
    error = _slack_auth_error(request, params)
    if error:
        return Response(200, _slack_reject(request, api, error))
    return Response(200, handler(request, params))


router.route("POST", "/slack/api/{method}")(slack_api)
router.route("GET", "/slack/api/{method}")(slack_api)


# --- OAuth2 client credentials + paginated API ------------------------------------------
@router.route("POST", "/oauth/token")
def token(request: Request) -> Response:
    form = request.form()
    client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("basic "):
        client_id, _, client_secret = base64.b64decode(auth[6:]).decode().partition(":")
    if form.get("grant_type") != "client_credentials":
        return Response(400, {"error": "unsupported_grant_type"})
    if (client_id, client_secret) != (_settings["client_id"], _settings["client_secret"]):
        _record("oauth_denied", request)
        return Response(401, {"error": "invalid_client"})
    access = secrets.token_urlsafe(24)
    with _lock:
        _tokens[access] = time.time() + TOKEN_TTL_SECONDS
    _record("oauth_token", Request(request.method, request.path, {}, {}, {}, b""))
    return Response(200, {"access_token": access, "token_type": "Bearer", "expires_in": TOKEN_TTL_SECONDS})


def _require_token(request: Request) -> None:
    auth = request.headers.get("authorization", "")
    token_value = auth[7:] if auth.lower().startswith("bearer ") else ""
    with _lock:
        expiry = _tokens.get(token_value)
    if expiry is None or expiry < time.time():
        raise HttpError(401, "invalid_token", {"error": "invalid_token"})


def item(index: int) -> dict[str, Any]:
    """Item `index` of the partner API: deterministic so tests can check what a DAG loaded."""
    return {"id": index, "name": f"item-{index:04d}", "value": round(index * 1.5, 2), "category": "abc"[index % 3]}


@router.route("GET", "/api/items")
def items(request: Request) -> Response:
    _require_token(request)
    with _lock:
        _rate["count"] += 1
        limited = _rate["every"] > 0 and _rate["count"] % _rate["every"] == 0
    if limited:
        _record("api_429", request)
        return Response(429, {"error": "rate_limited"}, {"Retry-After": str(_rate["retry_after"])})
    try:
        page = int(request.query.get("page", "1"))
        size = int(request.query.get("page_size", "50"))
    except ValueError:
        raise HttpError(400, "page and page_size must be integers") from None
    if page < 1 or not 1 <= size <= 100:
        raise HttpError(400, "page >= 1 and 1 <= page_size <= 100")
    start = (page - 1) * size + 1
    stop = min(start + size, ITEM_COUNT + 1)
    last = stop > ITEM_COUNT
    _record("api_items", request)
    return Response(200, {"items": [item(i) for i in range(start, stop)], "page": page, "page_size": size,
                          "total": ITEM_COUNT, "next_page": None if last else page + 1})


@router.route("POST", "/_control/rate_limit")
def control_rate(request: Request) -> dict:
    body = request.json() or {}
    with _lock:
        _rate["every"] = int(body.get("every", _rate["every"]))
        _rate["retry_after"] = int(body.get("retry_after", _rate["retry_after"]))
        _rate["count"] = 0
        return {"every": _rate["every"], "retry_after": _rate["retry_after"]}


# --- flaky service ----------------------------------------------------------------------
def _flaky_state(name: str) -> dict[str, Any]:
    return _flaky.setdefault(name, {"mode": "up", "fail_remaining": 0, "calls": 0, "failures": 0})


@router.route("POST", "/_control/flaky/{name}")
def control_flaky(request: Request) -> dict:
    """Body {"mode": "up"|"down"|"fail_n", "n": 3}: fail_n fails the next n calls then recovers."""
    body = request.json() or {}
    mode = body.get("mode", "up")
    if mode not in ("up", "down", "fail_n"):
        raise HttpError(400, f"mode must be up, down or fail_n, not {mode!r}")
    with _lock:
        state = _flaky_state(request.params["name"])
        state.update(mode=mode, fail_remaining=int(body.get("n", 0)), calls=0, failures=0)
        return dict(state)


@router.route("GET", "/_control/flaky/{name}")
def flaky_state(request: Request) -> dict:
    with _lock:
        return dict(_flaky_state(request.params["name"]))


def _flaky_call(request: Request) -> Response:
    name = request.params["name"]
    with _lock:
        state = _flaky_state(name)
        state["calls"] += 1
        fail = state["mode"] == "down" or (state["mode"] == "fail_n" and state["fail_remaining"] > 0)
        if state["mode"] == "fail_n" and fail:
            state["fail_remaining"] -= 1
        if fail:
            state["failures"] += 1
        calls = state["calls"]
    _record("flaky", request, {"service": name, "failed": fail})
    if fail:
        return Response(503, {"error": "service unavailable", "service": name, "call": calls})
    return Response(200, {"ok": True, "service": name, "call": calls})


router.route("GET", "/flaky/{name}")(_flaky_call)
router.route("POST", "/flaky/{name}")(_flaky_call)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret-file", type=Path, required=True)
    parser.add_argument("--slack-bot-token-file", type=Path, required=True)
    parser.add_argument("--record-file", type=Path)
    args = parser.parse_args()
    _settings.update(client_id=args.client_id, client_secret=args.client_secret_file.read_text().strip(),
                     slack_bot_token=args.slack_bot_token_file.read_text().strip(), record_file=args.record_file)
    serve(router, args.host, args.port, "http-standins")


if __name__ == "__main__":
    main()
