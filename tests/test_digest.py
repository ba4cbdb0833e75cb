"""The daily digest: one mail a day with everything due, for the people who chose it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.enginekit import Clock, set_up
from tests.smtp_server import SmtpServer
from tsk_workflow.catalog import Catalog, load_catalog, load_organisation
from tsk_workflow.cli import cli
from tsk_workflow.engine.service import Engine
from tsk_workflow.engine.ticker import Ticker
from tsk_workflow.features import build_engine
from tsk_workflow.mail import outbox
from tsk_workflow.mail.digest import compose_digests, compose_due_digests, digest_due
from tsk_workflow.messages import message_id
from tsk_workflow.organisation.model import Organisation
from tsk_workflow.store import migrate
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import OutboxMessage, Task

TZ = ZoneInfo("Europe/Stockholm")
OPENED = dt.datetime(2027, 3, 1, 7, 0, tzinfo=TZ)
CLOCK_START = OPENED  # the clock fixture (conftest.py)
NEXT_MORNING = dt.datetime(2027, 3, 2, 7, 5, tzinfo=TZ)
CHAIR = "jessica.wahlstrom"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def herrljunga(catalog: Catalog) -> Organisation:
    return load_organisation("herrljunga", catalog)


@pytest.fixture(scope="module")
def everyone(herrljunga: Organisation) -> Organisation:
    """Herrljunga with the daily digest as everyone's default."""
    mail = herrljunga.mail.model_copy(update={"digest": True})
    return herrljunga.model_copy(update={"mail": mail})


@pytest.fixture
def engine(store: Store, catalog: Catalog, everyone: Organisation, clock: Clock) -> Engine:
    return build_engine(store, catalog, everyone, clock=clock)


def rows(store: Store, **where: Any) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    for key, value in where.items():
        query = query.where(getattr(OutboxMessage, key) == value)
    with store.reading() as session:
        return list(session.scalars(query))


def digest_of(store: Store, person: str) -> OutboxMessage:
    [row] = rows(store, template="digest", recipient=person)
    return row


def compose(store: Store, org: Organisation, now: dt.datetime) -> int:
    return compose_digests(store, {org.municipality: org}, now)


def open_task(store: Store, person: str) -> int:
    with store.reading() as session:
        tasks = session.scalars(select(Task).where(Task.status == "open").order_by(Task.id))
        return next(t.id for t in tasks if t.assignee_ids == [person])


def test_events_wait_in_the_outbox_and_are_gathered_into_one_row_a_person(
    engine: Engine, store: Store, everyone: Organisation
) -> None:
    engine.open_cycle(CHAIR, "est", "2027-03")
    waiting = rows(store)
    assert {r.status for r in waiting} == {"digest"}
    people = sorted({r.recipient for r in waiting})
    assert compose(store, everyone, NEXT_MORNING) == len(people) == 10
    assert {r.status for r in rows(store) if r.template != "digest"} == {"digested"}
    ida = digest_of(store, "ida.wikstrom")
    assert ida.message_id == message_id(everyone, "digest:2027-03-02", "ida.wikstrom")
    assert (ida.status, ida.email, ida.language) == (
        "pending",
        "ida.wikstrom@herrljunga.example.org",
        "sv",
    )
    assert ida.next_attempt_at == ida.created_at == NEXT_MORNING
    assert ida.context["day"] == "2027-03-02"
    assert ida.context["command"] == "tsk --org herrljunga --as ida.wikstrom task list --mine"
    assert ida.context["items"] == [
        {
            "kind": "task_due",
            "title": {"sv": "Månadsrapport till EST", "en": "Monthly report to EST"},
            "when": "2027-03-10T17:00:00+01:00",
            "cycle": "est-2027-03",
            "task": open_task(store, "ida.wikstrom"),
        },
        {
            "kind": "cycle",
            "title": {
                "sv": "EST – månatlig lägesbild 2027-03 har startat",
                "en": "EST – månatlig lägesbild 2027-03 has started",
            },
            "when": None,
            "cycle": "est-2027-03",
            "task": None,
        },
    ]
    # The same day again: nothing new.
    assert compose(store, everyone, NEXT_MORNING + dt.timedelta(hours=3)) == 0
    assert len(rows(store, template="digest")) == len(people)


