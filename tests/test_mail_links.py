"""Task links in mail, end to end, on SQLite and on PostgreSQL: the engine queues the mail, the
outbox renders it with the recipient's signed link to the task and sends it to a real SMTP
server (aiosmtpd on 127.0.0.1); the link read back names that person and that task. What the
engine does with a link is in ``tests/test_link_acts.py``."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.enginekit import Clock, local, set_up
from tests.smtp_server import Received, SmtpServer
from tsk_workflow.catalog import load_catalog
from tsk_workflow.cli import cli
from tsk_workflow.engine.service import Engine
from tsk_workflow.engine.ticker import Ticker
from tsk_workflow.features import build_engine
from tsk_workflow.links import LinkConfigError, LinkSettings, read_token
from tsk_workflow.mail import outbox
from tsk_workflow.mail.digest import compose_digests
from tsk_workflow.organisation.model import Organisation
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import OutboxMessage, Task

CLOCK_START = local(2027, 3, 1, 8)  # the clock fixture (conftest.py)
CHAIR = "jessica.wahlstrom"
KEY = "Yb8-docs-and-tests-only-key-0123456789abcdefgh"
BASE = "https://tsk.herrljunga.example.org"
LINKS = {"TSK_BASE_URL": BASE, "TSK_SECRET_KEY": KEY}
SETTINGS = LinkSettings(BASE, KEY.encode())
URL = re.compile(re.escape(BASE) + r"/t/([A-Za-z0-9_.-]+)")
TASK_MAILS = ("task_assigned", "task_reminder", "task_overdue", "task_escalated")


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def smtp_env(smtp: SmtpServer, **more: str) -> dict[str, str]:
    return {
        "TSK_SMTP_HOST": smtp.host,
        "TSK_SMTP_PORT": str(smtp.port),
        "TSK_SMTP_TIMEOUT": "5",
        **more,
    }


def rows(store: Store, **where: object) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    for key, value in where.items():
        query = query.where(getattr(OutboxMessage, key) == value)
    with store.reading() as session:
        return list(session.scalars(query))


def deliver(store: Store, org: Organisation, env: dict[str, str], now: dt.datetime) -> None:
    result = outbox.deliver(store, {org.municipality: org}, env, now)
    assert (result.failed, result.held) == (0, 0), result.replies


def parts(message: EmailMessage) -> dict[str, str]:
    found = {}
    for part in message.walk():
        if part.get_content_type() in ("text/plain", "text/html"):
            assert isinstance(part, EmailMessage)
            found[part.get_content_type()] = str(part.get_content())
    return found


def by_message_id(received: list[Received]) -> dict[str, EmailMessage]:
    return {str(r.message["Message-ID"]): r.message for r in received}


def second(moment: dt.datetime) -> dt.datetime:
    return moment.replace(microsecond=0)


def check_link(row: OutboxMessage, message: EmailMessage, task_id: int) -> str:
    """The one link of ``message`` (the text part's, the HTML's the same): its token names the
    row's recipient and ``task_id``, issued when the row was queued. Returns the token."""
    text, html = parts(message)["text/plain"], parts(message)["text/html"]
    tokens = URL.findall(text)
    assert len(tokens) == 1, text
    assert f'href="{BASE}/t/{tokens[0]}"' in html
    claims = read_token(SETTINGS, tokens[0], row.created_at)
    assert (claims.municipality, claims.person, claims.task) == (
        "herrljunga",
        row.recipient,
        task_id,
    )
    assert claims.issued_at == second(row.created_at)
    assert claims.expires_at == second(row.created_at) + dt.timedelta(days=14)
    return str(tokens[0])


# ---------------------------------------------------------------- the mails


def test_each_task_mail_carries_its_recipients_link_to_its_task(
    engine: Engine, store: Store, smtp: SmtpServer, clock: Clock
) -> None:
    set_up(engine)
    engine.open_cycle(CHAIR, "est", "2027-03")
    ticker = Ticker({engine.org.municipality: engine})
    for clock.now in (local(2027, 3, 9, 10), local(2027, 3, 20, 10)):
        ticker.tick(clock.now)  # the reminders; then the overdue notices and escalations
    deliver(store, engine.org, smtp_env(smtp, **LINKS), clock.now)
    mails = by_message_id(smtp.messages)
    seen = dict.fromkeys(TASK_MAILS, 0)
    for row in rows(store, status="sent"):
        message = mails[row.message_id]
        if row.template not in TASK_MAILS:
            assert not URL.search(parts(message)["text/plain"]), row.template
            continue
        assert row.task_id is not None
        check_link(row, message, row.task_id)
        seen[row.template] += 1
    assert all(seen.values()), seen
    # the chair's escalation links the chair to the task (a chair may complete it)
    escalated = rows(store, template="task_escalated")
    assert {row.recipient for row in escalated} <= {CHAIR, "hanna.nyberg"}


