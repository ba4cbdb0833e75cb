"""Everything the record claims, checked: the chain, the documents, and the state replayed.

``verify_record`` is what ``tsk audit verify`` runs. It streams the audit chain once
(``audit.verify``: links, payloads, purges, time) and, on the way, replays from the events the
state they say the rows should be in:

- cycles: ``state`` and ``status``, from ``cycle.opened`` (its payload's ``step``: the step the
  cycle was opened in; for older events without it, the process definition's initial step),
  ``cycle.advanced`` (``to``) and ``cycle.closed`` (``state``); a cycle with no ``cycle.opened``
  is one no event accounts for. Also the version of the definition it follows,
  ``process_version`` and ``process_digest``, from ``cycle.opened`` (``version``, ``digest``:
  events written before versions were kept have no digest, which is then not held against the
  row) and ``cycle.upgraded`` (``to_version``, ``to_digest``), which changes nothing else; and
  the group that runs it, ``group_key``, from ``cycle.opened``'s ``group`` (events written
  before a process could be run by several groups have none, which is not held against the row);
- tasks: ``status`` and ``done_by``. Tasks are made open, with no event of their own, when the
  cycle enters a step; ``task.done`` (``task``, by its actor) and the ``cancelled_tasks`` of
  ``cycle.advanced`` and ``cycle.closed`` are the only changes (nothing else changes a task's
  status: ``engine.service``, ``store.acts.Effects.cancel_tasks``). A task is open unless an event
  says otherwise; one in a step its cycle never entered is one no event accounts for;
- decisions: ``title``, ``routed_to``, ``proposed_by``, ``status``, ``outcome``, ``body``,
  ``decided_on``, ``paragraph`` and ``recorded_by``, from ``decision.proposed`` and
  ``decision.recorded`` (their payloads hold the decision as it was then; the actor of
  ``decision.recorded`` is who recorded it);
- actions (the action register): their columns in ``ACTION_FIELDS``, from ``action.added``
  (its payload holds the action as it was added), ``action.updated`` (``changes``: each field's
  old and new value) and ``action.followed_up`` (``status`` and ``state``, old and new);
- documents, both ways: each row must have its ``document.attached`` event (same id, cycle,
  file name, size and SHA-256) and its content must hash to that SHA-256; each such event must
  still have its row. A generated lägesbild made again by a purge of personal data is checked
  against the purge event (``personal_data.purged``: its ``documents``, each with the new size
  and SHA-256) from then on.

Then it reads the rows (cycles, tasks and decisions in batches, documents a few at a time: their
content can be large) and reports each row that differs, naming the row, the field and the
event (``state_mismatch``, ``document_changed``), each row no event accounts for
(``state_unrecorded``, ``document_unrecorded``) and each row an event speaks of that is gone
(``state_mismatch``, ``document_missing``). A row that differs is located (``Problem.seq``) at
the newest event about it (its subject: ``cycle:ID``, ``decision:ID``, ``task:ID``, or the task
in a ``task.done`` or a cancellation; a task no event is about, at its cycle's): from that event
on the row must be as the events say. A document's problems are located at its attachment.

Memory grows with the rows (a municipality has some thousands a year), not with the events. On
PostgreSQL the whole check reads one snapshot (REPEATABLE READ), so acts committed meanwhile are
not mistaken for tampering; SQLite's read transaction is one snapshot already.

Purged payloads. A purge replaces a payload whole with ``audit.PURGED``, so the replay would lose
``to``, ``cancelled_tasks`` and ``task`` of the events it purged. The purged payload stays
exactly ``PURGED`` (a purge may only remove, and that is checkable only if nothing is left), and
instead the purge event itself (``personal_data.purged``) lists the events it purged
(``seqs``) and restates, for each, the fields of its payload that are not personal
(``kept``: ``audit.KEPT_ON_PURGE``, such as ``task``, ``to``, ``cancelled_tasks``). The purge
event is an ordinary event, its payload digested and chained, so those fields cannot be changed
later without breaking the chain; keeping them inside the purged payloads instead would leave
them outside any digest (and the database may allow a purge to write nothing but ``PURGED``).
The replay takes a purged event's payload from there. Events purged by
older purges (a cut-off ``before`` and no ``seqs``) have nothing kept: for them the replay knows
the act but not its details, and does not hold against the rows what it cannot know (the state
of such a cycle until its next event says it; the status of its tasks).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tsk_workflow import audit
from tsk_workflow.audit import Problem
from tsk_workflow.i18n import N_, _
from tsk_workflow.store import record
from tsk_workflow.store.database import Store

if TYPE_CHECKING:
    from tsk_workflow.store.database import Session

ROW_BATCH = 1_000
"""Rows of cycles, tasks and decisions read at a time."""

DOCUMENT_BATCH = 8
"""Documents read at a time: a document may be up to 50 MB."""


class _Unknown:
    """What the events no longer say (a purge that kept nothing, a missing payload)."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()


