"""Checks of an organisation file that need the whole file and the process definitions."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import TypeAdapter, ValidationError

from tsk_workflow.definitions.model import CHAIR, ProcessDefinition, Schedule
from tsk_workflow.definitions.reader import Document, Problem
from tsk_workflow.definitions.validate import Found, error_text, model_problems
from tsk_workflow.errors import did_you_mean
from tsk_workflow.i18n import _
from tsk_workflow.organisation.model import PERMISSIONS, Organisation

Definitions = Mapping[str, ProcessDefinition]


def effective_schedule(
    definition: ProcessDefinition, override: Mapping[str, object] | None
) -> Schedule:
    """The definition's schedule with the municipality's keys laid over it."""
    if not override:
        return definition.schedule
    merged = {**definition.schedule.model_dump(), **override}
    if "kind" in override and override["kind"] != definition.schedule.kind:
        merged = dict(override)
    result: Schedule = TypeAdapter(Schedule).validate_python(merged)
    return result


def check_organisation(org: Organisation, definitions: Definitions) -> list[Found]:
    checks: list[Callable[[Organisation], Iterable[Found]]] = [
        _unique_keys,
        _calendar,
        _groups,
        _admins,
        _permissions,
        _unique_logins,
        _mail_templates,
        _areas,
        _routing,
        _bodies,
        _event_partners,
        _samordningsfunktion,
        _policies,
    ]
    found = [problem for check in checks for problem in check(org)]
    found += _processes(org, definitions)
    return found


def _unique_keys(org: Organisation) -> Iterator[Found]:
    for field, items in (
        ("people", org.people),
        ("groups", org.groups),
        ("towns", org.towns),
        ("areas", org.areas),
    ):
        seen: set[str] = set()
        for index, item in enumerate(items):
            key = str(getattr(item, "id", None) or getattr(item, "key", ""))
            if key in seen:
                message = _("'{key}' appears twice in {field}").format(key=key, field=field)
                yield ((field, index), message)
            seen.add(key)
    yield from _unique_emails(org)


def _unique_emails(org: Organisation) -> Iterator[Found]:
    seen: dict[str, str] = {}
    for index, person in enumerate(org.people):
        email = person.email.lower()
        if email in seen:
            yield (
                ("people", index, "email"),
                _("{email} is also the address of '{person}'").format(
                    email=person.email, person=seen[email]
                ),
            )
        seen.setdefault(email, person.id)


def _calendar(org: Organisation) -> Iterator[Found]:
    try:
        ZoneInfo(org.calendar.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        message = _("unknown time zone '{zone}'").format(zone=org.calendar.timezone)
        yield (("calendar", "timezone"), message)


def _person_ref(
    org: Organisation, person_id: str | None, path: tuple[str | int, ...]
) -> Iterator[Found]:
    if person_id is not None and org.person(person_id) is None:
        yield (path, _("unknown person '{person}'").format(person=person_id))


def _groups(org: Organisation) -> Iterator[Found]:
    for i, group in enumerate(org.groups):
        yield from _person_ref(org, group.chair, ("groups", i, "chair"))
        yield from _person_ref(org, group.deputy, ("groups", i, "deputy"))
        for j, member in enumerate(group.members):
            yield from _person_ref(org, member, ("groups", i, "members", j))


def _admins(org: Organisation) -> Iterator[Found]:
    for i, admin in enumerate(org.admins):
        yield from _person_ref(org, admin, ("admins", i))


def _permissions(org: Organisation) -> Iterator[Found]:
    """Each name under ``permissions:`` is a person or a role someone holds (or stands in for)."""
    roles = {role for p in org.people for role in (*p.roles, *p.deputy_for)}
    for name in PERMISSIONS:
        for i, who in enumerate(getattr(org.permissions, name)):
            if org.person(who) is None and who not in roles:
                message = _("'{name}' is neither a person nor a role anyone holds").format(name=who)
                yield (("permissions", name, i), message)


def _unique_logins(org: Organisation) -> Iterator[Found]:
    seen: dict[str, str] = {}
    for index, person in enumerate(org.people):
        if person.login is None:
            continue
        if person.login in seen:
            yield (
                ("people", index, "login"),
                _("login '{login}' is also the login of '{person}'").format(
                    login=person.login, person=seen[person.login]
                ),
            )
        seen.setdefault(person.login, person.id)


def _areas(org: Organisation) -> Iterator[Found]:
    towns = {town.key for town in org.towns}
    for i, area in enumerate(org.areas):
        for j, town in enumerate(area.towns):
            if town not in towns:
                message = _("unknown town '{town}' in area '{area}'").format(
                    town=town, area=area.key
                )
                yield (("areas", i, "towns", j), message)
    if sum(town.main for town in org.towns) > 1:
        yield (("towns",), _("more than one town is marked main"))


SETTLED_BODIES = ("klg", "ks")
"""Bodies a rule may route to without settings under ``bodies:`` (the kansli records)."""


def _routing(org: Organisation) -> Iterator[Found]:
    """Each rule has a condition, and a target other than KLG or KS has settings under
    ``bodies:`` (who records its decisions). A rule marked ``example`` is no error: ``tsk org
    show`` and the route's reason mark it until the municipality sets it."""
    if org.routing.default is None:
        message = _("routing rules have no default: add 'default: klg' or 'default: ks'")
        yield (("routing",), message)
    elif org.routing.default not in (*SETTLED_BODIES, *org.bodies):
        yield (("routing", "default"), _unsettled(org.routing.default))
    for index, rule in enumerate(org.routing.rules):
        if rule.when == type(rule.when)():
            message = _("rule '{rule}' has no condition").format(rule=rule.name)
            yield (("routing", "rules", index, "when"), message)
        if rule.to not in (*SETTLED_BODIES, *org.bodies):
            yield (("routing", "rules", index, "to"), _unsettled(rule.to))


