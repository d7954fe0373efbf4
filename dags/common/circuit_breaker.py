"""Circuit breaker for calls to an external service, with its state kept outside the worker so it survives across runs.

CLOSED: calls go through; `failure_threshold` consecutive failures open the circuit.
OPEN: calls are refused without touching the service until `cooldown_seconds` have passed.
HALF_OPEN: one trial call; success closes the circuit, failure opens it again for another cooldown.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

CLOSED, OPEN, HALF_OPEN = "CLOSED", "OPEN", "HALF_OPEN"
HISTORY_LIMIT = 50


class CircuitOpenError(Exception):
    """Raised instead of calling the service while the circuit is open."""


@dataclass
class BreakerState:
    state: str = CLOSED
    consecutive_failures: int = 0
    opened_at: float | None = None
    transitions: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, raw: str | None) -> BreakerState:
        if not raw:
            return cls()
        data = json.loads(raw)
        if data.get("state") not in (CLOSED, OPEN, HALF_OPEN):
            raise ValueError(f"circuit breaker state {data.get('state')!r} is not CLOSED, OPEN or HALF_OPEN")
        return cls(
            state=data["state"],
            consecutive_failures=int(data.get("consecutive_failures", 0)),
            opened_at=data.get("opened_at"),
            transitions=list(data.get("transitions", [])),
        )


@dataclass(frozen=True)
class BreakerPolicy:
    failure_threshold: int = 3
    cooldown_seconds: float = 60.0

    def __post_init__(self) -> None:
        if self.failure_threshold < 1:
            raise ValueError("failure_threshold must be >= 1")
        if self.cooldown_seconds < 0:
            raise ValueError("cooldown_seconds must be >= 0")


def _move(state: BreakerState, to: str, now: float, reason: str) -> None:
    state.transitions.append({"from": state.state, "to": to, "at": now, "reason": reason})
    del state.transitions[:-HISTORY_LIMIT]
    state.state = to


def allow_call(state: BreakerState, policy: BreakerPolicy, now: float) -> bool:
    """Whether a call may go out now; an OPEN circuit whose cooldown has passed moves to HALF_OPEN for a trial."""
    if state.state == OPEN:
        if state.opened_at is not None and now - state.opened_at >= policy.cooldown_seconds:
            _move(state, HALF_OPEN, now, "cooldown elapsed")
            return True
        return False
    return True


def record_success(state: BreakerState, now: float) -> None:
    if state.state != CLOSED:
        _move(state, CLOSED, now, "trial call succeeded")
    state.consecutive_failures = 0
    state.opened_at = None


def record_failure(state: BreakerState, policy: BreakerPolicy, now: float, error: str) -> None:
    state.consecutive_failures += 1
    if state.state == HALF_OPEN:
        _move(state, OPEN, now, f"trial call failed: {error}")
        state.opened_at = now
    elif state.state == CLOSED and state.consecutive_failures >= policy.failure_threshold:
        _move(state, OPEN, now, f"{state.consecutive_failures} consecutive failures, last: {error}")
        state.opened_at = now


class StateStore(Protocol):
    def load(self) -> BreakerState: ...

    def save(self, state: BreakerState) -> None: ...


def call_through(
    store: StateStore,
    policy: BreakerPolicy,
    call: Callable[[], T],
    now: Callable[[], float],
) -> T:
    """Run `call` guarded by the breaker whose state lives in `store`; state is saved after every outcome."""
    state = store.load()
    if not allow_call(state, policy, now()):
        store.save(state)
        raise CircuitOpenError(
            f"circuit is OPEN after {state.consecutive_failures} failures; next trial after "
            f"{policy.cooldown_seconds:.0f}s cooldown"
        )
    try:
        result = call()
    except Exception as error:
        record_failure(state, policy, now(), f"{type(error).__name__}: {error}")
        store.save(state)
        raise
    record_success(state, now())
    store.save(state)
    return result


STATE_TABLE_DDL = """
CREATE TABLE IF NOT EXISTS circuit_breaker_state (
    name TEXT PRIMARY KEY,
    state JSONB NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""


class PostgresStateStore:
    """Breaker state as one JSONB row per protected service: shared by every worker and every run.

    Not an Airflow Variable on purpose: variables provided by the deployment (AIRFLOW_VAR_* / a secrets backend) are
    read before the metadata DB, so a deployed value would silently shadow the state the DAG writes.
    """

    def __init__(self, name: str, postgres_conn_id: str = "postgres_default") -> None:
        self.name = name
        self.postgres_conn_id = postgres_conn_id

    def _hook(self) -> Any:
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        return PostgresHook(postgres_conn_id=self.postgres_conn_id)

    def load(self) -> BreakerState:
        hook = self._hook()
        hook.run(STATE_TABLE_DDL)
        row = hook.get_first("SELECT state::text FROM circuit_breaker_state WHERE name = %s", parameters=(self.name,))
        return BreakerState.from_json(row[0] if row else None)

    def save(self, state: BreakerState) -> None:
        self._hook().run(
            "INSERT INTO circuit_breaker_state (name, state, updated_at) VALUES (%s, %s::jsonb, now()) "
            "ON CONFLICT (name) DO UPDATE SET state = EXCLUDED.state, updated_at = now()",
            parameters=(self.name, state.to_json()),
        )
