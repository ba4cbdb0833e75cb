"""The people's commands through the service (``TSK_URL``, ``cli/client.py``): the same
options, and the same output as on a database, from the API's JSON (the rows of
``tsk_workflow.rows``, which both print).

What differs: the person is the one signed in (``--as`` is refused); what they may read is what
the service lets them read (everyone's tasks need ``read_all_tasks``, the audit trail
``read_audit``); titles are as stored (Swedish) in every language; wrong answers to a form are
named by question, not by line of the answers file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import click

from tsk_workflow.cli import client, views
from tsk_workflow.cli.context import emit_json, emit_plain_json, settings
from tsk_workflow.errors import Refused, TskError
from tsk_workflow.i18n import _, ngettext


def service(ctx: click.Context, lang: str | None = None) -> client.Service:
    """The service of ``TSK_URL`` with the person's token, speaking ``lang`` (the command's
    ``--lang``)."""
    given = settings(ctx)
    assert given.url is not None
    return client.connect(given.url, given.actor, lang or given.lang)


def _part(value: str | int) -> str:
    """``value`` as one segment of a path."""
    return quote(str(value), safe="")


# ---------------------------------------------------------------- tasks


def task_list(
    ctx: click.Context, *, mine: bool, overdue: bool, everything: bool, as_json: bool
) -> None:
    with service(ctx) as api:
        rows = api.get("/api/v1/tasks", {"mine": mine, "overdue": overdue, "all": everything})
    if as_json:
        emit_plain_json(rows)
        return
    lang = settings(ctx).lang
    for row in rows:
        click.echo(views.task_line(row, lang))
    if not rows:
        click.echo(_("No tasks."))


def task_done(
    ctx: click.Context,
    task_id: int,
    *,
    note: str | None,
    answers_file: Path | None,
    pairs: tuple[str, ...],
    nothing_to_report: bool,
    as_json: bool,
) -> None:
    from tsk_workflow import forms

    given: dict[str, Any] | None = None
    if answers_file is not None or pairs:
        document = None
        given = {}
        if answers_file is not None:
            document = forms.read_answers_file(answers_file)
            given.update(document.data)
        from_pairs, problems = forms.parse_pairs(pairs)
        given.update(from_pairs)
        if problems:
            for line in forms.located(problems, document):
                click.echo(f"tsk: {line}", err=True)
            ctx.exit(1)
    body = {"note": note, "answers": given, "nothing_to_report": nothing_to_report}
    with service(ctx) as api:
        row = api.post(f"/api/v1/tasks/{task_id}/done", body)
    if as_json:
        emit_json(row)
    else:
        click.echo(views.task_line(row, settings(ctx).lang))


def task_form(
    ctx: click.Context,
    task_id: int,
    *,
    lang: str,
    template: Path | None,
    force: bool,
    as_json: bool,
) -> None:
    from tsk_workflow import forms

    with service(ctx, lang) as api:
        found = api.get(f"/api/v1/tasks/{task_id}")
    form = found.get("form")
    if form is None:
        raise Refused(_("task {id} ({key}) has no form").format(id=task_id, key=found["key"]))
    heading = _("{title} – {cycle}, task {id}").format(
        title=found["title"], cycle=found["cycle_ref"], id=task_id
    )
    if template is not None:
        text = forms.json_template_yaml(form, lang, task_id, heading)
        views.write_form_template(template, text, task_id, force=force, as_json=as_json)
        return
    answers = found.get("answers")
    if as_json:
        emit_json({"task": task_id, "cycle_ref": found["cycle_ref"], "answers": answers} | form)
        return
    click.echo(heading)
    click.echo(forms.json_form_text(form, lang, task_id, answers))


# ---------------------------------------------------------------- cycles

SHOWN = ("documents", "possible")
"""What the API's cycle has beside what ``cycle show --json`` prints."""


