"""Whole stories through the command line (click's runner), on both databases, at virtual time:
a Herrljunga EST month with its decisions to KLG and KS, a turn of Tingsryd's five-step
collaboration cycle that opens the next turn when it closes, and the audit trail of it all,
exported, filtered and verified (and found broken after tampering)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.enginekit import Clock, Tsk, local
from tests.test_audit import tamper
from tsk_workflow.store.database import Store

CHAIR, DEPUTY, SECRETARY = "jessica.wahlstrom", "hanna.nyberg", "nina.bergqvist"
SAMORDNARE = "erik.sundin"
T_CHAIR, T_POLICE, T_KOMMUNCHEF = "malin.gustavsson", "jonas.lindberg", "bengt.rydell"
SHOW_KEYS = {"id", "process", "state", "period", "subject", "opened_by", "closed_by", "tasks"}
TASK_KEYS = {"id", "key", "role", "assignees", "due", "status"}


def herrljunga(store: Store, runner: CliRunner, clock: Clock, mp: pytest.MonkeyPatch) -> Tsk:
    tsk = Tsk(runner, store, "herrljunga", clock, mp)
    assert tsk.ok("init")["municipality"] == "herrljunga"
    return tsk


def open_tasks(tsk: Tsk, ref: str) -> dict[str, dict[str, Any]]:
    """The open tasks of the cycle's current step, by key (per-person tasks by assignee)."""
    shown = tsk.ok("cycle", "show", ref)
    found = {}
    for task in shown["tasks"]:
        if task["status"] == "open" and task["step"] == shown["state"]:
            key = (
                task["key"]
                if len(task["assignees"]) > 1
                else f"{task['key']}:{task['assignees'][0]}"
            )
            found[key] = task
    return found


def done(
    tsk: Tsk, task: dict[str, Any], who: str, note: str = "klart", *extra: str
) -> dict[str, Any]:
    row: dict[str, Any] = tsk.ok("task", "done", str(task["id"]), "--note", note, *extra, as_=who)
    assert (row["status"], row["done_by"], row["note"]) == ("done", who, note)
    return row


def attach(tsk: Tsk, tmp_path: Path, ref: str, kind: str, who: str) -> dict[str, Any]:
    path = tmp_path / f"{ref}-{kind}.pdf"
    path.write_bytes(f"%PDF-1.7 {ref} {kind}".encode())
    row: dict[str, Any] = tsk.ok("cycle", "attach", ref, str(path), "--kind", kind, as_=who)
    assert (row["kind"], row["filename"], row["attached_by"]) == (kind, path.name, who)
    return row


def state(tsk: Tsk, ref: str) -> str:
    return str(tsk.ok("cycle", "show", ref)["state"])


# --- Herrljunga: an EST month ----------------------------------------------------------------


