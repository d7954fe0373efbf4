from __future__ import annotations

import pytest

from common.circuit_breaker import (
    CLOSED,
    HALF_OPEN,
    OPEN,
    BreakerPolicy,
    BreakerState,
    CircuitOpenError,
    call_through,
)


class MemoryStore:
    """Round-trips through JSON like the Postgres store, so serialisation is exercised too."""

    def __init__(self) -> None:
        self.raw: str | None = None

    def load(self) -> BreakerState:
        return BreakerState.from_json(self.raw)

    def save(self, state: BreakerState) -> None:
        self.raw = state.to_json()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _fail():
    raise ConnectionError("503")


def test_full_cycle_closed_open_half_open_closed():
    store, clock, policy = MemoryStore(), Clock(), BreakerPolicy(failure_threshold=3, cooldown_seconds=30)
    for _ in range(3):
        with pytest.raises(ConnectionError):
            call_through(store, policy, _fail, clock)
    assert store.load().state == OPEN

    calls = []
    with pytest.raises(CircuitOpenError):
        call_through(store, policy, lambda: calls.append(1), clock)
    assert calls == [], "an OPEN circuit must not call the service"

    clock.now += 30
    assert call_through(store, policy, lambda: "pong", clock) == "pong"
    state = store.load()
    assert state.state == CLOSED and state.consecutive_failures == 0
    assert [(t["from"], t["to"]) for t in state.transitions] == [(CLOSED, OPEN), (OPEN, HALF_OPEN), (HALF_OPEN, CLOSED)]


def test_failed_trial_reopens_for_a_new_cooldown():
    store, clock, policy = MemoryStore(), Clock(), BreakerPolicy(failure_threshold=1, cooldown_seconds=10)
    with pytest.raises(ConnectionError):
        call_through(store, policy, _fail, clock)
    clock.now += 10
    with pytest.raises(ConnectionError):
        call_through(store, policy, _fail, clock)
    state = store.load()
    assert state.state == OPEN and state.opened_at == clock.now
    clock.now += 5
    with pytest.raises(CircuitOpenError):
        call_through(store, policy, lambda: None, clock)


def test_success_resets_the_failure_count_while_closed():
    store, clock, policy = MemoryStore(), Clock(), BreakerPolicy(failure_threshold=2, cooldown_seconds=10)
    with pytest.raises(ConnectionError):
        call_through(store, policy, _fail, clock)
    call_through(store, policy, lambda: None, clock)
    with pytest.raises(ConnectionError):
        call_through(store, policy, _fail, clock)
    assert store.load().state == CLOSED


def test_bad_stored_state_and_policy_are_rejected_with_names():
    with pytest.raises(ValueError, match="'AJAR'"):
        BreakerState.from_json('{"state": "AJAR"}')
    with pytest.raises(ValueError, match="failure_threshold"):
        BreakerPolicy(failure_threshold=0)
    assert BreakerState.from_json(None).state == CLOSED
