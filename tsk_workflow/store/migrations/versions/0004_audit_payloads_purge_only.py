"""Audit payloads may only be purged; on PostgreSQL purging goes through a function of the owner.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-08

On both databases a trigger on ``audit_payloads`` refuses DELETE (and on PostgreSQL TRUNCATE)
and every UPDATE but a purge: the payload becomes exactly ``{"purged": true}`` and ``purged_at``
goes from null to a time, the row keeping its ``seq``.

On PostgreSQL the service runs as an application role that may only SELECT and INSERT on the
audit tables (``store/roles.py``). It purges through ``tsk_purge_payload(seq, at, payload)``, a
``SECURITY DEFINER`` function owned by the role that ran this migration (the tables' owner),
which can do nothing but that purge, and only of a payload not purged yet. ``payload`` must be
the purged value itself (``audit.PURGED``): the function writes its own copy, and refuses to run
if the application's idea of a purged payload has changed without a migration that changes the
function and the triggers with it.

The function's ``search_path`` is the schema it is created in (``current_schema()`` now), then
``pg_temp``, as PostgreSQL's documentation advises for ``SECURITY DEFINER`` functions: a caller's
own search path (or temporary table) cannot redirect it. EXECUTE is revoked from PUBLIC and
granted to the application role only by ``tsk init --app-role``.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PURGED = '{"purged": true}'
"""A purged payload; ``audit.PURGED`` as JSON. Changing it needs a migration of its own."""

REFUSED = "audit_payloads is append-only but for purging"
"""The refusal's message ("append-only": ``database._integrity`` words it for people)."""

PURGE_FUNCTION = "tsk_purge_payload(bigint, timestamptz, jsonb)"
PURGE_SIGNATURE = "tsk_purge_payload(p_seq bigint, p_at timestamptz, p_payload jsonb)"

SQLITE = [
    f"""CREATE TRIGGER audit_payloads_purge_only BEFORE UPDATE ON audit_payloads
    WHEN NOT (
        NEW.seq IS OLD.seq
        AND OLD.purged_at IS NULL
        AND NEW.purged_at IS NOT NULL
        AND CASE WHEN json_valid(NEW.payload)
            THEN json(NEW.payload) = json('{PURGED}') ELSE 0 END
    )
    BEGIN SELECT RAISE(ABORT, '{REFUSED}: UPDATE refused'); END""",
    f"""CREATE TRIGGER audit_payloads_no_delete BEFORE DELETE ON audit_payloads
    BEGIN SELECT RAISE(ABORT, '{REFUSED}: DELETE refused'); END""",
]

PURGE_BODY = """
BEGIN
    IF p_payload IS DISTINCT FROM '@PURGED@'::jsonb THEN
        RAISE EXCEPTION USING
            MESSAGE = 'a purged audit payload is @PURGED@, not ' || coalesce(p_payload::text, 'null'),
            ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_at IS NULL THEN
        RAISE EXCEPTION USING
            MESSAGE = 'a purge needs its time', ERRCODE = 'null_value_not_allowed';
    END IF;
    UPDATE audit_payloads SET payload = '@PURGED@'::json, purged_at = p_at
        WHERE seq = p_seq AND purged_at IS NULL;
    IF FOUND THEN
        RETURN true;
    END IF;
    IF EXISTS (SELECT FROM audit_payloads WHERE seq = p_seq) THEN
        RAISE EXCEPTION USING
            MESSAGE = 'the payload of audit event ' || p_seq || ' is purged already',
            ERRCODE = 'restrict_violation';
    END IF;
    RETURN false;
END;
""".replace("@PURGED@", PURGED)
"""Purge the payload of ``p_seq``: true when done, false when there is no such payload."""

POSTGRESQL = [
    # Trigger functions are called by their triggers only (not even the owner calls them).
    "REVOKE ALL ON FUNCTION audit_events_append_only() FROM PUBLIC",
    # Runs as the caller (the trigger fires for the owner's function too); fixed search path.
    f"""CREATE FUNCTION audit_payloads_purge_only() RETURNS trigger LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp AS $$
    BEGIN
        IF TG_OP = 'UPDATE' THEN
            IF NEW.seq = OLD.seq
                AND OLD.purged_at IS NULL
                AND NEW.purged_at IS NOT NULL
                AND NEW.payload::jsonb = '{PURGED}'::jsonb
            THEN
                RETURN NEW;
            END IF;
        END IF;
        RAISE EXCEPTION USING
            MESSAGE = '{REFUSED}: ' || TG_OP || ' refused',
            ERRCODE = 'restrict_violation';
    END;
    $$""",
    "REVOKE ALL ON FUNCTION audit_payloads_purge_only() FROM PUBLIC",
    """CREATE TRIGGER audit_payloads_purge_only BEFORE UPDATE OR DELETE ON audit_payloads
    FOR EACH ROW EXECUTE FUNCTION audit_payloads_purge_only()""",
    """CREATE TRIGGER audit_payloads_no_truncate BEFORE TRUNCATE ON audit_payloads
    FOR EACH STATEMENT EXECUTE FUNCTION audit_payloads_purge_only()""",
    # The schema is read when the statement runs, so the SQL printed by offline mode (--sql) is
    # right for whatever schema it is run in. (No '%' anywhere: offline mode would double it.)
    f"""DO $do$
    BEGIN
        EXECUTE 'CREATE FUNCTION {PURGE_SIGNATURE}'
            || ' RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER'
            || ' SET search_path = ' || quote_ident(current_schema()) || ', pg_temp'
            || ' AS ' || quote_literal($body${PURGE_BODY}$body$);
    END
    $do$""",
    f"REVOKE ALL ON FUNCTION {PURGE_FUNCTION} FROM PUBLIC",
]


def upgrade() -> None:
    dialect = op.get_context().dialect.name
    statements = {"postgresql": POSTGRESQL, "sqlite": SQLITE}
    if dialect not in statements:
        raise NotImplementedError(f"tsk-workflow runs on SQLite and PostgreSQL, not {dialect}")
    for statement in statements[dialect]:
        op.execute(statement)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {PURGE_FUNCTION}")
        op.execute("DROP TRIGGER IF EXISTS audit_payloads_no_truncate ON audit_payloads")
        op.execute("DROP TRIGGER IF EXISTS audit_payloads_purge_only ON audit_payloads")
        op.execute("DROP FUNCTION IF EXISTS audit_payloads_purge_only()")
        op.execute("GRANT EXECUTE ON FUNCTION audit_events_append_only() TO PUBLIC")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_payloads_no_delete")
        op.execute("DROP TRIGGER IF EXISTS audit_payloads_purge_only")