def _cycle(data: dict[str, Any], ctx: click.Context, as_json: bool) -> None:
    data = {key: value for key, value in data.items() if key not in SHOWN}
    if as_json:
        emit_json(data)
    else:
        click.echo(views.cycle_text(data, settings(ctx).lang))


def cycle_list(ctx: click.Context, *, only_open: bool, process: str | None, as_json: bool) -> None:
    params: dict[str, Any] = {"open": only_open}
    if process:
        params["process"] = process
    with service(ctx) as api:
        rows = api.get("/api/v1/cycles", params)
    views.show_cycles(rows, as_json)


def cycle_show(ctx: click.Context, ref: str, *, as_json: bool) -> None:
    with service(ctx) as api:
        _cycle(api.get(f"/api/v1/cycles/{_part(ref)}"), ctx, as_json)


def cycle_open(
    ctx: click.Context,
    process: str,
    *,
    period: str | None,
    subject: str | None,
    group: str | None,
    as_json: bool,
) -> None:
    body = {"process": process, "period": period, "subject": subject, "group": group}
    with service(ctx) as api:
        _cycle(api.post("/api/v1/cycles", body), ctx, as_json)


def cycle_advance(
    ctx: click.Context, ref: str, trigger: str, *, note: str | None, as_json: bool
) -> None:
    body = {"trigger": trigger, "note": note}
    with service(ctx) as api:
        _cycle(api.post(f"/api/v1/cycles/{_part(ref)}/advance", body), ctx, as_json)


def cycle_close(
    ctx: click.Context, ref: str, *, note: str | None, force: bool, as_json: bool
) -> None:
    body = {"note": note, "force": force}
    with service(ctx) as api:
        _cycle(api.post(f"/api/v1/cycles/{_part(ref)}/close", body), ctx, as_json)


def cycle_next(ctx: click.Context, ref: str, *, as_json: bool) -> None:
    with service(ctx) as api:
        found = api.get(f"/api/v1/cycles/{_part(ref)}")
    stored = client.read_token()
    data = {
        "cycle": found["ref"],
        "status": found["status"],
        "step": found["state"],
        "person": stored.person if stored is not None else None,
        "transitions": found["possible"],
    }
    if as_json:
        emit_json(data)
    else:
        click.echo(views.next_text(data, settings(ctx).lang))


def cycle_documents(ctx: click.Context, ref: str, *, as_json: bool) -> None:
    with service(ctx) as api:
        rows = api.get(f"/api/v1/cycles/{_part(ref)}/documents")
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        click.echo(
            f"{row['id']:>4} {row['step']:<24} {row['kind']:<26} {row['filename']} ({row['size']} B, {row['attached_by']}) sha256 {row['sha256'][:16]}…"
        )
    if not rows:
        click.echo(_("No documents."))


def cycle_attach(ctx: click.Context, ref: str, file: Path, *, kind: str, as_json: bool) -> None:
    with service(ctx) as api:
        row = api.post_file(
            f"/api/v1/cycles/{_part(ref)}/documents", file.name, file.read_bytes(), {"kind": kind}
        )
    if as_json:
        emit_json(row)
    else:
        click.echo(
            f"{row['id']:>4} {row['kind']:<26} {row['filename']} sha256 {row['sha256'][:16]}…"
        )


# ---------------------------------------------------------------- decisions


def decision_list(ctx: click.Context, *, as_json: bool) -> None:
    with service(ctx) as api:
        rows = api.get("/api/v1/decisions")
    views.show_decisions(rows, as_json)


def decision_propose(
    ctx: click.Context,
    cycle_ref: str,
    *,
    title: str,
    cost: float | None,
    attrs: dict[str, str],
    as_json: bool,
) -> None:
    body = {"cycle": cycle_ref, "title": title, "cost": cost, "attrs": attrs}
    with service(ctx) as api:
        made = api.post("/api/v1/decisions", body)
    reason = made.pop("route_reason", made["reason"])  # in the language asked for
    if as_json:
        emit_json(made)
        return
    routed = str(made["routed_to"]).upper()
    click.echo(_("Decision {id}: {title}").format(id=made["id"], title=made["title"]))
    click.echo(
        "  "
        + _("to {body} by the rule '{rule}': {reason}").format(
            body=routed, rule=made["rule"], reason=reason
        )
    )
    if made["agenda_date"]:
        click.echo(
            "  " + _("on the agenda of {body} {date}").format(body=routed, date=made["agenda_date"])
        )


