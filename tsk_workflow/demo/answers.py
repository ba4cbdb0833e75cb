"""Plausible answers to a task's form, as the demo's reporters give them (seeded, so a demo run
is reproducible). Graffiti and littering grow towards the summer, so the lägesbild has a trend."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from tsk_workflow.definitions.model import Form, Question
from tsk_workflow.organisation.model import Organisation

DESCRIPTIONS = (
    "Klotter på busskuren vid torget.",
    "Nedskräpning och krossat glas vid badplatsen.",
    "Grupp ungdomar samlas sent vid skolan, personal känner sig otrygg.",
    "Trasig belysning i gångtunneln gör platsen otrygg på kvällen.",
    "Skadegörelse på fritidsgårdens fönster.",
    "Hot mot personal vid receptionen.",
)
PLACES = (
    "Busskuren vid torget",
    "Gångtunneln vid stationen",
    "Skolgården",
    "Badplatsen",
    "Parkeringen vid idrottshallen",
)
SUGGESTIONS = (
    "Laga belysningen och röj buskage.",
    "Sanera klottret inom ett dygn.",
    "Fältassistenter på plats fredag kväll.",
    "Trygghetsvandring med boende och polis.",
    "Fler papperskorgar och tätare tömning.",
)
SEASONAL = {"klotter", "nedskrapning"}


def fill(form: Form, org: Organisation, rng: random.Random, today: dt.date) -> dict[str, Any]:
    """Answers to every question of ``form`` (and each one an allowed value)."""
    answers: dict[str, Any] = {}
    for question in form.questions:
        value = _answer(question, org, rng, today)
        if value is not None:
            answers[question.key] = value
    return answers


def _answer(question: Question, org: Organisation, rng: random.Random, today: dt.date) -> Any:
    kind = question.type
    if kind == "choice":
        return _choice(question, rng, today)
    if kind == "choices":
        keys = [c.key for c in question.choices]
        return rng.sample(keys, k=min(len(keys), max(1, int(question.min or 1))))
    if kind in {"town", "area"}:
        return _place(kind, org, rng)
    if kind == "date":
        return (today - dt.timedelta(days=rng.randint(1, 25))).isoformat()
    if kind == "datetime":
        day = today - dt.timedelta(days=rng.randint(1, 25))
        return f"{day.isoformat()}T{rng.choice(['16:30', '21:00', '23:15'])}"
    if kind == "number":
        return _number(question, rng)
    return rng.choice(
        SUGGESTIONS if "atgard" in question.key or "forslag" in question.key else DESCRIPTIONS
    )


def _choice(question: Question, rng: random.Random, today: dt.date) -> str:
    keys = [c.key for c in question.choices]
    weights = [3 + today.month if key in SEASONAL else 3 for key in keys]
    return rng.choices(keys, weights)[0]


def _place(kind: str, org: Organisation, rng: random.Random) -> str | None:
    places = [t.key for t in org.towns] if kind == "town" else [a.key for a in org.areas]
    if not places:
        return None
    main = org.main_town.key if kind == "town" and org.main_town else places[0]
    return rng.choice([main, main, *places])


def _number(question: Question, rng: random.Random) -> int | float:
    low = int(question.min) if question.min is not None else 1
    high = int(question.max) if question.max is not None else low + 5
    return rng.randint(low, max(low, min(high, low + 9)))
