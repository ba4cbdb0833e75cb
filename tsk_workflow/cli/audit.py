"""``tsk audit``: who did and decided what, exported, and the record verified."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import click

from tsk_workflow.cli import dates, runtime
from tsk_workflow.cli.context import TskGroup, emit_json, one_line, settings

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from tsk_workflow.audit import Problem, VerifyResult
    from tsk_workflow.checkpoints import Checkpoint

DATE = dates.DateTime(with_time=True)


@click.group(cls=TskGroup, invoke_without_command=True)
@click.option("--cycle", "cycle_ref", help="Only events of this cycle (ID or reference)")
@click.option("--actor", help="Only events by this person")
@click.option("--since", type=DATE, help="From this date or time (Stockholm time)")
@click.option("--until", type=DATE, help="Up to, not including, this date or time")
@click.option("--refused", is_flag=True, help="Acts refused for lack of permission instead")
@click.option("--json", "as_json", is_flag=True, help="Print JSON only")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV")
@click.pass_context
def audit(
    ctx: click.Context,
    cycle_ref: str | None,
    actor: str | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
    refused: bool,
    as_json: bool,
    as_csv: bool,
) -> None:
    """The audit trail, oldest first; 'tsk audit verify' checks everything it claims."""
    if ctx.invoked_subcommand is not None:
        return
    from tsk_workflow import audit as trail
    from tsk_workflow.calendar import STOCKHOLM

    store = runtime.open_store(ctx)
    municipality, cycle_id = _scope(ctx, cycle_ref)
    if refused:
        _refused(store, municipality, actor, as_json)
        return
    with store.reading() as session:
        rows = trail.query(
            session, municipality, cycle_id, actor, _local(since), _local(until), tz=STOCKHOLM
        )
    if as_json:
        click.echo(trail.rows_to_json(rows))
    elif as_csv:
        click.echo(trail.rows_to_csv(rows), nl=False)
    else:
        for row in rows:
            when = row.at.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M")
            click.echo(
                f"{row.seq:>6} {when} {row.actor:<18} {row.role:<16} {row.action:<20} {row.subject} {_brief(row.payload)}"
            )


def _local(value: dt.datetime | None) -> dt.datetime | None:
    from tsk_workflow.calendar import STOCKHOLM

    return value.replace(tzinfo=STOCKHOLM) if value is not None else None


def _scope(ctx: click.Context, cycle_ref: str | None) -> tuple[str | None, int | None]:
    if not settings(ctx).org:
        if cycle_ref is not None and not cycle_ref.isdigit():
            raise click.BadParameter(
                "a cycle reference needs --org; or give the cycle's number", param_hint="--cycle"
            )
        return None, int(cycle_ref) if cycle_ref else None
    engine = runtime.engine(ctx)
    if cycle_ref is None:
        return engine.org.municipality, None
    with engine.store.reading() as session:
        return engine.org.municipality, engine.find_cycle(session, cycle_ref).id


def _brief(payload: dict[str, object] | None) -> str:
    if not payload:
        return ""
    keys = ("trigger", "to", "note", "title", "routed_to", "outcome", "paragraph", "forced", "late")
    parts = [f"{key}={payload[key]}" for key in keys if payload.get(key) not in (None, "", False)]
    return " ".join(parts)


def _refused(store: object, municipality: str | None, actor: str | None, as_json: bool) -> None:
    from tsk_workflow.calendar import STOCKHOLM
    from tsk_workflow.store.database import Store
    from tsk_workflow.store.record import refused_acts

    assert isinstance(store, Store)
    with store.reading() as session:
        rows = [r.to_dict() for r in refused_acts(session, municipality or None, actor or None)]
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        when = (
            dt.datetime.fromisoformat(str(row["at"]))
            .astimezone(STOCKHOLM)
            .strftime("%Y-%m-%d %H:%M")
        )
        click.echo(
            f"{row['id']:>5} {when} {row['actor']:<18} {row['action']:<20} {row['subject']}: {row['reason']}"
        )


@audit.command()
@click.option(
    "--checkpoints",
    "checkpoints_path",
    type=click.Path(path_type=Path),
    help="Signed checkpoints of the chain (checkpoints.jsonl, or its folder)",
)
@click.option(
    "--public-key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The public key the checkpoints are signed with",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON only")
@click.pass_context
def verify(
    ctx: click.Context, checkpoints_path: Path | None, public_key: Path | None, as_json: bool
) -> None:
    """Check everything the record claims: the hash chain, purges, the order of time, the
    documents, and the decisions, cycles and tasks replayed from the events; with
    --checkpoints, that the chain is the one signed. Exit 1 on any problem, which is itself
    recorded in the trail (audit.verification_failed)."""
    from dataclasses import replace

    from tsk_workflow import audit as trail
    from tsk_workflow import replay

    if (checkpoints_path is None) != (public_key is None):
        raise click.UsageError("give --checkpoints and --public-key together")
    signed = _signed(checkpoints_path, public_key)
    store = runtime.open_store(ctx)
    with store.reading() as session:
        result = replay.verify_record(session, hashes_at=signed.wanted if signed else ())
    if signed is not None:
        anchored, found = signed.check(result)
        result = trail.with_problems(replace(result, anchored_to=anchored), found)
    if as_json:
        emit_json(
            {
                "ok": result.ok,
                "events": result.checked,
                "anchored_to": result.anchored_to,
                "unanchored": result.unanchored,
                "problems": [problem.to_dict() for problem in result.problems],
            }
        )
    else:
        _print_verified(result, signed is not None)
    if not result.ok:
        _record_failure(ctx, store, result)
        raise click.exceptions.Exit(1)


SHOWN_PROBLEMS = 10
"""Problems printed in words; ``--json`` lists them all (up to ``audit.MAX_PROBLEMS``)."""


class _Signed(NamedTuple):
    """The checkpoints read, the key, and the lines of the file that could not be read."""

    checkpoints: Sequence[Checkpoint]
    key: Ed25519PublicKey
    unreadable: Sequence[Problem]

    @property
    def wanted(self) -> set[int]:
        from tsk_workflow import checkpoints

        return checkpoints.seqs_wanted(self.checkpoints)

    def check(self, result: VerifyResult) -> tuple[int | None, list[Problem]]:
        from tsk_workflow import checkpoints

        anchored, found = checkpoints.check(
            self.checkpoints, self.key, result.hashes, result.head_seq or 0
        )
        return anchored, [*self.unreadable, *found]


def _signed(path: Path | None, public_key: Path | None) -> _Signed | None:
    """The checkpoints and key given, read before the database is (a file or key that cannot
    be read is a clear error, exit 1)."""
    if path is None or public_key is None:
        return None
    from tsk_workflow import checkpoints

    key = checkpoints.load_public_key(public_key)
    found, unreadable = checkpoints.read(path)
    return _Signed(found, key, unreadable)


def _print_verified(result: VerifyResult, with_checkpoints: bool) -> None:
    if result.ok:
        click.echo(
            f"OK: {result.checked} händelser, kedjan är hel (senaste hash {(result.head_hash or '')[:16]}…)"
        )
        click.echo("Beslut, cykler, uppgifter och dokument stämmer med händelserna.")
        click.echo(_anchoring(result, with_checkpoints))
        return
    where = f" vid händelse {result.first_broken}" if result.first_broken is not None else ""
    click.echo(f"BRUTEN{where}: {one_line(result.reason)}", err=True)
    for problem in result.problems[1:SHOWN_PROBLEMS]:
        click.echo(f"  {one_line(problem.detail)}", err=True)
    hidden = result.problem_count - min(len(result.problems), SHOWN_PROBLEMS)
    if hidden > 0:
        click.echo(f"  … och {hidden} problem till (--json listar fler)", err=True)
    click.echo(_anchoring(result, with_checkpoints), err=True)


def _anchoring(result: VerifyResult, with_checkpoints: bool) -> str:
    if not with_checkpoints:
        return (
            "Inte förankrad: utan kontrollpunkter (--checkpoints, --public-key) syns det inte"
            " om de senaste händelserna har tagits bort."
        )
    if result.anchored_to is None:
        return (
            f"Ingen giltig kontrollpunkt täcker kedjan: alla {result.checked} händelser är"
            " ännu inte förankrade."
        )
    if result.unanchored == 0:
        return f"Förankrad till händelse {result.anchored_to} i kontrollpunkterna: hela kedjan."
    return (
        f"Förankrad till händelse {result.anchored_to} i kontrollpunkterna;"
        f" {result.unanchored} händelser efter den är ännu inte förankrade."
    )


def _record_failure(ctx: click.Context, store: Any, result: VerifyResult) -> None:
    """Record the failed check in the trail (``replay.record_failure``). A database that
    refuses the write (read-only) gets a note, and the command still exits 1."""
    from tsk_workflow import replay
    from tsk_workflow.engine.setup import os_user
    from tsk_workflow.errors import TskError
    from tsk_workflow.store.database import StoreError

    try:
        seq = replay.record_failure(
            store, result, runtime.actor(ctx), settings(ctx).org, os_user(), _now(store)
        )
    except (TskError, StoreError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        click.echo(
            f"tsk: den misslyckade kontrollen kunde inte sparas i granskningsloggen"
            f" ({replay.FAILED_ACTION}): {one_line(reason)}",
            err=True,
        )
        return
    click.echo(f"Den misslyckade kontrollen är sparad som händelse {seq}.", err=True)


def _now(store: Any) -> dt.datetime:
    """The time of the record: the server's clock, or ``TSK_NOW`` on a database made for
    virtual time (the demo, tests)."""
    from tsk_workflow.errors import TskError

    try:
        return runtime.clock(store)()
    except TskError:  # TSK_NOW on a database on the server's clock: the server's time it is
        return runtime.server_now()


from tsk_workflow.cli.checkpoint import checkpoint, keygen  # noqa: E402  (signed checkpoints)

audit.add_command(keygen)
audit.add_command(checkpoint)
