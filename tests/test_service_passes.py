"""The service runs the scheduler pass while it is up, and replicas on one PostgreSQL take
turns: a pass another process is running is skipped, not run twice."""

from __future__ import annotations

import time

import pytest

from tests.enginekit import Clock, local
from tests.webkit import herrljunga, service_config
from tsk_workflow.store.database import Store
from tsk_workflow.store.locks import one_at_a_time
from tsk_workflow.web.app import create_app, scheduler_for
from tsk_workflow.web.state import ServiceState

CLOCK_START = local(2027, 3, 1, 8)


def _state(store: Store, clock: Clock) -> ServiceState:
    herrljunga(store, clock)
    return ServiceState(service_config(), store, clock, virtual_time=True)


def _opened(store: Store) -> list[str]:
    from tests.enginekit import make_engine

    engine = make_engine(store)
    with store.reading() as session:
        return [c.ref for c in engine.cycles(session)]


def test_the_service_runs_the_pass_while_it_is_up(store: Store, clock: Clock) -> None:
    from fastapi.testclient import TestClient

    state = _state(store, clock)
    with TestClient(create_app(state)) as client:
        assert client.get("/healthz").status_code == 200
        deadline = time.monotonic() + 60  # the first pass starts at once; polled, not slept
        while "est-2027-03" not in _opened(store) and time.monotonic() < deadline:
            time.sleep(0.05)
    assert "est-2027-03" in _opened(store)


@pytest.mark.parametrize("store_kind", [pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_replicas_take_turns_at_the_pass(store: Store, clock: Clock) -> None:
    first = scheduler_for(_state(store, clock))
    second = scheduler_for(ServiceState(service_config(), store, clock, virtual_time=True))
    with one_at_a_time(store, "scheduler-pass") as mine:
        assert mine
        assert second.run_pass() is None  # another replica holds the pass: skipped
        assert _opened(store) == []
    result = first.run_pass()
    assert result is not None
    assert "est-2027-03" in result.timers.opened
    again = second.run_pass()
    assert again is not None
    assert again.timers.opened == []  # each timer fired once


def test_on_sqlite_the_lock_lets_every_process_in(make_store: object) -> None:
    store = make_store("sqlite")  # type: ignore[operator]
    with (
        one_at_a_time(store, "scheduler-pass") as mine,
        one_at_a_time(store, "scheduler-pass") as too,
    ):
        assert mine
        assert too
