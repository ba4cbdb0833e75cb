"""``tsk demo``: a municipality's whole year, end to end, on local defaults."""

from __future__ import annotations

import datetime as dt
import shlex
from pathlib import Path
from typing import Any

import click

from tsk_workflow.cli import dates
from tsk_workflow.cli.context import emit_json, json_option

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
def demo(
    municipality: str,
    year: int | None,
    out: Path | None,
    seed: int,
    until: dt.datetime | None,
    as_json: bool,
) -> None:
    """Run a municipality's year on virtual time: a SQLite database, a local SMTP server writing
    to a maildir, the scheduler, the engine and people acting; then a summary."""
    from tqdm import tqdm

    from tsk_workflow.demo.run import run_demo

    year = year or dt.date.today().year + 1
    out = out or Path(f"tsk-demo-{municipality}-{year}")
    last = until.date() if until is not None else dt.date(year, 12, 31)
    if last.year != year:
        raise click.BadParameter(f"{last} is not in {year}", param_hint="--until")
    days = (last - dt.date(year, 1, 1)).days + 1
    with tqdm(
        total=days, desc=f"{municipality} {year}", unit="dag", disable=as_json, leave=False
    ) as bar:
        try:
            result = run_demo(municipality, year, out, seed, bar.update, last)
        except FileExistsError as exc:
            raise click.ClickException(str(exc)) from None
    if as_json:
        emit_json(result.to_json())
    else:
        click.echo(summary_text(result.to_json(), result.name))
    if not result.audit_ok:
        raise click.exceptions.Exit(1)


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
