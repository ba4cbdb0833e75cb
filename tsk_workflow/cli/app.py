"""The ``tsk`` click group: the global options and the sub-commands, each in a module imported
only when it is run.

``tsk_workflow.cli.main`` imports this module only when it needs click: the top-level help is
printed without it (``cli/quickhelp.py``).
"""

from __future__ import annotations

import importlib

import click

from tsk_workflow.cli.context import Settings, TskGroup

COMMANDS = {
    "process": (
        "tsk_workflow.cli.process",
        "process",
        "Process definitions: list, show, validate, draw",
    ),
    "org": ("tsk_workflow.cli.org", "org", "The organisation: people, roles, groups, towns"),
    "init": (
        "tsk_workflow.cli.init",
        "init",
        "Create or upgrade the database, load the organisation",
    ),
    "cycle": ("tsk_workflow.cli.cycle", "cycle", "Cycles: open, list, show, next, advance, close"),
    "task": ("tsk_workflow.cli.task", "task", "Tasks: list, done"),
    "decision": ("tsk_workflow.cli.decision", "decision", "Decisions: propose, record, list"),
    "audit": ("tsk_workflow.cli.audit", "audit", "The audit trail: show, export, verify"),
    "mail": ("tsk_workflow.cli.mail", "mail", "Mail: test, send, status, retry"),
    "plan": (
        "tsk_workflow.cli.plan",
        "plan",
        "The year: openings, meetings, deadlines, reminders, reports",
    ),
    "run": ("tsk_workflow.cli.run", "run", "The scheduler as a long-running service"),
    "demo": (
        "tsk_workflow.cli.demo",
        "demo",
        "A municipality's whole year, end to end, on local defaults",
    ),
    "backup": ("tsk_workflow.cli.backup", "backup", "A consistent copy of a SQLite database"),
    "tick": ("tsk_workflow.cli.tick", "tick", "One scheduler pass (cron, systemd timer)"),
    "lagesbild": ("tsk_workflow.cli.lagesbild", "lagesbild", "The compiled lägesbild of a cycle"),
    "gdpr": ("tsk_workflow.cli.gdpr", "gdpr", "Personal data: purge free text after retention"),
}


class LazyGroup(TskGroup):
    """A group whose sub-commands live in modules imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, attr, _help = COMMANDS[cmd_name]
        command: click.Command = getattr(importlib.import_module(module), attr)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    envvar="TSK_DATABASE_URL",
    metavar="URL",
    help="Database URL or SQLite file [TSK_DATABASE_URL]",
)
@click.option(
    "--org",
    envvar="TSK_ORG",
    metavar="FILE|NAME",
    help="Organisation file or shipped municipality [TSK_ORG]",
)
@click.option("--as", "actor", envvar="TSK_USER", metavar="PERSON", help="Who is acting [TSK_USER]")
@click.option(
    "--lang", type=click.Choice(["sv", "en"]), envvar="TSK_LANG", default="sv", show_default=True
)
@click.version_option(package_name="tsk-workflow")
@click.pass_context
def cli(ctx: click.Context, db: str | None, org: str | None, actor: str | None, lang: str) -> None:
    """tsk-workflow: the safety and crime-prevention work of a Swedish municipality."""
    ctx.obj = Settings(db=db, org=org, actor=actor, lang=lang)
