"""``tsk org``: the organisation (municipality) as loaded and checked."""

from __future__ import annotations

import click

from tsk_workflow.cli import views
from tsk_workflow.cli.context import TskGroup, emit_json, json_option, settings


@click.group(cls=TskGroup)
def org() -> None:
    """The organisation: people, roles, groups, towns."""


@org.command()
@json_option
@click.pass_context
def show(ctx: click.Context, as_json: bool) -> None:
    """People, roles, groups, towns and areas of the organisation (--org)."""
    from tsk_workflow.catalog import load_organisation

    organisation = load_organisation(settings(ctx).require_org())
    if as_json:
        emit_json(views.organisation_json(organisation))
    else:
        click.echo(views.organisation_text(organisation))
