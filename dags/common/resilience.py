"""Resilience building blocks: error classes that say whether retrying can help, backoff maths and fallbacks.

Plain Python: the DAGs decide how an error class maps onto Airflow (retry vs fail fast); `no_retry_on` is that mapping
for a block of task code, and imports Airflow only when entered.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Generic, TypeVar

T = TypeVar("T")


class TransientError(Exception):
    """A failure that may go away on its own (timeout, 503, connection reset): retry it."""


class PermanentError(Exception):
    """A failure that will happen again on every try (bad credentials, invalid input): fail fast, don't retry."""


@contextmanager
def no_retry_on(*errors: type[Exception]) -> Iterator[None]:
    """Inside a task: `errors` would happen again on every try (invalid input or config, a failed gate), so they fail
    the task at once (Airflow's AirflowFailException) instead of spending its retries and their delays."""
    from airflow.sdk.exceptions import AirflowFailException

    try:
        yield
    except errors as error:
        raise AirflowFailException(f"{type(error).__name__}: {error}") from error


TRANSIENT_HTTP_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


def classify_http_status(status: int) -> type[Exception] | None:
    """None for success, TransientError for statuses worth retrying, PermanentError for the rest of 4xx/5xx."""
    if status < 400:
        return None
    if status in TRANSIENT_HTTP_STATUSES:
        return TransientError
    return PermanentError


def backoff_window(
    retry_delay: timedelta,
    multiplier: float,
    try_number: int,
    max_retry_delay: timedelta | None = None,
) -> tuple[timedelta, timedelta]:
    """The (shortest, longest) wait Airflow 3.3 can choose after failed try `try_number` with exponential backoff.

    Airflow takes base = ceil(retry_delay * multiplier**(try_number-1)) seconds (at least 1) and adds a
    deterministic jitter in [0, base), then caps the result at max_retry_delay.
    """
    if try_number < 1:
        raise ValueError(f"try_number must be >= 1, got {try_number}")
    if multiplier <= 1.0:
        return retry_delay, retry_delay
    base = max(1, math.ceil(retry_delay.total_seconds() * multiplier ** (try_number - 1)))
    low, high = timedelta(seconds=base), timedelta(seconds=2 * base - 1)
    if max_retry_delay is not None:
        low, high = min(low, max_retry_delay), min(high, max_retry_delay)
    return low, high


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """A value plus where it came from, so degraded results are visible downstream instead of silent."""

    value: T
    source: str
    degraded: bool
    error: str | None = None


def retry_transient(
    call: Callable[[], T],
    *,
    attempts: int,
    base_delay_seconds: float,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call up to `attempts` times, doubling the pause after each TransientError; PermanentError propagates at once."""
    if attempts < 1:
        raise ValueError("attempts must be >= 1")
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except TransientError:
            if attempt == attempts:
                raise
            sleep(base_delay_seconds * 2 ** (attempt - 1))
    raise AssertionError("unreachable")


def with_fallback(
    primary: Callable[[], T],
    fallback: Callable[[], T],
    *,
    primary_name: str = "primary",
    fallback_name: str = "fallback",
) -> Outcome[T]:
    """Graceful degradation: use the fallback when the primary fails transiently; permanent errors still fail."""
    try:
        return Outcome(primary(), primary_name, degraded=False)
    except TransientError as error:
        return Outcome(fallback(), fallback_name, degraded=True, error=f"{type(error).__name__}: {error}")
