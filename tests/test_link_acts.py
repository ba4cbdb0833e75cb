"""Acting through a task link (the engine's side of ``tsk_workflow.links``), on SQLite and on
PostgreSQL: a task completed through a link is recorded as its person with ``via:
e-postlänk``, and the trail still verifies and replays; a link refused (tampered, expired, used
again after its task was done) is kept in ``refused_acts``, as the service records it."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.enginekit import Clock, local, set_up
from tsk_workflow import links, replay
from tsk_workflow.cli import cli
from tsk_workflow.engine.service import Engine
from tsk_workflow.errors import Refused
from tsk_workflow.links import LinkRefused, LinkSettings, read_token
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import AuditEvent, AuditPayload, RefusedAct, Task

CLOCK_START = local(2027, 3, 1, 8)  # the clock fixture (conftest.py)
CHAIR = "jessica.wahlstrom"
SETTINGS = LinkSettings(
    "https://tsk.herrljunga.example.org", b"Yb8-tests-only-key-0123456789abcdefgh"
)


def payload_of(store: Store, action: str) -> list[tuple[str, dict[str, object]]]:
    query = (
        select(AuditEvent.actor, AuditPayload.payload)
        .join(AuditPayload, AuditPayload.seq == AuditEvent.seq)
        .where(AuditEvent.action == action)
        .order_by(AuditEvent.seq)
    )
    with store.reading() as session:
        return [(actor, dict(payload)) for actor, payload in session.execute(query)]


def ida_task(store: Store) -> int:
    with store.reading() as session:
        tasks = session.scalars(select(Task).where(Task.status == "open").order_by(Task.id))
        return next(t.id for t in tasks if t.assignee_ids == ["ida.wikstrom"])


def test_a_task_done_through_a_link_is_recorded_as_its_person_via_the_link(
    engine: Engine, store: Store, clock: Clock
) -> None:
    set_up(engine)
    engine.open_cycle(CHAIR, "est", "2027-03")
    task_id = ida_task(store)
    token = links.make_token(SETTINGS, "herrljunga", "ida.wikstrom", task_id, clock.now)
    clock.now += dt.timedelta(days=1)
    claims = read_token(SETTINGS, token, clock.now)
    engine.complete_task(
        claims.person, claims.task, "Via länken", nothing_to_report=True, via=links.VIA
    )
    engine.complete_task(CHAIR, next(iter(open_tasks(store))), "Klart", nothing_to_report=True)
    done = payload_of(store, "task.done")
    assert done[0][0] == "ida.wikstrom"
    assert done[0][1]["via"] == "e-postlänk"
    assert done[0][1]["task"] == task_id
    assert "via" not in done[1][1]  # an act done as usual says nothing of how
    with store.reading() as session:
        verified = replay.verify_record(session)
    assert verified.ok, verified.reason
    shown = CliRunner().invoke(cli, ["--db", str(store.url), "--org", "herrljunga", "audit"])
    assert "via=e-postlänk" in shown.stdout
    assert (
        CliRunner()
        .invoke(cli, ["--db", str(store.url), "--org", "herrljunga", "audit", "verify"])
        .exit_code
        == 0
    )


def open_tasks(store: Store) -> list[int]:
    with store.reading() as session:
        query = select(Task.id).where(Task.status == "open").order_by(Task.id)
        return list(session.scalars(query))


def refused(store: Store) -> list[tuple[str, str, str, str]]:
    with store.reading() as session:
        return [
            (r.actor, r.action, r.subject, r.reason)
            for r in session.scalars(select(RefusedAct).order_by(RefusedAct.id))
        ]


def test_a_link_used_again_after_the_task_is_done_is_refused_and_recorded(
    engine: Engine, store: Store, clock: Clock
) -> None:
    """What the service does with a link followed twice: the engine refuses the second act,
    and the refusal is kept as a replayed link."""
    engine.open_cycle(CHAIR, "est", "2027-03")
    token = links.make_token(SETTINGS, "herrljunga", "ida.wikstrom", ida_task(store), clock.now)
    claims = read_token(SETTINGS, token, clock.now)
    engine.complete_task(claims.person, claims.task, nothing_to_report=True, via=links.VIA)
    with pytest.raises(Refused, match="redan klar"):
        engine.complete_task(claims.person, claims.task, nothing_to_report=True, via=links.VIA)
    refusal = links.replayed(claims, "done")
    engine.refuse_link(
        refusal.kind, claims.task, claims.person, str(refusal), token_id=refusal.token_id
    )
    assert refused(store) == [
        (
            "ida.wikstrom",
            "link.replayed",
            f"task:{claims.task} link:{claims.token_id}",
            f"uppgift {claims.task} är redan klar: länken har använts förut",
        )
    ]
    assert len(payload_of(store, "task.done")) == 1


def test_tampered_and_expired_links_are_recorded_as_refusals(
    engine: Engine, store: Store, clock: Clock
) -> None:
    set_up(engine)
    engine.open_cycle(CHAIR, "est", "2027-03")
    token = links.make_token(SETTINGS, "herrljunga", "ida.wikstrom", ida_task(store), clock.now)
    later = clock.now + dt.timedelta(days=15)
    for text, now in ((token[:-2], clock.now), (token, later)):
        with pytest.raises(LinkRefused) as caught:
            read_token(SETTINGS, text, now)
        found = caught.value
        claims = found.claims
        engine.refuse_link(
            found.kind,
            claims.task if claims else None,
            claims.person if claims else None,
            str(found),
            token_id=found.token_id,
        )
    [tampered, expired] = refused(store)
    assert tampered[:3] == ("-", "link.tampered", f"link:{links.token_id(token[:-2])}")
    assert tampered[3].startswith("länken är inte giltig")
    assert expired[:2] == ("ida.wikstrom", "link.expired")
    assert expired[2] == f"task:{ida_task(store)} link:{links.token_id(token)}"
    assert expired[3].startswith("länken gick ut")
    shown = CliRunner().invoke(
        cli, ["--db", str(store.url), "--org", "herrljunga", "audit", "--refused"]
    )
    assert shown.exit_code == 0, shown.output
    assert "link.tampered" in shown.stdout
    assert "link.expired" in shown.stdout
    with pytest.raises(ValueError, match="not a kind"):
        engine.refuse_link("forged", None, None, "?")


def test_a_purge_of_the_note_keeps_that_the_act_came_through_a_link(
    engine: Engine, store: Store, clock: Clock
) -> None:
    """``via`` is no personal data: a purge of the act's note restates it with the task."""
    from tsk_workflow import gdpr

    set_up(engine)
    engine.open_cycle(CHAIR, "est", "2027-03")
    task_id = ida_task(store)
    engine.complete_task(
        "ida.wikstrom", task_id, "Ring Kalle på 0701234567", nothing_to_report=True, via=links.VIA
    )
    [(_actor, done)] = payload_of(store, "task.done")
    clock.now += dt.timedelta(days=2)
    gdpr.purge(engine, "marie.lind", dt.date(2027, 3, 2), force=True)
    [(_actor, purge)] = payload_of(store, "personal_data.purged")
    [kept] = dict(purge["kept"]).values()  # type: ignore[call-overload]
    assert kept["via"] == "e-postlänk"
    assert kept["task"] == task_id
    assert "Kalle" not in str(purge)
    with store.reading() as session:
        verified = replay.verify_record(session)
    assert verified.ok, verified.reason
    assert done["note"] == "Ring Kalle på 0701234567"
