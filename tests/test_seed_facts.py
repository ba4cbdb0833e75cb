"""The facts of the seed documents, as the shipped definitions and municipalities carry them.

Each assertion names the seed it comes from (../shared/seeds/).
"""

from __future__ import annotations

import pytest

from tsk_workflow.catalog import Catalog, load_catalog, load_organisation
from tsk_workflow.definitions.model import (
    EveryOtherYearSchedule,
    ManualSchedule,
    MonthlySchedule,
    PerAreaSchedule,
    RestartSchedule,
    RotationSchedule,
    TimesAYearSchedule,
    YearlySchedule,
)
from tsk_workflow.organisation.model import Organisation
from tsk_workflow.organisation.validate import effective_schedule


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def org(name: str) -> Organisation:
    return load_organisation(name)


def group_chair_roles(municipality: Organisation, process: str) -> tuple[str, ...]:
    group = municipality.group(municipality.processes[process].group)
    assert group is not None
    chair = municipality.person(group.chair)
    assert chair is not None
    return chair.roles


def test_est_is_monthly_except_july_and_december_by_default(catalog: Catalog) -> None:
    est = catalog.definition("est")
    assert isinstance(est.schedule, MonthlySchedule)
    assert est.schedule.except_months == (
        7,
        12,
    )  # 003: "undantagen sommarsemesterperiod och december"
    assert est.chair == "sakerhetschef"  # 003: "Ordförande: Säkerhetschef"


def test_est_steps_follow_herrljunga_and_tranemo(catalog: Catalog) -> None:
    est = catalog.definition("est")
    steps = est.step_keys
    assert steps[0] == "insamling"
    assert steps[-1] in est.final
    assert {"lagesbild"} <= set(est.step("sammanstallning").produces)  # 003: lägesbild
    assert "orsaksanalys" in steps
    assert "atgardsplan" in steps
    feedback = est.step("aterkoppling")
    roles = {task.role for task in feedback.tasks}
    assert {"kommunchef", "samordnare"} <= roles  # 002: to the kommunchef and the reporters


def test_herrljunga_chairs_and_rhythms(catalog: Catalog) -> None:
    herrljunga = org("herrljunga")
    assert "sakerhetschef" in group_chair_roles(herrljunga, "est")
    est = effective_schedule(catalog.definition("est"), herrljunga.processes["est"].schedule)
    assert isinstance(est, MonthlySchedule)
    assert set(est.except_months) >= {7, 12}
    styrgrupp = catalog.definition("styrgrupp")
    assert isinstance(styrgrupp.schedule, TimesAYearSchedule)
    assert styrgrupp.schedule.times == 2
    assert "ks_ordforande" in group_chair_roles(herrljunga, "styrgrupp")  # KS's chair
    for key in ("sspf", "rattighetsnatverket"):
        schedule = catalog.definition(key).schedule
        assert isinstance(schedule, TimesAYearSchedule)
        assert schedule.times == 4
        assert "folkhalsostrateg" in group_chair_roles(herrljunga, key)
    deeper = catalog.definition("fordjupad_lagesbild").schedule
    assert isinstance(deeper, EveryOtherYearSchedule)  # "minst vartannat år"
    assert "atgardsplan" in {
        kind for step in catalog.definition("fordjupad_lagesbild").steps for kind in step.produces
    }
    assert "arsrapport" in herrljunga.processes  # KS reports to KF at least once a year


def test_tranemo_walks_rotate_over_twelve_towns(catalog: Catalog) -> None:
    tranemo = org("tranemo")
    assert len(tranemo.towns) == 12  # 002: "kommunens samtliga 12 orter"
    assert tranemo.main_town is not None
    assert tranemo.main_town.name == "Tranemo"
    walks = effective_schedule(
        catalog.definition("trygghetsvandring"), tranemo.processes["trygghetsvandring"].schedule
    )
    assert isinstance(walks, RotationSchedule)
    assert walks.per_year == 4
    assert walks.over == "towns"
    for key in ("bra_unga", "bra_trafik"):
        schedule = catalog.definition(key).schedule
        assert isinstance(schedule, TimesAYearSchedule)
        assert schedule.times == 2
        assert key in tranemo.processes


def test_tranemo_safety_meeting_has_its_agenda(catalog: Catalog) -> None:
    meeting = next(
        step.meeting for step in catalog.definition("trygghetsmote").steps if step.meeting
    )
    assert meeting.start == "18:00"
    assert meeting.length == "PT2H"
    agenda = " ".join(item.sv.lower() for item in meeting.agenda)
    assert "fika" in agenda
    assert "föreläsning" in agenda
    assert "frågor" in agenda
    walk = catalog.definition("trygghetsvandring")
    opened = [link for step in walk.steps for link in step.opens]
    assert any(link.process == "trygghetsmote" and link.within == "P1M" for link in opened)


