"""``tsk``, ``tsk --help`` and ``tsk -h`` printed without importing click.

Every ``tsk`` command is a new process, and importing click costs more than the rest of the
interpreter's start-up; the top-level help is what people run first and most often. ``HELP`` is
click's own rendering of it at the default width, byte for byte:
``tests/test_cli_startup.py`` renders it with click and compares, so the two cannot drift
(after changing the global options or ``COMMANDS`` in ``cli/app.py``, paste what it prints).
Anything else goes to click: other arguments, a terminal narrower than 80 columns (click wraps
to it), shell completion, an output that is not UTF-8.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # as typing.TYPE_CHECKING (mypy knows the name), without importing typing
if TYPE_CHECKING:
    from typing import TextIO

HELP = """\
Usage: tsk [OPTIONS] COMMAND [ARGS]...

  tsk-workflow: the safety and crime-prevention work of a Swedish
  municipality.

Options:
  --db URL         Database URL or SQLite file [TSK_DATABASE_URL]
  --org FILE|NAME  Organisation file or shipped municipality [TSK_ORG]
  --as PERSON      Who is acting [TSK_USER]
  --lang [sv|en]   [default: sv]
  --version        Show the version and exit.
  -h, --help       Show this message and exit.

Commands:
  audit      The audit trail: show, export, verify
  backup     A consistent copy of a SQLite database
  cycle      Cycles: open, list, show, next, advance, close
  decision   Decisions: propose, record, list
  demo       A municipality's whole year, end to end, on local defaults
  gdpr       Personal data: purge free text after retention
  init       Create or upgrade the database, load the organisation
  lagesbild  The compiled lägesbild of a cycle
  mail       Mail: test, send, status, retry
  org        The organisation: people, roles, groups, towns
  plan       The year: openings, meetings, deadlines, reminders, reports
  process    Process definitions: list, show, validate, draw
  run        The scheduler as a long-running service
  task       Tasks: list, done
  tick       One scheduler pass (cron, systemd timer)"""

HELP_ARGS = (["--help"], ["-h"])
CLICK_WIDTH = 80  # click wraps help to min(terminal columns, 80) - 2


def quick_help(args: list[str]) -> int | None:
    """Print the top-level help where click would print it and return the exit code click would
    give (``--help``: stdout, 0; no arguments: stderr, 2, as a usage error). None, with nothing
    printed, when click must handle ``args``."""
    if args not in HELP_ARGS and args != []:
        return None
    stream = sys.stdout if args else sys.stderr
    if not _same_as_click(stream):
        return None
    return _write(stream, HELP + "\n", 0 if args else 2)


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
