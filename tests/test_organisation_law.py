"""What the law asks of the organisation file: the samordningsfunktion (required), the
municipality's own policy documents with their follow-up and revision (in the year plan), and the
cadences the law leaves to the municipality (``compliance:``); shown by ``tsk org show`` and
described by the organisation's version diffs."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from icalendar import Calendar
from pydantic import ValidationError

from tests.enginekit import Clock, shared_catalog, shared_organisation
from tests.webkit import demo_sign_in, herrljunga, service_client
from tsk_workflow import i18n
from tsk_workflow.cli import cli
from tsk_workflow.engine import plan
from tsk_workflow.organisation.diff import changes
from tsk_workflow.organisation.model import (
    ComplianceSettings,
    ContactRoute,
    Decided,
    Organisation,
    Policy,
    Samordningsfunktion,
)
from tsk_workflow.organisation.validate import check_organisation
from tsk_workflow.store.database import Store

KS_2019 = Decided(body="Kommunstyrelsen", date=dt.date(2019, 10, 21), paragraph=160)


def found(org: Organisation) -> list[tuple[tuple[str | int, ...], str]]:
    """The validator's problems, in English."""
    with i18n.speaking("en"):
        problems = check_organisation(org, shared_catalog().definitions)
    return [(tuple(path), message) for path, message in problems]


def with_function(org: Organisation, **update: Any) -> Organisation:
    assert org.samordningsfunktion is not None
    function = org.samordningsfunktion.model_copy(update=update)
    return org.model_copy(update={"samordningsfunktion": function})


# ---------------------------------------------------------------- the model


def test_a_policy_is_next_followed_up_a_period_after_the_last_follow_up() -> None:
    policy = Policy(key="tsk", title="Trygg och säker kommun", owner="kanslichef", decided=KS_2019)
    assert (policy.follow_up, policy.revise) == (None, "vid_behov")
    assert (policy.next_follow_up, policy.next_revision) == (None, None)

    yearly = policy.model_copy(update={"follow_up": "P1Y"})
    assert yearly.next_follow_up == dt.date(2020, 10, 21)  # from the decision
    revised = yearly.model_copy(update={"last_revised": dt.date(2023, 2, 1)})
    assert revised.next_follow_up == dt.date(2024, 2, 1)  # from the text in force
    followed = revised.model_copy(update={"last_followed_up": dt.date(2025, 10, 20)})
    assert followed.next_follow_up == dt.date(2026, 10, 20)
    assert followed.next_revision is None  # revised on demand

    periodic = followed.model_copy(update={"revise": "P4Y"})
    assert periodic.next_revision == dt.date(2027, 2, 1)
    undecided = Policy(key="rutin", title="Rutin", owner="kanslichef", follow_up="P6M")
    assert undecided.next_follow_up is None  # nothing to count from


@pytest.mark.parametrize("period", ["P", "10wd", "PT2H", "årligen", "P1Y2"])
def test_a_cadence_is_a_period_of_whole_days_or_more(period: str) -> None:
    with pytest.raises(ValidationError):
        Policy(key="x", title="X", owner="kanslichef", follow_up=period)
    with pytest.raises(ValidationError):
        ComplianceSettings(lagesbild_renewal=period)


def test_the_compliance_settings_default_and_say_which_were_chosen() -> None:
    defaults = ComplianceSettings()
    assert (defaults.lagesbild_renewal, defaults.followup_interval, defaults.plan_renewal) == (
        "P2Y",
        "P1Y",
        "P2Y",
    )
    assert ComplianceSettings(followup_interval="P6M").model_fields_set == {"followup_interval"}
    description = ComplianceSettings.model_fields["lagesbild_renewal"].description or ""
    assert "unverified" in description
    herrljunga = shared_organisation("herrljunga").compliance
    assert (herrljunga.followup_interval, herrljunga.model_fields_set) == (
        "P6M",
        {"lagesbild_renewal", "followup_interval", "plan_renewal"},
    )


def test_a_decision_reads_as_the_minutes_give_it() -> None:
    decided = Decided(
        body="Kommunstyrelsen", date=dt.date(2023, 6, 7), paragraph=112, case="KS-2023-00226"
    )
    assert decided.text() == "Kommunstyrelsen 2023-06-07 § 112 (KS-2023-00226)"
    assert KS_2019.text() == "Kommunstyrelsen 2019-10-21 § 160"


# ---------------------------------------------------------------- the validator


@pytest.mark.parametrize("key", ["herrljunga", "svenljunga", "tranemo", "tingsryd"])
def test_every_shipped_municipality_names_a_samordningsfunktion(key: str) -> None:
    org = shared_organisation(key)
    assert org.samordningsfunktion is not None
    assert org.samordningsfunktion.holders
    assert all(org.person(holder) for holder in org.samordningsfunktion.holders)
    assert not org.samordningsfunktion.contact.empty
    assert found(org) == []


def test_a_missing_samordningsfunktion_is_an_error_that_says_what_to_add() -> None:
    org = shared_organisation("herrljunga").model_copy(update={"samordningsfunktion": None})
    [(path, message)] = found(org)
    assert path == ("samordningsfunktion",)
    assert message.startswith("the organisation names no samordningsfunktion: Lag (2023:196)")
    assert "holders" in message
    assert "contact" in message