def test_svenljunga_traffpunkt_runs_in_five_areas(catalog: Catalog) -> None:
    svenljunga = org("svenljunga")
    assert len(svenljunga.areas) == 5  # 000/001: "fem olika geografiska områden"
    main = svenljunga.main_town
    assert main is not None
    assert all(main.key not in area.towns for area in svenljunga.areas)  # "förutom centralorten"
    traffpunkt = catalog.definition("traffpunkt")
    assert isinstance(traffpunkt.schedule, PerAreaSchedule)
    assert traffpunkt.subject == "area"
    assert traffpunkt.chair == "kommunutvecklare"  # "Kommunutvecklaren håller i ..."
    assert any(
        link.process == "trygghetsvandring" and link.offer
        for step in traffpunkt.steps
        for link in step.opens
    )
    survey = catalog.definition("trygghetsundersokning").schedule
    assert isinstance(survey, YearlySchedule)
    assert survey.month == 11


def test_tingsryd_cycle_has_five_steps_and_restarts(catalog: Catalog) -> None:
    samverkan = catalog.definition("samverkan")
    assert samverkan.step_keys[:5] == (
        "initiera_och_inga_samverkan",
        "egna_forberedelser",
        "gemensamma_forberedelser",
        "genomforande",
        "uppfoljning",
    )  # 004: De fem stegen
    assert isinstance(samverkan.schedule, RestartSchedule)  # "för att sedan starta igen"
    produced = {kind for step in samverkan.steps for kind in step.produces}
    assert {"samverkansoverenskommelse", "lagesbild", "atgardsplan", "protokoll"} <= produced
    assert samverkan.step("uppfoljning").reports_to == "ks"  # "återkoppling till kommunstyrelsen"
    assert "samverkan" in org("tingsryd").processes


def test_a_postponed_decision_returns_to_the_agenda(catalog: Catalog) -> None:
    beslut = catalog.definition("beslut")
    compiled = catalog.compiled("beslut")
    postpone = compiled.transition("pa_dagordning", "bordlagg")
    assert postpone is not None
    again = compiled.auto_transition(postpone.dest) or compiled.transition(
        postpone.dest, "ater_pa_dagordning"
    )
    assert again is not None
    assert again.dest == "pa_dagordning"
    assert {"beslutad", "avslagen"} <= set(beslut.final)


@pytest.mark.parametrize("name", ["svenljunga", "tranemo", "herrljunga", "tingsryd"])
def test_people_are_fictional_under_example_org(name: str) -> None:
    municipality = org(name)
    # The police and the housing company have their own (equally fictional) subdomains.
    assert all(person.email.endswith(f"{name}.example.org") for person in municipality.people)
    assert municipality.routing.default in {"klg", "ks"}
    assert {"klg", "ks"} <= set(municipality.bodies)


# ---------------------------------------------------------------- issue 19: the seed gaps

MUNICIPALITIES = ("svenljunga", "tranemo", "herrljunga", "tingsryd")


@pytest.mark.parametrize("name", MUNICIPALITIES)
def test_every_municipality_makes_a_yearly_medborgarlofte_with_the_police(
    catalog: Catalog, name: str
) -> None:
    # 003 "Medborgarlöfte" and "Samverkansöverenskommelse"; Brå step 4: "Medborgarlöften har tagits
    # fram, undertecknats och kommunicerats" and "Uppföljning är planerad".
    loften = catalog.definition("medborgarloften")
    assert isinstance(loften.schedule, YearlySchedule)
    assert loften.step_keys[:4] == ("utkast", "undertecknande", "kommunikation", "uppfoljning")
    assert "kommunpolis" in {task.role for task in loften.step("utkast").tasks}  # with the police
    signing = loften.step("undertecknande")
    assert {"medborgarlofte", "samverkansoverenskommelse"} <= set(signing.produces)
    assert {task.role for task in signing.tasks} == {"ks_ordforande", "lokalpolisomradeschef"}
    assert "kommunikator" in {task.role for task in loften.step("kommunikation").tasks}
    assert loften.step("uppfoljning").produces == ("rapport",)
    municipality = org(name)
    assert "medborgarloften" in municipality.processes
    assert "samordnare" in group_chair_roles(municipality, "medborgarloften")
    for role in ("ks_ordforande", "lokalpolisomradeschef", "kommunpolis"):
        assert municipality.holders(role), f"{name}: nobody holds {role}"


