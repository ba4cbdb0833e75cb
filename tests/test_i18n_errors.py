"""The errors and messages of the engine, the store, the audit trail and the checkpoints speak
the language asked for (issue 16): Swedish by default, English with ``--lang en`` (or
``i18n.speaking("en")``). What is stored stays as it was: the audit trail's payloads and
hashes do not depend on the language an act was done in; a refusal kept in ``refused_acts``
keeps the sentence the person was shown, in the language of the act."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from tests.dbfixtures import MakeStore
from tests.enginekit import Clock, Tsk, counts, local
from tsk_workflow import audit, checkpoints, i18n
from tsk_workflow.engine.decisions import Decisions, normalise_paragraph
from tsk_workflow.engine.directory import PermissionDenied
from tsk_workflow.engine.service import Engine
from tsk_workflow.errors import Conflict, NotFound, Refused, TskError
from tsk_workflow.store import acts
from tsk_workflow.store.database import Store, database_url
from tsk_workflow.store.models import AuditEvent, AuditPayload, RefusedAct

CHAIR = "jessica.wahlstrom"
MEMBER = "sofie.ahlin"  # a member of EST, not its chair


def opened_est(engine: Engine) -> int:
    return engine.open_cycle(CHAIR, "est", "2027-03").id


@pytest.fixture
def tsk(store: Store, runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> Tsk:
    tsk = Tsk(runner, store, "herrljunga", Clock(local(2027, 3, 1)), monkeypatch)
    tsk.ok("init")
    tsk.ok("cycle", "open", "est", "--period", "2027-03", as_=CHAIR)
    return tsk


# ---------------------------------------------------------------- through the command line


def test_an_engine_refusal_is_swedish_by_default_and_english_on_request(tsk: Tsk) -> None:
    close = ("cycle", "close", "est-2027-03")
    assert tsk.refused(*close, as_=CHAIR) == (
        "tsk: est-2027-03 har 5 öppna uppgifter: stäng med --force och en --note"
    )
    assert tsk.refused("--lang", "en", *close, as_=CHAIR) == (
        "tsk: est-2027-03 has 5 open tasks: close with --force and a --note"
    )
    wrong = ("cycle", "advance", "est-2027-03", "avsluta")
    assert tsk.refused(*wrong, as_=CHAIR) == (
        "tsk: 'avsluta' kan inte göras från steget 'insamling' i est-2027-03; tillåtna: sammanstall"
    )
    assert tsk.refused("--lang", "en", *wrong, as_=CHAIR) == (
        "tsk: 'avsluta' cannot be fired from step 'insamling' of est-2027-03; allowed: sammanstall"
    )


def test_not_found_and_the_closest_name_in_either_language(tsk: Tsk) -> None:
    assert tsk.refused("cycle", "show", "est-2027-3") == (
        "tsk: ingen cykel 'est-2027-3' i Herrljunga kommun (menade du 'est-2027-03'?)"
    )
    assert tsk.refused("task", "done", "999", as_=CHAIR) == (
        "tsk: ingen uppgift 999 i Herrljunga kommun"
    )
    assert tsk.refused("cycle", "open", "est", as_="jesica.wahlstrom") == (
        "tsk: okänd person 'jesica.wahlstrom' i Herrljunga kommun (menade du 'jessica.wahlstrom'?)"
    )
    assert tsk.refused("--lang", "en", "task", "done", "999", as_=CHAIR) == (
        "tsk: no task 999 in Herrljunga kommun"
    )
    assert tsk.refused("cycle", "open", "est") == (
        "tsk: vem agerar? ge --as PERSON eller sätt TSK_USER"
    )


def test_a_permission_refusal_is_kept_in_the_language_it_was_given_in(
    tsk: Tsk, store: Store
) -> None:
    opening = ("cycle", "open", "est", "--period", "2027-04")
    swedish = tsk.refused(*opening, as_=MEMBER)
    english = tsk.refused("--lang", "en", *opening, as_=MEMBER)
    group = "Effektiv samordning för ökad trygghet (EST)"
    chairs = "jessica.wahlstrom"
    assert swedish.startswith(f"tsk: bara ordföranden i {group} ({chairs} eller "), swedish
    assert swedish.endswith(") får öppna dess cykler")
    assert english.startswith(f"tsk: only the chair of {group} ({chairs} or "), english
    assert english.endswith(") may open its cycles")
    with store.reading() as session:
        kept = [r.reason for r in session.scalars(select(RefusedAct).order_by(RefusedAct.id))]
    assert kept == [swedish.removeprefix("tsk: "), english.removeprefix("tsk: ")]


def test_the_acts_record_the_same_whatever_the_language(
    store_kind: str, make_store: MakeStore, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The audit trail (payloads, hashes) of the same acts done in Swedish and in English is
    the same: nothing language-dependent is stored in it."""

    def trail(lang: str) -> list[tuple[str, str, object]]:
        store = make_store(store_kind)  # a fresh database each time
        tsk = Tsk(runner, store, "herrljunga", Clock(local(2027, 3, 1)), monkeypatch)
        options = ["--lang", lang]
        tsk.ok(*options, "init")
        tsk.ok(*options, "cycle", "open", "est", "--period", "2027-03", as_=CHAIR)
        tsk.refused(*options, "cycle", "close", "est-2027-03", as_=CHAIR)
        tsk.ok(*options, "cycle", "close", "est-2027-03", "--force", "--note", "x", as_=CHAIR)
        with store.reading() as session:
            rows = session.execute(
                select(AuditEvent.action, AuditEvent.hash, AuditPayload.payload)
                .join(AuditPayload, AuditPayload.seq == AuditEvent.seq)
                .order_by(AuditEvent.seq)
            ).all()
        return [(action, digest, payload) for action, digest, payload in rows]

    swedish = trail("sv")
    english = trail("en")
    assert swedish == english
    assert [action for action, _hash, _payload in swedish][-1] == "cycle.closed"


