"""Plausible answers to a task's form, as the demo's reporters give them (seeded, so a demo run
is reproducible). Graffiti and littering grow towards the summer, so the lägesbild has a trend."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

from tsk_workflow.definitions.model import Form, Question
from tsk_workflow.organisation.model import Organisation


@dataclass(frozen=True)
class Incident:
    """What a reporter saw: where, what happened, and what could be done. One per category,
    so that the place, the description and the suggestion of an answer belong together and to
    its category."""

    place: str
    description: str
    suggestion: str


INCIDENTS: dict[str, tuple[Incident, ...]] = {
    "skadegorelse": (
        Incident(
            "Fritidsgården",
            "Krossade fönster på fritidsgården under helgen.",
            "Kameraövervakning och bättre belysning runt fritidsgården.",
        ),
        Incident(
            "Skolgården",
            "Sönderslagna bänkar och nedrivna papperskorgar på skolgården.",
            "Vaktmästarrunda på söndagskvällar.",
        ),
    ),
    "klotter": (
        Incident(
            "Busskuren vid torget",
            "Nytt klotter på busskuren och elskåpet vid torget.",
            "Sanera klottret inom ett dygn.",
        ),
        Incident(
            "Gångtunneln vid stationen",
            "Klotter med hotfulla texter i gångtunneln.",
            "Sanera klottret och polisanmäl de hotfulla texterna.",
        ),
    ),
    "nedskrapning": (
        Incident(
            "Badplatsen",
            "Nedskräpning och krossat glas vid badplatsen efter helgerna.",
            "Fler papperskorgar och tätare tömning.",
        ),
        Incident(
            "Parken vid kyrkan",
            "Skräp och tomburkar kvar i parken efter kvällarna.",
            "Tömning av papperskorgarna även på lördagar.",
        ),
    ),
    "hot_vald": (
        Incident(
            "Receptionen i kommunhuset",
            "Hot mot personal i receptionen.",
            "Larmknapp och två i receptionen på eftermiddagarna.",
        ),
        Incident(
            "Resecentrum",
            "Slagsmål mellan några vuxna vid resecentrum en fredagskväll.",
            "Ordningsvakter vid resecentrum fredag och lördag kväll.",
        ),
    ),
    "narkotika": (
        Incident(
            "Parkeringen vid idrottshallen",
            "Misstänkt langning på parkeringen vid idrottshallen sena kvällar.",
            "Polisen och fältassistenterna samordnar sin närvaro.",
        ),
        Incident(
            "Skogsdungen bakom skolan",
            "Sprutor och folieremsor hittade i skogsdungen bakom skolan.",
            "Städa platsen och informera föräldrar via skolan.",
        ),
    ),
    "ungdomsgang": (
        Incident(
            "Skolgården",
            "En grupp ungdomar samlas sent vid skolan, personalen känner sig otrygg.",
            "Fältassistenter på plats fredag kväll.",
        ),
        Incident(
            "Centrumhuset",
            "Ungdomar samlas i centrumhusets entré och stör de som går förbi.",
            "Öppna fritidsgården längre på fredagar.",
        ),
    ),
    "otrygg_plats": (
        Incident(
            "Gångtunneln vid stationen",
            "Trasig belysning i gångtunneln gör platsen otrygg på kvällen.",
            "Laga belysningen och röj buskage.",
        ),
        Incident(
            "Gång- och cykelvägen mot idrottsplatsen",
            "Mörk gång- och cykelväg som många undviker efter skymningen.",
            "Trygghetsvandring med boende och polis.",
        ),
    ),
    "annat": (
        Incident(
            "Parken vid kyrkan",
            "Lösspringande hundar i parken oroar barnfamiljer.",
            "Information till hundägare och skyltning.",
        ),
        Incident(
            "Torget",
            "Bilar kör fort genom torget på kvällarna.",
            "Farthinder och hastighetskontroller.",
        ),
    ),
}
"""Two incidents per category of EST's form, each true to the category."""

ALL_INCIDENTS = tuple(incident for group in INCIDENTS.values() for incident in group)
"""For a form without a category (Träffpunkt's survey summary)."""

SEASONAL = {"klotter", "nedskrapning"}


def has_figures(form: Form) -> bool:
    """Whether ``form`` asks for figures per town (the safety survey's result)."""
    return any(question.type == "per_town" for question in form.questions)


def figures(form: Form, org: Organisation, rng: random.Random) -> dict[str, Any]:
    """A survey's result in figures: for each town a share who feel safe (55–85 %) and its
    respondents (the main town a few hundred, the villages a few dozen, some too few to judge),
    and for the whole municipality the share weighed by the respondents and their sum. A
    question bounded at 100 and not whole numbers is a share; the others count respondents."""
    respondents = {
        t.key: rng.randint(120, 260) if t.main else rng.randint(8, 70) for t in org.towns
    }
    shares = {t.key: round(rng.uniform(55, 85), 1) for t in org.towns}
    total = sum(respondents.values())
    whole = round(sum(shares[k] * respondents[k] for k in shares) / total, 1) if total else None
    answers: dict[str, Any] = {}
    for question in form.questions:
        share = question.max == 100 and not question.integer
        if question.type == "per_town":
            answers[question.key] = shares if share else respondents
        elif question.type == "number" and whole is not None:
            answers[question.key] = whole if share else total
    return answers


def fill(form: Form, org: Organisation, rng: random.Random, today: dt.date) -> dict[str, Any]:
    """Answers to every question of ``form`` (and each one an allowed value). The free text
    belongs to the category chosen: the place, description and suggestion of one incident."""
    answers: dict[str, Any] = {}
    category: str | None = None
    incident: Incident | None = None
    for question in form.questions:
        if question.type == "text":
            draw = rng.choice(range(_draws(question)))
            if incident is None:  # one incident answers all the free text of a report
                incidents = INCIDENTS.get(category or "") or ALL_INCIDENTS
                incident = incidents[draw % len(incidents)]
            answers[question.key] = _text(question, incident)
            continue
        value = _answer(question, org, rng, today)
        if value is not None:
            answers[question.key] = value
            if question.lagesbild == "category":
                category = str(value)
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
    return None


def _draws(question: Question) -> int:
    """How many texts the demo drew a text answer from before the answers were tied to their
    category (6 descriptions, 5 suggestions): drawing from as many keeps the random sequence,
    and so the demo's year, the one the guides tell."""
    return 5 if "atgard" in question.key or "forslag" in question.key else 6


def _text(question: Question, incident: Incident) -> str:
    """The incident's text that answers ``question``, by what the lägesbild reads it as."""
    if question.lagesbild == "place":
        return incident.place
    if question.lagesbild == "action" or "atgard" in question.key or "forslag" in question.key:
        return incident.suggestion
    if "plats" in question.key:  # Träffpunkt's "the places named, and why"
        return f"{incident.place}: {incident.description}"
    return incident.description


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
