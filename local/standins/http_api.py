"""One process, three stand-ins plus a recorder:

- `/slack/...`   Slack incoming-webhook recorder (answers `ok` like Slack, `invalid_payload` without text/blocks)
- `/oauth/token` OAuth2 client-credentials token endpoint, `/api/items` a paginated partner API that
                 answers 429 with Retry-After on every Nth request (rate limit), 401 without a valid token
- `/flaky/<name>` a controllable flaky dependency for circuit-breaker DAGs
- `/_recorded`   everything received (GET to read, DELETE to clear); `/_control/...` switches behaviour
"""

from __future__ import annotations

import argparse
import base64
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
_settings: dict[str, Any] = {"client_id": "", "client_secret": "", "record_file": None}


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


# --- Slack incoming webhook -------------------------------------------------------------
@router.route("POST", "/slack/{hook:.*}")
def slack_webhook(request: Request) -> Response:
    payload = request.json() if request.headers.get("content-type", "").startswith("application/json") \
        else json.loads(request.form().get("payload", "null"))
    if not isinstance(payload, dict) or not (payload.get("text") or payload.get("blocks") or payload.get("attachments")):
        _record("slack_rejected", request)
        return Response(400, "invalid_payload")
    _record("slack", request, {"hook": request.params["hook"]})
    return Response(200, "ok")


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
    parser.add_argument("--record-file", type=Path)
    args = parser.parse_args()
    _settings.update(client_id=args.client_id, client_secret=args.client_secret_file.read_text().strip(),
                     record_file=args.record_file)
    serve(router, args.host, args.port, "http-standins")


if __name__ == "__main__":
    main()
