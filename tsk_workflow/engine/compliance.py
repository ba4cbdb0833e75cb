"""What Lag (2023:196) asks of a municipality, and where it stands: ``tsk compliance``.

Each item is green, yellow or red, with the reason in words, the law's section and, where the
law leaves the cadence to the municipality, the municipality's setting (``compliance:`` in the
organisation file), shown as its choice:

- the strategic lägesbild (4 §): the last one written (the answers of a strategic process's
  form, ``STRATEGIC_PROCESSES``), its date, and whether its three parts are there: the
  kartläggning of crime, its extent and consequences; other information; the analysis. A
  lägesbild attached without the form counts, with its parts unknown (yellow);
- the decided åtgärdsplan (4 §): the version in force (``engine.action_plans``) with body,
  date and §; one decided before the current lägesbild is yellow (take a position again);
- the samordningsfunktion (prop. 2022/23:43): its holders and the contact route;
- the follow-up that is due: each active action of the register (those of the plan in force
  and those added since) followed up within ``compliance.followup_interval``;
- the actions past their due date;
- the municipality's own policy documents whose follow-up or revision has come (``policies``).

The view reads; it decides nothing and records nothing. ``now`` is the engine's clock.
Who may see it through the service: :func:`may_read`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tsk_workflow.engine import access, action_plans
from tsk_workflow.engine.actions import Actions, ActionView
from tsk_workflow.engine.directory import PermissionDenied
from tsk_workflow.i18n import N_, _
from tsk_workflow.organisation.model import Organisation, add_period
from tsk_workflow.store import compliance as stored

if TYPE_CHECKING:
    from tsk_workflow.engine.service import Engine

LEVELS = ("green", "yellow", "red")
STRATEGIC_PROCESSES = ("fordjupad_lagesbild",)
"""The processes whose cycles make the strategic lägesbild the law asks for."""
STRATEGIC_TASKS = ("skriv_lagesbild",)
"""Their tasks whose form holds the lägesbild's parts."""
SECTIONS = {
    "kartlaggning": N_("the kartläggning of crime, its extent and consequences"),
    "ovrig_information": N_("other information"),
    "analys": N_("the analysis"),
}
"""The parts of a lägesbild under 4 §, by the keys of the form's questions."""
SOON = dt.timedelta(days=90)
"""How long before a renewal or a follow-up falls due an item turns yellow."""
LAW = "lag (2023:196)"


@dataclass(frozen=True)
class Item:
    """One requirement and where the municipality stands: ``level`` green, yellow or red."""

    key: str
    title: str
    level: str
    reason: str
    law: str
    setting: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "level": self.level,
            "reason": self.reason,
            "law": self.law,
            "setting": self.setting,
            "details": self.details,
        }


@dataclass(frozen=True)
class Compliance:
    municipality: str
    name: str
    day: dt.date
    items: tuple[Item, ...]

    @property
    def level(self) -> str:
        """The worst level of the items."""
        return max((i.level for i in self.items), key=LEVELS.index, default="green")

    def to_dict(self) -> dict[str, Any]:
        return {
            "municipality": self.municipality,
            "name": self.name,
            "date": self.day.isoformat(),
            "level": self.level,
            "items": [i.to_dict() for i in self.items],
        }


def compliance(engine: Engine) -> Compliance:
    """Where ``engine``'s municipality stands today (see the module's docstring)."""
    now = engine.clock()
    today = now.astimezone(engine.cal.zone).date()
    lagesbild, lagesbild_day = _lagesbild(engine, today)
    plan_item, plan = _plan(engine, today, lagesbild_day)
    register = Actions(engine)
    active = register.listing()
    items = [
        lagesbild,
        plan_item,
        _samordningsfunktion(engine),
        _followups(engine, today, active),
        _overdue(active, today),
    ]
    if engine.org.policies:
        items.append(_policies(engine, today))
    return Compliance(engine.org.municipality, engine.org.name, today, tuple(items))


def may_read(org: Organisation, person: str) -> bool:
    """Whether ``person`` may see where the municipality stands (the web page, the API).

    Those who answer for the work: the admins, the holders of the samordningsfunktion, the
    chairs of the standing groups and their deputies (the styrgrupp's among them), and those
    the organisation grants ``read_all_tasks`` or ``read_audit``. Not every member of a group:
    the view names the overdue actions and the follow-up left undone of the whole register.
    On a database, ``tsk compliance`` is the operator's and is not checked."""
    if person in org.admins:
        return True
    function = org.samordningsfunktion
    if function is not None and person in function.holders:
        return True
    if any(person in (g.chair, g.deputy) for g in org.groups):
        return True
    return any(
        access.has_permission(org, person, p) for p in (access.READ_ALL_TASKS, access.READ_AUDIT)
    )