def decision_record(
    ctx: click.Context,
    decision_id: int,
    *,
    body: str,
    date: dt.date,
    paragraph: str,
    outcome: str,
    override_reason: str | None,
    text: str | None = None,
    extra_meeting: bool = False,
    as_json: bool,
) -> None:
    sent = {
        "body": body,
        "date": date.isoformat(),
        "paragraph": paragraph,
        "outcome": outcome,
        "override_reason": override_reason,
        "text": text,
        "extra_meeting": extra_meeting,
    }
    with service(ctx) as api:
        row = api.post(f"/api/v1/decisions/{decision_id}/record", sent)
    if as_json:
        emit_json(row)
    else:
        click.echo(views.decision_line(row))


# ---------------------------------------------------------------- the audit trail


def audit_list(
    ctx: click.Context,
    *,
    cycle_ref: str | None,
    actor: str | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
    refused: bool,
    as_json: bool,
    as_csv: bool,
) -> None:
    import json

    from tsk_workflow.calendar import STOCKHOLM

    params: dict[str, Any] = {}
    if actor:
        params["actor"] = actor
    with service(ctx) as api:
        if refused:
            rows = api.get("/api/v1/audit/refused", params)
        else:
            if cycle_ref:
                params["cycle"] = cycle_ref
            for name, value in (("since", since), ("until", until)):
                if value is not None:
                    params[name] = value.replace(tzinfo=STOCKHOLM).isoformat()
            rows = api.get("/api/v1/audit", params)
    if refused:
        if as_json:
            emit_json(rows)
            return
        for row in rows:
            when = _stockholm(row["at"])
            click.echo(
                f"{row['id']:>5} {when} {row['actor']:<18} {row['action']:<20} {row['subject']}: {row['reason']}"
            )
        return
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
    elif as_csv:
        from tsk_workflow.audit import records_to_csv

        click.echo(records_to_csv(rows), nl=False)
    else:
        for row in rows:
            role = views.role_label(row["role"])
            click.echo(
                f"{row['seq']:>6} {_stockholm(row['at'])} {row['actor']:<18} {role:<16} {row['action']:<20} {row['subject']} {views.brief(row['payload'])}"
            )


def _stockholm(iso: str) -> str:
    from tsk_workflow.calendar import STOCKHOLM

    return dt.datetime.fromisoformat(iso).astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M")


# ---------------------------------------------------------------- the year plan


def plan(
    ctx: click.Context,
    year: int,
    *,
    roles: tuple[str, ...],
    kinds: tuple[str, ...],
    ics_path: Path | None,
    lang: str,
    as_json: bool,
) -> None:
    from tsk_workflow.calendar import month_name
    from tsk_workflow.engine.plan import json_line

    params: dict[str, Any] = {"role": list(roles), "kind": list(kinds)}
    with service(ctx, lang) as api:
        items = api.get(f"/api/v1/plan/{year}", params)
        if ics_path is not None:
            content = api.get_bytes(f"/api/v1/plan/{year}/ics", params)
            from tsk_workflow.files import write

            write(ics_path, content)
        name = "" if as_json else api.get("/api/v1/me")["organisation"]
    if as_json:
        emit_json(items)
        return
    header = _("{name} – plan for {year}").format(name=name, year=year)
    count = ngettext("{n} item", "{n} items", len(items)).format(n=len(items))
    click.echo(f"{header} ({count})")
    month = 0
    for item in items:
        day = dt.date.fromisoformat(item["date"])
        if day.month != month:
            month = day.month
            click.echo(f"\n{month_name(month, lang).capitalize()}")
        click.echo("  " + json_line(item, lang))
    if ics_path is not None:
        wrote = ngettext(
            "Wrote {n} event to {file}", "Wrote {n} events to {file}", len(items)
        ).format(n=len(items), file=ics_path)
        click.echo(f"\n{wrote}")


