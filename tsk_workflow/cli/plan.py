"""``tsk plan YEAR``: the year of a municipality, per role, as text, JSON or an iCalendar file.

Computed from the definitions alone (``tsk_workflow.engine.plan``): no database is needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tsk_workflow import i18n
from tsk_workflow.cli.context import emit_json, force_option, json_option, settings
from tsk_workflow.i18n import N_, _, ngettext

if TYPE_CHECKING:
    from tsk_workflow.calendar import WorkCalendar
    from tsk_workflow.engine.plan import PlanItem

KIND_CHOICES = ("cycle_open", "meeting", "due", "reminder", "report", "review")


@click.command(
    help=N_(
        "Every cycle opening, meeting, deadline, reminder and report of YEAR, with the roles each"
        " concerns (--org). Openings follow the schedules; the rest follows each cycle's steps as"
        " if every task were done on time."
    )
)
@click.argument("year", type=click.IntRange(1970, 2200))
@click.option(
    "--role",
    "roles",
    multiple=True,
    metavar="ROLE",
    help=N_("Only what concerns this role (repeatable)"),
)
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice(KIND_CHOICES),
    help=N_("Only items of this kind (repeatable)"),
)
@click.option(
    "--ics",
    "ics_path",
    type=click.Path(path_type=Path),
    metavar="FILE",
    help=N_("Also write the items as an iCalendar file (Outlook, Google Calendar)"),
)
@click.option(
    "--lang",
    "lang",
    type=click.Choice(["sv", "en"]),
    default=None,
    help=N_("Language of the titles (default: the global --lang, Swedish)"),
)
@force_option
@json_option
@click.pass_context
def plan(
    ctx: click.Context,
    year: int,
    roles: tuple[str, ...],
    kinds: tuple[str, ...],
    ics_path: Path | None,
    lang: str | None,
    force: bool,
    as_json: bool,
) -> None:
    lang = lang or settings(ctx).lang
    if ics_path is not None:
        from tsk_workflow.files import check_target

        check_target(ics_path, force=force)
    with i18n.speaking(lang):
        if settings(ctx).url:
            from tsk_workflow.cli import remote

            remote.plan(
                ctx, year, roles=roles, kinds=kinds, ics_path=ics_path, lang=lang, as_json=as_json
            )
            return
        _plan(ctx, year, roles, kinds, ics_path, lang, as_json)


def _action_items(ctx: click.Context, year: int) -> list[Any]:
    """The actions' due dates and follow-ups, from the database (``--db``) when one is given:
    the year plan of the organisation file alone has none."""
    import datetime as dt

    from tsk_workflow.cli import runtime
    from tsk_workflow.engine import plan as planning
    from tsk_workflow.engine.actions import Actions

    dates = Actions(runtime.engine(ctx)).plan_dates()
    return planning.action_items(dates, dt.date(year, 1, 1), dt.date(year, 12, 31))


def _plan(
    ctx: click.Context,
    year: int,
    roles: tuple[str, ...],
    kinds: tuple[str, ...],
    ics_path: Path | None,
    lang: str,
    as_json: bool,
) -> None:
    import datetime as dt

    from tsk_workflow.catalog import load_catalog, load_organisation
    from tsk_workflow.engine import plan as planning
    from tsk_workflow.engine import timing
    from tsk_workflow.errors import Refused
    from tsk_workflow.files import write

    catalog = load_catalog()
    org = load_organisation(settings(ctx).require_org(), catalog)
    cal = timing.work_calendar(org)
    items = planning.year_plan(org, catalog.definitions, year, cal)
    if settings(ctx).db:
        items = planning.sort_items([*items, *_action_items(ctx, year)])
    if roles:
        known = set(planning.roles_of(items)) | {
            role for person in org.people for role in (*person.roles, *person.deputy_for)
        }
        unknown = [role for role in roles if role not in known]
        if unknown:
            raise Refused(
                _("unknown role '{role}' in {organisation}; roles: {roles}").format(
                    role=unknown[0], organisation=org.name, roles=", ".join(sorted(known))
                )
            )
        items = planning.with_roles(items, roles)
    if kinds:
        items = [item for item in items if item.kind in kinds]
    if ics_path is not None:
        stamp = dt.datetime.now(dt.UTC)
        write(ics_path, planning.to_ics(items, org, year, lang, stamp, cal))
    if as_json:
        emit_json(planning.to_json(items, lang, cal))
        return
    _print(items, org.name, year, lang, cal, ics_path)


def _print(
    items: list[PlanItem],
    name: str,
    year: int,
    lang: str,
    cal: WorkCalendar,
    ics_path: Path | None,
) -> None:
    from tsk_workflow.calendar import month_name
    from tsk_workflow.engine.plan import format_line

    header = _("{name} – plan for {year}").format(name=name, year=year)
    count = ngettext("{n} item", "{n} items", len(items)).format(n=len(items))
    click.echo(f"{header} ({count})")
    month = 0
    for item in items:
        if item.date.month != month:
            month = item.date.month
            click.echo(f"\n{month_name(month, lang).capitalize()}")
        click.echo("  " + format_line(item, lang, cal))
    if ics_path is not None:
        wrote = ngettext(
            "Wrote {n} event to {file}", "Wrote {n} events to {file}", len(items)
        ).format(n=len(items), file=ics_path)
        click.echo(f"\n{wrote}")
