"""Personal data: the free text people wrote, removed once the retention time has passed.

What is free text (and may name private persons, however often the forms say not to):

- a task's ``note`` and the answers to the *text* questions of its form (``tasks.note``,
  ``tasks.answers``), of tasks done before the cut-off;
- a cycle's ``close_note``, of cycles closed before the cut-off;
- the place and the description of each event reported at any time (``reported_events``:
  ``tsk event report``, the page ``/report``) reported before the cut-off; its category, day,
  town and point stay (the lägesbild's figures), and ``purged_at`` says when it went;
- the note of each follow-up of an action (``action_followups.note``: how it goes, in the
  owner's words) made before the cut-off; its status and state stay, and ``purged_at`` says
  when it went (the audit event keeps only the note's SHA-256);
- the ``note`` in the context of mail (``outbox.context``: the closing note goes out with
  ``cycle_closed``) queued before the cut-off, sent or not;
- the audit payload of each event before the cut-off that holds such text: a ``note`` written
  by a person (``cycle.advanced``, ``cycle.closed``, ``task.done``) or ``answers`` with a text
  answer (``task.done``). The whole payload is replaced by ``audit.PURGED`` (``audit.purge``):
  the chain is built over payload digests, so it still verifies; the event itself (who, when,
  what, on which cycle) stays, and so do the fields of its payload that hold no personal data
  (``audit.KEPT_ON_PURGE``: the task, the step moved to, the tasks cancelled...), restated in
  the purge event (below) for ``tsk audit verify`` to replay the state with;
- the lägesbild tsk generated and attached to a cycle (``documents`` of kind ``lagesbild``
  attached by the system: a machine copy of the answers and events) that holds any text this
  purge removed, wherever it is (a lägesbild attached after the cut-off may show a report done
  before it): it is generated again from the data as they are after the purge (an auditor
  gets the same figures, without the purged text, dated the day of the purge). Its row takes
  the new content, size and SHA-256; the purge event lists each such document with its old and
  new SHA-256 and size (``documents``), and ``tsk audit verify`` checks the row against the
  purge event from then on. When its process is no longer known, the purged texts are cut out
  of the document instead (``[rensat]``).

After the purge the database's files are cleaned too (``Store.erase_freed``): SQLite zeroes
what is overwritten and its write-ahead log is checkpointed and truncated; PostgreSQL's tables
touched are vacuumed (docs/privacy.md says what is left on disk).

Kept on purpose: who did what and when (the staff's ids in the audit trail: that is what the
trail is for), the actions of the register with their causes, goals and places (the
municipality's plan, a public record: write no personal data in them), the answers to choice,
town, area, date and number questions (the statistics of the lägesbild), the category, day,
time, town and point of reported events, decisions with their titles, reasons, texts and
paragraphs (public records under the Archives Act: write no personal data in them), the
system's own notes (routing reasons, "timed transition"), the documents people attached
(records with a retention of their own in the archive plan; ``tsk audit verify`` checks them
against their recorded SHA-256), the record of refused acts, the addresses of mail, and the
organisation's versions (the staff's names and addresses). ``KEPT`` names them, and the purge's
result and its audit event list them (``kept_on_purpose``).

The cut-off (``--before``) may not be later than now minus the organisation's
``privacy.retention`` (an ISO 8601 duration, ``P3Y`` by default) unless forced, and never later
than now. The purge is one act: the text goes, and an audit event ``personal_data.purged`` is
appended, in one transaction, with the counts, the events whose payloads it purged (``seqs``;
``tsk audit verify`` holds a purged payload valid only when a later purge event lists it) and
what was kept of them (``kept``: ``{"seq": {field: value}}``, no personal data). Only the kanslichef (or a deputy
for the kanslichef), who answers for the archive, may purge. Purging again changes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from tsk_workflow import audit
from tsk_workflow.calendar import before as calendar_before
from tsk_workflow.catalog import Catalog
from tsk_workflow.definitions.durations import parse_duration
from tsk_workflow.definitions.model import ProcessDefinition
from tsk_workflow.engine.directory import SYSTEM, PermissionDenied
from tsk_workflow.engine.service import Engine
from tsk_workflow.errors import Refused, TskError
from tsk_workflow.forms import form_of
from tsk_workflow.i18n import _
from tsk_workflow.store import gdpr as stored
from tsk_workflow.store.actions import followups_before
from tsk_workflow.store.events import events_reported_before

if TYPE_CHECKING:
    from tsk_workflow.store.database import Session
    from tsk_workflow.store.models import Cycle, Document

PURGER_ROLES = ("kanslichef",)
"""Who may purge: whoever holds (or deputises for) one of these roles."""

ACTION = audit.PURGE_ACTION
NOTE_KEYS = ("note",)

REMOVED = (
    "task_notes",
    "task_answers",
    "cycle_notes",
    "mail_notes",
    "audit_payloads",
    "event_texts",
    "action_notes",
    "documents",
)
"""The kinds of data a purge removes (its counts, in this order)."""

KEPT = (
    "staff_identities",
    "choice_answers",
    "event_figures",
    "actions",
    "decisions",
    "system_notes",
    "attached_documents",
    "refused_acts",
    "mail_addresses",
    "organisation",
)
"""The kinds of data a purge keeps on purpose (see the module's docstring)."""

PURGED_MARK = "[rensat]"
"""What stands in a generated document for a text cut out of it (``_cut_out``)."""

TABLES = (
    "tasks",
    "cycles",
    "outbox",
    "audit_payloads",
    "reported_events",
    "action_followups",
    "documents",
)
"""The tables a purge changes: those ``Store.erase_freed`` cleans afterwards."""


@dataclass(frozen=True)
class PurgeResult:
    """What a purge removed (or, with ``dry_run``, would remove)."""

    before: dt.datetime
    latest_allowed: dt.datetime
    retention: str
    forced: bool
    dry_run: bool
    task_notes: int = 0
    task_answers: int = 0
    cycle_notes: int = 0
    mail_notes: int = 0
    audit_payloads: int = 0
    event_texts: int = 0
    action_notes: int = 0
    documents: int = 0
    event: int | None = None
    erased: bool | None = None
    """Whether the database's files were cleaned after the purge (``Store.erase_freed``);
    None for a dry run."""

    def counts(self) -> dict[str, int]:
        return {key: getattr(self, key) for key in REMOVED}

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: times as ISO 8601 text, the counts under ``counts``."""
        return {
            "before": self.before.isoformat(),
            "latest_allowed": self.latest_allowed.isoformat(),
            "retention": self.retention,
            "forced": self.forced,
            "dry_run": self.dry_run,
            "event": self.event,
            "counts": self.counts(),
            "removed": list(REMOVED),
            "kept_on_purpose": list(KEPT),
            "erased": self.erased,
        }


def latest_cutoff(engine: Engine, now: dt.datetime) -> dt.datetime:
    """The latest cut-off the retention time allows: now minus ``privacy.retention``."""
    retention = parse_duration(engine.org.privacy.retention)
    return calendar_before(now, retention, engine.cal).astimezone(dt.UTC)


def cutoff_of(day: dt.date, engine: Engine) -> dt.datetime:
    """The start of ``day`` in the municipality's time zone: ``--before 2024-01-01`` purges
    what is older than New Year's night."""
    return dt.datetime.combine(day, dt.time(), tzinfo=engine.cal.zone).astimezone(dt.UTC)


def purge(
    engine: Engine,
    actor: str | None,
    before: dt.date,
    *,
    force: bool = False,
    dry_run: bool = False,
) -> PurgeResult:
    """Remove the free text older than ``before`` (see the module's docstring): one act."""
    who = engine.actor(actor, "personal_data.purge")
    cutoff = cutoff_of(before, engine)
    try:
        result = _purge(engine, who, before, cutoff, force=force, dry_run=dry_run)
    except _DryRun as done:
        return done.result
    # After the commit: VACUUM and a checkpoint cannot run inside the act's transaction.
    return replace(result, erased=engine.store.erase_freed(TABLES))


class _DryRun(Exception):
    """Leaves the act's transaction, rolling it back, with what it would have done."""

    def __init__(self, result: PurgeResult) -> None:
        super().__init__("dry run")
        self.result = result


def _purge(
    engine: Engine, who: str, before: dt.date, cutoff: dt.datetime, *, force: bool, dry_run: bool
) -> PurgeResult:
    with engine.act() as act:
        session, now = act.session, act.now
        role = _require_purger(engine, who)
        latest = latest_cutoff(engine, now)
        if cutoff > now:
            raise Refused(
                _("--before {before} is in the future: nothing that old can be purged").format(
                    before=before
                )
            )
        if cutoff > latest and not force:
            raise Refused(
                _(
                    "--before {before} is within the retention time ({retention} in {organisation}):"
                    " the latest allowed is {latest}; give --force to purge newer data"
                ).format(
                    before=before,
                    retention=engine.org.privacy.retention,
                    organisation=engine.org.name,
                    latest=latest.astimezone(engine.cal.zone).date(),
                )
            )
        municipality = engine.org.municipality
        forms_of = _Forms(engine, session)
        removed: set[str] = set()
        task_notes, task_answers = _tasks(session, forms_of, municipality, cutoff, removed)
        purged = _audit(session, forms_of, municipality, cutoff, now)
        cycle_notes = _cycles(session, municipality, cutoff, removed)
        event_texts = _events(session, municipality, cutoff, now, removed)
        documents = _documents(engine, session, removed, now)
        result = PurgeResult(
            before=cutoff,
            latest_allowed=latest,
            retention=engine.org.privacy.retention,
            forced=force and cutoff > latest,
            dry_run=dry_run,
            task_notes=task_notes,
            task_answers=task_answers,
            cycle_notes=cycle_notes,
            mail_notes=_mail(session, municipality, cutoff),
            audit_payloads=len(purged),
            event_texts=event_texts,
            action_notes=_action_notes(session, municipality, cutoff, now),
            documents=len(documents),
        )
        if dry_run:
            raise _DryRun(result)
        payload = {
            "before": cutoff.isoformat(),
            "retention": result.retention,
            "forced": result.forced,
            **result.counts(),
            # Which events were purged, and what of their payloads holds no personal data: the
            # replay of the state needs it (``tsk_workflow.replay``); ``audit verify`` holds a
            # purged payload valid only when a purge event lists it.
            "seqs": [seq for seq, _kept in purged],
            "kept": {str(seq): kept for seq, kept in purged},
            # The generated documents made again without the purged text: ``audit verify``
            # checks their rows against this from now on.
            "documents": documents,
            "kept_on_purpose": list(KEPT),
        }
        purge = audit.Act(municipality, who, role, ACTION, f"municipality:{municipality}", payload)
        event = audit.append(session, purge, now)
        return replace(result, event=event.seq)


def _require_purger(engine: Engine, who: str) -> str:
    """The role ``who`` purges in, or ``PermissionDenied`` (kept in ``refused_acts``)."""
    person = engine.org.person(who)
    for role in PURGER_ROLES:
        if person is not None and role in person.roles:
            return role
        if person is not None and role in person.deputy_for:
            return f"deputy {role}"
    holders = [p.id for role in PURGER_ROLES for p in engine.org.holders(role)]
    raise PermissionDenied(
        who,
        "personal_data.purge",
        f"municipality:{engine.org.municipality}",
        _("only the kanslichef ({holders}) or a deputy may purge personal data").format(
            holders=", ".join(holders) or _("none")
        ),
    )


# ---------------------------------------------------------------- what is free text


def text_questions(catalog: Catalog, process: str, step: str, key: str) -> set[str] | None:
    """The keys of the text questions of a task's form in the current definition of
    ``process``; None when the definition is unknown."""
    return _text_questions(catalog.definitions.get(process), step, key)


def _text_questions(definition: ProcessDefinition | None, step: str, key: str) -> set[str] | None:
    if definition is None:
        return None
    form = form_of(definition, step, key)
    if form is None:
        return set()
    return {question.key for question in form.questions if question.type == "text"}


class _Forms:
    """The text questions of a task's form, in the version of the definition its cycle follows
    (``Cycle.process_digest``), each cycle's looked up once."""

    def __init__(self, engine: Engine, session: Session) -> None:
        self.engine, self.session = engine, session
        self.cycles: dict[int, tuple[str, str | None]] = {}

    def text_questions(self, cycle_id: int | None, step: str, key: str) -> set[str] | None:
        if cycle_id is None:
            return None
        if cycle_id not in self.cycles:
            found = stored.cycle_process(self.session, cycle_id)
            self.cycles[cycle_id] = found if found is not None else ("", None)
        process, digest = self.cycles[cycle_id]
        try:
            definition = self.engine.definition_for(self.session, process, digest)
        except TskError:  # a process, or a stored version, no longer known: all is free text
            return None
        return _text_questions(definition, step, key)


def _without_text(answers: Mapping[str, Any], text_keys: set[str] | None) -> dict[str, Any]:
    """``answers`` without its free text; everything, when the form is no longer known."""
    if text_keys is None:
        return {}
    return {key: value for key, value in answers.items() if key not in text_keys}


def _has_text(value: Any) -> bool:
    return value is not None and value != "" and value != {} and value != []


# ---------------------------------------------------------------- the rows


def _tasks(
    session: Session, forms_of: _Forms, municipality: str, cutoff: dt.datetime, removed: set[str]
) -> tuple[int, int]:
    notes = answered = 0
    for task, process, digest in stored.tasks_done_before(session, municipality, cutoff):
        forms_of.cycles[task.cycle_id] = (process, digest)
        if _has_text(task.note):
            removed.add(str(task.note))
            task.note = None
            notes += 1
        if task.answers:
            kept = _without_text(
                task.answers, forms_of.text_questions(task.cycle_id, task.step, task.key)
            )
            if kept != task.answers:
                removed.update(
                    _texts(value for key, value in task.answers.items() if key not in kept)
                )
                task.answers = kept
                answered += 1
    session.flush()
    return notes, answered


def _cycles(session: Session, municipality: str, cutoff: dt.datetime, removed: set[str]) -> int:
    count = 0
    for cycle in stored.cycles_closed_with_note(session, municipality, cutoff):
        if _has_text(cycle.close_note):
            removed.add(str(cycle.close_note))
            count += 1
        cycle.close_note = None
    session.flush()
    return count


def _mail(session: Session, municipality: str, cutoff: dt.datetime) -> int:
    """Notes in the context of mail queued before the cut-off (sent or not: mail still waiting
    after the retention time goes out without the note)."""
    count = 0
    for row in stored.mail_queued_before(session, municipality, cutoff):
        scrubbed = _scrub(row.context)
        if scrubbed != row.context:
            row.context = scrubbed
            count += 1
    session.flush()
    return count


def _events(
    session: Session, municipality: str, cutoff: dt.datetime, now: dt.datetime, removed: set[str]
) -> int:
    """The place and description of the events reported before the cut-off (the free text
    of ``engine.events``): blanked, the event marked purged; how many had any."""
    count = 0
    for event in events_reported_before(session, municipality, cutoff):
        if _has_text(event.place) or _has_text(event.description):
            removed.update(_texts((event.place, event.description)))
            count += 1
        event.place = event.description = None
        event.purged_at = now
    session.flush()
    return count


def _action_notes(
    session: Session, municipality: str, cutoff: dt.datetime, now: dt.datetime
) -> int:
    """The notes of the actions' follow-ups made before the cut-off: blanked, the follow-up
    marked purged; how many had any."""
    count = 0
    for followup in followups_before(session, municipality, cutoff):
        if _has_text(followup.note):
            count += 1
        followup.note = None
        followup.purged_at = now
    session.flush()
    return count


def _scrub(value: Any) -> Any:
    """``value`` with every non-empty ``note`` blanked, however deep."""
    if isinstance(value, dict):
        return {
            key: "" if key in NOTE_KEYS and _has_text(item) else _scrub(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    return value


def _audit(
    session: Session, forms_of: _Forms, municipality: str, cutoff: dt.datetime, now: dt.datetime
) -> list[tuple[int, dict[str, Any]]]:
    """Purge the payloads holding free text (of ``audit.PURGEABLE_ACTIONS`` only): each purged
    event's seq, with the fields of its payload that are not personal (``audit.KEPT_ON_PURGE``)."""
    purged: list[tuple[int, dict[str, Any]]] = []
    found = stored.unpurged_payloads(session, municipality, cutoff, audit.PURGEABLE_ACTIONS)
    for seq, actor, cycle_id, payload in found:
        if _personal(forms_of, actor, cycle_id, payload):
            audit.purge(session, seq, now)
            purged.append((seq, {k: payload[k] for k in audit.KEPT_ON_PURGE if k in payload}))
    return purged


def _personal(
    forms_of: _Forms, actor: str, cycle_id: int | None, payload: Mapping[str, Any]
) -> bool:
    """Whether an event's payload holds free text written by a person."""
    if actor != SYSTEM and any(_has_text(payload.get(key)) for key in NOTE_KEYS):
        return True
    answers = payload.get("answers")
    if not isinstance(answers, Mapping) or not answers:
        return False
    keys = forms_of.text_questions(cycle_id, str(payload.get("step")), str(payload.get("key")))
    return _without_text(answers, keys) != dict(answers)


def _texts(values: Iterable[Any]) -> set[str]:
    """The texts in ``values`` (an answer may be a list of texts)."""
    found: set[str] = set()
    for value in values:
        if isinstance(value, list | tuple):
            found |= _texts(value)
        elif _has_text(value) and not isinstance(value, bool | int | float):
            found.add(str(value))
    return found


# ---------------------------------------------------------------- generated documents


def _documents(
    engine: Engine, session: Session, removed: set[str], now: dt.datetime
) -> dict[str, dict[str, Any]]:
    """Make each lägesbild tsk generated that holds a text in ``removed`` again without it
    (see the module's docstring); by document id, its old and new SHA-256 and size."""
    from tsk_workflow.lagesbild.produce import KIND

    changed: dict[str, dict[str, Any]] = {}
    if not removed:
        return changed
    session.flush()  # the lägesbild is made again from the rows as purged
    forms = _forms_of(removed)
    for document, cycle in stored.generated_documents(
        session, engine.org.municipality, KIND, SYSTEM
    ):
        text = document.content.decode("utf-8", "replace")
        if not any(form in text for form in forms):
            continue
        content = _regenerated(engine, session, cycle, now)
        if content is None or any(form in content.decode("utf-8", "replace") for form in forms):
            content = _cut_out(text, forms).encode("utf-8")
        changed[str(document.id)] = _replace_content(document, content)
    session.flush()
    return changed


def _forms_of(removed: set[str]) -> list[str]:
    """Each removed text as a document may hold it: as written, with its spaces folded (the
    lägesbild's list of places), and each of these escaped for HTML; longest first."""
    from markupsafe import escape

    forms: set[str] = set()
    for text in removed:
        for plain in (text, " ".join(text.split())):
            forms |= {plain, str(escape(plain))}
    return sorted((form for form in forms if form.strip()), key=lambda f: (-len(f), f))


def _cut_out(text: str, forms: list[str]) -> str:
    for form in forms:
        text = text.replace(form, PURGED_MARK)
    return text


def _regenerated(engine: Engine, session: Session, cycle: Cycle, now: dt.datetime) -> bytes | None:
    """The cycle's lägesbild as the rows are now; None when its process is no longer known."""
    from tsk_workflow.lagesbild.produce import AUTOMATIC_FORMAT, AUTOMATIC_LANGUAGE, lagesbild_of
    from tsk_workflow.lagesbild.render import render

    try:
        definition = engine.definition_for(session, cycle.process, cycle.process_digest)
    except TskError:
        return None
    figures = lagesbild_of(session, engine.org, definition, cycle, lang=AUTOMATIC_LANGUAGE, now=now)
    return render(figures, AUTOMATIC_FORMAT).encode("utf-8")


def _replace_content(document: Document, content: bytes) -> dict[str, Any]:
    was = {"was_sha256": document.sha256, "was_size": document.size}
    document.content = content
    document.size = len(content)
    document.sha256 = hashlib.sha256(content).hexdigest()
    return {"sha256": document.sha256, "size": document.size, **was}