def test_herrljunga_est_month(
    store: Store,
    runner: CliRunner,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    tsk = herrljunga(store, runner, clock, monkeypatch)
    ref = "est-2027-03"

    # The chair opens the month; every reporter gets a task of their own.
    opened = tsk.ok("cycle", "open", "est", "--period", "2027-03", as_=CHAIR)
    assert set(opened) >= SHOW_KEYS
    assert (opened["process"], opened["state"], opened["period"], opened["subject"]) == (
        "est",
        "insamling",
        "2027-03",
        None,
    )
    assert (opened["opened_by"], opened["closed_by"], opened["status"]) == (CHAIR, None, "open")
    assert opened["allowed_triggers"] == ["sammanstall"]
    for task in opened["tasks"]:
        assert set(task) >= TASK_KEYS
        assert (task["key"], task["role"], task["status"]) == ("rapport", "inrapportor", "open")
        assert task["due"] == "2027-03-10T16:00:00+00:00"
    reporters = sorted(t["assignees"][0] for t in opened["tasks"])
    assert reporters == [
        "ida.wikstrom",
        "johanna.falk",
        "jonas.ek",
        "rachel.moore",
        "viktor.holmberg",
    ]
    text = tsk.text("cycle", "show", ref)
    assert "est-2027-03 (id 1): EST – månatlig lägesbild 2027-03" in text
    assert "möjliga steg: sammanstall" in text
    listed = tsk.ok("cycle", "list", "--open")
    assert [(c["ref"], c["state"]) for c in listed] == [(ref, "insamling")]

    # A refused trigger names the allowed one; someone else's task cannot be completed.
    assert "tillåtna: sammanstall" in tsk.refused("cycle", "advance", ref, "analysera", as_=CHAIR)
    first = opened["tasks"][0]
    stranger = "tomas.berglund"
    assert "bara de eller ordföranden får markera den klar" in tsk.refused(
        "task", "done", str(first["id"]), as_=stranger
    )

    # Each reporter finds and completes their own task; the last one moves the cycle on.
    for day, person in enumerate(reporters, start=1):
        clock.set(local(2027, 3, 1 + day, 10))
        (mine,) = tsk.ok("task", "list", "--mine", as_=person)
        assert (mine["cycle_ref"], mine["assignees"]) == (ref, [person])
        # A report is a form: a note alone does not say there was nothing to report.
        assert "--nothing-to-report" in tsk.refused(
            "task", "done", str(mine["id"]), "--note", "klart", as_=person
        )
        done(tsk, mine, person, f"rapport från {person}", "--nothing-to-report")
    assert tsk.ok("task", "list", "--mine", as_="viktor.holmberg") == []
    assert state(tsk, ref) == "egna_lagesbilder"

    # Each organisation's coordinator compiles its own lägesbild (000/001): the municipality's,
    # the police's and the housing company's; the chair's deputy only stands in.
    clock.set(local(2027, 3, 8, 9))
    own = open_tasks(tsk, ref)
    coordinators = [CHAIR, SAMORDNARE, "tomas.berglund"]
    assert sorted(own) == sorted(f"sammanstall_egen_lagesbild:{p}" for p in coordinators)
    for person in coordinators:
        done(tsk, own[f"sammanstall_egen_lagesbild:{person}"], person)
    assert state(tsk, ref) == "sammanstallning"

    # Sammanställning, orsaksanalys and åtgärdsplan, with their documents.
    clock.set(local(2027, 3, 9, 9))
    attach(tsk, tmp_path, ref, "lagesbild", SAMORDNARE)
    done(tsk, open_tasks(tsk, ref)["sammanstall_lagesbild"], SAMORDNARE)
    assert state(tsk, ref) == "orsaksanalys"
    clock.set(local(2027, 3, 11, 11))
    attach(tsk, tmp_path, ref, "orsaksanalys", CHAIR)
    done(tsk, open_tasks(tsk, ref)["genomfor_orsaksanalys"], CHAIR, "analys gjord på mötet")
    assert state(tsk, ref) == "atgardsplan"
    clock.set(local(2027, 3, 12, 14))
    attach(tsk, tmp_path, ref, "atgardsplan", DEPUTY)
    done(tsk, open_tasks(tsk, ref)["skriv_atgardsplan"], DEPUTY)
    assert state(tsk, ref) == "atgardsplan"  # the plan is actions in the register: it waits
    action = (
        "--title",
        "Belysning i parken",
        "--cause",
        "Otryggt kvällstid",
        "--due",
        "2027-06-30",
    )
    tsk.ok("action", "add", *action, "--owner", DEPUTY, "--cycle", ref, as_=DEPUTY)
    assert state(tsk, ref) == "beslut"

    # Two proposals from the EST cycle: one to KLG, one to KS.
    clock.set(local(2027, 3, 15, 10))
    klg = tsk.ok(
        "decision",
        "propose",
        ref,
        "--title",
        "Bättre belysning vid stationen",
        "--cost",
        "45000",
        as_=CHAIR,
    )
    ks_text = tsk.text(
        "decision",
        "propose",
        ref,
        "--title",
        "Trygghetskameror i centrum",
        "--cost",
        "250000",
        as_=CHAIR,
    )
    assert (klg["id"], klg["routed_to"], klg["agenda_date"]) == (1, "klg", "2027-03-22")
    assert "Ingen regel träffade" in klg["reason"]
    assert "till KS enligt regeln 'kostnad_over_200000'" in ks_text
    assert "på dagordningen för KS 2027-05-05" in ks_text
    done(tsk, open_tasks(tsk, ref)["lamna_beslutsforslag"], CHAIR, "två förslag lämnade")
    assert state(tsk, ref) == "aterkoppling"

    # Feedback; the optional task for the kommunchef does not hold the cycle open.
    clock.set(local(2027, 3, 18, 15))
    feedback = open_tasks(tsk, ref)
    assert set(feedback) == {
        "aterkoppla_kommunchef",
        "aterkoppla_forvaltningsledning:lars.hedlund",
        "aterkoppla_inrapportorer",
    }
    done(tsk, feedback["aterkoppla_inrapportorer"], SAMORDNARE)
    done(tsk, feedback["aterkoppla_kommunchef"], CHAIR)
    closed = tsk.ok("cycle", "show", ref)
    assert (closed["state"], closed["status"], closed["closed_by"]) == ("avslutad", "closed", CHAIR)
    assert closed["allowed_triggers"] == []
    assert tsk.ok("cycle", "list", "--open", "--process", "est") == []

    # KLG decides on 22 March; KS postpones on 5 May and decides on 2 June.
    clock.set(local(2027, 3, 22, 12))
    recorded = tsk.ok(
        "decision",
        "record",
        "1",
        "--body",
        "klg",
        "--date",
        "2027-03-22",
        "--paragraph",
        "§ 31",
        "--outcome",
        "approved",
        as_=SECRETARY,
    )
    assert (recorded["status"], recorded["paragraph"]) == ("approved", "§ 31")
    clock.set(local(2027, 5, 5, 16))
    postponed = tsk.ok(
        "decision",
        "record",
        "2",
        "--body",
        "ks",
        "--date",
        "2027-05-05",
        "--paragraph",
        "78",
        "--outcome",
        "postponed",
        as_=SECRETARY,
    )
    assert (postponed["status"], postponed["paragraph"], postponed["agenda_date"]) == (
        "postponed",
        "§ 78",
        "2027-06-02",
    )
    clock.set(local(2027, 6, 2, 16))
    tsk.ok(
        "decision",
        "record",
        "2",
        "--body",
        "ks",
        "--date",
        "2027-06-02",
        "--paragraph",
        "§ 95",
        "--outcome",
        "approved",
        as_=SECRETARY,
    )
    decisions = tsk.ok("decision", "list")
    assert [
        (
            d["title"],
            d["proposed_by"],
            d["routed_to"],
            d["status"],
            d["body"],
            d["date"],
            d["paragraph"],
        )
        for d in decisions
    ] == [
        ("Bättre belysning vid stationen", CHAIR, "klg", "approved", "klg", "2027-03-22", "§ 31"),
        ("Trygghetskameror i centrum", CHAIR, "ks", "approved", "ks", "2027-06-02", "§ 95"),
    ]
    lines = tsk.text("decision", "list").splitlines()
    assert lines[0].endswith("-> bifallet KLG 2027-03-22 § 31 (nina.bergqvist)")
    assert lines[1].endswith("-> bifallet KS 2027-06-02 § 95 (nina.bergqvist)")

    # The audit trail: the cycle's events, one person's, a period, as JSON and CSV.
    events = tsk.ok("audit", "--cycle", ref)
    actions = [e["action"] for e in events]
    # the decisions made from the cycle are among its events, also after it closed
    assert (actions[0], actions[-1]) == ("cycle.opened", "decision.recorded")
    assert actions.index("cycle.closed") < actions.index("decision.recorded")
    assert actions.count("task.done") == 14  # 5 reports, 3 own lägesbilder, 6 more
    attached = [e for e in events if e["action"] == "document.attached"]
    # the lägesbild made from the reports on entering sammanställning, and the three attached
    assert [(e["actor"], e["payload"]["kind"]) for e in attached] == [
        ("tsk", "lagesbild"),
        (SAMORDNARE, "lagesbild"),
        (CHAIR, "orsaksanalys"),
        (DEPUTY, "atgardsplan"),
    ]
    assert actions.count("cycle.advanced") == 7
    assert actions.count("decision.proposed") == 2
    assert actions.count("decision.recorded") == 3
    assert {e["cycle_id"] for e in events} == {1}
    by_secretary = tsk.ok("audit", "--actor", SECRETARY)
    assert [(e["action"], e["payload"]["outcome"]) for e in by_secretary] == [
        ("decision.recorded", "approved"),
        ("decision.recorded", "postponed"),
        ("decision.recorded", "approved"),
    ]
    in_may = tsk.ok("audit", "--since", "2027-05-01", "--until", "2027-06-01")
    assert {e["action"] for e in in_may} >= {"decision.recorded"}
    assert all(e["at"].startswith("2027-05-05") for e in in_may)
    exported = list(csv.DictReader(io.StringIO(tsk.text("audit", "--csv"))))
    everything = tsk.ok("audit")
    assert [int(r["seq"]) for r in exported] == [e["seq"] for e in everything]
    assert exported[0]["action"] == "organisation.loaded"
    human = tsk.text("audit", "--cycle", ref).splitlines()
    assert len(human) == len(events)
    advanced = next(line for line in human if "cycle.advanced" in line)
    assert "trigger=sammanstall to=egna_lagesbilder" in advanced

    verified = tsk.text("audit", "verify")
    assert verified.startswith(f"OK: {len(everything)} händelser, kedjan är hel")
    assert tsk.ok("audit", "verify")["ok"] is True


# --- Tingsryd: a turn of the five-step collaboration cycle -----------------------------------


def test_tingsryd_collaboration_cycle(
    store: Store,
    runner: CliRunner,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    clock.set(local(2027, 1, 11, 9))
    tsk = Tsk(runner, store, "tingsryd", clock, monkeypatch)
    tsk.ok("init")
    opened = tsk.ok("cycle", "open", "samverkan", as_=T_CHAIR)
    ref = opened["ref"]
    assert (ref, opened["period"], opened["state"]) == (
        "samverkan-1",
        "1",
        "initiera_och_inga_samverkan",
    )

    # 1. Initiate: structure, the police's coordinator, the inventory; the first agreement is
    #    optional, and attached here although the step does not wait for it.
    step = open_tasks(tsk, ref)
    attach(tsk, tmp_path, ref, "samverkansoverenskommelse", T_CHAIR)
    done(tsk, step["polisens_samordnare:jonas.lindberg"], T_POLICE)
    done(tsk, step["skapa_struktur"], T_CHAIR)
    clock.set(local(2027, 2, 8, 9))
    done(tsk, step["resursinventering"], "lina.axelsson")  # the deputy coordinator
    assert state(tsk, ref) == "egna_forberedelser"

    # 2. Own preparations: the tasks are done, but the step waits for the lägesbild.
    step = open_tasks(tsk, ref)
    done(tsk, step["kommunens_lagesbild"], T_CHAIR)
    done(tsk, step["forutsattningar"], T_KOMMUNCHEF)
    assert state(tsk, ref) == "egna_forberedelser"
    refused = tsk.refused("cycle", "advance", ref, "till_gemensamma_forberedelser", as_=T_CHAIR)
    assert "dokument saknas: lagesbild" in refused
    clock.set(local(2027, 3, 1, 9))
    attach(tsk, tmp_path, ref, "lagesbild", T_CHAIR)
    assert state(tsk, ref) == "gemensamma_forberedelser"

    # 3. Joint preparations: a joint meeting, three documents, the agreement signed.
    for kind in ("lagesbild", "orsaksanalys", "samverkansoverenskommelse"):
        attach(tsk, tmp_path, ref, kind, T_POLICE if kind == "lagesbild" else T_CHAIR)
    step = open_tasks(tsk, ref)
    done(tsk, step["polisens_lagesbild:jonas.lindberg"], T_POLICE)
    done(tsk, step["gemensam_analys"], T_CHAIR)
    done(tsk, step["skriv_overenskommelse"], T_CHAIR)
    clock.set(local(2027, 4, 12, 10))
    done(tsk, step["underteckna_overenskommelse"], T_KOMMUNCHEF, "undertecknad")
    assert state(tsk, ref) == "genomforande"

    # 4. Implementation: action plans and minutes.
    attach(tsk, tmp_path, ref, "atgardsplan", T_CHAIR)
    attach(tsk, tmp_path, ref, "protokoll", T_CHAIR)
    step = open_tasks(tsk, ref)
    done(tsk, step["konkreta_mal"], T_CHAIR)
    done(tsk, step["polisens_atgarder:jonas.lindberg"], T_POLICE)
    action = ("--title", "Fler vuxna ute", "--cause", "Oro i centrum", "--due", "2027-12-31")
    tsk.ok("action", "add", *action, "--owner", T_POLICE, "--cycle", ref, as_=T_CHAIR)
    clock.set(local(2027, 10, 4, 10))
    done(tsk, step["dokumentera"], T_CHAIR)
    assert state(tsk, ref) == "uppfoljning"

    # 5. Follow-up, reported to KS; the report closes the turn and the next one opens.
    step = open_tasks(tsk, ref)
    done(tsk, step["granska_effekter"], T_CHAIR)
    done(tsk, step["aterkoppla_ks"], T_CHAIR, "återkopplat till KS")
    assert state(tsk, ref) == "uppfoljning"
    clock.set(local(2027, 11, 1, 10))
    attach(tsk, tmp_path, ref, "rapport", T_CHAIR)

    closed = tsk.ok("cycle", "show", ref)
    assert (closed["state"], closed["status"]) == ("avslutad", "closed")
    assert {t["status"] for t in closed["tasks"]} == {"done", "cancelled"}
    rounds = tsk.ok("cycle", "list", "--process", "samverkan")
    assert [(c["ref"], c["status"], c["state"]) for c in rounds] == [
        ("samverkan-1", "closed", "avslutad"),
        ("samverkan-2", "open", "initiera_och_inga_samverkan"),
    ]
    assert rounds[1]["opened_at"] == clock.now.isoformat()
    documents = tsk.ok("cycle", "documents", ref)
    assert [d["kind"] for d in documents] == [
        "samverkansoverenskommelse",
        "lagesbild",
        "lagesbild",
        "orsaksanalys",
        "samverkansoverenskommelse",
        "atgardsplan",
        "protokoll",
        "rapport",
    ]
    assert len({d["sha256"] for d in documents}) == len(documents) - 2
    second = open_tasks(tsk, "samverkan-2")
    assert "skapa_struktur" in second

    assert tsk.ok("audit", "verify")["ok"] is True
    assert tsk.text("decision", "list").strip() == "Inga beslut."


# --- the audit trail at the command line -----------------------------------------------------


def test_audit_verify_names_the_first_broken_event(
    store: Store, runner: CliRunner, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    tsk = herrljunga(store, runner, clock, monkeypatch)
    tsk.ok("cycle", "open", "est", "--period", "2027-03", as_=CHAIR)
    for task in tsk.ok("task", "list")[:3]:
        clock.advance(hours=1)
        tsk.ok("task", "done", str(task["id"]), "--nothing-to-report", as_=task["assignees"][0])
    assert tsk.ok("audit", "verify") == {
        "ok": True,
        "events": 5,
        "anchored_to": None,  # no checkpoints given
        "unanchored": 5,
        "problems": [],
    }
    head = tsk.ok("audit")[-1]["hash"]
    assert tsk.text("audit", "verify").splitlines()[0] == (
        f"OK: 5 händelser, kedjan är hel (senaste hash {head[:16]}…)"
    )

    tamper(store, "UPDATE audit_events SET actor = 'mallory' WHERE seq = 3")

    result = tsk("audit", "verify")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines()[0] == (
        "BRUTEN vid händelse 3: händelse 3: hashen stämmer inte med innehållet (ändrad?)"
    )
    as_json = tsk("audit", "verify", "--json")
    assert as_json.exit_code == 1
    report = json.loads(as_json.stdout)
    assert (report["ok"], report["events"]) == (False, 6)  # the failed check before is one
    assert report["problems"][0] == {
        "seq": 3,
        "kind": "edited",
        "detail": "händelse 3: hashen stämmer inte med innehållet (ändrad?)",
    }


def test_audit_verify_finds_a_changed_document(
    store: Store,
    runner: CliRunner,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    tsk = herrljunga(store, runner, clock, monkeypatch)
    tsk.ok("cycle", "open", "est", "--period", "2027-03", as_=CHAIR)
    document = attach(tsk, tmp_path, "est-2027-03", "lagesbild", CHAIR)
    assert tsk.ok("audit", "verify")["ok"] is True

    with store.engine.begin() as connection:
        from sqlalchemy import text

        connection.execute(
            text("UPDATE documents SET content = :c WHERE id = :i"),
            {"c": b"%PDF-1.7 forged", "i": document["id"]},
        )

    result = tsk("audit", "verify")
    assert result.exit_code == 1
    assert f"dokument {document['id']} ({document['filename']}" in result.stderr
    assert "stämmer inte med den SHA-256 som registrerades när det bifogades" in result.stderr


def test_cli_refusals_are_one_line_and_change_nothing(
    store: Store, runner: CliRunner, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    tsk = herrljunga(store, runner, clock, monkeypatch)
    tsk.ok("cycle", "open", "est", "--period", "2027-03", as_=CHAIR)
    trail = tsk.ok("audit")

    assert tsk.refused("cycle", "open", "est", "--period", "2027-03", as_=CHAIR) == (
        "tsk: cykeln est-2027-03 finns redan (id 1, öppen)"
    )
    assert "5 öppna uppgifter: stäng med --force och en --note" in tsk.refused(
        "cycle", "close", "est-2027-03", as_=CHAIR
    )
    assert "att stänga med --force kräver en --note" in tsk.refused(
        "cycle", "close", "est-2027-03", "--force", "--json", as_=CHAIR
    )
    assert "ingen cykel 'est-2027-04'" in tsk.refused("cycle", "show", "est-2027-04")
    assert "ingen uppgift 999" in tsk.refused("task", "done", "999", as_=CHAIR)
    assert "ogiltig period" in tsk.refused(
        "cycle", "open", "est", "--period", "mars 2027", as_=CHAIR
    )
    usage = tsk("cycle", "close", as_=CHAIR)
    assert usage.exit_code == 2
    assert tsk.ok("audit") == trail

    closed = tsk.ok(
        "cycle", "close", "est-2027-03", "--force", "--note", "Fel månad öppnad", as_=DEPUTY
    )
    assert (closed["status"], closed["forced"], closed["close_note"], closed["closed_by"]) == (
        "closed",
        True,
        "Fel månad öppnad",
        DEPUTY,
    )
    last = tsk.ok("audit")[-1]
    assert (last["action"], last["actor"], last["payload"]["forced"]) == (
        "cycle.closed",
        DEPUTY,
        True,
    )
    assert last["payload"]["note"] == "Fel månad öppnad"
