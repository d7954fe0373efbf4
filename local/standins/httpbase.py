"""A tiny JSON router over the standard library's threading HTTP server, shared by every HTTP stand-in."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]  # path parameters
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except json.JSONDecodeError as error:
            raise HttpError(400, f"body is not JSON: {error}") from None

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


@dataclass
class Response:
    status: int = 200
    body: Any = None  # dict/list → JSON, str/bytes → as is
    headers: dict[str, str] = field(default_factory=dict)


class HttpError(Exception):
    def __init__(self, status: int, message: str, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body if body is not None else {"error": message}


Handler = Callable[[Request], Response | dict | list | str | None]


class Router:
    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        """`pattern` like /v1/{mount}/data/{path:.+}; a bare {name} matches one segment."""
        regex = re.sub(r"\{(\w+)(?::([^}]+))?\}", lambda m: f"(?P<{m[1]}>{m[2] or '[^/]+'})", pattern)

        def register(handler: Handler) -> Handler:
            self.routes.append((method.upper(), re.compile(f"^{regex}$"), handler))
            return handler

        return register

    def dispatch(self, request: Request) -> Response:
        allowed = False
        for method, regex, handler in self.routes:
            match = regex.match(request.path)
            if not match:
                continue
            allowed = True
            if method != request.method:
                continue
            request.params = match.groupdict()
            result = handler(request)
            if isinstance(result, Response):
                return result
            return Response(200 if result is not None else 204, result)
        if allowed:
            raise HttpError(405, f"{request.method} not allowed on {request.path}")
        raise HttpError(404, f"no route for {request.method} {request.path}")


def serve(router: Router, host: str, port: int, name: str) -> None:
    server = build_server(router, host, port, name)
    print(f"{name} listening on http://{host}:{port}", flush=True)
    server.serve_forever()


def build_server(router: Router, host: str, port: int, name: str) -> ThreadingHTTPServer:
    class RequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = name

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = Request(
                method=self.command, path=parts.path, params={},
                query={k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()},
                headers={k.lower(): v for k, v in self.headers.items()}, body=body,
            )
            try:
                response = router.dispatch(request)
            except HttpError as error:
                response = Response(error.status, error.body)
            except Exception as error:
                response = Response(500, {"error": f"{type(error).__name__}: {error}"})
            payload = response.body
            headers = dict(response.headers)
            if isinstance(payload, (dict, list)):
                data = json.dumps(payload, default=str).encode()
                headers.setdefault("Content-Type", "application/json")
            elif isinstance(payload, str):
                data = payload.encode()
                headers.setdefault("Content-Type", "text/plain; charset=utf-8")
            elif payload is None:
                data = b""
            else:
                data = payload
            self.send_response(response.status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_LIST = _handle

        def log_message(self, format: str, *args: Any) -> None:
            sys.stdout.write(f"{self.address_string()} {format % args}\n")
            sys.stdout.flush()

    server = ThreadingHTTPServer((host, port), RequestHandler)
    server.daemon_threads = True
    return server
