"""The ``tsk`` click group: the global options and the sub-commands, each in a module imported
only when it is run.

``tsk_workflow.cli.main`` imports this module only when it needs click: the top-level help is
printed without it (``cli/quickhelp.py``).
"""

from __future__ import annotations

import contextvars
import importlib
import sys
from typing import Any

import click

from tsk_workflow import i18n
from tsk_workflow.cli.context import Settings, TskGroup, show_error
from tsk_workflow.cli.translate import speak_click, translate_help
from tsk_workflow.i18n import N_, _

speak_click()

COMMANDS = {
    "process": ("tsk_workflow.cli.process", "process", N_("Processes")),
    "org": ("tsk_workflow.cli.org", "org", N_("The organisation")),
    "init": (
        "tsk_workflow.cli.init",
        "init",
        N_("Create or upgrade the database, load the organisation"),
    ),
    "cycle": ("tsk_workflow.cli.cycle", "cycle", N_("Cycles")),
    "task": ("tsk_workflow.cli.task", "task", N_("Tasks")),
    "decision": ("tsk_workflow.cli.decision", "decision", N_("Decisions")),
    "action": (
        "tsk_workflow.cli.action",
        "action",
        N_("Actions"),
    ),
    "compliance": (
        "tsk_workflow.cli.compliance",
        "compliance",
        N_("What Lag (2023:196) asks, and where the municipality stands"),
    ),
    "event": (
        "tsk_workflow.cli.event",
        "event",
        N_("Events reported at any time"),
    ),
    "audit": ("tsk_workflow.cli.audit", "audit", N_("The audit trail (--json, --csv)")),
    "mail": ("tsk_workflow.cli.mail", "mail", N_("Mail")),
    "plan": (
        "tsk_workflow.cli.plan",
        "plan",
        N_("The year: openings, meetings, deadlines, reminders, reports"),
    ),
    "run": ("tsk_workflow.cli.run", "run", N_("The scheduler as a long-running service")),
    "serve": (
        "tsk_workflow.cli.serve",
        "serve",
        N_("The service: the API, sign-in, mail links and the scheduler"),
    ),
    "demo": (
        "tsk_workflow.cli.demo",
        "demo",
        N_("A municipality's whole year, end to end, on local defaults"),
    ),
    "backup": ("tsk_workflow.cli.backup", "backup", N_("A consistent copy of a SQLite database")),
    "tick": ("tsk_workflow.cli.tick", "tick", N_("One scheduler pass (cron, systemd timer)")),
    "login": (
        "tsk_workflow.cli.login",
        "login",
        N_("Sign in to the service (TSK_URL): commands go through it as you"),
    ),
    "logout": (
        "tsk_workflow.cli.login",
        "logout",
        N_("Sign out of the service: the token revoked and removed"),
    ),
    "lagesbild": (
        "tsk_workflow.cli.lagesbild",
        "lagesbild",
        N_("The compiled lägesbild of a cycle"),
    ),
    "gdpr": ("tsk_workflow.cli.gdpr", "gdpr", N_("Personal data")),
    "report": (
        "tsk_workflow.cli.report",
        "report",
        N_("Reports to KS and KF from the record (DOCX, PDF)"),
    ),
}
"""Each command: its module, its name there, and its line in ``tsk --help``. For a group that
line is only what the group is about: :func:`summary` adds its sub-commands, as they are."""


def summary(name: str) -> str:
    """The line of ``tsk --help`` for command ``name``; a group's names its sub-commands in the
    order they are defined (``Cycles: open, list, ...``), so that none can be left out."""
    module, attr, english = COMMANDS[name]
    text = _(english)
    command = getattr(importlib.import_module(module), attr)
    if not isinstance(command, click.Group):
        return text
    names = [key for key, sub in command.commands.items() if not sub.hidden]
    return f"{text}: {', '.join(names)}"


class LazyGroup(TskGroup):
    """A group whose sub-commands live in modules imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, attr, _help = COMMANDS[cmd_name]
        command: click.Command = getattr(importlib.import_module(module), attr)
        return translate_help(command)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        translate_help(self)
        super().format_help(ctx, formatter)

    def main(  # type: ignore[override]
        self,
        args: list[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Click's ``main`` in the language the command line asks for (``--lang``,
        ``TSK_LANG``), chosen before click builds any help, and in a context of its own, so
        that the language does not outlive the command (tests run many in one process)."""
        argv = list(sys.argv[1:] if args is None else args)

        def run() -> Any:
            i18n.use(i18n.language_from_argv(argv))
            return self._main_in_one_style(argv, prog_name, complete_var, standalone_mode, **extra)

        return contextvars.copy_context().run(run)

    def _main_in_one_style(
        self,
        args: list[str],
        prog_name: str | None,
        complete_var: str | None,
        standalone_mode: bool,
        **extra: Any,
    ) -> Any:
        """Click's errors in ``tsk``'s one style: ``tsk: message`` as every refusal, where
        click would print ``Error: message`` (a usage error keeps click's usage line and exit
        2). Ctrl-C is a sentence and exit 130, as the shell counts it."""
        main = super().main
        if not standalone_mode:
            return main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            returned = main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.ClickException as exc:
            show_error(exc)
            sys.exit(exc.exit_code)
        except click.Abort as exc:
            interrupted = isinstance(exc.__cause__, KeyboardInterrupt)
            if interrupted:
                click.echo(_("tsk: interrupted (Ctrl-C)"), err=True)
            else:
                click.echo(_("tsk: aborted"), err=True)
            sys.exit(130 if interrupted else 1)
        # Without standalone mode click returns the code of a ``ctx.exit(code)``, or what the
        # command returned (tsk's commands return nothing).
        sys.exit(returned if isinstance(returned, int) else 0)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, summary(name)) for name in self.list_commands(ctx)]
        with formatter.section(_("Commands")):
            formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    help=N_("tsk-workflow: the safety and crime-prevention work of a Swedish municipality."),
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option(
    "--db",
    envvar="TSK_DATABASE_URL",
    metavar="URL",
    help=N_("Database URL or SQLite file [TSK_DATABASE_URL]"),
)
@click.option(
    "--org",
    envvar="TSK_ORG",
    metavar="FILE|NAME",
    help=N_("Organisation file or shipped municipality [TSK_ORG]"),
)
@click.option(
    "--as", "actor", envvar="TSK_USER", metavar="PERSON", help=N_("Who is acting [TSK_USER]")
)
@click.option(
    "--lang",
    type=click.Choice(["sv", "en"]),
    envvar="TSK_LANG",
    default="sv",
    show_default=True,
    help=N_("Language: Swedish or English [TSK_LANG]"),
)
@click.version_option(package_name="tsk-workflow")
@click.pass_context
def cli(ctx: click.Context, db: str | None, org: str | None, actor: str | None, lang: str) -> None:
    from click.core import ParameterSource

    from tsk_workflow.cli.client import service_url

    typed = ctx.get_parameter_source("db") == ParameterSource.COMMANDLINE
    url = service_url(db, typed)
    ctx.obj = Settings(db=db, org=org, actor=actor, lang=lang, url=url)
