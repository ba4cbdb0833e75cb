"""What changed between two versions of an organisation, in words. Pure.

The audit event of ``tsk org load`` carries these words, so that an auditor reads who gave whom a
role, who changed a routing rule or where the mail goes, without comparing two files. Each change
is a ``{"sv": ..., "en": ...}`` text, as the outbox keeps texts for either language.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from tsk_workflow import i18n
from tsk_workflow.i18n import N_, _
from tsk_workflow.organisation.model import Organisation

Words = dict[str, str]


def _words(message: str, **values: Any) -> Words:
    """``message`` (marked with ``N_``) in every language, its ``values`` filled in after
    translating; a value that is a function is called in each language (a description that has
    words of its own)."""
    words = {}
    for lang in i18n.LANGUAGES:
        with i18n.speaking(lang):
            filled = {k: v() if callable(v) else v for k, v in values.items()}
            words[lang] = _(message).format(**filled)
    return words


def changes(old: Organisation | None, new: Organisation) -> list[Words]:
    """Every change from ``old`` to ``new``, people first, then roles, groups, routing, mail,
    admins and the other sections; a first version is summed up in one line."""
    if old is None:
        return [
            _words(
                N_("first version: {people} people, {groups} groups, {rules} routing rules"),
                people=len(new.people),
                groups=len(new.groups),
                rules=len(new.routing.rules),
            )
        ]
    found = [
        *_people(old, new),
        *_roles(old, new),
        *_keyed(
            KEYED["group"], _by_key(old.groups, "key"), _by_key(new.groups, "key"), _group_text
        ),
        *_routing(old, new),
        *_mail(old, new),
        *_admins(old, new),
        *_samordningsfunktion(old, new),
        *_keyed(
            KEYED["policy"],
            _by_key(old.policies, "key"),
            _by_key(new.policies, "key"),
            _policy_text,
        ),
        *_compliance(old, new),
        *_sections(old, new),
    ]
    return found or [_words(N_("no change in content"))]


KEYED = {
    "person": (
        N_("person added: {key}, {what}"),
        N_("person removed: {key}"),
        N_("person {key} changed: {fields}"),
    ),
    "group": (
        N_("group added: {key}, {what}"),
        N_("group removed: {key}"),
        N_("group {key} changed: {fields}"),
    ),
    "policy": (
        N_("policy added: {key}, {what}"),
        N_("policy removed: {key}"),
        N_("policy {key} changed: {fields}"),
    ),
    "routing rule": (
        N_("routing rule added: {key}, {what}"),
        N_("routing rule removed: {key}"),
        N_("routing rule {key} changed: {fields}"),
    ),
}
"""What an added, removed or changed person, group, policy or routing rule says."""


# ---------------------------------------------------------------- people and roles


def _by_key(items: Iterable[Any], attr: str) -> dict[str, dict[str, Any]]:
    return {getattr(item, attr): item.model_dump(mode="json") for item in items}


def _person_text(values: Mapping[str, Any]) -> str:
    return f"{values['name']} <{values['email']}>"


def _group_text(values: Mapping[str, Any]) -> str:
    return _("{name} (chair {chair})").format(name=values["name"], chair=values["chair"])


def _people(old: Organisation, new: Organisation) -> Iterator[Words]:
    yield from _keyed(
        KEYED["person"], _by_key(old.people, "id"), _by_key(new.people, "id"), _person_text
    )


def _keyed(
    messages: tuple[str, str, str],
    old: Mapping[str, Mapping[str, Any]],
    new: Mapping[str, Mapping[str, Any]],
    describe: Callable[[Mapping[str, Any]], str],
) -> Iterator[Words]:
    """Added, removed and changed items of a list keyed by id, with the changed fields' old and
    new values."""
    added, removed, changed = messages
    for key in sorted(new.keys() - old.keys()):
        values = new[key]
        yield _words(added, key=key, what=lambda values=values: describe(values))
    for key in sorted(old.keys() - new.keys()):
        yield _words(removed, key=key)
    for key in sorted(old.keys() & new.keys()):
        fields = _changed_fields(old[key], new[key])
        if fields:
            yield _words(changed, key=key, fields=fields)


def _changed_fields(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    names = sorted(name for name in old.keys() | new.keys() if old.get(name) != new.get(name))
    return "; ".join(f"{name} {_shown(old.get(name))} -> {_shown(new.get(name))}" for name in names)


def _shown(value: Any) -> str:
    if value is None or value == [] or value == {}:
        return "-"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_shown(item) for item in value) + "]"
    return str(value)


def _role_map(org: Organisation) -> dict[str, tuple[list[str], list[str]]]:
    roles: dict[str, tuple[list[str], list[str]]] = {}
    for person in org.people:
        for role in person.roles:
            roles.setdefault(role, ([], []))[0].append(person.id)
        for role in person.deputy_for:
            roles.setdefault(role, ([], []))[1].append(person.id)
    return roles


def _roles(old: Organisation, new: Organisation) -> Iterator[Words]:
    """Who holds each role, and who stands in for it, where that changed."""
    before, after = _role_map(old), _role_map(new)
    for role in sorted(before.keys() | after.keys()):
        was, now = before.get(role, ([], [])), after.get(role, ([], []))
        if was[0] != now[0]:
            yield _words(
                N_("role {role}: held by {old} -> {new}"),
                role=role,
                old=_shown(was[0]),
                new=_shown(now[0]),
            )
        if was[1] != now[1]:
            yield _words(
                N_("role {role}: deputies {old} -> {new}"),
                role=role,
                old=_shown(was[1]),
                new=_shown(now[1]),
            )


# ---------------------------------------------------------------- routing, mail, admins


def _routing(old: Organisation, new: Organisation) -> Iterator[Words]:
    yield from _keyed(
        KEYED["routing rule"],
        _by_key(old.routing.rules, "name"),
        _by_key(new.routing.rules, "name"),
        lambda rule: _("to {body}, when {when}").format(body=rule["to"], when=rule["when"]),
    )
    if [r.name for r in old.routing.rules] != [r.name for r in new.routing.rules] and {
        r.name for r in old.routing.rules
    } == {r.name for r in new.routing.rules}:
        yield _words(N_("the order of the routing rules changed (the first that matches applies)"))
    if old.routing.default != new.routing.default:
        yield _words(
            N_("default route of decisions: {old} -> {new}"),
            old=_shown(old.routing.default),
            new=_shown(new.routing.default),
        )


def _mail(old: Organisation, new: Organisation) -> Iterator[Words]:
    fields = _changed_fields(old.mail.model_dump(mode="json"), new.mail.model_dump(mode="json"))
    if fields:
        yield _words(N_("mail settings changed: {fields}"), fields=fields)


def _admins(old: Organisation, new: Organisation) -> Iterator[Words]:
    if old.admins != new.admins:
        yield _words(
            N_("admins: {old} -> {new}"), old=_shown(list(old.admins)), new=_shown(list(new.admins))
        )


SECTIONS = {
    "name": N_("name: {old} -> {new}"),
    "calendar": N_("calendar changed"),
    "privacy": N_("privacy changed"),
    "audit": N_("audit changed"),
    "towns": N_("towns changed"),
    "areas": N_("areas changed"),
    "bodies": N_("bodies changed"),
    "processes": N_("processes changed"),
}
"""The other top-level sections, each reported as changed or not (the name with its values)."""


def _sections(old: Organisation, new: Organisation) -> Iterator[Words]:
    for name, message in SECTIONS.items():
        was, now = getattr(old, name), getattr(new, name)
        if was != now:
            yield _words(message, old=was, new=now)


# ---------------------------------------------------------------- what the law asks


def _samordningsfunktion(old: Organisation, new: Organisation) -> Iterator[Words]:
    was, now = old.samordningsfunktion, new.samordningsfunktion
    if was == now:
        return
    if now is None:
        yield _words(N_("samordningsfunktion removed"))
    elif was is None:
        yield _words(
            N_("samordningsfunktion set up: held by {holders}"), holders=_shown(list(now.holders))
        )
    else:
        fields = _changed_fields(was.model_dump(mode="json"), now.model_dump(mode="json"))
        yield _words(N_("samordningsfunktion changed: {fields}"), fields=fields)


def _policy_text(values: Mapping[str, Any]) -> str:
    title = values["title"]
    return str(title.get(i18n.language(), title["sv"]))


def _compliance(old: Organisation, new: Organisation) -> Iterator[Words]:
    fields = _changed_fields(
        old.compliance.model_dump(mode="json"), new.compliance.model_dump(mode="json")
    )
    if fields:
        yield _words(N_("compliance settings changed: {fields}"), fields=fields)
