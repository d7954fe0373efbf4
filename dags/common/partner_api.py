"""A paginated partner API behind OAuth2 client credentials, honouring 429 rate limits.

`paginate` is pure (it takes a page-fetching function and a sleep), so rate-limit and token-refresh behaviour is
unit-tested; `PartnerApi` binds it to an Airflow HTTP connection (login = client id, password = client secret,
extra.token_path = the token endpoint).
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from common.records import require_fields
from common.resilience import PermanentError, TransientError


@dataclass(frozen=True)
class Page:
    status: int
    headers: Mapping[str, str]
    body: Any


@dataclass
class PaginationStats:
    pages: int = 0
    rate_limited: int = 0
    waited_seconds: float = 0.0
    token_refreshes: int = 0
    waits: list[float] = field(default_factory=list)


def retry_after_seconds(value: str | None, default: float, now: datetime | None = None) -> float:
    """Retry-After is either delta-seconds or an HTTP-date; anything unreadable falls back to `default`."""
    if value is None or not value.strip():
        return default
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def paginate(
    fetch_page: Callable[[int], Page],
    refresh_token: Callable[[], None],
    *,
    sleep: Callable[[float], None] = time.sleep,
    max_rate_limit_waits: int = 20,
    default_retry_after: float = 1.0,
) -> tuple[list[Any], PaginationStats]:
    """Follow `next_page` from page 1; on 429 wait Retry-After and ask again, on 401 refresh the token once."""
    items: list[Any] = []
    stats = PaginationStats()
    page: int | None = 1
    refreshed_for_page: int | None = None
    while page is not None:
        response = fetch_page(page)
        if response.status == 429:
            stats.rate_limited += 1
            if stats.rate_limited > max_rate_limit_waits:
                raise TransientError(f"still rate limited after {max_rate_limit_waits} waits (page {page})")
            wait = retry_after_seconds(response.headers.get("Retry-After"), default_retry_after)
            stats.waits.append(wait)
            stats.waited_seconds += wait
            sleep(wait)
            continue
        if response.status == 401 and refreshed_for_page != page:
            refreshed_for_page = page
            stats.token_refreshes += 1
            refresh_token()
            continue
        if response.status >= 500:
            raise TransientError(f"partner API answered {response.status} on page {page}")
        if response.status >= 400:
            raise PermanentError(f"partner API answered {response.status} on page {page}: {response.body}")
        body = response.body
        if not isinstance(body, Mapping) or not isinstance(body.get("items"), list):
            raise PermanentError(f"page {page}: expected an object with an `items` list, got {str(body)[:200]}")
        items.extend(body["items"])
        stats.pages += 1
        page = body.get("next_page")
    return items, stats


def validate_item(item: Mapping[str, Any]) -> list[str]:
    return require_fields(item, {"id": int, "name": str, "value": (int, float)})


class PartnerApi:
    """OAuth2 client-credentials session over an Airflow HTTP connection."""

    def __init__(self, conn_id: str, *, timeout: float = 10.0) -> None:
        from airflow.providers.http.hooks.http import HttpHook

        self.conn_id = conn_id
        self.timeout = timeout
        self._hook = HttpHook(method="POST", http_conn_id=conn_id)
        connection = self._hook.get_connection(conn_id)
        for name, value in (("login (client id)", connection.login), ("password (client secret)", connection.password)):
            if not value:
                raise PermanentError(f"connection {conn_id!r} has no {name}")
        self._token_path = connection.extra_dejson.get("token_path")
        if not self._token_path:
            raise PermanentError(f"connection {conn_id!r} has no extra.token_path")
        self._session: Any = None
        self.token_requests = 0

    def refresh_token(self) -> None:
        """client_secret_basic: the hook sends the connection's login/password as HTTP Basic auth."""
        response = self._hook.run(
            self._token_path,
            data={"grant_type": "client_credentials"},
            extra_options={"check_response": False, "timeout": self.timeout},
        )
        if response.status_code != 200:
            raise PermanentError(
                f"{self.conn_id}: token request answered {response.status_code}: {response.text[:200]}"
            )
        token = response.json()["access_token"]
        self.token_requests += 1
        session = self._hook.get_conn()
        session.auth = None  # bearer token from now on, not the client credentials
        session.headers["Authorization"] = f"Bearer {token}"
        self._session = session

    def fetch_page(self, endpoint: str, page: int, page_size: int) -> Page:
        if self._session is None:
            self.refresh_token()
        response = self._session.get(
            f"{self._hook.base_url.rstrip('/')}/{endpoint.lstrip('/')}",
            params={"page": page, "page_size": page_size},
            timeout=self.timeout,
        )
        try:
            body = response.json()
        except ValueError:
            body = response.text
        return Page(response.status_code, response.headers, body)
