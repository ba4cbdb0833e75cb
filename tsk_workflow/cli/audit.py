"""``tsk audit``: who did and decided what, exported, and the record verified."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import click

from tsk_workflow.cli import dates, runtime
from tsk_workflow.cli.context import TskGroup, emit_json, one_line, settings
from tsk_workflow.cli.views import brief, role_label
from tsk_workflow.i18n import N_, _, ngettext

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from tsk_workflow.audit import Problem, VerifyResult
    from tsk_workflow.checkpoints import Checkpoint

DATE = dates.DateTime(with_time=True)


@click.group(
    cls=TskGroup,
    invoke_without_command=True,
    help=N_("The audit trail, oldest first; 'tsk audit verify' checks everything it claims."),
)
@click.option("--cycle", "cycle_ref", help=N_("Only events of this cycle (ID or reference)"))
@click.option("--actor", help=N_("Only events by this person"))
@click.option("--since", type=DATE, help=N_("From this date or time (Stockholm time)"))
@click.option("--until", type=DATE, help=N_("Up to, not including, this date or time"))
@click.option("--refused", is_flag=True, help=N_("Acts refused for lack of permission instead"))
@click.option("--json", "as_json", is_flag=True, help=N_("Print JSON only"))
@click.option("--csv", "as_csv", is_flag=True, help=N_("Print CSV"))
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
    if ctx.invoked_subcommand is not None:
        return
    if settings(ctx).url:
        from tsk_workflow.cli import remote

        remote.audit_list(
            ctx,
            cycle_ref=cycle_ref,
            actor=actor,
            since=since,
            until=until,
            refused=refused,
            as_json=as_json,
            as_csv=as_csv,
        )
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
            role = role_label(row.role)
            click.echo(
                f"{row.seq:>6} {when} {row.actor:<18} {role:<16} {row.action:<20} {row.subject} {brief(row.payload)}"
            )


def _local(value: dt.datetime | None) -> dt.datetime | None:
    from tsk_workflow.calendar import STOCKHOLM

    return value.replace(tzinfo=STOCKHOLM) if value is not None else None


def _scope(ctx: click.Context, cycle_ref: str | None) -> tuple[str | None, int | None]:
    if not settings(ctx).org:
        if cycle_ref is not None and not cycle_ref.isdigit():
            raise click.BadParameter(
                _("a cycle reference needs --org; or give the cycle's number"),
                param_hint="--cycle",
            )
        return None, int(cycle_ref) if cycle_ref else None
    engine = runtime.engine(ctx)
    if cycle_ref is None:
        return engine.org.municipality, None
    with engine.store.reading() as session:
        return engine.org.municipality, engine.find_cycle(session, cycle_ref).id


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


@audit.command(
    help=N_(
        "Check everything the record claims: the hash chain, purges, the order of time, the"
        " documents, and the decisions, cycles and tasks replayed from the events; with"
        " --checkpoints, that the chain is the one signed. Exit 1 on any problem, which is"
        " itself recorded in the trail (audit.verification_failed)."
    )
)
@click.option(
    "--checkpoints",
    "checkpoints_path",
    type=click.Path(path_type=Path),
    help=N_("Signed checkpoints of the chain (checkpoints.jsonl, or its folder)"),
)
@click.option(
    "--public-key",
    type=click.Path(dir_okay=False, path_type=Path),
    help=N_("The public key the checkpoints are signed with"),
)
@click.option("--json", "as_json", is_flag=True, help=N_("Print JSON only"))
@click.pass_context
def verify(
    ctx: click.Context, checkpoints_path: Path | None, public_key: Path | None, as_json: bool
) -> None:
    from dataclasses import replace

    from tsk_workflow import audit as trail
    from tsk_workflow import replay

    if (checkpoints_path is None) != (public_key is None):
        raise click.UsageError(_("give --checkpoints and --public-key together"))
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
        events = ngettext("{n} event", "{n} events", result.checked).format(n=result.checked)
        click.echo(
            _("OK: {events}, the chain is whole (latest hash {hash}…)").format(
                events=events, hash=(result.head_hash or "")[:16]
            )
        )
        click.echo(_("Decisions, actions, cycles, tasks and documents agree with the events."))
        click.echo(_anchoring(result, with_checkpoints))
        return
    if result.first_broken is not None:
        broken = _("BROKEN at event {seq}: {reason}").format(
            seq=result.first_broken, reason=one_line(result.reason)
        )
    else:
        broken = _("BROKEN: {reason}").format(reason=one_line(result.reason))
    click.echo(broken, err=True)
    for problem in result.problems[1:SHOWN_PROBLEMS]:
        click.echo(f"  {one_line(problem.detail)}", err=True)
    hidden = result.problem_count - min(len(result.problems), SHOWN_PROBLEMS)
    if hidden > 0:
        more = ngettext(
            "… and {n} more problem (--json lists more)",
            "… and {n} more problems (--json lists more)",
            hidden,
        ).format(n=hidden)
        click.echo(f"  {more}", err=True)
    click.echo(_anchoring(result, with_checkpoints), err=True)


def _anchoring(result: VerifyResult, with_checkpoints: bool) -> str:
    if not with_checkpoints:
        return _(
            "Not anchored: without checkpoints (--checkpoints, --public-key) it does not show"
            " whether the latest events have been removed."
        )
    if result.anchored_to is None:
        return ngettext(
            "No valid checkpoint covers the chain: its {n} event is not yet anchored.",
            "No valid checkpoint covers the chain: all {n} events are not yet anchored.",
            result.checked,
        ).format(n=result.checked)
    if result.unanchored == 0:
        return _("Anchored to event {seq} in the checkpoints: the whole chain.").format(
            seq=result.anchored_to
        )
    return ngettext(
        "Anchored to event {seq} in the checkpoints; {n} event after it is not yet anchored.",
        "Anchored to event {seq} in the checkpoints; {n} events after it are not yet anchored.",
        result.unanchored,
    ).format(seq=result.anchored_to, n=result.unanchored)


def _record_failure(ctx: click.Context, store: Any, result: VerifyResult) -> None:
    """Record the failed check in the trail (``replay.record_failure``). A database that
    refuses the write (read-only) gets a note, and the command still exits 1."""
    from tsk_workflow import replay
    from tsk_workflow.engine.setup import os_user
    from tsk_workflow.errors import TskError
    from tsk_workflow.store.database import StoreError

    try:
        seq = replay.record_failure(
            store, result, settings(ctx).actor, settings(ctx).org, os_user(), _now(store)
        )
    except (TskError, StoreError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        message = _("the failed check could not be saved in the audit trail ({action}): {reason}")
        click.echo(
            "tsk: " + message.format(action=replay.FAILED_ACTION, reason=one_line(reason)),
            err=True,
        )
        return
    click.echo(_("The failed check is saved as event {seq}.").format(seq=seq), err=True)


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
