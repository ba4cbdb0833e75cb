"""``tsk mail``: test, send, digest, status and retry, through the command line (CliRunner)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from tests.enginekit import set_up
from tests.smtp_server import SmtpServer
from tsk_workflow.catalog import load_catalog, load_organisation, resolve_organisation_path
from tsk_workflow.cli import cli
from tsk_workflow.engine import setup
from tsk_workflow.engine.setup import os_user
from tsk_workflow.features import build_engine
from tsk_workflow.store import migrate
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import OutboxMessage

TZ = ZoneInfo("Europe/Stockholm")
OPENED = dt.datetime(2027, 3, 1, 7, 0, tzinfo=TZ)
NOW = "2027-03-01T08:00"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def env(smtp: SmtpServer) -> dict[str, str]:
    return {"TSK_SMTP_HOST": smtp.host, "TSK_SMTP_PORT": str(smtp.port), "TSK_SMTP_TIMEOUT": "5"}


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """A SQLite database where Herrljunga has opened a steering-group cycle (mail queued)."""
    path = tmp_path / "tsk.db"
    store = Store(f"sqlite:///{path}")
    migrate.upgrade(store)
    catalog = load_catalog()
    engine = build_engine(store, catalog, load_organisation("herrljunga", catalog), lambda: OPENED)
    set_up(engine)
    engine.open_cycle("gunilla.ahlberg", "styrgrupp", "2027-t1")
    store.dispose()
    return path


def tsk(runner: CliRunner, database: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return runner.invoke(cli, ["--db", str(database), "--org", "herrljunga", *args], env=env)


def outbox_rows(database: Path) -> list[OutboxMessage]:
    store = Store(f"sqlite:///{database}")
    try:
        with store.reading() as session:
            return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
    finally:
        store.dispose()


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# ------------------------------------------------------------------ test


def test_mail_test_prints_the_servers_reply(
    runner: CliRunner, smtp: SmtpServer, env: dict[str, str]
) -> None:
    result = runner.invoke(
        cli, ["--org", "herrljunga", "mail", "test", "--to", "anna.berg@example.org"], env=env
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == f"127.0.0.1:{smtp.port} svarade: 250 OK (skickat)\n"
    [received] = smtp.messages
    assert received.rcpt_tos == ("anna.berg@example.org",)
    assert received.mail_from == "trygghet@herrljunga.example.org"
    assert received.message["Subject"] == "Testmejl från tsk-workflow (Herrljunga kommun)"
    data = as_json(runner.invoke(cli, ["mail", "test", "--to", "a@example.org", "--json"], env=env))
    assert (data["status"], data["reply"], data["to"]) == ("sent", "250 OK", "a@example.org")
    assert smtp.messages[1].mail_from == "tsk-workflow@localhost"  # no --org: the environment's


def test_mail_test_fails_with_the_reply_when_the_server_refuses(
    runner: CliRunner, smtp: SmtpServer, env: dict[str, str]
) -> None:
    smtp.respond("550 5.7.1 Relaying denied")
    result = runner.invoke(cli, ["mail", "test", "--to", "x@example.org"], env=env)
    assert result.exit_code == 1
    assert "550 5.7.1 Relaying denied (permanent fel)" in result.stdout
    smtp.respond("550 5.7.1 Relaying denied")
    english = runner.invoke(cli, ["--lang", "en", "mail", "test", "--to", "x@example.org"], env=env)
    assert "550 5.7.1 Relaying denied (permanent failure)" in english.stdout
    smtp.stop()
    result = runner.invoke(cli, ["mail", "test", "--to", "x@example.org", "--json"], env=env)
    assert result.exit_code == 1
    assert json.loads(result.stdout)["status"] == "temporary"


def test_bad_mail_settings_are_one_line_and_touch_nothing(
    runner: CliRunner, database: Path
) -> None:
    before = [(r.status, r.next_attempt_at) for r in outbox_rows(database)]
    result = tsk(runner, database, "mail", "send", "--now", NOW, env={"TSK_SMTP_PORT": "smtp"})
    assert result.exit_code == 1
    assert result.stderr == "tsk: TSK_SMTP_PORT måste vara ett portnummer (1-65535), inte 'smtp'\n"
    assert [(r.status, r.next_attempt_at) for r in outbox_rows(database)] == before
    english = tsk(
        runner,
        database,
        "--lang",
        "en",
        "mail",
        "send",
        "--now",
        NOW,
        env={"TSK_SMTP_PORT": "smtp"},
    )
    assert english.stderr == "tsk: TSK_SMTP_PORT must be a port number (1-65535), not 'smtp'\n"
    assert [(r.status, r.next_attempt_at) for r in outbox_rows(database)] == before


# ------------------------------------------------------------------ send, status, retry


def test_send_status_and_retry(
    runner: CliRunner, database: Path, smtp: SmtpServer, env: dict[str, str]
) -> None:
    pending = [r for r in outbox_rows(database) if r.status == "pending"]
    smtp.respond("550 5.1.1 No such user", stage="rcpt")
    sent = as_json(tsk(runner, database, "mail", "send", "--now", NOW, "--json", env=env))
    assert (sent["sent"], sent["retried"], sent["failed"]) == (len(pending) - 1, 0, 1)
    assert sent["failures"] == [f"{pending[0].email}: 550 5.1.1 No such user"]

    status = as_json(tsk(runner, database, "mail", "status", "--json"))
    assert status == {
        "pending": 0,
        "sent": len(pending) - 1,
        "failed": 1,
        "held": 0,
        "digest": 6,  # the cycle and the task for two digest people; the failure, to both chairs
        "held_mail": [],
        "paused_servers": [],
        "failures": [
            {
                "id": pending[0].id,
                "to": pending[0].email,
                "template": pending[0].template,
                "attempts": 1,
                "reply": "550 5.1.1 No such user",
            }
        ],
    }
    text = tsk(runner, database, "mail", "status")
    assert text.exit_code == 0
    assert text.stdout.splitlines() == [
        f"väntar 0, skickade {len(pending) - 1}, misslyckade 1, kvarhållna 0, "
        "väntar på dagligt sammandrag 6",
        f"  {pending[0].id:>6} {pending[0].email} {pending[0].template} (1 försök): "
        "550 5.1.1 No such user",
    ]

    english = tsk(runner, database, "--lang", "en", "mail", "status")
    assert english.stdout.splitlines() == [
        f"pending 0, sent {len(pending) - 1}, failed 1, held 0, waiting for the daily digest 6",
        f"  {pending[0].id:>6} {pending[0].email} {pending[0].template} (1 attempt): "
        "550 5.1.1 No such user",
    ]

    missing = tsk(runner, database, "mail", "retry", "9999")
    assert missing.exit_code == 1
    assert missing.stderr == (
        "tsk: inget misslyckat eller kvarhållet mejl med nummer 9999 (se tsk mail status)\n"
    )
    missing = tsk(runner, database, "--lang", "en", "mail", "retry", "9999")
    assert missing.stderr == "tsk: no failed or held mail number 9999 (see tsk mail status)\n"
    retried = tsk(runner, database, "mail", "retry", str(pending[0].id))
    assert (retried.exit_code, retried.stdout) == (0, "1 meddelande köat igen\n")
    assert as_json(tsk(runner, database, "mail", "status", "--json"))["pending"] == 1
    again = tsk(runner, database, "mail", "send", "--now", NOW, env=env)
    assert again.stdout == "skickade 1, försöker igen 0, misslyckade 0\n"
    english = tsk(runner, database, "--lang", "en", "mail", "send", "--now", NOW, env=env)
    assert english.stdout == "sent 0, retrying 0, failed 0\n"
    assert as_json(tsk(runner, database, "mail", "retry", "--json")) == {"requeued": 0}
    arrived = [m.message["Message-ID"] for m in smtp.messages]
    assert sorted(arrived) == sorted(r.message_id for r in pending)


def test_digest_by_hand(
    runner: CliRunner, database: Path, smtp: SmtpServer, env: dict[str, str]
) -> None:
    early = as_json(tsk(runner, database, "mail", "digest", "--now", "2027-03-02T05:00", "--json"))
    assert early["digests"] == 2  # by hand: whatever the time of day
    again = tsk(runner, database, "mail", "digest", "--now", "2027-03-02T18:00")
    assert again.stdout == "0 dagliga sammandrag köade\n"
    english = tsk(runner, database, "--lang", "en", "mail", "digest", "--now", "2027-03-02T18:00")
    assert english.stdout == "0 daily digests queued\n"
    digests = [r for r in outbox_rows(database) if r.template == "digest"]
    assert sorted(r.recipient for r in digests) == ["gunilla.ahlberg", "stefan.moller"]
    tsk(runner, database, "mail", "send", "--now", "2027-03-02T05:00", env=env)
    subjects = {m.message["Subject"] for m in smtp.messages}
    assert "Trygghetsarbetet tisdag 2 mars 2027: 2 punkter" in subjects


def test_a_bad_now_is_a_usage_error(runner: CliRunner, database: Path) -> None:
    result = tsk(runner, database, "mail", "digest", "--now", "igår")
    assert result.exit_code == 2
    assert "är inte en tid enligt ISO 8601" in result.output
    result = tsk(runner, database, "--lang", "en", "mail", "digest", "--now", "igår")
    assert result.exit_code == 2
    assert "not an ISO 8601 time" in result.output


# ------------------------------------------------------------------ the time: one source


def fail_first(database: Path) -> int:
    """Mark the first queued mail failed, as after a permanent refusal; its number."""
    store = Store(f"sqlite:///{database}")
    try:
        with store.transaction() as session:
            row = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).first()
            assert row is not None
            row.status, row.attempts, row.last_reply = "failed", 1, "550 5.1.1 No such user"
            return row.id
    finally:
        store.dispose()


@pytest.fixture
def real_time_database(tmp_path: Path) -> Path:
    """As ``database``, on the server's clock (``tsk init`` without ``--virtual-time``)."""
    path = tmp_path / "real.db"
    store = Store(f"sqlite:///{path}")
    migrate.upgrade(store)
    catalog = load_catalog()
    engine = build_engine(store, catalog, load_organisation("herrljunga", catalog), lambda: OPENED)
    setup.load_organisation(engine, resolve_organisation_path("herrljunga"))
    engine.open_cycle("gunilla.ahlberg", "styrgrupp", "2027-t1")
    store.dispose()
    return path


