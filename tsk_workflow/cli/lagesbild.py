"""``tsk lagesbild``: the compiled lägesbild of a cycle, from its reports (and crime statistics)."""

from __future__ import annotations

from pathlib import Path

import click

from tsk_workflow import i18n
from tsk_workflow.cli import runtime
from tsk_workflow.cli.context import emit_json, force_option, json_option, settings
from tsk_workflow.i18n import N_, _


@click.command(
    help=N_(
        "The lägesbild of CYCLE (ID or reference such as est-2027-03): counts by category and by"
        " town against the months before, a chart of twelve months, the reporters' descriptions"
        " and suggestions by category, and who reported (per department; names only if the"
        " organisation allows it)."
    )
)
@click.argument("cycle_ref", metavar="CYCLE")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "html"]),
    help=N_("Markdown or HTML (default: html for an --out file ending in .html, else md)"),
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    metavar="FILE",
    help=N_("Write the lägesbild to FILE instead of printing it"),
)
@click.option(
    "--stats",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="CSV",
    help=N_("Crime statistics: columns month (YYYY-MM), area, category, count"),
)
@click.option(
    "--lang", type=click.Choice(["sv", "en"]), help=N_("Language (default: the global --lang)")
)
@force_option
@json_option
@click.pass_context
def lagesbild(
    ctx: click.Context,
    cycle_ref: str,
    fmt: str | None,
    out: Path | None,
    stats: Path | None,
    lang: str | None,
    force: bool,
    as_json: bool,
) -> None:
    lang = lang or settings(ctx).lang
    with i18n.speaking(lang):
        _lagesbild(ctx, cycle_ref, fmt, out, stats, lang, force, as_json)


def _lagesbild(
    ctx: click.Context,
    cycle_ref: str,
    fmt: str | None,
    out: Path | None,
    stats: Path | None,
    lang: str,
    force: bool,
    as_json: bool,
) -> None:
    from tsk_workflow.files import check_target, write
    from tsk_workflow.lagesbild.produce import file_name, lagesbild_of, require_reports
    from tsk_workflow.lagesbild.render import render
    from tsk_workflow.lagesbild.stats import StatsError, read_stats

    fmt = fmt or ("html" if out is not None and out.suffix.lower() in {".html", ".htm"} else "md")
    rows = None
    if stats is not None:
        try:
            rows = read_stats(stats)
        except StatsError as exc:
            for problem in exc.problems:
                click.echo(f"tsk: {problem}", err=True)
            ctx.exit(1)
    if out is not None:
        check_target(out, force=force)
    if settings(ctx).url:
        from tsk_workflow.cli import remote

        remote.lagesbild(ctx, cycle_ref, fmt=fmt, out=out, stats=stats, lang=lang, as_json=as_json)
        return
    engine = runtime.engine(ctx)
    with engine.store.reading() as session:
        cycle = engine.find_cycle(session, cycle_ref)
        definition = engine.definition_for(session, cycle.process, cycle.process_digest)
        require_reports(definition, cycle)
        figures = lagesbild_of(
            session,
            engine.org,
            definition,
            cycle,
            lang=lang,
            now=engine.clock(),
            statistics=rows,
            statistics_source=stats.name if stats is not None else None,
        )
        suggested = file_name(cycle, fmt)
    text = render(figures, fmt)
    if out is not None:
        write(out, text.encode("utf-8"))
    if as_json:
        emit_json(
            {"file": str(out) if out else None, "format": fmt, "suggested_name": suggested}
            | figures.to_dict()
        )
    elif out is not None:
        size = len(text.encode("utf-8"))
        click.echo(
            _("The situation report of {cycle} is written to {file} ({format}, {size} B)").format(
                cycle=figures.cycle_ref, file=out, format=fmt, size=size
            )
        )
    else:
        click.echo(text, nl=False)
