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
from tsk_workflow.i18n import N_, _, ngettext

if TYPE_CHECKING:
    import socket

    from tsk_workflow.demo import run

MUNICIPALITIES = ["herrljunga", "svenljunga", "tranemo", "tingsryd"]


@click.command(
    help=N_(
        "Run a municipality's year on virtual time: a SQLite database in the folder (or the empty"
        " database --db names), a local SMTP server writing to a maildir, the scheduler, the"
        " engine and people acting; then a summary. Ctrl-C removes what it made."
    )
)
@click.option(
    "--municipality",
    type=click.Choice(MUNICIPALITIES),
    default="herrljunga",
    show_default=True,
    help=N_("The shipped municipality whose year is run"),
)
@click.option("--year", type=click.IntRange(2000, 2100), help=N_("Default: next year"))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help=N_("Default: ./tsk-demo-MUNICIPALITY-YEAR"),
)
@click.option(
    "--seed", type=int, default=2027, show_default=True, help=N_("Seed of the people's choices")
)
@click.option(
    "--until",
    type=dates.DateTime(),
    help=N_("Stop after this day, leaving work in progress to try by hand"),
)
@click.option(
    "--serve",
    is_flag=True,
    help=N_(
        "Then run the service on the demo's database (tsk serve), its people signing in from a"
        " list, until Ctrl-C"
    ),
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help=N_("With --serve: the address to listen on"),
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help=N_("With --serve: the port (0: a free one, printed)"),
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
    serve: bool,
    host: str,
    port: int,
    as_json: bool,
) -> None:
    from tqdm import tqdm

    from tsk_workflow.demo import run

    year = year or dt.date.today().year + 1
    out = out or Path(f"tsk-demo-{municipality}-{year}")
    last = until.date() if until is not None else dt.date(year, 12, 31)
    if last.year != year:
        raise click.BadParameter(
            _("{day} is not in {year}").format(day=last, year=year), param_hint="--until"
        )
    database = settings(ctx).db
    try:  # everything in the way is said before the progress bar is drawn
        place = run.check_start(municipality, year, out, database)
    except run.DemoInTheWay as exc:
        raise TskError(in_the_way(exc.path)) from None
    except run.DemoDatabaseInUse as exc:
        raise TskError(database_in_use(exc.shown)) from None
    sock = None
    base_url = run.BASE_URL
    if serve:  # the port is taken now, so that the mails' links point at it
        from tsk_workflow.cli.serve import address, bind

        sock = bind(host, port)
        base_url = address(sock).rstrip("/")
    days = (last - dt.date(year, 1, 1)).days + 1
    try:
        with tqdm(
            total=days, desc=f"{municipality} {year}", unit=_("day"), disable=as_json, leave=False
        ) as bar:
            result = run.run_demo(
                municipality, year, out, seed, bar.update, last, database, base_url
            )
    except run.DemoInterrupted as stopped:
        click.echo(f"tsk: {interrupted(stopped.place, stopped.left)}", err=True)
        raise click.exceptions.Exit(130) from None
    if as_json:
        emit_json(result.to_json())
    else:
        click.echo(summary_text(result.to_json(), result.name))
    if not result.audit_ok:
        raise click.exceptions.Exit(1)
    if sock is not None:
        _serve(ctx, place.url, out, host, sock, as_json)