@dataclass(frozen=True)
class _Said:
    """A field's value as an event says it, and that event."""

    value: Any
    seq: int
    action: str


@dataclass
class _CycleSeen:
    opened: int | None = None
    process: str | None = None
    state: _Said | None = None
    status: _Said | None = None
    version: _Said | None = None
    digest: _Said | None = None
    group: _Said | None = None
    steps: dict[str, _Said] | None = field(default_factory=dict)
    """The steps the cycle entered, each with the event that entered it last (which made its
    tasks); None when some step is not known."""
    lost: bool = False
    """An event about its tasks kept nothing (an older purge, a missing payload)."""
    first: _Said | None = None
    last: int = 0
    """The newest event about the cycle (its subject): the row must be as the events say
    from there on."""

    def enter(self, step: Any, said: _Said) -> None:
        if self.steps is None:
            return
        if step is UNKNOWN or not isinstance(step, str):
            self.steps = None
        else:
            self.steps[step] = said


@dataclass
class _DecisionSeen:
    proposed: int | None = None
    fields: dict[str, _Said] = field(default_factory=dict)
    first: _Said | None = None
    last: int = 0


@dataclass(frozen=True)
class _Attached:
    seq: int
    document: int
    cycle_id: int | None
    filename: Any
    size: Any
    sha256: Any


ACTION_FIELDS = (
    "title",
    "cause",
    "goal",
    "followup_plan",
    "start",
    "due",
    "owner",
    "owner_organisation",
    "status",
    "state",
    "cost",
    "category",
    "town",
    "place",
    "latitude",
    "longitude",
    "window_days",
    "cycle_id",
    "decision_id",
    "promise_cycle_id",
)
"""The columns of an action the events say (``engine.actions``)."""

DECISION_FIELDS = (
    "title",
    "routed_to",
    "proposed_by",
    "status",
    "outcome",
    "body",
    "decided_on",
    "paragraph",
    "extra_meeting",
    "recorded_by",
)


def _id_of(subject: Any, kind: str) -> int | None:
    prefix = f"{kind}:"
    text = str(subject or "")
    if text.startswith(prefix) and text[len(prefix) :].isdigit():
        return int(text[len(prefix) :])
    return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