def test_the_link_is_the_mails_main_action_and_the_command_line_follows(
    engine: Engine, store: Store, smtp: SmtpServer, clock: Clock
) -> None:
    """The link first after the greeting (a button in the HTML), then the task, then the
    command line for those who use it; in the reader's language."""
    engine.open_cycle(CHAIR, "est", "2027-03")
    deliver(store, engine.org, smtp_env(smtp, **LINKS), clock.now)
    mails = by_message_id(smtp.messages)
    ida = rows(store, template="task_assigned", recipient="ida.wikstrom")[0]
    rachel = rows(store, template="task_assigned", recipient="rachel.moore")[0]  # reads English
    swedish = parts(mails[ida.message_id])
    english = parts(mails[rachel.message_id])
    text = swedish["text/plain"]
    token = check_link(ida, mails[ida.message_id], ida.task_id or 0)
    assert text.startswith("Hej Ida Wikström!\n\nÖppna uppgiften i webbläsaren, utan inloggning"), (
        text
    )
    assert (
        text.index(f"/t/{token}")
        < text.index("Du har fått en ny uppgift")
        < text.index("Eller från kommandoraden:")
        < text.index("tsk --org herrljunga --as ida.wikstrom task")
    )
    assert "(länken gäller till måndag 15 mars 2027, kl. 08:00)" in text
    assert "så vidarebefordra inte det här mejlet" in text
    html = swedish["text/html"]
    greeting = html.index("<p>Hej Ida Wikström!</p>")
    assert html.index("<p>Öppna uppgiften i webbläsaren, utan inloggning") > greeting
    assert (
        html.index(f'href="{BASE}/t/{token}" style="display: inline-block;')
        < html.index("Du har fått en ny uppgift")
        < html.index("<p>Eller från kommandoraden:</p>")
        < html.index("tsk --org herrljunga --as ida.wikstrom task")
    )
    assert ">Öppna uppgiften</a>" in html
    assert english["text/plain"].startswith(
        "Hello Rachel Moore,\n\nOpen the task in your browser, without signing in"
    )
    assert "(the link works until Monday 15 March 2027, 08:00)" in english["text/plain"]
    assert "so do not forward this mail" in english["text/plain"]
    assert "Or from the command line:" in english["text/plain"]
    assert ">Open the task</a>" in english["text/html"]
    assert '<html lang="en">' in english["text/html"]


def test_a_task_without_a_form_says_the_command_after_its_link(
    engine: Engine, store: Store, smtp: SmtpServer, clock: Clock
) -> None:
    opened = engine.open_cycle(CHAIR, "est", "2027-03")
    engine.advance(CHAIR, opened.ref, "sammanstall")  # the coordinator's own lägesbild: no form
    deliver(store, engine.org, smtp_env(smtp, **LINKS), clock.now)
    mails = by_message_id(smtp.messages)
    row = rows(store, template="task_assigned", recipient="jessica.wahlstrom")[0]
    text = parts(mails[row.message_id])["text/plain"]
    check_link(row, mails[row.message_id], row.task_id or 0)
    said = "Eller från kommandoraden, när uppgiften är klar (med en kort anteckning efter --note):"
    assert text.index("/t/") < text.index(said) < text.index(f"task done {row.task_id} --note")
    assert "När uppgiften är klar, kör" not in text


@pytest.mark.parametrize(
    "settings",
    [{}, {"TSK_BASE_URL": BASE}, {**LINKS, "TSK_MAIL_LINKS": "off"}],
    ids=["none", "no key", "turned off"],
)
def test_without_link_settings_the_mails_carry_no_link(
    engine: Engine, store: Store, smtp: SmtpServer, clock: Clock, settings: dict[str, str]
) -> None:
    engine.open_cycle(CHAIR, "est", "2027-03")
    deliver(store, engine.org, smtp_env(smtp, **settings), clock.now)
    assert smtp.messages
    for received in smtp.messages:
        text = parts(received.message)["text/plain"]
        assert "/t/" not in text
        assert "webbläsaren" not in text
    assigned = parts(
        by_message_id(smtp.messages)[rows(store, template="task_assigned")[0].message_id]
    )
    assert "task form" in assigned["text/plain"]  # the command lines as before
    assert "från kommandoraden" not in assigned["text/plain"]  # the main action, without links
    assert assigned["text/plain"].split("\n")[2].startswith("Du har fått en ny uppgift")


