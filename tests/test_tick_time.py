"""Virtual time over the nights the clocks change and over New Year: the scheduler ticks every
15 minutes (or every hour) of virtual time, and no reminder or opening is lost or doubled."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import update

from tests.test_tick import World, local
from tsk_workflow.calendar import STOCKHOLM
from tsk_workflow.catalog import load_catalog, load_organisation
from tsk_workflow.definitions.model import ProcessDefinition
from tsk_workflow.engine import plan
from tsk_workflow.engine.ticker import Ticker
from tsk_workflow.features import build_engine
from tsk_workflow.organisation.model import ProcessSettings
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import Cycle, OutboxMessage, Task, Timer

SAMORDNARE = 3  # holders of the role in Herrljunga (one per organisation): one task each

CLOCK_CHANGE = {
    # Summer time starts on Sunday 28 March 2027 (02:00 -> 03:00), which is also Easter Day.
    # Opened Tuesday the 23rd, the task is due Tuesday the 30th at 17:00; its reminders fall at
    # 08:00 on Saturday (+01:00), Sunday and Easter Monday (+02:00).
    "spring": (
        local(2027, 3, 23, 10),
        ("P3D", "P2D", "P1D"),
        (local(2027, 3, 27, 0), local(2027, 3, 31, 0)),
    ),
    # Summer time ends on Sunday 31 October 2027 (03:00 -> 02:00, the hour runs twice). Due
    # Monday 1 November at 17:00; reminders at 08:00 on Saturday (+02:00), Sunday and Monday
    # (+01:00, the last one "on the day").
    "autumn": (
        local(2027, 10, 25, 10),
        ("P2D", "P1D", "0wd"),
        (local(2027, 10, 30, 0), local(2027, 11, 2, 0)),
    ),
}


def every(start: dt.datetime, end: dt.datetime, minutes: int) -> Iterator[dt.datetime]:
    moment = start
    while moment < end:
        yield moment
        moment += dt.timedelta(minutes=minutes)


def dst_process(reminders: tuple[str, ...]) -> ProcessDefinition:
    """A task for each samordnare, due seven days after its step starts, with ``reminders``."""
    return ProcessDefinition.model_validate(
        {
            "key": "klockbyte",
            "version": 1,
            "title": "Klockbyte",
            "chair": "sakerhetschef",
            "roles": ["samordnare"],
            "schedule": {"kind": "manual"},
            "steps": [
                {
                    "key": "arbete",
                    "title": "Arbete",
                    "tasks": [
                        {
                            "key": "uppgift",
                            "title": "Uppgift",
                            "role": "samordnare",
                            "per_person": True,
                            "due": "P7D",
                            "reminders": list(reminders),
                        }
                    ],
                },
                {"key": "klar", "title": "Klar"},
            ],
            "transitions": [{"trigger": "klart", "from": "arbete", "to": "klar", "auto": True}],
            "final": ["klar"],
        }
    )


@pytest.mark.parametrize("change", sorted(CLOCK_CHANGE))
def test_no_reminder_is_lost_or_doubled_when_the_clocks_change(store: Store, change: str) -> None:
    opened_at, reminders, (first, last) = CLOCK_CHANGE[change]
    catalog = load_catalog()
    catalog = type(catalog)({**catalog.definitions, "klockbyte": dst_process(reminders)})
    herrljunga = load_organisation("herrljunga", catalog)
    org = herrljunga.model_copy(
        update={"processes": {**herrljunga.processes, "klockbyte": ProcessSettings(group="est")}}
    )
    clock = {"now": opened_at}
    engine = build_engine(store, catalog, org, lambda: clock["now"])
    cycle = engine.open_cycle("jessica.wahlstrom", "klockbyte", "test")
    ticker = Ticker({"herrljunga": engine})
    world = World(store, opened_at)
    tasks = world.rows(Task, Task.cycle_id == cycle.id)
    assert len(tasks) == SAMORDNARE
    reminder_timers = world.rows(Timer, Timer.cycle_id == cycle.id, Timer.kind == "reminder")
    days = sorted({t.fire_at.astimezone(STOCKHOLM).date() for t in reminder_timers})
    assert days == [first.astimezone(STOCKHOLM).date() + dt.timedelta(days=i) for i in range(3)]
    assert {t.fire_at.astimezone(STOCKHOLM).time() for t in reminder_timers} == {dt.time(8)}
    offsets = {t.fire_at.astimezone(STOCKHOLM).utcoffset() for t in reminder_timers}
    assert offsets == {dt.timedelta(hours=1), dt.timedelta(hours=2)}  # both sides of the change

    ticks = 0
    for now in every(first, last, 15):
        clock["now"] = now
        ticker.tick(now)
        ticks += 1

    assert ticks == (last - first) // dt.timedelta(minutes=15)
    sent = world.rows(OutboxMessage, OutboxMessage.template == "task_reminder")
    assert len(sent) == SAMORDNARE * len(reminders)
    assert set(Counter((m.task_id, m.recipient) for m in sent).values()) == {len(reminders)}
    fired = world.rows(Timer, Timer.cycle_id == cycle.id, Timer.kind == "reminder")
    assert {t.status for t in fired} == {"fired"}
    for timer in fired:  # each on the first tick at or after its time
        assert timer.fired_at is not None
        assert dt.timedelta(0) <= timer.fired_at - timer.fire_at < dt.timedelta(minutes=15)
    # And the overdue notice once, at the due time (17:00 on the last day).
    overdue = world.rows(OutboxMessage, OutboxMessage.template == "task_overdue")
    assert len(overdue) == SAMORDNARE
    assert {m.created_at for m in overdue} == {t.due_at for t in tasks}


def test_the_plan_timer_plans_next_year_on_1_december_across_new_year(store: Store) -> None:
    world = World(store, local(2026, 12, 15, 10))
    world.init()
    keys = {t.key for t in world.rows(Timer, Timer.kind == "cycle_open")}
    assert len(keys) > 10
    assert not any(":2028" in key for key in keys)
    (plan_timer,) = world.rows(Timer, Timer.kind == "plan")
    assert (plan_timer.key, plan_timer.fire_at) == ("plan:herrljunga:2028", local(2027, 12, 1, 7))
    # Only the turn of the year matters here: the openings of 2027 are left out.
    with store.transaction() as session:
        session.execute(
            update(Timer)
            .where(Timer.kind == "cycle_open", Timer.fire_at < local(2027, 11, 30, 0))
            .values(status="cancelled")
        )

    for now in every(local(2027, 11, 30, 0), local(2028, 1, 10, 0), 60):
        world.tick(now)

    (fired_plan,) = world.rows(Timer, Timer.key == "plan:herrljunga:2028")
    assert (fired_plan.status, fired_plan.fired_at) == ("fired", local(2027, 12, 1, 7))
    expected = plan.openings(
        world.engine.org,
        world.engine.catalog.definitions,
        world.engine.cal,
        dt.date(2028, 1, 1),
        dt.date(2028, 12, 31),
    )
    planned = world.rows(Timer, Timer.kind == "cycle_open", Timer.key.like("%:2028%"))
    assert len(planned) == len(expected) > 10
    assert {t.fire_at.astimezone(STOCKHOLM).time() for t in planned} == {dt.time(7)}
    (next_plan,) = world.rows(Timer, Timer.key == "plan:herrljunga:2029")
    assert (next_plan.status, next_plan.fire_at) == ("pending", local(2028, 12, 1, 7))
    # December has no openings; est-2028-01 opens on the first working day of January, once.
    cycles = world.rows(Cycle)
    assert [(c.ref, c.opened_at, c.late) for c in cycles] == [
        ("est-2028-01", local(2028, 1, 3, 7), False)
    ]
    world.verify()