def require_read(engine: Engine, person: str) -> None:
    """Refuse (a ``PermissionDenied``, its refusal recorded) unless :func:`may_read`."""
    if may_read(engine.org, person):
        return
    exc = PermissionDenied(
        person,
        "read_compliance",
        f"municipality:{engine.org.municipality}",
        _(
            "{person} may not see what the law asks of {organisation}: it is for the admins,"
            " the samordningsfunktion, the chairs of the groups and those who may read every"
            " task or the audit trail"
        ).format(person=person, organisation=engine.org.name),
    )
    engine.record_refusal(exc)
    raise exc


# ---------------------------------------------------------------- the items


def _setting(name: str, value: str) -> str:
    return _("the municipality's choice: {every} ({name}: {value})").format(
        every=period_words(value), name=f"compliance.{name}", value=value
    )


def period_words(period: str) -> str:
    """``P2Y`` as people say it: "every 2 years" (``vart 2:e år``); a period of several
    units stays as written."""
    match = re.fullmatch(r"P(\d+)([YMWD])", period)
    if match is None:
        return period
    n, unit = int(match[1]), match[2]
    if n == 1:
        return {
            "Y": _("every year"),
            "M": _("every month"),
            "W": _("every week"),
            "D": _("every day"),
        }[unit]
    words = {
        "Y": _("every {n} years"),
        "M": _("every {n} months"),
        "W": _("every {n} weeks"),
        "D": _("every {n} days"),
    }
    return words[unit].format(n=n)


def _lagesbild(engine: Engine, today: dt.date) -> tuple[Item, dt.date | None]:
    org = engine.org
    renewal = org.compliance.lagesbild_renewal
    setting = _setting("lagesbild_renewal", renewal)
    law = f"4 § {LAW}"
    title = _("Strategic lägesbild")
    with engine.store.reading() as session:
        answered = stored.answered_tasks(
            session, org.municipality, STRATEGIC_PROCESSES, STRATEGIC_TASKS
        )
        attached = stored.documents_of(session, org.municipality, STRATEGIC_PROCESSES, "lagesbild")
        found = [
            (task.done_at, cycle.ref, dict(task.answers or {}))
            for task, cycle in answered
            if task.done_at is not None
        ]
    if not found and not attached:
        return Item(
            "lagesbild",
            title,
            "red",
            _("no strategic lägesbild has been written"),
            law,
            setting,
        ), None
    if found:
        done_at, ref, answers = found[0]
        missing = [key for key in SECTIONS if not str(answers.get(key) or "").strip()]
    else:
        done_at, ref = attached[0]
        missing = None
    day = done_at.astimezone(engine.cal.zone).date()
    renew_by = add_period(day, renewal)
    details: dict[str, Any] = {
        "date": day.isoformat(),
        "cycle": ref,
        "renew_by": renew_by.isoformat(),
        "sections": None if missing is None else {k: k not in missing for k in SECTIONS},
    }
    if renew_by < today:
        level, reason = "red", _("the last one, {date} ({cycle}), was due for renewal {renew}")
    elif missing:
        level = "red"
        reason = _("the lägesbild of {date} ({cycle}) lacks {parts}").format(
            date="{date}",
            cycle="{cycle}",
            parts=", ".join(_(SECTIONS[k]) for k in missing),
        )
    elif missing is None:
        level = "yellow"
        reason = _(
            "the lägesbild of {date} ({cycle}) is attached, but its three parts are not recorded"
            " (the form of the task that writes it)"
        )
    elif renew_by - SOON < today:
        level, reason = "yellow", _("{date} ({cycle}), with its three parts; renew by {renew}")
    else:
        level, reason = "green", _("{date} ({cycle}), with its three parts; renew by {renew}")
    text = reason.format(date=day.isoformat(), cycle=ref, renew=renew_by.isoformat())
    return Item("lagesbild", title, level, text, law, setting, details), day


def _plan(
    engine: Engine, today: dt.date, lagesbild_day: dt.date | None
) -> tuple[Item, action_plans.PlanVersion | None]:
    renewal = engine.org.compliance.plan_renewal
    setting = _setting("plan_renewal", renewal)
    law = f"4 § {LAW}"
    title = _("Decided åtgärdsplan")
    versions = action_plans.versions(engine)
    current = next((v for v in versions if v.in_force), None)
    pending = next((v for v in versions if v.status in ("proposed", "postponed")), None)
    waiting = (
        " "
        + _("(version {version} is proposed to {body})").format(
            version=pending.version, body=pending.routed_to.upper()
        )
        if pending is not None
        else ""
    )
    if current is None or current.decided_on is None:
        return Item(
            "atgardsplan",
            title,
            "red",
            _("no åtgärdsplan has been decided") + waiting,
            law,
            setting,
        ), None
    decided = current.decided_on
    renew_by = add_period(decided, renewal)
    words = _("version {version}, {body} {date} {paragraph}, {n} actions").format(
        version=current.version,
        body=(current.body or "").upper(),
        date=decided.isoformat(),
        paragraph=current.paragraph or "",
        n=len(current.action_ids),
    )
    details = {
        "version": current.version,
        "body": current.body,
        "date": decided.isoformat(),
        "paragraph": current.paragraph,
        "decision": current.decision_id,
        "actions": len(current.action_ids),
        "renew_by": renew_by.isoformat(),
    }
    if renew_by < today:
        level = "red"
        reason = _("{plan}: due to be decided anew by {renew}").format(
            plan=words, renew=renew_by.isoformat()
        )
    elif lagesbild_day is not None and decided < lagesbild_day:
        level = "yellow"
        reason = _(
            "{plan}: decided before the current lägesbild ({date}): take a position on the"
            " measures again"
        ).format(plan=words, date=lagesbild_day.isoformat())
    else:
        level, reason = "green", words
    return Item("atgardsplan", title, level, reason + waiting, law, setting, details), current