class Replay:
    """The state the events say, built one event at a time (an ``audit.Observer``)."""

    def __init__(self, initial_step: Callable[[str | None], str | None] | None = None) -> None:
        self.cycles: dict[int, _CycleSeen] = {}
        self.tasks: dict[int, dict[str, _Said]] = {}
        self.decisions: dict[int, _DecisionSeen] = {}
        self.actions: dict[int, _DecisionSeen] = {}
        self.documents: dict[int, _Attached] = {}
        self.task_events: dict[int, int] = {}
        """The newest event about each task (``task.done``, a cancellation, ``task:ID``)."""
        self._initial_step = initial_step or _initial_step_from_catalog

    def __call__(self, row: Mapping[Any, Any], payload: Mapping[str, Any] | None) -> None:
        seq = int(row["seq"])
        handler = _HANDLERS.get(str(row["action"]))
        if handler is not None:
            handler(self, seq, row, payload)
        subject = row["subject"]
        for kind, seen in (
            ("cycle", self.cycles),
            ("decision", self.decisions),
            ("action", self.actions),
        ):
            found = seen.get(_id_of(subject, kind) or 0)
            if found is not None:
                found.last = seq
        task_id = _id_of(subject, "task")
        if task_id is not None:
            self.task_events[task_id] = seq

    # ------------------------------------------------------------------ the events

    def _cycle(self, seq: int, row: Mapping[Any, Any]) -> _CycleSeen | None:
        cycle_id = _id_of(row["subject"], "cycle")
        if cycle_id is None:
            cycle_id = _int(row["cycle_id"])
        if cycle_id is None:
            return None
        seen = self.cycles.setdefault(cycle_id, _CycleSeen())
        if seen.first is None:
            seen.first = _Said(None, seq, str(row["action"]))
        return seen

    def _opened(self, seq: int, row: Mapping[Any, Any], payload: Mapping[str, Any] | None) -> None:
        seen = self._cycle(seq, row)
        if seen is None:
            return
        action = str(row["action"])
        seen.opened = seq
        if payload is None:
            step = UNKNOWN
        else:
            seen.process = str(payload.get("process") or "") or None
            step = payload["step"] if "step" in payload else self._initial_step(seen.process)
            step = UNKNOWN if step is None else step
        seen.state = _Said(step, seq, action)
        seen.status = _Said("open", seq, action)
        seen.enter(step, seen.state)
        said = payload if payload is not None else {}
        seen.version = _Said(said.get("version", UNKNOWN), seq, action)
        seen.digest = _Said(said.get("digest", UNKNOWN), seq, action)
        seen.group = _Said(said.get("group", UNKNOWN), seq, action)

    def _upgraded(
        self, seq: int, row: Mapping[Any, Any], payload: Mapping[str, Any] | None
    ) -> None:
        """``cycle.upgraded``: the cycle follows another version; its step and tasks stay."""
        seen = self._cycle(seq, row)
        if seen is None:
            return
        action = str(row["action"])
        said = payload if payload is not None else {}
        seen.version = _Said(said.get("to_version", UNKNOWN), seq, action)
        seen.digest = _Said(said.get("to_digest", UNKNOWN), seq, action)

    def _advanced(
        self, seq: int, row: Mapping[Any, Any], payload: Mapping[str, Any] | None
    ) -> None:
        seen = self._cycle(seq, row)
        if seen is None:
            return
        action = str(row["action"])
        step = payload.get("to", UNKNOWN) if payload is not None else UNKNOWN
        seen.state = _Said(step, seq, action)
        seen.status = _Said("open", seq, action)  # only an open cycle moves on
        seen.enter(step, seen.state)
        self._cancel(seen, seq, action, payload)

    def _closed(self, seq: int, row: Mapping[Any, Any], payload: Mapping[str, Any] | None) -> None:
        seen = self._cycle(seq, row)
        if seen is None:
            return
        action = str(row["action"])
        step = payload.get("state", UNKNOWN) if payload is not None else UNKNOWN
        seen.state = _Said(step, seq, action)
        seen.status = _Said("closed", seq, action)
        self._cancel(seen, seq, action, payload)

    def _cancel(
        self, seen: _CycleSeen, seq: int, action: str, payload: Mapping[str, Any] | None
    ) -> None:
        cancelled = payload.get("cancelled_tasks") if payload is not None else None
        if not isinstance(cancelled, list):
            seen.lost = True
            return
        for task_id in cancelled:
            number = _int(task_id)
            if number is not None:
                self.task_events[number] = seq
                self.tasks[number] = {
                    "status": _Said("cancelled", seq, action),
                    "done_by": _Said(None, seq, action),
                }

    def _done(self, seq: int, row: Mapping[Any, Any], payload: Mapping[str, Any] | None) -> None:
        task_id = _int(payload.get("task")) if payload is not None else None
        if task_id is None:
            seen = self._cycle(seq, row)
            if seen is not None:
                seen.lost = True
            return
        action = str(row["action"])
        self.task_events[task_id] = seq
        self.tasks[task_id] = {
            "status": _Said("done", seq, action),
            "done_by": _Said(row["actor"], seq, action),
        }

    def _decision(
        self, seq: int, row: Mapping[Any, Any], payload: Mapping[str, Any] | None
    ) -> None:
        action = str(row["action"])
        decision_id = _id_of(row["subject"], "decision")
        if decision_id is None and payload is not None:
            decision_id = _int(payload.get("decision"))
        if decision_id is None:
            return
        seen = self.decisions.setdefault(decision_id, _DecisionSeen())
        if seen.first is None:
            seen.first = _Said(None, seq, action)
        proposed = action == "decision.proposed"
        if proposed:
            seen.proposed = seq
            seen.fields["proposed_by"] = _Said(row["actor"], seq, action)
        if payload is None:
            for name in DECISION_FIELDS:
                if name != "proposed_by" or not proposed:
                    seen.fields[name] = _Said(UNKNOWN, seq, action)
            return
        values = {
            "title": payload.get("title", UNKNOWN),
            "routed_to": payload.get("routed_to", UNKNOWN),
            "status": "proposed" if proposed else payload.get("outcome", UNKNOWN),
            "outcome": payload.get("outcome", UNKNOWN),
            "body": payload.get("body", UNKNOWN),
            "decided_on": payload.get("date", UNKNOWN),
            "paragraph": payload.get("paragraph", UNKNOWN),
            # Recorded before there were extra meetings: at a meeting of the calendar.
            "extra_meeting": False if proposed else bool(payload.get("extra_meeting", False)),
            "recorded_by": None if proposed else row["actor"],
        }
        for name, value in values.items():
            seen.fields[name] = _Said(value, seq, action)

    def _action(self, seq: int, row: Mapping[Any, Any], payload: Mapping[str, Any] | None) -> None:
        action = str(row["action"])
        action_id = _id_of(row["subject"], "action")
        if action_id is None:
            return
        seen = self.actions.setdefault(action_id, _DecisionSeen())
        if seen.first is None:
            seen.first = _Said(None, seq, action)
        if action == "action.added":
            seen.proposed = seq
            for name in ACTION_FIELDS:
                value = payload.get(name, UNKNOWN) if payload is not None else UNKNOWN
                seen.fields[name] = _Said(value, seq, action)
            return
        if payload is None:
            names = ACTION_FIELDS if action == "action.updated" else ("status", "state")
            for name in names:
                seen.fields[name] = _Said(UNKNOWN, seq, action)
            return
        if action == "action.updated":
            changes = payload.get("changes")
            for name, values in (changes if isinstance(changes, dict) else {}).items():
                new = values[1] if isinstance(values, list) and len(values) == 2 else UNKNOWN
                seen.fields[str(name)] = _Said(new, seq, action)
            return
        for name in ("status", "state"):  # action.followed_up: [old, new]
            values = payload.get(name)
            new = values[1] if isinstance(values, list) and len(values) == 2 else UNKNOWN
            seen.fields[name] = _Said(new, seq, action)

    def _attached(
        self, seq: int, row: Mapping[Any, Any], payload: Mapping[str, Any] | None
    ) -> None:
        document = _int(payload.get("document")) if payload is not None else None
        if payload is None or document is None:
            return
        cycle_id = _id_of(row["subject"], "cycle")
        self.documents[document] = _Attached(
            seq,
            document,
            cycle_id if cycle_id is not None else _int(row["cycle_id"]),
            payload.get("filename"),
            payload.get("size"),
            payload.get("sha256"),
        )

    def _purged(self, seq: int, row: Mapping[Any, Any], payload: Mapping[str, Any] | None) -> None:
        """A purge that made generated documents again: their rows are as it says now."""
        documents = payload.get("documents") if payload is not None else None
        for key, said in (documents if isinstance(documents, dict) else {}).items():
            document = _int(key)
            attached = self.documents.get(document or 0)
            if attached is None or not isinstance(said, dict):
                continue
            self.documents[attached.document] = dataclasses.replace(
                attached, seq=seq, size=said.get("size"), sha256=said.get("sha256")
            )

    # ------------------------------------------------------------------ the rows

    def compare(self, session: Session) -> Iterator[Problem]:
        """Each row that differs from what the events say, that no event accounts for, or that
        an event speaks of and is gone."""
        yield from self._cycles(session)
        yield from self._tasks(session)
        yield from self._decisions(session)
        yield from self._actions(session)
        yield from self._documents(session)

    def _cycles(self, session: Session) -> Iterator[Problem]:
        rows: set[int] = set()
        for cycle_id, ref, state, status, version, digest, group in record.cycle_states(
            session, ROW_BATCH
        ):
            rows.add(cycle_id)
            seen = self.cycles.get(cycle_id)
            name = _("cycle {id} ({ref})").format(id=cycle_id, ref=ref)
            if seen is None or seen.opened is None:
                yield Problem(
                    None,
                    "state_unrecorded",
                    _("{name}: no cycle.opened event accounts for it (inserted?)").format(
                        name=name
                    ),
                )
                continue
            found = _differences(
                {
                    "state": state,
                    "status": status,
                    "process_version": version,
                    "process_digest": digest,
                    "group_key": group,
                },
                {
                    "state": seen.state,
                    "status": seen.status,
                    "process_version": seen.version,
                    "process_digest": seen.digest,
                    "group_key": seen.group,
                },
            )
            if found:
                yield _mismatch(name, found, seen.last)
        for cycle_id in sorted(self.cycles.keys() - rows):
            first = self.cycles[cycle_id].first
            assert first is not None
            yield _gone(_("cycle {id}").format(id=cycle_id), first)

    def _tasks(self, session: Session) -> Iterator[Problem]:
        rows: set[int] = set()
        for task_id, cycle_id, step, status, done_by in record.task_states(session, ROW_BATCH):
            rows.add(task_id)
            name = _("task {id} (cycle {cycle}, step {step})").format(
                id=task_id, cycle=cycle_id, step=repr(step)
            )
            cycle = self.cycles.get(cycle_id)
            said = self.tasks.get(task_id)
            if cycle is None or cycle.opened is None:
                if said is None:
                    yield Problem(
                        None,
                        "state_unrecorded",
                        _(
                            "{name}: no event accounts for it: its cycle was never opened"
                            " (inserted?)"
                        ).format(name=name),
                    )
                    continue
            elif cycle.steps is not None and step not in cycle.steps:
                yield Problem(
                    None,
                    "state_unrecorded",
                    _(
                        "{name}: no event accounts for it: the cycle never entered that step"
                        " (inserted?)"
                    ).format(name=name),
                )
                continue
            # The newest event about the task; for one no event is about, its cycle's.
            latest = self.task_events.get(task_id) or (cycle.last if cycle else None) or None
            if said is not None:
                found = _differences({"status": status, "done_by": done_by}, said)
                if found:
                    yield _mismatch(name, found, latest)
            elif status != "open" and not (cycle is not None and cycle.lost):
                made = cycle.steps.get(step) if cycle is not None and cycle.steps else None
                message = (
                    _(
                        "{name}: status is {status} but no event says it was done or cancelled"
                        " since event {seq} ({action}) made it 'open' (edited?)"
                    )
                    if made
                    else _(
                        "{name}: status is {status} but no event says it was done or cancelled:"
                        " it was made 'open' (edited?)"
                    )
                )
                yield Problem(
                    latest,
                    "state_mismatch",
                    message.format(
                        name=name,
                        status=_show(status),
                        seq=made.seq if made else None,
                        action=made.action if made else None,
                    ),
                )
        for task_id in sorted(self.tasks.keys() - rows):
            yield _gone(_("task {id}").format(id=task_id), self.tasks[task_id]["status"])

    def _decisions(self, session: Session) -> Iterator[Problem]:
        values = record.decision_values(session, DECISION_FIELDS, ROW_BATCH)
        yield from _compare_replayed(
            values,
            DECISION_FIELDS,
            self.decisions,
            N_("decision {id}"),
            N_("{name}: no decision.proposed event accounts for it (inserted?)"),
        )

    def _actions(self, session: Session) -> Iterator[Problem]:
        values = record.action_values(session, ACTION_FIELDS, ROW_BATCH)
        yield from _compare_replayed(
            values,
            ACTION_FIELDS,
            self.actions,
            N_("action {id}"),
            N_("{name}: no action.added event accounts for it (inserted?)"),
        )

    def _documents(self, session: Session) -> Iterator[Problem]:
        rows: set[int] = set()
        for document_id, cycle_id, filename, size, sha256, content in record.documents(
            session, DOCUMENT_BATCH
        ):
            rows.add(document_id)
            name = _("document {id} ({file}, cycle {cycle})").format(
                id=document_id, file=filename, cycle=cycle_id
            )
            event = self.documents.get(document_id)
            if event is None:
                yield Problem(
                    None,
                    "document_unrecorded",
                    _("{name}: no document.attached event records it (inserted?)").format(
                        name=name
                    ),
                )
                continue
            said = {
                "cycle": _Said(event.cycle_id, event.seq, "document.attached"),
                "filename": _Said(event.filename, event.seq, "document.attached"),
                "size": _Said(event.size, event.seq, "document.attached"),
                "sha256": _Said(event.sha256, event.seq, "document.attached"),
            }
            actual = {"cycle": cycle_id, "filename": filename, "size": size, "sha256": sha256}
            found = _differences(actual, said)
            if found:
                yield _mismatch(name, found, event.seq, kind="document_changed")
            elif hashlib.sha256(content).hexdigest() != event.sha256 or len(content) != size:
                yield Problem(
                    event.seq,
                    "document_changed",
                    _(
                        "{name}: content does not match the SHA-256 recorded when it was attached"
                        " (event {seq}) (changed?)"
                    ).format(name=name, seq=event.seq),
                )
        for document_id in sorted(self.documents.keys() - rows):
            event = self.documents[document_id]
            yield Problem(
                event.seq,
                "document_missing",
                _(
                    "document {id} ({file}, cycle {cycle}), attached by event {seq}, is gone"
                    " (deleted?)"
                ).format(id=document_id, file=event.filename, cycle=event.cycle_id, seq=event.seq),
            )


