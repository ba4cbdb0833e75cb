"""``tsk demo``: a municipality's whole year, end to end, on local defaults."""

from __future__ import annotations

import datetime as dt
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tsk_workflow.cli import dates
from tsk_workflow.cli.context import emit_json, json_option, settings
from tsk_workflow.errors import TskError

if TYPE_CHECKING:
    from tsk_workflow.demo import run

MUNICIPALITIES = ["herrljunga", "svenljunga", "tranemo", "tingsryd"]


@click.command()
@click.option(
    "--municipality", type=click.Choice(MUNICIPALITIES), default="herrljunga", show_default=True
)
@click.option("--year", type=click.IntRange(2000, 2100), help="Default: next year")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Default: ./tsk-demo-MUNICIPALITY-YEAR",
)
@click.option(
    "--seed", type=int, default=2027, show_default=True, help="Seed of the people's choices"
)
@click.option(
    "--until",
    type=dates.DateTime(),
    help="Stop after this day, leaving work in progress to try by hand",
)
@json_option
@click.pass_context
def demo(
    ctx: click.Context,
    municipality: str,
    year: int | None,
    out: Path | None,
    seed: int,
    until: dt.datetime | None,
    as_json: bool,
) -> None:
    """Run a municipality's year on virtual time: a SQLite database in the folder (or the empty
    database --db names), a local SMTP server writing to a maildir, the scheduler, the engine and
    people acting; then a summary. Ctrl-C removes what it made."""
    from tqdm import tqdm

    from tsk_workflow.demo import run

    english = settings(ctx).lang == "en"
    year = year or dt.date.today().year + 1
    out = out or Path(f"tsk-demo-{municipality}-{year}")
    last = until.date() if until is not None else dt.date(year, 12, 31)
    if last.year != year:
        raise click.BadParameter(f"{last} is not in {year}", param_hint="--until")
    database = settings(ctx).db
    try:  # everything in the way is said before the progress bar is drawn
        run.check_start(municipality, year, out, database)
    except run.DemoInTheWay as exc:
        raise TskError(in_the_way(exc.path, english)) from None
    except run.DemoDatabaseInUse as exc:
        raise TskError(database_in_use(exc.shown, english)) from None
    days = (last - dt.date(year, 1, 1)).days + 1
    try:
        with tqdm(
            total=days, desc=f"{municipality} {year}", unit="dag", disable=as_json, leave=False
        ) as bar:
            result = run.run_demo(municipality, year, out, seed, bar.update, last, database)
    except run.DemoInterrupted as stopped:
        click.echo(f"tsk: {interrupted(stopped.place, stopped.left, english)}", err=True)
        raise click.exceptions.Exit(130) from None
    if as_json:
        emit_json(result.to_json())
    else:
        click.echo(summary_text(result.to_json(), result.name))
    if not result.audit_ok:
        raise click.exceptions.Exit(1)


def in_the_way(path: str, english: bool) -> str:
    if english:
        return f"{path} already exists: give another --out or remove it (nothing was started)"
    return f"{path} finns redan: ange en annan --out eller ta bort den (inget har startats)"


def database_in_use(shown: str, english: bool) -> str:
    if english:
        return (
            f"the database {shown} is already set up: the demo starts from an empty database"
            " (create a new one, e.g. 'createdb tsk_demo', or leave out --db for a SQLite file"
            " in the folder)"
        )
    return (
        f"databasen {shown} används redan: demot börjar med en tom databas (skapa en ny,"
        " t.ex. 'createdb tsk_demo', eller utelämna --db för en SQLite-fil i mappen)"
    )


def interrupted(place: run.Place, left: list[str], english: bool) -> str:
    """What Ctrl-C did: all the demo had made removed (named), or what could not be."""
    if left:
        names = ", ".join(left)
        if english:
            return f"interrupted (Ctrl-C); could not remove what the demo made: {names}"
        return f"avbrutet (Ctrl-C); kunde inte ta bort det demot gjort: {names}"
    if english:
        parts = [f"the folder {place.out}" if place.made_out else f"its files in {place.out}"]
    else:
        parts = [f"mappen {place.out}" if place.made_out else f"sina filer i {place.out}"]
    if place.sqlite is None:
        parts.append(
            f"its tables in {place.database}" if english else f"sina tabeller i {place.database}"
        )
    elif place.sqlite.parent.resolve() != place.out.resolve():
        parts.append(str(place.sqlite))
    if english:
        return f"interrupted (Ctrl-C): the demo removed all it had made ({', '.join(parts)})"
    return f"avbrutet (Ctrl-C): demot tog bort allt det hade gjort ({', '.join(parts)})"


def summary_text(data: dict[str, Any], name: str) -> str:
    lines = [
        f"{name} {data['year']}: året är kört.",
        "",
        "Cykler per process (öppnade / stängda / pågår):",
    ]
    lines += [
        f"  {key:<24} {c['opened']:>4} {c['closed']:>4} {c['open']:>4}"
        for key, c in data["cycles"].items()
    ]
    tasks = data["tasks"]
    lines += [
        "",
        f"Uppgifter: {tasks['done_on_time']} klara i tid, {tasks['done_late']} sena, {tasks['open']} öppna, {tasks['cancelled']} avbrutna",
        f"Påminnelser {data['reminders']}, eskaleringar till ordförande {data['escalations']}",
        "",
        f"Mejl levererade över SMTP: {data['mails_delivered']}; per roll:",
    ]
    lines += [f"  {role:<28} {count:>5}" for role, count in data["mails_per_role"].items()]
    lines += ["", "Beslut per organ:"]
    for body, counts in sorted(data["decisions"].items()):
        parts = ", ".join(f"{key} {value}" for key, value in counts.items() if key != "proposed")
        lines.append(f"  {body.upper():<4} {counts['proposed']} föreslagna ({parts})")
    audit = data["audit"]
    verdict = "godkänd" if audit["ok"] else f"BRUTEN: {audit['reason']}"
    marks = data["checkpoints"]
    anchored = marks["anchored_to"]
    anchoring = (
        f"; förankrad i kontrollpunkterna till händelse {anchored}" if anchored is not None else ""
    )
    lines += [
        "",
        f"tsk audit verify: {verdict} ({audit['events']} händelser{anchoring})",
        f"Kontrollpunkter: {marks['signed']} signerade, en per dag kl. {marks['time']}"
        f" (nyckel {marks['key_id'][:8]}…)",
        f"  {shlex.quote(marks['file'])}",
        f"  {shlex.quote(marks['public_key'])}          # den publika nyckeln, för granskaren",
        "",
        "Titta själv:",
    ]
    base = f"{_tsk()} --db {shlex.quote(data['database'])} --org {data['municipality']}"
    lines += [
        f"  {base} cycle list",
        f"  {base} decision list",
        f"  {base} audit | tail",
        f"  {base} audit verify --checkpoints {shlex.quote(marks['file'])}"
        f" --public-key {shlex.quote(marks['public_key'])}",
        f"  {base} task list --all | head",
        f"  ls {shlex.quote(data['maildir'])}/new | head       # mejlen, ett per fil",
        f"  {shlex.quote(data['calendar'])}                   # året som kalender (.ics)",
    ]
    return "\n".join(lines)


def _tsk() -> str:
    """How to call tsk again: ``tsk`` when it is on the PATH, else the path it was run by."""
    import shutil
    import sys

    if shutil.which("tsk"):
        return "tsk"
    return shlex.quote(sys.argv[0]) if sys.argv and sys.argv[0].endswith("tsk") else "tsk"
