"""Rendering mail templates (Jinja2) from ``notifications/<lang>/``.

An *event* is three templates: ``<event>.subject.txt``, ``<event>.txt`` and ``<event>.html``.
They are looked up first in the municipality's override folder (``override_dir/<lang>/``, where
``override_dir`` has the same layout as the shipped ``notifications/``), then in the shipped
folder; an override may replace any single file, including the shared partials (``_base.html``,
``_macros.html``, ``_footer.txt``). HTML templates are autoescaped, text templates are not, and a
missing variable is an error (StrictUndefined): a template never silently prints nothing.
Every template renders in Jinja2's sandbox (:mod:`tsk_workflow.templating`): one that tries to
reach Python (``cycler.__init__.__globals__``, ``''.__class__``) raises :class:`Held`, naming the
file and line, and the outbox holds its mail back instead of sending it.

Languages are ``sv`` (the default) and ``en``; any other language gives Swedish.

Filters: ``datum`` (2027-03-12), ``langdatum`` (fredag 12 mars 2027, vecka 10; ``week=false``
leaves the week out; English in ``en``), ``klockslag`` (14:00) and ``kronor`` (125 000 kr).
Dates may be ``date``/``datetime`` objects or ISO 8601 strings, shown in their own time zone
(pass them in the municipality's zone).

Context contract. Objects are mappings (dicts) read with dots in the templates; a field marked
"may be empty" must still be present (``""`` or ``None``).

Every event gets
    ``person``        {id, name}: the recipient
    ``municipality``  {key, name}: e.g. "Herrljunga kommun"
``cycle`` is {id, ref, title, period, subject}; ``ref`` (``est-2027-03``) is what people type, and
the templates show ``cycle.ref|default(cycle.id)``. Commands are whole command lines with the
recipient's own id (``--as anna.berg``).

``task_assigned``, ``task_reminder``, ``task_overdue`` (to the person who holds the task)
    ``task``     {id, key, title, description (may be empty), role (the role the task is for),
                 due (datetime; None for a task without a due time, only in task_assigned)}
    ``cycle``    {id, title, period (may be empty), subject (may be empty)}
    ``process``  {title}
    ``command``  the command that completes the task, e.g.
                 ``tsk --org herrljunga --as anna.berg task done 42 --note "..."``; for a task
                 with a form, the command that writes the form as a file to fill in
    ``form``     None, or for a task with a form {command, answers (hands the file in),
                 nothing (``task done N --nothing-to-report``; empty for a required form)};
                 absent from mail queued before it existed (``form is defined``)
``task_escalated`` (to the chair; ``person`` is the chair)
    ``task``, ``cycle``, ``process`` as above; ``assignee`` {name, email}: who holds the task;
    ``days_overdue`` (int); ``command``: e.g. ``tsk ... cycle show est-2027-03``
``cycle_opened``
    ``cycle``, ``process``; ``chair`` {name}; ``step`` {title}: the first step; ``command``
``cycle_closed``
    ``cycle``, ``process``; ``closed_by`` {name}; ``note`` (may be empty); ``command``
``meeting_invitation`` (the .ics goes in ``OutgoingMail.ics``, made by ``mail.ics``)
    ``meeting``  {title, start (datetime), end (datetime), location, agenda (list of str,
                 may be empty)}
    ``cycle``, ``process``; ``step`` {title}; ``chair`` {name}
``decision_routed`` (to the body's secretary or chair)
    ``decision`` {id, title, cost (number, may be None), body ("klg" or "ks"), reason (why this
                 body), meeting_date (date, may be None: not yet on an agenda)}
    ``cycle``, ``process``; ``proposed_by`` {name}; ``command``: how to record the decision
``decision_recorded``
    ``decision`` {id, title, body ("klg" or "ks"), meeting_date (date), paragraph ("§ 112"),
                 outcome ("approved", "rejected" or "postponed")}
    ``cycle``, ``process``
``yearly_report_due`` (to the chair and deputy, when a ``yearly_deadline`` cycle opens)
    ``report``   {title, year (int), from_body (e.g. "KS"), to_body (e.g. "KF"), due (date: the
                 deadline), meeting_date (date, may be None: the receiving body's meeting)}
    ``cycle``, ``process``; ``command``
``digest`` (one mail a day)
    ``day``      (date) the day of the digest
    ``items``    list of {kind, title, when (date or datetime, may be None), cycle (cycle ref,
                 may be empty)}, soonest first; kind is one of task_due, task_overdue, meeting,
                 decision, report, cycle (anything else is shown as is); made by
                 ``tsk_workflow.mail.digest``
    ``command``  e.g. ``tsk --org herrljunga --as anna.berg task list --mine``
``test_mail``
    ``sent_at``  (datetime)
``audit_checkpoint`` (to an address, not a person: ``person`` is {id "checkpoint", name})
    ``checkpoint`` {seq (int), hash, count (int), at (datetime), key_id, line (the checkpoint's
                 JSON line, to be kept verbatim)}; made by ``tsk_workflow.checkpoints``

Keys inside the objects must not be named like mapping methods (``items``, ``keys``, ``get``...):
``task.items`` in a template finds the method, not the key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
    UndefinedError,
    select_autoescape,
)

from tsk_workflow.errors import NotFound
from tsk_workflow.mail.dates import clock, iso_date, long_date
from tsk_workflow.resources import notifications_dir
from tsk_workflow.templating import SecurityError, sandboxed

LANGUAGES = ("sv", "en")
DEFAULT_LANGUAGE = "sv"
PARTS = ("subject.txt", "txt", "html")
_NAME = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Rendered:
    """A rendered mail: the subject on one line, the plain text and the HTML."""

    subject: str
    text: str
    html: str


class RenderError(ValueError):
    """A template needs a variable the context does not have (or another template error)."""


class Held(RenderError):
    """Mail that must not be made as things stand: a template tried something the sandbox does
    not allow, or the municipality's own templates cannot be used. The outbox holds such mail
    (status ``held``, the reason kept) until someone fixes it and runs ``tsk mail retry``."""


def language(lang: str | None) -> str:
    """``lang`` if it is a language with templates, else Swedish.

    A language containing ``/``, ``\\`` or ``..`` is refused with ``ValueError`` (it would be a
    path), not silently mapped to Swedish.
    """
    if lang is not None and any(bad in lang for bad in ("/", "\\", "..")):
        raise ValueError(f"not a language: {lang!r}")
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def render(
    event: str,
    lang: str,
    context: Mapping[str, Any],
    override_dir: Path | None = None,
) -> Rendered:
    """Render the three templates of ``event`` in ``lang`` with ``context``."""
    _check_event(event)
    env = environment(language(lang), override_dir)
    subject, text, html = (_render_one(env, f"{event}.{part}", context) for part in PARTS)
    return Rendered(subject=" ".join(subject.split()), text=text, html=html)


def events(lang: str = DEFAULT_LANGUAGE) -> list[str]:
    """The events shipped in ``lang`` (those with a subject template)."""
    folder = notifications_dir() / language(lang)
    return sorted(p.name.removesuffix(".subject.txt") for p in folder.glob("*.subject.txt"))


def _check_event(event: str) -> None:
    if not _NAME.fullmatch(event):
        raise ValueError(f"not a template name: {event!r} (letters, digits, _ and - only)")


def _render_one(env: Environment, name: str, context: Mapping[str, Any]) -> str:
    """One template; every failure but a missing file is a ``RenderError`` naming the file.

    A broken override (a syntax error), a value a filter cannot format (``None`` to
    ``langdatum``) or a missing variable must not escape as some other exception: the outbox
    marks such a message failed, with the reason, and goes on with the others.
    """
    try:
        return env.get_template(name).render(context)
    except SecurityError as exc:
        raise Held(
            f"the template {_where(env, exc, name)} tried something the sandbox does not allow"
            f" ({str(exc).removesuffix('.')})"
        ) from exc
    except TemplateNotFound as exc:
        raise NotFound(f"no mail template {name!r} in {_searchpath(env)}") from exc
    except UndefinedError as exc:
        raise RenderError(f"mail template {name!r}: {exc.message}") from exc
    except TemplateSyntaxError as exc:
        raise RenderError(f"mail template {exc.filename or name}:{exc.lineno}: {exc}") from exc
    except (TemplateError, TypeError, ValueError, AttributeError, KeyError) as exc:
        raise RenderError(f"mail template {name!r}: {type(exc).__name__}: {exc}") from exc


def _searchpath(env: Environment) -> str:
    return ", ".join(str(p) for p in _folders(env))


def _folders(env: Environment) -> list[Path]:
    loader = env.loader
    return [Path(p) for p in loader.searchpath] if isinstance(loader, FileSystemLoader) else []


def _where(env: Environment, exc: BaseException, name: str) -> str:
    """The template file (and line) where ``exc`` was raised, from the traceback Jinja2 gives:
    ``notifications/sv/_base.html:3`` for a shipped one, ``<folder>/sv/...`` for an override."""
    where = name
    trace = exc.__traceback__
    while trace is not None:
        filename = Path(trace.tb_frame.f_code.co_filename)
        for folder in _folders(env):  # <base>/<lang>: shown from <base>
            if filename.is_relative_to(folder):
                where = f"{filename.relative_to(folder.parent.parent)}:{trace.tb_lineno}"
        trace = trace.tb_next
    return where


@lru_cache(maxsize=16)
def environment(lang: str, override_dir: Path | None = None) -> Environment:
    """The Jinja2 environment for one language and override folder (cached), in the sandbox."""
    folders = [notifications_dir() / lang]
    if override_dir is not None:
        folders.insert(0, override_dir / lang)
    env = sandboxed(
        loader=FileSystemLoader(folders),
        autoescape=select_autoescape(
            enabled_extensions=("html",), default_for_string=False, default=False
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(_filters(lang))
    return env


def _filters(lang: str) -> dict[str, Any]:
    return {
        "datum": iso_date,
        "langdatum": partial(long_date, lang=lang),
        "klockslag": clock,
        "kronor": partial(kronor, lang=lang),
    }


def kronor(value: int | float | Decimal | str, lang: str = DEFAULT_LANGUAGE) -> str:
    """``125 000 kr`` (sv, with no-break spaces) or ``SEK 125,000`` (en); öre only if any."""
    amount = Decimal(str(value))
    digits = f"{amount:,.0f}" if amount == amount.to_integral_value() else f"{amount:,.2f}"
    if lang == "en":
        return f"SEK {digits}"
    swedish = digits.replace(",", "\u00a0").replace(".", ",")
    return f"{swedish}\u00a0kr"