_Handler = Callable[[Replay, int, Mapping[Any, Any], Mapping[str, Any] | None], None]

_HANDLERS: dict[str, _Handler] = {
    "cycle.opened": Replay._opened,
    "cycle.advanced": Replay._advanced,
    "cycle.closed": Replay._closed,
    "cycle.upgraded": Replay._upgraded,
    "task.done": Replay._done,
    "decision.proposed": Replay._decision,
    "decision.recorded": Replay._decision,
    "document.attached": Replay._attached,
    audit.PURGE_ACTION: Replay._purged,
    "action.added": Replay._action,
    "action.updated": Replay._action,
    "action.followed_up": Replay._action,
}


def _initial_step_from_catalog(process: str | None) -> str | None:
    """The initial step of ``process`` as shipped: for ``cycle.opened`` events written before
    they said their step. None when it is not known."""
    from tsk_workflow.catalog import load_catalog

    definition = load_catalog().definitions.get(process or "")
    return definition.initial_step if definition is not None else None


def _compare_replayed(
    rows: Iterator[tuple[int, list[Any]]],
    fields: tuple[str, ...],
    seen: Mapping[int, _DecisionSeen],
    naming: str,
    unrecorded: str,
) -> Iterator[Problem]:
    """Each row of ``rows`` (an id and the values of ``fields``) against what the events said
    of it (``seen``, by id; dates as the events write them, ISO 8601), and each row the events
    speak of that is gone. ``naming`` names a row (``decision {id}``), ``unrecorded`` says that
    no event made it."""
    found_rows: set[int] = set()
    for row_id, values in rows:
        found_rows.add(row_id)
        said = seen.get(row_id)
        name = _(naming).format(id=row_id)
        if said is None or said.proposed is None:
            yield Problem(None, "state_unrecorded", _(unrecorded).format(name=name))
            continue
        actual = {
            key: value.isoformat() if isinstance(value, dt.date) else value
            for key, value in zip(fields, values, strict=True)
        }
        found = _differences(actual, said.fields)
        if found:
            yield _mismatch(name, found, said.last)
    for row_id in sorted(seen.keys() - found_rows):
        first = seen[row_id].first
        assert first is not None
        yield _gone(_(naming).format(id=row_id), first)