def _unsettled(body: str) -> str:
    return _(
        "'{body}' has no settings under 'bodies:': give its name and who records its decisions"
    ).format(body=body)


def _bodies(org: Organisation) -> Iterator[Found]:
    from dateutil.rrule import rrulestr

    roles = {role for p in org.people for role in (*p.roles, *p.deputy_for)}
    for key, body in org.bodies.items():
        yield from _person_ref(org, body.secretary, ("bodies", key, "secretary"))
        if body.group is not None and org.group(body.group) is None:
            message = _("unknown group '{group}'").format(group=body.group)
            yield (
                ("bodies", key, "group"),
                message + did_you_mean(body.group, [g.key for g in org.groups]),
            )
        for i, who in enumerate(body.recorders):
            if org.person(who) is None and who not in roles:
                message = _("'{name}' is neither a person nor a role anyone holds").format(name=who)
                yield (("bodies", key, "recorders", i), message)
        if not body.meets and (body.meetings.rrule or body.meetings.dates):
            message = _("a body that decides without a meeting has no meeting dates")
            yield (("bodies", key, "meetings"), message)
        if not body.meets and not (body.secretary or body.group or body.recorders):
            message = _(
                "a body that decides without a meeting needs 'recorders': who decides and"
                " records (a role such as forvaltningschef, or a person)"
            )
            yield (("bodies", key), message)
        if body.meetings.rrule is None:
            continue
        try:
            rrulestr(body.meetings.rrule)
        except (ValueError, TypeError) as exc:
            detail = str(exc)
            if "unpack" in detail:  # a part without '=': dateutil's message is about Python
                detail = _("expected NAME=VALUE parts separated by ';' (FREQ=MONTHLY;BYDAY=-1MO)")
            message = _("bad meeting rule: {detail}").format(detail=detail)
            yield (("bodies", key, "meetings", "rrule"), message)


