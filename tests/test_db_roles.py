"""The database defends itself: on PostgreSQL the service runs as an application role that may
act (and purge personal data) but not change, delete or hide the audit trail; migrations run
as the owner role only. On SQLite ``--app-role`` is refused.

The PostgreSQL tests make two roles of their own (roles are cluster-wide: a random suffix) and
a schema owned by the owner role, run ``tsk init --app-role`` as the owner, and act as the
application role. Both roles are dropped afterwards, whatever happened.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Connection, create_engine, make_url, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from tests.dbfixtures import _refuse, postgres_url
from tests.enginekit import Clock, local, make_engine, tasks
from tests.smtp_server import SmtpServer
from tsk_workflow import audit, gdpr
from tsk_workflow.catalog import resolve_organisation_path
from tsk_workflow.cli import cli
from tsk_workflow.engine import setup
from tsk_workflow.engine.ticker import Ticker
from tsk_workflow.errors import TskError
from tsk_workflow.mail.outbox import deliver
from tsk_workflow.store import installation, roles
from tsk_workflow.store.database import Store
from tsk_workflow.store.models import AuditPayload, Base

CHAIR = "jessica.wahlstrom"
KANSLICHEF = "marie.lind"
START = local(2027, 3, 1, 9)
UNSET = ("TSK_DATABASE_URL", "TSK_ORG", "TSK_USER", "TSK_LANG")

PERMISSION_DENIED = "42501"
RESTRICT_VIOLATION = "23001"
INVALID_PARAMETER = "22023"


@dataclass
class Roles:
    """A schema made by ``tsk init --app-role`` as its owner; URLs as each role."""

    owner: str
    app: str
    schema: str
    owner_url: str
    app_url: str


def _url(base: str, user: str, schema: str) -> str:
    return (
        make_url(base)
        .set(username=user)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )


def _tsk(*args: str) -> tuple[int, str, str]:
    result = CliRunner(env=dict.fromkeys(UNSET)).invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def pg(_pg_problem: str | None) -> Iterator[Roles]:
    """The two roles and their schema, for the module (made once: migrating takes a while)."""
    if _pg_problem is not None:
        _refuse(_pg_problem)
    base = postgres_url()
    suffix = secrets.token_hex(4)
    made = Roles(f"tsk_owner_{suffix}", f"tsk_app_{suffix}", f"t_roles_{suffix}", "", "")
    made.owner_url = _url(base, made.owner, made.schema)
    made.app_url = _url(base, made.app, made.schema)
    admin = create_engine(base, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f"CREATE ROLE {made.owner} LOGIN"))
            connection.execute(text(f"CREATE ROLE {made.app} LOGIN"))
            connection.execute(text(f"CREATE SCHEMA {made.schema} AUTHORIZATION {made.owner}"))
        code, _out, err = _tsk("--db", made.owner_url, "init", "--app-role", made.app)
        assert code == 0, err
        owner = Store(made.owner_url)
        try:
            with owner.transaction() as session:
                installation.make_virtual(session)
            engine = make_engine(owner, "herrljunga", Clock(START))
            setup.load_organisation(engine, resolve_organisation_path("herrljunga"))
        finally:
            owner.dispose()
        yield made
    finally:
        with admin.connect() as connection:
            connection.execute(text("SET lock_timeout = '10s'"))
            connection.execute(text(f"DROP SCHEMA IF EXISTS {made.schema} CASCADE"))
            for role in (made.app, made.owner):
                exists = connection.scalar(
                    text("SELECT count(*) FROM pg_roles WHERE rolname = :role"), {"role": role}
                )
                if exists:
                    connection.execute(text(f"DROP OWNED BY {role}"))
                    connection.execute(text(f"DROP ROLE {role}"))
        admin.dispose()


@pytest.fixture
def app_store(pg: Roles) -> Iterator[Store]:
    store = Store(pg.app_url)
    yield store
    store.dispose()


def _run(connection: Connection, statements: list[str]) -> None:
    """``statements`` in one transaction (rolled back if one fails)."""
    with connection.begin():
        for statement in statements:
            connection.exec_driver_sql(statement)


def _trail(connection: Connection) -> tuple[object, ...]:
    """The audit trail as it is: to show that a refused statement changed nothing."""
    return tuple(
        connection.execute(
            text(
                "SELECT (SELECT count(*) FROM audit_events), (SELECT max(hash) FROM audit_events),"
                " (SELECT string_agg(seq || payload::text || coalesce(purged_at::text, ''), ','"
                " ORDER BY seq) FROM audit_payloads)"
            )
        ).one()
    )


# ---------------------------------------------------------------- what the app role may do


@pytest.mark.postgres
def test_the_app_role_acts_and_purges_personal_data(pg: Roles, app_store: Store) -> None:
    clock = Clock(START)
    engine = make_engine(app_store, "herrljunga", clock)
    cycle = engine.open_cycle(CHAIR, "est", "2027-03").id
    first = tasks(engine, cycle)[0]
    answers = {"kategori": "klotter", "ort": "herrljunga", "beskrivning": "Kalle Svensson klottrar"}
    engine.complete_task(first.assignees[0], first.id, "Kalle Svensson klottrar", answers)
    ticked = Ticker({engine.org.municipality: engine}).tick(clock.advance(days=10))
    assert ticked.total > 0  # reminders, due times, escalations: timers claimed and fired
    with SmtpServer() as smtp:
        env = {"TSK_SMTP_HOST": smtp.host, "TSK_SMTP_PORT": str(smtp.port)}
        deliver(app_store, {engine.org.municipality: engine.org}, env, clock.now)
        assert smtp.handler.messages  # the outbox marked sent

    purged = gdpr.purge(engine, KANSLICHEF, dt.date(2027, 3, 2), force=True)

    assert purged.audit_payloads >= 1
    with app_store.reading() as session:
        payloads = session.scalars(select(AuditPayload).order_by(AuditPayload.seq)).all()
        rows = [row for row in payloads if row.purged_at is not None]
        assert [row.payload for row in rows] == [audit.PURGED] * purged.audit_payloads
        assert "Kalle" not in str([row.payload for row in payloads])
        verified = audit.verify(session)
        assert verified.ok, verified.reason
    with app_store.transaction() as session:  # purging again leaves it as it is
        audit.purge(session, rows[0].seq, clock.advance(days=1))
    with app_store.reading() as session:
        again = session.get(AuditPayload, rows[0].seq)
    assert again is not None
    assert again.purged_at == rows[0].purged_at


# ---------------------------------------------------------------- what it may not


REFUSED: dict[str, tuple[list[str], str]] = {
    "update-audit_events": (["UPDATE audit_events SET actor = 'mallory'"], PERMISSION_DENIED),
    "delete-audit_events": (["DELETE FROM audit_events WHERE seq = 1"], PERMISSION_DENIED),
    "truncate-audit_events": (["TRUNCATE audit_events"], PERMISSION_DENIED),
    "update-audit_payloads": (
        ["""UPDATE audit_payloads SET payload = '{"note": "förfalskad"}'"""],
        PERMISSION_DENIED,
    ),
    "update-audit_payloads-as-a-purge": (
        ["""UPDATE audit_payloads SET payload = '{"purged": true}', purged_at = now()"""],
        PERMISSION_DENIED,
    ),
    "delete-audit_payloads": (["DELETE FROM audit_payloads"], PERMISSION_DENIED),
    "truncate-audit_payloads": (["TRUNCATE audit_payloads"], PERMISSION_DENIED),
    "disable-triggers": (["ALTER TABLE audit_events DISABLE TRIGGER ALL"], PERMISSION_DENIED),
    "disable-payload-trigger": (
        ["ALTER TABLE audit_payloads DISABLE TRIGGER audit_payloads_purge_only"],
        PERMISSION_DENIED,
    ),
    "drop-constraint": (
        ["ALTER TABLE audit_events DROP CONSTRAINT uq_audit_events_hash"],
        PERMISSION_DENIED,
    ),
    "drop-trigger": (
        ["DROP TRIGGER audit_events_no_update_delete ON audit_events"],
        PERMISSION_DENIED,
    ),
    "create-trigger": (
        [
            "CREATE TRIGGER sneak BEFORE INSERT ON audit_events"
            " FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()"
        ],
        PERMISSION_DENIED,
    ),
    "drop-table": (["DROP TABLE audit_payloads"], PERMISSION_DENIED),
    "session_replication_role": (["SET session_replication_role = replica"], PERMISSION_DENIED),
    "alter-trigger-function": (
        ["ALTER FUNCTION audit_events_append_only() RENAME TO harmless"],
        PERMISSION_DENIED,
    ),
    "replace-trigger-function": (
        [
            "CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger"
            " LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END; $$"
        ],
        PERMISSION_DENIED,
    ),
    "replace-purge-function": (
        [
            "CREATE OR REPLACE FUNCTION tsk_purge_payload(p_seq bigint, p_at timestamptz,"
            " p_payload jsonb) RETURNS boolean LANGUAGE sql AS $$ SELECT true $$"
        ],
        PERMISSION_DENIED,
    ),
    "become-the-owner": (["SET ROLE {owner}"], PERMISSION_DENIED),
    "turn-on-virtual-time": (["UPDATE installation SET value = 'true'"], PERMISSION_DENIED),
    "delete-cycles": (["DELETE FROM cycles"], PERMISSION_DENIED),
    "purge-twice": (
        [
            """SELECT tsk_purge_payload(1, now(), '{"purged": true}')""",
            """SELECT tsk_purge_payload(1, now(), '{"purged": true}')""",
        ],
        RESTRICT_VIOLATION,
    ),
    "purge-with-another-payload": (
        ["""SELECT tsk_purge_payload(1, now(), '{"note": "förfalskad"}')"""],
        INVALID_PARAMETER,
    ),
}


@pytest.mark.postgres
@pytest.mark.parametrize(("statements", "sqlstate"), list(REFUSED.values()), ids=list(REFUSED))
def test_the_app_role_is_refused(
    pg: Roles, app_store: Store, statements: list[str], sqlstate: str
) -> None:
    with app_store.engine.connect() as connection:
        with connection.begin():
            before = _trail(connection)
        statements = [statement.replace("{owner}", pg.owner) for statement in statements]
        with pytest.raises(DBAPIError) as refused:
            _run(connection, statements)
        assert getattr(refused.value.orig, "sqlstate", None) == sqlstate, refused.value
        with connection.begin():
            assert _trail(connection) == before


@pytest.mark.postgres
def test_the_purge_function_is_the_apps_only_function(pg: Roles, app_store: Store) -> None:
    with app_store.engine.connect() as connection:
        callable_ = connection.scalars(
            text(
                "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
                " WHERE n.nspname = :schema AND has_function_privilege(p.oid, 'EXECUTE')"
            ),
            {"schema": pg.schema},
        ).all()
        privileges = connection.execute(
            text(
                "SELECT table_name, string_agg(privilege_type, ',' ORDER BY privilege_type)"
                " FROM information_schema.role_table_grants"
                " WHERE grantee = current_user AND table_schema = :schema GROUP BY table_name"
            ),
            {"schema": pg.schema},
        ).all()
        updatable = connection.scalars(
            text(
                "SELECT column_name FROM information_schema.column_privileges"
                " WHERE grantee = current_user AND table_schema = :schema"
                " AND table_name = 'documents' AND privilege_type = 'UPDATE'"
                " ORDER BY column_name"
            ),
            {"schema": pg.schema},
        ).all()
    assert callable_ == ["tsk_purge_payload"]
    assert dict(privileges) == {  # a column's privilege (UPDATE (content, ...)) is not the table's
        table: ",".join(sorted(grant.split(", UPDATE (")[0].split(", ")))
        for table, grant in roles.TABLES.items()
    }
    # A purge makes a generated lägesbild again (gdpr): its content, size and SHA-256 only.
    assert updatable == ["content", "sha256", "size"]


OWNER_REFUSED = {
    "update-audit_events": "UPDATE audit_events SET actor = 'mallory'",
    "delete-audit_events": "DELETE FROM audit_events WHERE seq = 1",
    "truncate-audit_events": "TRUNCATE audit_events CASCADE",
    "update-audit_payloads": """UPDATE audit_payloads SET payload = '{"note": "förfalskad"}'""",
    "delete-audit_payloads": "DELETE FROM audit_payloads",
    "truncate-audit_payloads": "TRUNCATE audit_payloads",
}


@pytest.mark.postgres
@pytest.mark.parametrize("statement", list(OWNER_REFUSED.values()), ids=list(OWNER_REFUSED))
def test_the_triggers_refuse_the_owner_too(pg: Roles, statement: str) -> None:
    """The owner has every privilege, but the triggers still say no (it could drop them: that is
    what signed checkpoints are for)."""
    owner = Store(pg.owner_url)
    try:
        with owner.engine.connect() as connection, pytest.raises(DBAPIError) as refused:
            _run(connection, [statement])
        assert getattr(refused.value.orig, "sqlstate", None) == RESTRICT_VIOLATION
        assert "append-only" in str(refused.value.orig)
    finally:
        owner.dispose()


# ---------------------------------------------------------------- the trigger, on both databases

PURGE = (
    """UPDATE audit_payloads SET payload = '{"purged": true}', purged_at = '2028-06-01 12:00:00'"""
)

TRIGGER_REFUSED = {
    "edit": ["""UPDATE audit_payloads SET payload = '{"note": "förfalskad"}'"""],
    "edit-disguised-as-a-purge": [
        """UPDATE audit_payloads SET payload = '{"note": "x"}', purged_at = '2028-01-01'"""
    ],
    "purge-without-a-time": ["""UPDATE audit_payloads SET payload = '{"purged": true}'"""],
    "purge-with-more": [
        """UPDATE audit_payloads SET payload = '{"purged": true, "note": "x"}',"""
        " purged_at = '2028-01-01'"
    ],
    "move": [f"{PURGE}, seq = seq + 1"],
    "purge-twice": [PURGE, PURGE.replace("2028", "2029")],  # a purge's time stays
    "unpurge": [PURGE, "UPDATE audit_payloads SET purged_at = NULL"],
    "delete": ["DELETE FROM audit_payloads"],
}


@pytest.fixture
def one_event(store: Store) -> Store:
    act = audit.Act("herrljunga", "anna", "chair", "task.done", "task:1", {"note": "Kalle"})
    with store.transaction() as session:
        audit.append(session, act, START)
    return store


@pytest.mark.parametrize("statements", list(TRIGGER_REFUSED.values()), ids=list(TRIGGER_REFUSED))
def test_a_payload_can_only_be_purged(one_event: Store, statements: list[str]) -> None:
    """Even for a role with every privilege (here the tests' own): only a purge gets through."""
    with one_event.engine.connect() as connection, pytest.raises(DBAPIError) as refused:
        _run(connection, statements)
    assert "append-only but for purging" in str(refused.value.orig)
    with one_event.reading() as session:
        stored = session.get(AuditPayload, 1)
    assert stored is not None
    assert stored.payload == {"note": "Kalle"}


def test_a_purge_gets_through_the_trigger(one_event: Store) -> None:
    with one_event.engine.begin() as connection:
        connection.exec_driver_sql(PURGE)
    with one_event.reading() as session:
        stored = session.get(AuditPayload, 1)
    assert stored is not None
    assert stored.payload == audit.PURGED
    assert stored.purged_at is not None
    assert stored.purged_at.date() == dt.date(2028, 6, 1)


# ---------------------------------------------------------------- tsk init and the roles


@pytest.mark.postgres
@pytest.mark.parametrize("extra", [[], ["--app-role", "someone"]], ids=["init", "app-role"])
def test_init_as_the_app_role_is_refused_in_one_line(pg: Roles, extra: list[str]) -> None:
    code, out, err = _tsk("--db", pg.app_url, "init", *extra)

    assert (code, out) == (1, "")
    assert err.splitlines() == [
        f"tsk: tsk init kör migreringarna som databasens ägarroll ({pg.owner}),"
        f" inte som {pg.app}: anslut som {pg.owner}"
    ]


@pytest.mark.postgres
def test_a_new_database_cannot_be_made_by_the_app_role(pg: Roles) -> None:
    empty = f"{pg.schema}_new"
    admin = create_engine(postgres_url(), poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f"CREATE SCHEMA {empty} AUTHORIZATION {pg.owner}"))
            connection.execute(text(f"GRANT USAGE ON SCHEMA {empty} TO {pg.app}"))

        code, out, err = _tsk("--db", _url(postgres_url(), pg.app, empty), "init")

        assert (code, out) == (1, "")
        assert err.splitlines() == [
            f"tsk: tsk init kör migreringarna som databasens ägarroll: {pg.app} får inte"
            f" skapa tabeller i schemat {empty}"
        ]
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {empty} CASCADE"))
        admin.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("who", "refusal"),
    [
        pytest.param(
            "postgres", "är superanvändare: den måste vara en vanlig roll", id="superuser"
        ),
        pytest.param("{owner}", "äger schemat eller tabellerna", id="owner"),
        pytest.param("tsk_nobody_{suffix}", "det finns ingen roll tsk_nobody_", id="unknown"),
    ],
)
def test_granting_a_role_that_could_undo_it_is_refused(pg: Roles, who: str, refusal: str) -> None:
    owner = Store(pg.owner_url)
    try:
        with pytest.raises(TskError, match=refusal):
            roles.grant_app_role(owner, who.format(owner=pg.owner, suffix=secrets.token_hex(3)))
    finally:
        owner.dispose()


def test_every_table_has_its_grants() -> None:
    assert set(roles.TABLES) == {*Base.metadata.tables, "alembic_version"}
    assert "DELETE" not in "".join(roles.TABLES.values())
    assert roles.TABLES["audit_events"] == roles.TABLES["audit_payloads"] == "SELECT, INSERT"


def test_app_role_on_sqlite_is_refused_in_one_line(tmp_path: Path) -> None:
    database = tmp_path / "tsk.db"

    code, out, err = _tsk("--db", str(database), "init", "--app-role", "tsk_app")

    assert (code, out) == (1, "")
    assert err.splitlines() == [
        "tsk: --app-role är för PostgreSQL: en SQLite-databas är för en enda användare i"
        " operativsystemet (filen skapas läsbar bara för den användaren)"
    ]
    assert not database.exists()  # refused before anything was done