def _show(value: Any) -> str:
    return _("empty") if value is None else repr(value)


def _differences(
    actual: Mapping[str, Any], said: Mapping[str, _Said | None]
) -> list[tuple[str, Any, _Said]]:
    return [
        (name, actual[name], expected)
        for name, expected in said.items()
        if expected is not None
        and expected.value is not UNKNOWN
        and name in actual
        and actual[name] != expected.value
    ]


def _mismatch(
    name: str, found: list[tuple[str, Any, _Said]], seq: int | None, kind: str = "state_mismatch"
) -> Problem:
    """One problem for one row: each field that differs, with the event that says otherwise;
    ``seq`` is the newest event about the row (the row must be so from there on)."""
    parts = []
    named: set[int] = set()
    for field_name, actual, said in found:
        event = (
            _("event {seq}").format(seq=said.seq)
            if said.seq in named
            else _("event {seq} ({action})").format(seq=said.seq, action=said.action)
        )
        named.add(said.seq)
        parts.append(
            _("{field} is {actual} but {event} says {said}").format(
                field=field_name, actual=_show(actual), event=event, said=_show(said.value)
            )
        )
    latest = max(said.seq for _n, _a, said in found)
    return Problem(max(seq or 0, latest), kind, f"{name}: {'; '.join(parts)}")


