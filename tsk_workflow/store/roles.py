"""The application's role on PostgreSQL: what the service may do, granted by the tables' owner.

Migrations run as an owner role (it owns the tables, the triggers and ``tsk_purge_payload``);
the service runs as an application role that gets only what the code needs
(``tsk init --app-role ROLE``, after each upgrade). It may SELECT and INSERT on the audit trail,
never UPDATE, DELETE or TRUNCATE it; it owns nothing, so it can neither ALTER a table, drop or
disable a trigger, nor replace a function; it is no superuser, so it cannot set
``session_replication_role``. It purges personal data from audit payloads through
``tsk_purge_payload`` (migration 0004), which can only do that.

No table needs DELETE (grep: the code deletes nothing), nor TRUNCATE, REFERENCES or TRIGGER.
Rows that are written once and never changed (the audit trail, refused acts, task assignees,
organisation versions, process definitions) get SELECT and INSERT only; a document the same,
but for its content, size and SHA-256, which a purge of personal data changes when it makes a
generated lägesbild again (``gdpr``: the purge event records the new SHA-256, and ``tsk audit
verify`` finds any other change, as it finds a change by the owner); an API
token is revoked and its last use noted by UPDATE, never deleted, and so is an ICS address;
an action is changed by UPDATE, a follow-up only when a purge blanks its note, and a version of
the åtgärdsplan is never changed (its decision is);
``installation`` (virtual time, fixed when the database is made) and ``alembic_version`` are
read only.

``docs/administrator.md`` ("Roles on PostgreSQL") gives the SQL that makes both roles.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from tsk_workflow.errors import TskError
from tsk_workflow.i18n import N_, _
from tsk_workflow.store.database import Store

READ = "SELECT"
APPEND = "SELECT, INSERT"
WRITE = "SELECT, INSERT, UPDATE"

TABLES: dict[str, str] = {
    "alembic_version": READ,
    "installation": READ,
    "audit_events": APPEND,
    "audit_payloads": APPEND,
    "documents": f"{APPEND}, UPDATE (content, size, sha256)",
    "refused_acts": APPEND,
    "task_assignees": APPEND,
    "organisation_versions": APPEND,
    "process_definitions": APPEND,
    "municipalities": WRITE,
    "cycles": WRITE,
    "tasks": WRITE,
    "timers": WRITE,
    "decisions": WRITE,
    "outbox": WRITE,
    "mail_servers": WRITE,
    "api_tokens": WRITE,
    "ics_tokens": WRITE,
    "event_reports": APPEND,
    "reported_events": WRITE,
    "actions": WRITE,
    "action_followups": WRITE,
    "action_plans": APPEND,
}
"""What the application role may do on each table of tsk (nothing on any other)."""

FUNCTIONS = ("tsk_purge_payload(bigint, timestamptz, jsonb)",)
"""The functions it may call (EXECUTE is revoked from PUBLIC when they are made)."""

SQLITE_REFUSAL = N_(
    "--app-role is for PostgreSQL: a SQLite database is for one OS user (its file is created"
    " readable by that user only)"
)


def require_postgresql(store: Store) -> None:
    if store.dialect != "postgresql":
        raise TskError(_(SQLITE_REFUSAL))


def grant_app_role(store: Store, role: str) -> None:
    """Give ``role`` what the service needs on the database of ``store`` (connected as the
    tables' owner), and nothing more; in one transaction."""
    require_postgresql(store)
    with store.engine.begin() as connection:
        grant(connection, role)


def grant(connection: Connection, role: str) -> None:
    """``grant_app_role`` in the caller's transaction (``migrate.upgrade`` runs it after the
    migrations). What ``role`` had on these objects before is revoked first, so running it
    again after an upgrade gives exactly this version's grants."""
    schema = connection.scalar(text("SELECT current_schema()"))
    if schema is None:
        raise TskError(_("no schema on the search_path: the database has no tables to grant on"))
    _check_role(connection, role, schema)
    quote = connection.dialect.identifier_preparer.quote
    who, where = quote(role), quote(schema)
    existing = set(
        connection.scalars(
            text("SELECT tablename FROM pg_tables WHERE schemaname = :schema"), {"schema": schema}
        )
    )
    statements = [
        f"REVOKE CREATE ON SCHEMA {where} FROM {who}",
        f"GRANT USAGE ON SCHEMA {where} TO {who}",
    ]
    for table, privileges in TABLES.items():
        if table in existing:
            name = f"{where}.{quote(table)}"
            statements += [
                f"REVOKE ALL ON TABLE {name} FROM {who}",
                f"GRANT {privileges} ON TABLE {name} TO {who}",
            ]
    statements += [
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {where} FROM {who}",
        f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {where} TO {who}",  # nextval for new ids
        f"REVOKE ALL ON ALL FUNCTIONS IN SCHEMA {where} FROM {who}",
        *(f"GRANT EXECUTE ON FUNCTION {where}.{f} TO {who}" for f in FUNCTIONS),
    ]
    for statement in statements:
        connection.exec_driver_sql(statement)
    if connection.scalar(
        text("SELECT has_schema_privilege(:role, :schema, 'CREATE')"),
        {"role": role, "schema": schema},
    ):
        raise TskError(
            _(
                "the role {role} may still create objects in schema {schema} (granted to PUBLIC"
                " or to a role it belongs to): run 'REVOKE CREATE ON SCHEMA {quoted} FROM PUBLIC'"
                " as its owner, then this again"
            ).format(role=role, schema=schema, quoted=where)
        )


def _check_role(connection: Connection, role: str, schema: str) -> None:
    """Refuse a role that could undo what the grants protect: a superuser, a role that can
    make roles (and so join the owner's), the owner of the tables or the schema, or a member
    of either."""
    row = connection.execute(
        text(
            "SELECT r.rolsuper, r.rolcreaterole,"
            " pg_has_role(r.oid, n.nspowner, 'MEMBER'),"
            " coalesce(pg_has_role(r.oid, c.relowner, 'MEMBER'), false)"
            " FROM pg_roles r"
            " JOIN pg_namespace n ON n.nspname = :schema"
            " LEFT JOIN pg_class c ON c.relname = 'alembic_version' AND c.relnamespace = n.oid"
            " WHERE r.rolname = :role"
        ),
        {"role": role, "schema": schema},
    ).first()
    if row is None:
        raise TskError(
            _(
                "there is no role {role} on this server: create it first (see 'Roles on"
                " PostgreSQL' in docs/administrator.md)"
            ).format(role=role)
        )
    superuser, createrole, owns_schema, owns_tables = row
    if superuser or createrole:
        message = (
            N_("the application role {role} is a superuser: it must be an ordinary role")
            if superuser
            else N_(
                "the application role {role} is allowed to create roles: it must be an ordinary"
                " role"
            )
        )
        raise TskError(_(message).format(role=role))
    if owns_schema or owns_tables:
        raise TskError(
            _(
                "the application role {role} owns the schema or the tables (or is a member of"
                " their owner): the service must run as a role of its own"
            ).format(role=role)
        )