def _event_partners(org: Organisation) -> Iterator[Found]:
    """Each partner organisation of ``events.partners`` is the department of someone."""
    departments = {p.department for p in org.people if p.department}
    for i, partner in enumerate(org.events.partners):
        if not any(org.events.partner_of(d) == partner for d in departments):
            message = _("no person's department is '{partner}' (or begins with it)").format(
                partner=partner
            )
            yield (("events", "partners", i), message)


def _samordningsfunktion(org: Organisation) -> Iterator[Found]:
    """The law asks every municipality for a coordinating function: it must be named, held by
    people of the organisation, and reachable from outside."""
    function = org.samordningsfunktion
    path: tuple[str | int, ...] = ("samordningsfunktion",)
    if function is None:
        message = _(
            "the organisation names no samordningsfunktion: Lag (2023:196) asks every"
            " municipality for a coordinating function; add 'samordningsfunktion:' with the"
            " people who hold it (holders) and how partners and the public reach it (contact)"
        )
        yield (path, message)
        return
    if not function.holders:
        message = _(
            "the samordningsfunktion names nobody: list under 'holders' the person ids of the"
            " people who hold it"
        )
        yield ((*path, "holders"), message)
    for i, holder in enumerate(function.holders):
        if org.person(holder) is None:
            message = _("the samordningsfunktion names '{person}', who is not among the people")
            yield (
                (*path, "holders", i),
                message.format(person=holder) + did_you_mean(holder, [p.id for p in org.people]),
            )
    if function.contact.empty:
        message = _(
            "the samordningsfunktion's contact route gives no way in: give its email, phone"
            " or web page"
        )
        yield ((*path, "contact"), message)


def _policies(org: Organisation) -> Iterator[Found]:
    """Each policy document has a key of its own and an owner who is a person or a role."""
    roles = {role for p in org.people for role in (*p.roles, *p.deputy_for)}
    seen: set[str] = set()
    for i, policy in enumerate(org.policies):
        if policy.key in seen:
            message = _("'{key}' appears twice in {field}").format(key=policy.key, field="policies")
            yield (("policies", i, "key"), message)
        seen.add(policy.key)
        if org.person(policy.owner) is None and policy.owner not in roles:
            message = _(
                "the owner '{name}' of policy '{policy}' is neither a person nor a role anyone"
                " holds"
            ).format(name=policy.owner, policy=policy.key)
            yield (("policies", i, "owner"), message)
        adopted = policy.decided.date if policy.decided else None
        for field in ("last_followed_up", "last_revised"):
            day = getattr(policy, field)
            if adopted is not None and day is not None and day < adopted:
                message = _(
                    "{field} {date} of policy '{policy}' is before its decision ({decided})"
                )
                yield (
                    ("policies", i, field),
                    message.format(
                        field=field, date=day, policy=policy.key, decided=adopted.isoformat()
                    ),
                )


def _processes(org: Organisation, definitions: Definitions) -> Iterator[Found]:
    for key, settings in org.processes.items():
        path: tuple[str | int, ...] = ("processes", key)
        definition = definitions.get(key)
        if definition is None:
            message = _("unknown process '{process}'").format(process=key)
            yield (path, message + did_you_mean(key, definitions))
            continue
        yield from _process_group(org, definition, settings.group, (*path, "group"))
        for index, other in enumerate(settings.also_run_by):
            where = (*path, "also_run_by", index)
            if other == settings.group or other in settings.also_run_by[:index]:
                yield (where, _("group '{group}' is named twice").format(group=other))
                continue
            yield from _process_group(org, definition, other, where)
        yield from _process_roles(org, definition, path)
        yield from _process_schedule(org, definition, settings.schedule, path)


