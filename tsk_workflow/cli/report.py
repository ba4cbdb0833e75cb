"""``tsk report``: the reports that go to KS and KF, made from the record (DOCX or PDF).

On a database the command is the operator's, as ``tsk compliance`` is. The file is written
whole or not at all (a temporary file beside it, then renamed)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from tsk_workflow.cli import runtime
from tsk_workflow.cli.context import force_option, settings
from tsk_workflow.files import check_target, write
from tsk_workflow.i18n import N_, _

FORMAT = click.Choice(["docx", "pdf"])
TEMPLATE = click.option(
    "--template",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help=N_("The municipality's own Word template (.docx), for --format docx"),
)
FORCE = force_option

F = TypeVar("F", bound=Callable[..., Any])


def output(default_format: str, out_help: str) -> Callable[[F], F]:
    """The options of where a report goes: ``--format`` (``default_format``), ``--out``
    (``out_help`` says its default), ``--template`` and ``--force``."""

    def decorate(command: F) -> F:
        for option in (
            FORCE,
            TEMPLATE,
            click.option("--out", type=click.Path(path_type=Path), help=out_help),
            click.option("--format", "fmt", type=FORMAT, default=default_format, show_default=True),
        ):
            command = option(command)
        return command

    return decorate


@click.group(help=N_("Reports to KS and KF, made from the record: DOCX or PDF."))
def report() -> None:
    pass


@report.command(
    help=N_(
        "The yearly report to KF: the cycles held, the lägesbilder and their trends, the"
        " actions with status and effect, the decisions, the law's requirements at year end"
        " and what is planned for the year after."
    )
)
@click.argument("year", type=click.IntRange(2000, 2100))
@output("docx", N_("The file to write (default: arsrapport-YEAR.FORMAT)"))
@click.pass_context
def yearly(
    ctx: click.Context,
    year: int,
    fmt: str,
    out: Path | None,
    template: Path | None,
    force: bool,
) -> None:
    from tsk_workflow.reports.yearly import yearly as build

    target = out or Path(f"arsrapport-{year}.{fmt}")
    _check(target, force, fmt, template)
    if settings(ctx).url:
        _through_service(ctx, f"yearly/{year}", fmt, target, template)
        return
    engine = runtime.engine(ctx)
    made = build(engine, year, settings(ctx).lang)
    deliver(target, made, fmt, template)


@report.command(
    help=N_(
        "The tjänsteskrivelse of DECISION for the body it is routed to: the matter and the"
        " cycle it comes from, the proposed decision and its cost, the route and its reason,"
        " the agenda date, the cycle's documents as beslutsunderlag, and who proposed it; a"
        " decision already recorded says what was decided."
    )
)
@click.argument("decision_id", metavar="DECISION", type=int)
@output("docx", N_("The file to write (default: tjansteskrivelse-DECISION.FORMAT)"))
@click.pass_context
def tjansteskrivelse(
    ctx: click.Context,
    decision_id: int,
    fmt: str,
    out: Path | None,
    template: Path | None,
    force: bool,
) -> None:
    from tsk_workflow.reports.tjansteskrivelse import tjansteskrivelse as build

    target = out or Path(f"tjansteskrivelse-{decision_id}.{fmt}")
    _check(target, force, fmt, template)
    if settings(ctx).url:
        _through_service(ctx, f"tjansteskrivelse/{decision_id}", fmt, target, template)
        return
    made = build(runtime.engine(ctx), decision_id, settings(ctx).lang)
    deliver(target, made, fmt, template)


@report.command(
    help=N_(
        "The lägesbild of CYCLE (ID or reference such as est-2027-03) for print: the counts"
        " by category and by town, the chart of twelve months, the map of the month's marked"
        " incidents, the reporters' descriptions and who reported."
    )
)
@click.argument("cycle_ref", metavar="CYCLE")
@output("pdf", N_("The file to write (default: lagesbild-CYCLE.FORMAT)"))
@click.pass_context
def lagesbild(
    ctx: click.Context,
    cycle_ref: str,
    fmt: str,
    out: Path | None,
    template: Path | None,
    force: bool,
) -> None:
    from tsk_workflow.reports.lagesbild import lagesbild_report

    target = out or Path(f"lagesbild-{cycle_ref}.{fmt}")
    _check(target, force, fmt, template)
    if settings(ctx).url:
        _through_service(ctx, f"lagesbild/{cycle_ref}", fmt, target, template)
        return
    made = lagesbild_report(runtime.engine(ctx), cycle_ref, settings(ctx).lang)
    deliver(target, made, fmt, template)


def _through_service(
    ctx: click.Context, report_path: str, fmt: str, target: Path, template: Path | None
) -> None:
    """The report as the service makes it (``TSK_URL``), written to ``target``."""
    from tsk_workflow.cli import remote

    if template is not None:
        raise click.UsageError(_("--template works on a database, not through the service"))
    write(target, remote.report_file(ctx, report_path, fmt))
    click.echo(str(target))


def _check(target: Path, force: bool, fmt: str, template: Path | None) -> None:
    """Refuse, before anything is read: a ``template`` with a format other than docx, or one
    that is not a Word document; a ``target`` that ``files.check_target`` refuses."""
    if template is not None:
        if fmt != "docx":
            raise click.UsageError(_("--template is for --format docx"))
        from tsk_workflow.reports.docx_file import check_template

        check_template(template)
    check_target(target, force=force)


def deliver(target: Path, made: object, fmt: str, template: Path | None) -> None:
    """``made`` written to ``target`` as ``fmt``, and the line that says so."""
    from tsk_workflow.reports.model import Report

    assert isinstance(made, Report)
    write(target, render(made, fmt, template))
    click.echo(_("{file}: {title}").format(file=target, title=made.title))


def render(made: object, fmt: str, template: Path | None) -> bytes:
    from tsk_workflow.reports.model import Report

    assert isinstance(made, Report)
    if fmt == "pdf":
        from tsk_workflow.reports.pdf_file import pdf_file

        return pdf_file(made)
    from tsk_workflow.reports.docx_file import docx_file

    return docx_file(made, template)