def test_a_samordningsfunktion_of_nobody_or_of_strangers_is_an_error() -> None:
    org = shared_organisation("herrljunga")
    assert found(with_function(org, holders=())) == [
        (
            ("samordningsfunktion", "holders"),
            "the samordningsfunktion names nobody: list under 'holders' the person ids of the"
            " people who hold it",
        )
    ]
    assert found(with_function(org, holders=("jessica.wahlstrom", "jessica.wahlstrm"))) == [
        (
            ("samordningsfunktion", "holders", 1),
            "the samordningsfunktion names 'jessica.wahlstrm', who is not among the people"
            " (did you mean 'jessica.wahlstrom'?)",
        )
    ]
    unreachable = with_function(org, contact=ContactRoute(note="Fråga i receptionen"))
    assert found(unreachable) == [
        (
            ("samordningsfunktion", "contact"),
            "the samordningsfunktion's contact route gives no way in: give its email, phone or"
            " web page",
        )
    ]


def test_a_policy_needs_its_own_key_a_known_owner_and_dates_after_its_decision() -> None:
    org = shared_organisation("svenljunga")
    first = org.policies[0]
    bad = (
        first,
        first.model_copy(update={"title": first.title}),
        first.model_copy(update={"key": "annan", "owner": "trollkarl"}),
        first.model_copy(update={"key": "tidig", "last_followed_up": dt.date(2019, 1, 1)}),
    )
    assert found(org.model_copy(update={"policies": bad})) == [
        (("policies", 1, "key"), f"'{first.key}' appears twice in policies"),
        (
            ("policies", 2, "owner"),
            "the owner 'trollkarl' of policy 'annan' is neither a person nor a role anyone holds",
        ),
        (
            ("policies", 3, "last_followed_up"),
            "last_followed_up 2019-01-01 of policy 'tidig' is before its decision (2019-10-21)",
        ),
    ]
    by_person = first.model_copy(update={"owner": "karin.lindqvist"})
    assert found(org.model_copy(update={"policies": (by_person,)})) == []


# ---------------------------------------------------------------- the seeds


def test_the_policies_are_those_the_seeds_name() -> None:
    herrljunga = shared_organisation("herrljunga")
    [guideline] = herrljunga.policies
    assert guideline.decided is not None
    assert guideline.decided.text() == "Kommunstyrelsen 2023-06-07 § 112 (KS-2023-00226)"
    assert (guideline.kind, guideline.owner, guideline.revise) == (
        "riktlinje",
        "sakerhetschef",
        "vid_behov",
    )
    function = herrljunga.samordningsfunktion
    assert function is not None
    assert function.decided == guideline.decided

    svenljunga = shared_organisation("svenljunga")
    model = svenljunga.policies[0]
    assert model.decided == KS_2019  # "Beslutandedatum: 2019-10-21 § 160"
    # "Ansvarig: Kanslichef", "Följas upp: Årligen", "Revideras: Vid behov"
    assert (model.owner, model.follow_up, model.revise) == ("kanslichef", "P1Y", "vid_behov")
    assert shared_organisation("tranemo").policies == ()


# ---------------------------------------------------------------- the year plan


def reviews(key: str, year: int) -> list[plan.PlanItem]:
    items = plan.year_plan(shared_organisation(key), shared_catalog().definitions, year)
    return [item for item in items if item.kind == "review"]


def test_the_year_plan_has_each_follow_up_for_the_owner() -> None:
    [item] = reviews("svenljunga", 2026)
    assert (item.date, item.policy, item.roles) == (
        dt.date(2026, 10, 20),
        "trygg_och_saker_kommun",
        ("kanslichef",),
    )
    assert item.title.en == "Follow-up: Safe and secure municipality"
    assert [i.date for i in reviews("svenljunga", 2027)] == [dt.date(2027, 10, 20)]
    assert [i.date for i in reviews("herrljunga", 2027)] == [dt.date(2027, 6, 3)]
    assert reviews("tranemo", 2027) == []


def test_a_periodic_revision_and_a_twice_yearly_follow_up_are_planned() -> None:
    org = shared_organisation("svenljunga")
    policy = org.policies[0].model_copy(
        update={"follow_up": "P6M", "revise": "P2Y", "last_revised": dt.date(2025, 3, 2)}
    )
    org = org.model_copy(update={"policies": (policy,)})
    items = plan.policy_reviews(org, dt.date(2027, 1, 1), dt.date(2027, 12, 31))
    assert sorted((i.date, i.title.en.split(":")[0]) for i in items) == [
        (dt.date(2027, 3, 2), "Revision"),
        (dt.date(2027, 4, 20), "Follow-up"),
        (dt.date(2027, 10, 20), "Follow-up"),
    ]


