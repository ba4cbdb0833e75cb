"""Who is who in a cycle: the actor, the chair of the group, who holds a role. Pure.

Permissions are decided here, from the definition and the organisation, and nowhere else:
the CLI only says who is acting.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from tsk_workflow.definitions.model import CHAIR, ProcessDefinition, Transition
from tsk_workflow.errors import NotFound, Refused, did_you_mean
from tsk_workflow.i18n import N_, _
from tsk_workflow.organisation.model import Group, Organisation, Person

SYSTEM = "tsk"
"""The actor of acts the scheduler does by itself."""


class PermissionDenied(Refused):
    """A refusal for lack of permission; recorded in ``refused_acts``."""

    def __init__(self, actor: str, action: str, subject: str, reason: str) -> None:
        super().__init__(reason)
        self.actor, self.action, self.subject = actor, action, subject


class HasGroup(Protocol):
    """A cycle, as a row or as its state: what the group it is run by is read from."""

    @property
    def process(self) -> str: ...

    @property
    def group_key(self) -> str: ...


@dataclass(frozen=True)
class Directory:
    org: Organisation

    def person(self, person_id: str | None) -> Person:
        if not person_id:
            raise Refused(_("who is acting? give --as PERSON or set TSK_USER"))
        person = self.org.person(person_id)
        if person is None:
            raise Refused(unknown_person(self.org, person_id))
        return person

    def group_of(self, process: str) -> Group:
        """The group that runs ``process``: the one the scheduler opens its cycles for."""
        return self.groups_of(process)[0]

    def groups_of(self, process: str) -> list[Group]:
        """The groups that may run ``process``: its own first, then those that also run it
        when they need to (``also_run_by``)."""
        settings = self.org.processes.get(process)
        if settings is None:
            raise NotFound(
                _("{organisation} does not run the process '{process}'").format(
                    organisation=self.org.name, process=process
                )
            )
        found = []
        for key in (settings.group, *settings.also_run_by):
            group = self.org.group(key)
            if group is None:  # the validator makes sure this cannot happen
                raise NotFound(_("unknown group '{group}'").format(group=key))
            found.append(group)
        return found

    def running_group(self, process: str, key: str | None) -> Group:
        """The group a new cycle of ``process`` is for: ``key``, one of the groups that run
        it, or the process's own group when ``key`` is None."""
        groups = self.groups_of(process)
        if key is None:
            return groups[0]
        found = next((group for group in groups if group.key == key), None)
        if found is None:
            raise Refused(
                _(
                    "group '{group}' does not run the process '{process}'; these do: {groups}"
                ).format(group=key, process=process, groups=", ".join(g.key for g in groups))
            )
        return found

    def same_group(self, process: str, key: str) -> str | None:
        """``key`` if that group runs ``process`` (a cycle it opens, or the next turn of one,
        stays with the group), else None: the process's own group."""
        settings = self.org.processes.get(process)
        runs = settings is not None and key in (settings.group, *settings.also_run_by)
        return key if runs else None

    def group_of_cycle(self, cycle: HasGroup) -> Group:
        """The group a cycle is run by (the one it was opened for); its process's group if the
        organisation no longer has that group."""
        return self.org.group(cycle.group_key) or self.group_of(cycle.process)

    def chairs(self, group: Group) -> list[str]:
        return [group.chair, *([group.deputy] if group.deputy else [])]

    def is_chair(self, person_id: str, group: Group) -> bool:
        return person_id in self.chairs(group)

    def holds(self, person_id: str, role: str, group: Group) -> bool:
        """Whether the person holds ``role`` (as holder or deputy); ``chair`` means the group's."""
        if role == CHAIR:
            return self.is_chair(person_id, group)
        person = self.org.person(person_id)
        return person is not None and (role in person.roles or role in person.deputy_for)

    def assignees(self, role: str, group: Group) -> list[str]:
        """Everyone who gets a shared task for ``role``: holders first, then deputies."""
        if role == CHAIR:
            return self.chairs(group)
        ids = [p.id for p in self.org.holders(role)] + [p.id for p in self.org.deputies(role)]
        return list(dict.fromkeys(ids))

    def holders(self, role: str, group: Group) -> list[str]:
        """The people who each get their own task for ``role`` (``per_person`` tasks)."""
        if role == CHAIR:
            return [group.chair]
        return [p.id for p in self.org.holders(role)] or [p.id for p in self.org.deputies(role)]

    def role_in(self, person_id: str, group: Group, roles: Iterable[str]) -> str | None:
        """The first of ``roles`` the person holds, for the audit trail."""
        return next((role for role in roles if self.holds(person_id, role, group)), None)

    def describe_role(self, person_id: str, group: Group) -> str:
        """The role the person acts in, as the audit trail records it."""
        if person_id == SYSTEM:
            return "system"
        if person_id == group.chair:
            return "chair"
        if person_id == group.deputy:
            return "deputy chair"
        person = self.org.person(person_id)
        return person.roles[0] if person is not None and person.roles else "member"


def unknown_person(org: Organisation, person_id: str) -> str:
    """The message for someone who is not a person of ``org``, with the closest id."""
    hint = did_you_mean(person_id, (p.id for p in org.people))
    return (
        _("unknown person '{person}' in {organisation}").format(
            person=person_id, organisation=org.name
        )
        + hint
    )


def require_chair(
    directory: Directory, actor: str, group: Group, action: str, subject: str
) -> None:
    if actor == SYSTEM or directory.is_chair(actor, group):
        return
    message = _ONLY_CHAIR.get(action, N_("only the chair of {group} ({chairs}) may do {action}"))
    raise PermissionDenied(
        actor,
        action,
        subject,
        _(message).format(
            group=group.name, chairs=_(" or ").join(directory.chairs(group)), action=action
        ),
    )


def require_trigger(
    directory: Directory, actor: str, group: Group, transition: Transition, subject: str
) -> str:
    if actor == SYSTEM:
        return "system"
    role = directory.role_in(actor, group, transition.by)
    if role is None:
        roles = ", ".join(transition.by)
        raise PermissionDenied(
            actor,
            f"advance:{transition.trigger}",
            subject,
            _("'{trigger}' may only be fired by: {roles}").format(
                trigger=transition.trigger, roles=roles
            ),
        )
    return role


def require_member(
    directory: Directory, actor: str, group: Group, action: str, subject: str
) -> None:
    if directory.is_chair(actor, group) or actor in group.members:
        return
    message = _ONLY_MEMBERS.get(action, N_("only members of {group} may do {action}"))
    raise PermissionDenied(
        actor, action, subject, _(message).format(group=group.name, action=action)
    )


_ONLY_CHAIR = {
    "cycle.open": N_("only the chair of {group} ({chairs}) may open its cycles"),
    "cycle.close": N_("only the chair of {group} ({chairs}) may close its cycles"),
}
"""What the chair alone may do, by action (a whole sentence each, to translate)."""
_ONLY_MEMBERS = {
    "decision.propose": N_("only members of {group} may propose decisions from its cycles"),
}
"""What the members of a group alone may do, by action."""


def definition_roles(definition: ProcessDefinition) -> tuple[str, ...]:
    return (CHAIR, *definition.all_roles)