def _process_group(
    org: Organisation, definition: ProcessDefinition, key: str, path: tuple[str | int, ...]
) -> Iterator[Found]:
    """The group ``key`` at ``path`` exists, and its chair holds the role that chairs the
    process."""
    groups = [g.key for g in org.groups]
    group = org.group(key)
    if group is None:
        yield (path, _("unknown group '{group}'").format(group=key) + did_you_mean(key, groups))
        return
    chair = org.person(group.chair)
    if chair is not None and definition.chair not in (*chair.roles, *chair.deputy_for):
        yield (
            path,
            _(
                "process '{process}' is chaired by the {role}, but the chair of "
                "group '{group}' ({person}) does not hold that role"
            ).format(process=definition.key, role=definition.chair, group=key, person=chair.id),
        )


def _process_roles(
    org: Organisation, definition: ProcessDefinition, path: tuple[str | int, ...]
) -> Iterator[Found]:
    used = {task.role for step in definition.steps for task in step.tasks} - {CHAIR}
    for role in sorted(used):
        if not org.holders(role) and not org.deputies(role):
            message = _("process '{process}' needs role '{role}', but nobody holds it")
            yield (path, message.format(process=definition.key, role=role))


def _process_schedule(
    org: Organisation,
    definition: ProcessDefinition,
    override: Mapping[str, object] | None,
    path: tuple[str | int, ...],
) -> Iterator[Found]:
    try:
        schedule = effective_schedule(definition, override)
    except ValidationError as exc:
        for error in exc.errors():
            loc = list(error["loc"])
            if loc and isinstance(override, Mapping) and loc[0] not in override:
                loc = loc[1:]  # pydantic puts the union tag (monthly, ...) first
            where = ".".join(str(part) for part in ("schedule", *loc))
            ctx = error.get("ctx", {})
            if error["type"] == "extra_forbidden":
                fields = type(definition.schedule).model_fields
                message = _("unknown schedule key '{key}'").format(key=loc[-1])
                message += did_you_mean(str(loc[-1]), fields)
            elif error["type"] == "missing":
                message = _("missing key '{key}' in schedule").format(key=loc[-1])
            elif error["type"] == "union_tag_invalid":
                expected = ctx.get("expected_tags", "")
                message = _("unknown schedule kind '{kind}', expected one of {expected}").format(
                    kind=ctx.get("tag"), expected=expected
                )
            else:
                message = f"{where}: {error_text(error)}"
            yield ((*path, "schedule", *loc), message)
        return
    over = getattr(schedule, "over", None)
    if over == "towns" and not org.towns:
        yield (
            (*path, "schedule"),
            _("schedule of '{process}' rotates over towns, none listed").format(
                process=definition.key
            ),
        )
    if over == "areas" and not org.areas:
        message = _("schedule of '{process}' runs per area, none listed")
        yield ((*path, "schedule"), message.format(process=definition.key))


def load_organisation_document(
    document: Document, definitions: Definitions
) -> tuple[Organisation | None, list[Problem]]:
    org, problems = model_problems(document, Organisation)
    if org is None:
        return None, problems
    found = check_organisation(org, definitions)
    problems = list(dict.fromkeys(document.problem(path, message) for path, message in found))
    return (org if not problems else None), problems


def _mail_templates(org: Organisation) -> Iterator[Found]:
    """``mail.templates`` is the name of a folder under the administrator's
    ``TSK_TEMPLATE_ROOT``, never a path: an organisation must not point the service at files
    of its choosing. The folder itself is found, and checked, when mail is made
    (``tsk_workflow.mail.templates``)."""
    if org.mail.templates is not None:
        problem = template_folder_name_problem(org.mail.templates)
        if problem:
            yield (("mail", "templates"), problem)


_FOLDER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def template_folder_name_problem(name: str) -> str | None:
    """Why ``name`` is not a plain folder name (letters, digits, ``.``, ``_``, ``-``; no ``/``,
    ``\\``, ``..`` or absolute path), or None when it is one."""
    if _FOLDER_NAME.fullmatch(name) and ".." not in name:
        return None
    return _(
        "mail.templates must be the name of a folder under TSK_TEMPLATE_ROOT (letters, digits,"
        " '.', '_' and '-'), not a path: {name}"
    ).format(name=repr(name))
