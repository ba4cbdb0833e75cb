"""``tsk plan YEAR``: the year of a municipality, per role, as text, JSON or an iCalendar file.

Computed from the definitions alone (``tsk_workflow.engine.plan``): no database is needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from tsk_workflow.cli.context import emit_json, json_option, settings

if TYPE_CHECKING:
    from tsk_workflow.calendar import WorkCalendar
    from tsk_workflow.engine.plan import PlanItem

KIND_CHOICES = ("cycle_open", "meeting", "due", "reminder", "report")


@click.command()
@click.argument("year", type=click.IntRange(1970, 2200))
@click.option(
    "--role",
    "roles",
    multiple=True,
    metavar="ROLE",
    help="Only what concerns this role (repeatable)",
)
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice(KIND_CHOICES),
    help="Only items of this kind (repeatable)",
)
@click.option(
    "--ics",
    "ics_path",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Also write the items as an iCalendar file (Outlook, Google Calendar)",
)
@click.option(
    "--lang",
    "lang",
    type=click.Choice(["sv", "en"]),
    default=None,
    help="Language of the titles (default: the global --lang, Swedish)",
)
@json_option
@click.pass_context
def plan(
    ctx: click.Context,
    year: int,
    roles: tuple[str, ...],
    kinds: tuple[str, ...],
    ics_path: Path | None,
    lang: str | None,
    as_json: bool,
) -> None:
    """Every cycle opening, meeting, deadline, reminder and report of YEAR, with the roles each
    concerns (--org). Openings follow the schedules; the rest follows each cycle's steps as if
    every task were done on time."""
    import datetime as dt

    from tsk_workflow.catalog import load_catalog, load_organisation
    from tsk_workflow.engine import plan as planning
    from tsk_workflow.engine import timing
    from tsk_workflow.errors import Refused

    lang = lang or settings(ctx).lang
    catalog = load_catalog()
    org = load_organisation(settings(ctx).require_org(), catalog)
    cal = timing.work_calendar(org)
    items = planning.year_plan(org, catalog.definitions, year, cal)
    if roles:
        known = set(planning.roles_of(items)) | {
            role for person in org.people for role in (*person.roles, *person.deputy_for)
        }
        unknown = [role for role in roles if role not in known]
        if unknown:
            raise Refused(
                f"unknown role '{unknown[0]}' in {org.name}; roles: {', '.join(sorted(known))}"
            )
        items = planning.with_roles(items, roles)
    if kinds:
        items = [item for item in items if item.kind in kinds]
    if ics_path is not None:
        stamp = dt.datetime.now(dt.UTC)
        try:
            ics_path.write_bytes(planning.to_ics(items, org, year, lang, stamp, cal))
        except OSError as exc:
            raise Refused(f"cannot write {ics_path}: {exc.strerror or exc}") from None
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
    from tsk_workflow.calendar import MONTHS_EN, MONTHS_SV
    from tsk_workflow.engine.plan import format_line

    en = lang == "en"
    header = f"{name} – {'plan for' if en else 'årsplan'} {year}"
    click.echo(f"{header} ({len(items)} {'items' if en else 'händelser'})")
    month = 0
    for item in items:
        if item.date.month != month:
            month = item.date.month
            months = MONTHS_EN if en else MONTHS_SV
            click.echo(f"\n{months[month - 1].capitalize()}")
        click.echo("  " + format_line(item, lang, cal))
    if ics_path is not None:
        what = "Wrote" if en else "Skrev"
        click.echo(f"\n{what} {len(items)} {'events to' if en else 'händelser till'} {ics_path}")
