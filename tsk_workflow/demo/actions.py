"""The demo's action register: coordinators who add the actions a step's plan is made of,
owners who follow them up (most in time, some late), and the åtgärdsplan proposed from the
steering group's cycle for the body to adopt. Every act goes through the engine.

Choices are drawn from the demo's seeded random generator, so a run is reproducible.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass

from tsk_workflow.engine import action_plans
from tsk_workflow.engine.actions import Actions, ActionView
from tsk_workflow.engine.events import categories
from tsk_workflow.engine.service import Engine

ACTIONS: tuple[tuple[str, str, str, str], ...] = (
    # title, cause (orsak), operative goal, the lägesbild category its effect is measured on
    (
        "Bättre belysning i gångtunneln vid stationen",
        "Otrygghet kvällstid i gångtunneln vid stationen (lägesbilden)",
        "Färre som undviker gångtunneln kvällstid",
        "otrygg_plats",
    ),
    (
        "Klotterplank och sanering inom ett dygn vid skateparken",
        "Återkommande klotter vid skateparken",
        "Klotter sanerat inom 24 timmar",
        "klotter",
    ),
    (
        "Nattvandrare fredagar vid torget",
        "Ungdomsgrupper och bråk vid torget fredagskvällar",
        "Vuxna på plats varje fredag kväll",
        "ungdomsgang",
    ),
    (
        "Röjning av sly längs gång- och cykelvägen",
        "Skymd sikt och otrygghet längs gång- och cykelvägen",
        "Fri sikt längs hela sträckan",
        "otrygg_plats",
    ),
    (
        "Fältassistenter vid skolavslutningen",
        "Oro för alkohol och bråk vid skolavslutningen",
        "Inga rapporterade bråk vid skolavslutningen",
        "hot_vald",
    ),
    (
        "Tätare tömning av papperskorgar vid busstationen",
        "Nedskräpning vid busstationen",
        "Färre rapporter om nedskräpning",
        "nedskrapning",
    ),
    (
        "Samtal med fastighetsägare om skadegörelse i trapphus",
        "Skadegörelse i flerbostadshus",
        "En handlingsplan hos fastighetsägaren",
        "skadegorelse",
    ),
    (
        "Föräldramöte om narkotika på högstadiet",
        "Rapporter om narkotikaförsäljning nära skolan",
        "Alla föräldrar i årskurs 7–9 nås",
        "narkotika",
    ),
)
OWNER_ROLES = (
    "forvaltningschef",
    "fritidschef",
    "socialtjanst",
    "bostadsbolag",
    "kommunpolis",
    "rektor",
    "naringsliv",
    "samordnare",
)
"""The roles whose holders own the demo's actions, as far as the organisation has them."""
PLAN_TASKS = {("styrgrupp", "ta_fram_underlag"), ("fordjupad_lagesbild", "skriv_atgardsplan")}
"""The tasks before which the åtgärdsplan is proposed, for the steering group to adopt."""
NOTES = {
    "green": ("Går enligt plan.", "Arbetet pågår som planerat.", "Inga hinder hittills."),
    "yellow": (
        "Offerten dröjer.",
        "Vi väntar på en entreprenör.",
        "Färre frivilliga än vi hoppats.",
    ),
    "red": ("Budgeten räcker inte: frågan går till förvaltningsledningen.",),
}


@dataclass
class ActionStats:
    added: int = 0
    followed_up: int = 0
    done: int = 0
    plans: int = 0


def plan_decisions(engine: Engine) -> dict[int, str]:
    """The decisions that adopt a version of the åtgärdsplan, with the process of the cycle
    they were proposed from."""
    return {v.decision_id: v.title for v in action_plans.versions(engine)}