# ---------------------------------------------------------------- the lägesbild


def lagesbild(
    ctx: click.Context,
    cycle_ref: str,
    *,
    fmt: str,
    out: Path | None,
    stats: Path | None,
    lang: str,
    as_json: bool,
) -> None:
    if stats is not None:
        raise TskError(
            _(
                "--stats is not sent to the service: the lägesbild through the service has no"
                " crime statistics (give --db to compile it on a database)"
            )
        )
    path = f"/api/v1/cycles/{_part(cycle_ref)}/lagesbild"
    with service(ctx, lang) as api:
        figures = api.get(path, {"format": "json"}) if as_json or out is not None else None
        text = api.get_bytes(path, {"format": fmt}).decode("utf-8")
    if out is not None:
        from tsk_workflow.files import write

        write(out, text.encode("utf-8"))
    if as_json:
        assert figures is not None
        suggested = f"lagesbild-{figures['cycle_ref']}.{fmt}"
        emit_json(
            {"file": str(out) if out else None, "format": fmt, "suggested_name": suggested}
            | figures
        )
    elif out is not None:
        assert figures is not None
        size = len(text.encode("utf-8"))
        click.echo(
            _("The situation report of {cycle} is written to {file} ({format}, {size} B)").format(
                cycle=figures["cycle_ref"], file=out, format=fmt, size=size
            )
        )
    else:
        click.echo(text, nl=False)


# ---------------------------------------------------------------- the action register

ACTION_NAMES = ("owner_name", "category_label", "town_name")
"""What the API's action has beside what ``action show --json`` prints: the names of its
keys, for the lines the commands print."""


def action_add(ctx: click.Context, given: dict[str, Any], *, as_json: bool) -> None:
    with _one_line(), service(ctx) as api:
        made = api.post("/api/v1/actions", given)
    _action_done(made, _("Action {id} added."), as_json)


def action_update(
    ctx: click.Context, action_id: int, given: dict[str, Any], *, as_json: bool
) -> None:
    with _one_line(), service(ctx) as api:
        made = api.patch(f"/api/v1/actions/{action_id}", given)
    _action_done(made, _("Action {id} changed."), as_json)


def action_followup(
    ctx: click.Context,
    action_id: int,
    *,
    status: str | None,
    state: str | None,
    note: str | None,
    as_json: bool,
) -> None:
    body = {"status": status, "state": state, "note": note}
    with _one_line(), service(ctx) as api:
        made = api.post(f"/api/v1/actions/{action_id}/followups", body)
    _action_done(made, _("Action {id} followed up."), as_json)


def action_list(
    ctx: click.Context,
    *,
    state: str,
    owner: str | None,
    mine: bool,
    cycle: str | None,
    status: str | None,
    overdue: bool,
    as_json: bool,
    promise: str | None = None,
) -> None:
    from tsk_workflow.cli.action_views import line_of

    params: dict[str, Any] = {"state": state, "mine": mine, "overdue": overdue}
    given = (("owner", owner), ("cycle", cycle), ("status", status), ("promise", promise))
    params |= {k: v for k, v in given if v}
    with service(ctx) as api:
        rows = api.get("/api/v1/actions", params)
    if as_json:
        emit_json([_action_json(row) for row in rows])
        return
    for row in rows:
        click.echo(line_of(action_view(row), row["owner_name"]))
    if not rows:
        click.echo(_("No actions."))