def test_what_comes_after_the_days_digest_waits_for_the_next_day(
    engine: Engine, store: Store, everyone: Organisation, clock: Clock
) -> None:
    cycle = engine.open_cycle(CHAIR, "est", "2027-03")
    assert compose(store, everyone, NEXT_MORNING) == 10
    clock.now = NEXT_MORNING + dt.timedelta(hours=3)
    engine.close_cycle(CHAIR, cycle.ref, "Dubblett", force=True)
    closed = rows(store, template="cycle_closed")
    assert [(r.recipient, r.status) for r in closed] == [
        (CHAIR, "digest"),
        ("hanna.nyberg", "digest"),
    ]
    assert compose(store, everyone, clock.now + dt.timedelta(minutes=5)) == 0
    assert {r.status for r in rows(store, template="cycle_closed")} == {"digest"}
    next_day = NEXT_MORNING + dt.timedelta(days=1)
    assert compose(store, everyone, next_day) == 2
    second = rows(store, template="digest", recipient=CHAIR)[-1]
    assert second.context["day"] == "2027-03-03"
    assert [item["kind"] for item in second.context["items"]] == ["cycle"]
    assert second.context["items"][0]["title"]["sv"].endswith("är avslutad")
    assert second.message_id != rows(store, template="digest", recipient=CHAIR)[0].message_id


def test_a_done_task_is_left_out_and_a_reminded_task_appears_once(
    engine: Engine, store: Store, everyone: Organisation, clock: Clock
) -> None:
    engine.open_cycle(CHAIR, "est", "2027-03")
    clock.now = dt.datetime(2027, 3, 5, 9, 0, tzinfo=TZ)
    Ticker({"herrljunga": engine}, worker="test").tick(clock.now)
    assert len(rows(store, template="task_reminder")) == 5
    answers = {"kategori": "klotter", "ort": "herrljunga", "beskrivning": "Vid skolan"}
    engine.complete_task("ida.wikstrom", open_task(store, "ida.wikstrom"), "Klotter", answers)
    engine.complete_task(
        "viktor.holmberg", open_task(store, "viktor.holmberg"), "Inget", nothing_to_report=True
    )
    assert compose(store, everyone, dt.datetime(2027, 3, 6, 7, 0, tzinfo=TZ)) == 9
    items = digest_of(store, "johanna.falk").context["items"]
    assert [item["kind"] for item in items] == ["task_due", "cycle"]
    items = digest_of(store, "ida.wikstrom").context["items"]
    assert [item["kind"] for item in items] == ["cycle"]  # her task is done
    assert rows(store, template="digest", recipient="viktor.holmberg") == []  # nothing left
    assert {r.status for r in rows(store, recipient="viktor.holmberg")} == {"digested"}


def test_only_the_people_who_chose_it_get_a_digest(
    store: Store, catalog: Catalog, herrljunga: Organisation
) -> None:
    engine = build_engine(store, catalog, herrljunga, clock=Clock(OPENED))
    engine.open_cycle("gunilla.ahlberg", "styrgrupp", "2027-t1")
    status = {(r.recipient, r.template): r.status for r in rows(store)}
    assert status[("gunilla.ahlberg", "cycle_opened")] == "digest"  # digest: true in the file
    assert status[("stefan.moller", "task_assigned")] == "digest"
    assert status[("lars.hedlund", "cycle_opened")] == "pending"  # the municipality's default
    assert compose(store, herrljunga, NEXT_MORNING) == 2


@pytest.mark.parametrize(
    ("local", "due"),
    [
        (dt.datetime(2027, 3, 2, 6, 59), False),
        (dt.datetime(2027, 3, 2, 7, 0), True),
        (dt.datetime(2027, 6, 2, 6, 59), False),  # summer time
        (dt.datetime(2027, 6, 2, 7, 0), True),
        (dt.datetime(2027, 6, 2, 23, 59), True),
    ],
)
def test_the_digest_is_due_after_seven_in_the_municipalitys_time(
    herrljunga: Organisation, local: dt.datetime, due: bool
) -> None:
    assert digest_due(herrljunga, local.replace(tzinfo=TZ).astimezone(dt.UTC)) is due


