"""Who may read what: the cycles, tasks, decisions and documents of a group, the audit trail,
everyone's tasks. Pure: decided from the organisation and what the caller read.

Acts have their own rules (``engine.directory``: the chair opens and closes, a transition's
roles fire it, an assignee completes a task). Reading follows the group: a cycle, with its
tasks, notes, answers, decisions and documents, is for the members of its group (chair and
deputy included), for the people who owe one of its tasks, and for those the organisation
grants ``read_all_tasks``. The audit trail and the refused acts are for ``read_audit``. The
admins of the organisation hold both read permissions without being listed.
"""

from __future__ import annotations

from collections.abc import Iterable

from tsk_workflow.engine.directory import SYSTEM, Directory, PermissionDenied
from tsk_workflow.i18n import N_, _
from tsk_workflow.organisation.model import Group, Organisation

READ_AUDIT = "read_audit"
READ_ALL_TASKS = "read_all_tasks"
ACT_FOR = "act_for"

_ADMINS_HOLD = (READ_AUDIT, READ_ALL_TASKS)
"""What the admins may without being listed: they load the organisation, so they may see it."""

_REFUSED = {
    READ_AUDIT: N_("{person} may not read the audit trail of {organisation}"),
    READ_ALL_TASKS: N_("{person} may not read every task of {organisation}"),
    ACT_FOR: N_("{person} may not act for another person in {organisation}"),
}


def has_permission(org: Organisation, person_id: str, permission: str) -> bool:
    """Whether ``permissions:`` grants ``permission`` to the person, by id or by a role they
    hold or stand in for (and the admins' read permissions)."""
    if person_id == SYSTEM:
        return True
    if permission in _ADMINS_HOLD and person_id in org.admins:
        return True
    person = org.person(person_id)
    if person is None:
        return False
    granted = set(getattr(org.permissions, permission))
    return person_id in granted or any(r in granted for r in (*person.roles, *person.deputy_for))


def require_permission(org: Organisation, person_id: str, permission: str, subject: str) -> None:
    """Refuse (a ``PermissionDenied``, recorded by the engine) unless the person holds it."""
    if not has_permission(org, person_id, permission):
        message = _(_REFUSED[permission]).format(person=person_id, organisation=org.name)
        raise PermissionDenied(person_id, permission, subject, message)


def require_admin(org: Organisation, person_id: str, action: str, subject: str) -> None:
    """Refuse (a ``PermissionDenied``, recorded by the engine) unless the person is one of the
    organisation's ``admins:``: what only they may see or do (the organisation's versions,
    the mail's state, checkpoints)."""
    if person_id in org.admins:
        return
    raise PermissionDenied(
        person_id,
        action,
        subject,
        _("only the admins of {organisation} ({admins}) may do this").format(
            organisation=org.name, admins=", ".join(org.admins) or _("none listed")
        ),
    )


def acting_person(org: Organisation, login: str, claimed: str | None) -> tuple[str, str | None]:
    """Who acts on a database on the server's clock, from the OS ``login`` running the
    command: ``(person, via)``.

    The login is a person's ``login:`` in the organisation. ``--as`` (``claimed``) names
    another person only for someone the organisation grants ``act_for``; the act is then
    recorded as that person, ``via`` the login. Refusals are ``PermissionDenied`` (the engine
    records them)."""
    person = next((p for p in org.people if p.login == login), None)
    if person is None:
        raise PermissionDenied(
            login,
            "login",
            f"municipality:{org.municipality}",
            _(
                "the login '{login}' is no person's in {organisation}: an admin gives the person"
                " 'login: {login}' in the organisation file (tsk org load)"
            ).format(login=login, organisation=org.name),
        )
    if claimed is None or claimed == person.id:
        return person.id, None
    require_permission(org, person.id, ACT_FOR, f"person:{claimed}")
    return claimed, login


def may_run_service(orgs: Iterable[Organisation], login: str, service_user: str | None) -> bool:
    """Whether the OS ``login`` may do the service's acts (the scheduler pass, sending mail,
    backups): it is the service's own user (``TSK_SERVICE_USER``), or an admin's login in every
    organisation the act covers."""
    if service_user and login == service_user:
        return True
    listed = list(orgs)
    return bool(listed) and all(
        any(p.login == login and p.id in org.admins for p in org.people) for org in listed
    )


def may_choose_mail_server(login: str, service_user: str | None) -> bool:
    """Whether the SMTP settings in the environment count: only in the service's own process
    (its OS user, ``TSK_SERVICE_USER``). Anyone else who sends by hand (an admin) sends with
    the organisation file's settings, so that no one points the municipality's mail, and the
    links in it, at a server of their own choosing from their shell."""
    return bool(service_user) and login == service_user


def may_read_group(
    directory: Directory, person_id: str, group: Group, assignees: Iterable[str] = ()
) -> bool:
    """Whether the person may read a cycle of ``group`` whose tasks are owed by ``assignees``."""
    return (
        directory.is_chair(person_id, group)
        or person_id in group.members
        or person_id in set(assignees)
        or has_permission(directory.org, person_id, READ_ALL_TASKS)
    )


def not_for_you(person_id: str, what: str, subject: str) -> PermissionDenied:
    """The refusal of reading ``what`` (a cycle, task, decision, document) of another group."""
    return PermissionDenied(
        person_id,
        "read",
        subject,
        _("{what} belongs to a group {person} is not part of").format(what=what, person=person_id),
    )
