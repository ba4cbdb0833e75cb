"""``tsk compliance``: where each municipality stands against Lag (2023:196)."""

from __future__ import annotations

import click

from tsk_workflow.cli import runtime
from tsk_workflow.cli.context import emit_json, json_option
from tsk_workflow.i18n import N_, _

MARKS = {"green": "●", "yellow": "▲", "red": "■"}
"""A mark beside each level's word (the word says it; the mark helps the eye)."""


def level_word(level: str) -> str:
    return {"green": _("green"), "yellow": _("yellow"), "red": _("red")}.get(level, level)


@click.command(
    help=N_(
        "What Lag (2023:196) asks, and where the municipality stands: the lägesbild, the"
        " decided åtgärdsplan, the samordningsfunktion, the follow-up, the overdue actions."
    )
)
@json_option
@click.pass_context
def compliance(ctx: click.Context, as_json: bool) -> None:
    from tsk_workflow.engine.compliance import compliance as standing

    found = [standing(engine) for engine in runtime.engines(ctx).values()]
    if as_json:
        emit_json([c.to_dict() for c in found] if len(found) > 1 else found[0].to_dict())
        return
    for index, view in enumerate(found):
        if index:
            click.echo()
        click.echo(
            _("{name}, {date}: {level}").format(
                name=view.name, date=view.day.isoformat(), level=level_word(view.level)
            )
        )
        for item in view.items:
            click.echo(f"  {MARKS[item.level]} {level_word(item.level).upper():6} {item.title}")
            click.echo(f"      {item.reason}")
            click.echo("      " + _("Basis: {law}").format(law=item.law))
            if item.setting:
                click.echo(f"      {item.setting}")
