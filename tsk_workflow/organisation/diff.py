"""What changed between two versions of an organisation, in words. Pure.

The audit event of ``tsk org load`` carries these words, so that an auditor reads who gave whom a
role, who changed a routing rule or where the mail goes, without comparing two files. Each change
is a ``{"sv": ..., "en": ...}`` text, as the outbox keeps texts for either language.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from tsk_workflow.organisation.model import Organisation

Words = dict[str, str]


def _words(sv: str, en: str) -> Words:
    return {"sv": sv, "en": en}


def changes(old: Organisation | None, new: Organisation) -> list[Words]:
    """Every change from ``old`` to ``new``, people first, then roles, groups, routing, mail,
    admins and the other sections; a first version is summed up in one line."""
    if old is None:
        return [
            _words(
                f"första versionen: {len(new.people)} personer, {len(new.groups)} grupper, "
                f"{len(new.routing.rules)} beslutsregler",
                f"first version: {len(new.people)} people, {len(new.groups)} groups, "
                f"{len(new.routing.rules)} routing rules",
            )
        ]
    found = [
        *_people(old, new),
        *_roles(old, new),
        *_keyed(
            "grupp", "group", _by_key(old.groups, "key"), _by_key(new.groups, "key"), _group_text
        ),
        *_routing(old, new),
        *_mail(old, new),
        *_admins(old, new),
        *_sections(old, new),
    ]
    return found or [_words("inga ändringar i innehållet", "no change in content")]


# ---------------------------------------------------------------- people and roles


def _by_key(items: Iterable[Any], attr: str) -> dict[str, dict[str, Any]]:
    return {getattr(item, attr): item.model_dump(mode="json") for item in items}


def _person_text(values: Mapping[str, Any]) -> str:
    return f"{values['name']} <{values['email']}>"


def _group_text(values: Mapping[str, Any]) -> str:
    return f"{values['name']} (ordförande {values['chair']})"


def _people(old: Organisation, new: Organisation) -> Iterator[Words]:
    yield from _keyed(
        "person", "person", _by_key(old.people, "id"), _by_key(new.people, "id"), _person_text
    )


def _keyed(
    sv_noun: str,
    en_noun: str,
    old: Mapping[str, Mapping[str, Any]],
    new: Mapping[str, Mapping[str, Any]],
    describe: Callable[[Mapping[str, Any]], str],
) -> Iterator[Words]:
    """Added, removed and changed items of a list keyed by id, with the changed fields' old and
    new values."""
    for key in sorted(new.keys() - old.keys()):
        yield _words(
            f"{sv_noun} tillagd: {key}, {describe(new[key])}",
            f"{en_noun} added: {key}, {describe(new[key])}",
        )
    for key in sorted(old.keys() - new.keys()):
        yield _words(f"{sv_noun} borttagen: {key}", f"{en_noun} removed: {key}")
    for key in sorted(old.keys() & new.keys()):
        fields = _changed_fields(old[key], new[key])
        if fields:
            yield _words(f"{sv_noun} {key} ändrad: {fields}", f"{en_noun} {key} changed: {fields}")


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
                f"roll {role}: innehas av {_shown(was[0])} -> {_shown(now[0])}",
                f"role {role}: held by {_shown(was[0])} -> {_shown(now[0])}",
            )
        if was[1] != now[1]:
            yield _words(
                f"roll {role}: ersättare {_shown(was[1])} -> {_shown(now[1])}",
                f"role {role}: deputies {_shown(was[1])} -> {_shown(now[1])}",
            )


# ---------------------------------------------------------------- routing, mail, admins


def _routing(old: Organisation, new: Organisation) -> Iterator[Words]:
    yield from _keyed(
        "beslutsregel",
        "routing rule",
        _by_key(old.routing.rules, "name"),
        _by_key(new.routing.rules, "name"),
        lambda rule: f"till {rule['to']}, när {rule['when']}",
    )
    if [r.name for r in old.routing.rules] != [r.name for r in new.routing.rules] and {
        r.name for r in old.routing.rules
    } == {r.name for r in new.routing.rules}:
        yield _words(
            "beslutsreglernas ordning ändrad (den första som träffar gäller)",
            "the order of the routing rules changed (the first that matches applies)",
        )
    if old.routing.default != new.routing.default:
        yield _words(
            f"beslutens standardväg: {_shown(old.routing.default)} -> {_shown(new.routing.default)}",
            f"default route of decisions: {_shown(old.routing.default)} -> "
            f"{_shown(new.routing.default)}",
        )


def _mail(old: Organisation, new: Organisation) -> Iterator[Words]:
    fields = _changed_fields(old.mail.model_dump(mode="json"), new.mail.model_dump(mode="json"))
    if fields:
        yield _words(f"e-postinställningar ändrade: {fields}", f"mail settings changed: {fields}")


def _admins(old: Organisation, new: Organisation) -> Iterator[Words]:
    if old.admins != new.admins:
        yield _words(
            f"administratörer: {_shown(list(old.admins))} -> {_shown(list(new.admins))}",
            f"admins: {_shown(list(old.admins))} -> {_shown(list(new.admins))}",
        )


SECTIONS = {
    "name": "namn",
    "calendar": "kalender",
    "privacy": "personuppgifter",
    "audit": "granskning",
    "towns": "orter",
    "areas": "områden",
    "bodies": "organ (KLG, KS, KF)",
    "processes": "processer",
}
"""The other top-level sections, each reported as changed or not, with its Swedish name."""


def _sections(old: Organisation, new: Organisation) -> Iterator[Words]:
    for name, swedish in SECTIONS.items():
        was, now = getattr(old, name), getattr(new, name)
        if was == now:
            continue
        if name == "name":
            yield _words(f"namn: {was} -> {now}", f"name: {was} -> {now}")
            continue
        yield _words(f"{swedish} ändrade", f"{name} changed")