class ActionPlayers:
    """Acts on the action register for the people of one municipality."""

    def __init__(
        self, engine: Engine, rng: random.Random, attempt: Callable[[object], bool]
    ) -> None:
        self.engine = engine
        self.rng = rng
        self.attempt = attempt
        self.register = Actions(engine)
        self.next_followup: dict[int, dt.date] = {}
        self.stats = ActionStats()

    def owners(self) -> list[str]:
        org = self.engine.org
        found = [p.id for role in OWNER_ROLES for p in org.holders(role)]
        return list(dict.fromkeys(found)) or [org.people[0].id]

    def add_for_step(self, cycle_id: int, person: str, today: dt.date) -> None:
        """The coordinator puts the step's plan into the register: none, one or two actions."""
        known = categories(self.engine)
        towns: list[str | None] = [t.key for t in self.engine.org.towns] or [None]
        for title, cause, goal, category in self.rng.sample(ACTIONS, self.rng.choice([0, 1, 1, 2])):
            days = self.rng.choice([30, 45, 60, 90, 120])
            given = {
                "title": title,
                "cause": cause,
                "goal": goal,
                "start": today.isoformat(),
                "due": (today + dt.timedelta(days=days)).isoformat(),
                "owner": self.rng.choice(self.owners()),
                "followup_plan": "Ansvarig följer upp månadsvis; EST stämmer av.",
                "cost": str(self.rng.choice([5_000, 15_000, 45_000, 120_000])),
                "category": category if category in known else None,
                "town": towns[0] if self.rng.random() < 0.6 else self.rng.choice(towns),
                "cycle": str(cycle_id),
            }
            given = {k: v for k, v in given.items() if v is not None}
            if self.attempt(lambda g=given: self.register.add(person, g)):
                self.stats.added += 1

    def follow_up(self, today: dt.date) -> None:
        """Each owner follows up their actions about once a month; near the due date most are
        done, some are late (their overdue notice goes out) and are done later."""
        for view in self.register.listing():
            when = self.next_followup.setdefault(
                view.id, today + dt.timedelta(days=self.rng.randint(20, 40))
            )
            if today >= when:
                self._follow_up(view, today)
                self.next_followup[view.id] = today + dt.timedelta(days=self.rng.randint(25, 45))

    def _follow_up(self, view: ActionView, today: dt.date) -> None:
        near = today >= view.due - dt.timedelta(days=10)
        if near and (view.overdue or self.rng.random() < 0.7):
            done = lambda: self.register.followup(  # noqa: E731
                view.owner, view.id, status="green", state="done", note="Genomförd."
            )
            if self.attempt(done):
                self.stats.followed_up += 1
                self.stats.done += 1
            return
        status = self.rng.choices(["green", "yellow", "red"], [70, 22, 8])[0]
        if near and status == "green":
            status = "yellow"
        note = self.rng.choice(NOTES[status])
        if self.attempt(
            lambda: self.register.followup(view.owner, view.id, status=status, note=note)
        ):
            self.stats.followed_up += 1

    def propose_plan(self, process: str, task_key: str, cycle_id: int, chair: str) -> None:
        """Before the steering group meets, its chair proposes the åtgärdsplan of the active
        actions, unless one is waiting for its decision already."""
        if (process, task_key) not in PLAN_TASKS:
            return
        versions = action_plans.versions(self.engine)
        waiting = any(v.status in ("proposed", "postponed") for v in versions)
        if process == "styrgrupp" and versions:  # its first plan; later ones are strategic
            return
        if waiting or not self.register.listing():
            return
        year = self.engine.clock().astimezone(self.engine.cal.zone).year
        title = (
            f"Långsiktig strategisk åtgärdsplan {year + 1}–{year + 2}"
            if process == "fordjupad_lagesbild"
            else f"Åtgärdsplan för trygghetsarbetet {year}"
        )
        propose = lambda: action_plans.propose(  # noqa: E731
            self.engine, chair, cycle_id, title, None, {"strategisk": "ja"}
        )
        if self.attempt(propose):
            self.stats.plans += 1