def _serve(
    ctx: click.Context, url: str, out: Path, host: str, sock: socket.socket, as_json: bool
) -> None:
    """``tsk serve`` on the demo's database, on ``sock`` (bound before the year was run), as
    the demo ran: the key its mails' links were signed with, its checkpoints' key and folder,
    and its SMTP server writing to its maildir (the mail of what people do in the browser goes
    there too); the address printed once it answers."""
    import os

    from tsk_workflow import checkpoints
    from tsk_workflow.cli.run import configure_logging
    from tsk_workflow.cli.serve import run_service
    from tsk_workflow.demo.run import CHECKPOINT_DIR, KEY_FILE, LINK_KEY_FILE
    from tsk_workflow.demo.smtpd import LocalSmtpServer
    from tsk_workflow.links import ENV_KEY, ENV_KEY_FILE
    from tsk_workflow.store.database import Store

    configure_logging("warning", as_json=False)
    environ = dict(os.environ)
    if not (environ.get(ENV_KEY) or environ.get(ENV_KEY_FILE)):
        environ[ENV_KEY_FILE] = str(out / LINK_KEY_FILE)
    environ.setdefault(checkpoints.ENV_KEY, str(out / KEY_FILE))
    environ.setdefault(checkpoints.ENV_DIR, str(out / CHECKPOINT_DIR))

    def started(url: str) -> None:
        click.echo(serving(url), err=as_json)

    store = Store(url)
    try:
        with LocalSmtpServer(out / "maildir") as smtp:
            run_service(
                ctx,
                store,
                {**environ, **smtp.environment},
                host,
                sock.getsockname()[1],
                "warning",
                sock=sock,
                on_started=started,
            )
    finally:
        store.dispose()


def serving(url: str) -> str:
    """Where the demo is served, said once it answers."""
    lines = [
        "",
        _("The demo is served at:"),
        "",
        f"    {url}",
        "",
        _("Open it in your browser and sign in as one of its people. Ctrl-C stops it."),
    ]
    return "\n".join(lines)


def in_the_way(path: str) -> str:
    return _("{path} already exists: give another --out or remove it (nothing was started)").format(
        path=path
    )


def database_in_use(shown: str) -> str:
    return _(
        "the database {database} is already set up: the demo starts from an empty database"
        " (create a new one, e.g. 'createdb tsk_demo', or leave out --db for a SQLite file"
        " in the folder)"
    ).format(database=shown)


def interrupted(place: run.Place, left: list[str]) -> str:
    """What Ctrl-C did: all the demo had made removed (named), or what could not be."""
    if left:
        return _("interrupted (Ctrl-C); could not remove what the demo made: {paths}").format(
            paths=", ".join(left)
        )
    if place.made_out:
        parts = [_("the folder {folder}").format(folder=place.out)]
    else:
        parts = [_("its files in {folder}").format(folder=place.out)]
    if place.sqlite is None:
        parts.append(_("its tables in {database}").format(database=place.database))
    elif place.sqlite.parent.resolve() != place.out.resolve():
        parts.append(str(place.sqlite))
    return _("interrupted (Ctrl-C): the demo removed all it had made ({what})").format(
        what=", ".join(parts)
    )