def test_retry_and_tick_act_at_tsk_now_on_a_database_for_virtual_time(
    runner: CliRunner, database: Path
) -> None:
    number = fail_first(database)
    later = {"TSK_NOW": "2027-03-05T09:00"}
    retried = tsk(runner, database, "mail", "retry", str(number), env=later)
    assert (retried.exit_code, retried.stdout) == (0, "1 meddelande köat igen\n")
    row = next(r for r in outbox_rows(database) if r.id == number)
    assert (row.status, row.next_attempt_at) == ("pending", dt.datetime(2027, 3, 5, 9, tzinfo=TZ))
    ticked = as_json(tsk(runner, database, "tick", "--no-send", "--json", env=later))
    assert ticked["now"] == "2027-03-05T08:00:00+00:00"
    given = as_json(tsk(runner, database, "tick", "--no-send", "--json", "--now", NOW, env=later))
    assert given["now"] == "2027-03-01T07:00:00+00:00"  # --now wins over TSK_NOW


def test_retry_refuses_tsk_now_on_a_database_on_the_servers_clock(
    runner: CliRunner, real_time_database: Path
) -> None:
    number = fail_first(real_time_database)
    # The service's acts, as the service's OS user (docs/administrator.md, "Who acts").
    service = {"TSK_SERVICE_USER": os_user()}
    for args in (["mail", "retry", str(number)], ["mail", "retry"], ["tick", "--no-send"]):
        later = {"TSK_NOW": "2027-03-05T09:00", **service}
        refused = tsk(runner, real_time_database, *args, env=later)
        assert refused.exit_code == 1, refused.output
        assert refused.stdout == ""
        assert refused.stderr.splitlines() == [
            "tsk: TSK_NOW nekas: den här databasen går på serverns klocka (bara en databas gjord"
            " med 'tsk init --virtual-time', för demot och tester, tar en annan tid)"
        ]
        english = ["--lang", "en", *args]
        refused = tsk(runner, real_time_database, *english, env=later)
        assert refused.exit_code == 1, refused.output
        assert refused.stderr.splitlines() == [
            "tsk: TSK_NOW is refused: this database runs on the server's clock (only a database"
            " made with 'tsk init --virtual-time', for the demo and tests, takes another time)"
        ]
    assert [r.status for r in outbox_rows(real_time_database) if r.id == number] == ["failed"]
    before = dt.datetime.now(dt.UTC)
    retried = tsk(runner, real_time_database, "mail", "retry", str(number), env=service)
    assert (retried.exit_code, retried.stdout) == (0, "1 meddelande köat igen\n")
    row = next(r for r in outbox_rows(real_time_database) if r.id == number)
    assert before <= row.next_attempt_at <= dt.datetime.now(dt.UTC)  # the server's clock


