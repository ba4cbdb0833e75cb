"""``tsk event``: report an event at any time (one per command), and list the reports."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import click

from tsk_workflow.cli import runtime
from tsk_workflow.cli.context import TskGroup, emit_json, json_option, settings
from tsk_workflow.i18n import N_, _, ngettext


@click.group(
    cls=TskGroup,
    help=N_(
        "Events reported at any time, not only when a monthly task asks: they feed the"
        " lägesbild of the month they happened in."
    ),
)
def event() -> None:
    pass


@event.command(help=N_("Report one event: what, when, where; describe what happened, not who."))
@click.option(
    "--category", required=True, help=N_("The lägesbild's category (its key or its name)")
)
@click.option(
    "--when",
    required=True,
    metavar="DATE[THH:MM]",
    help=N_("When it happened, local time: 2027-03-14 or 2027-03-14T22:15"),
)
@click.option("--town", required=True, help=N_("The town or area of the organisation"))
@click.option("--place", help=N_("Where in the town, e.g. 'stationen'"))
@click.option("--lat", "latitude", type=float, help=N_("Latitude of a point, WGS 84"))
@click.option("--lon", "longitude", type=float, help=N_("Longitude of a point, WGS 84"))
@click.option(
    "--description",
    required=True,
    help=N_("What happened (no names or personal identity numbers)"),
)
@json_option
@click.pass_context
def report(
    ctx: click.Context,
    category: str,
    when: str,
    town: str,
    place: str | None,
    latitude: float | None,
    longitude: float | None,
    description: str,
    as_json: bool,
) -> None:
    given: dict[str, Any] = {
        "category": category,
        "when": when,
        "town": town,
        "place": place,
        "latitude": None if latitude is None else repr(latitude),
        "longitude": None if longitude is None else repr(longitude),
        "description": description,
    }
    if settings(ctx).url:
        from tsk_workflow.cli import remote

        with remote.service(ctx) as api:
            made: dict[str, Any] = api.post("/api/v1/events", {"events": [given]})
    else:
        from tsk_workflow.engine.events import labelled, report_events

        engine = runtime.engine(ctx)
        report = report_events(engine, runtime.actor(ctx, engine), [given])
        made = labelled(engine, report, settings(ctx).lang)
    if as_json:
        emit_json(made)
        return
    count = len(made["events"])
    click.echo(
        ngettext(
            "Report {id}: {n} event recorded.", "Report {id}: {n} events recorded.", count
        ).format(id=made["id"], n=count)
    )
    for found in made["events"]:
        click.echo("  " + event_line(found))


@event.command("list", help=N_("Reports of events: yours, or with --all everyone's."))
@click.option("--month", metavar="YYYY-MM", help=N_("Only reports with an event in this month"))
@click.option(
    "--all",
    "everyone",
    is_flag=True,
    help=N_("Everyone's reports (who may read every task, or an admin)"),
)
@json_option
@click.pass_context
def list_(ctx: click.Context, month: str | None, everyone: bool, as_json: bool) -> None:
    zone: dt.tzinfo = _stockholm()
    if settings(ctx).url:
        from tsk_workflow.cli import remote

        query: dict[str, Any] = {"all": "true"} if everyone else {}
        if month:
            query["month"] = month
        with remote.service(ctx) as api:
            rows: list[dict[str, Any]] = api.get("/api/v1/events", params=query)
    else:
        from tsk_workflow.engine.events import labelled, readable_reports

        engine = runtime.engine(ctx)
        person = runtime.actor(ctx, engine)
        found = readable_reports(engine, person, month=month, everyone=everyone)
        rows = [labelled(engine, r, settings(ctx).lang) for r in found]
        zone = engine.cal.zone
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        reported = dt.datetime.fromisoformat(row["reported_at"])
        click.echo(
            _("Report {id}, {when}, by {reporter}").format(
                id=row["id"],
                when=reported.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                reporter=row["reporter"],
            )
        )
        for found_event in row["events"]:
            click.echo("  " + event_line(found_event))
    if not rows:
        click.echo(_("No events reported."))


def event_line(found: Mapping[str, Any]) -> str:
    """``2027-03-14 22:15 · Klotter · Herrljunga, stationen (57.92, 13.03): Taggar ...``"""
    where = str(found.get("town_name") or found["town"])
    if found.get("place"):
        where += f", {found['place']}"
    if found.get("latitude") is not None:
        where += f" ({found['latitude']}, {found['longitude']})"
    category = found.get("category_label") or found["category"]
    text = f"{found['when']} · {category} · {where}"
    if found.get("description"):
        text += ": " + " ".join(str(found["description"]).split())
    return text


def _stockholm() -> dt.tzinfo:
    """The zone of the reports' times through the service (its organisation's is not known)."""
    from zoneinfo import ZoneInfo

    return ZoneInfo("Europe/Stockholm")
