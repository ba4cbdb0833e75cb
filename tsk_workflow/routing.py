"""Where a decision goes (KLG, KS, KF, the styrgrupp, the department concerned, a delegate),
and why. Pure.

The municipality's rules are tried in order; the first that matches decides. A rule matches
when every condition in its ``when`` holds. With no match the routing's default applies. A rule
marked ``example`` is one no source document states: its route says so in its reason.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from tsk_workflow import i18n
from tsk_workflow.i18n import N_, _
from tsk_workflow.organisation.model import Routing, RoutingRule, RuleCondition


@dataclass(frozen=True)
class Proposal:
    title: str
    cost: float | None = None
    attrs: Mapping[str, str] | None = None


@dataclass(frozen=True)
class Fact:
    """One fact that made a rule's condition hold, put in words when shown (``str``): the
    route is worked out once and its reason stored, in the language the decision is kept in."""

    message: str
    values: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        return _(self.message).format(**dict(self.values))


EXAMPLE = N_("example rule – to be set by the municipality")
"""What the reason of a route by an example rule says of the rule."""
DEPARTMENT = "forvaltning"
"""The attribute of a proposal that names the department it concerns (berörd förvaltning)."""


@dataclass(frozen=True)
class Route:
    body: str
    rule: str
    reason_sv: str
    reason_en: str
    facts: tuple[Fact, ...]
    example: bool = False

    def reason(self, lang: str = "sv") -> str:
        """The rule's reason and the facts that made it match, in ``lang`` ("en", anything
        else is Swedish); an example rule's says it is one."""
        text = self.reason_en if lang == "en" else self.reason_sv
        with i18n.speaking("en" if lang == "en" else "sv"):
            if self.facts:
                text = f"{text} ({'; '.join(map(str, self.facts))})"
            return f"{text} [{_(EXAMPLE)}]" if self.example else text


def route(proposal: Proposal, routing: Routing) -> Route:
    """The route of ``proposal`` under ``routing``; the routing must have a default."""
    for rule in routing.rules:
        facts = _matches(rule.when, proposal)
        if facts is not None:
            return _route(rule, facts)
    if routing.default is None:
        raise ValueError(_("the routing rules have no default"))
    reason = routing.default_reason
    return Route(routing.default, "default", reason.sv, reason.en, ())


def _route(rule: RoutingRule, facts: list[Fact]) -> Route:
    return Route(rule.to, rule.name, rule.reason.sv, rule.reason.en, tuple(facts), rule.example)


def _matches(when: RuleCondition, proposal: Proposal) -> list[Fact] | None:
    """The facts that made every condition hold, or None when one does not."""
    facts: list[Fact] = []
    for fact in _conditions(when, proposal):
        if fact is None:
            return None
        facts.append(fact)
    return facts


def _conditions(when: RuleCondition, proposal: Proposal) -> Iterator[Fact | None]:
    cost = proposal.cost
    if when.cost_over is not None:
        yield (
            _cost_fact(cost, when.cost_over, ">")
            if cost is not None and cost > when.cost_over
            else None
        )
    if when.cost_at_least is not None:
        holds = cost is not None and cost >= when.cost_at_least
        yield _cost_fact(cost, when.cost_at_least, ">=") if holds else None
    attrs = proposal.attrs or {}
    for key, value in (when.attr or {}).items():
        equal = attrs.get(key, "").lower() == value.lower()
        yield Fact("{key} = {value}", (("key", key), ("value", value))) if equal else None
    for key in when.attr_given or ():
        given = attrs.get(key, "").strip()
        yield Fact("{key} = {value}", (("key", key), ("value", given))) if given else None
    for key, least in (when.attr_at_least or {}).items():
        yield (
            Fact(
                "{key} = {value} >= {least}",
                (("key", key), ("value", attrs[key]), ("least", _number(least))),
            )
            if _at_least(attrs.get(key), least)
            else None
        )


def _at_least(value: str | None, least: float) -> bool:
    try:
        return value is not None and float(value) >= least
    except ValueError:
        return False


def _cost_fact(cost: float | None, limit: float, op: str) -> Fact:
    values = (("cost", sek(cost or 0)), ("op", op), ("limit", sek(limit)))
    return Fact(N_("cost {cost} {op} {limit}"), values)


def sek(amount: float) -> str:
    """An amount as people write it in Sweden: 250 000 kr."""
    return f"{amount:,.0f}".replace(",", "\u00a0") + " kr"


def _number(value: float) -> str:
    return f"{value:g}"