def summary_text(data: dict[str, Any], name: str) -> str:
    """The demo's summary for people, in the language spoken (``--json`` keeps the keys)."""
    from tsk_workflow.cli.views import status_label

    lines = [
        _("{name} {year}: the year is done.").format(name=name, year=data["year"]),
        "",
        _("Cycles per process (opened / closed / in progress):"),
    ]
    lines += [
        f"  {key:<24} {c['opened']:>4} {c['closed']:>4} {c['open']:>4}"
        for key, c in data["cycles"].items()
    ]
    tasks = data["tasks"]
    reminders, escalations = data["reminders"], data["escalations"]
    lines += [
        "",
        _("Tasks: {on_time} done on time, {late} late, {open} open, {cancelled} cancelled").format(
            on_time=tasks["done_on_time"],
            late=tasks["done_late"],
            open=tasks["open"],
            cancelled=tasks["cancelled"],
        ),
        _("Reminders {reminders}, escalations to the chair {escalations}").format(
            reminders=reminders, escalations=escalations
        ),
        "",
        _("Mail delivered over SMTP: {n}; per role:").format(n=data["mails_delivered"]),
    ]
    lines += [f"  {role:<28} {count:>5}" for role, count in data["mails_per_role"].items()]
    if data.get("links", {}).get("key_file"):
        lines.append(
            _("Each task mail links to its task at {url} (tsk serve, with the key {key})").format(
                url=data["links"]["base_url"], key=shlex.quote(data["links"]["key_file"])
            )
        )
    lines += ["", _("Decisions per body:")]
    for body, counts in sorted(data["decisions"].items()):
        parts = ", ".join(
            f"{status_label(key)} {value}" for key, value in counts.items() if key != "proposed"
        )
        proposed = ngettext("{n} proposed", "{n} proposed", counts["proposed"]).format(
            n=counts["proposed"]
        )
        lines.append(f"  {body.upper():<9} {proposed} ({parts or _('none decided yet')})")
    lines += _actions_text(data)
    audit = data["audit"]
    events = ngettext("{n} event", "{n} events", audit["events"]).format(n=audit["events"])
    verdict = _("passed") if audit["ok"] else _("BROKEN: {reason}").format(reason=audit["reason"])
    marks = data["checkpoints"]
    anchored = marks["anchored_to"]
    anchoring = (
        _("; anchored in the checkpoints to event {seq}").format(seq=anchored)
        if anchored is not None
        else ""
    )
    key_note = _("# the public key, for the auditor")
    lines += [
        "",
        f"tsk audit verify: {verdict} ({events}{anchoring})",
        _("Checkpoints: {n} signed, one a day at {time} (key {key}…)").format(
            n=marks["signed"], time=marks["time"], key=marks["key_id"][:8]
        ),
        f"  {shlex.quote(marks['file'])}",
        f"  {shlex.quote(marks['public_key'])}          {key_note}",
        "",
        _("See for yourself:"),
    ]
    base = f"{_tsk()} --db {shlex.quote(data['database'])} --org {data['municipality']}"
    mails_note = _("# the mails, one per file")
    calendar_note = _("# the year as a calendar (.ics)")
    lines += [
        f"  {base} cycle list",
        f"  {base} decision list",
        f"  {base} action list --state all",
        f"  {base} audit | tail",
        f"  {base} audit verify --checkpoints {shlex.quote(marks['file'])}"
        f" --public-key {shlex.quote(marks['public_key'])}",
        f"  {base} task list --all | head",
        f"  ls {shlex.quote(data['maildir'])}/new | head       {mails_note}",
        f"  {shlex.quote(data['calendar'])}                   {calendar_note}",
    ]
    report_note = _("# the yearly report to KF")
    lines += [f"  {shlex.quote(path)}     {report_note}" for path in data["reports"]]
    return "\n".join(lines)


def _actions_text(data: dict[str, Any]) -> list[str]:
    """The action register, the åtgärdsplan in force and the law's view at the year's end."""
    from tsk_workflow.cli.compliance import MARKS, level_word

    found = data.get("actions") or {}
    if not found:
        return []
    lines = [
        "",
        _(
            "Actions: {added} in the register ({done} done, {active} active, {overdue} overdue);"
            " {followups} follow-ups; reminders {reminders}, overdue notices {notices}"
        ).format(
            added=found["added"],
            done=found["done"],
            active=found["active"],
            overdue=found["overdue"],
            followups=found["followups"],
            reminders=found.get("reminders", 0),
            notices=found.get("overdue_notices", 0),
        ),
    ]
    plan = data.get("plan")
    if plan:
        lines.append(
            _("Åtgärdsplan in force: version {version}, {body} {date} {paragraph}").format(
                version=plan["version"],
                body=str(plan["body"]).upper(),
                date=plan["date"],
                paragraph=plan["paragraph"],
            )
        )
    view = data.get("compliance") or {}
    if view:
        lines += [
            "",
            _("Lag (2023:196) on {date}: {level} (tsk compliance)").format(
                date=view["date"], level=level_word(view["level"])
            ),
        ]
        lines += [
            f"  {MARKS[i['level']]} {level_word(i['level']):<5} {i['title']}: {i['reason']}"
            for i in view["items"]
        ]
    return lines


def _tsk() -> str:
    """How to call tsk again: ``tsk`` when it is on the PATH, else the path it was run by."""
    import shutil
    import sys

    if shutil.which("tsk"):
        return "tsk"
    return shlex.quote(sys.argv[0]) if sys.argv and sys.argv[0].endswith("tsk") else "tsk"