def test_the_digest_time_is_an_organisation_setting(
    engine: Engine, store: Store, everyone: Organisation
) -> None:
    engine.open_cycle(CHAIR, "est", "2027-03")
    early = everyone.model_copy(
        update={"mail": everyone.mail.model_copy(update={"digest_time": "06:30"})}
    )
    at = dt.datetime(2027, 3, 2, 6, 45, tzinfo=TZ)
    assert compose_due_digests(store, {"herrljunga": everyone}, at) == 0
    assert compose_due_digests(store, {"herrljunga": early}, at) == 10


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def test_the_digest_arrives_in_the_persons_language(
    engine: Engine, store: Store, everyone: Organisation, smtp: SmtpServer
) -> None:
    engine.open_cycle(CHAIR, "est", "2027-03")
    compose(store, everyone, NEXT_MORNING)
    env = {"TSK_SMTP_HOST": smtp.host, "TSK_SMTP_PORT": str(smtp.port)}
    result = outbox.deliver(store, {"herrljunga": everyone}, env, NEXT_MORNING)
    assert (result.sent, result.failed) == (10, 0)
    mails = {m.rcpt_tos[0].split("@")[0]: m.message for m in smtp.messages}
    ida = mails["ida.wikstrom"]
    assert ida["Subject"] == "Trygghetsarbetet tisdag 2 mars 2027: 2 punkter"
    text = _part(ida, "text/plain")
    assert "Det här är på gång för dig i trygghetsarbetet, tisdag 2 mars 2027, vecka 9:" in text
    assert "- Uppgift: Månadsrapport till EST, onsdag 10 mars 2027 (est-2027-03)" in text
    assert "- Omgång: EST – månatlig lägesbild 2027-03 har startat (est-2027-03)" in text
    assert "tsk --org herrljunga --as ida.wikstrom task list --mine" in text
    assert "Månadsrapport till EST" in _part(ida, "text/html")
    rachel = mails["rachel.moore"]
    assert rachel["Subject"] == "Safety work Tuesday 2 March 2027: 1 item"
    assert "- Task: Monthly report to EST, Wednesday 10 March 2027 (est-2027-03)" in _part(
        rachel, "text/plain"
    )


def _part(message: EmailMessage, kind: str) -> str:
    for part in message.iter_parts():
        assert isinstance(part, EmailMessage)
        if part.get_content_type() == kind:
            return str(part.get_content())
    raise AssertionError(f"no {kind} part")


def test_tsk_tick_makes_the_digests_once_it_is_past_seven(
    tmp_path: Path, catalog: Catalog, herrljunga: Organisation, runner: CliRunner
) -> None:
    database = tmp_path / "tsk.db"
    store = Store(f"sqlite:///{database}")
    migrate.upgrade(store)
    engine = set_up(build_engine(store, catalog, herrljunga, clock=Clock(OPENED)))
    engine.open_cycle("gunilla.ahlberg", "styrgrupp", "2027-t1")
    store.dispose()
    base = ["--db", str(database), "--org", "herrljunga", "tick", "--no-send", "--json"]
    early = runner.invoke(cli, [*base, "--now", "2027-03-02T06:55"])
    assert early.exit_code == 0, early.output
    assert '"digests": 0' in early.output
    late = runner.invoke(cli, [*base, "--now", "2027-03-02T07:05"])
    assert late.exit_code == 0, late.output
    assert '"digests": 2' in late.output
    again = runner.invoke(cli, [*base, "--now", "2027-03-02T07:10"])
    assert '"digests": 0' in again.output


def test_an_actions_reminder_goes_in_the_owners_digest(
    engine: Engine, store: Store, everyone: Organisation
) -> None:
    from tsk_workflow.engine.actions import Actions

    register = Actions(engine)
    made = register.add(
        CHAIR,
        {"title": "Belysning", "cause": "Mörkt", "due": "2027-03-10", "owner": "jonas.ek"},
    )
    assert register.send_notices(dt.datetime(2027, 3, 1, 8, 0, tzinfo=TZ)) == 1
    assert [r.status for r in rows(store, template="action_due_soon")] == ["digest"]
    assert compose(store, everyone, NEXT_MORNING) == 1
    assert digest_of(store, "jonas.ek").context["items"] == [
        {
            "kind": "action_due",
            "title": f"#{made.id} Belysning",
            "when": "2027-03-10",
            "cycle": "",
            "task": None,
        }
    ]
