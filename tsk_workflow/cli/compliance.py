"""``tsk compliance``: where each municipality stands against Lag (2023:196); through the
service (``TSK_URL``), the signed-in person's municipality, for whom may see it."""

from __future__ import annotations

from typing import Any

import click

from tsk_workflow.cli import runtime
from tsk_workflow.cli.context import emit_json, json_option, settings
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
    if settings(ctx).url:
        from tsk_workflow.cli import remote

        found = [remote.compliance(ctx)]
    else:
        from tsk_workflow.engine.compliance import compliance as standing

        found = [standing(engine).to_dict() for engine in runtime.engines(ctx).values()]
    if as_json:
        emit_json(found if len(found) > 1 else found[0])
        return
    echo_views(found)


def echo_views(found: list[dict[str, Any]]) -> None:
    """The views as ``tsk compliance`` prints them, from their JSON (``Compliance.to_dict``):
    the same on a database and through the service."""
    for index, view in enumerate(found):
        if index:
            click.echo()
        click.echo(
            _("{name}, {date}: {level}").format(
                name=view["name"], date=view["date"], level=level_word(view["level"])
            )
        )
        for item in view["items"]:
            level = item["level"]
            click.echo(f"  {MARKS[level]} {level_word(level).upper():6} {item['title']}")
            click.echo(f"      {item['reason']}")
            click.echo("      " + _("Basis: {law}").format(law=item["law"]))
            if item["setting"]:
                click.echo(f"      {item['setting']}")