def test_the_mail_server_is_the_services_to_choose(
    runner: CliRunner, tmp_path: Path, smtp: SmtpServer, env: dict[str, str]
) -> None:
    """An admin may send by hand, but not to a server named in their own environment: that is
    the service's (its OS user's) to choose, so no one points the municipality's mail, and the
    links in it, elsewhere from a shell."""
    text = resolve_organisation_path("herrljunga").read_text(encoding="utf-8")
    marker = "  - id: marie.lind\n"  # an admin of Herrljunga, with this OS login
    assert marker in text
    org_file = tmp_path / "herrljunga.yaml"
    org_file.write_text(text.replace(marker, f"{marker}    login: {os_user()}\n", 1), "utf-8")
    path = tmp_path / "real.db"
    store = Store(f"sqlite:///{path}")
    migrate.upgrade(store)
    catalog = load_catalog()
    now = dt.datetime.now(dt.UTC)  # the server's clock: the mail is due when sent
    engine = build_engine(store, catalog, load_organisation(org_file, catalog), lambda: now)
    setup.load_organisation(engine, org_file)
    engine.open_cycle("gunilla.ahlberg", "styrgrupp", f"{now.year}-t1")
    store.dispose()
    before = [(r.status, r.attempts, r.next_attempt_at) for r in outbox_rows(path)]

    refused = tsk(runner, path, "--lang", "en", "mail", "send", env=env)
    assert refused.exit_code == 1, refused.output
    assert refused.stderr == (
        "tsk: TSK_SMTP_HOST, TSK_SMTP_PORT set, but the mail server is the service's to choose:"
        " send as the service's OS user (TSK_SERVICE_USER), or unset them to send with the"
        " organisation file's mail settings\n"
    )
    ticked = tsk(runner, path, "--lang", "en", "tick", "--send", env=env)
    assert ticked.exit_code == 1
    assert "the service's to choose" in ticked.stderr
    assert smtp.messages == []
    assert [(r.status, r.attempts, r.next_attempt_at) for r in outbox_rows(path)] == before

    service = tsk(runner, path, "mail", "send", env={**env, "TSK_SERVICE_USER": os_user()})
    assert service.exit_code == 0, service.output
    assert len(smtp.messages) == sum(status == "pending" for status, _a, _n in before) > 0
