"""Rendering mail templates (Jinja2) from ``notifications/``, in the reader's language.

An *event* is three templates: ``<event>.subject.txt``, ``<event>.txt`` and ``<event>.html``.
The shipped templates are one set, written once: their texts are marked ``{{ _("...") }}``
(Jinja2's ``i18n`` extension, ``%(name)s`` placeholders; ``ngettext`` by number, ``pgettext``
where one English word has two Swedish ones) and come from the one gettext catalogue
(docs/translating.md). Each mail renders inside ``i18n.speaking(lang)``: Swedish for a Swedish
reader, the English of the templates for an English one. Languages are ``sv`` (the default) and
``en``; any other language gives Swedish.

A municipality's own templates are written per language: ``override_dir/sv/`` and
``override_dir/en/`` (``tsk_workflow.mail.templates``). A file there replaces the shipped file of
the same name for readers of that language (any file, the shared partials ``_base.html``,
``_macros.html``, ``_footer.txt`` included); everything else comes from the shipped set. HTML
templates are autoescaped, text templates are not, and a missing variable is an error
(StrictUndefined): a template never silently prints nothing. Every template renders in Jinja2's
sandbox (:mod:`tsk_workflow.templating`): one that tries to reach Python
(``cycler.__init__.__globals__``, ``''.__class__``) raises :class:`Held`, naming the file and
line, and the outbox holds its mail back instead of sending it.

Filters: ``datum`` (2027-03-12), ``langdatum`` (fredag 12 mars 2027, vecka 10; ``week=false``
leaves the week out), ``klockslag`` (14:00), ``kronor`` (125 000 kr) and ``ledtext`` (a label of
the plain text with its colon, padded so that the values line up: ``Omgång:      ``); all in the
reader's language. Dates may be ``date``/``datetime`` objects or ISO 8601 strings, shown in their
own time zone (pass them in the municipality's zone). ``lang`` is the reader's language (``sv``,
``en``), for ``<html lang="...">``.

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
``decision_routed`` (to those who record the body's decisions: its secretary, chair, the head
    of the department concerned, the delegate)
    ``decision`` {id, title, cost (number, may be None), body (a key of organisation.model.BODIES:
                 "klg", "ks", "kf", "styrgrupp", "forvaltning", "delegat"), body_name (the body's
                 name in the organisation file), meets (false: one person decides without a
                 meeting), reason (why this body), meeting_date (date, may be None: not yet on
                 an agenda, or no meeting)}
    ``cycle``, ``process``; ``proposed_by`` {name}; ``command``: how to record the decision
``decision_recorded``
    ``decision`` {id, title, body, body_name, meets (as above), meeting_date (date: of the
                 meeting, or of the decision without one), paragraph ("§ 112", or a delegation
                 decision's number "D 2027:14"),
                 outcome ("approved", "rejected" or "postponed")}
    ``cycle``, ``process``
``yearly_report_due`` (to the chair and deputy, when a ``yearly_deadline`` cycle opens)
    ``report``   {title, year (int), from_body (e.g. "KS"), to_body (e.g. "KF"), due (date: the
                 deadline), meeting_date (date, may be None: the receiving body's meeting)}
    ``cycle``, ``process``; ``command``
``action_due_soon`` (to the owner, two weeks before the due date), ``action_overdue`` (to the
owner and the chairs of the group the action came from, the day after it)
    ``action``   {id, title, cause, goal (may be empty), start (date), due (date), status
                 ("green", "yellow", "red"), owner {id, name, ...}}
    ``command``  how to follow it up (``tsk action followup N ...``)
``digest`` (one mail a day)
    ``day``      (date) the day of the digest
    ``items``    list of {kind, title, when (date or datetime, may be None), cycle (cycle ref,
                 may be empty), task (the task's id, or None)}, soonest first; kind is one of
                 task_due, task_overdue, meeting, decision, report, cycle, action_due,
                 action_overdue (anything else is shown as is); made by ``tsk_workflow.mail.digest``
    ``command``  e.g. ``tsk --org herrljunga --as anna.berg task list --mine``
``test_mail``
    ``sent_at``  (datetime)
``audit_checkpoint`` (to an address, not a person: ``person`` is {id "checkpoint", name})
    ``checkpoint`` {seq (int), hash, count (int), at (datetime), key_id, line (the checkpoint's
                 JSON line, to be kept verbatim)}; made by ``tsk_workflow.checkpoints``

Task links (``tsk_workflow.links``), added by the outbox when it renders, with link settings
only (test ``link is defined and link``): the task mails get ``link`` {url, expires}, the
recipient's signed link to the task and until when it works; a digest's items about a task get
``link`` too, and the digest ``link_expires``.

Keys inside the objects must not be named like mapping methods (``items``, ``keys``, ``get``...):
``task.items`` in a template finds the method, not the key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.numbers import format_decimal
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

from tsk_workflow import i18n
from tsk_workflow.errors import NotFound
from tsk_workflow.i18n import _
from tsk_workflow.mail.dates import clock, iso_date, long_date
from tsk_workflow.resources import notifications_dir
from tsk_workflow.templating import SecurityError, sandboxed

LANGUAGES = i18n.LANGUAGES
DEFAULT_LANGUAGE = i18n.DEFAULT
PARTS = ("subject.txt", "txt", "html")
TEMPLATE_SUFFIXES = (".txt", ".html")
"""What a template file's name ends in (the shipped folder also has its README.md)."""
LABEL_WIDTH = 12
"""``ledtext``: a label and its colon take this many characters, then a space, then the value."""
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
        raise ValueError(_("not a language: {lang}").format(lang=repr(lang)))
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def render(
    event: str,
    lang: str,
    context: Mapping[str, Any],
    override_dir: Path | None = None,
) -> Rendered:
    """Render the three templates of ``event`` in ``lang`` with ``context``.

    The mail speaks ``lang``; what goes wrong is said in the language spoken (it is for whoever
    looks after the mail, not for its reader).
    """
    _check_event(event)
    lang = language(lang)
    env = environment(lang, override_dir)
    subject, text, html = (_render_one(env, f"{event}.{part}", context, lang) for part in PARTS)
    return Rendered(subject=" ".join(subject.split()), text=text, html=html)


