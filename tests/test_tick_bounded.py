"""Bounded time: a pass whose ``now`` is far beyond what the database knows is refused unless
it catches up (``--catch-up``), a catch-up pass fires a limited number of batches and the next
goes on, and a failing timer is one line in the log and a pass that exits non-zero."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import update

from tests.enginekit import local
from tests.reliability.kit import environment, run_tsk
from tests.test_tick import World
from tsk_workflow import i18n
from tsk_workflow.cli import cli
from tsk_workflow.engine.ticker import CATCH_UP_BATCHES, LEAP
from tsk_workflow.errors import Refused
from tsk_workflow.schedpass import PassOptions, SchedulerPass
from tsk_workflow.scheduler import Options, Service
from tsk_workflow.store import timers as stored
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import Timer

START = local(2027, 1, 5, 9)
ENV: dict[str, str | None] = {
    "TSK_DATABASE_URL": None,
    "TSK_ORG": None,
    "TSK_USER": None,
    "TSK_LANG": "en",
    "TSK_NOW": None,
}


def tick(store: Store, *args: str) -> Result:
    return CliRunner(env=ENV).invoke(cli, ["--db", store.url, "tick", "--no-send", *args])


def initialised(folder: Path) -> Store:
    """``tsk init --virtual-time`` of Herrljunga at ``START``, in ``folder``."""
    path = folder / "tsk.db"
    made = CliRunner(env=ENV | {"TSK_NOW": START.isoformat()}).invoke(
        cli, ["--db", str(path), "--org", "herrljunga", "init", "--virtual-time"]
    )
    assert made.exit_code == 0, made.output
    return Store(f"sqlite:///{path}")


def pending(store: Store) -> list[tuple[str, dt.datetime]]:
    world_rows = World(store, START).rows(Timer, Timer.status == "pending")
    return sorted((timer.key, timer.fire_at) for timer in world_rows)


def bad_timer(store: Store, fire_at: dt.datetime) -> None:
    """A cycle opening whose period no schedule has: its act raises, the timer fails."""
    with store.transaction() as session:
        session.add(
            Timer(
                key="open:herrljunga:est:bad period!:",
                kind="cycle_open",
                municipality="herrljunga",
                fire_at=fire_at,
                status="pending",
                payload={"process": "est", "period": "bad period!", "subject": None},
                created_at=START,
            )
        )


def test_a_pass_starts_from_the_newest_moment_known_or_the_oldest_timer_due(
    store: Store,
) -> None:
    world = World(store, START)
    herrljunga = ["herrljunga"]

    def since(now: dt.datetime) -> dt.datetime | None:
        with store.reading() as session:
            return stored.catching_up_from(session, now, herrljunga)

    assert since(START) is None  # an empty database
    world.init()
    assert since(START) == START  # the organisation loaded, nothing due yet
    # February's EST opens at 07:00: not yet fired, the pass starts from the organisation's load
    assert since(local(2027, 2, 1, 9)) == START
    world.tick(local(2027, 2, 1, 9))
    assert since(local(2027, 2, 1, 9)) == local(2027, 2, 1, 9)  # the opening, recorded at 09:00
    assert since(local(2029, 6, 1, 9)) == local(2027, 2, 1, 9)  # the newest moment known
    with store.transaction() as session:  # as a pass that caught up records its acts at now
        session.execute(update(Timer).where(Timer.status == "fired").values(fire_at=START))
    world.engine.clock.now = local(2029, 6, 1, 9)
    world.engine.open_cycle("jessica.wahlstrom", "est", "2029-06")
    oldest = min(at for _key, at in pending(store))  # February's first reminder, say
    assert oldest < local(2027, 3, 1, 7)
    assert since(local(2029, 6, 1, 9)) == oldest  # still due: the pass starts from there


def test_a_clock_far_ahead_is_refused_and_changes_nothing(store: Store) -> None:
    world = World(store, START)
    world.init()
    before = world.snapshot()

    with (
        i18n.speaking("en"),
        pytest.raises(
            Refused, match="the newest time this database knows or the oldest timer still due"
        ),
    ):
        world.tick(START + LEAP + dt.timedelta(minutes=1))

    assert world.snapshot() == before
    assert world.tick(START + LEAP).total > 0  # up to the limit a pass is as before


def test_tsk_tick_refuses_the_jump_in_one_line(tmp_path: Path) -> None:
    store = initialised(tmp_path)
    before = pending(store)

    far = tick(store, "--now", "8999-12-31T23:59")
    beyond = tick(store, "--now", "9999-12-31T23:59")

    assert (far.exit_code, far.stdout) == (1, "")
    assert far.stderr.splitlines() == [
        "tsk: 8999-12-31T22:59+00:00 is 2546831 days after 2027-01-05T08:00+00:00, the newest"
        " time this database knows or the oldest timer still due: a clock that far ahead is"
        " refused; give --catch-up to fire what became due since then,"
        f" {CATCH_UP_BATCHES} batches of timers a pass"
    ]
    assert beyond.exit_code == 2
    assert [line for line in beyond.stderr.splitlines() if line.startswith("tsk: ")] == [
        "tsk: Invalid value for --now: 9999-12-31T23:59: tsk takes dates in the years 1900 to 9000"
    ]
    assert pending(store) == before


def test_a_catch_up_fires_a_limited_number_of_batches_and_the_next_goes_on(
    tmp_path: Path,
) -> None:
    store = initialised(tmp_path)
    now = "2030-06-01T09:00"
    passes = []
    for _ in range(40):
        result = tick(store, "--now", now, "--catch-up", "--batch", "1", "--json")
        assert result.exit_code == 0, result.output
        passes.append(json.loads(result.stdout))
        if not passes[-1]["more_due"]:
            break

    assert len(passes) > 2
    for done in passes[:-1]:  # each stopped at its limit, one timer a batch
        assert done["catch_up"]
        assert done["more_due"]
        assert done["total"] + done["skipped"] + done["failed"] == CATCH_UP_BATCHES
    assert not passes[-1]["more_due"]
    assert "est-2030-05" in passes[-1]["opened"] or any(
        "est-2030-05" in done["opened"] for done in passes
    )
    assert [key for key, at in pending(store) if at <= local(2030, 6, 1, 9)] == []
    caught_up = tick(store, "--now", now)  # within the limit now: an ordinary pass
    assert caught_up.exit_code == 0, caught_up.output
    assert caught_up.stdout.startswith("2030-06-01T07:00:00+00:00: 0 timers")


def test_a_capped_pass_says_so(tmp_path: Path) -> None:
    store = initialised(tmp_path)

    result = tick(store, "--now", "2030-06-01T09:00", "--catch-up", "--batch", "1")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].startswith(
        f"2030-06-01T07:00:00+00:00: {CATCH_UP_BATCHES} timers"
    )
    assert "more timers are due: this pass stopped at its limit; run it again to go on" in (
        result.stdout.splitlines()
    )


def test_a_failing_timer_is_one_log_line_and_tsk_tick_exits_1(
    tmp_path: Path,
) -> None:
    store = initialised(tmp_path)
    url = store.url
    bad_timer(store, local(2027, 1, 20, 7))

    result = run_tsk(
        url, "tick", "--no-send", "--now", "2027-02-01T09:00", env=environment(TSK_LANG="en")
    )

    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 2, lines  # no traceback
    assert lines[0].startswith("tick: timer open:herrljunga:est:bad period!: (cycle_open) failed: ")
    assert lines[1] == "tsk: 1 timer failed (see the log; its error is in its payload)"
    assert "; 1 failed" in result.stdout  # the pass's line, its work done


def test_tsk_run_logs_a_pass_with_failed_timers_at_error(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    world = World(store, START)
    world.init()
    bad_timer(store, local(2027, 1, 20, 7))
    world.clock.now = local(2027, 2, 1, 9)
    service = Service({"herrljunga": world.engine}, Options(interval=3600), clock=world.clock)
    caplog.set_level(logging.INFO)

    result = service.run_pass()

    assert result is not None
    assert result.timers.failed == 1
    failed = [r for r in caplog.records if r.name == "tsk_workflow.engine.ticker"]
    assert [(r.levelno, r.exc_info) for r in failed] == [(logging.ERROR, None)]
    (passed,) = [r for r in caplog.records if r.name == "tsk_workflow.scheduler"][-1:]
    assert passed.levelno == logging.ERROR


def test_the_pass_option_reaches_the_ticker(store: Store) -> None:
    world = World(store, START)
    world.init()
    later = START + LEAP + dt.timedelta(days=1)
    engines = {"herrljunga": world.engine}

    with pytest.raises(Refused):
        SchedulerPass(engines, {}, PassOptions())(later)
    result = SchedulerPass(engines, {}, PassOptions(catch_up=True))(later)

    assert result.timers.catch_up
    assert result.as_dict()["catch_up"]