def test_wrong_link_settings_send_nothing_and_lease_nothing(
    engine: Engine, store: Store, smtp: SmtpServer, clock: Clock
) -> None:
    engine.open_cycle(CHAIR, "est", "2027-03")
    before = [(r.status, r.attempts, r.next_attempt_at) for r in rows(store)]
    with pytest.raises(LinkConfigError, match="TSK_LINK_DAYS"):
        outbox.deliver(
            store,
            {engine.org.municipality: engine.org},
            smtp_env(smtp, **LINKS, TSK_LINK_DAYS="0"),
            clock.now,
        )
    assert smtp.messages == []
    assert [(r.status, r.attempts, r.next_attempt_at) for r in rows(store)] == before


def test_a_mail_sent_again_carries_the_same_link(
    engine: Engine, store: Store, smtp: SmtpServer, clock: Clock
) -> None:
    """Nothing of the link is stored: the row renders the same link each time."""
    engine.open_cycle(CHAIR, "est", "2027-03")
    row = rows(store, template="task_assigned", recipient="ida.wikstrom")[0]
    first = outbox.rendered(row, engine.org, LINKS).text
    clock.now += dt.timedelta(days=2)
    assert outbox.rendered(row, engine.org, LINKS).text == first
    assert "/t/" not in str(row.context)
    assert "/t/" not in outbox.rendered(row, engine.org, {}).text


def test_tsk_mail_show_shows_the_link_with_the_settings_of_its_environment(
    engine: Engine, store: Store
) -> None:
    set_up(engine)
    engine.open_cycle(CHAIR, "est", "2027-03")
    row = rows(store, template="task_assigned", recipient="ida.wikstrom")[0]
    args = ["--db", str(store.url), "--org", "herrljunga", "mail", "show", "--to", "ida.wikstrom"]
    plain = CliRunner(env={"TSK_BASE_URL": None, "TSK_SECRET_KEY": None}).invoke(cli, args)
    assert plain.exit_code == 0, plain.output
    assert "/t/" not in plain.stdout
    linked = CliRunner(env=LINKS).invoke(cli, args)
    assert linked.exit_code == 0, linked.output
    [token] = URL.findall(linked.stdout)
    assert read_token(SETTINGS, token, row.created_at).task == row.task_id


# ---------------------------------------------------------------- the digest


@pytest.fixture
def digest_engine(store: Store, clock: Clock) -> Engine:
    """Herrljunga with the daily digest as everyone's default."""
    catalog = load_catalog()
    from tests.enginekit import shared_organisation

    org = shared_organisation("herrljunga")
    everyone = org.model_copy(update={"mail": org.mail.model_copy(update={"digest": True})})
    return build_engine(store, catalog, everyone, clock=clock)


def test_each_task_in_the_digest_has_its_link(
    digest_engine: Engine, store: Store, smtp: SmtpServer, clock: Clock
) -> None:
    engine = digest_engine
    engine.open_cycle(CHAIR, "est", "2027-03")
    engine.open_cycle(CHAIR, "est", "2027-04")
    morning = local(2027, 3, 2, 7, 5)
    assert compose_digests(store, {engine.org.municipality: engine.org}, morning) == 10
    deliver(store, engine.org, smtp_env(smtp, **LINKS), morning)
    mails = by_message_id(smtp.messages)
    with store.reading() as session:
        ida_tasks = sorted(
            t.id for t in session.scalars(select(Task)) if t.assignee_ids == ["ida.wikstrom"]
        )
    assert len(ida_tasks) == 2
    for person in ("ida.wikstrom", "rachel.moore"):
        [row] = rows(store, template="digest", recipient=person)
        text, html = (parts(mails[row.message_id])[k] for k in ("text/plain", "text/html"))
        claims = [read_token(SETTINGS, token, morning) for token in URL.findall(text)]
        assert len(claims) == 2  # one per task; the cycles opened have none
        assert {c.person for c in claims} == {person}
        assert all(c.issued_at == second(row.created_at) for c in claims)
        assert html.count(f'href="{BASE}/t/') == 2
        if person == "ida.wikstrom":
            assert sorted(c.task for c in claims) == ida_tasks
            assert "Varje länk öppnar sin uppgift i webbläsaren" in text
            assert "till tisdag 16 mars 2027, kl. 07:05" in text
        else:
            assert "Each link opens its task in your browser" in text


def test_a_digest_without_links_is_as_before(
    digest_engine: Engine, store: Store, smtp: SmtpServer
) -> None:
    digest_engine.open_cycle(CHAIR, "est", "2027-03")
    morning = local(2027, 3, 2, 7, 5)
    compose_digests(store, {digest_engine.org.municipality: digest_engine.org}, morning)
    deliver(store, digest_engine.org, smtp_env(smtp), morning)
    [row] = rows(store, template="digest", recipient="ida.wikstrom")
    text = parts(by_message_id(smtp.messages)[row.message_id])["text/plain"]
    assert "/t/" not in text
    assert "Varje länk" not in text
    assert "- Uppgift: Månadsrapport till EST" in text