def _gone(name: str, said: _Said) -> Problem:
    return Problem(
        said.seq,
        "state_mismatch",
        _("{name}: there is no such row, but event {seq} ({action}) is about it (deleted?)").format(
            name=name, seq=said.seq, action=said.action
        ),
    )


def verify_record(session: Session, *, hashes_at: Collection[int] = ()) -> audit.VerifyResult:
    """The chain (``audit.verify``), the documents and the state replayed from the events, in
    one read of ``session``: a fresh one, as its first statement makes it one snapshot
    (``record.one_snapshot``). ``hashes_at``: the sequence numbers whose hashes checkpoints need
    (``VerifyResult.hashes``)."""
    record.one_snapshot(session)
    replay = Replay()
    result = audit.verify(session, observe=replay, hashes_at=hashes_at)
    return audit.with_problems(result, list(replay.compare(session)))


FAILED_ACTION = "audit.verification_failed"
RECORDED_PROBLEMS = 5
"""How many problems (``seq`` and ``kind``) the event of a failed verification names."""


def record_failure(
    store: Store,
    result: audit.VerifyResult,
    actor: str | None,
    org: str | None,
    os_user: str,
    now: dt.datetime,
) -> int:
    """Append ``audit.verification_failed`` in a transaction of its own: who ran the check
    (``actor``, else the system), as which OS user, and what it found; returns its seq. The
    chain is the database's, so the event goes in the trail of the only municipality loaded,
    or of ``org`` (a key or a file named after one) when it is loaded, else ``*`` (all)."""
    from tsk_workflow.engine.directory import SYSTEM

    who = (actor or SYSTEM)[:64]
    payload = {
        "problems": result.problem_count,
        "first": [{"seq": p.seq, "kind": p.kind} for p in result.problems[:RECORDED_PROBLEMS]],
        "os_user": os_user,
    }
    with store.transaction() as session:
        keys = record.municipality_keys(session)
        named = Path(org).stem if org else None
        municipality = keys[0] if len(keys) == 1 else (named if named in keys else "*")
        role = "system" if who == SYSTEM else "auditor"
        act = audit.Act(municipality, who, role, FAILED_ACTION, "audit:chain", payload)
        return audit.append(session, act, now).seq
