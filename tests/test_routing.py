"""Routing (tsk_workflow/routing.py): the reason of a route is told in the language asked for,
whatever language the command speaks (the engine stores the Swedish one with the decision)."""

from __future__ import annotations

from tsk_workflow import i18n
from tsk_workflow.organisation.model import Routing
from tsk_workflow.routing import Proposal, route

NBSP = "\u00a0"
ROUTING = Routing.model_validate(
    {
        "default": "klg",
        "rules": [
            {
                "name": "dyrt",
                "to": "ks",
                "when": {"cost_over": 100000, "attr": {"policy": "ja"}},
                "reason": {"sv": "Dyrt och principiellt", "en": "Costly and a matter of policy"},
            }
        ],
    }
)


def test_the_reason_and_its_facts_in_either_language() -> None:
    found = route(Proposal("Kameror", 250000, {"policy": "Ja"}), ROUTING)
    assert (found.body, found.rule) == ("ks", "dyrt")
    swedish = f"Dyrt och principiellt (kostnad 250{NBSP}000 kr > 100{NBSP}000 kr; policy = ja)"
    english = f"Costly and a matter of policy (cost 250{NBSP}000 kr > 100{NBSP}000 kr; policy = ja)"
    assert found.reason() == found.reason("sv") == swedish
    assert found.reason("en") == english
    with i18n.speaking("en"):
        assert found.reason("sv") == swedish
        assert found.reason("en") == english
    assert i18n.language() == "sv"


def test_the_default_route_has_no_facts() -> None:
    found = route(Proposal("Bänkar", 5000), ROUTING)
    assert (found.body, found.rule, found.facts) == ("klg", "default", ())
    assert found.reason("en") == "No rule matched: the default route"