def _samordningsfunktion(engine: Engine) -> Item:
    org = engine.org
    title = _("Samordningsfunktion")
    law = f"{LAW}; prop. 2022/23:43"
    function = org.samordningsfunktion
    if function is None or not function.holders:
        return Item("samordningsfunktion", title, "red", _("no samordningsfunktion is named"), law)
    names = [p.name for p in (org.person(h) for h in function.holders) if p is not None]
    contact = function.contact
    route = ", ".join(x for x in (contact.email, contact.phone, contact.web) if x)
    details = {"holders": list(function.holders), "contact": route}
    if not names:
        return Item(
            "samordningsfunktion",
            title,
            "red",
            _("its holders are no longer people of the organisation"),
            law,
            None,
            details,
        )
    if not route:
        return Item(
            "samordningsfunktion",
            title,
            "yellow",
            _("{people}; no external contact route").format(people=", ".join(names)),
            law,
            None,
            details,
        )
    reason = _("{people}; reached at {route}").format(people=", ".join(names), route=route)
    return Item("samordningsfunktion", title, "green", reason, law, None, details)


def _followups(engine: Engine, today: dt.date, held: Sequence[ActionView]) -> Item:
    interval = engine.org.compliance.followup_interval
    setting = _setting("followup_interval", interval)
    title = _("Follow-up of the actions")
    law = _("{law}; Brå: follow-up and evaluation").format(law=f"4 § {LAW}")
    if not held:
        return Item(
            "uppfoljning",
            title,
            "yellow",
            _("no active actions to follow up"),
            law,
            setting,
        )
    due = []
    for view in held:
        last = view.last_followup.at if view.last_followup else view.created_at
        by = add_period(last.astimezone(engine.cal.zone).date(), interval)
        due.append((by, view.id))
    late = sorted(number for by, number in due if by < today)
    soonest = min(by for by, _number in due)
    details = {"late": late, "next": soonest.isoformat(), "actions": len(held)}
    if late:
        level = "red" if len(late) * 2 > len(held) else "yellow"
        reason = _(
            "{n} of {total} active actions not followed up as often as chosen ({interval}): {ids}"
        )
        text = reason.format(
            n=len(late),
            total=len(held),
            interval=period_words(interval),
            ids=", ".join(f"#{n}" for n in late),
        )
        return Item("uppfoljning", title, level, text, law, setting, details)
    level = "yellow" if soonest - dt.timedelta(days=30) < today else "green"
    text = _("{total} active actions followed up; the next follow-up is due {date}").format(
        total=len(held), date=soonest.isoformat()
    )
    return Item("uppfoljning", title, level, text, law, setting, details)


def _overdue(active: Sequence[ActionView], today: dt.date) -> Item:
    title = _("Actions past their due date")
    late = [a for a in active if a.overdue]
    details = {"overdue": [a.id for a in late]}
    if not late:
        return Item("forsenade", title, "green", _("none"), _plan_law(), None, details)
    longest = max((today - a.due).days for a in late)
    level = "red" if longest > SOON.days else "yellow"
    text = _("{n} overdue, the longest by {days} days: {ids}").format(
        n=len(late), days=longest, ids=", ".join(f"#{a.id}" for a in late)
    )
    return Item("forsenade", title, level, text, _plan_law(), None, details)


def _plan_law() -> str:
    return _("the åtgärdsplan ({law})").format(law=f"4 § {LAW}")


def _policies(engine: Engine, today: dt.date) -> Item:
    title = _("The municipality's own policy documents")
    due: list[str] = []
    soon: list[str] = []
    for policy in engine.org.policies:
        name = policy.title.get(_language())
        for kind, day in (
            (_("follow-up"), policy.next_follow_up),
            (_("revision"), policy.next_revision),
        ):
            if day is None:
                continue
            if day < today:
                due.append(f"{name}: {kind} {day.isoformat()}")
            elif day - SOON < today:
                soon.append(f"{name}: {kind} {day.isoformat()}")
    details = {"due": due, "soon": soon}
    law = _("the municipality's own decision")
    if due:
        return Item("styrdokument", title, "yellow", "; ".join(due), law, None, details)
    if soon:
        return Item("styrdokument", title, "green", "; ".join(soon), law, None, details)
    return Item("styrdokument", title, "green", _("none due"), law, None, details)


def _language() -> str:
    from tsk_workflow import i18n

    return i18n.language()
