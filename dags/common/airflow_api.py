"""A small client for the Airflow 3 REST API (v2) and the FAB API, authenticated with a JWT from /auth/token."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class AirflowApi:
    base_url: str
    username: str
    password: str
    timeout: float = 30.0
    _token: str | None = field(default=None, repr=False)

    @classmethod
    def from_connection(cls, conn_id: str = "airflow_api") -> AirflowApi:
        from airflow.sdk import BaseHook

        conn = BaseHook.get_connection(conn_id)
        if not conn.host:
            raise ValueError(f"connection {conn_id!r} has no host")
        scheme = conn.schema or "http"
        base = conn.host if "://" in conn.host else f"{scheme}://{conn.host}"
        if conn.port:
            base = f"{base}:{conn.port}"
        if not conn.login or not conn.password:
            raise ValueError(f"connection {conn_id!r} needs login and password for /auth/token")
        return cls(base.rstrip("/"), conn.login, conn.password)

    def token(self) -> str:
        import requests

        if self._token is None:
            resp = requests.post(f"{self.base_url}/auth/token", json={"username": self.username, "password": self.password},
                                 timeout=self.timeout)
            resp.raise_for_status()
            self._token = resp.json()["access_token"]
        return self._token

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        import requests

        resp = requests.request(method, f"{self.base_url}{path}", headers={"Authorization": f"Bearer {self.token()}"},
                                timeout=self.timeout, **kwargs)
        resp.raise_for_status()
        return resp.json() if resp.content else None

    def get(self, path: str, **kwargs: Any) -> Any:
        return self._request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self._request("POST", path, **kwargs)

    def event_logs(self, *, since: str | None = None, page_size: int = 100, max_pages: int = 50) -> list[dict[str, Any]]:
        """All /api/v2/eventLogs entries (optionally after an ISO timestamp), paging with offset/limit."""
        out: list[dict[str, Any]] = []
        for page in range(max_pages):
            params: dict[str, Any] = {"limit": page_size, "offset": page * page_size, "order_by": "id"}
            if since:
                params["after"] = since
            body = self.get("/api/v2/eventLogs", params=params)
            out.extend(body["event_logs"])
            if len(out) >= body["total_entries"] or not body["event_logs"]:
                return out
        raise RuntimeError(f"more than {max_pages * page_size} event log entries; narrow the window with since=")