def events() -> list[str]:
    """The shipped events (those with a subject template)."""
    return sorted(
        p.name.removesuffix(".subject.txt") for p in notifications_dir().glob("*.subject.txt")
    )


def shipped_templates() -> list[str]:
    """The names of the shipped template files: the events' and the shared partials'."""
    return sorted(
        p.name
        for p in notifications_dir().iterdir()
        if p.is_file() and p.name.endswith(TEMPLATE_SUFFIXES)
    )


def _check_event(event: str) -> None:
    if not _NAME.fullmatch(event):
        raise ValueError(
            _("not a template name: {name} (letters, digits, _ and - only)").format(
                name=repr(event)
            )
        )


def _render_one(env: Environment, name: str, context: Mapping[str, Any], lang: str) -> str:
    """One template, in ``lang``; every failure but a missing file is a ``RenderError`` naming
    the file.

    A broken override (a syntax error), a value a filter cannot format (``None`` to
    ``langdatum``) or a missing variable must not escape as some other exception: the outbox
    marks such a message failed, with the reason, and goes on with the others.
    """
    try:
        with i18n.speaking(lang):
            return env.get_template(name).render(context)
    except SecurityError as exc:
        raise Held(
            _("the template {where} tried something the sandbox does not allow ({reason})").format(
                where=_where(env, exc, name), reason=str(exc).removesuffix(".")
            )
        ) from exc
    except TemplateNotFound as exc:
        raise NotFound(
            _("no mail template {name} in {folders}").format(
                name=repr(name), folders=_searchpath(env)
            )
        ) from exc
    except UndefinedError as exc:
        raise RenderError(
            _("mail template {name}: {reason}").format(name=repr(name), reason=exc.message)
        ) from exc
    except TemplateSyntaxError as exc:
        raise RenderError(
            _("mail template {name}:{line}: {reason}").format(
                name=exc.filename or name, line=exc.lineno, reason=exc
            )
        ) from exc
    except (TemplateError, TypeError, ValueError, AttributeError, KeyError) as exc:
        raise RenderError(
            _("mail template {name}: {reason}").format(
                name=repr(name), reason=f"{type(exc).__name__}: {exc}"
            )
        ) from exc


def _searchpath(env: Environment) -> str:
    return ", ".join(str(p) for p in _folders(env))


def _folders(env: Environment) -> list[Path]:
    loader = env.loader
    return [Path(p) for p in loader.searchpath] if isinstance(loader, FileSystemLoader) else []


def _where(env: Environment, exc: BaseException, name: str) -> str:
    """The template file (and line) where ``exc`` was raised, from the traceback Jinja2 gives:
    ``notifications/_base.html:3`` for a shipped one, ``<folder>/sv/...`` for an override."""
    where = name
    shipped = notifications_dir()
    trace = exc.__traceback__
    while trace is not None:
        filename = Path(trace.tb_frame.f_code.co_filename)
        for folder in _folders(env):  # shipped: from its parent; <base>/<lang>: from <base>'s
            if filename.is_relative_to(folder):
                base = folder.parent if folder == shipped else folder.parent.parent
                where = f"{filename.relative_to(base)}:{trace.tb_lineno}"
        trace = trace.tb_next
    return where


@lru_cache(maxsize=16)
def environment(lang: str, override_dir: Path | None = None) -> Environment:
    """The Jinja2 environment for one language and override folder (cached), in the sandbox:
    the municipality's files for ``lang`` first, then the shipped ones."""
    folders = [notifications_dir()]
    if override_dir is not None:
        folders.insert(0, override_dir / lang)
    env = sandboxed(
        extensions=["jinja2.ext.i18n"],
        loader=FileSystemLoader(folders),
        autoescape=select_autoescape(
            enabled_extensions=("html",), default_for_string=False, default=False
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n._, i18n.ngettext, newstyle=True, pgettext=i18n.pgettext
    )
    env.globals["lang"] = lang
    env.filters.update(FILTERS)
    return env


def kronor(value: int | float | Decimal | str, lang: str | None = None) -> str:
    """``125 000 kr`` (sv, with no-break spaces) or ``SEK 125,000`` (en), in ``lang`` or the
    language spoken; öre only if any. The digits are written as the language writes numbers
    (``babel.numbers``), the currency as the catalogue says."""
    amount = Decimal(str(value))
    pattern = "#,##0" if amount == amount.to_integral_value() else "#,##0.00"
    with i18n.speaking(language(lang or i18n.language())):
        digits = format_decimal(amount, pattern, locale=i18n.locale())
        # the Swedish translation keeps the amount and its "kr" together (a no-break space)
        return _("SEK {amount}").format(amount=digits)


def label(text: str) -> str:
    """``Omgång:      ``: a label of the plain text, its colon and the space up to the values."""
    return f"{text}:".ljust(LABEL_WIDTH) + " "


FILTERS = {
    "datum": iso_date,
    "langdatum": long_date,
    "klockslag": clock,
    "kronor": kronor,
    "ledtext": label,
}
"""The filters every mail template has; they speak the reader's language."""
