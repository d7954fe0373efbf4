from __future__ import annotations

from datetime import UTC, datetime

import pytest

from common.partner_api import Page, paginate, retry_after_seconds, validate_item
from common.resilience import PermanentError, TransientError


def _pages(total: int, size: int) -> dict[int, Page]:
    pages = {}
    count = (total + size - 1) // size
    for number in range(1, count + 1):
        items = [
            {"id": i, "name": f"item-{i}", "value": i * 1.5}
            for i in range((number - 1) * size + 1, min(number * size, total) + 1)
        ]
        pages[number] = Page(200, {}, {"items": items, "next_page": number + 1 if number < count else None})
    return pages


def test_retry_after_accepts_seconds_and_http_dates():
    now = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("3", 1.0) == 3.0
    assert retry_after_seconds("Wed, 25 Nov 2026 12:00:05 GMT", 1.0, now) == 5.0
    assert retry_after_seconds("Wed, 25 Nov 2026 11:00:00 GMT", 1.0, now) == 0.0
    assert retry_after_seconds(None, 2.0) == 2.0
    assert retry_after_seconds("soon", 2.0) == 2.0


def test_paginate_follows_next_page_and_waits_on_429():
    pages = _pages(237, 50)
    answers = iter([pages[1], Page(429, {"Retry-After": "2"}, {}), pages[2], pages[3], pages[4], pages[5]])
    asked, slept = [], []

    def fetch(page):
        asked.append(page)
        return next(answers)

    items, stats = paginate(fetch, lambda: None, sleep=slept.append)
    assert [i["id"] for i in items] == list(range(1, 238))
    assert asked == [1, 2, 2, 3, 4, 5]
    assert slept == [2.0] and stats.rate_limited == 1 and stats.pages == 5


def test_paginate_refreshes_an_expired_token_once_per_page():
    pages = _pages(10, 10)
    answers = iter([Page(401, {}, {"error": "invalid_token"}), pages[1]])
    refreshed = []
    items, stats = paginate(lambda page: next(answers), lambda: refreshed.append(1), sleep=lambda _: None)
    assert len(items) == 10 and refreshed == [1] and stats.token_refreshes == 1


def test_paginate_gives_up_on_repeated_401_and_endless_429():
    with pytest.raises(PermanentError, match="401"):
        paginate(lambda page: Page(401, {}, {}), lambda: None, sleep=lambda _: None)
    with pytest.raises(TransientError, match="rate limited after 3 waits"):
        paginate(
            lambda page: Page(429, {"Retry-After": "0"}, {}), lambda: None, sleep=lambda _: None, max_rate_limit_waits=3
        )


def test_paginate_rejects_a_body_without_items():
    with pytest.raises(PermanentError, match="`items` list"):
        paginate(lambda page: Page(200, {}, {"data": []}), lambda: None)


def test_validate_item():
    assert validate_item({"id": 1, "name": "a", "value": 2}) == []
    assert validate_item({"id": "1", "name": "a"}) == ["id: expected int, got str", "value: missing"]


def test_partner_api_names_the_missing_piece_of_its_connection(monkeypatch):
    import json

    from common.partner_api import PartnerApi

    monkeypatch.setenv("AIRFLOW_CONN_API_WITHOUT_SECRET", json.dumps({"conn_type": "http", "host": "h", "login": "id"}))
    with pytest.raises(PermanentError, match=r"connection 'api_without_secret' has no password \(client secret\)"):
        PartnerApi(conn_id="api_without_secret")
    monkeypatch.setenv(
        "AIRFLOW_CONN_API_WITHOUT_TOKEN_PATH",
        json.dumps({"conn_type": "http", "host": "h", "login": "id", "password": "s"}),
    )
    with pytest.raises(PermanentError, match=r"'api_without_token_path' has no extra.token_path"):
        PartnerApi(conn_id="api_without_token_path")
