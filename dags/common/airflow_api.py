"""A small client for the Airflow 3 REST API (v2) and the FAB API, authenticated with a JWT from /auth/token.

Under the FAB auth manager (the platform's, in the cluster and locally) and under SimpleAuthManager alike, Airflow 3's
API takes only JWTs: POST /auth/token exchanges a username and password for one (FAB checks them against its users
table, AUTH_DB). FAB's `[fab] auth_backends` (basic auth) no longer applies to the REST API.
"""

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

    def as_user(self, username: str, password: str) -> AirflowApi:
        """The same API server, logged in as another user (each user's token carries its own roles)."""
        return AirflowApi(self.base_url, username, password, self.timeout)

    def response(self, method: str, path: str, **kwargs: Any) -> Any:
        """The raw `requests` response, whatever its status (for callers that assert a 403)."""
        import requests

        return requests.request(method, f"{self.base_url}{path}", headers={"Authorization": f"Bearer {self.token()}"},
                                timeout=self.timeout, **kwargs)

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        import requests

        resp = self.response(method, path, **kwargs)
        if not resp.ok:
            raise requests.HTTPError(f"{resp.status_code} {method} {path}: {resp.text[:300]}", response=resp)
        return resp.json() if resp.content else None

    def get(self, path: str, **kwargs: Any) -> Any:
        return self._request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self._request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Any:
        return self._request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self._request("DELETE", path, **kwargs)

    def paged(self, path: str, key: str, *, page_size: int = 100, max_pages: int = 100, **params: Any) -> list[dict[str, Any]]:
        """Every item of a paginated collection (`{key: [...], "total_entries": n}`), paging with offset/limit."""
        out: list[dict[str, Any]] = []
        for page in range(max_pages):
            body = self.get(path, params={**params, "limit": page_size, "offset": page * page_size})
            out.extend(body[key])
            if len(out) >= body["total_entries"] or not body[key]:
                return out
        raise RuntimeError(f"more than {max_pages * page_size} entries in {path}")

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

    # ------------------------------------------------------------ FAB auth manager: roles, users (/auth/fab/v1)
    def upsert_role(self, body: dict[str, Any]) -> str:
        """Create the role, or replace its permissions with exactly `body["actions"]` (PATCH revokes the rest).
        Returns "created", "updated" or "unchanged"."""
        from urllib.parse import quote

        name = body["name"]
        current = self.response("GET", f"/auth/fab/v1/roles/{quote(name, safe='')}")
        if current.status_code == 404:
            self.post("/auth/fab/v1/roles", json=body)
            return "created"
        current.raise_for_status()
        pairs = {(a["action"]["name"], a["resource"]["name"]) for a in current.json().get("actions") or []}
        wanted = {(a["action"]["name"], a["resource"]["name"]) for a in body["actions"]}
        if pairs == wanted:
            return "unchanged"
        self.patch(f"/auth/fab/v1/roles/{quote(name, safe='')}", json=body)
        return "updated"

    def upsert_user(self, username: str, roles: list[str], password: str) -> str:
        """Create the user with exactly `roles`, or reset an existing one's roles and password (and reactivate it)."""
        from urllib.parse import quote

        role_refs = [{"name": role} for role in roles]
        existing = self.response("GET", f"/auth/fab/v1/users/{quote(username, safe='')}")
        if existing.status_code == 404:
            self.post("/auth/fab/v1/users", json={"username": username, "email": f"{username}@example.invalid",
                                                   "first_name": username, "last_name": "probe", "roles": role_refs,
                                                   "password": password})
            return "created"
        existing.raise_for_status()
        self.patch(f"/auth/fab/v1/users/{quote(username, safe='')}", json={"roles": role_refs, "password": password})
        return "reset"

    def dag_access(self, dag_id: str, access: str, *, conf: dict[str, Any] | None = None) -> tuple[int, str | None]:
        """Try one access to a DAG as this client's user: "read" (GET the DAG) or "trigger" (POST a run with `conf`).
        Returns the HTTP status and, for a run that was created, its run id."""
        from urllib.parse import quote

        path = f"/api/v2/dags/{quote(dag_id, safe='')}"
        if access == "read":
            return self.response("GET", path).status_code, None
        if access == "trigger":
            resp = self.response("POST", f"{path}/dagRuns", json={"logical_date": None, "conf": conf or {}})
            return resp.status_code, resp.json().get("dag_run_id") if resp.ok else None
        raise ValueError(f"access {access!r} must be read or trigger")

