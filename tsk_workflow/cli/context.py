"""What every command shares: the global options, printing, and turning errors into one line."""

from __future__ import annotations

import gc
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple, TypeVar

import click

from tsk_workflow.errors import DefinitionError, TskError, collecting, collecting_warnings
from tsk_workflow.i18n import N_, _

F = TypeVar("F", bound=Callable[..., Any])


class Settings(NamedTuple):
    """The global options (each also an environment variable).

    A named tuple rather than a dataclass: ``dataclasses`` is not imported at start-up.
    """

    db: str | None = None
    org: str | None = None
    actor: str | None = None
    lang: str = "sv"
    url: str | None = None
    """The service the people's commands go through (``TSK_URL``, or the one ``tsk login``
    signed in to), None for a database (``cli/client.py``)."""

    def require_org(self) -> str:
        if not self.org:
            raise TskError(_("no organisation given: use --org NAME|FILE or set TSK_ORG"))
        return self.org


_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\u0085\u2028\u2029]")


def one_line(text: str) -> str:
    """``text`` with its control characters written out (``\\n``, ``\\x1b``): a value someone
    typed with a line break or a terminal escape in it stays inside its one-line message."""
    return _CONTROL.sub(lambda found: found.group().encode("unicode_escape").decode(), text)


GLOBAL_OPTIONS = ("--db", "--org", "--as", "--lang")
"""The options of ``tsk`` itself, given before the command (``cli/app.py``)."""


class TskGroup(click.Group):
    """Prints a ``TskError`` as its message on stderr and exits 1, without a traceback; the
    warnings of acts that went through (``errors.warn``) as ``tsk: warning: ...``.

    One line per problem: an error listing several (``problems``, a list of texts) gets one
    line each, and no value quoted in a message can break its line.
    """

    def invoke(self, ctx: click.Context) -> Any:
        if collecting():  # a group inside the command line's own: the outermost shows them
            return self._invoke(ctx)
        with collecting_warnings() as warnings:
            returned = self._invoke(ctx)
        # An act that went through with a warning (errors.warn): said after what it printed.
        for warning in warnings:
            click.echo(_("tsk: warning: {warning}").format(warning=one_line(warning)), err=True)
        return returned

    def _invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.NoSuchOption as exc:
            if exc.option_name not in GLOBAL_OPTIONS:
                raise
            # `tsk task list --mine --as x`: say where a global option goes.
            path = exc.ctx.command_path.split(" ", 1) if exc.ctx else ["tsk"]
            command = f" {path[1]}" if len(path) > 1 else ""
            raise click.UsageError(
                _(
                    "{option} is a global option: it goes before the command"
                    " ({tsk} {option} ...{command} ...)"
                ).format(option=exc.option_name, tsk=path[0], command=command),
                exc.ctx,
            ) from None
        except DefinitionError as exc:
            for problem in exc.problems:
                click.echo(one_line(problem), err=True)
            ctx.exit(exc.exit_code)
        except TskError as exc:
            problems = getattr(exc, "problems", None)
            if not (problems and all(isinstance(p, str) for p in problems)):
                problems = [str(exc)]
            for problem in problems:
                click.echo(f"tsk: {one_line(problem)}", err=True)
            ctx.exit(exc.exit_code)


def show_error(exc: click.ClickException) -> None:
    """``exc`` on stderr as ``tsk: message``, the one style of every error of ``tsk``; a usage
    error is preceded by the usage line and where help is, as click shows them. ``tsk`` alone
    is no error to show: click prints the help (exit 2)."""
    if isinstance(exc, click.exceptions.NoArgsIsHelpError):
        exc.show()
        return
    if isinstance(exc, click.UsageError) and exc.ctx is not None:
        help_names = exc.ctx.command.get_help_option_names(exc.ctx)
        # click's own words (translated with the rest of click's, cli/translate.py)
        hint = _("Try '{command} {option}' for help.").format(
            command=exc.ctx.command_path, option=max(help_names, key=len)
        )
        hint += "\n"
        if exc.ctx.command.get_help_option(exc.ctx) is None:
            hint = ""
        click.echo(f"{exc.ctx.get_usage()}\n{hint}", err=True, color=exc.ctx.color)
    click.echo(f"tsk: {one_line(exc.format_message())}", err=True)


def settings(ctx: click.Context) -> Settings:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, Settings) else Settings()


log_level_option = click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
    help=N_("The least important log lines shown"),
)
"""``--log-level`` of the long-running commands (``tsk run``, ``tsk serve``)."""


force_option = click.option("--force", is_flag=True, help=N_("Write over the file if it is there"))
"""``--force`` of every command that writes a file (``tsk_workflow.files.check_target``)."""


def json_option(function: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help=N_("Print JSON only"))(function)


def emit_json(value: Any) -> None:
    import json  # not needed by commands that print no JSON, nor by --help

    click.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def emit_plain_json(value: Any) -> None:
    """``emit_json`` for a value of only dicts with text keys, lists, texts, integers, booleans
    and None (no floats: orjson writes some of them differently), such as ``task list``'s rows:
    the same text, written by orjson. The standard library's indented encoder is pure Python,
    and most of the time of a long list went there. Anything orjson refuses (a surrogate, an
    integer of more than 64 bits, another type) goes the usual way."""
    import orjson

    try:
        data = orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
    except orjson.JSONEncodeError:
        emit_json(value)
        return
    encoding = getattr(sys.stdout, "encoding", None) or ""
    if encoding.lower().replace("-", "").replace("_", "") == "utf8":
        click.echo(data, nl=False)  # the bytes as they are, as json's text would be encoded
    else:
        click.echo(data.decode(), nl=False)  # in the stream's own encoding, as before


@contextmanager
def no_collection() -> Iterator[None]:
    """The cyclic garbage collector paused, for the short, bounded start of a read-only command
    (``task list``): importing SQLAlchemy and reading 10,000 rows make hundreds of thousands of
    objects, almost none of them garbage in a cycle, and each time they cross its threshold the
    collector walks every object of the process for nothing: a sixth of the command's time.
    Collection resumes afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