# ---------------------------------------------------------------- the engine and the store


def test_engine_errors_follow_the_language_spoken(engine: Engine, store: Store) -> None:
    cycle = opened_est(engine)
    before = counts(store)
    with pytest.raises(Refused, match="^est-2027-03 har 5 öppna uppgifter"):
        engine.close_cycle(CHAIR, cycle)
    with i18n.speaking("en"), pytest.raises(Refused, match="^est-2027-03 has 5 open tasks"):
        engine.close_cycle(CHAIR, cycle)
    with pytest.raises(NotFound, match="^ingen cykel 'nope' i Herrljunga kommun$"):
        engine.advance(CHAIR, "nope", "sammanstall")
    with pytest.raises(PermissionDenied, match="^'sammanstall' får bara göras av: chair"):
        engine.advance("ali.rahimi", cycle, "sammanstall")
    with pytest.raises(Refused, match=r"^ogiltig paragraf '160 kr': skriv den som '§ 160'$"):
        normalise_paragraph("160 kr")
    with i18n.speaking("en"), pytest.raises(Refused, match="^bad paragraph '160 kr'"):
        normalise_paragraph("160 kr")
    with pytest.raises(Refused, match="^ett beslut behöver en --title$"):
        Decisions(engine).propose(CHAIR, cycle, "   ")
    assert counts(store) == {**before, "refused": before["refused"] + 1}


def test_a_conflict_and_a_database_error_in_either_language(
    engine: Engine, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    cycle = opened_est(engine)

    claim = acts._claim

    def stale(connection: Any, claims: dict[int, int], changes: Any) -> None:
        """As if the cycles had been read before someone else changed them."""
        claim(connection, {cid: read - 1 for cid, read in claims.items()}, changes)

    monkeypatch.setattr(acts, "_claim", stale)
    with pytest.raises(Conflict, match="^någon annan ändrade den här cykeln samtidigt"):
        engine.close_cycle(CHAIR, cycle, "x", force=True)
    with pytest.raises(TskError, match="^tsk fungerar inte med 'mysql'-databaser"):
        database_url("mysql://x/y")
    with i18n.speaking("en"), pytest.raises(TskError, match="^tsk does not work with 'mysql'"):
        database_url("mysql://x/y")


# ---------------------------------------------------------------- the audit trail


def test_what_audit_verify_finds_is_said_in_the_language_spoken(
    engine: Engine, store: Store
) -> None:
    opened_est(engine)
    with store.reading() as session:
        swedish = audit.verify(session)
        with i18n.speaking("en"):
            english = audit.verify(session)
    assert swedish.ok
    assert english.ok
    assert swedish.checked == english.checked == 1  # the cycle.opened event
    assert swedish.reason == "1 händelse är oskadd"
    assert english.reason == "1 event is intact"
    # A gap in the chain: the kind is a key, the detail is words.
    assert audit._gap_problem(1, 3) == (
        "missing",
        "händelse 2 saknas: ordningen hoppar från 1 till 3",
    )
    with i18n.speaking("en"):
        assert audit._gap_problem(1, 4) == (
            "missing",
            "events 2..3 are missing: the sequence jumps from 1 to 4",
        )


def test_a_checkpoint_line_that_is_not_one_says_why_in_either_language() -> None:
    with pytest.raises(ValueError, match="^inget JSON-objekt$"):
        checkpoints.parse("[]")
    with i18n.speaking("en"), pytest.raises(ValueError, match="^not a JSON object$"):
        checkpoints.parse("[]")
    assert checkpoints._in_each_language("registrar") == {"sv": "registrator", "en": "registrar"}