def action_show(ctx: click.Context, action_id: int, *, as_json: bool) -> None:
    from tsk_workflow.calendar import STOCKHOLM
    from tsk_workflow.cli.action_views import effect_lines, lines_of

    with service(ctx) as api:
        row = api.get(f"/api/v1/actions/{action_id}")
    if as_json:
        emit_json(_action_json(row))
        return
    lines = lines_of(
        action_view(row),
        owner_name=row["owner_name"],
        category=row["category_label"],
        town=row["town_name"],
        zone=STOCKHOLM,
    )
    for line in lines + effect_lines(effect_view(row["effect"])):
        click.echo(line)


def effect_view(found: dict[str, Any]) -> Any:
    """The API's effect of an action as ``effect_lines`` reads it: the judgement as the service
    said it (in the language asked for), the windows' days, the survey's comparison as the
    service said it."""
    from types import SimpleNamespace

    def window(part: dict[str, Any] | None) -> Any:
        if part is None:
            return None
        return SimpleNamespace(
            first=dt.date.fromisoformat(part["first"]),
            last=dt.date.fromisoformat(part["last"]) if part["last"] else None,
        )

    survey = found["survey"]
    return SimpleNamespace(
        window_days=found["window_days"],
        judgement=found["judgement"],
        before=window(found["before"]),
        after=window(found["after"]),
        after_ends=dt.date.fromisoformat(found["after_ends"]) + dt.timedelta(days=1)
        if found["after_ends"]
        else None,
        end_from=found["end_from"],
        survey=SimpleNamespace(line=lambda: survey["judgement"]) if survey else None,
    )


def action_view(row: dict[str, Any]) -> Any:
    """The API's action as the engine's ``ActionView``, for the lines the commands print."""
    from tsk_workflow.engine.actions import ActionView, FollowUp

    def day(text: str | None) -> dt.date | None:
        return dt.date.fromisoformat(text) if text else None

    point = (row["latitude"], row["longitude"]) if row["latitude"] is not None else None
    followups = tuple(
        FollowUp(dt.datetime.fromisoformat(f["at"]), f["by"], f["status"], f["state"], f["note"])
        for f in row["followups"]
    )
    fields = {
        name: row[name]
        for name in ActionView.__dataclass_fields__
        if name in row and name not in ("start", "due", "done_on", "followups")
    }
    return ActionView(
        **fields
        | {
            "start": day(row["start"]),
            "due": day(row["due"]),
            "done_on": day(row["done_on"]),
            "point": point,
            "created_at": dt.datetime.fromisoformat(row["created_at"]),
            "updated_at": dt.datetime.fromisoformat(row["updated_at"]),
            "followups": followups,
        }
    )


def _action_done(made: dict[str, Any], said: str, as_json: bool) -> None:
    from tsk_workflow.cli.action_views import line_of

    if as_json:
        emit_json(_action_json(made))
        return
    click.echo(said.format(id=made["id"]))
    click.echo("  " + line_of(action_view(made), made["owner_name"]))


def _action_json(row: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in row.items() if key not in ACTION_NAMES}


@contextmanager
def _one_line() -> Iterator[None]:
    """A refused action in one line, as on a database: the service's detail names every
    field wrong already, so its list of them is not printed again."""
    try:
        yield
    except TskError as exc:
        if getattr(exc, "problems", None):
            exc.problems = None  # type: ignore[attr-defined]
        raise


# ---------------------------------------------------------------- compliance


def report_file(ctx: click.Context, report_path: str, fmt: str) -> bytes:
    """A report as the service makes it (``tsk report``): ``report_path`` is ``yearly/2027``,
    ``tjansteskrivelse/12`` or ``lagesbild/est-2027-03``."""
    kind, _slash, key = report_path.partition("/")
    with service(ctx) as api:
        return api.get_bytes(f"/api/v1/reports/{kind}/{_part(key)}", {"format": fmt})


def compliance(ctx: click.Context) -> dict[str, Any]:
    """The view of ``tsk compliance`` of the person's municipality, as ``--json`` prints it on
    a database (``cli/compliance.py`` prints it)."""
    with service(ctx) as api:
        view: dict[str, Any] = api.get("/api/v1/compliance")
    return view
