from __future__ import annotations

from datetime import timedelta

import pytest

from common.resilience import (
    PermanentError,
    TransientError,
    backoff_window,
    classify_http_status,
    retry_transient,
    with_fallback,
)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, None),
        (302, None),
        (429, TransientError),
        (503, TransientError),
        (400, PermanentError),
        (401, PermanentError),
    ],
)
def test_http_statuses_are_classified(status, expected):
    assert classify_http_status(status) is expected


def test_backoff_window_doubles_and_is_capped():
    base = timedelta(seconds=10)
    assert backoff_window(base, 2.0, 1) == (timedelta(seconds=10), timedelta(seconds=19))
    assert backoff_window(base, 2.0, 2) == (timedelta(seconds=20), timedelta(seconds=39))
    assert backoff_window(base, 2.0, 3, timedelta(seconds=30)) == (timedelta(seconds=30), timedelta(seconds=30))


def test_backoff_window_without_backoff_is_the_constant_delay():
    assert backoff_window(timedelta(seconds=7), 0, 5) == (timedelta(seconds=7), timedelta(seconds=7))


def test_backoff_window_rejects_try_zero():
    with pytest.raises(ValueError, match="try_number"):
        backoff_window(timedelta(seconds=1), 2.0, 0)


def test_retry_transient_retries_with_doubling_pauses_then_succeeds():
    calls, pauses = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise TransientError("503")
        return "ok"

    assert retry_transient(flaky, attempts=3, base_delay_seconds=0.5, sleep=pauses.append) == "ok"
    assert pauses == [0.5, 1.0]


def test_retry_transient_gives_up_after_the_last_attempt():
    pauses = []
    with pytest.raises(TransientError):
        retry_transient(
            lambda: (_ for _ in ()).throw(TransientError("down")), attempts=2, base_delay_seconds=1, sleep=pauses.append
        )
    assert pauses == [1]


def test_retry_transient_does_not_retry_permanent_errors():
    calls = []

    def broken():
        calls.append(1)
        raise PermanentError("401")

    with pytest.raises(PermanentError):
        retry_transient(broken, attempts=5, base_delay_seconds=0, sleep=lambda _: None)
    assert len(calls) == 1


def test_fallback_marks_degraded_results_and_keeps_the_cause():
    def primary():
        raise TransientError("timeout")

    outcome = with_fallback(primary, lambda: [1], primary_name="api", fallback_name="cache")
    assert (outcome.value, outcome.source, outcome.degraded, outcome.error) == (
        [1],
        "cache",
        True,
        "TransientError: timeout",
    )
    healthy = with_fallback(lambda: [2], lambda: [1])
    assert (healthy.value, healthy.source, healthy.degraded) == ([2], "primary", False)


def test_fallback_does_not_hide_permanent_errors():
    def primary():
        raise PermanentError("bad key")

    with pytest.raises(PermanentError):
        with_fallback(primary, lambda: [1])


def test_no_retry_on_turns_the_named_errors_into_a_failure_airflow_does_not_retry() -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from common.resilience import no_retry_on

    with pytest.raises(AirflowFailException, match="KeyError: 'no EUR rate for GBP'"), no_retry_on(KeyError, ValueError):
        raise KeyError("no EUR rate for GBP")
    # Anything else keeps its own class, so Airflow still retries it.
    with pytest.raises(TimeoutError), no_retry_on(KeyError):
        raise TimeoutError("slow")
    with no_retry_on(KeyError):
        pass