def test_tsk_plan_lists_the_reviews_and_puts_them_in_the_calendar_file(
    runner: CliRunner, tmp_path: Path
) -> None:
    args = ["--lang", "en", "--org", "svenljunga", "plan", "2026"]
    text = runner.invoke(cli, [*args, "--kind", "review"])
    assert text.exit_code == 0, text.output
    assert "2026-10-20" in text.stdout
    assert "Follow-up: Safe and secure municipality" in text.stdout
    assert "[kanslichef]" in text.stdout

    as_json = json.loads(runner.invoke(cli, [*args, "--kind", "review", "--json"]).stdout)
    assert [(i["date"], i["kind"], i["policy"]) for i in as_json] == [
        ("2026-10-20", "review", "trygg_och_saker_kommun")
    ]

    path = tmp_path / "svenljunga.ics"
    assert runner.invoke(cli, [*args, "--ics", str(path)]).exit_code == 0
    events = Calendar.from_ical(path.read_bytes()).walk("VEVENT")
    [event] = [e for e in events if str(e["SUMMARY"]).startswith("Follow-up:")]
    assert event.decoded("DTSTART") == dt.date(2026, 10, 20)


# ---------------------------------------------------------------- tsk org show


def test_org_show_says_the_samordningsfunktion_policies_and_choices(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--lang", "en", "--org", "herrljunga", "org", "show"])
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "Samordningsfunktion (Lag 2023:196):" in text
    assert "held by jessica.wahlstrom (Jessica Wahlström), hanna.nyberg (Hanna Nyberg)" in text
    assert "contact: trygghet@herrljunga.example.org, 070-174 06 10" in text
    assert "decided: Kommunstyrelsen 2023-06-07 § 112 (KS-2023-00226)" in text
    assert "followed up every P1Y, last 2026-06-03, next 2027-06-03" in text
    assert "revised on demand, last 2023-06-07" in text
    assert "the action plan is followed up at least every P6M (chosen)" in text

    tranemo = runner.invoke(cli, ["--lang", "en", "--org", "tranemo", "org", "show"]).stdout
    assert "Policy documents:" not in tranemo
    assert "the strategic lägesbild is renewed at least every P2Y" in tranemo
    assert "(default)" in tranemo


def test_org_show_as_json_has_the_sections_and_the_next_dates(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--org", "svenljunga", "org", "show", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    function = data["samordningsfunktion"]
    assert function["holders"] == ["maria.holm", "emelie.sandberg"]
    assert function["contact"]["email"] == "trygg.saker@svenljunga.example.org"
    model = data["policies"][0]
    assert (model["key"], model["next_follow_up"], model["next_revision"]) == (
        "trygg_och_saker_kommun",
        "2026-10-20",
        None,
    )
    assert model["decided"] == {
        "body": "Kommunstyrelsen",
        "date": "2019-10-21",
        "paragraph": 160,
        "case": None,
    }
    assert data["compliance"]["followup_interval"] == {"value": "P1Y", "chosen": False}


# ---------------------------------------------------------------- versions


def test_a_new_version_says_what_changed_in_the_new_sections() -> None:
    old = shared_organisation("herrljunga")
    assert old.samordningsfunktion is not None
    added = Policy(
        key="sakerhetspolicy",
        title={"sv": "Säkerhetspolicy", "en": "Security policy"},
        owner="sakerhetschef",
    )
    new = with_function(old, holders=("jessica.wahlstrom",)).model_copy(
        update={
            "policies": (old.policies[0].model_copy(update={"follow_up": "P2Y"}), added),
            "compliance": old.compliance.model_copy(update={"followup_interval": "P1Y"}),
        }
    )
    said = [change["en"] for change in changes(old, new)]
    assert said == [
        "samordningsfunktion changed: holders [jessica.wahlstrom, hanna.nyberg] ->"
        " [jessica.wahlstrom]",
        "policy added: sakerhetspolicy, Security policy",
        "policy riktlinje_tsk changed: follow_up P1Y -> P2Y",
        "compliance settings changed: followup_interval P6M -> P1Y",
    ]
    bare = old.model_copy(update={"samordningsfunktion": None})
    assert [c["en"] for c in changes(bare, old)] == [
        "samordningsfunktion set up: held by [jessica.wahlstrom, hanna.nyberg]"
    ]
    assert [c["en"] for c in changes(old, bare)] == ["samordningsfunktion removed"]
    function = Samordningsfunktion(contact=ContactRoute(phone="070-174 06 99"))
    assert function.holders == ()  # the model takes it; the validator says it names nobody


def test_the_year_plan_page_shows_the_follow_up(store: Store, clock: Clock) -> None:
    herrljunga(store, clock)
    with service_client(store, clock) as client:
        demo_sign_in(client, "jessica.wahlstrom")  # the säkerhetschef owns the guideline
        page = client.get("/plan?month=2027-06")
        assert page.status_code == 200, page.text
        assert 'class="kind kind-review"' in page.text
        assert "Riktlinje för trygghetsfrämjande och brottsförebyggande arbete" in page.text
        mine = client.get("/plan?month=2027-06&mine=1&kind=review")
        assert "Riktlinje för trygghetsfrämjande" in mine.text
        api = client.get("/api/v1/plan/2027?kind=review")
        assert api.status_code == 200, api.text
        assert [item["policy"] for item in api.json()] == ["riktlinje_tsk"]
