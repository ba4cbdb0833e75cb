"""The ``tsk`` command line: thin commands that parse, call the service layer and print.

Sub-commands are imported only when they are run, and the top-level help (``tsk``, ``tsk
--help``, ``tsk -h``) is printed without importing click at all (``cli/quickhelp.py``), so
``tsk --help`` and every command start fast. The click group is ``cli`` in ``cli/app.py``; it is
also reachable here as ``tsk_workflow.cli.cli``.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # as typing.TYPE_CHECKING (mypy knows the name), without importing typing
if TYPE_CHECKING:
    from typing import Any

    from tsk_workflow.cli.app import COMMANDS as COMMANDS
    from tsk_workflow.cli.app import LazyGroup as LazyGroup
    from tsk_workflow.cli.app import cli as cli
else:

    def __getattr__(name: str) -> Any:
        """``cli``, ``LazyGroup``, ``COMMANDS`` from ``cli/app.py``, imported (with click) only
        when asked for: importing this package for ``main`` must not import click."""
        if name in {"cli", "LazyGroup", "COMMANDS"}:
            from tsk_workflow.cli import app

            return getattr(app, name)
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: list[str] | None = None) -> Any:
    """The console script. An unexpected error is one line on stderr and exit 1, never a
    traceback, unless TSK_DEBUG=1 asks for one."""
    from tsk_workflow.cli.quickhelp import quick_help

    args = argv if argv is not None else sys.argv[1:]
    try:
        code = quick_help(args)
        if code is not None:
            sys.exit(code)  # as click's standalone mode ends
        from tsk_workflow.cli.app import cli

        return cli.main(args=args, prog_name="tsk")
    except Exception as exc:  # noqa: BLE001 - the last line of defence for people
        if os.environ.get("TSK_DEBUG") == "1":
            raise
        import click

        from tsk_workflow import i18n

        with i18n.speaking(i18n.language_from_argv(list(args))):
            found = i18n._("tsk: internal error ({kind}): {error}")
            click.echo(found.format(kind=type(exc).__name__, error=exc), err=True)
            click.echo(
                i18n._("tsk: run again with TSK_DEBUG=1 for details, and report it"), err=True
            )
        return 1