def test_svenljunga_analysgrupp_meets_on_demand(catalog: Catalog) -> None:
    # 000/001 "Analysgrupp": "En utvald arbetsgrupp kommer att träffas vid behov".
    svenljunga = org("svenljunga")
    est = effective_schedule(catalog.definition("est"), svenljunga.processes["est"].schedule)
    assert isinstance(est, ManualSchedule)
    group = svenljunga.group(svenljunga.processes["est"].group)
    assert group is not None
    departments = {
        person.department
        for person in svenljunga.people
        if person.id in {group.chair, *group.members}
    }
    # "personal från kommunen, polisen och det kommunala bostadsbolaget"
    assert {"Polisen", "Det kommunala bostadsbolaget", "Kansliet"} <= departments


def test_each_coordinator_compiles_their_own_lagesbild_first(catalog: Catalog) -> None:
    # 000/001: "varje samordnare sammanställer sin organisations lägesbild".
    est = catalog.definition("est")
    steps = est.step_keys
    assert steps.index("egna_lagesbilder") == steps.index("sammanstallning") - 1
    (own,) = est.step("egna_lagesbilder").tasks
    assert (own.role, own.per_person) == ("samordnare", True)
    assert est.version >= 4
    for name in ("svenljunga", "tranemo", "herrljunga"):
        holders = org(name).holders("samordnare")
        # One coordinator per organisation: the municipality, the police, the housing company.
        assert len({person.department.split(" – ")[0] for person in holders}) == len(holders)
        assert {"Polisen"} <= {person.department for person in holders}


def test_herrljunga_follows_up_safety_through_surveys_and_dialogues(catalog: Catalog) -> None:
    # 003: "Tryggheten följs upp genom medborgarenkäter och dialoger".
    herrljunga = org("herrljunga")
    assert {"trygghetsundersokning", "medborgardialog"} <= set(herrljunga.processes)
    dialog = catalog.definition("medborgardialog")
    assert any(step.meeting for step in dialog.steps)
    assert "folkhalsostrateg" in group_chair_roles(herrljunga, "medborgardialog")


def test_tranemo_ungdomskommitten_and_svenljunga_samhallskris(catalog: Catalog) -> None:
    # 002: "Den operativa delen diskuteras i den kompletterande Ungdomskommittén" (no rhythm given).
    tranemo = org("tranemo")
    assert tranemo.processes["ungdomskommitten"].group == "ungdomskommitten"
    assert isinstance(catalog.definition("ungdomskommitten").schedule, ManualSchedule)
    # 000/001 "Samhällskris": "anordna träffar med representanter från kommunens orter och
    # näringsliv".
    svenljunga = org("svenljunga")
    group = svenljunga.group(svenljunga.processes["samhallskris"].group)
    assert group is not None
    roles = {
        role for person in svenljunga.people if person.id in group.members for role in person.roles
    }
    assert {"ortsrepresentant", "naringsliv"} <= roles
    assert any(step.meeting for step in catalog.definition("samhallskris").steps)


def test_svenljunga_main_town_walk_is_offered_not_scheduled(catalog: Catalog) -> None:
    # 000/001: "så kan en trygghetsvandring ske i centralorten 1 gång per år".
    svenljunga = org("svenljunga")
    walks = effective_schedule(
        catalog.definition("trygghetsvandring"), svenljunga.processes["trygghetsvandring"].schedule
    )
    assert isinstance(walks, ManualSchedule)
    survey = catalog.definition("trygghetsundersokning")
    assert any(
        link.process == "trygghetsvandring" and link.offer
        for step in survey.steps
        for link in step.opens
    )


@pytest.mark.parametrize("name", MUNICIPALITIES)
def test_every_municipality_makes_a_strategic_lagesbild_with_the_laws_parts(
    catalog: Catalog, name: str
) -> None:
    # Lag (2023:196) 4 §: kartläggning, other information, analysis.
    deeper = catalog.definition("fordjupad_lagesbild")
    step = next(step for step in deeper.steps if "lagesbild" in step.produces)
    forms = [task.form for task in step.tasks if task.form is not None]
    assert len(forms) == 1
    questions = {q.key: q for q in forms[0].questions}
    for key in ("kartlaggning", "ovrig_information", "analys"):
        assert questions[key].type == "text"
        assert questions[key].required
    municipality = org(name)
    assert "fordjupad_lagesbild" in municipality.processes
    assert "ks_ordforande" in group_chair_roles(municipality, "fordjupad_lagesbild")


def test_other_operative_groups_make_a_lagesbild_on_demand(catalog: Catalog) -> None:
    # 003: "även andra operativa grupper ska vid behov ta fram lägesbilder och åtgärdsplaner".
    operative = catalog.definition("operativ_lagesbild")
    assert isinstance(operative.schedule, ManualSchedule)
    produced = {kind for step in operative.steps for kind in step.produces}
    assert {"lagesbild", "atgardsplan"} <= produced
    assert org("herrljunga").processes["operativ_lagesbild"].group == "sspf"
