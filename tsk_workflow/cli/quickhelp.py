"""``tsk``, ``tsk --help`` and ``tsk -h`` printed without importing click.

Every ``tsk`` command is a new process, and importing click costs more than the rest of the
interpreter's start-up; the top-level help is what people run first and most often. ``HELP`` is
click's own rendering of it at the default width, byte for byte, in each language:
``tests/test_cli_startup.py`` renders it with click and compares, so the two cannot drift
(after changing the global options, ``COMMANDS`` in ``cli/app.py`` or a group's sub-commands,
paste what it prints). Click's rendering is generated: a group's line lists its sub-commands as
they are defined (``cli/app.summary``), so a new sub-command changes it and the test fails until
``HELP`` has it too.
Anything else goes to click: other arguments, a terminal narrower than 80 columns (click wraps
to it), shell completion, an output that is not UTF-8.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # as typing.TYPE_CHECKING (mypy knows the name), without importing typing
if TYPE_CHECKING:
    from typing import TextIO

HELP = {
    "sv": """\
Användning: tsk [OPTIONS] COMMAND [ARGS]...

  tsk-workflow: en svensk kommuns arbete med trygghet och brottsförebyggande.

Alternativ:
  --db URL         Databasens URL eller en SQLite-fil [TSK_DATABASE_URL]
  --org FILE|NAME  Organisationsfil eller medföljande kommun [TSK_ORG]
  --as PERSON      Vem som agerar [TSK_USER]
  --lang [sv|en]   Språk: svenska eller engelska [TSK_LANG]  [standard: sv]
  --version        Visa versionen och avsluta.
  -h, --help       Visa den här hjälpen och avsluta.

Kommandon:
  action      Åtgärder: add, update, followup, list, show, review, plan
  audit       Granskningsloggen (--json, --csv): verify, keygen, checkpoint
  backup      En hel och konsekvent kopia av en SQLite-databas
  compliance  Vad lagen (2023:196) kräver, och var kommunen står
  cycle       Cykler: open, list, show, advance, next, close, attach,
              documents
  decision    Beslut: propose, record, list
  demo        En kommuns hela år, från början till slut, med lokala
              standardval
  event       Händelser som rapporteras när som helst: report, list
  gdpr        Personuppgifter: purge
  init        Skapa eller uppgradera databasen, läs in organisationen
  lagesbild   En cykels sammanställda lägesbild
  login       Logga in i tjänsten (TSK_URL): kommandona går genom den som du
  logout      Logga ut ur tjänsten: din token återkallas och tas bort
  mail        E-post: test, send, digest, status, show, retry
  org         Organisationen: show, load, history, export
  plan        Året: öppningar, möten, tidsgränser, påminnelser, rapporter
  process     Processer: list, show, validate, diagram, upgrade-cycles
  report      Rapporter till KS och KF ur registret (DOCX, PDF): yearly,
              tjansteskrivelse, lagesbild
  run         Schemaläggaren som en tjänst som körs hela tiden
  serve       Tjänsten: API:t, inloggning, länkar i e-post och schemaläggaren
  task        Uppgifter: list, done, form
  tick        En körning av schemaläggaren (cron, systemd-timer)""",
    "en": """\
Usage: tsk [OPTIONS] COMMAND [ARGS]...

  tsk-workflow: the safety and crime-prevention work of a Swedish
  municipality.

Options:
  --db URL         Database URL or SQLite file [TSK_DATABASE_URL]
  --org FILE|NAME  Organisation file or shipped municipality [TSK_ORG]
  --as PERSON      Who is acting [TSK_USER]
  --lang [sv|en]   Language: Swedish or English [TSK_LANG]  [default: sv]
  --version        Show the version and exit.
  -h, --help       Show this message and exit.

Commands:
  action      Actions: add, update, followup, list, show, review, plan
  audit       The audit trail (--json, --csv): verify, keygen, checkpoint
  backup      A consistent copy of a SQLite database
  compliance  What Lag (2023:196) asks, and where the municipality stands
  cycle       Cycles: open, list, show, advance, next, close, attach,
              documents
  decision    Decisions: propose, record, list
  demo        A municipality's whole year, end to end, on local defaults
  event       Events reported at any time: report, list
  gdpr        Personal data: purge
  init        Create or upgrade the database, load the organisation
  lagesbild   The compiled lägesbild of a cycle
  login       Sign in to the service (TSK_URL): commands go through it as you
  logout      Sign out of the service: the token revoked and removed
  mail        Mail: test, send, digest, status, show, retry
  org         The organisation: show, load, history, export
  plan        The year: openings, meetings, deadlines, reminders, reports
  process     Processes: list, show, validate, diagram, upgrade-cycles
  report      Reports to KS and KF from the record (DOCX, PDF): yearly,
              tjansteskrivelse, lagesbild
  run         The scheduler as a long-running service
  serve       The service: the API, sign-in, mail links and the scheduler
  task        Tasks: list, done, form
  tick        One scheduler pass (cron, systemd timer)""",
}
"""The help in each language (``TSK_LANG``; ``--lang`` on the command line goes to click)."""

HELP_ARGS = (["--help"], ["-h"])
CLICK_WIDTH = 80  # click wraps help to min(terminal columns, 80) - 2


def quick_help(args: list[str]) -> int | None:
    """Print the top-level help where click would print it and return the exit code click would
    give (``--help``: stdout, 0; no arguments: stderr, 2, as a usage error). None, with nothing
    printed, when click must handle ``args``."""
    if args not in HELP_ARGS and args != []:
        return None
    stream = sys.stdout if args else sys.stderr
    text = HELP.get(os.environ.get("TSK_LANG") or "sv")
    if text is None or not _same_as_click(stream):
        return None
    return _write(stream, text + "\n", 0 if args else 2)


def _same_as_click(stream: TextIO | None) -> bool:
    """Whether click would print exactly ``HELP`` here: not asked for shell completion (click
    reads ``_TSK_COMPLETE`` before anything), wide enough, and UTF-8 (click rewraps other
    encodings, and the help has an "ä")."""
    if os.environ.get("_TSK_COMPLETE") or _terminal_columns() < CLICK_WIDTH:
        return False
    encoding = getattr(stream, "encoding", None) or ""
    return encoding.lower().replace("-", "").replace("_", "") == "utf8"


def _terminal_columns() -> int:
    """The columns ``shutil.get_terminal_size()`` gives click, without importing ``shutil``
    (its archive modules cost more than this whole path)."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    stdout = sys.__stdout__
    if columns <= 0 and stdout is not None:
        try:
            columns = os.get_terminal_size(stdout.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or CLICK_WIDTH


def _write(stream: TextIO, text: str, code: int) -> int:
    """``text`` on ``stream``; exit code 1 on a closed pipe (``tsk --help | true``), as click's
    ``main`` does, with the stream pointed at /dev/null so that the interpreter's last flush
    does not complain either."""
    try:
        stream.write(text)
        stream.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        return 1
    return code
